package sem

import "syscall"

// The errnos the engine returns.
const (
	EPERM  = syscall.EPERM
	ENOENT = syscall.ENOENT
	EINTR  = syscall.EINTR
	EAGAIN = syscall.EAGAIN
	ENOMEM = syscall.ENOMEM
	EACCES = syscall.EACCES
	EFAULT = syscall.EFAULT
	EEXIST = syscall.EEXIST
	EINVAL = syscall.EINVAL
	ENOSPC = syscall.ENOSPC
	ERANGE = syscall.ERANGE
	E2BIG  = syscall.E2BIG
	EFBIG  = syscall.EFBIG
	EIDRM  = syscall.EIDRM
)
