package supervisor

import (
	"time"

	"golang.org/x/sys/unix"
)

// SignalSyscalls are the native calls that send a signal. The filter
// traps them so that the supervisor, which decides when a parked semop
// ends with EINTR, looks at the targets as soon as the signal is pending
// instead of at its next poll. They continue unchanged.
var SignalSyscalls = []int{unix.SYS_KILL, unix.SYS_TKILL, unix.SYS_TGKILL,
	unix.SYS_RT_SIGQUEUEINFO, unix.SYS_RT_TGSIGQUEUEINFO, unix.SYS_PIDFD_SEND_SIGNAL}

// serveSignal lets a trapped signal-sending call in w.n continue and
// hurries the signal checks of the parked calls it may interrupt. It
// reports false if the call is not one of SignalSyscalls.
//
// A SIGCONT ends a stop signal still pending at its target (Linux's
// prepare_signal), which interrupted the target's semop in Linux even
// though the target, asleep in a trapped call, has not acted on it yet:
// the targets are looked at before the SIGCONT is let go.
func (w *worker) serveSignal() bool {
	s, n := w.s, &w.n
	a := &n.Data.Args
	var tgid int32 // 0: any thread group may be a target
	var sig uint64
	switch n.Data.Nr {
	case unix.SYS_KILL:
		if pid := int32(a[0]); pid > 0 {
			tgid = pid
		}
		sig = a[1]
	case unix.SYS_TKILL:
		th := s.knownThread(int32(a[0]))
		if th == nil {
			w.continueCall() // a thread never seen has no parked call
			return true
		}
		tgid, sig = th.proc.tgid, a[1]
	case unix.SYS_TGKILL, unix.SYS_RT_TGSIGQUEUEINFO:
		tgid, sig = int32(a[0]), a[2]
	case unix.SYS_RT_SIGQUEUEINFO:
		tgid, sig = int32(a[0]), a[1]
	case unix.SYS_PIDFD_SEND_SIGNAL:
		sig = a[1]
	default:
		return false
	}
	if tgid < 0 {
		tgid = 0
	}
	// Pids are those of the caller's pid namespace: if it is not the
	// supervisor's, any group may be meant.
	if th := s.knownThread(int32(n.PID)); th == nil || len(th.proc.nstgid) > 1 {
		tgid = 0
	}
	if sig == 0 || sig >= 65 {
		w.continueCall()
		return true
	}
	if sig == uint64(unix.SIGSTOP) && tgid != 0 && s.commitMode() {
		s.stopping(tgid)
	}
	cont := sig == uint64(unix.SIGCONT)
	if cont {
		w.yieldTurn() // the targets are read before it is sent
	}
	send, look := w.continueCall, false
	if tgid != 0 && (s.signals != nil || s.hasParked(tgid)) {
		// A parked call is a target (or may be, another member's in a
		// shared namespace): it is looked at on this thread as soon as
		// the signal is pending (see SignalSending), at most once per
		// lookGap, and by the watcher's burst of checks otherwise.
		if t := int64(now()); t-s.lastLook.Load() >= int64(lookGap) {
			s.lastLook.Store(t)
			// Another worker receives meanwhile: calls waiting to be
			// received can be cut short by this very signal, and the
			// sender may run for a while.
			w.yieldTurn()
			send, look = w.continueAndYield, true
		}
	}
	if s.signals != nil {
		s.signals.Sent(tgid, cont, look, send)
		return true
	}
	s.SignalSending(tgid, cont, look, send)
	return true
}

// lookGap bounds how often a worker looks at a signal's targets itself,
// so that under a flood of signals most are left to the watcher. Looking
// costs the worker a sched_yield and a read of /proc/TID/status. Keeping
// the receive turn through them was worth 65 µs of signal→EINTR p50
// (medians of 5 runs of bench/siglat kill: 216 against 281 µs; 2-vCPU AMD
// guest) but is not done: calls waiting to be received meanwhile are the
// ones this very signal can cut short (D2 in tests/torture).
const lookGap = time.Millisecond

// continueAndYield lets the trapped call in w.n continue and gives up the
// CPU, so that the caller, woken on this CPU (see
// seccomp.SetSyncWakeUp), makes it before w goes on: a signal-sending
// call is then done, its signal pending, when the sender next blocks or
// has run its share of the CPU.
func (w *worker) continueAndYield() {
	w.continueCall()
	_, _, _ = unix.Syscall(unix.SYS_SCHED_YIELD, 0, 0, 0)
}

// SignalRouter hands the news of a signal sent from inside one member
// of a namespace to the supervisors of all its members (see
// Config.Signals).
type SignalRouter interface {
	// Sent calls SignalSending of every supervisor, with send called
	// once, in the right place.
	Sent(tgid int32, cont, look bool, send func())
}

// SignalSending handles a signal about to be sent to thread group tgid
// (0: any) from inside a sandbox: send lets the sending call go. If cont
// (a SIGCONT), the calls of tgid are looked at first. After send, if
// look, the calling goroutine looks at tgid's parked calls itself, once:
// the sender has usually made its call by then (see
// worker.continueAndYield), and waking the watcher for it would cost a
// thread wake-up more. If that ends no call, or without look, the
// watcher takes over with a burst of checks. send may be nil (another
// supervisor sends it).
func (s *Supervisor) SignalSending(tgid int32, cont, look bool, send func()) {
	if cont && s.nparked.Load() > 0 {
		s.checkNow(tgid)
	}
	if send != nil {
		send()
	}
	if s.nparked.Load() > 0 {
		if look && tgid != 0 && s.checkSent(tgid) {
			return
		}
		s.expedite(tgid, false)
	}
}

// maxInlineTargets bounds the parked calls a sender's worker looks at
// itself (SignalSending); a group with more is left to the watcher.
const maxInlineTargets = 4

// hasParked reports whether thread group tgid has a parked call.
func (s *Supervisor) hasParked(tgid int32) bool {
	v, ok := s.procs.Load(tgid)
	if !ok {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(v.(*process).parked) > 0
}

// checkSent looks once whether a signal just sent to thread group tgid
// ends one of its parked calls, and reports whether it ended one. It
// looks at no more than maxInlineTargets calls.
func (s *Supervisor) checkSent(tgid int32) bool {
	v, ok := s.procs.Load(tgid)
	if !ok {
		return false
	}
	p := v.(*process)
	var cs [maxInlineTargets]*call
	n := 0
	s.mu.Lock()
	if len(p.parked) <= maxInlineTargets {
		for c := range p.parked {
			cs[n] = c
			n++
		}
	}
	s.mu.Unlock()
	if n == 0 {
		return false
	}
	return s.checkCalls(cs[:n])
}
