package semscript

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestMinimizeMulti checks that a multi-process script shrinks to the
// steps a failure needs, with its semget references renumbered.
func TestMinimizeMulti(t *testing.T) {
	s, err := ParseMulti(`
sync state
p 0 semget IPC_PRIVATE 1 IPC_CREAT|0600
p 1 semget IPC_PRIVATE 2 IPC_CREAT|0600
p 2 semop $1 0:-1:0 now
p 0 semctl $-1 0 GETNCNT
signal 2
exit 0
p 3 semctl $0 0 GETVAL
`)
	if err != nil {
		t.Fatal(err)
	}
	// "Fails" while a GETNCNT of the second set and a signal to 2 remain.
	got := MinimizeMulti(s, func(x *MultiScript) bool {
		text := x.Text()
		return strings.Contains(text, "GETNCNT") && strings.Contains(text, "signal 2")
	})
	want := "p 1 semget IPC_PRIVATE 2 IPC_CREAT|0600\np 0 semctl $0 0 GETNCNT\nsignal 2\n"
	if got.Text() != want {
		t.Fatalf("minimised to\n%s\nwant\n%s", got.Text(), want)
	}
	if got.Steps[1].Call.ID.Semget != 0 {
		t.Fatalf("reference not renumbered: %+v", got.Steps[1].Call.ID)
	}
}

// TestCheckerFindsAndMinimizes runs a Checker against a wrapper that runs
// the executor natively and corrupts one field of IPC_INFO and SEM_INFO:
// the difference must be found, shrunk to one such call and reported
// with its first differing line. A faithful wrapper must match.
func TestCheckerFindsAndMinimizes(t *testing.T) {
	ex := Executors{Single: native(t), Multi: multiNative(t)}
	script := `semget IPC_PRIVATE 2 0600
semop $0 0:1:SEM_UNDO
semctl $0 0 GETALL
semctl 0 0 IPC_INFO
semctl $0 1 SETVAL 7
semctl 0 0 SEM_INFO
semctl $0 0 GETALL
`
	c := &Checker{Exec: ex, Wrap: []string{"sh", "-c", `"$@" | sed s/semmni=32000/semmni=1/`, "sh"}, Minimize: true}
	r, err := c.RunScript(Single, script)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Differs() || r.Diff == nil || r.Diff.Line != 3 {
		t.Fatalf("difference %+v, want one at output line 4", r.Diff)
	}
	if r.Min == nil || r.Min.Script != "semctl 0 0 IPC_INFO\n" && r.Min.Script != "semctl 0 0 SEM_INFO\n" {
		t.Fatalf("minimal script %+v", r.Min)
	}
	rep := r.Report("wrapper")
	for _, want := range []string{"differs from the kernel at output line 1", "minimal script (1 of 7 calls",
		"kernel output:", "wrapper output:", "semmni=1 ", "first difference:", "   kernel    1 - semctl 0 0 "} {
		if !strings.Contains(rep, want) {
			t.Errorf("report lacks %q:\n%s", want, rep)
		}
	}

	// The same executor behind a wrapper that changes nothing, for
	// both kinds of script; "env" is a prefix that just runs it.
	c = &Checker{Exec: ex, Wrap: []string{"env"}, Minimize: true, KernelTwice: true, MultiCalls: 30, Calls: 50}
	for _, mode := range []Mode{Single, Multi} {
		r, err := c.Run(mode, 3)
		if err != nil {
			t.Fatal(err)
		}
		if r.Differs() || r.Unstable != nil {
			t.Fatalf("%v: a transparent wrapper differs:\n%s", mode, r.Report("env"))
		}
	}
}

// TestCachedExecutors compiles the executors into a cache directory once
// and finds them there the second time.
func TestCachedExecutors(t *testing.T) {
	native(t) // skips without gcc or root, as the other executor tests
	dir := t.TempDir()
	e, err := CachedExecutors(dir, "gcc")
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Dir(e.Single) != filepath.Join(dir, ExecutorsKey("gcc")) || filepath.Dir(e.Multi) != filepath.Dir(e.Single) {
		t.Fatalf("executors at %+v", e)
	}
	fi, err := os.Stat(e.Multi)
	if err != nil {
		t.Fatal(err)
	}
	again, err := CachedExecutors(dir, "gcc")
	if err != nil || again != e {
		t.Fatalf("second lookup %+v, %v", again, err)
	}
	if fi2, _ := os.Stat(e.Multi); !fi2.ModTime().Equal(fi.ModTime()) {
		t.Fatal("compiled again")
	}
	if ExecutorsKey("gcc") == ExecutorsKey("clang") {
		t.Fatal("the key ignores the compiler")
	}
	left, _ := filepath.Glob(filepath.Join(dir, "tmp-*"))
	if len(left) != 0 {
		t.Fatalf("temporary directories left: %v", left)
	}
}

func TestMaskIDs(t *testing.T) {
	a := MaskIDs("semget IPC_PRIVATE 1 0600 → 0 OK\nsemget 5 1 0600 → 32768 OK\nsemctl 0 0 SEM_STAT → 32768 OK key=5\n" +
		"semget 6 1 0 → -1 ENOENT\nsemctl $0 0 GETVAL → 0 OK\np 1 semget 7 1 0600 → 0 OK\ncycle 3 → 65537 OK\n")
	b := MaskIDs("semget IPC_PRIVATE 1 0600 → 1 OK\nsemget 5 1 0600 → 2 OK\nsemctl 0 0 SEM_STAT → 2 OK key=5\n" +
		"semget 6 1 0 → -1 ENOENT\nsemctl $0 0 GETVAL → 0 OK\np 1 semget 7 1 0600 → 1 OK\ncycle 3 → 9 OK\n")
	if a != b {
		t.Fatalf("masked outputs differ:\n%s\n%s", a, b)
	}
	if !strings.Contains(a, "semget 5 1 0600 → id#1 OK\n") || !strings.Contains(a, "GETVAL → 0 OK") {
		t.Fatalf("masked:\n%s", a)
	}
	if MaskIDs("semget 1 1 0600 → 0 OK\nsemget 2 1 0600 → 1 OK\n") == MaskIDs("semget 1 1 0600 → 3 OK\nsemget 2 1 0600 → 3 OK\n") {
		t.Fatal("two sets with one id compare equal to two ids")
	}
}
