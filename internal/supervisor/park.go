package supervisor

import (
	"container/heap"
	"sync"
	"time"

	"github.com/sembox/sembox/abi"
	"github.com/sembox/sembox/internal/seccomp"
	"github.com/sembox/sembox/internal/semsys"
	"github.com/sembox/sembox/sem"
)

// Signal polling intervals for a parked call: the first check comes
// quickly, later ones back off so that long waits cost little. The first
// is not sooner than 2 ms: most waits are shorter (a lock handed over),
// and checking them costs the programs' CPU (PostgreSQL's pgbench lost a
// third of its rate to checks at 200 µs on the precise sleeper); signals
// sent from inside and by timers are looked for in bursts anyway.
const (
	firstSignalCheck = 2 * time.Millisecond
	maxSignalCheck   = 20 * time.Millisecond
	// A signal sent from inside the sandbox is pending at its target
	// within microseconds of the sender's trapped kill being let go: its
	// targets' calls are looked at burstChecks times, burstInterval
	// apart, from then on.
	burstInterval = 25 * time.Microsecond
	burstChecks   = 8
	// pollBudget is the share of a CPU that polling parked calls for
	// signals sent from outside may take: the polling interval of each
	// call stretches with their number, at the measured cost of a check.
	// A check (a read of /proc/TID/status) costs 6-12 µs on this kind of
	// machine (2-vCPU AMD EPYC guest, Linux 6.18), more with thousands of
	// threads: at 1% of a CPU each of 1,000 parked calls is checked
	// about once a second, each of 10,000 every 10 s (the watcher's
	// wake-ups and the runtime add about as much again). The price is the
	// latency of such a signal; signals sent from inside the sandbox and
	// by its timers are looked for at once.
	pollBudget = 0.01
	// initialPollCost is the cost of a check assumed until one is
	// measured.
	initialPollCost = 10 * time.Microsecond
	// preciseWait: with a single P, the watcher sleeps shorter waits
	// than this on its sleeper, longer ones on a Go timer.
	preciseWait = 1200 * time.Microsecond
	// slowPollTick: checks at intervals of this or more are due on its
	// edges, batched into one wake-up of the watcher.
	slowPollTick = 100 * time.Millisecond
)

// call is a semop or semtimedop call parked in the engine.
type call struct {
	s  *Supervisor
	w  sem.Waiter
	id uint64 // the notification to answer
	th *thread

	// Commit mode (see commit.go): answered is set when c.commit's
	// answer was accepted, refused when it was not. Written by whoever
	// performs the call, under the set's lock; read after the engine
	// has returned (own call) or in Done, on the same thread.
	answered bool
	refused  bool
	resp     seccomp.NotifResp
	// key is the call as its thread would make it again (commit mode);
	// stopped is set, under s.mu, when a SIGSTOP is sent to its group
	// (see stopping).
	key     restartKey
	stopped bool

	// The fields below are protected by s.mu.
	finished    bool          // answered, or being answered
	index       int           // position in s.parked, -1 if not there
	due         time.Duration // when the watcher looks at it next
	deadline    time.Duration // when its timeout expires, if hasDeadline
	hasDeadline bool
	interval    time.Duration // current signal polling interval
	burst       int           // checks left at burstInterval (a signal is on its way)

	// For the trace.
	nr   int32
	args [6]uint64
	sops []abi.Sembuf
}

func (s *Supervisor) newCall() *call {
	c := &call{s: s, index: -1}
	c.w.Done = c.completed
	c.w.Alive = c.alive
	if s.commitMode() {
		c.w.Commit = c.commit
	}
	return c
}

// alive reports whether the parked caller still waits for its answer.
//
// Once received, a trapped call ends only when it is answered or its
// thread dies (a fatal signal, exit_group or execve in another thread),
// so the answer is whether the supervisor has seen the thread exit: no
// system call. A caller that died a moment ago may be taken for alive,
// as Linux lets a waker complete a dying waiter; but every semaphore call
// first handles the exits already reported (reapExits), so a waiter that
// anyone could know to be dead never consumes a semaphore. Without thread
// pidfds (Linux < 6.9) the listener is asked, which walks the kernel's
// list of pending notifications.
//
// Without killable wait (commit mode) a signal also ends the call while
// it is parked, so the listener is asked as well: a call the kernel has
// ended is not counted by GETNCNT/GETZCNT, and its Commit would be
// refused anyway.
func (c *call) alive(*sem.Waiter) bool {
	if c.th.pidfd >= 0 {
		if c.th.dead.Load() {
			return false
		}
		if !c.s.commitMode() {
			return true
		}
	}
	return c.s.idValid(c.id) == nil
}

// completed is the engine's Done callback: another caller completed the
// wait. It answers on the completer's thread.
func (c *call) completed(w *sem.Waiter) {
	s := c.s
	s.mu.Lock()
	s.endLocked(c)
	s.mu.Unlock()
	defer s.settled(c)
	switch {
	case c.answered:
		// Answered by c.commit.
		if s.trace != nil {
			s.trace.parked(c, 0)
		}
	case c.refused:
		// The kernel ended the call before its completion could be
		// answered; the completion was taken back.
		s.endedByKernel(c)
	default:
		// EIDRM, or EINTR if Alive found the call gone.
		if !c.answer(w.Err) && s.commitMode() {
			s.endedByKernel(c)
		}
	}
}

// finishLocked marks c answered (or abandoned) and forgets it.
// Precondition: s.mu is held.
func (s *Supervisor) finishLocked(c *call) {
	c.finished = true
	if c.index >= 0 {
		heap.Remove(&s.parked, c.index)
	}
	if _, ok := c.th.proc.parked[c]; ok {
		delete(c.th.proc.parked, c)
		s.nparked.Add(-1)
	}
}

// endLocked forgets c, which is about to be answered or was found ended
// by the kernel, and in commit mode counts it unsettled until settled
// runs: until then its thread's next call may be its restart (see
// dropEnded). With killable wait the kernel never ends a received call,
// and nothing is counted.
// Precondition: s.mu is held.
func (s *Supervisor) endLocked(c *call) {
	if s.commitMode() {
		c.th.unsettled.Add(1)
	}
	s.finishLocked(c)
}

// settled ends what endLocked began, once c's answer was taken or its end
// by the kernel recorded (endedByKernel).
func (s *Supervisor) settled(c *call) {
	if s.commitMode() {
		c.th.unsettled.Add(-1)
	}
}

// answer sends the call's result and reports whether the kernel took it.
func (c *call) answer(err sem.Errno) bool {
	s := c.s
	if s.trace != nil {
		s.trace.parked(c, err)
	}
	resp := seccomp.NotifResp{ID: c.id}
	if err != 0 {
		resp.Error = -int32(err)
	}
	s.served.Add(1)
	return s.send(&resp) == nil
}

// park registers a call the engine has queued, so that its timeout,
// signals and death are watched.
func (s *Supervisor) park(c *call, th *thread, n *seccomp.Notif, r *semsys.SemopResult, sc *semsys.Scratch) {
	// c.id, c.th and c.nr were set before the engine saw the call.
	if s.trace != nil {
		c.args = n.Data.Args
		c.sops = append(c.sops[:0], sc.Sops()...)
		s.trace.call(n, sc, 0, 0, traceBlocked)
	}
	t := now()
	s.mu.Lock()
	if c.finished {
		// Completed by another worker before we got here.
		s.mu.Unlock()
		return
	}
	c.hasDeadline = r.HasTimeout
	if r.HasTimeout {
		c.deadline = deadlineAfter(t, r.Timeout)
	}
	c.interval = firstSignalCheck
	c.due = c.nextDue(t)
	heap.Push(&s.parked, c)
	th.proc.parked[c] = struct{}{}
	s.nparked.Add(1)
	due := c.due
	s.mu.Unlock()
	s.kickWatcher(due)
}

// kickWatcher tells the watcher that a parked call is due at t (0: that
// it must look now, as when the supervisor stops), if it would otherwise
// sleep past it.
//
// A park does not wake the watcher when the call is due after its
// planned wake-up (most are: it is checked 2 ms on). Without a sleeper
// the watcher waits on a Go timer and is kicked through a channel (see
// sleeper for what that costs).
func (s *Supervisor) kickWatcher(t time.Duration) {
	if s.sleeper != nil {
		s.sleeper.wake(t)
	}
	if u := s.timerUntil.Load(); u != 0 && (t == 0 || int64(t) < u) {
		select {
		case s.kick <- struct{}{}:
		default:
		}
	}
}

// nextDue is the earlier of the next signal check and the deadline.
// Precondition: s.mu is held.
func (c *call) nextDue(t time.Duration) time.Duration {
	due := t + c.interval
	if c.interval >= slowPollTick {
		// Slow checks are due on the tick's edges, so that one wake-up
		// of the watcher serves all the calls due in a tick.
		due = (due + slowPollTick - 1) / slowPollTick * slowPollTick
	}
	if c.hasDeadline && c.deadline < due {
		due = c.deadline
	}
	return due
}

// parkedOf returns the parked calls of a thread group.
func (s *Supervisor) parkedOf(p *process) []*call {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*call, 0, len(p.parked))
	for c := range p.parked {
		out = append(out, c)
	}
	return out
}

// eachTargetLocked calls f for every parked call of thread group tgid
// (0: of every group).
// Precondition: s.mu is held.
func (s *Supervisor) eachTargetLocked(tgid int32, f func(c *call)) {
	if tgid == 0 {
		for _, c := range s.parked {
			f(c)
		}
		return
	}
	v, ok := s.procs.Load(tgid)
	if !ok {
		return
	}
	for c := range v.(*process).parked {
		f(c)
	}
}

// expedite makes the watcher look for a signal at the parked calls of
// thread group tgid (0: every group) in a burst of checks burstInterval
// apart: one is on its way. If pending, it is pending already (sembox
// forwarded it, or the kernel sent SIGCHLD to the parent of a group that
// just exited) and the first check comes at once; else (a trapped kill
// about to be let go) after burstInterval. A call already in a burst is
// left to it.
func (s *Supervisor) expedite(tgid int32, pending bool) {
	due := now()
	if !pending {
		due += burstInterval
	}
	s.expediteAt(tgid, due)
}

// expediteAt is expedite with the burst's first check at due (a now()
// value): when a timer will fire.
func (s *Supervisor) expediteAt(tgid int32, due time.Duration) {
	s.mu.Lock()
	n := 0
	s.eachTargetLocked(tgid, func(c *call) {
		if c.burst >= burstChecks/2 {
			return
		}
		c.burst = burstChecks
		c.interval = burstInterval
		if c.index >= 0 && due < c.due {
			c.due = due
			heap.Fix(&s.parked, c.index)
		}
		n++
	})
	s.mu.Unlock()
	if n > 0 {
		s.kickWatcher(due)
	}
}

// checkNow looks at once, on the caller's goroutine, whether a signal
// pending for their thread ends the parked calls of thread group tgid (0:
// every group), as the watcher does.
func (s *Supervisor) checkNow(tgid int32) {
	s.mu.Lock()
	var cs []*call
	s.eachTargetLocked(tgid, func(c *call) { cs = append(cs, c) })
	s.mu.Unlock()
	s.checkCalls(cs)
}

// statusBuf is scratch space for reading /proc/TID/status.
type statusBuf struct {
	b          [4096]byte
	st, leader taskStatus
}

var statusBufs = sync.Pool{New: func() any { return new(statusBuf) }}

// checkCalls ends with EINTR those of the parked calls cs whose thread a
// pending signal interrupts, and reports whether it ended any.
//
// Without killable wait (commit mode) the signal ends the call in the
// kernel, and answering it then races with that: the kernel can accept
// an answer the caller never sees (D-K in README), and the call, made
// again after an SA_RESTART handler, was not recognised as a restart
// (tests/torture statewait under SEMBOX_KERNEL_OFF=all, about 1 run in
// 10, when the signal's sender looked right after sending). So in commit
// mode a call is only found gone and recorded as ended by the kernel (see
// callGone), before its thread can make it again; one still pending is
// left to the kernel and the watcher.
func (s *Supervisor) checkCalls(cs []*call) bool {
	sb := statusBufs.Get().(*statusBuf)
	defer statusBufs.Put(sb)
	read := func(tid int32, into *taskStatus) error { return readTaskStatus(tid, sb.b[:], into) }
	ended := false
	for _, c := range cs {
		if s.commitMode() {
			if s.idValid(c.id) != nil {
				s.callGone(c)
				ended = true
			}
			continue
		}
		if read(c.th.tid, &sb.st) == nil && sb.st.pendingUnblocked() &&
			signalledThread(c.th.tid, c.th.proc.tgid, &sb.st, read, &sb.leader) {
			ended = s.interrupt(c, sem.EINTR) || ended
		}
	}
	return ended
}

// SignalSent tells the supervisor that a signal was just sent to thread
// group pid (0: to any of its groups; by sembox itself, say, or by a
// terminal to its foreground process group), so that a wait it
// interrupts ends with EINTR at once rather than at the next poll.
func (s *Supervisor) SignalSent(pid int32) { s.expedite(pid, true) }

// interrupt ends parked call c with reason (EINTR for a signal, EAGAIN
// for its timeout) and answers it, unless the engine has completed it
// already (Done then answers).
// It reports whether it ended the call.
func (s *Supervisor) interrupt(c *call, reason sem.Errno) bool {
	if !s.ns.Cancel(&c.w, reason) {
		return false
	}
	s.mu.Lock()
	s.endLocked(c)
	s.mu.Unlock()
	if !c.answer(reason) && s.commitMode() {
		// The kernel ended the call first (a signal): the caller may
		// make it again after its handler.
		s.endedByKernel(c)
	}
	s.settled(c)
	return true
}

// dropCompleting takes parked call c out of the watcher's heap if it is
// still there after the watcher ended it: the engine had completed it
// first, and its completer, about to answer it (call.completed), has not
// forgotten it yet. It stays among its group's parked calls until then.
func (s *Supervisor) dropCompleting(c *call) {
	s.mu.Lock()
	if !c.finished && c.index >= 0 {
		heap.Remove(&s.parked, c.index)
	}
	s.mu.Unlock()
}

// cancelThread ends the parked call of a thread that has exited.
func (s *Supervisor) cancelThread(th *thread) {
	s.mu.Lock()
	var mine *call
	for c := range th.proc.parked {
		if c.th == th {
			mine = c
			break
		}
	}
	if mine != nil {
		s.finishLocked(mine)
	}
	s.mu.Unlock()
	if mine != nil {
		s.ns.Cancel(&mine.w, sem.EINTR) // nobody is left to answer
	}
}

// watchParked ends parked calls whose timeout expired (EAGAIN) or whose
// thread has a pending, unblocked signal (EINTR).
func (s *Supervisor) watchParked() {
	sl := s.sleeper
	if sl != nil {
		sl.lockThread()
		defer sl.close()
	}
	timer := time.NewTimer(time.Hour)
	buf := make([]byte, 4096)
	var st, leader taskStatus
	read := func(tid int32, into *taskStatus) error { return readTaskStatus(tid, buf, into) }
	for {
		s.mu.Lock()
		wake := now() + time.Hour
		if len(s.parked) > 0 {
			wake = s.parked[0].due
		}
		// On the sleeper, to the microsecond, and woken through the
		// kernel; but with a single P (one CPU) only the short waits of
		// bursts and timer expiries: a thread blocked in the kernel keeps
		// its P until the runtime's monitor takes it back, and the
		// workers then wait for it. Longer waits are on a Go timer (late
		// by up to 2 ms).
		precise := sl != nil && (s.nprocs > 1 || wake-now() < preciseWait ||
			len(s.parked) > 0 && s.parked[0].burst > 0)
		if precise {
			sl.plan(wake)
		} else {
			s.timerUntil.Store(int64(wake))
		}
		s.mu.Unlock()
		select {
		case <-s.stop:
			return
		default:
		}
		if precise {
			sl.sleep()
		} else if wait := wake - now(); wait > 0 {
			timer.Reset(wait)
			select {
			case <-timer.C:
			case <-s.kick:
				s.timerUntil.Store(0)
				if !timer.Stop() {
					<-timer.C
				}
				continue
			case <-s.stop:
				timer.Stop()
				return
			}
		}
		s.timerUntil.Store(0)
		t := now()
		slow := 0 // checks of calls past their first ones and bursts
		for {
			// The call due first stays in the heap while it is looked
			// at, so that a burst asked for meanwhile (expedite) is not
			// lost: the check may come just before the signal.
			s.mu.Lock()
			if len(s.parked) == 0 || s.parked[0].due > t {
				s.mu.Unlock()
				break
			}
			c := s.parked[0]
			timedOut := c.hasDeadline && c.deadline <= t
			if c.burst == 0 && c.interval >= slowPollTick {
				slow++
			}
			s.mu.Unlock()

			var reason sem.Errno
			if s.commitMode() && s.idValid(c.id) != nil {
				// Ended by the kernel (see commit.go).
				s.callGone(c)
				s.dropCompleting(c)
				continue
			}
			if s.checkHook != nil {
				s.checkHook(c)
			}
			signalled := false
			if timedOut {
				reason = sem.EAGAIN
			} else if readTaskStatus(c.th.tid, buf, &st) == nil && st.pendingUnblocked() &&
				signalledThread(c.th.tid, c.th.proc.tgid, &st, read, &leader) {
				if s.commitMode() {
					// The signal ends the call in the kernel, whose wait
					// is interruptible; answering as well races with that
					// (see checkCalls). It is found gone in a moment.
					signalled = true
				} else {
					reason = sem.EINTR
				}
			}
			if reason != 0 {
				s.interrupt(c, reason)
				s.dropCompleting(c)
				continue
			}
			s.mu.Lock()
			if !c.finished {
				if signalled && c.burst == 0 {
					c.burst = burstChecks
				}
				if c.burst > 0 {
					c.burst--
					c.interval = burstInterval
				} else {
					c.interval = s.nextIntervalLocked(c.interval)
				}
				c.due = c.nextDue(now())
				heap.Fix(&s.parked, c.index)
			}
			s.mu.Unlock()
		}
		if slow > 0 {
			// The pass's cost per check, averaged (1/8 new).
			per := int64(now()-t) / int64(slow)
			old := s.pollCost.Load()
			s.pollCost.Store(old + (per-old)/8)
		}
	}
}

// signalledThread reports whether a signal pending and not blocked for
// thread tid of group tgid (st is its status; read reads a status)
// interrupts it. One sent to the thread does. One sent to the process
// (pending for the group) goes to a single thread: Linux's complete_signal
// gives it to the group's leader when the leader does not block it, else
// to some thread that does not. So a waiting thread other than the leader
// is interrupted only if the leader is gone, or blocks the signal while it
// is still pending: the leader may have taken it since st was read, and
// blocks it only while its handler runs, so st is read again after the
// leader's status. leader is scratch space.
func signalledThread(tid, tgid int32, st *taskStatus, read func(tid int32, into *taskStatus) error, leader *taskStatus) bool {
	if st.sigPnd&^st.sigBlk != 0 || tid == tgid {
		return true
	}
	if read(tgid, leader) != nil || leader.zombie {
		return true
	}
	forLeader := leader.sigBlk
	if read(tid, st) != nil {
		return false // the thread is gone
	}
	return st.sigPnd&^st.sigBlk != 0 || st.shdPnd&^st.sigBlk&forLeader != 0
}

// nextIntervalLocked is the signal polling interval of a parked call
// after one of prev: doubling from firstSignalCheck to maxSignalCheck,
// then at once the budgeted interval (pollCapLocked). Doubling all the
// way would cost each call about 9 more checks on its way to a cap of
// seconds; with 10,000 calls parked within a few seconds that ramp alone
// took more than the budget (supervisor at 2.2-2.35% of a CPU, 65% of it
// reading /proc status, with a 1% budget; 2026-12-05, 2-vCPU AMD guest).
// Precondition: s.mu is held.
func (s *Supervisor) nextIntervalLocked(prev time.Duration) time.Duration {
	if prev < maxSignalCheck {
		return min(prev*2, maxSignalCheck)
	}
	return s.pollCapLocked()
}

// pollCapLocked is the longest signal polling interval, stretched so that
// polling all parked calls costs at most pollBudget of a CPU, at the
// measured cost of a check (s.pollCost).
// Precondition: s.mu is held.
func (s *Supervisor) pollCapLocked() time.Duration {
	cost := time.Duration(s.pollCost.Load())
	spread := time.Duration(float64(time.Duration(len(s.parked)+1)*cost) / pollBudget)
	return max(maxSignalCheck, spread)
}

// parkHeap orders parked calls by when they are due.
type parkHeap []*call

func (h parkHeap) Len() int           { return len(h) }
func (h parkHeap) Less(i, j int) bool { return h[i].due < h[j].due }
func (h parkHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index = i
	h[j].index = j
}
func (h *parkHeap) Push(x any) {
	c := x.(*call)
	c.index = len(*h)
	*h = append(*h, c)
}
func (h *parkHeap) Pop() any {
	old := *h
	c := old[len(old)-1]
	old[len(old)-1] = nil
	c.index = -1
	*h = old[:len(old)-1]
	return c
}
