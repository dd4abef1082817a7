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

// runUnderSembox runs script through the C executor inside `sembox run`,
// itself in a fresh IPC namespace so the host's is never touched.
func runUnderSembox(t testing.TB, script string) string {
	t.Helper()
	out, _, err := runExecutor(script, sembox(t), "run", "--", native(t))
	if err != nil {
		t.Fatalf("sembox run: %v\nscript:\n%s", err, script)
	}
	return out
}

// TestUnderSembox is the end-to-end differential test: random scripts run
// by the same C executor, making raw system calls, once natively and
// once under `sembox run`, outputs compared line by line (raw ids
// included).
func TestUnderSembox(t *testing.T) {
	native(t)
	sembox(t)
	for i := range *flagSemboxSeeds {
		seed := *flagSeed + uint64(i)
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			t.Parallel()
			script := Generate(seed, *flagCalls)
			nat, err := RunNative(native(t), script)
			if err != nil {
				t.Fatalf("%v\nscript:\n%s", err, script)
			}
			got := runUnderSembox(t, script)
			if m := Compare(nat, got); m != nil {
				t.Fatalf("sembox differs from the kernel:\n%s\nscript:\n%s", m.ReportAs(nat, "sembox", 3), script)
			}
		})
	}
}
