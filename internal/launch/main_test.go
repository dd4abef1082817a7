package launch

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// The test binary doubles as the sandbox helper (Start re-executes
// /proc/self/exe) and, for the tests that need a supervisor process of
// their own, as that supervisor: roleEnv selects the role.
const (
	roleEnv  = "SEMBOX_LAUNCH_TEST_ROLE"
	probeEnv = "SEMBOX_LAUNCH_TEST_PROBE"
)

// probePath is the compiled testdata/probe.c, or "" if it could not be
// built (tests that need it are skipped; probeErr says why).
var (
	probePath string
	probeErr  error
)

func TestMain(m *testing.M) {
	if IsHelper() {
		HelperMain()
	}
	if role := os.Getenv(roleEnv); role != "" {
		os.Exit(runRole(role))
	}
	dir, err := os.MkdirTemp("", "sembox-launch-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	probePath, probeErr = buildProbe(dir)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// buildProbe compiles testdata/probe.c into dir.
func buildProbe(dir string) (string, error) {
	cc, err := exec.LookPath("gcc")
	if err != nil {
		if cc, err = exec.LookPath("cc"); err != nil {
			return "", fmt.Errorf("no C compiler: %w", err)
		}
	}
	out := filepath.Join(dir, "probe")
	cmd := exec.Command(cc, "-O2", "-Wall", "-o", out, "testdata/probe.c")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("compiling probe.c: %v\n%s", err, b)
	}
	return out, nil
}

// needProbe returns the probe's path or skips the test.
func needProbe(t testing.TB) string {
	t.Helper()
	if probePath == "" {
		t.Skip(probeErr)
	}
	return probePath
}
