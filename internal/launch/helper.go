package launch

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/sembox/sembox/internal/seccomp"
	"github.com/sembox/sembox/internal/supervisor"
)

// HelperArg is the argv[1] that marks a process as the sandbox helper. It
// is not meant to be typed by users.
const HelperArg = "__sembox_seccomp_helper__"

// protocolVersion is argv[2] of the helper, so that a parent and a helper
// from different builds cannot misunderstand each other.
const protocolVersion = "2"

// IsHelper reports whether this process was started by [Start] as the
// sandbox helper. main must call it, and [HelperMain] if it returns true,
// before doing anything else.
func IsHelper() bool {
	return len(os.Args) > 1 && os.Args[1] == HelperArg
}

// helperConfig is the helper's command line, parsed.
type helperConfig struct {
	noNewPrivs  NoNewPrivsMode
	procViews   ProcViews
	extraNotify []int
	openNotify  []int    // also trapped when the views take the trap path
	path        string   // the program, as given
	argv        []string // its argv
}

// parseHelperArgs parses the arguments that follow HelperArg, in the format
// that helperArgv writes: version, no_new_privs mode, /proc views,
// comma-separated extra syscalls, comma-separated open syscalls, path,
// argv...
func parseHelperArgs(args []string) (helperConfig, error) {
	var h helperConfig
	if len(args) < 7 {
		return h, fmt.Errorf("%d helper arguments", len(args))
	}
	if args[0] != protocolVersion {
		return h, fmt.Errorf("helper protocol %q, want %q", args[0], protocolVersion)
	}
	switch args[1] {
	case NoNewPrivsAuto.String():
		h.noNewPrivs = NoNewPrivsAuto
	case NoNewPrivsAlways.String():
		h.noNewPrivs = NoNewPrivsAlways
	default:
		return h, fmt.Errorf("no_new_privs mode %q", args[1])
	}
	v, ok := parseProcViews(args[2])
	if !ok {
		return h, fmt.Errorf("/proc views %q", args[2])
	}
	h.procViews = v
	var err error
	if h.extraNotify, err = parseNrs(args[3]); err != nil {
		return h, err
	}
	if h.openNotify, err = parseNrs(args[4]); err != nil {
		return h, err
	}
	h.path, h.argv = args[5], args[6:]
	return h, nil
}

// parseNrs parses a comma-separated list of system call numbers.
func parseNrs(list string) ([]int, error) {
	if list == "" {
		return nil, nil
	}
	var nrs []int
	for _, s := range strings.Split(list, ",") {
		nr, err := strconv.Atoi(s)
		if err != nil {
			return nil, fmt.Errorf("syscall %q", s)
		}
		nrs = append(nrs, nr)
	}
	return nrs, nil
}

// notifyList returns extra with the numbers of more that it lacks.
func notifyList(extra, more []int) []int {
	out := append([]int(nil), extra...)
	for _, nr := range more {
		if !slices.Contains(out, nr) {
			out = append(out, nr)
		}
	}
	return out
}

// HelperMain is the sandbox helper. It never returns: it either becomes the
// program with execve, or exits with ExitSetupFailed, ExitCannotExecute or
// ExitNotFound after printing why.
func HelperMain() {
	// The filter is per thread, and execve must happen on the thread that
	// installed it.
	runtime.LockOSThread()
	sock := helperFD
	if !IsHelper() {
		fail(-1, ExitSetupFailed, 0, "internal error: HelperMain called in a process that is not the helper")
	}
	h, err := parseHelperArgs(os.Args[2:])
	if err != nil {
		fail(-1, ExitSetupFailed, 0, "internal error: bad helper command line: %v", err)
	}
	// Closed by a successful execve: that is how the parent learns of it.
	if _, err := unix.FcntlInt(uintptr(sock), unix.F_SETFD, unix.FD_CLOEXEC); err != nil {
		fail(-1, ExitSetupFailed, 0, "internal error: helper socket: %v", err)
	}

	path, status, errno, err := lookPath(h.path)
	if err != nil {
		fail(sock, status, errno, "%v", err)
	}

	// The /proc views: the mount path if asked for and available, else
	// trapped opens (or nothing).
	views, why := h.procViews, ""
	var pm *procMount
	if views == ProcViewsMount || views == ProcViewsMountOnly {
		pm, why, err = startProcMount()
		if err != nil {
			fail(sock, ExitSetupFailed, errnoOf(err), "%v", err)
		}
		switch {
		case pm != nil:
			views = ProcViewsMount
		case views == ProcViewsMountOnly:
			fail(sock, ExitSetupFailed, 0, "the /proc views cannot be mounted: %s", why)
		default:
			views = ProcViewsTrap
		}
	}
	notify := h.extraNotify
	if views == ProcViewsTrap {
		notify = notifyList(notify, h.openNotify)
	}

	nnp := h.noNewPrivs == NoNewPrivsAlways || !hasCapSysAdmin()
	if nnp {
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			fail(sock, ExitSetupFailed, errnoOf(err), "cannot set no_new_privs: %v", err)
		}
	}
	prog, err := seccomp.Build(seccomp.SemaphorePolicy(notify))
	if err != nil {
		fail(sock, ExitSetupFailed, 0, "cannot build the seccomp filter: %v", err)
	}
	listener, _, err := seccomp.InstallListener(prog, supervisor.WantKillableWait())
	if err != nil {
		fail(sock, ExitSetupFailed, errnoOf(err), "cannot install the seccomp filter: %v", err)
	}

	msg := append([]byte{msgListener, 0, byte(views)}, why...)
	if nnp {
		msg[1] = 1
	}
	fds := []int{listener}
	if pm != nil {
		fds = append(fds, pm.dev)
	}
	if err := unix.Sendmsg(sock, msg, unix.UnixRights(fds...), nil, 0); err != nil {
		fail(-1, ExitSetupFailed, errnoOf(err), "cannot pass the listener to the supervisor: %v", err)
	}
	unix.Close(listener)
	if pm != nil {
		// The supervisor's copy is the connection's only descriptor now:
		// when the supervisor ends, the connection ends with it.
		unix.Close(pm.dev)
		pm.dev = -1
	}
	var ack [1]byte
	n, err := unix.Read(sock, ack[:])
	for err == unix.EINTR {
		n, err = unix.Read(sock, ack[:])
	}
	if n != 1 || ack[0] != msgAck {
		fail(-1, ExitSetupFailed, errnoOf(err), "the supervisor went away before the program started")
	}
	if pm != nil {
		// The supervisor serves the FUSE connection now.
		if err := pm.bind(); err != nil {
			fail(sock, ExitSetupFailed, errnoOf(err), "%v", err)
		}
	}

	err = syscall.Exec(path, h.argv, os.Environ())
	errno = errnoOf(err)
	status = ExitCannotExecute
	if errno == unix.ENOENT {
		status = ExitNotFound
	}
	fail(sock, status, errno, "%s: %v", h.path, err)
}

// lookPath resolves the program like a shell: names with a slash are used
// as they are (execve reports the problems), others are searched in PATH,
// where "." and empty entries count (exec.ErrDot is accepted).
func lookPath(file string) (path string, status int, errno unix.Errno, err error) {
	if strings.Contains(file, "/") {
		return file, 0, 0, nil
	}
	path, err = exec.LookPath(file)
	if err == nil || errors.Is(err, exec.ErrDot) {
		return path, 0, 0, nil
	}
	var ee *exec.Error
	if errors.As(err, &ee) {
		err = fmt.Errorf("%s: %w", ee.Name, ee.Err)
	}
	return "", ExitNotFound, unix.ENOENT, err
}

// hasCapSysAdmin reports whether the calling thread has CAP_SYS_ADMIN in
// its effective set, which lets it install a filter without no_new_privs.
func hasCapSysAdmin() bool {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return false
	}
	return data[unix.CAP_SYS_ADMIN/32].Effective&(1<<(unix.CAP_SYS_ADMIN%32)) != 0
}

// errnoOf returns the errno inside err, or zero.
func errnoOf(err error) unix.Errno {
	var e unix.Errno
	if errors.As(err, &e) {
		return e
	}
	return 0
}

// fail reports a failure on standard error and to the parent over sock (if
// sock >= 0), and exits with status.
func fail(sock, status int, errno unix.Errno, format string, args ...any) {
	text := fmt.Sprintf(format, args...)
	// Print first: once the parent has the report it may move on.
	fmt.Fprintf(os.Stderr, "sembox: %s\n", text)
	if sock >= 0 {
		unix.Write(sock, encodeError(status, errno, text))
	}
	os.Exit(status)
}
