package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sembox/sembox/internal/testrun"
)

// Timeouts. The C programs have their own watchdog (WATCHDOG_SECONDS in
// c/common.h, 25 s) that prints "WATCHDOG" and exits 99; runTimeout is the
// last resort for a run whose process tree does not end by itself.
const (
	runTimeout   = 30 * time.Second
	smokeTimeout = 10 * time.Second
)

// env is what TestMain prepared.
type env struct {
	dir        string // 0755 temp dir holding the binaries (nobody can use them)
	root       string // module root
	sembox     string // path of the built sembox binary
	semboxErr  string // why sembox cannot be used ("" if it can)
	progs      map[string]string
	compileErr map[string]string
	skip       string // reason to skip everything ("" = run)
}

var E env

// result of one run.
type result = testrun.Result

// run runs argv in its own process group with a timeout; on timeout the
// whole group is killed.
func run(timeout time.Duration, dir string, argv ...string) result {
	return testrun.Run(timeout, dir, argv...)
}

func needEnv(t *testing.T) {
	t.Helper()
	if E.skip != "" {
		t.Skip(E.skip)
	}
}

func needSembox(t *testing.T) {
	t.Helper()
	needEnv(t)
	if E.semboxErr != "" {
		t.Fatalf("sembox is not usable: %s", E.semboxErr)
	}
}

func prog(t *testing.T, name string) string {
	t.Helper()
	if msg, ok := E.compileErr[name]; ok {
		t.Fatalf("c/%s.c did not compile:\n%s", name, msg)
	}
	p, ok := E.progs[name]
	if !ok {
		t.Fatalf("no program c/%s.c", name)
	}
	return p
}

func lines(s string) []string {
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// badMarkers are printed by the C helpers when the program itself went wrong.
var badMarkers = []string{"FATAL(", "WATCHDOG", "SETTLE TIMEOUT"}

func describe(label string, argv []string, r result) string {
	var b strings.Builder
	fmt.Fprintf(&b, "---- %s: %s\n", label, strings.Join(argv, " "))
	fmt.Fprintf(&b, "     status: %s, %v\n", r.Status(), r.Dur.Round(time.Millisecond))
	b.WriteString("     stdout:\n")
	for _, l := range lines(r.Stdout) {
		b.WriteString("       | " + l + "\n")
	}
	if r.Stderr != "" {
		b.WriteString("     stderr:\n")
		for _, l := range lines(r.Stderr) {
			b.WriteString("       ! " + l + "\n")
		}
	}
	return b.String()
}

// lineDiff lists the lines that differ, side by side.
func lineDiff(want, got []string) string {
	var b strings.Builder
	n := len(want)
	if len(got) > n {
		n = len(got)
	}
	for i := 0; i < n; i++ {
		var w, g string
		wok, gok := i < len(want), i < len(got)
		if wok {
			w = want[i]
		}
		if gok {
			g = got[i]
		}
		if wok && gok && w == g {
			continue
		}
		if !wok {
			w = "<missing>"
		}
		if !gok {
			g = "<missing>"
		}
		fmt.Fprintf(&b, "  line %d:\n    native: %s\n    sembox: %s\n", i+1, w, g)
	}
	return b.String()
}

// differential runs nativeArgv and semboxArgv and requires identical stdout
// lines and exit status. The native run must itself be clean.
func differential(t *testing.T, nativeArgv, semboxArgv []string) {
	t.Helper()
	nat := run(runTimeout, E.dir, nativeArgv...)
	natDesc := describe("native", nativeArgv, nat)
	if nat.Exit != 0 || nat.TimedOut || nat.Err != nil {
		t.Fatalf("native run failed (test or environment problem, not sembox):\n%s", natDesc)
	}
	for _, m := range badMarkers {
		if strings.Contains(nat.Stdout, m) {
			t.Fatalf("native run reported %q (test problem, not sembox):\n%s", m, natDesc)
		}
	}
	t.Logf("native ok (%v, %d lines)", nat.Dur.Round(time.Millisecond), len(lines(nat.Stdout)))
	needSembox(t)

	sb := run(runTimeout, E.dir, semboxArgv...)
	sbDesc := describe("sembox", semboxArgv, sb)
	nl, sl := lines(nat.Stdout), lines(sb.Stdout)
	same := len(nl) == len(sl)
	for i := 0; same && i < len(nl); i++ {
		same = nl[i] == sl[i]
	}
	statusSame := sb.Exit == nat.Exit && sb.Signal == nat.Signal && !sb.TimedOut && sb.Err == nil
	if !same || !statusSame {
		var why []string
		if !same {
			why = append(why, "stdout differs")
		}
		if !statusSame {
			why = append(why, fmt.Sprintf("status differs (native %s, sembox %s)", nat.Status(), sb.Status()))
		}
		t.Errorf("MISMATCH: %s\ndiff:\n%s\n%s\n%s", strings.Join(why, "; "), lineDiff(nl, sl), natDesc, sbDesc)
		return
	}
	if sb.Stderr != "" {
		t.Logf("sembox stderr (ignored):\n%s", sb.Stderr)
	}
	t.Logf("sembox ok (%v)", sb.Dur.Round(time.Millisecond))
}

// diffProg is the common case: PROG natively vs under sembox, each in a
// fresh IPC namespace.
func diffProg(t *testing.T, name string) {
	t.Helper()
	needEnv(t)
	p := prog(t, name)
	differential(t,
		[]string{"unshare", "--ipc", p},
		[]string{"unshare", "--ipc", E.sembox, "run", "--", p})
}

func mkdir0755(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return os.Chmod(dir, 0o755)
}

func cFiles(dir string) ([]string, error) {
	return filepath.Glob(filepath.Join(dir, "*.c"))
}
