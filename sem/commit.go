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

// The calls below are the state-changing calls other than semop, with a
// commit hook: commit is called under the locks the call holds, once its
// change is made (or, for IPC_RMID, decided) and before anything else can
// see it; if it returns false the change is taken back exactly (or, for
// IPC_RMID, not made) and the call returns EINTR. A call that fails does
// not call commit. commit must not block for long and must not call into
// the namespace. They are for embedders whose result can fail to be
// delivered (see Waiter.Commit); with a commit that returns true each is
// the same as the call without Commit in its name, whose checks it
// repeats in the same order (commit_test.go compares them).

// SemgetCommit is Semget; commit is called only when a set is created,
// with its id. If it refuses, the set is removed and the id allocator put
// back as it was, so that the next set gets the id this one had, as if
// the call had never been made (Linux: a caller interrupted before the
// kernel acted created nothing and consumed no id). A nil commit is
// Semget itself.
func (ns *Namespace) SemgetCommit(t *Task, key int32, nsems int32, semflg int32, commit func(id int32) bool) (int32, Errno) {
	if nsems < 0 || nsems > ns.semmsl.Load() {
		return -1, EINVAL
	}
	ns.mu.Lock()
	defer ns.mu.Unlock()
	if key != abi.IPC_PRIVATE {
		if s := ns.keys[key]; s != nil {
			if semflg&abi.IPC_CREAT != 0 && semflg&abi.IPC_EXCL != 0 {
				return -1, EEXIST
			}
			if int(nsems) > len(s.sems) {
				return -1, EINVAL
			}
			s.mu.Lock()
			ok := s.permitted(t.Cred, semflg)
			s.mu.Unlock()
			if !ok {
				return -1, EACCES
			}
			return s.id, 0
		}
		if semflg&abi.IPC_CREAT == 0 {
			return -1, ENOENT
		}
	}
	nextIdx, lastIdx, seq := ns.nextIdx, ns.lastIdx, ns.seq
	id, err := ns.newSetLocked(t, key, nsems, semflg)
	if err != 0 || commit == nil || commit(id) {
		return id, err
	}
	s := ns.lookupCheck(id)
	s.mu.Lock()
	s.removed = true // nobody can hold it: ns.mu was held since it was made
	ns.removeLocked(s)
	s.mu.Unlock()
	ns.nextIdx, ns.lastIdx, ns.seq = nextIdx, lastIdx, seq
	return -1, EINTR
}

// SetValCommit is SetVal; commit is called once the value, the sempid,
// the adjustments and sem_ctime are changed, before any waiter is woken.
// If it refuses, they are put back and nobody is woken. A nil commit is
// SetVal itself: nothing is saved.
func (ns *Namespace) SetValCommit(t *Task, semid int32, semnum int32, val int32, commit func() bool) Errno {
	if val < 0 || val > abi.SEMVMX {
		return ERANGE
	}
	s := ns.lookupCheck(semid)
	if s == nil {
		return EINVAL
	}
	var wake wakeList
	s.mu.Lock()
	if semnum < 0 || int(semnum) >= len(s.sems) {
		s.mu.Unlock()
		return EINVAL
	}
	if !s.permitted(t.Cred, abi.S_IWUGO) {
		s.mu.Unlock()
		return EACCES
	}
	if s.removed {
		s.mu.Unlock()
		return EIDRM
	}
	var prevAdj []int16
	if commit != nil {
		prevAdj = make([]int16, len(s.undos))
	}
	for i, un := range s.undos {
		if commit != nil {
			prevAdj[i] = un.adj[semnum]
		}
		un.adj[semnum] = 0
	}
	prev, prevCtime := s.sems[semnum], s.ctime
	s.sems[semnum] = semaphore{val: val, pid: t.PID}
	s.ctime = ns.clock.Now()
	if commit != nil && !commit() {
		for i, un := range s.undos {
			un.adj[semnum] = prevAdj[i]
		}
		s.sems[semnum], s.ctime = prev, prevCtime
		s.mu.Unlock()
		return EINTR
	}
	s.smartUpdateLocked(nil, false, &wake)
	s.mu.Unlock()
	wake.run()
	return 0
}

// SetAllCommit is SetAll; commit is called once the values, the sempids,
// the adjustments and sem_ctime are changed, before any waiter is woken.
// If it refuses, they are put back and nobody is woken. A nil commit is
// SetAll itself: nothing is saved.
func (ns *Namespace) SetAllCommit(t *Task, semid int32, load func(nsems int) ([]uint16, Errno), commit func() bool) Errno {
	s := ns.lookupCheck(semid)
	if s == nil {
		return EINVAL
	}
	s.mu.Lock()
	ok, removed := s.permitted(t.Cred, abi.S_IWUGO), s.removed
	s.mu.Unlock()
	if !ok {
		return EACCES
	}
	if removed {
		return EIDRM
	}
	vals, err := load(len(s.sems))
	if err != 0 {
		return err
	}
	if len(vals) != len(s.sems) {
		return EFAULT
	}
	for _, v := range vals {
		if v > abi.SEMVMX {
			return ERANGE
		}
	}
	var wake wakeList
	s.mu.Lock()
	if s.removed {
		s.mu.Unlock()
		return EIDRM
	}
	var prev []semaphore
	var prevAdj [][]int16
	if commit != nil {
		prev = append([]semaphore(nil), s.sems...)
		prevAdj = make([][]int16, len(s.undos))
		for i, un := range s.undos {
			prevAdj[i] = append([]int16(nil), un.adj...)
		}
	}
	prevCtime := s.ctime
	for i, v := range vals {
		s.sems[i] = semaphore{val: int32(v), pid: t.PID}
	}
	for _, un := range s.undos {
		clear(un.adj)
	}
	s.ctime = ns.clock.Now()
	if commit != nil && !commit() {
		copy(s.sems, prev)
		for i, un := range s.undos {
			copy(un.adj, prevAdj[i])
		}
		s.ctime = prevCtime
		s.mu.Unlock()
		return EINTR
	}
	s.smartUpdateLocked(nil, false, &wake)
	s.mu.Unlock()
	wake.run()
	return 0
}

// IPCSetCommit is IPCSet; commit is called once the owner, the mode and
// sem_ctime are changed. If it refuses, they are put back. A nil commit
// is IPCSet itself.
func (ns *Namespace) IPCSetCommit(t *Task, semid int32, in *abi.SemidDS, commit func() bool) Errno {
	ns.mu.Lock()
	defer ns.mu.Unlock()
	s := ns.lookupCheck(semid)
	if s == nil {
		return EINVAL
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.ownedBy(t.Cred) {
		return EPERM
	}
	if in.Perm.UID == ^uint32(0) || in.Perm.GID == ^uint32(0) {
		return EINVAL
	}
	uid, gid, mode, ctime := s.uid, s.gid, s.mode, s.ctime
	s.uid = in.Perm.UID
	s.gid = in.Perm.GID
	s.mode = s.mode&^abi.S_IRWXUGO | in.Perm.Mode&abi.S_IRWXUGO
	s.ctime = ns.clock.Now()
	if commit != nil && !commit() {
		s.uid, s.gid, s.mode, s.ctime = uid, gid, mode, ctime
		return EINTR
	}
	return 0
}

// RemoveCommit is Remove; commit is called once the removal is decided
// (the checks passed), with the namespace and the set locked, before
// anything is changed. If it refuses, nothing is. (A removal cannot be
// taken back once its waiters have been failed with EIDRM, so it is
// answered first; the waiters' answers follow, as in Linux they are
// woken before the remover returns but may run after it.) A nil commit
// is Remove itself.
func (ns *Namespace) RemoveCommit(t *Task, semid int32, commit func() bool) Errno {
	ns.mu.Lock()
	s := ns.lookupCheck(semid)
	if s == nil {
		ns.mu.Unlock()
		return EINVAL
	}
	s.mu.Lock()
	if !s.ownedBy(t.Cred) {
		s.mu.Unlock()
		ns.mu.Unlock()
		return EPERM
	}
	if commit != nil && !commit() {
		s.mu.Unlock()
		ns.mu.Unlock()
		return EINTR
	}
	var wake wakeList
	s.destroyLocked(&wake)
	ns.removeLocked(s)
	s.mu.Unlock()
	ns.mu.Unlock()
	wake.run()
	return 0
}
