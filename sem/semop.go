package sem

import (
	"github.com/sembox/sembox/abi"
)

// Waiter is one blocked semop call: Linux's struct sem_queue. The caller
// owns it and may reuse it once the call has ended (it was completed and
// Done ran, or Cancel returned true, or Semtimedop did not block).
//
// A queued Waiter ends in exactly one of three ways:
//   - another caller's operation, a SETVAL/SETALL, an undo at exit, or
//     IPC_RMID completes it: the engine sets Err and calls Done once, from
//     the goroutine of that other caller, with no engine lock held;
//   - the caller gives up (a signal, a timeout) with Cancel, which returns
//     true and Done is not called;
//   - both race: exactly one of them wins, decided under the set's lock.
//
// If the waiter has a Commit hook that refuses a completion on its behalf,
// that completion is taken back and the wait ends with EINTR, Done called
// as for a completion.
type Waiter struct {
	// Done is called when another caller completes the wait. It must not
	// block and must not call back into the namespace for this set.
	Done func(w *Waiter)
	// Alive, if set, is asked under the set's lock before the engine
	// performs this waiter's operation on its behalf. If it returns false
	// (the caller died while it waited), the waiter is removed without
	// performing anything and Done is called with EINTR: a caller that no
	// longer exists never consumes a semaphore. It must be quick and must
	// not call into the namespace.
	Alive func(w *Waiter) bool
	// Commit, if set, is called under the set's lock at the moment w's
	// call succeeds with its operations performed — its own call in
	// Semtimedop, when it succeeds at once, or a completion on its behalf
	// by another caller's semop, SETVAL, SETALL or undo — before anything
	// else can see the result. The caller of the engine delivers the
	// call's result there (Err is 0). If Commit returns false (the result
	// could not be delivered: the caller is gone or was interrupted), the
	// engine takes the completion back exactly: the operations are undone
	// (values, SEM_UNDO adjustments, sempids, otime as they were), w is
	// removed from its queue, and everything goes on as if w had never
	// been queued (waiters behind it may then proceed). For its own call
	// Semtimedop then returns blocked=false, err=EINTR; for a completion
	// on its behalf Done is called with EINTR. If Commit returns true, a
	// completion on w's behalf goes on as without Commit: Done is called
	// with Err 0 once the lock is released. Commit must not block for
	// long and must not call into the namespace.
	//
	// Commit is called at most once per call, and only for a success: an
	// end that performs nothing (EIDRM at IPC_RMID, ERANGE or EAGAIN when
	// a multi-op call is retried, EINTR for a caller Alive reports dead,
	// Cancel, a call that fails at once) does not call it, and Done
	// reports it as without Commit; a call that blocks is committed when
	// it is completed. Alive is asked first, as without Commit. An undo entry the call created
	// for SEM_UNDO stays after a take-back, with its adjustments as they
	// were (Linux also keeps it). With Commit nil the engine behaves
	// exactly as without it.
	Commit func(w *Waiter) bool
	// Err is the call's result once it has ended: 0, EIDRM, ERANGE,
	// EAGAIN (an IPC_NOWAIT operation of a multi-op call would have
	// blocked on retry), EINTR (Alive or Commit returned false), or what
	// Cancel was given.
	Err Errno

	// The fields below are protected by set.mu while the waiter is queued.
	set      *Set
	list     *waitList
	prev     *Waiter
	next     *Waiter
	sops     []abi.Sembuf // a private copy of the operations
	undo     *undo        // the caller's undo entry for the set, if any
	pid      int32        // thread group id recorded as sempid
	blocking int          // index in sops of the operation that blocked
	queued   bool
	wakeNext *Waiter // link in a wakeList after completion

	// For the statistics (stats.go), protected by set.mu: when the wait
	// started (MonoClock) and the semaphore it first blocked on.
	statSince int64
	statSem   uint16
}

// Queued reports whether w is still waiting. It is for tests and
// diagnostics; decisions must use Cancel.
func (w *Waiter) Queued() bool {
	s := w.set
	if s == nil {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return w.queued
}

// wakeList collects the waiters completed while a set is locked so that
// their Done callbacks run after it is unlocked (Linux: wake_q). now is
// the MonoClock's time of the pass, read at its first waiter (0: not yet).
type wakeList struct {
	head, tail *Waiter
	now        int64
}

// add ends w's wait with err. Precondition: w's set is locked and w has
// just been unlinked from its queue.
func (l *wakeList) add(w *Waiter, err Errno) {
	if s := w.set; s.stats != nil {
		if l.now == 0 {
			l.now = s.ns.mono.Monotonic()
		}
		s.noteEndLocked(w, err, l.now)
	}
	w.Err = err
	w.wakeNext = nil
	if l.tail == nil {
		l.head = w
	} else {
		l.tail.wakeNext = w
	}
	l.tail = w
}

// run calls Done for every collected waiter, in completion order.
// Precondition: no set lock is held.
func (l *wakeList) run() {
	for w := l.head; w != nil; {
		next := w.wakeNext
		w.wakeNext = nil
		if w.Done != nil {
			w.Done(w)
		}
		w = next
	}
	l.head, l.tail = nil, nil
}

// CheckNsops applies the checks Linux makes on nsops before it reads the
// operations from the caller's memory: E2BIG above SEMOPM, then EINVAL for
// zero, then ENOMEM if the operations take more than INT_MAX bytes (only
// possible with a raised SEMOPM: the kernel's kvmalloc refuses such a
// size). A system-call front end calls it before copying the sembufs.
func (ns *Namespace) CheckNsops(nsops uint64) Errno {
	if nsops > uint64(ns.semopm.Load()) {
		return E2BIG
	}
	if nsops < 1 {
		return EINVAL
	}
	if nsops > (1<<31-1)/abi.SembufSize {
		return ENOMEM
	}
	return 0
}

// Semtimedop performs semtimedop(2) (semop is the same with timeout nil)
// with the checks of Linux's do_semtimedop in their order. The sops are
// the caller's operations, already copied from its memory; the engine
// keeps no reference to the slice.
//
// If the call completes or fails at once, Semtimedop returns
// blocked=false and the result. If it must wait, w is queued and
// Semtimedop returns blocked=true; the call then ends as the Waiter
// documentation says. The caller enforces the timeout (ending the wait with
// Cancel(w, EAGAIN) when it expires) and signals (Cancel(w, EINTR)). A zero
// timeout never queues: it fails with EAGAIN, as the kernel's expired
// timer does. w may be nil if the caller cannot wait; a call that would
// block then fails with EAGAIN. If w has a Commit hook, it is called when
// the call succeeds at once, and if it refuses, the call is taken back and
// Semtimedop returns blocked=false, err=EINTR (see Waiter.Commit).
func (ns *Namespace) Semtimedop(t *Task, semid int32, sops []abi.Sembuf, timeout *abi.Timespec, w *Waiter) (blocked bool, err Errno) {
	if err := ns.CheckNsops(uint64(len(sops))); err != 0 {
		return false, err
	}
	if semid < 0 {
		return false, EINVAL
	}
	if timeout != nil && (timeout.Sec < 0 || timeout.Nsec < 0 || timeout.Nsec >= 1e9) {
		return false, EINVAL
	}
	maxNum, undos, alter := uint16(0), false, false
	for i := range sops {
		maxNum = max(maxNum, sops[i].SemNum)
		if sops[i].SemFlg&abi.SEM_UNDO != 0 {
			undos = true
		}
		if sops[i].SemOp != 0 {
			alter = true
		}
	}

	s := ns.lookupCheck(semid)
	if s == nil {
		return false, EINVAL
	}
	var wake wakeList
	s.mu.Lock()
	var un *undo
	if undos {
		if t.Undo == nil {
			s.mu.Unlock()
			return false, ENOMEM
		}
		if s.removed {
			s.mu.Unlock()
			return false, EIDRM
		}
		un = t.Undo.findOrAddLocked(s, t.PID)
	}
	if int(maxNum) >= len(s.sems) {
		s.mu.Unlock()
		return false, EFBIG
	}
	var mode int32 = abi.S_IRUGO
	if alter {
		mode = abi.S_IWUGO
	}
	if !s.permitted(t.Cred, mode) {
		s.mu.Unlock()
		return false, EACCES
	}
	if s.removed || (un != nil && un.dropped) {
		s.mu.Unlock()
		return false, EIDRM
	}

	var blockAt int
	if w != nil && w.Commit != nil {
		// EINTR: it succeeded and Commit refused; taken back.
		blockAt, err = s.performCommitLocked(w, sops, un, t.PID)
	} else {
		blockAt, err = s.performLocked(sops, un, t.PID)
	}
	switch {
	case err != 0:
		s.statsLocked().failed++
		s.mu.Unlock()
		return false, err
	case blockAt < 0:
		s.statsLocked().performedLocked(sops)
		if alter {
			s.smartUpdateLocked(sops, true, &wake)
		} else {
			s.otime = ns.clock.Now()
		}
		s.mu.Unlock()
		wake.run()
		return false, 0
	}

	// The call must wait.
	if w == nil || (timeout != nil && timeout.Sec == 0 && timeout.Nsec == 0) {
		s.statsLocked().failed++
		s.mu.Unlock()
		return false, EAGAIN
	}
	w.set = s
	w.sops = append(w.sops[:0], sops...)
	w.undo = un
	w.pid = t.PID
	w.blocking = blockAt
	w.Err = 0
	s.noteBlockedLocked(w)
	s.enqueueLocked(w, alter)
	s.mu.Unlock()
	return true, 0
}

// performLocked tries to apply all sops atomically (Linux:
// perform_atomic_semop and its _slow variant, which agree). Operations
// are applied in order, so a semaphore named twice sees the effect of the
// earlier operation; on failure everything is rolled back.
//
// It returns blockAt = -1 and err = 0 on success; blockAt = i, err = 0 if
// operation i must wait; or err = ERANGE (a value or an adjustment out of
// range) or EAGAIN (operation i must wait and has IPC_NOWAIT).
//
// Precondition: s.mu is held; un is non-nil if any sop has SEM_UNDO.
func (s *Set) performLocked(sops []abi.Sembuf, un *undo, pid int32) (blockAt int, err Errno) {
	for i := range sops {
		sop := &sops[i]
		cur := &s.sems[sop.SemNum]
		result := cur.val
		if sop.SemOp == 0 && result != 0 {
			return s.rollbackLocked(sops, un, i, true)
		}
		result += int32(sop.SemOp)
		if result < 0 {
			return s.rollbackLocked(sops, un, i, true)
		}
		if result > abi.SEMVMX {
			return s.rollbackLocked(sops, un, i, false)
		}
		if sop.SemFlg&abi.SEM_UNDO != 0 {
			adj := int32(un.adj[sop.SemNum]) - int32(sop.SemOp)
			if adj < -abi.SEMAEM-1 || adj > abi.SEMAEM {
				return s.rollbackLocked(sops, un, i, false)
			}
			un.adj[sop.SemNum] = int16(adj)
		}
		cur.val = result
	}
	for i := range sops {
		s.sems[sops[i].SemNum].pid = pid
	}
	return -1, 0
}

// rollbackLocked undoes operations [0, failed) and reports why operation
// failed could not be applied: it would block (wouldBlock) or it is out of
// range.
//
// Precondition: s.mu is held.
func (s *Set) rollbackLocked(sops []abi.Sembuf, un *undo, failed int, wouldBlock bool) (int, Errno) {
	for i := failed - 1; i >= 0; i-- {
		sop := &sops[i]
		s.sems[sop.SemNum].val -= int32(sop.SemOp)
		if sop.SemFlg&abi.SEM_UNDO != 0 {
			un.adj[sop.SemNum] += sop.SemOp
		}
	}
	if !wouldBlock {
		return -1, ERANGE
	}
	if sops[failed].SemFlg&abi.IPC_NOWAIT != 0 {
		return -1, EAGAIN
	}
	return failed, 0
}

// enqueueLocked queues w where Linux's do_semtimedop would: a single
// operation on its semaphore's queue (or the set's alter queue while
// multi-op waiters exist), a multi-op call on the set's queues, merging
// the per-semaphore alter queues into the set's the first time.
//
// Precondition: s.mu is held.
func (s *Set) enqueueLocked(w *Waiter, alter bool) {
	w.queued = true
	if len(w.sops) == 1 {
		q := s.queuesLocked(w.sops[0].SemNum)
		switch {
		case !alter:
			q.zero.pushBack(w)
		case s.complexCount > 0:
			s.pendingAlter.pushBack(w)
		default:
			q.alter.pushBack(w)
		}
		return
	}
	if s.complexCount == 0 {
		// merge_queues: move every per-semaphore alter waiter, semaphore
		// by semaphore, to the set's queue.
		for i := range s.queues {
			s.pendingAlter.spliceBack(&s.queues[i].alter)
		}
	}
	if alter {
		s.pendingAlter.pushBack(w)
	} else {
		s.pendingConst.pushBack(w)
	}
	s.complexCount++
}

// queuesLocked returns the queues of semaphore num, allocating the
// per-semaphore queues on first use.
//
// Precondition: s.mu is held.
func (s *Set) queuesLocked(num uint16) *semQueues {
	if s.queues == nil {
		s.queues = make([]semQueues, len(s.sems))
	}
	return &s.queues[num]
}

// unlinkLocked removes w from its queue (Linux: unlink_queue).
//
// Precondition: s.mu is held and w is queued on s.
func (s *Set) unlinkLocked(w *Waiter) {
	w.list.remove(w)
	w.queued = false
	if len(w.sops) > 1 {
		s.complexCount--
	}
}

// Cancel ends a queued wait with err (EINTR for a signal, EAGAIN for an
// expired timeout) if it has not completed yet, and reports whether it
// did. If Cancel returns false the wait has already been completed by
// someone else, and Done has been or is about to be called with the
// result: the caller must report that result, not err.
func (ns *Namespace) Cancel(w *Waiter, err Errno) bool {
	s := w.set
	if s == nil {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !w.queued {
		return false
	}
	s.unlinkLocked(w)
	w.Err = err
	if s.stats != nil {
		s.noteEndLocked(w, err, ns.mono.Monotonic())
	}
	s.unmergeLocked()
	return true
}

// smartUpdateLocked wakes the waiters that the change described by sops
// (nil: any semaphore may have changed) lets proceed, performing their
// operations, and sets otime if anything completed or setOtime is true
// (Linux: do_smart_update).
//
// Precondition: s.mu is held.
func (s *Set) smartUpdateLocked(sops []abi.Sembuf, setOtime bool, wake *wakeList) {
	if s.wakeZeroLocked(sops, wake) {
		setOtime = true
	}
	switch {
	case !s.pendingAlter.empty():
		if s.updateQueueLocked(-1, wake) {
			setOtime = true
		}
	case s.queues == nil:
		// No per-semaphore waiters at all.
	case sops == nil:
		for i := range s.sems {
			if s.updateQueueLocked(i, wake) {
				setOtime = true
			}
		}
	default:
		for i := range sops {
			if sops[i].SemOp > 0 && s.updateQueueLocked(int(sops[i].SemNum), wake) {
				setOtime = true
			}
		}
	}
	if setOtime {
		s.otime = s.ns.clock.Now()
	}
	s.unmergeLocked()
}

// unmergeLocked moves the single-op waiters back from the set's alter
// queue to their semaphores' queues, in order, once no multi-op waiter is
// left (Linux: unmerge_queues, run when the set's global lock is
// released). It must not run in the middle of a queue scan.
//
// Precondition: s.mu is held.
func (s *Set) unmergeLocked() {
	if s.complexCount != 0 || s.pendingAlter.empty() {
		return
	}
	for w := s.pendingAlter.head; w != nil; {
		next := w.next
		s.pendingAlter.remove(w)
		s.queuesLocked(w.sops[0].SemNum).alter.pushBack(w)
		w = next
	}
}

// wakeZeroLocked completes the wait-for-zero waiters that can proceed
// after a change of the semaphores in sops (nil: all), and reports
// whether any completed (Linux: do_smart_wakeup_zero).
//
// Precondition: s.mu is held.
func (s *Set) wakeZeroLocked(sops []abi.Sembuf, wake *wakeList) bool {
	completed, gotZero := false, false
	if sops != nil {
		for i := range sops {
			num := int(sops[i].SemNum)
			if s.sems[num].val == 0 {
				gotZero = true
				if s.wakeConstLocked(num, wake) {
					completed = true
				}
			}
		}
	} else if s.queues != nil || !s.pendingConst.empty() {
		for i := range s.sems {
			if s.sems[i].val == 0 {
				gotZero = true
				if s.wakeConstLocked(i, wake) {
					completed = true
				}
			}
		}
	}
	if gotZero && s.wakeConstLocked(-1, wake) {
		completed = true
	}
	return completed
}

// wakeConstLocked tries every wait-for-zero waiter on semaphore num's queue
// (-1: the set's queue) in FIFO order (Linux: wake_const_ops).
//
// Precondition: s.mu is held.
func (s *Set) wakeConstLocked(num int, wake *wakeList) bool {
	var l *waitList
	if num < 0 {
		l = &s.pendingConst
	} else if s.queues != nil {
		l = &s.queues[num].zero
	} else {
		return false
	}
	completed := false
	for w := l.head; w != nil; {
		next := w.next
		if s.goneLocked(w, wake) {
			w = next
			continue
		}
		// err is EINTR if Commit refused: w leaves, nothing changed.
		var blockAt int
		var err Errno
		if w.Commit == nil {
			blockAt, err = s.performLocked(w.sops, w.undo, w.pid)
		} else {
			blockAt, err = s.performCommitLocked(w, w.sops, w.undo, w.pid)
		}
		if blockAt >= 0 {
			w.blocking = blockAt
		} else {
			s.unlinkLocked(w)
			wake.add(w, err)
			if err == 0 {
				completed = true
			}
		}
		w = next
	}
	return completed
}

// updateQueueLocked tries the altering waiters on semaphore num's queue
// (-1: the set's queue) in FIFO order, completing those that can proceed
// and, after each success, the wait-for-zero waiters it enabled (Linux:
// update_queue and check_restart).
//
// Precondition: s.mu is held.
func (s *Set) updateQueueLocked(num int, wake *wakeList) bool {
	var l *waitList
	if num < 0 {
		l = &s.pendingAlter
	} else {
		l = &s.queues[num].alter
	}
	completed := false
restart:
	for w := l.head; w != nil; {
		next := w.next
		// A single-op queue cannot make progress once its semaphore is 0:
		// only decrements wait there.
		if num >= 0 && s.sems[num].val == 0 {
			break
		}
		if s.goneLocked(w, wake) {
			w = next
			continue
		}
		// err is EINTR if Commit refused: w leaves, nothing changed,
		// and the scan goes on with the next waiter.
		var blockAt int
		var err Errno
		if w.Commit == nil {
			blockAt, err = s.performLocked(w.sops, w.undo, w.pid)
		} else {
			blockAt, err = s.performCommitLocked(w, w.sops, w.undo, w.pid)
		}
		if blockAt >= 0 {
			w.blocking = blockAt
			w = next
			continue
		}
		s.unlinkLocked(w)
		again := false
		if err == 0 {
			completed = true
			s.wakeZeroLocked(w.sops, wake)
			// Complex operations, or a non-empty set queue, are too hard
			// to analyse: rescan from the start.
			again = !s.pendingAlter.empty() || len(w.sops) > 1
		}
		wake.add(w, err)
		if again {
			goto restart
		}
		w = next
	}
	return completed
}

// goneLocked removes w with EINTR if its caller no longer exists.
//
// Precondition: s.mu is held and w is queued on s.
func (s *Set) goneLocked(w *Waiter, wake *wakeList) bool {
	if w.Alive == nil || w.Alive(w) {
		return false
	}
	s.unlinkLocked(w)
	wake.add(w, EINTR)
	return true
}

// pruneDeadLocked removes every waiter whose caller no longer exists
// (see Waiter.Alive).
//
// Precondition: s.mu is held.
func (s *Set) pruneDeadLocked(wake *wakeList) {
	prune := func(l *waitList) {
		for w := l.head; w != nil; {
			next := w.next
			s.goneLocked(w, wake)
			w = next
		}
	}
	prune(&s.pendingAlter)
	prune(&s.pendingConst)
	for i := range s.queues {
		prune(&s.queues[i].alter)
		prune(&s.queues[i].zero)
	}
	s.unmergeLocked()
}

// countWaitersLocked returns GETNCNT (zero=false) or GETZCNT (zero=true)
// for semaphore num: single-op waiters on its queue, plus multi-op waiters
// whose currently blocking operation is on num (Linux 3.16+:
// count_semcnt).
//
// Precondition: s.mu is held.
func (s *Set) countWaitersLocked(num int, zero bool) int32 {
	var n int32
	if s.queues != nil {
		l := &s.queues[num].alter
		if zero {
			l = &s.queues[num].zero
		}
		for w := l.head; w != nil; w = w.next {
			n++
		}
	}
	check := func(l *waitList) {
		for w := l.head; w != nil; w = w.next {
			sop := &w.sops[w.blocking]
			if int(sop.SemNum) != num {
				continue
			}
			if (zero && sop.SemOp == 0) || (!zero && sop.SemOp < 0) {
				n++
			}
		}
	}
	check(&s.pendingAlter)
	if zero {
		check(&s.pendingConst)
	}
	return n
}
