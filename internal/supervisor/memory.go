package supervisor

import (
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/sembox/sembox/sem"
)

// taskMemory is a trapped thread's address space, reached with
// process_vm_readv and process_vm_writev. A short transfer means part of
// the range is not mapped (or not writable): EFAULT, as the kernel's
// copy_from_user and copy_to_user report it.
type taskMemory struct {
	tid int32
}

// maxTransfer bounds one copy; larger requests fail like a failed kernel
// allocation rather than exhausting the supervisor's memory.
const maxTransfer = 64 << 20

func (m *taskMemory) CopyIn(addr uint64, dst []byte) sem.Errno {
	return m.transfer(addr, dst, unix.SYS_PROCESS_VM_READV)
}

func (m *taskMemory) CopyOut(addr uint64, src []byte) sem.Errno {
	return m.transfer(addr, src, unix.SYS_PROCESS_VM_WRITEV)
}

func (m *taskMemory) transfer(addr uint64, b []byte, nr uintptr) sem.Errno {
	if len(b) == 0 {
		return 0
	}
	if len(b) > maxTransfer {
		return sem.ENOMEM
	}
	if addr == 0 || addr+uint64(len(b)) < addr {
		return sem.EFAULT
	}
	local := unix.Iovec{Base: &b[0], Len: uint64(len(b))}
	remote := unix.RemoteIovec{Base: uintptr(addr), Len: len(b)}
	n, _, e := unix.Syscall6(nr, uintptr(m.tid),
		uintptr(unsafe.Pointer(&local)), 1, uintptr(unsafe.Pointer(&remote)), 1, 0)
	if e != 0 || int(n) != len(b) {
		return sem.EFAULT
	}
	return 0
}
