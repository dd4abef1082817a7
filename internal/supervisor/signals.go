package supervisor

import (
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
	if s.signals != nil {
		// Any member of the namespace may be the target.
		if sig == uint64(unix.SIGCONT) {
			w.yieldTurn()
		}
		s.signals.Sent(tgid, sig == uint64(unix.SIGCONT), w.continueCall)
		return true
	}
	s.SignalSending(tgid, sig == uint64(unix.SIGCONT), w.continueCall)
	return true
}

// SignalRouter hands the news of a signal sent from inside one member
// of a namespace to the supervisors of all its members (see
// Config.Signals).
type SignalRouter interface {
	// Sent calls SignalSending of every supervisor, with send called
	// once, in the right place.
	Sent(tgid int32, cont bool, send func())
}

// SignalSending handles a signal about to be sent to thread group tgid
// (0: any) from inside a sandbox: send lets the sending call go. If cont
// (a SIGCONT), the calls of tgid are looked at first; after send, in a
// burst of checks. send may be nil (another supervisor sends it).
func (s *Supervisor) SignalSending(tgid int32, cont bool, send func()) {
	if cont && s.nparked.Load() > 0 {
		s.checkNow(tgid, make([]byte, 4096))
	}
	if send != nil {
		send()
	}
	if s.nparked.Load() > 0 {
		s.expedite(tgid, false)
	}
}
