package seccomp

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// Action is a seccomp filter return value (SECCOMP_RET_*): the verdict of a
// filter on a system call, including the 16 data bits where the action takes
// any (the errno of ActErrno).
type Action uint32

// The actions a [Policy] may use.
const (
	// ActAllow lets the system call run in the kernel.
	ActAllow Action = unix.SECCOMP_RET_ALLOW
	// ActNotify traps the system call and queues it on the filter's
	// listener fd, where a supervisor answers it (SECCOMP_RET_USER_NOTIF).
	ActNotify Action = unix.SECCOMP_RET_USER_NOTIF
	// ActKillProcess kills the whole process with SIGSYS.
	ActKillProcess Action = unix.SECCOMP_RET_KILL_PROCESS
	// ActKillThread kills the calling thread.
	ActKillThread Action = unix.SECCOMP_RET_KILL_THREAD
	// ActTrap sends SIGSYS to the calling thread.
	ActTrap Action = unix.SECCOMP_RET_TRAP
	// ActLog lets the system call run and logs it.
	ActLog Action = unix.SECCOMP_RET_LOG
)

// maxErrno is the kernel's MAX_ERRNO; larger values are clamped by seccomp.
const maxErrno = 4095

// ActErrno returns the action that fails a system call with errno e without
// running it (SECCOMP_RET_ERRNO | e).
func ActErrno(e unix.Errno) Action {
	return Action(unix.SECCOMP_RET_ERRNO | uint32(e)&unix.SECCOMP_RET_DATA)
}

// Kind returns a's action without its data bits.
func (a Action) Kind() Action { return a & unix.SECCOMP_RET_ACTION_FULL }

// Errno returns the errno of an ActErrno action, and zero otherwise.
func (a Action) Errno() unix.Errno {
	if a.Kind() != unix.SECCOMP_RET_ERRNO {
		return 0
	}
	return unix.Errno(a & unix.SECCOMP_RET_DATA)
}

// String returns the action's name, for example "ALLOW" or "ERRNO(ENOSYS)".
func (a Action) String() string {
	switch a {
	case ActAllow:
		return "ALLOW"
	case ActNotify:
		return "USER_NOTIF"
	case ActKillProcess:
		return "KILL_PROCESS"
	case ActKillThread:
		return "KILL_THREAD"
	case ActTrap:
		return "TRAP"
	case ActLog:
		return "LOG"
	}
	if a.Kind() == unix.SECCOMP_RET_ERRNO {
		e := a.Errno()
		if name := unix.ErrnoName(e); name != "" {
			return "ERRNO(" + name + ")"
		}
		return fmt.Sprintf("ERRNO(%d)", uint32(e))
	}
	return fmt.Sprintf("Action(%#x)", uint32(a))
}

// validate reports whether a is an action the package knows how to emit.
func (a Action) validate() error {
	switch a {
	case ActAllow, ActNotify, ActKillProcess, ActKillThread, ActTrap, ActLog:
		return nil
	}
	if a.Kind() == unix.SECCOMP_RET_ERRNO {
		if e := a.Errno(); e == 0 || e > maxErrno {
			return fmt.Errorf("seccomp: %v: errno must be in 1..%d", a, maxErrno)
		}
		return nil
	}
	return fmt.Errorf("seccomp: unknown action %v", a)
}
