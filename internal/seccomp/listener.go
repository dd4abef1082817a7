package seccomp

import (
	"errors"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The functions in this file operate on a listener fd returned by [Install].
// None of them allocates on success, and all but [Send] use unix.Syscall so
// that the Go scheduler knows the thread may block. They are safe to call from a
// goroutine locked to its OS thread, and concurrently from several
// goroutines (the kernel serializes them).

// ErrSyncWakeUpUnsupported is returned by [SetSyncWakeUp] when the kernel
// does not know SECCOMP_IOCTL_NOTIF_SET_FLAGS or
// SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP (both appeared in Linux 6.6). It wraps
// [errors.ErrUnsupported].
var ErrSyncWakeUpUnsupported error = &unsupportedError{"SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP (Linux 6.6)"}

// Recv waits for the next trapped system call on listener fd and stores it
// in n. It zeroes n first, as the kernel requires, and retries when
// interrupted by a signal (EINTR).
//
// Recv returns the raw errno on failure. ENOENT has two meanings: a
// notification was queued but its task was killed (or its wait interrupted)
// before it could be received, or no task uses the filter any more. In the
// second case [Poll] reports POLLHUP, a Recv blocked at that moment wakes
// up with ENOENT, and later ones fail at once; so a supervisor loop should
// check Poll after ENOENT rather than retry blindly.
//
// Closing fd does not wake a Recv blocked on it in another thread: the
// kernel tears the listener down (failing trapped calls with ENOSYS) only
// when that Recv returns, which it does, successfully, at the next
// notification, by which time the fd number may have been reused. Stop the
// receiving goroutines (for example by polling with a timeout) before
// closing the listener.
func Recv(fd int, n *Notif) error {
	for {
		*n = Notif{}
		_, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), ioctlNotifRecv, uintptr(unsafe.Pointer(n)))
		switch e {
		case 0:
			return nil
		case unix.EINTR:
			continue
		}
		return e
	}
}

// Send answers a notification. It retries EINTR and otherwise returns the
// raw errno: ENOENT means the target is gone or its wait was interrupted (by
// a fatal signal, or by any signal if the filter was installed without
// SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV), so the answer was dropped;
// EINPROGRESS means the notification has not been received yet; EINVAL means
// r is malformed (for example FlagContinue with a non-zero Val).
//
// Send uses unix.RawSyscall, without the Go runtime's entersyscall and
// exitsyscall around it: answering never waits for anything but the
// listener's own short-held lock, so the thread keeps its P as in
// ordinary Go code. With SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP the kernel
// switches to the answered task on the way out of the ioctl, and the
// thread may stay off the CPU until that task traps again; that is a
// preemption like any other (the scheduler does the same in user code),
// not a blocking system call. Saving the runtime's bookkeeping matters on
// the hot path: one Send per served call. (Recv, which sleeps until a
// call arrives, must stay a unix.Syscall.)
func Send(fd int, r *NotifResp) error {
	for {
		_, _, e := unix.RawSyscall(unix.SYS_IOCTL, uintptr(fd), ioctlNotifSend, uintptr(unsafe.Pointer(r)))
		switch e {
		case 0:
			return nil
		case unix.EINTR:
			continue
		}
		return e
	}
}

// IDValid reports whether notification id is still pending: nil if it is,
// ENOENT if its task has died or its wait was interrupted. Supervisors call
// it after reading the target's memory (for example through /proc/PID/mem)
// to make sure the PID was not reused in between.
func IDValid(fd int, id uint64) error {
	for {
		_, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), ioctlNotifIDValid, uintptr(unsafe.Pointer(&id)))
		switch e {
		case 0:
			return nil
		case unix.EINTR:
			continue
		}
		return e
	}
}

// SetSyncWakeUp asks the kernel to wake the trapped task synchronously when
// a response is sent (SECCOMP_IOCTL_NOTIF_SET_FLAGS with
// SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP), which lets the scheduler switch
// straight from the supervisor to the target and back. It returns
// [ErrSyncWakeUpUnsupported] on kernels older than 6.6.
func SetSyncWakeUp(fd int) error {
	_, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), ioctlNotifSetFlags, unix.SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP)
	switch e {
	case 0:
		return nil
	case unix.EINVAL, unix.ENOTTY:
		return ErrSyncWakeUpUnsupported
	}
	return e
}

// AddFD copies the supervisor's srcFD into the task that made notification
// id (SECCOMP_IOCTL_NOTIF_ADDFD) and returns the fd number it got there.
// newFDFlags may be unix.O_CLOEXEC. If send is true the call also answers the
// notification atomically, with the new fd number as the system call's
// return value (SECCOMP_ADDFD_FLAG_SEND); the caller must then not [Send] a
// response of its own. Errors are raw errnos (ENOENT: the task is gone).
func AddFD(fd int, id uint64, srcFD int, newFDFlags uint32, send bool) (int, error) {
	a := NotifAddFD{ID: id, SrcFD: uint32(srcFD), NewFDFlags: newFDFlags}
	if send {
		a.Flags |= unix.SECCOMP_ADDFD_FLAG_SEND
	}
	for {
		r, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), ioctlNotifAddFD, uintptr(unsafe.Pointer(&a)))
		switch e {
		case 0:
			return int(r), nil
		case unix.EINTR:
			continue
		}
		return -1, e
	}
}

// Poll waits until listener fd has a notification to receive or no task uses
// its filter any more, for at most timeoutMillis milliseconds (negative:
// forever). It returns the poll revents: unix.POLLIN when [Recv] will not
// block, unix.POLLHUP when the filter is orphaned, zero on timeout. EINTR is
// retried with the time that remains (the kernel updates the timeout).
func Poll(fd int, timeoutMillis int) (revents int16, err error) {
	pfd := unix.PollFd{Fd: int32(fd), Events: unix.POLLIN}
	var ts unix.Timespec
	var tsp *unix.Timespec // nil: no timeout
	if timeoutMillis >= 0 {
		ts = unix.NsecToTimespec(int64(timeoutMillis) * 1e6)
		tsp = &ts
	}
	for {
		_, _, e := unix.Syscall6(unix.SYS_PPOLL, uintptr(unsafe.Pointer(&pfd)), 1, uintptr(unsafe.Pointer(tsp)), 0, 0, 0)
		switch e {
		case 0:
			return pfd.Revents, nil
		case unix.EINTR:
			continue
		}
		return 0, e
	}
}

// unsupportedError reports a kernel feature that the running kernel lacks.
type unsupportedError struct{ feature string }

func (e *unsupportedError) Error() string {
	return "seccomp: kernel does not support " + e.feature
}

func (e *unsupportedError) Unwrap() error { return errors.ErrUnsupported }
