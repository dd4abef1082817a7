// Package shared tests shared semaphore namespaces (`sembox run --ns`) the
// way a user drives them from a shell: every step is its own
// `sembox run --ns NAME -- PROG`, and the namespace lives in a background
// server between the steps.
//
// Each test uses a namespace name of its own (test name and pid), removes
// it with `sembox ns rm` at the end, and checks with pgrep that no server
// process for its socket survives (leftovers are killed and the test
// fails). Everything runs with a timeout, in its own process group.
//
// The tests need root (the socket directory /run/sembox, user nobody for
// the --ns-mode test); they skip otherwise. Perl and util-linux are needed
// by most tests; python3-sysv-ipc and php-cli only by the contention test
// (a language whose package is missing is skipped and logged;
// scripts/setup.sh installs them all).
package shared

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sembox/sembox/internal/testrun"
)

// env is what TestMain prepared.
var env struct {
	dir       string // 0755 temp dir holding the sembox binary and the scripts
	sembox    string // the built binary (0755: user nobody can run it)
	semboxErr string // why sembox cannot be used ("" if it can)
	skip      string // reason to skip everything ("" = run)
}

// runTimeout bounds one command unless a test says otherwise.
const runTimeout = 30 * time.Second

func TestMain(m *testing.M) {
	code := func() int {
		if err := setup(); err != nil {
			fmt.Fprintf(os.Stderr, "shared setup: %v\n", err)
			return 1
		}
		if env.dir != "" {
			defer os.RemoveAll(env.dir)
		}
		if env.skip != "" {
			fmt.Fprintf(os.Stderr, "shared: skipping: %s\n", env.skip)
		}
		return m.Run()
	}()
	os.Exit(code)
}

func setup() error {
	if os.Geteuid() != 0 {
		env.skip = "needs root (shared namespaces' sockets in /run/sembox, user nobody)"
		return nil
	}
	wd, err := os.Getwd()
	if err != nil {
		return err
	}
	root := filepath.Clean(filepath.Join(wd, "..", ".."))
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		return fmt.Errorf("module root not found from %s: %v", wd, err)
	}
	dir, err := os.MkdirTemp("", "sembox-shared-")
	if err != nil {
		return err
	}
	env.dir = dir
	// 0755: user nobody must be able to reach the binary (test 8).
	if err := os.Chmod(dir, 0o755); err != nil {
		return err
	}
	for name, text := range scripts {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			return err
		}
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	env.sembox = filepath.Join(dir, "sembox")
	build := exec.Command(goTool, "build", "-o", env.sembox, "./cmd/sembox")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		env.semboxErr = fmt.Sprintf("go build ./cmd/sembox failed: %v\n%s", err, out)
		return nil
	}
	if err := os.Chmod(env.sembox, 0o755); err != nil {
		return err
	}
	if r := run(10*time.Second, "/", nil, env.sembox, "run", "--", "true"); !r.OK() {
		env.semboxErr = fmt.Sprintf("smoke test `sembox run -- true`: %s\n%s", r.Status(), r.Stderr)
	}
	return nil
}

// need skips the test when a command it uses is missing and fails it when
// sembox could not be built.
func need(t *testing.T, cmds ...string) {
	t.Helper()
	if env.skip != "" {
		t.Skip(env.skip)
	}
	for _, c := range cmds {
		if _, err := exec.LookPath(c); err != nil {
			t.Skipf("%s is not installed (scripts/setup.sh installs it)", c)
		}
	}
	if env.semboxErr != "" {
		t.Fatalf("sembox is not usable: %s", env.semboxErr)
	}
}

// debianPackage reports whether a Debian package is installed.
func debianPackage(p string) bool {
	out, _ := exec.Command("dpkg-query", "-W", "-f=${Status}", p).Output()
	return strings.Contains(string(out), "install ok installed")
}

// ---------------------------------------------------------------- runs

// result of one run.
type result = testrun.Result

func lines(s string) []string {
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// run runs argv (in dir, with environment env if not nil) and waits.
func run(timeout time.Duration, dir string, env []string, argv ...string) result {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := testrun.Command(ctx, dir, argv...)
	if env != nil {
		cmd.Env = env
	}
	return testrun.RunCmd(ctx, cmd)
}

// sembox runs `sembox ARGS...`.
func sembox(timeout time.Duration, args ...string) result {
	return run(timeout, env.dir, nil, append([]string{env.sembox}, args...)...)
}

// bgProc is a command running in the background whose stdout is read line
// by line.
type bgProc struct {
	t      *testing.T
	cmd    *exec.Cmd
	cancel context.CancelFunc
	lines  chan string
	mu     sync.Mutex
	stdout strings.Builder
	stderr bytes.Buffer
	done   chan struct{}
	res    result
}

// startBG starts argv in the background with a timeout; stdin may be nil.
// The test's cleanup kills its process group if it is still running.
func startBG(t *testing.T, timeout time.Duration, stdin io.Reader, argv ...string) *bgProc {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	p := &bgProc{t: t, cancel: cancel, lines: make(chan string, 1000), done: make(chan struct{})}
	p.cmd = testrun.Command(ctx, env.dir, argv...)
	p.cmd.Stdin = stdin
	p.cmd.Stderr = &p.stderr
	out, err := p.cmd.StdoutPipe()
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	start := time.Now()
	if err := p.cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start %s: %v", testrun.ShellQuote(argv), err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			p.mu.Lock()
			p.stdout.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
			select {
			case p.lines <- sc.Text():
			default:
			}
		}
		err := p.cmd.Wait()
		r := result{Argv: argv, Dur: time.Since(start)}
		p.mu.Lock()
		r.Stdout, r.Stderr = p.stdout.String(), p.stderr.String()
		p.mu.Unlock()
		testrun.Finish(ctx, p.cmd, err, &r)
		p.res = r
		cancel()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			t.Logf("cleanup: killing background %s (pid %d)", testrun.ShellQuote(argv), p.cmd.Process.Pid)
			syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
			p.cancel()
			select {
			case <-p.done:
			case <-time.After(10 * time.Second):
				t.Errorf("background %s did not end after SIGKILL", testrun.ShellQuote(argv))
			}
		}
	})
	return p
}

// waitLine waits for a stdout line matching re and returns its submatches.
func (p *bgProc) waitLine(re *regexp.Regexp, timeout time.Duration) []string {
	p.t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case l := <-p.lines:
			if m := re.FindStringSubmatch(l); m != nil {
				return m
			}
		case <-p.done:
			// Lines read before the end are still in the channel.
			for {
				select {
				case l := <-p.lines:
					if m := re.FindStringSubmatch(l); m != nil {
						return m
					}
					continue
				default:
				}
				break
			}
			p.t.Fatalf("%s ended before printing a line matching %q:\n%v", testrun.ShellQuote(p.cmd.Args), re, p.res)
		case <-deadline:
			p.mu.Lock()
			out := p.stdout.String()
			p.mu.Unlock()
			p.t.Fatalf("no line matching %q from %s within %v; stdout so far:\n%s\nstderr:\n%s",
				re, testrun.ShellQuote(p.cmd.Args), timeout, out, p.stderr.String())
		}
	}
}

// wait waits for the process to end (at most timeout) and returns its
// result.
func (p *bgProc) wait(timeout time.Duration) result {
	p.t.Helper()
	select {
	case <-p.done:
		return p.res
	case <-time.After(timeout):
		syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
		p.t.Fatalf("%s did not end within %v (killed):\n%v", testrun.ShellQuote(p.cmd.Args), timeout, p.res)
	}
	return result{}
}

// ---------------------------------------------------------------- namespaces

// namespace is a shared namespace a test uses.
type namespace struct {
	t      *testing.T
	name   string // what --ns gets: a name or a socket path
	socket string // the server's socket
}

var nameChars = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)

// newNamespace picks a name unique to the test and process, and makes sure
// the namespace is removed and its server gone at the end of the test.
func newNamespace(t *testing.T, suffix ...string) *namespace {
	t.Helper()
	name := fmt.Sprintf("shtest-%s-%d", nameChars.ReplaceAllString(t.Name(), "_"), os.Getpid())
	if len(name) > 80 {
		name = name[:80]
	}
	for _, s := range suffix {
		name += "-" + s
	}
	n := &namespace{t: t, name: name, socket: filepath.Join("/run/sembox/ns", name+".sock")}
	n.register()
	return n
}

// pathNamespace is a namespace whose socket is path.
func pathNamespace(t *testing.T, path string) *namespace {
	t.Helper()
	n := &namespace{t: t, name: path, socket: path}
	n.register()
	return n
}

// register makes the namespace's cleanup run after every cleanup the test
// registers later (the background members it starts are killed first).
func (n *namespace) register() {
	if left := n.servers(); len(left) > 0 {
		n.t.Fatalf("a server for %s is already running before the test: %v", n.socket, left)
	}
	n.t.Cleanup(n.cleanup)
}

// cleanup removes the namespace and checks that its server has gone.
func (n *namespace) cleanup() {
	t := n.t
	if len(n.servers()) > 0 {
		// Refused while members run: the test's members have been killed
		// by now, but the server may take a moment to see them go.
		deadline := time.Now().Add(3 * time.Second)
		for {
			r := sembox(10*time.Second, "ns", "rm", n.name)
			if r.OK() || !strings.Contains(r.Stderr, "members") || time.Now().After(deadline) {
				if !r.OK() {
					t.Logf("cleanup: %v", r)
				}
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	var left []int
	for deadline := time.Now().Add(3 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if left = n.servers(); len(left) == 0 || time.Now().After(deadline) {
			break
		}
	}
	for _, pid := range left {
		syscall.Kill(pid, syscall.SIGKILL)
	}
	if len(left) > 0 {
		t.Errorf("server process(es) %v for %s survived `sembox ns rm %s` (killed now)", left, n.socket, n.name)
	}
	// sembox leaves the start lock beside the socket; do not let the tests
	// pile them up in /run/sembox/ns.
	if _, err := os.Stat(n.socket + ".lock"); err == nil {
		os.Remove(n.socket + ".lock")
	}
}

// servers returns the pids of the server processes for the namespace's
// socket (`sembox ns serve --socket PATH ...`), found with pgrep.
func (n *namespace) servers() []int {
	pattern := "ns serve --socket " + regexp.QuoteMeta(n.socket) + " "
	out, err := exec.Command("pgrep", "-f", "--", pattern).Output()
	var ee *exec.ExitError
	if err != nil && !(errors.As(err, &ee) && ee.ExitCode() == 1) {
		n.t.Fatalf("pgrep -f %q: %v", pattern, err)
	}
	var pids []int
	for _, f := range strings.Fields(string(out)) {
		if pid, err := strconv.Atoi(f); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids
}

// server returns the pid of the one server process, failing the test if
// there is not exactly one.
func (n *namespace) server() int {
	n.t.Helper()
	pids := n.servers()
	if len(pids) != 1 {
		n.t.Fatalf("want one server process for %s, pgrep finds %v", n.socket, pids)
	}
	return pids[0]
}

// runArgs is `sembox run --ns NAME -- ARGV...`.
func (n *namespace) runArgs(argv ...string) []string {
	return append([]string{env.sembox, "run", "--ns", n.name, "--"}, argv...)
}

// run runs `sembox run --ns NAME -- ARGV...` and waits for it.
func (n *namespace) run(argv ...string) result {
	return run(runTimeout, env.dir, nil, n.runArgs(argv...)...)
}

// mustRun is run, failing the test unless the command exits 0.
func (n *namespace) mustRun(argv ...string) result {
	n.t.Helper()
	r := n.run(argv...)
	if !r.OK() {
		n.t.Fatalf("command failed:\n%v", r)
	}
	return r
}

// nsEntry is one namespace of `sembox ns ls --json`.
type nsEntry struct {
	Name   string `json:"name"`
	Socket string `json:"socket"`
	Server struct {
		PID  int    `json:"pid"`
		Mode uint32 `json:"mode"`
		UID  int    `json:"uid"`
	} `json:"server"`
	Members []struct {
		PID     int      `json:"pid"`
		UID     int      `json:"uid"`
		Command []string `json:"command"`
	} `json:"members"`
	Sets  int    `json:"sets"`
	Sems  int    `json:"semaphores"`
	Error string `json:"error"`
}

// list runs `sembox ns ls --json`.
func list(t *testing.T) []nsEntry {
	t.Helper()
	r := sembox(10*time.Second, "ns", "ls", "--json")
	if !r.OK() {
		t.Fatalf("sembox ns ls --json failed:\n%v", r)
	}
	var v struct {
		Namespaces []nsEntry `json:"namespaces"`
	}
	if err := json.Unmarshal([]byte(r.Stdout), &v); err != nil {
		t.Fatalf("sembox ns ls --json: %v\n%v", err, r)
	}
	return v.Namespaces
}

// entry returns the namespace's entry in `sembox ns ls --json`, or nil.
func (n *namespace) entry() *nsEntry {
	for _, e := range list(n.t) {
		if e.Socket == n.socket {
			return &e
		}
	}
	return nil
}

// ---------------------------------------------------------------- scripts

// Perl, Python and PHP helpers, written into env.dir by TestMain. Every
// worker increments a counter in FILE N times, each time under a P/V with
// SEM_UNDO on semaphore 0 of the set with key KEY, which it finds by key.
var scripts = map[string]string{
	// create.pl KEY NSEMS VAL...: a new set (IPC_EXCL), SETALL VAL...
	"create.pl": `use strict; use warnings;
use IPC::SysV qw(IPC_CREAT IPC_EXCL SETALL);
my ($key, $n, @vals) = @ARGV;
my $id = semget(oct($key), $n, IPC_CREAT|IPC_EXCL|0600) // die "semget: $!\n";
semctl($id, 0, SETALL, pack("s!*", @vals)) or die "SETALL: $!\n";
print "id=$id\n";
`,
	// getall.pl KEY: the values of the set, or the errno.
	"getall.pl": `use strict; use warnings;
use IPC::Semaphore;
my $s = IPC::Semaphore->new(oct($ARGV[0]), 0, 0);
if (!defined $s) { printf "err=%d %s\n", $!+0, $!; exit 1 }
print "vals=", join(",", $s->getall), "\n";
`,
	// worker.pl KEY FILE N (IPC::Semaphore)
	"worker.pl": `use strict; use warnings;
use IPC::SysV qw(SEM_UNDO);
use IPC::Semaphore;
my ($key, $file, $n) = @ARGV;
my $s = IPC::Semaphore->new(oct($key), 0, 0) or die "semget: $!\n";
for (1..$n) {
  $s->op(0, -1, SEM_UNDO) or die "P: $!\n";
  open(my $r, "<", $file) or die "$file: $!\n"; my $v = <$r>; close $r;
  open(my $w, ">", $file) or die "$file: $!\n"; print $w ($v + 1), "\n"; close $w;
  $s->op(0, 1, SEM_UNDO) or die "V: $!\n";
}
print "perl done $n\n";
`,
	// worker.py KEY FILE N (sysv_ipc)
	"worker.py": `import sys
import sysv_ipc
key, path, n = int(sys.argv[1], 0), sys.argv[2], int(sys.argv[3])
s = sysv_ipc.Semaphore(key)
s.undo = True
for _ in range(n):
    s.acquire()
    with open(path) as f:
        v = int(f.read())
    with open(path, "w") as f:
        f.write("%d\n" % (v + 1))
    s.release()
print("python done %d" % n)
`,
	// worker.php KEY FILE N (sysvsem). PHP's sem_get uses a set of 3:
	// [0] the semaphore, [1] a usage count (if sem_get finds it 1, it
	// SETVALs [0] to max_acquire), [2] a lock. The set is created with
	// [1] = 1 so that PHP never resets [0] under the others' feet.
	"worker.php": `<?php
$key = intval($argv[1], 0); $file = $argv[2]; $n = intval($argv[3]);
$s = sem_get($key, 1, 0600, true);
if ($s === false) { fwrite(STDERR, "sem_get failed\n"); exit(3); }
for ($i = 0; $i < $n; $i++) {
    if (!sem_acquire($s)) { fwrite(STDERR, "sem_acquire failed\n"); exit(4); }
    $v = intval(file_get_contents($file));
    file_put_contents($file, ($v + 1) . "\n");
    if (!sem_release($s)) { fwrite(STDERR, "sem_release failed\n"); exit(5); }
}
echo "php done $n\n";
`,
	// hold.pl KEY: P with SEM_UNDO on semaphore 0, then sleep.
	"hold.pl": `use strict; use warnings;
use IPC::SysV qw(SEM_UNDO);
use IPC::Semaphore;
$| = 1;
my $s = IPC::Semaphore->new(oct($ARGV[0]), 0, 0) or die "semget: $!\n";
$s->op(0, -1, SEM_UNDO) or die "P: $!\n";
print "held pid=$$ val=", $s->getval(0), "\n";
sleep 60;
`,
	// probe.pl KEY: semget/GETVAL/semop every 50 ms; prints each change of
	// outcome; after 3 failures in a row (or 15 s), tries open and
	// execve (system) once and ends.
	"probe.pl": `use strict; use warnings;
use IPC::SysV qw(GETVAL IPC_NOWAIT);
$| = 1;
my $key = oct($ARGV[0]);
my ($last, $fails) = ("", 0);
print "ready pid=$$\n";
for (1..300) {
  my $id = semget($key, 0, 0);
  my $e1 = $!+0;
  my $v = defined $id ? semctl($id, 0, GETVAL, 0) : undef;
  my $e2 = $!+0;
  my $op = defined $id ? semop($id, pack("s!3", 0, 0, IPC_NOWAIT)) : 0;
  my $e3 = $!+0;
  my $line = defined $id
    ? sprintf("semget=ok getval=%s semop=%s", (defined $v ? "ok" : "-1 errno=$e2"), ($op ? "ok" : "-1 errno=$e3"))
    : "semget=-1 errno=$e1";
  print "$line\n" if $line ne $last;
  $last = $line;
  $fails = defined $id ? 0 : $fails + 1;
  last if $fails >= 3;
  select(undef, undef, undef, 0.05);
}
# Other trapped calls: open (served for the /proc views) and execve.
my $ok = open(my $fh, "<", "/etc/hostname");
printf "open=%s\n", $ok ? "ok" : sprintf("-1 errno=%d", $!+0);
my $st = system("/bin/true");
printf "system=%s\n", $st == 0 ? "ok" : sprintf("%d errno=%d", $st, $!+0);
print "probe end\n";
`,
}
