package torture

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sembox/sembox/internal/testrun"
)

var (
	longRun = flag.Bool("torture.long", false, "run the long versions of the torture tests")
	strict  = flag.Bool("torture.strict", false,
		"also fail on the known deviations from Linux (see README.md); by default they are logged")
	raceSembox = flag.Bool("torture.race", false, "build sembox with -race (slower; data races end the run)")
)

// env is what TestMain prepared.
type env struct {
	dir    string            // temp dir with the binaries
	sembox string            // the sembox binary
	progs  map[string]string // C program name -> binary
	skip   string            // why everything is skipped ("" = run)
	fatal  string            // why everything fails ("" = fine)
}

var E env

func TestMain(m *testing.M) {
	flag.Parse()
	dir, err := os.MkdirTemp("", "sembox-torture-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Chmod(dir, 0o755)
	E.dir = dir
	prepare()
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func prepare() {
	if os.Geteuid() != 0 {
		E.skip = "torture tests need root (unshare --ipc, /proc/sys/kernel/sem, setuid children)"
		return
	}
	for _, tool := range []string{"gcc", "unshare", "sh"} {
		if _, err := exec.LookPath(tool); err != nil {
			E.skip = tool + " is not installed"
			return
		}
	}
	if out, err := exec.Command("unshare", "--ipc", "true").CombinedOutput(); err != nil {
		E.skip = fmt.Sprintf("unshare --ipc is not permitted here: %v %s", err, out)
		return
	}
	gomod, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil || len(bytes.TrimSpace(gomod)) == 0 {
		E.fatal = fmt.Sprintf("go env GOMOD: %v", err)
		return
	}
	root := filepath.Dir(string(bytes.TrimSpace(gomod)))
	E.sembox = filepath.Join(E.dir, "sembox")
	args := []string{"build", "-o", E.sembox}
	if *raceSembox {
		args = append(args, "-race")
	}
	cmd := exec.Command("go", append(args, "./cmd/sembox")...)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		E.fatal = fmt.Sprintf("go build ./cmd/sembox: %v\n%s", err, out)
		return
	}
	srcs, _ := filepath.Glob("c/*.c")
	E.progs = map[string]string{}
	var errs []string
	for _, src := range srcs {
		name := strings.TrimSuffix(filepath.Base(src), ".c")
		bin := filepath.Join(E.dir, name)
		out, err := exec.Command("gcc", "-O2", "-Wall", "-Werror", "-pthread", "-o", bin, src).CombinedOutput()
		if err != nil {
			errs = append(errs, fmt.Sprintf("%s: %v\n%s", src, err, out))
			continue
		}
		E.progs[name] = bin
	}
	if len(errs) > 0 {
		E.fatal = "compiling the C programs:\n" + strings.Join(errs, "\n")
	}
}

func need(t *testing.T) {
	t.Helper()
	if E.skip != "" {
		t.Skip(E.skip)
	}
	if E.fatal != "" {
		t.Fatal(E.fatal)
	}
}

func prog(t *testing.T, name string) string {
	t.Helper()
	p, ok := E.progs[name]
	if !ok {
		t.Fatalf("no program c/%s.c", name)
	}
	return p
}

// pick returns short or long according to -torture.long.
func pick[T any](short, long T) T {
	if *longRun {
		return long
	}
	return short
}

// result of one run.
type result = testrun.Result

// status is r.Status() in the words the torture tests have always used
// for a signal.
func status(r result) string {
	if !r.TimedOut && r.Err == nil && r.Signal != "" {
		return "terminated by signal: " + r.Signal
	}
	return r.Status()
}

// run runs argv in its own process group with a timeout, after which the
// whole group is killed; stragglers of the group are killed in any case.
func run(timeout time.Duration, argv ...string) result {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := testrun.Command(ctx, E.dir, argv...)
	cmd.WaitDelay = 5 * time.Second
	return testrun.RunCmd(ctx, cmd)
}

// native runs PROG ARGS in a fresh IPC namespace.
func native(timeout time.Duration, p string, args ...string) result {
	return run(timeout, append([]string{"unshare", "--ipc", p}, args...)...)
}

// sandboxed runs PROG ARGS under sembox run, in a fresh IPC namespace.
func sandboxed(timeout time.Duration, flags []string, p string, args ...string) result {
	argv := append([]string{"unshare", "--ipc", E.sembox, "run"}, flags...)
	argv = append(argv, "--", p)
	return run(timeout, append(argv, args...)...)
}

func lines(s string) []string {
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// logRun logs a run's status and its whole stdout (the counts).
func logRun(t *testing.T, label string, r result) {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s in %v\n", label, status(r), r.Dur.Round(time.Millisecond))
	for _, l := range lines(r.Stdout) {
		b.WriteString("    " + l + "\n")
	}
	if r.Stderr != "" {
		b.WriteString("  stderr:\n")
		for i, l := range lines(r.Stderr) {
			if i == 40 {
				b.WriteString("    ...\n")
				break
			}
			b.WriteString("    ! " + l + "\n")
		}
	}
	t.Log(b.String())
}

// checkClean fails the test if the run did not end with status 0, or
// printed an anomaly or a harness failure, or if sembox crashed.
func checkClean(t *testing.T, label string, r result) {
	t.Helper()
	var why []string
	if r.TimedOut || r.Err != nil || r.Signal != "" || r.Exit != 0 {
		why = append(why, status(r))
	}
	n := 0
	for _, l := range lines(r.Stdout) {
		if strings.HasPrefix(l, "ANOMALY:") || strings.HasPrefix(l, "FATAL(") || strings.HasPrefix(l, "WATCHDOG") {
			if n < 30 {
				why = append(why, l)
			}
			n++
		}
	}
	if n > 30 {
		why = append(why, fmt.Sprintf("... %d such lines in all", n))
	}
	for _, bad := range []string{"panic:", "fatal error:", "DATA RACE", "SIGSEGV"} {
		if strings.Contains(r.Stderr, bad) {
			why = append(why, "sembox stderr has "+strconv.Quote(bad))
		}
	}
	if len(why) > 0 {
		t.Errorf("%s (%s): %s", label, strings.Join(r.Argv, " "), strings.Join(why, "\n    "))
	}
}

// kv parses "key=value" tokens. A line whose first field ends in ':'
// prefixes its keys with that field and a dot ("groupA:" -> "groupA.calls").
func kv(out string) map[string]string {
	m := map[string]string{}
	for _, l := range lines(out) {
		f := strings.Fields(l)
		prefix := ""
		if len(f) > 0 && strings.HasSuffix(f[0], ":") && !strings.Contains(f[0], "=") {
			prefix = strings.TrimSuffix(f[0], ":") + "."
		}
		for _, tok := range f {
			if k, v, ok := strings.Cut(tok, "="); ok && k != "" {
				m[prefix+k] = strings.Trim(v, "\"")
			}
		}
	}
	return m
}

func num(t *testing.T, m map[string]string, key string) float64 {
	t.Helper()
	v, ok := m[key]
	if !ok {
		t.Errorf("output has no %s", key)
		return 0
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		t.Errorf("%s=%q is not a number", key, v)
	}
	return f
}

// deviation reports a known difference from Linux: logged, and a failure
// only with -torture.strict. See README.md for each one.
func deviation(t *testing.T, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if *strict {
		t.Errorf("DEVIATION: %s", msg)
	} else {
		t.Logf("DEVIATION (known; fails with -torture.strict): %s", msg)
	}
}

// firstDiff describes the first differing lines of two outputs.
func firstDiff(a, b []string, max int) string {
	var out strings.Builder
	n := len(a)
	if len(b) > n {
		n = len(b)
	}
	shown := 0
	for i := 0; i < n && shown < max; i++ {
		var x, y string
		if i < len(a) {
			x = a[i]
		} else {
			x = "<missing>"
		}
		if i < len(b) {
			y = b[i]
		} else {
			y = "<missing>"
		}
		if x != y {
			fmt.Fprintf(&out, "  line %d:\n    native: %s\n    sembox: %s\n", i+1, x, y)
			shown++
		}
	}
	return out.String()
}

func sortedKeys(m map[string]string) []string {
	k := make([]string, 0, len(m))
	for x := range m {
		k = append(k, x)
	}
	sort.Strings(k)
	return k
}
