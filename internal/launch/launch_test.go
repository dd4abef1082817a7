package launch

import (
	"bufio"
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sembox/sembox/internal/seccomp"
)

// answerFunc computes the response to a notification (its ID is filled in
// by serve).
type answerFunc func(n *seccomp.Notif) seccomp.NotifResp

// answer4242 answers every trapped call with 4242.
func answer4242(*seccomp.Notif) seccomp.NotifResp { return seccomp.NotifResp{Val: 4242} }

// serve answers notifications on listener until no process uses the
// filter any more: the trivial supervisor of these tests.
func serve(listener int, answer answerFunc) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var n seccomp.Notif
	for {
		switch err := seccomp.Recv(listener, &n); err {
		case nil:
		case unix.ENOENT:
			// A notification vanished, or the filter is orphaned.
			ev, err := seccomp.Poll(listener, 0)
			if err != nil {
				return err
			}
			if ev&unix.POLLHUP != 0 {
				return nil
			}
			continue
		default:
			return err
		}
		resp := answer(&n)
		resp.ID = n.ID
		if err := seccomp.Send(listener, &resp); err != nil && err != unix.ENOENT {
			return err
		}
	}
}

// result is what a sandboxed run produced.
type result struct {
	stdout, stderr string
	status         syscall.WaitStatus
	sandbox        *Sandbox
}

// runSandbox starts c with its output captured, serves it with answer
// until it exits, and returns what it printed. It fails the test if Start
// fails.
func runSandbox(t *testing.T, c Config, answer answerFunc) result {
	t.Helper()
	res, err := tryRunSandbox(t, c, answer)
	if err != nil {
		t.Fatalf("Start: %v (stderr %q)", err, res.stderr)
	}
	return res
}

// tryRunSandbox is runSandbox returning the Start error.
func tryRunSandbox(t *testing.T, c Config, answer answerFunc) (result, error) {
	t.Helper()
	var res result
	outR, outW := pipe(t)
	errR, errW := pipe(t)
	c.Stdout, c.Stderr = outW, errW
	stdout, stderr := readAll(outR), readAll(errR)
	sb, err := Start(c)
	outW.Close()
	errW.Close()
	if err != nil {
		res.stdout, res.stderr = <-stdout, <-stderr
		return res, err
	}
	res.sandbox = sb
	served := make(chan error, 1)
	go func() { served <- serve(sb.Listener, answer) }()
	res.status, err = sb.Wait()
	if err != nil {
		t.Fatalf("Wait: %v", err)
	}
	select {
	case err := <-served:
		if err != nil {
			t.Errorf("serve: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Errorf("the listener did not report POLLHUP after the sandbox was reaped")
	}
	unix.Close(sb.Listener)
	res.stdout, res.stderr = <-stdout, <-stderr
	return res, nil
}

// pipe returns an os.Pipe closed at the end of the test.
func pipe(t testing.TB) (r, w *os.File) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(); w.Close() })
	return r, w
}

// readAll reads r to EOF in the background.
func readAll(r io.Reader) <-chan string {
	c := make(chan string, 1)
	go func() {
		b, _ := io.ReadAll(r)
		c <- string(b)
	}()
	return c
}

func TestSandbox(t *testing.T) {
	probe := needProbe(t)
	tests := []struct {
		name       string
		config     Config
		answer     answerFunc
		wantLines  []string // must appear in stdout
		wantStatus int
		wantNNP    bool
	}{
		{
			name:      "semget is answered by the supervisor",
			config:    Config{Path: probe, Args: []string{"probe", "semget"}},
			answer:    answer4242,
			wantLines: []string{"semget=4242 errno=0"},
		},
		{
			name:   "supervisor errors reach the program",
			config: Config{Path: probe, Args: []string{"probe", "semget"}},
			answer: func(*seccomp.Notif) seccomp.NotifResp {
				return seccomp.NotifResp{Error: -int32(unix.EINVAL)}
			},
			wantLines: []string{"semget=-1 errno=22"},
		},
		{
			name:      "untrapped calls run natively",
			config:    Config{Path: probe, Args: []string{"probe", "getppid"}},
			answer:    answer4242,
			wantLines: []string{"getppid=" + strconv.Itoa(os.Getpid())},
		},
		{
			name:      "extra notify calls are trapped",
			config:    Config{Path: probe, Args: []string{"probe", "getppid"}, ExtraNotify: []int{unix.SYS_GETPPID}},
			answer:    answer4242,
			wantLines: []string{"getppid=4242"},
		},
		{
			name:      "no_new_privs auto",
			config:    Config{Path: probe, Args: []string{"probe", "nnp"}},
			answer:    answer4242,
			wantLines: []string{"nnp=" + boolDigit(!hasCapSysAdmin())},
			wantNNP:   !hasCapSysAdmin(),
		},
		{
			name:      "no_new_privs always",
			config:    Config{Path: probe, Args: []string{"probe", "nnp"}, NoNewPrivs: NoNewPrivsAlways},
			answer:    answer4242,
			wantLines: []string{"nnp=1"},
			wantNNP:   true,
		},
		{
			name:      "fds are inherited as by execve",
			config:    Config{Path: probe, Args: []string{"probe", "fds"}},
			answer:    answer4242,
			wantLines: []string{"fds=" + inheritableFDs(t)},
		},
		{
			name:       "exit status",
			config:     Config{Path: probe, Args: []string{"probe", "exit", "7"}},
			answer:     answer4242,
			wantStatus: 7,
		},
		{
			name:      "PATH lookup, argv, environment and directory",
			config:    Config{Path: "sh", Args: []string{"sh", "-c", `echo "$0 $1 $FOO $(pwd)"`, "zero", "one"}, Env: []string{"FOO=bar", "PATH=/usr/bin:/bin"}, Dir: "/usr"},
			answer:    answer4242,
			wantLines: []string{"zero one bar /usr"},
		},
		{
			name:      "argv0",
			config:    Config{Path: probe, Args: []string{"my-name", "argv0"}},
			answer:    answer4242,
			wantLines: []string{"argv0=my-name"},
		},
		{
			name:      "default argv",
			config:    Config{Path: probe},
			answer:    answer4242,
			wantLines: []string{""},
		},
		{
			name:      "relative path resolved from Dir",
			config:    Config{Path: "./" + filepath.Base(probe), Args: []string{"probe", "semget"}, Dir: filepath.Dir(probe)},
			answer:    answer4242,
			wantLines: []string{"semget=4242 errno=0"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := runSandbox(t, tt.config, tt.answer)
			for _, want := range tt.wantLines {
				if !hasLine(res.stdout, want) {
					t.Errorf("stdout %q lacks line %q", res.stdout, want)
				}
			}
			if !res.status.Exited() || res.status.ExitStatus() != tt.wantStatus {
				t.Errorf("wait status %v, want exit %d (stderr %q)", res.status, tt.wantStatus, res.stderr)
			}
			if res.sandbox.NoNewPrivs != tt.wantNNP {
				t.Errorf("Sandbox.NoNewPrivs = %v, want %v", res.sandbox.NoNewPrivs, tt.wantNNP)
			}
		})
	}
}

// TestI386Entry checks that semaphore calls made through the i386 entry
// point (int $0x80 from 64-bit code) fail with ENOSYS instead of reaching
// the host's semaphores.
func TestI386Entry(t *testing.T) {
	if runtime.GOARCH != "amd64" {
		t.Skip("int $0x80 is x86-only")
	}
	probe := needProbe(t)
	res := runSandbox(t, Config{Path: probe, Args: []string{"probe", "int80", "semget"}}, answer4242)
	if hasLine(res.stdout, "int80=unavailable") {
		t.Skip("this kernel does not take int $0x80 (no IA32 emulation): the i386 verdicts are covered by the seccomp package's BPF tests only")
	}
	if want := "int80=" + strconv.Itoa(-int(unix.ENOSYS)); !hasLine(res.stdout, want) {
		t.Errorf("stdout %q lacks line %q", res.stdout, want)
	}
	if !hasLine(res.stdout, "semget=4242 errno=0") {
		t.Errorf("stdout %q: native semget after the i386 call was not trapped", res.stdout)
	}
}

func TestStartErrors(t *testing.T) {
	dir := t.TempDir()
	notExec := filepath.Join(dir, "not-executable")
	if err := os.WriteFile(notExec, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	garbage := filepath.Join(dir, "garbage")
	if err := os.WriteFile(garbage, []byte("\x00\x01\x02\x03 not a program"), 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		config     Config
		wantStatus int
		wantErrno  unix.Errno
		wantMsg    string
	}{
		{"not in PATH", Config{Path: "sembox-no-such-program", Env: []string{"PATH=/usr/bin:/bin"}}, ExitNotFound, unix.ENOENT, "sembox-no-such-program: executable file not found in $PATH"},
		{"no such file", Config{Path: filepath.Join(dir, "missing")}, ExitNotFound, unix.ENOENT, "missing: no such file or directory"},
		{"not executable", Config{Path: notExec}, ExitCannotExecute, unix.EACCES, "not-executable: permission denied"},
		{"directory", Config{Path: dir}, ExitCannotExecute, unix.EACCES, "permission denied"},
		{"not a program", Config{Path: garbage}, ExitCannotExecute, unix.ENOEXEC, "garbage: exec format error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := tryRunSandbox(t, tt.config, answer4242)
			var se *StartError
			if !errors.As(err, &se) {
				t.Fatalf("Start error %v, want a *StartError", err)
			}
			if se.ExitCode() != tt.wantStatus || se.Errno != tt.wantErrno || !strings.Contains(se.Msg, tt.wantMsg) {
				t.Errorf("StartError{%q, %v, %d}, want status %d, errno %v, message containing %q", se.Msg, se.Errno, se.Status, tt.wantStatus, tt.wantErrno, tt.wantMsg)
			}
			if want := "sembox: " + se.Msg + "\n"; res.stderr != want {
				t.Errorf("helper printed %q, want %q", res.stderr, want)
			}
		})
	}
	t.Run("errors.Is", func(t *testing.T) {
		_, err := tryRunSandbox(t, Config{Path: filepath.Join(dir, "missing")}, answer4242)
		if !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%v is not fs.ErrNotExist", err)
		}
	})
	t.Run("bad directory", func(t *testing.T) {
		_, err := Start(Config{Path: "/bin/true", Dir: filepath.Join(dir, "missing")})
		if err == nil || errors.As(err, new(*StartError)) {
			t.Errorf("Start in a missing directory: %v, want a plain error", err)
		}
	})
	t.Run("bad extra syscall", func(t *testing.T) {
		_, err := Start(Config{Path: "/bin/true", ExtraNotify: []int{-1}})
		if err == nil {
			t.Errorf("Start with extra syscall -1 succeeded")
		}
	})
	t.Run("empty path", func(t *testing.T) {
		if _, err := Start(Config{}); err == nil {
			t.Errorf("Start with an empty path succeeded")
		}
	})
}

// TestListenerClosed checks that once the supervisor closes the listener,
// the call it was handling and every later trapped call fail with ENOSYS.
func TestListenerClosed(t *testing.T) {
	probe := needProbe(t)
	outR, outW := pipe(t)
	stdout := readAll(outR)
	sb, err := Start(Config{Path: probe, Args: []string{"probe", "semget", "semget", "semget"}, Stdout: outW})
	outW.Close()
	if err != nil {
		t.Fatal(err)
	}
	var n seccomp.Notif
	if err := seccomp.Recv(sb.Listener, &n); err != nil {
		t.Fatal(err)
	}
	if err := seccomp.Send(sb.Listener, &seccomp.NotifResp{ID: n.ID, Val: 4242}); err != nil {
		t.Fatal(err)
	}
	if err := seccomp.Recv(sb.Listener, &n); err != nil {
		t.Fatal(err)
	}
	unix.Close(sb.Listener) // with the second call pending
	status, err := sb.Wait()
	if err != nil || status.ExitStatus() != 0 {
		t.Fatalf("Wait: %v, %v", status, err)
	}
	enosys := "semget=-1 errno=" + strconv.Itoa(int(unix.ENOSYS))
	want := "semget=4242 errno=0\n" + enosys + "\n" + enosys + "\n"
	if got := <-stdout; got != want {
		t.Errorf("stdout %q, want %q", got, want)
	}
}

// TestSupervisorDies kills a supervisor process and checks that its
// sandbox's root process dies with it (PR_SET_PDEATHSIG), and that a
// descendant that survives gets ENOSYS from its trapped calls.
func TestSupervisorDies(t *testing.T) {
	probe := needProbe(t)
	// Orphans are reparented to us, so that we can reap and inspect them.
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		t.Skipf("PR_SET_CHILD_SUBREAPER: %v", err)
	}
	defer unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)

	inR, inW := pipe(t)
	outR, outW := pipe(t)
	sup := exec.Command("/proc/self/exe")
	sup.Env = append(os.Environ(), roleEnv+"=supervisor", probeEnv+"="+probe)
	sup.Stdin, sup.Stdout, sup.Stderr = inR, outW, os.Stderr
	if err := sup.Start(); err != nil {
		t.Fatal(err)
	}
	inR.Close()
	outW.Close()
	lines := bufio.NewScanner(outR)
	rootPID := 0
	for rootPID == 0 && lines.Scan() {
		if s, ok := strings.CutPrefix(lines.Text(), "root="); ok {
			rootPID, _ = strconv.Atoi(s)
		}
	}
	if rootPID == 0 {
		t.Fatalf("the supervisor did not report its sandbox (%v)", lines.Err())
	}
	if !lines.Scan() || lines.Text() != "semget=4242 errno=0" {
		t.Fatalf("sandbox said %q before the supervisor died, want a served semget", lines.Text())
	}
	childPID := 0
	if lines.Scan() {
		childPID, _ = strconv.Atoi(strings.TrimPrefix(lines.Text(), "forked="))
	}
	if childPID <= 0 {
		t.Fatalf("sandbox said %q, want forked=PID", lines.Text())
	}

	sup.Process.Kill()
	sup.Wait()

	var ws unix.WaitStatus
	if _, err := unix.Wait4(rootPID, &ws, 0, nil); err != nil {
		t.Fatalf("waiting for the sandbox root %d: %v", rootPID, err)
	}
	if !ws.Signaled() || ws.Signal() != unix.SIGKILL {
		t.Errorf("sandbox root ended with %v, want SIGKILL", ws)
	}
	// Let the surviving child make its trapped call, and reap it.
	inW.Close()
	if !lines.Scan() {
		t.Fatalf("no output from the surviving child: %v", lines.Err())
	}
	if want := "semget=-1 errno=" + strconv.Itoa(int(unix.ENOSYS)); lines.Text() != want {
		t.Errorf("surviving child said %q, want %q", lines.Text(), want)
	}
	if _, err := unix.Wait4(childPID, &ws, 0, nil); err != nil || !ws.Exited() || ws.ExitStatus() != 0 {
		t.Errorf("surviving child ended with %v, %v", ws, err)
	}
}

// TestNestedSandbox starts sembox inside a sandbox: the kernel allows one
// notification listener per filter chain, so the inner helper must fail
// cleanly with ExitSetupFailed.
func TestNestedSandbox(t *testing.T) {
	probe := needProbe(t)
	res := runSandbox(t, Config{
		Path: "/proc/self/exe",
		Args: []string{os.Args[0]},
		Env:  append(os.Environ(), roleEnv+"=nested", probeEnv+"="+probe),
	}, answer4242)
	if !hasLine(res.stdout, "status=125 errno="+strconv.Itoa(int(unix.EBUSY))) {
		t.Errorf("nested Start reported %q, want status 125 and EBUSY", res.stdout)
	}
	if !strings.Contains(res.stderr, "sembox: cannot install the seccomp filter") {
		t.Errorf("nested helper printed %q", res.stderr)
	}
}

// TestUnprivileged runs a supervisor as an unprivileged user (nobody), for
// whom no_new_privs is required.
func TestUnprivileged(t *testing.T) {
	probe := needProbe(t)
	if os.Geteuid() != 0 {
		t.Skip("needs root to switch to an unprivileged user")
	}
	// A copy of the probe that nobody can reach.
	dir := t.TempDir()
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(probe)
	if err != nil {
		t.Fatal(err)
	}
	probe = filepath.Join(dir, "probe")
	if err := os.WriteFile(probe, b, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("/proc/self/exe")
	cmd.Env = append(os.Environ(), roleEnv+"=unprivileged", probeEnv+"="+probe)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("unprivileged supervisor: %v\n%s", err, out)
	}
	for _, want := range []string{"nnp=1", "semget=4242 errno=0", "Sandbox.NoNewPrivs=true"} {
		if !hasLine(string(out), want) {
			t.Errorf("output %q lacks line %q", out, want)
		}
	}
}

// runRole runs the test binary as one of the processes the tests need, and
// returns its exit status.
func runRole(role string) int {
	probe := os.Getenv(probeEnv)
	switch role {
	case "supervisor":
		// Start a sandbox that forks a child, report the root's PID,
		// serve forever; the test kills us.
		sb, err := Start(Config{Path: probe, Args: []string{"probe", "semget", "fork-semget", "pause"}})
		if err != nil {
			os.Stderr.WriteString(err.Error() + "\n")
			return 1
		}
		os.Stdout.WriteString("root=" + strconv.Itoa(sb.Process.Pid) + "\n")
		serve(sb.Listener, answer4242)
		select {}
	case "unprivileged":
		// Running as an unprivileged user, the helper must set
		// no_new_privs by itself, and semget must still be trapped.
		outR, outW, err := os.Pipe()
		if err != nil {
			return 1
		}
		stdout := readAll(outR)
		sb, err := Start(Config{Path: probe, Args: []string{"probe", "nnp", "semget"}, Stdout: outW})
		outW.Close()
		if err != nil {
			os.Stdout.WriteString("unexpected: " + err.Error() + "\n")
			return 1
		}
		go serve(sb.Listener, answer4242)
		if ws, err := sb.Wait(); err != nil || ws.ExitStatus() != 0 {
			return 1
		}
		os.Stdout.WriteString(<-stdout + "Sandbox.NoNewPrivs=" + strconv.FormatBool(sb.NoNewPrivs) + "\n")
		return 0
	case "nested":
		_, err := Start(Config{Path: probe, Args: []string{"probe", "semget"}})
		var se *StartError
		if !errors.As(err, &se) {
			os.Stdout.WriteString("unexpected: " + errString(err) + "\n")
			return 1
		}
		os.Stdout.WriteString("status=" + strconv.Itoa(se.Status) + " errno=" + strconv.Itoa(int(se.Errno)) + "\n")
		return 0
	}
	os.Stderr.WriteString("unknown role " + role + "\n")
	return 1
}

func TestHelperArgs(t *testing.T) {
	tests := []struct {
		name   string
		config Config
		want   helperConfig
	}{
		{"defaults", Config{Path: "prog"}, helperConfig{path: "prog", argv: []string{"prog"}}},
		{"everything", Config{Path: "/bin/x", Args: []string{"x", "", "--", "a,b"}, NoNewPrivs: NoNewPrivsAlways, ExtraNotify: []int{2, 257}},
			helperConfig{noNewPrivs: NoNewPrivsAlways, extraNotify: []int{2, 257}, path: "/bin/x", argv: []string{"x", "", "--", "a,b"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			argv, err := helperArgv(tt.config)
			if err != nil {
				t.Fatal(err)
			}
			if argv[1] != HelperArg {
				t.Fatalf("argv[1] = %q", argv[1])
			}
			got, err := parseHelperArgs(argv[2:])
			if err != nil {
				t.Fatal(err)
			}
			if got.noNewPrivs != tt.want.noNewPrivs || got.path != tt.want.path ||
				strings.Join(got.argv, "|") != strings.Join(tt.want.argv, "|") ||
				len(got.extraNotify) != len(tt.want.extraNotify) {
				t.Errorf("round trip gave %+v, want %+v", got, tt.want)
			}
			for i := range got.extraNotify {
				if got.extraNotify[i] != tt.want.extraNotify[i] {
					t.Errorf("round trip gave %+v, want %+v", got, tt.want)
				}
			}
		})
	}
	bad := [][]string{
		{},
		{"2", "auto", "", "p", "p"},
		{"1", "sometimes", "", "p", "p"},
		{"1", "auto", "x", "p", "p"},
	}
	for _, args := range bad {
		if _, err := parseHelperArgs(args); err == nil {
			t.Errorf("parseHelperArgs(%q) succeeded", args)
		}
	}
	if IsHelper() {
		t.Errorf("IsHelper() in the test process")
	}
}

// inheritableFDs lists, like the probe's "fds" command, the fds that a
// program exec'd by this process with standard fds 0, 1 and 2 gets: those
// plus the ones open here without close-on-exec (this process may have
// inherited some from whoever ran the tests).
func inheritableFDs(t *testing.T) string {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	fds := []int{0, 1, 2}
	for _, e := range ents {
		fd, err := strconv.Atoi(e.Name())
		if err != nil || fd <= 2 {
			continue
		}
		flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
		if err == nil && flags&unix.FD_CLOEXEC == 0 {
			fds = append(fds, fd)
		}
	}
	slices.Sort(fds)
	s := make([]string, len(fds))
	for i, fd := range fds {
		s[i] = strconv.Itoa(fd)
	}
	return strings.Join(s, ",")
}

// hasLine reports whether text has a line equal to line.
func hasLine(text, line string) bool {
	for _, l := range strings.Split(text, "\n") {
		if l == line {
			return true
		}
	}
	return false
}

// boolDigit returns "1" for true and "0" for false.
func boolDigit(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// errString returns err.Error(), or "<nil>".
func errString(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

// closeFD closes fd, ignoring errors.
func closeFD(fd int) { unix.Close(fd) }
