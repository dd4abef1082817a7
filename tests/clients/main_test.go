// Package clients runs Debian's real System V semaphore clients, unmodified,
// under `sembox run` and checks their results: util-linux (ipcmk, ipcs,
// ipcrm), Perl's IPC::Semaphore, python3-sysv-ipc, PHP's sysvsem,
// stress-ng's sem-sysv stressor and apache2 with a sysvsem accept mutex.
//
// Every client runs twice, each time in a fresh IPC namespace:
//
//	unshare --ipc CLIENT...                             # the kernel
//	unshare --ipc sembox run --trace=FILE -- CLIENT...  # sembox
//
// The native run must pass first (otherwise the test or the machine is at
// fault, not sembox); the sembox run must then give the same results, and
// its trace proves the client's calls were served by sembox. A test skips
// only when the Debian package of its client is not installed;
// scripts/setup.sh installs them all.
package clients

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/sembox/sembox/internal/testrun"
)

// env is what TestMain prepared.
var env struct {
	dir       string // 0755 temp dir holding the sembox binary
	sembox    string // built binary
	semboxErr string // why sembox cannot be used ("" if it can)
	skip      string // reason to skip everything ("" = run)
	testdata  string // absolute path of testdata/
}

func TestMain(m *testing.M) {
	code := func() int {
		if err := setup(); err != nil {
			fmt.Fprintf(os.Stderr, "clients setup: %v\n", err)
			return 1
		}
		if env.dir != "" {
			defer os.RemoveAll(env.dir)
		}
		if env.skip != "" {
			fmt.Fprintf(os.Stderr, "clients: skipping: %s\n", env.skip)
		}
		return m.Run()
	}()
	os.Exit(code)
}

func setup() error {
	wd, err := os.Getwd()
	if err != nil {
		return err
	}
	env.testdata = filepath.Join(wd, "testdata")
	root := filepath.Clean(filepath.Join(wd, "..", ".."))
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		return fmt.Errorf("module root not found from %s: %v", wd, err)
	}
	if _, err := exec.LookPath("unshare"); err != nil {
		env.skip = "unshare (util-linux) is not available"
		return nil
	}
	if r := run(10*time.Second, "/", "unshare", "--ipc", "true"); r.Exit != 0 {
		env.skip = "cannot create an IPC namespace (`unshare --ipc true`: " + r.Status() + ", " +
			strings.TrimSpace(r.Stderr) + "); run as root"
		return nil
	}
	dir, err := os.MkdirTemp("", "sembox-clients-")
	if err != nil {
		return err
	}
	env.dir = dir
	if err := os.Chmod(dir, 0o755); err != nil {
		return err
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
	if r := run(10*time.Second, dir, "unshare", "--ipc", env.sembox, "run", "--", "true"); r.Exit != 0 {
		env.semboxErr = fmt.Sprintf("smoke test `unshare --ipc sembox run -- true`: %s\n%s", r.Status(), r.Stderr)
	}
	return nil
}

// need skips the test when one of the Debian packages is not installed,
// and fails it when sembox itself could not be built.
func need(t *testing.T, pkgs ...string) {
	t.Helper()
	if env.skip != "" {
		t.Skip(env.skip)
	}
	for _, p := range pkgs {
		out, _ := exec.Command("dpkg-query", "-W", "-f=${Status}", p).Output()
		if !strings.Contains(string(out), "install ok installed") {
			t.Skipf("Debian package %s is not installed (scripts/setup.sh installs it)", p)
		}
	}
	if env.semboxErr != "" {
		t.Fatalf("sembox is not usable: %s", env.semboxErr)
	}
}

// result of one run.
type result = testrun.Result

// run runs argv in its own process group with a timeout; on timeout the
// group is killed.
func run(timeout time.Duration, dir string, argv ...string) result {
	return testrun.Run(timeout, dir, argv...)
}

// native runs argv in a fresh IPC namespace.
func native(timeout time.Duration, dir string, argv ...string) result {
	return run(timeout, dir, append([]string{"unshare", "--ipc"}, argv...)...)
}

// sandboxed runs argv under `sembox run --trace=traceFile` in a fresh IPC
// namespace (so that a sembox that failed to trap a call could not reach the
// host's sets either).
func sandboxed(timeout time.Duration, dir, traceFile string, argv ...string) result {
	return run(timeout, dir, append([]string{"unshare", "--ipc", env.sembox, "run", "--trace=" + traceFile, "--"}, argv...)...)
}

func describe(label string, r result) string {
	var b strings.Builder
	fmt.Fprintf(&b, "---- %s: %s, %v\n", label, r.Status(), r.Dur.Round(time.Millisecond))
	for _, l := range lines(r.Stdout) {
		b.WriteString("  | " + l + "\n")
	}
	for _, l := range lines(r.Stderr) {
		b.WriteString("  ! " + l + "\n")
	}
	return b.String()
}

func lines(s string) []string {
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// differential runs argv natively, in natDir, then under sembox with a
// trace, in sbDir, each in a fresh IPC namespace. It fails the test unless
// both succeed and print the same lines, and returns both runs and the
// trace file. (Clients whose arguments differ per side use native and
// sandboxed themselves.)
func differential(t *testing.T, timeout time.Duration, natDir, sbDir string, argv ...string) (nat, sb result, trace string) {
	t.Helper()
	trace = filepath.Join(t.TempDir(), "trace")
	nat = native(timeout, natDir, argv...)
	mustNative(t, nat)
	sb = sandboxed(timeout, sbDir, trace, argv...)
	mustSembox(t, sb, nat)
	sameLines(t, "stdout", nat.Stdout, sb.Stdout)
	return nat, sb, trace
}

// mustNative fails the test when the native run failed: then the test or
// the machine is at fault, not sembox.
func mustNative(t *testing.T, r result) {
	t.Helper()
	if !r.OK() {
		t.Fatalf("native run failed (a test or machine problem, not sembox):\n%s", describe("native", r))
	}
	t.Logf("native: %s in %v", r.Status(), r.Dur.Round(time.Millisecond))
}

// mustSembox fails the test when the sembox run failed although the native
// one passed.
func mustSembox(t *testing.T, r result, nat result) {
	t.Helper()
	if !r.OK() {
		t.Fatalf("SEMBOX BUG: the client fails under sembox but passes natively:\n%s\n%s",
			describe("sembox", r), describe("native", nat))
	}
	t.Logf("sembox: %s in %v", r.Status(), r.Dur.Round(time.Millisecond))
}

// sameLines requires identical output lines.
func sameLines(t *testing.T, what string, nat, sb string) {
	t.Helper()
	nl, sl := lines(nat), lines(sb)
	var b strings.Builder
	for i := 0; i < len(nl) || i < len(sl); i++ {
		n, s := "<missing>", "<missing>"
		if i < len(nl) {
			n = nl[i]
		}
		if i < len(sl) {
			s = sl[i]
		}
		if n != s {
			fmt.Fprintf(&b, "  line %d:\n    native: %s\n    sembox: %s\n", i+1, n, s)
		}
	}
	if b.Len() > 0 {
		t.Errorf("SEMBOX BUG: %s differs from the native run:\n%s", what, b.String())
	}
}

// wantLines requires each line to appear in out.
func wantLines(t *testing.T, label, out string, want ...string) {
	t.Helper()
	have := map[string]bool{}
	for _, l := range lines(out) {
		have[strings.TrimRight(l, " ")] = true
	}
	for _, w := range want {
		if !have[w] {
			t.Errorf("%s: missing line %q in:\n%s", label, w, out)
		}
	}
}

// traceStats counts what a --trace file says sembox served.
type traceStats struct {
	calls    map[string]int // completed or parked calls by name (semget, semop, semtimedop, semctl)
	ctl      map[string]int // semctl commands
	timed    int            // semtimedop calls with a timeout (not NULL)
	parked   int            // calls that blocked in the supervisor
	resumed  int            // parked calls answered later
	failed   int            // calls answered with an error
	created  map[string]bool
	rmids    map[string]bool
	pids     map[string]bool
	allLines int
	unknown  int // lines of another format
}

var (
	traceCall    = regexp.MustCompile(`^\[pid (\d+)\] (\w+)\((.*)\)( = (-?\d+).*| <unfinished \.\.\.>)$`)
	traceResumed = regexp.MustCompile(`^\[pid (\d+)\] <\.\.\. (\w+) resumed> = (-?\d+)`)
)

func readTrace(t *testing.T, path string) traceStats {
	t.Helper()
	ts := traceStats{calls: map[string]int{}, ctl: map[string]int{}, created: map[string]bool{},
		rmids: map[string]bool{}, pids: map[string]bool{}}
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("trace: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		l := sc.Text()
		ts.allLines++
		if m := traceResumed.FindStringSubmatch(l); m != nil {
			ts.resumed++
			if strings.HasPrefix(m[3], "-") {
				ts.failed++
			}
			continue
		}
		m := traceCall.FindStringSubmatch(l)
		if m == nil {
			if ts.unknown++; ts.unknown <= 5 {
				t.Logf("trace: line not understood: %q", l)
			}
			continue
		}
		ts.pids[m[1]] = true
		name, args := m[2], strings.Split(m[3], ", ")
		ts.calls[name]++
		if m[5] == "" {
			ts.parked++
		} else if strings.HasPrefix(m[5], "-") {
			ts.failed++
		}
		switch {
		case name == "semtimedop" && !strings.HasSuffix(m[3], ", NULL"):
			ts.timed++
		case name == "semget" && m[5] != "" && !strings.HasPrefix(m[5], "-") &&
			(strings.Contains(m[3], "IPC_CREAT") || len(args) > 0 && args[0] == "0x0"): // key IPC_PRIVATE always creates
			ts.created[m[5]] = true
		case name == "semctl" && len(args) >= 3:
			ts.ctl[args[2]]++
			if args[2] == "IPC_RMID" && m[5] == "0" {
				ts.rmids[args[0]] = true
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("trace: %v", err)
	}
	return ts
}

// semops counts semop and semtimedop calls (glibc's semop() is the
// semtimedop system call on x86_64).
func (ts traceStats) semops() int { return ts.calls["semop"] + ts.calls["semtimedop"] }

func (ts traceStats) String() string {
	return fmt.Sprintf("%d lines from %d pids: semget %d, semop %d, semtimedop %d, semctl %d %v; with a timeout %d, parked %d, resumed %d, errors %d",
		ts.allLines, len(ts.pids), ts.calls["semget"], ts.calls["semop"], ts.calls["semtimedop"], ts.calls["semctl"],
		ts.ctl, ts.timed, ts.parked, ts.resumed, ts.failed)
}

// tempDir is a 0755 temp dir (t.TempDir's parent is 0700, which daemons
// that drop privileges cannot enter).
func tempDir(t *testing.T, pattern string) string {
	t.Helper()
	d, err := os.MkdirTemp("", pattern)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	if err := os.Chmod(d, 0o755); err != nil {
		t.Fatal(err)
	}
	return d
}

// field returns the value after "name=" in a line of key=value pairs.
func field(out, name string) string {
	re := regexp.MustCompile(`(?m)(?:^|\s)` + regexp.QuoteMeta(name) + `=(\S*)`)
	m := re.FindStringSubmatch(out)
	if m == nil {
		return ""
	}
	return m[1]
}
