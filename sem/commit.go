package sem

import "github.com/sembox/sembox/abi"

// Commit: a completion is delivered under the set's lock and taken back
// exactly if its result cannot be delivered (Waiter.Commit).
//
// Why: on kernels without SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (Linux
// < 5.19) any signal can end a trapped caller's wait after the supervisor
// has received its semop; the supervisor's answer is then refused and the
// caller sees EINTR (or restarts the call). An operation must not stay
// applied unless its answer was accepted, so the supervisor answers from
// Commit, while the set is still locked and nobody has seen the result,
// and the engine takes the operation back when the answer is refused.
//
// How: the operations were applied by performLocked, which changes the
// values and the SEM_UNDO adjustments in order, each checked to stay in
// range, and then sets every operation's sempid. Subtracting the
// operations again in reverse order gives back the exact previous values
// and adjustments (the arithmetic is exact: every intermediate value was
// in range when it was applied); the previous sempids are saved before
// performing, since they are overwritten. Nothing else has changed at
// that point: performLocked touches nothing else, the caller sets otime
// and wakes others only after a success, and Commit may not call into
// the namespace. So after a take-back the set is exactly as before the
// attempt, and a wake-up scan goes on as if the waiter had not been
// there: a waiter whose perform fails also leaves the state untouched.

// performCommitLocked is performLocked for a call whose Waiter has a
// Commit hook (Semtimedop's own call, and wakeConstLocked and
// updateQueueLocked for a queued waiter): if the operations can be
// performed, it performs them and calls w.Commit; if Commit refuses, it
// takes them back exactly (values, adjustments, sempids) and returns
// blockAt = -1, err = EINTR, which performLocked never returns. A result other than success is returned as
// performLocked gives it, without calling Commit: nothing was performed.
// w.Err is 0 while Commit runs and EINTR after a refusal.
//
// Precondition: s.mu is held; un is non-nil if any sop has SEM_UNDO.
func (s *Set) performCommitLocked(w *Waiter, sops []abi.Sembuf, un *undo, pid int32) (blockAt int, err Errno) {
	// The previous sempids, in sops order. A semaphore named twice is
	// saved twice with the same value, so restoring in any order is
	// exact. Small calls keep them on the stack.
	var buf [8]int32
	prev := buf[:0]
	if len(sops) > len(buf) {
		prev = make([]int32, 0, len(sops))
	}
	for i := range sops {
		prev = append(prev, s.sems[sops[i].SemNum].pid)
	}
	blockAt, err = s.performLocked(sops, un, pid)
	if blockAt >= 0 || err != 0 {
		return blockAt, err
	}
	w.Err = 0
	if w.Commit(w) {
		return -1, 0
	}
	s.takeBackLocked(sops, un)
	for i := range sops {
		s.sems[sops[i].SemNum].pid = prev[i]
	}
	w.Err = EINTR
	return -1, EINTR
}

// takeBackLocked reverts the values and adjustments of sops, which
// performLocked has just applied in full. The sempids are the caller's
// to restore.
//
// Precondition: s.mu is held; un is what performLocked was given.
func (s *Set) takeBackLocked(sops []abi.Sembuf, un *undo) {
	for i := len(sops) - 1; i >= 0; i-- {
		sop := &sops[i]
		s.sems[sop.SemNum].val -= int32(sop.SemOp)
		if sop.SemFlg&abi.SEM_UNDO != 0 {
			un.adj[sop.SemNum] += sop.SemOp
		}
	}
}
