package sem_test

import (
	"fmt"
	"reflect"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/sembox/sembox/abi"
	"github.com/sembox/sembox/sem"
)

// monoClock is a fakeClock that is also a sem.MonoClock the test moves.
type monoClock struct {
	fakeClock
	mono atomic.Int64
}

func (c *monoClock) Monotonic() int64 { return c.mono.Load() }

// TestWaitBuckets checks the histogram's bucket bounds: bucket i holds
// waits of at most 2^i µs.
func TestWaitBuckets(t *testing.T) {
	for _, tc := range []struct {
		ns     uint64
		bucket int
	}{
		{0, 0}, {1, 0}, {1000, 0}, {1001, 1}, {2000, 1}, {2001, 2}, {4000, 2},
		{8000, 3}, {1_000_000, 10}, {1_024_000, 10}, {1_024_001, 11},
		{1000 << 26, 26}, {1000<<26 + 1, 27}, {1 << 62, 27},
	} {
		// One wait of tc.ns: the quantile is the bound of its bucket,
		// capped by the wait itself.
		b := make([]uint64, sem.NumWaitBuckets)
		b[tc.bucket] = 1
		want := tc.ns
		if bound := sem.WaitBucketBound(tc.bucket); bound >= 0 && uint64(bound) < want {
			want = uint64(bound)
		}
		if got := sem.WaitQuantile(b, tc.ns, 0.5); got != want {
			t.Errorf("wait %d ns: quantile %d, want %d", tc.ns, got, want)
		}
	}
	if got := sem.WaitBucketBound(sem.NumWaitBuckets - 1); got != -1 {
		t.Errorf("last bucket bound %d, want -1 (+Inf)", got)
	}
	if got := sem.WaitQuantile(make([]uint64, sem.NumWaitBuckets), 0, 0.99); got != 0 {
		t.Errorf("quantile of no waits: %d", got)
	}
}

// TestStatsScripted runs a scripted workload on a fake clock and checks
// every counter of the snapshot exactly.
func TestStatsScripted(t *testing.T) {
	clk := &monoClock{}
	clk.Set(t0)
	ns := sem.NewNamespace(clk)
	adm := rootTask(1)
	at := func(mono int64) { clk.mono.Store(mono) }
	task := rootTask
	tk10 := task(10)

	a := mustGet(t, ns, adm, 3, 0o600)
	b := mustGet(t, ns, adm, 2, 0o600)
	// A set nobody operates on has no counters.
	idle := mustGet(t, ns, adm, 4, 0o600)

	var rec recorder
	w := map[string]*sem.Waiter{}
	for _, n := range []string{"w1", "w2", "w3", "w4", "w5", "w6", "w7", "zero"} {
		w[n] = rec.waiter(n)
	}
	steps := []struct {
		at     int64
		what   string
		do     func() (blocked bool, err sem.Errno)
		block  bool
		err    sem.Errno
		events string // Done calls it causes
	}{
		{0, "V a0+2", func() (bool, sem.Errno) { return ns.Semtimedop(tk10, a, []abi.Sembuf{sb(0, 2, 0)}, nil, nil) }, false, 0, ""},
		{0, "P a0", func() (bool, sem.Errno) { return ns.Semtimedop(tk10, a, []abi.Sembuf{sb(0, -1, 0)}, nil, nil) }, false, 0, ""},
		{0, "P a0", func() (bool, sem.Errno) { return ns.Semtimedop(tk10, a, []abi.Sembuf{sb(0, -1, 0)}, nil, nil) }, false, 0, ""},
		{0, "P a0 IPC_NOWAIT", func() (bool, sem.Errno) {
			return ns.Semtimedop(tk10, a, []abi.Sembuf{sb(0, -1, nowait)}, nil, w["zero"])
		}, false, sem.EAGAIN, ""},
		{0, "P a0 zero timeout", func() (bool, sem.Errno) {
			return ns.Semtimedop(tk10, a, []abi.Sembuf{sb(0, -1, 0)}, &abi.Timespec{}, w["zero"])
		}, false, sem.EAGAIN, ""},
		{0, "EFBIG is not counted", func() (bool, sem.Errno) {
			return ns.Semtimedop(tk10, a, []abi.Sembuf{sb(3, -1, 0)}, nil, nil)
		}, false, sem.EFBIG, ""},
		{1000, "w1 P a0", func() (bool, sem.Errno) { return ns.Semtimedop(task(11), a, []abi.Sembuf{sb(0, -1, 0)}, nil, w["w1"]) }, true, 0, ""},
		{2000, "w2 P a0", func() (bool, sem.Errno) { return ns.Semtimedop(task(12), a, []abi.Sembuf{sb(0, -1, 0)}, nil, w["w2"]) }, true, 0, ""},
		{5000, "V a0 wakes w1", func() (bool, sem.Errno) { return ns.Semtimedop(tk10, a, []abi.Sembuf{sb(0, 1, 0)}, nil, nil) }, false, 0, "w1"},
		{10000, "w2 interrupted", func() (bool, sem.Errno) { return false, cancel(ns, w["w2"], sem.EINTR) }, false, 0, ""},
		{10000, "SETVAL a1=1", func() (bool, sem.Errno) { return false, ns.SetVal(adm, a, 1, 1) }, false, 0, ""},
		{20000, "w3 Z a1", func() (bool, sem.Errno) { return ns.Semtimedop(task(13), a, []abi.Sembuf{sb(1, 0, 0)}, nil, w["w3"]) }, true, 0, ""},
		{20000, "w4 P a2", func() (bool, sem.Errno) {
			return ns.Semtimedop(task(14), a, []abi.Sembuf{sb(2, -1, 0)}, &abi.Timespec{Sec: 1}, w["w4"])
		}, true, 0, ""},
		{1_020_000, "w4 times out", func() (bool, sem.Errno) { return false, cancel(ns, w["w4"], sem.EAGAIN) }, false, 0, ""},
		{1_030_000, "w5 a2+1 a0-1", func() (bool, sem.Errno) {
			return ns.Semtimedop(task(15), a, []abi.Sembuf{sb(2, 1, 0), sb(0, -1, 0)}, nil, w["w5"])
		}, true, 0, ""},
		{1_040_000, "w6 a0-1 a1+32767", func() (bool, sem.Errno) {
			return ns.Semtimedop(task(16), a, []abi.Sembuf{sb(0, -1, 0), sb(1, 32767, 0)}, nil, w["w6"])
		}, true, 0, ""},
		{1_050_000, "V a0+2: w5 done, w6 ERANGE", func() (bool, sem.Errno) {
			return ns.Semtimedop(tk10, a, []abi.Sembuf{sb(0, 2, 0)}, nil, nil)
		}, false, 0, "w5 w6:ERANGE"},
		{3_000_000, "w7 P b1", func() (bool, sem.Errno) { return ns.Semtimedop(task(20), b, []abi.Sembuf{sb(1, -1, 0)}, nil, w["w7"]) }, true, 0, ""},
		{3_000_000, "V b0", func() (bool, sem.Errno) { return ns.Semtimedop(tk10, b, []abi.Sembuf{sb(0, 1, 0)}, nil, nil) }, false, 0, ""},
	}
	for i, st := range steps {
		at(st.at)
		blocked, err := st.do()
		if blocked != st.block || err != st.err {
			t.Fatalf("step %d (%s): blocked %v, %s; want %v, %s", i, st.what, blocked, errName(err), st.block, errName(st.err))
		}
		if got := rec.take(); got != st.events {
			t.Fatalf("step %d (%s): woke %q, want %q", i, st.what, got, st.events)
		}
	}

	at(2_000_000 + 1_500_000)
	got := ns.Stats()
	want := sem.Stats{
		Now: 3_500_000,
		Sets: []sem.SetStats{
			{
				ID: a, Key: abi.IPC_PRIVATE, Nsems: 3,
				Calls: 13, Immediate: 5, Failed: 2, Blocked: 6, Performed: 7, Ops: 8,
				Ends:    sem.Ends{Completed: 2, EINTR: 1, EAGAIN: 1, Other: 1},
				WaitSum: 4000 + 8000 + 1_000_000 + 20_000 + 10_000, WaitMax: 1_000_000,
				WaitBuckets: buckets(map[int]uint64{2: 1, 3: 1, 4: 1, 5: 1, 10: 1}),
				Waiters:     []sem.WaiterStats{{PID: 13, Sem: 1, Op: 0, Nsops: 1, Since: 20000}},
				Sems: []sem.SemStats{
					{Num: 0, Ops: 7, Blocked: 4, Ends: sem.Ends{Completed: 2, EINTR: 1, Other: 1},
						WaitSum: 4000 + 8000 + 20_000 + 10_000, WaitMax: 20_000, Pids: []int32{}},
					{Num: 2, Ops: 1, Blocked: 1, Ends: sem.Ends{EAGAIN: 1}, WaitSum: 1_000_000, WaitMax: 1_000_000, Pids: []int32{}},
					{Num: 1, Blocked: 1, Zcnt: 1, Pids: []int32{13}},
				},
			},
			{
				ID: b, Key: abi.IPC_PRIVATE, Nsems: 2,
				Calls: 2, Immediate: 1, Blocked: 1, Performed: 1, Ops: 1,
				WaitBuckets: buckets(nil),
				Waiters:     []sem.WaiterStats{{PID: 20, Sem: 1, Op: -1, Nsops: 1, Since: 3_000_000}},
				Sems: []sem.SemStats{
					{Num: 0, Ops: 1, Pids: []int32{}},
					{Num: 1, Blocked: 1, Ncnt: 1, Pids: []int32{20}},
				},
			},
			{ID: idle, Key: abi.IPC_PRIVATE, Nsems: 4, WaitBuckets: buckets(nil), Waiters: []sem.WaiterStats{}, Sems: []sem.SemStats{}},
		},
		Removed: sem.SetStats{ID: -1, WaitBuckets: buckets(nil), Waiters: []sem.WaiterStats{}, Sems: []sem.SemStats{}},
	}
	checkStats(t, "before IPC_RMID", got, want)
	if c := counts(t, ns, a); c != "0/0 0/1 0/0" {
		t.Errorf("GETNCNT/GETZCNT of a: %s, want 0/0 0/1 0/0", c)
	}
	if sa := got.Sets[0]; sem.WaitQuantile(sa.WaitBuckets, sa.WaitMax, 0.5) != 16_000 ||
		sem.WaitQuantile(sa.WaitBuckets, sa.WaitMax, 0.99) != 1_000_000 {
		t.Errorf("p50/p99 of a: %d/%d, want 16000/1000000",
			sem.WaitQuantile(sa.WaitBuckets, sa.WaitMax, 0.5), sem.WaitQuantile(sa.WaitBuckets, sa.WaitMax, 0.99))
	}

	// IPC_RMID of b ends w7 with EIDRM: the removed totals keep it.
	if err := ns.Remove(adm, b); err != 0 {
		t.Fatal(err)
	}
	if got := rec.take(); got != "w7:EIDRM" {
		t.Fatalf("IPC_RMID woke %q", got)
	}
	got = ns.Stats()
	want.Sets = []sem.SetStats{want.Sets[0], want.Sets[2]}
	want.RemovedSets = 1
	want.Removed = sem.SetStats{ID: -1, Calls: 2, Immediate: 1, Blocked: 1, Performed: 1, Ops: 1,
		Ends: sem.Ends{EIDRM: 1}, WaitSum: 500_000, WaitMax: 500_000, WaitBuckets: buckets(map[int]uint64{9: 1}),
		Waiters: []sem.WaiterStats{}, Sems: []sem.SemStats{}}
	checkStats(t, "after IPC_RMID", got, want)

	tot := got.Total()
	if tot.Calls != 15 || tot.Blocked != 7 || tot.Ends != (sem.Ends{Completed: 2, EINTR: 1, EAGAIN: 1, EIDRM: 1, Other: 1}) ||
		tot.WaitSum != 1_042_000+500_000 || tot.WaitMax != 1_000_000 || tot.Ops != 9 {
		t.Errorf("Total() = %+v", tot)
	}
	if !reflect.DeepEqual(got.Removed.WaitBuckets, buckets(map[int]uint64{9: 1})) {
		t.Errorf("Total() changed Removed's buckets")
	}
}

// cancel ends w's wait with err and fails the test's step (EINVAL) if it
// had already ended.
func cancel(ns *sem.Namespace, w *sem.Waiter, err sem.Errno) sem.Errno {
	if !ns.Cancel(w, err) {
		return sem.EINVAL
	}
	return 0
}

func buckets(m map[int]uint64) []uint64 {
	b := make([]uint64, sem.NumWaitBuckets)
	for i, n := range m {
		b[i] = n
	}
	return b
}

func checkStats(t *testing.T, when string, got, want sem.Stats) {
	t.Helper()
	if reflect.DeepEqual(got, want) {
		return
	}
	t.Errorf("%s: Now %d, want %d; removed sets %d, want %d", when, got.Now, want.Now, got.RemovedSets, want.RemovedSets)
	if !reflect.DeepEqual(got.Removed, want.Removed) {
		t.Errorf("%s: Removed\n got  %+v\n want %+v", when, got.Removed, want.Removed)
	}
	if len(got.Sets) != len(want.Sets) {
		t.Fatalf("%s: %d sets, want %d", when, len(got.Sets), len(want.Sets))
	}
	for i := range got.Sets {
		if !reflect.DeepEqual(got.Sets[i], want.Sets[i]) {
			t.Errorf("%s: set %d\n got  %+v\n want %+v", when, i, got.Sets[i], want.Sets[i])
		}
	}
}

// TestStatsCommitAndDeadWaiters counts the ends that Commit and Alive
// decide: a queued call whose Commit refuses ends with EINTR and performs
// nothing; a dead caller's wait ends with EINTR; a call whose own Commit
// refuses fails at once.
func TestStatsCommitAndDeadWaiters(t *testing.T) {
	clk := &monoClock{}
	clk.Set(t0)
	ns := sem.NewNamespace(clk)
	tk := rootTask(1)
	id := mustGet(t, ns, tk, 2, 0o600)
	refuse := func(*sem.Waiter) bool { return false }
	clk.mono.Store(100)
	wc := &sem.Waiter{Done: func(*sem.Waiter) {}, Commit: refuse}
	block(t, ns, tk, id, wc, sb(0, -1, 0))
	wd := &sem.Waiter{Done: func(*sem.Waiter) {}, Alive: func(*sem.Waiter) bool { return false }}
	block(t, ns, tk, id, wd, sb(1, -1, 0))
	clk.mono.Store(300)
	mustOp(t, ns, tk, id, sb(0, 1, 0), sb(1, 1, 0)) // wc refused, wd dead
	if wc.Err != sem.EINTR || wd.Err != sem.EINTR {
		t.Fatalf("ends %v %v, want EINTR EINTR", wc.Err, wd.Err)
	}
	own := &sem.Waiter{Commit: refuse}
	if blocked, err := ns.Semtimedop(tk, id, []abi.Sembuf{sb(0, -1, 0)}, nil, own); blocked || err != sem.EINTR {
		t.Fatalf("own refused commit: %v %v", blocked, err)
	}
	s := ns.Stats().Sets[0]
	if s.Calls != 4 || s.Immediate != 1 || s.Failed != 1 || s.Blocked != 2 || s.Ends != (sem.Ends{EINTR: 2}) ||
		s.WaitSum != 400 || s.Ops != 2 || s.Performed != 1 {
		t.Errorf("stats %+v", s)
	}
}

// BenchmarkMemoryPerSemaphoreStats reports the heap cost per semaphore
// of the statistics, for 1000 sets of 1000 semaphores: idle (no semop:
// no counters), after one semop on each set (operation counters), and
// after a wait on each set too (wait counters).
func BenchmarkMemoryPerSemaphoreStats(b *testing.B) {
	for _, use := range []string{"idle", "semop", "blocked"} {
		b.Run(use, func(b *testing.B) {
			var perSem float64
			for b.Loop() {
				before := heapInUse()
				ns := sem.NewNamespace(nil)
				buildMillion(b, ns)
				tk := rootTask(1)
				w := &sem.Waiter{}
				for _, si := range ns.Snapshot(false) {
					if use != "idle" {
						mustOp(b, ns, tk, si.ID, sb(0, 1, 0))
					}
					if use == "blocked" {
						block(b, ns, tk, si.ID, w, sb(1, -1, 0))
						ns.Cancel(w, sem.EINTR)
					}
				}
				after := heapInUse()
				runtime.KeepAlive(ns)
				perSem = float64(after-before) / 1e6
			}
			b.ReportMetric(perSem, "B/sem")
		})
	}
}

func Example_stats() {
	ns := sem.NewNamespace(nil)
	tk := &sem.Task{PID: 1, Cred: &sem.Cred{}}
	id, _ := ns.Semget(tk, abi.IPC_PRIVATE, 1, 0o600)
	ns.Semtimedop(tk, id, []abi.Sembuf{{SemNum: 0, SemOp: 1}}, nil, nil)
	s := ns.Stats().Sets[0]
	fmt.Println(s.Calls, s.Immediate, s.Sems[0].Ops)
	// Output: 1 1 1
}
