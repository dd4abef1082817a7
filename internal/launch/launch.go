package launch

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/sembox/sembox/internal/seccomp"
)

// NoNewPrivsMode says whether the helper sets no_new_privs before
// installing the filter.
type NoNewPrivsMode int

const (
	// NoNewPrivsAuto sets no_new_privs only when the helper lacks
	// CAP_SYS_ADMIN, which is the only case where the kernel requires it. A
	// root supervisor thus leaves set-user-ID programs working in the
	// sandbox.
	NoNewPrivsAuto NoNewPrivsMode = iota
	// NoNewPrivsAlways sets no_new_privs in every case.
	NoNewPrivsAlways
)

// String returns "auto" or "always".
func (m NoNewPrivsMode) String() string {
	switch m {
	case NoNewPrivsAuto:
		return "auto"
	case NoNewPrivsAlways:
		return "always"
	}
	return "NoNewPrivsMode(" + strconv.Itoa(int(m)) + ")"
}

// Config describes the program to run in a sandbox.
type Config struct {
	// Path is the program to run. A name without a slash is looked up in
	// the PATH of Env, as a shell would.
	Path string
	// Args is the program's argv, including argv[0]. If empty, Args is
	// []string{Path}.
	Args []string
	// Env is the program's environment. If nil, the caller's is used.
	Env []string
	// Dir is the program's working directory. If empty, the caller's is
	// used. Relative paths in Path are resolved from Dir.
	Dir string
	// Stdin, Stdout and Stderr become the program's fds 0, 1 and 2. Nil
	// means the caller's own. The sandbox's error messages go to Stderr.
	Stdin, Stdout, Stderr *os.File
	// NoNewPrivs says when to set no_new_privs.
	NoNewPrivs NoNewPrivsMode
	// ExtraNotify lists native system call numbers to trap in addition to
	// the semaphore calls (see seccomp.SemaphorePolicy).
	ExtraNotify []int
	// ProcViews says how the sandbox sees /proc/sysvipc/sem and
	// /proc/sys/kernel/sem. ProcViewsMount and ProcViewsMountOnly need
	// OnSetup, which serves the FUSE connection.
	ProcViews ProcViews
	// OpenNotify lists the native calls that open files (see
	// supervisor.OpenSyscalls): trapped too when the views take the trap
	// path.
	OpenNotify []int
	// OnSetup, if set, is called instead of OnListener, at the same
	// moment, with what the helper hands over: the listener, and on the
	// mount path the FUSE connection to serve.
	OnSetup func(Setup)
	// OnListener, if set, is called with the listener fd as soon as it
	// arrives, before the program is exec'd, and then owns it (Start
	// does not close it, even if it fails). A caller that traps execve
	// (or anything the helper calls before execve completes) must start
	// serving the listener here, or Start would wait forever.
	OnListener func(listener int)
}

// Sandbox is a running program with the filter installed.
type Sandbox struct {
	// Process is the program. Its PID is that of the helper, which became
	// the program with execve.
	Process *os.Process
	// Listener is the filter's listener fd, close-on-exec. It belongs to
	// the caller, who must serve it (see package seccomp) and close it.
	// Closing it makes every pending and future trapped call fail with
	// ENOSYS.
	Listener int
	// NoNewPrivs reports whether the helper set no_new_privs.
	NoNewPrivs bool
	// ProcViews is the path the /proc views took: ProcViewsOff,
	// ProcViewsTrap or ProcViewsMount; ProcWhy says why not the mount
	// path, where it was asked for and not taken.
	ProcViews ProcViews
	ProcWhy   string

	onListener func(int)
	onSetup    func(Setup)
}

// Setup is what the helper hands over before it executes the program.
type Setup struct {
	// Listener is the filter's listener, the callee's from then on, as
	// with Config.OnListener.
	Listener int
	// ProcFUSE is, on the mount path, the /dev/fuse descriptor of the FUSE
	// mount whose files (supervisor.ProcMountFiles) the helper binds over
	// the /proc files once OnSetup has returned: the callee's from then
	// on, and it must be serving it by then (supervisor.ServeProcMount),
	// since the helper waits for the answers. -1 on the other paths.
	ProcFUSE int
	// ProcViews and ProcWhy are as in Sandbox.
	ProcViews ProcViews
	ProcWhy   string
}

// Wait waits for the program to exit and returns its wait status. It does
// not close Listener. The listener reports POLLHUP (see seccomp.Poll) once
// every process of the sandbox has exited, which, since the program's
// descendants may outlive it, can be later than Wait returns.
func (s *Sandbox) Wait() (syscall.WaitStatus, error) {
	ps, err := s.Process.Wait()
	if err != nil {
		return 0, err
	}
	return ps.Sys().(syscall.WaitStatus), nil
}

// Exit statuses of the helper, following env(1) and POSIX shells.
const (
	// ExitSetupFailed: the sandbox could not be set up; the program did not
	// run.
	ExitSetupFailed = 125
	// ExitCannotExecute: the program was found but could not be executed.
	ExitCannotExecute = 126
	// ExitNotFound: the program was not found.
	ExitNotFound = 127
)

// StartError reports that the helper could not run the program. The helper
// has already printed Msg on the program's standard error and exited with
// Status; a command-line caller should exit with Status without printing
// the error again.
type StartError struct {
	// Msg is the message the helper printed, without the "sembox: " prefix.
	Msg string
	// Errno is the underlying error number, if any.
	Errno unix.Errno
	// Status is the helper's exit status: ExitSetupFailed,
	// ExitCannotExecute or ExitNotFound.
	Status int
}

func (e *StartError) Error() string { return e.Msg }

// Unwrap returns Errno, so that errors.Is(err, fs.ErrNotExist) and the like
// work.
func (e *StartError) Unwrap() error {
	if e.Errno == 0 {
		return nil
	}
	return e.Errno
}

// ExitCode returns Status.
func (e *StartError) ExitCode() int { return e.Status }

// filterFlags are the flags the helper installs the filter with.
const filterFlags = seccomp.FlagNewListener | seccomp.FlagWaitKillableRecv

// helperFD is the helper's fd for its end of the socket to the parent.
const helperFD = 3

// Start runs the program described by c in a new sandbox. It returns once
// the helper has execve'd the program with the filter installed, or with a
// [*StartError] if the program could not be run, or with another error if
// the helper could not be started. The program may already be running when
// Start returns; its trapped calls wait in the kernel until the caller
// serves Listener.
//
// The helper is forked from a thread reserved for that purpose, because the
// kernel delivers PR_SET_PDEATHSIG when the forking thread, rather than the
// process, exits.
func Start(c Config) (*Sandbox, error) {
	argv, err := helperArgv(c)
	if err != nil {
		return nil, err
	}
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("launch: socketpair: %w", err)
	}
	sock := fds[0]
	defer unix.Close(sock)
	child := os.NewFile(uintptr(fds[1]), "sembox-helper-socket")
	files := []*os.File{c.Stdin, c.Stdout, c.Stderr, child}
	for i, def := range []*os.File{os.Stdin, os.Stdout, os.Stderr} {
		if files[i] == nil {
			files[i] = def
		}
	}
	attr := &os.ProcAttr{
		Dir:   c.Dir,
		Env:   c.Env,
		Files: files,
		Sys:   &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL},
	}
	proc, err := spawn(argv, attr)
	child.Close()
	if err != nil {
		return nil, fmt.Errorf("launch: starting the sandbox helper: %w", err)
	}
	sb := &Sandbox{Process: proc, Listener: -1, onListener: c.OnListener, onSetup: c.OnSetup}
	if err := sb.handshake(sock); err != nil {
		// A listener handed to OnListener is the caller's, and is being
		// served: closing it now would fail the helper's own trapped
		// calls with ENOSYS.
		if sb.Listener >= 0 && c.OnListener == nil && c.OnSetup == nil {
			unix.Close(sb.Listener)
		}
		var se *StartError
		if errors.As(err, &se) {
			// The helper has reported and printed the error, and exits
			// by itself with se.Status.
			proc.Wait()
			return nil, err
		}
		proc.Kill() // in case the helper is still running
		ps, werr := proc.Wait()
		if werr != nil {
			return nil, err
		}
		return nil, fmt.Errorf("%w (helper %v)", err, ps)
	}
	return sb, nil
}

// handshake runs the parent's side of the protocol with the helper on
// sock: receive the listener, acknowledge it, and learn whether execve
// succeeded (the helper's end is close-on-exec, so success reads as EOF).
func (s *Sandbox) handshake(sock int) error {
	msg, fds, err := recvMsg(sock)
	if err != nil {
		return err
	}
	closeAll := func() {
		for _, fd := range fds {
			unix.Close(fd)
		}
	}
	switch {
	case msg == nil:
		return errors.New("launch: the sandbox helper exited before installing the filter")
	case msg[0] == msgError:
		closeAll()
		return decodeError(msg)
	case msg[0] != msgListener || len(msg) < 3 || len(fds) < 1 || len(fds) > 2 ||
		(len(fds) == 2) != (ProcViews(msg[2]) == ProcViewsMount) ||
		(len(fds) == 2 && s.onSetup == nil):
		closeAll()
		return fmt.Errorf("launch: malformed message %q from the sandbox helper", msg)
	}
	s.Listener = fds[0]
	s.NoNewPrivs = msg[1] == 1
	s.ProcViews, s.ProcWhy = ProcViews(msg[2]), string(msg[3:])
	switch {
	case s.onSetup != nil:
		procFUSE := -1
		if len(fds) == 2 {
			procFUSE = fds[1]
		}
		s.onSetup(Setup{Listener: s.Listener, ProcFUSE: procFUSE, ProcViews: s.ProcViews, ProcWhy: s.ProcWhy})
	case s.onListener != nil:
		s.onListener(s.Listener)
	}
	if _, err := unix.Write(sock, []byte{msgAck}); err != nil {
		return fmt.Errorf("launch: acknowledging the listener: %w", err)
	}
	msg, fds, err = recvMsg(sock)
	for _, fd := range fds {
		unix.Close(fd) // none expected
	}
	switch {
	case err != nil:
		return err
	case msg == nil:
		return nil // close-on-exec: the program is running
	case msg[0] == msgError:
		return decodeError(msg)
	}
	return fmt.Errorf("launch: malformed message %q from the sandbox helper", msg)
}

// helperArgv returns the helper's command line for c.
func helperArgv(c Config) ([]string, error) {
	if c.Path == "" {
		return nil, errors.New("launch: empty program path")
	}
	if c.NoNewPrivs != NoNewPrivsAuto && c.NoNewPrivs != NoNewPrivsAlways {
		return nil, fmt.Errorf("launch: invalid %v", c.NoNewPrivs)
	}
	if _, ok := parseProcViews(c.ProcViews.String()); !ok {
		return nil, fmt.Errorf("launch: invalid %v", c.ProcViews)
	}
	if (c.ProcViews == ProcViewsMount || c.ProcViews == ProcViewsMountOnly) && c.OnSetup == nil {
		return nil, errors.New("launch: the mount path of the /proc views needs OnSetup")
	}
	// Build the policy here too, so that bad numbers fail Start rather
	// than the helper.
	if _, err := seccomp.Build(seccomp.SemaphorePolicy(notifyList(c.ExtraNotify, c.OpenNotify))); err != nil {
		return nil, fmt.Errorf("launch: extra notify syscalls %v %v: %w", c.ExtraNotify, c.OpenNotify, err)
	}
	list := func(nrs []int) string {
		s := make([]string, len(nrs))
		for i, nr := range nrs {
			s[i] = strconv.Itoa(nr)
		}
		return strings.Join(s, ",")
	}
	args := c.Args
	if len(args) == 0 {
		args = []string{c.Path}
	}
	argv := []string{os.Args[0], HelperArg, protocolVersion, c.NoNewPrivs.String(), c.ProcViews.String(),
		list(c.ExtraNotify), list(c.OpenNotify), c.Path}
	return append(argv, args...), nil
}

// Messages on the socket between the parent and the helper. Each is one
// SOCK_SEQPACKET datagram.
const (
	// msgListener (helper to parent) carries the listener fd in
	// SCM_RIGHTS, followed on the mount path by the FUSE connection's
	// /dev/fuse fd, and: one byte, 1 if no_new_privs was set, else 0; one
	// byte, the ProcViews taken; the text of why not the mount path.
	msgListener = 'L'
	// msgAck (parent to helper) lets the helper execve the program.
	msgAck = 'A'
	// msgError (helper to parent) reports a failure: one status byte, a
	// native-endian uint32 errno and the message.
	msgError = 'E'
)

// recvMsg receives one message and the fds it carries (at most two, in
// order). A nil message means the helper's end was closed.
func recvMsg(sock int) (msg []byte, fds []int, err error) {
	buf := make([]byte, 4096)
	oob := make([]byte, unix.CmsgSpace(2*4))
	for {
		n, oobn, _, _, err := unix.Recvmsg(sock, buf, oob, unix.MSG_CMSG_CLOEXEC)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, nil, fmt.Errorf("launch: reading from the sandbox helper: %w", err)
		}
		fds = nil
		if oobn > 0 {
			cmsgs, err := unix.ParseSocketControlMessage(oob[:oobn])
			if err != nil {
				return nil, nil, fmt.Errorf("launch: control message from the sandbox helper: %w", err)
			}
			for _, cm := range cmsgs {
				got, err := unix.ParseUnixRights(&cm)
				if err == nil {
					fds = append(fds, got...)
				}
			}
		}
		if n == 0 {
			for _, fd := range fds {
				unix.Close(fd)
			}
			return nil, nil, nil
		}
		return buf[:n], fds, nil
	}
}

// encodeError builds a msgError message.
func encodeError(status int, errno unix.Errno, text string) []byte {
	var b bytes.Buffer
	b.WriteByte(msgError)
	b.WriteByte(byte(status))
	binary.Write(&b, binary.NativeEndian, uint32(errno))
	b.WriteString(text)
	return b.Bytes()
}

// decodeError turns a msgError message into a *StartError.
func decodeError(msg []byte) error {
	if len(msg) < 6 {
		return fmt.Errorf("launch: malformed error message %q from the sandbox helper", msg)
	}
	return &StartError{
		Status: int(msg[1]),
		Errno:  unix.Errno(binary.NativeEndian.Uint32(msg[2:6])),
		Msg:    string(msg[6:]),
	}
}

// The PR_SET_PDEATHSIG signal is sent when the *thread* that forked the
// child exits, not the process. Go ends a thread whenever a goroutine exits
// while locked to it, so forking from an arbitrary thread could kill a
// sandbox long before its supervisor dies. All helpers are therefore forked
// from one thread that is locked for the life of the process.
var (
	spawnOnce sync.Once
	spawnReqs chan spawnReq
)

// spawnReq asks the spawning thread to start a process.
type spawnReq struct {
	argv   []string
	attr   *os.ProcAttr
	result chan spawnResult
}

// spawnResult is the outcome of a spawnReq.
type spawnResult struct {
	proc *os.Process
	err  error
}

// spawn starts the helper from the dedicated spawning thread.
func spawn(argv []string, attr *os.ProcAttr) (*os.Process, error) {
	spawnOnce.Do(func() {
		spawnReqs = make(chan spawnReq)
		go func() {
			runtime.LockOSThread() // never unlocked: the thread lives as long as the process
			for r := range spawnReqs {
				p, err := os.StartProcess("/proc/self/exe", r.argv, r.attr)
				r.result <- spawnResult{p, err}
			}
		}()
	})
	r := spawnReq{argv: argv, attr: attr, result: make(chan spawnResult, 1)}
	spawnReqs <- r
	res := <-r.result
	return res.proc, res.err
}
