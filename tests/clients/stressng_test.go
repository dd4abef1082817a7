package clients

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// stressFailures returns the lines of stress-ng's output that report a
// failure ("fail" anywhere, except a zero count such as "failed: 0").
func stressFailures(out string) []string {
	var bad []string
	zero := regexp.MustCompile(`(?i)fail\w*:?\s+0\b`)
	for _, l := range lines(out) {
		if strings.Contains(strings.ToLower(l), "fail") && !zero.MatchString(l) {
			bad = append(bad, l)
		}
	}
	return bad
}

var stressOps = regexp.MustCompile(`(?m)\] sem-sysv\s+(\d+)\s`)

// TestStressNGSemSysv runs `stress-ng --sem-sysv 2 --sem-sysv-ops 20000
// --verify`: two stressor instances hammering one set with semop,
// semtimedop, SEM_UNDO, IPC_NOWAIT and a semctl battery
// (IPC_STAT/IPC_SET/GETALL/GETVAL/GETPID/GETNCNT/GETZCNT/IPC_INFO/
// SEM_INFO/SEM_STAT/SEM_STAT_ANY, invalid arguments). stress-ng must exit
// 0, report no failure and complete all 20000 bogo ops.
func TestStressNGSemSysv(t *testing.T) {
	need(t, "stress-ng")
	dir := t.TempDir()
	trace := filepath.Join(dir, "trace")
	argv := []string{"stress-ng", "--sem-sysv", "2", "--sem-sysv-ops", "20000", "--verify",
		"--metrics-brief", "--timeout", "60s", "--temp-path", dir}

	nat := native(90*time.Second, dir, argv...)
	mustNative(t, nat)
	sb := sandboxed(90*time.Second, dir, trace, argv...)
	mustSembox(t, sb, nat)

	for _, r := range []struct {
		label string
		res   result
	}{{"native", nat}, {"sembox", sb}} {
		out := r.res.Stdout + r.res.Stderr
		t.Logf("%s:\n%s", r.label, out)
		if bad := stressFailures(out); len(bad) > 0 {
			t.Errorf("%s: stress-ng reports failures:\n%s", r.label, strings.Join(bad, "\n"))
		}
		if !strings.Contains(out, "successful run completed") {
			t.Errorf("%s: no \"successful run completed\" in stress-ng's output", r.label)
		}
		if m := stressOps.FindStringSubmatch(out); m == nil || m[1] != "20000" {
			t.Errorf("%s: want 20000 sem-sysv bogo ops, got %v", r.label, m)
		}
	}

	ts := readTrace(t, trace)
	t.Logf("trace: %v", ts)
	if ts.semops() < 20000 || ts.ctl["SEM_STAT_ANY"] == 0 || len(ts.created) == 0 || len(ts.rmids) != len(ts.created) {
		t.Errorf("trace does not show stress-ng's calls served by sembox: %v", ts)
	}
}
