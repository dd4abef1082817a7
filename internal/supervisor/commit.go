package supervisor

import (
	"runtime"
	"time"

	"github.com/sembox/sembox/abi"
	"github.com/sembox/sembox/internal/seccomp"
	"github.com/sembox/sembox/sem"
)

// Answers on kernels without SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV.
//
// Without the flag (Linux < 5.19, or killable-wait turned off) any signal
// ends a trapped call's wait, also after a worker has received it: the
// kernel drops the notification, the caller's call fails with EINTR (or
// is made again after an SA_RESTART handler, or after a stop), and the
// answer sent later is refused (ENOENT). An answer may therefore be
// refused at any moment, so a change must never stay made unless the
// answer that reports it was accepted.
//
// In that mode (commit mode) every call that changes something is
// answered from inside the engine, while the change is locked and nobody
// else has seen it, and the engine takes the change back exactly when
// the answer is refused: the caller then saw EINTR (or makes the call
// again) with nothing done, as if the signal had come before the call
// was received, which the kernel allows:
//
//   - semop and semtimedop: the caller's own call, and a parked call
//     completed by another caller's semop, SETVAL, SETALL or undo
//     (sem.Waiter.Commit: values, adjustments and sempids put back;
//     the waker goes on as if the waiter had not been queued);
//   - semget that creates a set (sem.Namespace.SemgetCommit: the set
//     removed and the id allocator put back, so the next set gets the
//     same id the kernel would give);
//   - SETVAL, SETALL and IPC_SET (put back before anybody is woken);
//   - IPC_RMID (answered once decided, before anything is changed; not
//     done if refused).
//
// Calls that change nothing are answered afterwards as usual: a refused
// answer loses nothing. The engine knows nothing of seccomp: the closures
// below send the answers. A call answered from a commit must not be
// answered again: worker.noReply and call.answered say it was.
//
// A parked call can also be ended by the kernel without anybody
// answering it: the watcher checks that its notification is still
// pending (commitMode) and drops it, and its Alive asks the listener
// too, so that GETNCNT and GETZCNT do not count it.

// commitMode reports whether answers may be refused (see above).
func (s *Supervisor) commitMode() bool { return !s.features.KillableWait }

// send writes an answer to the listener (or to Supervisor.sendHook in
// tests) and reports the kernel's error: ENOENT when the caller is no
// longer waiting for it.
func (s *Supervisor) send(r *seccomp.NotifResp) error {
	if s.sendHook != nil {
		return s.sendHook(r)
	}
	return seccomp.Send(s.fd, r)
}

// idValid asks the listener (or Supervisor.validHook in tests) whether
// notification id is still pending.
func (s *Supervisor) idValid(id uint64) error {
	if s.validHook != nil {
		return s.validHook(id)
	}
	return seccomp.IDValid(s.fd, id)
}

// commitVal answers the call in w.n with val from inside the engine, and
// reports whether the kernel accepted the answer. Either way the call
// needs no other answer.
func (w *worker) commitVal(val int64) bool {
	w.noReply = true
	w.resp = seccomp.NotifResp{ID: w.n.ID, Val: val}
	if w.s.send(&w.resp) != nil {
		return false
	}
	w.s.served.Add(1)
	return true
}

func (w *worker) commit() bool { return w.commitVal(0) }

func (w *worker) commitID(id int32) bool { return w.commitVal(int64(id)) }

// commit is c's sem.Waiter.Commit: it answers the semop with success,
// on the thread of whoever completes it, with the set locked.
func (c *call) commit(*sem.Waiter) bool {
	s := c.s
	c.resp = seccomp.NotifResp{ID: c.id}
	if s.send(&c.resp) != nil {
		c.refused = true
		return false
	}
	c.answered = true
	s.served.Add(1)
	return true
}

// semctlCommit serves, in commit mode, the semctl commands that change a
// set: SETVAL, SETALL, IPC_SET and IPC_RMID, with the argument handling
// and order of checks of semsys.Semctl, answering from inside the engine.
// It reports ok=false for other commands, which change nothing.
func (w *worker) semctlCommit(ns *sem.Namespace, th *thread, a *[6]uint64) (val int64, err sem.Errno, ok bool) {
	semid, semnum, cmd := int32(a[0]), int32(a[1]), int32(a[2])
	switch cmd {
	case abi.SETVAL, abi.SETALL, abi.IPC_SET, abi.IPC_RMID:
	default:
		return 0, 0, false
	}
	if semid < 0 {
		return -1, sem.EINVAL, true
	}
	arg := a[3]
	switch cmd {
	case abi.SETVAL:
		err = ns.SetValCommit(&th.task, semid, semnum, int32(arg), w.commitFn)
	case abi.SETALL:
		err = ns.SetAllCommit(&th.task, semid, func(n int) ([]uint16, sem.Errno) {
			if cap(w.vals) < 2*n {
				w.vals = make([]byte, 2*n)
			}
			b := w.vals[:2*n]
			if err := w.mem.CopyIn(arg, b); err != 0 {
				return nil, err
			}
			vals := make([]uint16, n)
			for i := range vals {
				vals[i] = uint16(b[2*i]) | uint16(b[2*i+1])<<8
			}
			return vals, 0
		}, w.commitFn)
	case abi.IPC_SET:
		var b [abi.SemidDSSize]byte
		if err := w.mem.CopyIn(arg, b[:]); err != 0 {
			return -1, err, true
		}
		var ds abi.SemidDS
		ds.Unmarshal(b[:])
		err = ns.IPCSetCommit(&th.task, semid, &ds, w.commitFn)
	case abi.IPC_RMID:
		err = ns.RemoveCommit(&th.task, semid, w.commitFn)
	}
	if err != 0 {
		return -1, err, true
	}
	return 0, 0, true
}

// callGone drops parked call c whose notification the kernel has ended
// (a signal, without killable wait): nobody waits for its answer. The
// caller may make the call again after its handler: it is recorded as
// ended by the kernel, so that the restart of a blocking semop is
// recognised.
func (s *Supervisor) callGone(c *call) {
	if s.ns.Cancel(&c.w, sem.EINTR) {
		s.mu.Lock()
		s.endLocked(c)
		s.mu.Unlock()
		s.endedByKernel(c)
		s.settled(c)
	}
}

// endedByKernel records that the kernel ended parked call c (a signal,
// without killable wait), which its thread may make again: its thread's
// next semaphore call is examined as a restart (see dropEnded) and, after
// a SIGSTOP, ends with EINTR if it is the same call (see stopping).
//
// Found ended after the thread's next call was served (the watcher and
// that call's worker raced to see it gone), c's restart was that call,
// examined then since c was parked or unsettled, and nothing is recorded:
// it would mark the call after it, a new one.
func (s *Supervisor) endedByKernel(c *call) {
	if c.th.dead.Load() {
		return
	}
	s.cut.seen()
	s.mu.Lock()
	if c.th.lastCall <= c.id {
		c.th.cut.Store(true)
		if c.stopped {
			key := c.key
			c.th.stopEnded = &key
		}
	}
	s.mu.Unlock()
}

// lockServing takes th.serving for the call in w.n and reports true, or
// reports false if that call has ended meanwhile.
//
// A thread makes one call at a time, so in killable mode its serving
// lock is never contended. In commit mode a call can end while its worker
// still prepares it, and the thread's next call (its restart, say) can
// be received before that worker has taken the lock: the later call's
// worker may then hold it while it waits for the earlier call's turn in
// arrival order, and the earlier worker must not wait for the lock. Its
// call is the one that ended (the thread has moved on), so it asks the
// listener and gives up.
func (w *worker) lockServing(th *thread) bool {
	if !w.s.commitMode() {
		th.serving.Lock()
		return true
	}
	for i := 0; !th.serving.TryLock(); i++ {
		if w.s.idValid(w.n.ID) != nil {
			return false
		}
		if i < 4 {
			runtime.Gosched()
			continue
		}
		w.yieldTurn()
		time.Sleep(20 * time.Microsecond)
	}
	return true
}

// dropEnded drops the parked calls of thread th, which has just made
// another semaphore call: the kernel has ended them (a signal), and th may
// be making one of them again after its handler (see callGone). The
// watcher would find them only at its next look, after the call made
// again has been served.
//
// It reports whether th's new call, if it blocks, is to be examined as
// such a restart (see cutShort): th had a call still parked, one being
// ended elsewhere whose fate is not recorded yet (thread.unsettled), or
// one recorded as ended by the kernel since its last semaphore call
// (thread.cut). The last is consumed: a restart is the thread's next call.
func (s *Supervisor) dropEnded(th *thread) (examine bool) {
	var ended []*call
	s.mu.Lock()
	for c := range th.proc.parked {
		if c.th == th {
			ended = append(ended, c)
		}
	}
	examine = len(ended) > 0 || th.unsettled.Load() > 0
	s.mu.Unlock()
	for _, c := range ended {
		s.callGone(c)
	}
	return th.cut.Swap(false) || examine
}

// restartKey identifies a call as its thread would make it again: the
// system call, its arguments and the address it was made from.
type restartKey struct {
	nr   int32
	args [6]uint64
	ip   uint64
}

// stopping marks the parked calls of thread group tgid, to which a SIGSTOP
// sent from inside the sandbox is about to go.
//
// Linux ends a semop asleep when a stop signal comes, with EINTR, which
// the caller sees once continued. Without killable wait the kernel ends
// the trapped call instead and, as no handler runs for SIGSTOP, makes the
// same call again once the task is continued: it carries no signal frame
// for newRestartFrame to find. So the call a SIGSTOP ended is remembered
// (callGone) and the thread's next call, if it is the same call from the
// same place, ends with EINTR without being performed (restartAfterStop).
// A SIGSTOP from outside the sandbox (not trapped) is not seen: the call
// made again then waits again.
func (s *Supervisor) stopping(tgid int32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.procs.Load(tgid)
	if !ok {
		return
	}
	for c := range v.(*process).parked {
		c.stopped = true
	}
}

// restartAfterStop reports whether the call in n is thread th making
// again the call a SIGSTOP ended (see stopping), and forgets that call.
func (s *Supervisor) restartAfterStop(th *thread, n *seccomp.Notif) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	th.lastCall = max(th.lastCall, n.ID)
	k := th.stopEnded
	if k == nil {
		return false
	}
	th.stopEnded = nil
	return *k == restartKey{nr: n.Data.Nr, args: n.Data.Args, ip: n.Data.InstructionPointer}
}
