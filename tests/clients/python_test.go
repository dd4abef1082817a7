package clients

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"
)

// Debian's module is for Debian's interpreter (a python3 earlier in PATH,
// e.g. pyenv's, does not see it).
const debianPython = "/usr/bin/python3"

// TestPythonSysvIPC runs testdata/sysvipc.py with python3-sysv-ipc:
// IPC_CREX and ExistentialError, acquire/release, acquire(0) and block=False
// (BusyError at once), a timed acquire (semtimedop) on a taken semaphore
// that raises BusyError after about the timeout, one woken by a release,
// waiting_for_nonzero, release/acquire by 5, Z() with a timeout, value,
// undo (a child's exit gives the semaphore back only with undo), several
// processes contending on a counter, and removal.
func TestPythonSysvIPC(t *testing.T) {
	need(t, "python3-sysv-ipc")
	const n, m = 4, 100
	script := filepath.Join(env.testdata, "sysvipc.py")
	dir := t.TempDir()
	trace := filepath.Join(dir, "trace")

	nat := native(60*time.Second, dir, debianPython, script, fmt.Sprint(n), fmt.Sprint(m), filepath.Join(dir, "counter.native"))
	mustNative(t, nat)
	sb := sandboxed(60*time.Second, dir, trace, debianPython, script, fmt.Sprint(n), fmt.Sprint(m), filepath.Join(dir, "counter.sembox"))
	mustSembox(t, sb, nat)
	sameLines(t, "sysv_ipc output", nat.Stdout, sb.Stdout)
	t.Logf("native timings:\n%s", nat.Stderr)
	t.Logf("sembox timings:\n%s", sb.Stderr)

	wantLines(t, "sembox", sb.Stdout,
		"created key_nonzero=1 id_valid=1 value=1 mode=600 o_time=0",
		"crex_existing_raises_ExistentialError=1",
		"open_existing_same_id=1",
		"open_missing_raises_ExistentialError=1",
		"acquired value=0 last_pid_is_me=1 o_time_set=1",
		"nowait_timeout0_raises_BusyError=1",
		"block_false_raises_BusyError=1",
		"timed_acquire_raises_BusyError=1 elapsed_ok=1",
		"timed_acquire_woken ok=1 value=0",
		"waiting_for_nonzero=1",
		"waiter_exit=0 value=0",
		"after_release5 value=5",
		"Z_timeout_raises_BusyError=1",
		"after_acquire5 value=0",
		"Z_on_zero ok value=0",
		"set value=2",
		"undo=False child_exit=0 value_after_exit=0",
		"undo=True child_exit=0 value_after_exit=1",
		fmt.Sprintf("counter workers_failed=0 value=%d expected=%d mutex=1", n*m, n*m),
		"after_remove value_raises_ExistentialError=1",
		"after_remove open_raises_ExistentialError=1",
		"remove_twice_raises_ExistentialError=1",
		"remove_semaphore ok")

	// The timed acquire really waited about the timeout under sembox.
	re := regexp.MustCompile(`BusyError after ([0-9.]+) s`)
	if mm := re.FindStringSubmatch(sb.Stderr); mm == nil {
		t.Errorf("no timing of the timed acquire in sembox's stderr:\n%s", sb.Stderr)
	} else if el, _ := strconv.ParseFloat(mm[1], 64); el < 0.45 || el > 2.0 {
		t.Errorf("timed acquire(0.5) raised BusyError after %v s under sembox", el)
	}

	ts := readTrace(t, trace)
	t.Logf("trace: %v", ts)
	// The timed acquires are semtimedop with a timeout (not NULL).
	if ts.calls["semtimedop"] < 2*n*m || ts.timed < 3 || len(ts.created) < 2 || len(ts.rmids) != 2 {
		t.Errorf("trace does not show the script's calls served by sembox: %v", ts)
	}
}
