package seccomp

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Filter flags for [Install], from SECCOMP_FILTER_FLAG_*.
const (
	// FlagNewListener makes Install return a listener fd on which the
	// system calls that the program answers with ActNotify are queued.
	FlagNewListener = unix.SECCOMP_FILTER_FLAG_NEW_LISTENER
	// FlagWaitKillableRecv (Linux 5.19) makes a trapped task's wait
	// killable-only once the supervisor has received its notification:
	// before that, a signal interrupts the call and it is restarted; after
	// it, only a fatal signal ends the call. Without this flag, any signal
	// (a SIGCHLD, a profiling timer, Go's preemption signal) aborts the call
	// while the supervisor is handling it, and the supervisor's answer is
	// lost (Send returns ENOENT) after it may already have acted on it.
	FlagWaitKillableRecv = unix.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
	// FlagTSync applies the filter to all threads of the process.
	FlagTSync = unix.SECCOMP_FILTER_FLAG_TSYNC
)

// ErrUnsupportedFlags is wrapped by the error of [Install] and [CheckFlags]
// when the running kernel does not know one of the requested filter flags.
var ErrUnsupportedFlags = errors.New("kernel does not support the requested seccomp filter flags")

// Install loads prog as a seccomp filter on the calling OS thread, with
// seccomp(SECCOMP_SET_MODE_FILTER, flags, &prog). The filter also applies to
// every thread and process that this thread creates afterwards, and it
// survives execve. The caller must have locked its goroutine to the thread
// (runtime.LockOSThread) and must either have set no_new_privs
// (prctl(PR_SET_NO_NEW_PRIVS)) or hold CAP_SYS_ADMIN in its user namespace.
//
// If flags include FlagNewListener, Install returns the new listener fd
// (close-on-exec); otherwise it returns -1.
func Install(prog []unix.SockFilter, flags uint) (listenerFD int, err error) {
	if len(prog) == 0 || len(prog) > unix.BPF_MAXINSNS {
		return -1, fmt.Errorf("seccomp: program of %d instructions", len(prog))
	}
	fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	r, _, e := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, uintptr(flags), uintptr(unsafe.Pointer(&fprog)))
	runtime.KeepAlive(prog)
	if e != 0 {
		return -1, installError(e, flags)
	}
	if flags&FlagNewListener == 0 {
		return -1, nil
	}
	return int(r), nil
}

// ErrKernelTooOld is wrapped by the error of [InstallListener] when the
// kernel lacks what a supervisor needs at the least:
// SECCOMP_USER_NOTIF_FLAG_CONTINUE (Linux 5.5).
var ErrKernelTooOld = errors.New("kernel too old for sembox: it needs Linux 5.5 or later (seccomp user notification with SECCOMP_USER_NOTIF_FLAG_CONTINUE)")

// WaitKillableSupported reports whether the running kernel accepts
// SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (Linux 5.19).
func WaitKillableSupported() bool {
	return CheckFlags(FlagNewListener|FlagWaitKillableRecv) == nil
}

// InstallListener installs prog as [Install] does, with FlagNewListener,
// and with FlagWaitKillableRecv if waitKillable is true and the kernel
// has it: a kernel that rejects the flag (EINVAL, Linux < 5.19) gets the
// filter without it. It reports whether the flag is in use, which decides
// how the supervisor must answer (see package supervisor). It then checks
// that the listener accepts SECCOMP_USER_NOTIF_FLAG_CONTINUE (Linux 5.5),
// without which a supervisor cannot let the calls it only watches go on:
// on an older kernel it closes the listener and returns an error wrapping
// ErrKernelTooOld. The filter stays installed then; the caller must not
// run the program.
func InstallListener(prog []unix.SockFilter, waitKillable bool) (listenerFD int, killable bool, err error) {
	if waitKillable {
		fd, err := Install(prog, FlagNewListener|FlagWaitKillableRecv)
		switch {
		case err == nil:
			return fd, true, nil
		case !errors.Is(err, ErrUnsupportedFlags):
			return -1, false, err
		}
	}
	fd, err := Install(prog, FlagNewListener)
	if err != nil {
		if errors.Is(err, ErrUnsupportedFlags) {
			// NEW_LISTENER itself (Linux 5.0).
			return -1, false, fmt.Errorf("%w: %v", ErrKernelTooOld, err)
		}
		return -1, false, err
	}
	if err := CheckContinue(fd); err != nil {
		unix.Close(fd)
		return -1, false, err
	}
	return fd, false, nil
}

// CheckContinue reports whether listener fd accepts answers with
// FlagContinue (Linux 5.5): it sends one for a notification that does
// not exist. A kernel that knows the flag looks the id up and fails with
// ENOENT; an older one rejects any flag with EINVAL first. Call it before
// any task can trap: no call is pending then, so none can be answered.
func CheckContinue(fd int) error {
	r := NotifResp{ID: 0, Flags: FlagContinue}
	switch err := Send(fd, &r); err {
	case unix.ENOENT:
		return nil
	case unix.EINVAL:
		return fmt.Errorf("seccomp: answering with SECCOMP_USER_NOTIF_FLAG_CONTINUE: %w", ErrKernelTooOld)
	case nil:
		return errors.New("seccomp: internal error: the probe answered a notification")
	default:
		return fmt.Errorf("seccomp: checking SECCOMP_USER_NOTIF_FLAG_CONTINUE: %w", err)
	}
}

// installError explains a failure of seccomp(SECCOMP_SET_MODE_FILTER).
func installError(e unix.Errno, flags uint) error {
	switch e {
	case unix.EACCES:
		return fmt.Errorf("seccomp: installing filter: %w (the thread has neither no_new_privs nor CAP_SYS_ADMIN)", e)
	case unix.EBUSY:
		return fmt.Errorf("seccomp: installing filter: %w (a filter with a notification listener is already installed: the kernel allows one listener per filter chain, so a sandbox cannot be nested in another)", e)
	case unix.EINVAL:
		if err := CheckFlags(flags); err != nil {
			return err
		}
		return fmt.Errorf("seccomp: installing filter: kernel rejected the program: %w", e)
	case unix.ENOSYS:
		return fmt.Errorf("seccomp: installing filter: %w (kernel built without CONFIG_SECCOMP_FILTER)", e)
	}
	return fmt.Errorf("seccomp: installing filter: %w", e)
}

// CheckFlags reports whether the running kernel accepts filter flags for
// Install, without installing anything: it returns nil, or an error wrapping
// ErrUnsupportedFlags that names the flags and the kernel versions that
// introduced them. It works by calling seccomp(2) with the flags and a NULL
// program: the kernel validates flags first and then fails to read the
// program (EFAULT).
func CheckFlags(flags uint) error {
	if flags&FlagWaitKillableRecv != 0 && flags&FlagNewListener == 0 {
		return errors.New("seccomp: filter flag WAIT_KILLABLE_RECV requires NEW_LISTENER")
	}
	if flags&FlagTSync != 0 && flags&FlagNewListener != 0 && flags&unix.SECCOMP_FILTER_FLAG_TSYNC_ESRCH == 0 {
		return errors.New("seccomp: filter flags TSYNC and NEW_LISTENER together require TSYNC_ESRCH")
	}
	_, _, e := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, uintptr(flags), 0)
	switch e {
	case unix.EFAULT:
		return nil
	case unix.EINVAL:
		return fmt.Errorf("seccomp: filter flags %s: %w", flagNames(flags), ErrUnsupportedFlags)
	case 0:
		return errors.New("seccomp: internal error: seccomp accepted a NULL program")
	}
	return fmt.Errorf("seccomp: checking filter flags %s: %w", flagNames(flags), e)
}

// flagNames spells out a set of filter flags, with the kernel release that
// introduced each.
func flagNames(flags uint) string {
	known := []struct {
		flag uint
		name string
	}{
		{unix.SECCOMP_FILTER_FLAG_TSYNC, "TSYNC (3.17)"},
		{unix.SECCOMP_FILTER_FLAG_LOG, "LOG (4.14)"},
		{unix.SECCOMP_FILTER_FLAG_SPEC_ALLOW, "SPEC_ALLOW (4.17)"},
		{unix.SECCOMP_FILTER_FLAG_NEW_LISTENER, "NEW_LISTENER (5.0)"},
		{unix.SECCOMP_FILTER_FLAG_TSYNC_ESRCH, "TSYNC_ESRCH (5.7)"},
		{unix.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV, "WAIT_KILLABLE_RECV (5.19)"},
	}
	var names []string
	for _, k := range known {
		if flags&k.flag != 0 {
			names = append(names, k.name)
			flags &^= k.flag
		}
	}
	if flags != 0 {
		names = append(names, fmt.Sprintf("%#x", flags))
	}
	if len(names) == 0 {
		return "0"
	}
	return strings.Join(names, "|")
}
