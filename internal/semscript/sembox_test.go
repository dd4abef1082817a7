package semscript

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

var flagSemboxSeeds = flag.Int("semscript.sembox-seeds", 100,
	"number of random scripts run natively and under `sembox run` and compared")

var (
	semboxOnce sync.Once
	semboxBin  string
	semboxErr  error
)

// sembox builds the sembox command once.
func sembox(t testing.TB) string {
	t.Helper()
	semboxOnce.Do(func() {
		dir, err := os.MkdirTemp("", "semscript-sembox")
		if err != nil {
			semboxErr = err
			return
		}
		semboxBin = filepath.Join(dir, "sembox")
		out, err := exec.Command("go", "build", "-o", semboxBin, "../../cmd/sembox").CombinedOutput()
		if err != nil {
			semboxErr = fmt.Errorf("go build sembox: %v\n%s", err, out)
		}
	})
	if semboxErr != nil {
		t.Fatal(semboxErr)
	}
	return semboxBin
}

// semboxChecker compares the kernel with `sembox run`, itself in a fresh
// IPC namespace so the host's is never touched. mode's executor is built.
func semboxChecker(t testing.TB, mode Mode) *Checker {
	t.Helper()
	c := &Checker{
		Wrap:        []string{sembox(t), "run", "--"},
		Calls:       *flagCalls,
		MultiCalls:  *flagMultiCalls,
		Minimize:    *flagMinimize,
		KernelTwice: true,
	}
	if mode == Multi {
		c.Exec.Multi = multiNative(t)
	} else {
		c.Exec.Single = native(t)
	}
	return c
}

// TestUnderSembox is the end-to-end differential test: random scripts run
// by the same C executor, making raw system calls, once natively and
// once under `sembox run`, outputs compared line by line (raw ids
// included).
func TestUnderSembox(t *testing.T) {
	c := semboxChecker(t, Single)
	for i := range *flagSemboxSeeds {
		seed := *flagSeed + uint64(i)
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			t.Parallel()
			r, err := c.Run(Single, seed)
			if err != nil {
				t.Fatalf("%v\nscript:\n%s", err, c.Generate(Single, seed))
			}
			if r.Differs() {
				t.Fatal(r.Report("sembox"))
			}
		})
	}
}
