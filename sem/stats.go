package sem

import (
	"math"
	"math/bits"
	"slices"
	"time"

	"github.com/sembox/sembox/abi"
)

// Statistics: what the semop calls of each set did since it was created,
// for `sembox stat` and `sembox run --metrics`. The kernel keeps nothing
// of the kind.
//
// Cost: a set that never sees a semop has none (its stats pointer is
// nil). The first semop on a set allocates its counters: a few words and
// one operation counter (8 bytes) per semaphore. The first call that
// blocks on the set allocates its wait counters: a histogram of wait
// times and 64 bytes per semaphore. After that nothing allocates: an
// uncontended semop adds a few increments under the set's lock it already
// holds, and a call that blocks reads the monotonic clock twice (when it
// is queued and when it ends).
//
// What is counted, per set:
//   - every semop or semtimedop call that reaches the set's operations
//     (it passed the permission and range checks), once, as performed at
//     once, failed at once (EAGAIN for IPC_NOWAIT or a zero timeout,
//     ERANGE, EINTR from a refused Commit), or blocked;
//   - every blocked call once more when its wait ends, by how it ended:
//     completed by someone else (0), EINTR (Cancel for a signal, a caller
//     that died, a refused Commit), EAGAIN (Cancel for a timeout, or an
//     IPC_NOWAIT operation of a multi-op call on retry), EIDRM (IPC_RMID)
//     or another errno (ERANGE on retry), with the time it waited;
//   - per semaphore: the operations performed on it (each sembuf of a
//     call performed, at once or after a wait, counts for its
//     semaphore), and for calls that blocked, the semaphore of the
//     operation they first blocked on: how many, how they ended and how
//     long they waited.
//
// A removed set's counters are added to the namespace's removed totals
// (Stats.Removed), where the EIDRM ends of its waits show.
//
// Wait times are nanoseconds of the namespace's MonoClock (see
// MonoClock); a wait's end is read once per wake-up pass, so waiters
// woken together by one call get the same end time.

// MonoClock is an optional interface of a Clock: a monotonic clock in
// nanoseconds, for the wait times of the statistics. If the Clock given
// to NewNamespace implements it, the engine uses it; otherwise it uses
// SystemClock's (Go's monotonic clock).
type MonoClock interface {
	// Monotonic returns nanoseconds since an arbitrary fixed instant; it
	// never goes backwards.
	Monotonic() int64
}

// monoBase is the origin of SystemClock.Monotonic.
var monoBase = time.Now()

// Monotonic implements MonoClock with Go's monotonic clock.
func (SystemClock) Monotonic() int64 { return int64(time.Since(monoBase)) }

// monoClockOf returns c's MonoClock, or SystemClock's.
func monoClockOf(c Clock) MonoClock {
	if m, ok := c.(MonoClock); ok {
		return m
	}
	return SystemClock{}
}

// NumWaitBuckets is the number of buckets of a wait-time histogram: wait
// times of at most 1 µs, 2 µs, 4 µs, … 2^(NumWaitBuckets-2) µs (67 s), and
// above.
const NumWaitBuckets = 28

// WaitBucketBound returns the upper bound, in nanoseconds and inclusive,
// of wait-time bucket i; the last bucket has none (-1).
func WaitBucketBound(i int) int64 {
	if i >= NumWaitBuckets-1 {
		return -1
	}
	return 1000 << i
}

// waitBucket returns the bucket of a wait of d nanoseconds.
func waitBucket(d uint64) int {
	us := (d + 999) / 1000 // rounded up: bucket i holds waits ≤ 2^i µs
	if us <= 1 {
		return 0
	}
	return min(bits.Len64(us-1), NumWaitBuckets-1)
}

// WaitQuantile returns the q-quantile (0 < q ≤ 1) of the waits counted in
// buckets (as SetStats.WaitBuckets, not cumulative) whose longest was
// longest nanoseconds: the upper bound of the bucket that holds the wait
// of rank ⌈q·count⌉, or longest if that is lower (so it is at most twice the true
// value, and exact for the longest wait). It returns 0 if there are no
// waits.
func WaitQuantile(buckets []uint64, longest uint64, q float64) uint64 {
	var count uint64
	for _, n := range buckets {
		count += n
	}
	if count == 0 {
		return 0
	}
	rank := min(max(uint64(math.Ceil(q*float64(count))), 1), count)
	var seen uint64
	for i, n := range buckets {
		seen += n
		if seen >= rank {
			if b := WaitBucketBound(i); b >= 0 && uint64(b) < longest {
				return uint64(b)
			}
			return longest
		}
	}
	return longest
}

// How a blocked call's wait ended, indexes of the ends arrays.
const (
	endCompleted = iota
	endEINTR
	endEAGAIN
	endEIDRM
	endOther
	numEnds
)

func endOf(err Errno) int {
	switch err {
	case 0:
		return endCompleted
	case EINTR:
		return endEINTR
	case EAGAIN:
		return endEAGAIN
	case EIDRM:
		return endEIDRM
	}
	return endOther
}

// setStats are a set's counters, allocated by its first semop
// (Set.statsLocked). They are protected by the set's mutex.
type setStats struct {
	immediate uint64   // calls performed at once
	failed    uint64   // calls failed at once
	blocked   uint64   // calls queued
	ops       []uint64 // per semaphore: operations performed on it
	wait      *waitStats
}

// waitStats are a set's counters of blocked calls, allocated when a call
// first blocks on the set.
type waitStats struct {
	ends     [numEnds]uint64
	sum, max uint64 // nanoseconds waited by the calls that ended
	buckets  [NumWaitBuckets]uint64
	sems     []semWaitStats
}

// semWaitStats are the counters of the calls that first blocked on one
// semaphore.
type semWaitStats struct {
	blocked  uint64
	ends     [numEnds]uint64
	sum, max uint64
}

// statsLocked returns s's counters, allocating them on first use.
//
// Precondition: s.mu is held.
func (s *Set) statsLocked() *setStats {
	if st := s.stats; st != nil {
		return st
	}
	return s.newStatsLocked()
}

// newStatsLocked allocates s's counters (out of line: the semop path
// inlines statsLocked).
//
// Precondition: s.mu is held and s.stats is nil.
func (s *Set) newStatsLocked() *setStats {
	s.stats = &setStats{ops: make([]uint64, len(s.sems))}
	return s.stats
}

// performedLocked counts a call performed at once.
//
// Precondition: the set's mutex is held.
func (st *setStats) performedLocked(sops []abi.Sembuf) {
	st.immediate++
	for i := range sops {
		st.ops[sops[i].SemNum]++
	}
}

// noteBlockedLocked counts w, which is being queued, and starts its wait.
//
// Precondition: s.mu is held, w.sops and w.blocking are set.
func (s *Set) noteBlockedLocked(w *Waiter) {
	st := s.statsLocked()
	if st.wait == nil {
		st.wait = &waitStats{sems: make([]semWaitStats, len(s.sems))}
	}
	st.blocked++
	w.statSem = w.sops[w.blocking].SemNum
	st.wait.sems[w.statSem].blocked++
	w.statSince = s.ns.mono.Monotonic()
}

// noteEndLocked counts the end of w's wait with err at time now (of the
// MonoClock). A wait that was never counted (the set's counters did not
// exist when w was queued) is ignored.
//
// Precondition: s.mu is held and w was queued on s.
func (s *Set) noteEndLocked(w *Waiter, err Errno, now int64) {
	st := s.stats
	if st == nil || st.wait == nil {
		return
	}
	d := uint64(max(now-w.statSince, 0))
	e := endOf(err)
	ws := st.wait
	ws.ends[e]++
	ws.sum += d
	ws.max = max(ws.max, d)
	ws.buckets[waitBucket(d)]++
	sw := &ws.sems[w.statSem]
	sw.ends[e]++
	sw.sum += d
	sw.max = max(sw.max, d)
	if err == 0 {
		for i := range w.sops {
			st.ops[w.sops[i].SemNum]++
		}
	}
}

// removedStats are the counters of the sets removed so far, folded in
// by removeLocked so that namespace-wide totals never go backwards (a
// blocked call's EIDRM is counted by the removal of its set). They are
// protected by Namespace.mu.
type removedStats struct {
	sets                            int // removed sets that had semop calls
	immediate, failed, blocked, ops uint64
	ends                            [numEnds]uint64
	sum, max                        uint64
	buckets                         [NumWaitBuckets]uint64
}

// foldRemovedLocked adds the counters of s, being removed, to the
// namespace's removed totals.
//
// Precondition: ns.mu and s.mu are held.
func (ns *Namespace) foldRemovedLocked(s *Set) {
	st := s.stats
	if st == nil {
		return
	}
	r := &ns.removed
	r.sets++
	r.immediate += st.immediate
	r.failed += st.failed
	r.blocked += st.blocked
	for _, n := range st.ops {
		r.ops += n
	}
	if ws := st.wait; ws != nil {
		for i := range ws.ends {
			r.ends[i] += ws.ends[i]
		}
		r.sum += ws.sum
		r.max = max(r.max, ws.max)
		for i := range ws.buckets {
			r.buckets[i] += ws.buckets[i]
		}
	}
}

// Ends counts how blocked calls' waits ended.
type Ends struct {
	Completed uint64 // performed by another call's update (result 0)
	EINTR     uint64 // a signal, the caller's death or a refused Commit
	EAGAIN    uint64 // the timeout expired, or IPC_NOWAIT on a multi-op retry
	EIDRM     uint64 // the set was removed
	Other     uint64 // another errno (ERANGE on retry)
}

// Total returns the number of waits that ended.
func (e Ends) Total() uint64 { return e.Completed + e.EINTR + e.EAGAIN + e.EIDRM + e.Other }

func endsOf(a *[numEnds]uint64) Ends {
	return Ends{Completed: a[endCompleted], EINTR: a[endEINTR], EAGAIN: a[endEAGAIN], EIDRM: a[endEIDRM], Other: a[endOther]}
}

// Stats is a snapshot of the namespace's statistics.
type Stats struct {
	// Now is the MonoClock's reading at the snapshot.
	Now int64
	// Sets are every set, in index order.
	Sets []SetStats
	// Removed sums the counters of the sets removed so far (ID -1, no
	// Waiters nor Sems; Nsems 0), RemovedSets is how many of them had
	// semop calls. The waits that IPC_RMID ended with EIDRM show here.
	Removed     SetStats
	RemovedSets int
}

// Total sums the counters of every set, live or removed (ID -1, no
// Waiters nor Sems): the namespace's totals, which never decrease.
func (st *Stats) Total() SetStats {
	t := st.Removed
	t.WaitBuckets = slices.Clone(t.WaitBuckets)
	t.Nsems = 0
	for i := range st.Sets {
		s := &st.Sets[i]
		t.Calls += s.Calls
		t.Immediate += s.Immediate
		t.Failed += s.Failed
		t.Blocked += s.Blocked
		t.Performed += s.Performed
		t.Ops += s.Ops
		t.Ends.Completed += s.Ends.Completed
		t.Ends.EINTR += s.Ends.EINTR
		t.Ends.EAGAIN += s.Ends.EAGAIN
		t.Ends.EIDRM += s.Ends.EIDRM
		t.Ends.Other += s.Ends.Other
		t.WaitSum += s.WaitSum
		t.WaitMax = max(t.WaitMax, s.WaitMax)
		for i, n := range s.WaitBuckets {
			t.WaitBuckets[i] += n
		}
	}
	return t
}

// SetStats are one set's statistics since its creation.
type SetStats struct {
	ID    int32
	Key   int32
	Nsems int
	// Calls counts the semop and semtimedop calls that reached the set's
	// operations: Immediate + Failed + Blocked.
	Calls     uint64
	Immediate uint64 // performed at once
	Failed    uint64 // failed at once (EAGAIN, ERANGE, EINTR from Commit)
	Blocked   uint64 // queued: Ends.Total() + len(Waiters)
	// Performed counts the calls performed, at once or after waiting:
	// Immediate + Ends.Completed. Ops counts their operations (sembufs).
	Performed uint64
	Ops       uint64
	// Ends tells how the waits of blocked calls ended; WaitSum and
	// WaitMax are their total and longest wait in nanoseconds, and
	// WaitBuckets their histogram (NumWaitBuckets entries, bucket i the
	// waits of at most WaitBucketBound(i) ns and more than bucket i-1's;
	// not cumulative).
	Ends        Ends
	WaitSum     uint64
	WaitMax     uint64
	WaitBuckets []uint64
	// Waiters are the calls waiting now, longest waiting first.
	Waiters []WaiterStats
	// Sems are the semaphores that had operations or blocked calls, or
	// have waiters, hottest first: by operations, then by time waited,
	// then by number.
	Sems []SemStats
}

// WaiterStats is one call waiting now.
type WaiterStats struct {
	PID   int32  // the caller's thread group id
	Sem   uint16 // the semaphore of the operation it waits for now
	Op    int16  // that operation's sem_op (0: waiting for zero)
	Nsops int    // the number of operations of the call
	Since int64  // when it was queued (MonoClock)
}

// SemStats are one semaphore's statistics.
type SemStats struct {
	Num int
	Ops uint64 // operations performed on it
	// Blocked counts the calls that first blocked on an operation on this
	// semaphore; Ends, WaitSum and WaitMax are their waits that ended.
	Blocked uint64
	Ends    Ends
	WaitSum uint64
	WaitMax uint64
	// Ncnt and Zcnt count the waiters now (as GETNCNT and GETZCNT), and
	// Pids are their thread group ids, in queue order.
	Ncnt, Zcnt int32
	Pids       []int32
}

// Stats returns a snapshot of every set's statistics. Slices are never
// nil. It takes the locks Snapshot does: ns.mu, and each set's in turn.
func (ns *Namespace) Stats() Stats {
	ns.mu.Lock()
	defer ns.mu.Unlock()
	r := &ns.removed
	out := Stats{Now: ns.mono.Monotonic(), Sets: []SetStats{}, RemovedSets: r.sets,
		Removed: SetStats{ID: -1, Key: abi.IPC_PRIVATE,
			Calls: r.immediate + r.failed + r.blocked, Immediate: r.immediate, Failed: r.failed, Blocked: r.blocked,
			Performed: r.immediate + r.ends[endCompleted], Ops: r.ops,
			Ends: endsOf(&r.ends), WaitSum: r.sum, WaitMax: r.max, WaitBuckets: slices.Clone(r.buckets[:]),
			Waiters: []WaiterStats{}, Sems: []SemStats{}}}
	for idx := 0; idx <= ns.maxIdx; idx++ {
		s := ns.slots[idx].Load()
		if s == nil {
			continue
		}
		s.mu.Lock()
		out.Sets = append(out.Sets, s.statsSnapshotLocked())
		s.mu.Unlock()
	}
	return out
}

// statsSnapshotLocked returns s's statistics.
//
// Precondition: s.mu is held.
func (s *Set) statsSnapshotLocked() SetStats {
	ss := SetStats{ID: s.id, Key: s.key, Nsems: len(s.sems),
		WaitBuckets: make([]uint64, NumWaitBuckets), Waiters: []WaiterStats{}, Sems: []SemStats{}}
	st := s.stats
	if st == nil {
		return ss
	}
	ss.Immediate, ss.Failed, ss.Blocked = st.immediate, st.failed, st.blocked
	ss.Calls = st.immediate + st.failed + st.blocked
	ss.Performed = st.immediate
	sems := make(map[int]*SemStats)
	sem := func(num int) *SemStats {
		if p := sems[num]; p != nil {
			return p
		}
		p := &SemStats{Num: num, Pids: []int32{}}
		sems[num] = p
		return p
	}
	for i, n := range st.ops {
		ss.Ops += n
		if n != 0 {
			sem(i).Ops = n
		}
	}
	if ws := st.wait; ws != nil {
		ss.Ends = endsOf(&ws.ends)
		ss.Performed += ws.ends[endCompleted]
		ss.WaitSum, ss.WaitMax = ws.sum, ws.max
		copy(ss.WaitBuckets, ws.buckets[:])
		for i := range ws.sems {
			sw := &ws.sems[i]
			if sw.blocked == 0 {
				continue
			}
			p := sem(i)
			p.Blocked, p.Ends, p.WaitSum, p.WaitMax = sw.blocked, endsOf(&sw.ends), sw.sum, sw.max
		}
	}
	each := func(l *waitList) {
		for w := l.head; w != nil; w = w.next {
			sop := &w.sops[w.blocking]
			ss.Waiters = append(ss.Waiters, WaiterStats{PID: w.pid, Sem: sop.SemNum, Op: sop.SemOp,
				Nsops: len(w.sops), Since: w.statSince})
			p := sem(int(sop.SemNum))
			p.Pids = append(p.Pids, w.pid)
			if sop.SemOp == 0 {
				p.Zcnt++
			} else {
				p.Ncnt++
			}
		}
	}
	each(&s.pendingAlter)
	each(&s.pendingConst)
	for i := range s.queues {
		each(&s.queues[i].alter)
		each(&s.queues[i].zero)
	}
	slices.SortStableFunc(ss.Waiters, func(a, b WaiterStats) int {
		switch {
		case a.Since < b.Since:
			return -1
		case a.Since > b.Since:
			return 1
		}
		return 0
	})
	for _, p := range sems {
		ss.Sems = append(ss.Sems, *p)
	}
	SortHottest(ss.Sems)
	return ss
}

// SortHottest sorts semaphores hottest first: by operations, then by
// time waited, then by number.
func SortHottest(sems []SemStats) {
	slices.SortFunc(sems, func(a, b SemStats) int {
		switch {
		case a.Ops != b.Ops:
			return cmpDesc(a.Ops, b.Ops)
		case a.WaitSum != b.WaitSum:
			return cmpDesc(a.WaitSum, b.WaitSum)
		}
		return a.Num - b.Num
	})
}

func cmpDesc(a, b uint64) int {
	if a > b {
		return -1
	}
	return 1
}
