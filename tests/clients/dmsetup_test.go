package clients

import (
	"path/filepath"
	"testing"
	"time"
)

// TestDmsetupUdevCookies runs testdata/dmsetup.sh: device-mapper's udev
// cookies are SysV semaphores, and `dmsetup udevcookies` finds them by
// SEM_STAT over every index (then GETVAL), `udevcomplete_all AGE` removes
// those not changed for AGE minutes by their times. Perl makes the cookies
// (SETVAL, one semop), ipcs shows what is left.
func TestDmsetupUdevCookies(t *testing.T) {
	need(t, "dmsetup", "util-linux", "perl")
	dir := t.TempDir()
	_, sb, trace := differential(t, 30*time.Second, dir, dir, "sh", filepath.Join(env.testdata, "dmsetup.sh"))

	wantLines(t, "sembox", sb.Stdout,
		"0xd4d0001 0 2 otime=0 ctime=set",
		"0xd4d0002 1 3 otime=set ctime=set",
		"0xd4d0003 2 0 otime=0 ctime=set",
		"0 semaphores with keys prefixed by 3405 (0xd4d) destroyed. 3 skipped.",
		"3 semaphores with keys prefixed by 3405 (0xd4d) destroyed. 0 skipped.",
		"0x00012345 3 600 1")

	ts := readTrace(t, trace)
	t.Logf("trace: %v", ts)
	if ts.ctl["SEM_STAT"] < 6 || ts.ctl["GETVAL"] < 3 || len(ts.created) != 4 || len(ts.rmids) != 3 {
		t.Errorf("trace does not show dmsetup's calls served by sembox: %v", ts)
	}
}
