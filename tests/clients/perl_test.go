package clients

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"
)

// TestPerlIPCSemaphore runs testdata/ipcsem.pl with Perl's core
// IPC::Semaphore and IPC::SysV: setall/getall, op with SEM_UNDO|IPC_NOWAIT
// (EAGAIN on a zero semaphore), stat, GETPID, the exit undo of a child,
// several ops in one call, GETNCNT of a blocked child woken by setval,
// N forked processes incrementing a counter in a file guarded by the
// semaphore (the final count must be exact), and remove (EINVAL after).
func TestPerlIPCSemaphore(t *testing.T) {
	need(t, "perl")
	const n, m = 4, 100
	script := filepath.Join(env.testdata, "ipcsem.pl")
	dir := t.TempDir()
	trace := filepath.Join(dir, "trace")

	nat := native(60*time.Second, dir, "perl", script, fmt.Sprint(n), fmt.Sprint(m), filepath.Join(dir, "counter.native"))
	mustNative(t, nat)
	sb := sandboxed(60*time.Second, dir, trace, "perl", script, fmt.Sprint(n), fmt.Sprint(m), filepath.Join(dir, "counter.sembox"))
	mustSembox(t, sb, nat)
	sameLines(t, "IPC::Semaphore output", nat.Stdout, sb.Stdout)

	wantLines(t, "sembox", sb.Stdout,
		"getall=1,2,3",
		"stat nsems=3 mode=600 uid=0 gid=0 cuid=0 otime=0 ctime_nonzero=1",
		"op_nowait_undo=1",
		"val0=0 pid_is_me=1",
		"op_nowait_on_zero=0 errno_EAGAIN=1",
		"otime_nonzero=1",
		"child_status=0 val1_after_undo=2",
		"multi_op=1 getall=0,1,0",
		"ncnt_waiting=1",
		"waiter_status=0 val2=0",
		fmt.Sprintf("workers_failed=0 counter=%d expected=%d", n*m, n*m),
		"mutex_val=1",
		"remove=1 remove_mutex=1",
		"after_remove defined=0 EINVAL=1")

	ts := readTrace(t, trace)
	t.Logf("trace: %v", ts)
	// Each of the n*m critical sections is one P and one V.
	if ts.semops() < 2*n*m || len(ts.created) != 2 || len(ts.rmids) != 2 || ts.ctl["SETALL"] == 0 || ts.ctl["IPC_STAT"] == 0 {
		t.Errorf("trace does not show the script's calls served by sembox: %v", ts)
	}
}
