package supervisor

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"os"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Timers armed inside the sandbox send their signal at a time the
// supervisor can know in advance: alarm and setitimer(ITIMER_REAL) send
// SIGALRM to the process, timer_settime the signal its timer_create
// chose. The filter traps these calls (TimerSyscalls); the supervisor
// reads the new expiry, lets the call continue unchanged, and when the
// timer fires hurries the signal checks of the process's parked calls, as
// for a signal sent from inside (expedite): a semop that an alarm() was
// set to cut short ends with EINTR within microseconds of the alarm
// rather than at the next poll.
//
// Not followed: ITIMER_VIRTUAL and ITIMER_PROF, and POSIX timers on CPU
// clocks, whose expiry depends on CPU time the process will use (their
// signals are found by polling, as signals sent from outside); timers a
// process deletes or that exec or exit removes are not forgotten at once,
// only their next expiry then costs one needless look.

// itimerval and itimerspec as the 64-bit ABIs lay them out: an interval
// then a value, each two 64-bit words (seconds, then micro- or
// nanoseconds).
const timerArgSize = 32

// timerKey names one timer of a process: its real-time interval timer
// (alarm and setitimer(ITIMER_REAL) share it), or a POSIX timer.
type timerKey struct {
	tgid  int32
	posix bool
	id    int32 // the POSIX timer's id
}

// armedTimer is a timer the supervisor follows.
type armedTimer struct {
	t        *time.Timer
	expiry   time.Duration // its next expiry, a now() value
	interval time.Duration // 0: fires once
}

// minTimerInterval bounds how often a periodic timer makes the
// supervisor look: faster timers are followed at this rate.
const minTimerInterval = time.Millisecond

// timerLead is how long before a timer's expiry the supervisor plans the
// burst of checks at the expiry, which the watcher then sleeps to on its
// sleeper (to the microsecond): Go's timers come late, by 0.5-1.7 ms
// here (2-vCPU AMD guest, Linux 6.18; with a 1 ms lead the burst came
// after the expiry in half the trials).
const timerLead = 4 * time.Millisecond

// timers holds the timers the sandbox's processes armed.
type timers struct {
	mu sync.Mutex // protects armed and tgids
	// armed maps each followed timer to its Go timer.
	armed map[timerKey]*armedTimer
	// tgids caches the thread group of threads that armed a timer
	// without ever making a semaphore call (bounded: cleared when full).
	tgids map[int32]int32
}

const maxCachedTgids = 4096

// serveTimer lets a trapped timer-arming call in w.n continue, after
// noting when the timer will fire. It reports false if the call is not
// one of TimerSyscalls.
func (w *worker) serveTimer() bool {
	s, n := w.s, &w.n
	a := &n.Data.Args
	var (
		key      timerKey
		value    time.Duration // until the first expiry; 0: disarmed
		interval time.Duration
		ok       bool
	)
	tid := int32(n.PID)
	switch n.Data.Nr {
	case sysAlarm:
		key, value, ok = timerKey{}, time.Duration(uint32(a[0]))*time.Second, true
	case unix.SYS_SETITIMER:
		if a[0] != unix.ITIMER_REAL || a[1] == 0 {
			break
		}
		var b [timerArgSize]byte
		m := taskMemory{tid: tid}
		if m.CopyIn(a[1], b[:]) != 0 {
			break // the kernel fails it with EFAULT
		}
		interval, value, ok = timeval(b[0:16]), timeval(b[16:32]), true
	case unix.SYS_TIMER_SETTIME:
		if a[2] == 0 {
			break
		}
		var b [timerArgSize]byte
		m := taskMemory{tid: tid}
		if m.CopyIn(a[2], b[:]) != 0 {
			break
		}
		interval, value = timespec(b[0:16]), timespec(b[16:32])
		key = timerKey{posix: true, id: int32(a[0])}
		ok = true
		if value > 0 {
			value, ok = s.posixTimerDelay(tid, key.id, a[1]&unix.TIMER_ABSTIME != 0, b[16:32], value)
		}
	default:
		return false
	}
	w.continueCall()
	if !ok || value < 0 {
		return true
	}
	tgid := s.tgidOf(tid)
	if tgid <= 0 {
		return true
	}
	key.tgid = tgid
	s.timers.arm(s, key, value, interval)
	return true
}

// arm follows timer key: it fires after value, then every interval (if
// not 0); value 0 disarms it.
func (ts *timers) arm(s *Supervisor, key timerKey, value, interval time.Duration) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if old := ts.armed[key]; old != nil {
		old.t.Stop()
		delete(ts.armed, key)
	}
	if value == 0 {
		return
	}
	if ts.armed == nil {
		ts.armed = make(map[timerKey]*armedTimer)
	}
	if interval > 0 {
		interval = max(interval, minTimerInterval)
	}
	at := &armedTimer{expiry: now() + value, interval: interval}
	at.t = time.AfterFunc(max(value-timerLead, 0), func() { ts.fired(s, key, at) })
	ts.armed[key] = at
}

// fired runs shortly before timer key (followed as at) expires: the
// process's parked calls are looked at in a burst from its expiry on,
// the signal being pending then or within microseconds.
func (ts *timers) fired(s *Supervisor, key timerKey, at *armedTimer) {
	gone := s.knownThread(key.tgid) == nil && !s.timerOwnerAlive(key.tgid)
	ts.mu.Lock()
	current := ts.armed[key] == at
	expiry := at.expiry
	if current && (at.interval == 0 || gone) {
		delete(ts.armed, key)
	} else if current {
		at.expiry += at.interval
		if t := now(); at.expiry < t { // fell behind: skip to the next one
			at.expiry += (t - at.expiry + at.interval - 1) / at.interval * at.interval
		}
		at.t.Reset(max(at.expiry-now()-timerLead, 0))
	}
	ts.mu.Unlock()
	if current && !gone && s.nparked.Load() > 0 {
		s.expediteAt(key.tgid, expiry)
	}
}

// stopAll stops following every timer (the supervisor is ending).
func (ts *timers) stopAll() {
	ts.mu.Lock()
	for k, at := range ts.armed {
		at.t.Stop()
		delete(ts.armed, k)
	}
	ts.mu.Unlock()
}

// timerOwnerAlive reports whether thread group tgid, not known to the
// supervisor, still exists.
func (s *Supervisor) timerOwnerAlive(tgid int32) bool {
	return unix.Kill(int(tgid), 0) != unix.ESRCH
}

// tgidOf returns the thread group of thread tid (0 if it is gone).
func (s *Supervisor) tgidOf(tid int32) int32 {
	if th := s.knownThread(tid); th != nil {
		return th.proc.tgid
	}
	ts := &s.timers
	ts.mu.Lock()
	tgid, ok := ts.tgids[tid]
	ts.mu.Unlock()
	if ok {
		return tgid
	}
	var st taskStatus
	if readTaskStatus(tid, make([]byte, 4096), &st) != nil || st.tgid <= 0 {
		return 0
	}
	ts.mu.Lock()
	if ts.tgids == nil || len(ts.tgids) >= maxCachedTgids {
		ts.tgids = make(map[int32]int32)
	}
	ts.tgids[tid] = st.tgid
	ts.mu.Unlock()
	return st.tgid
}

// posixTimerDelay returns how long until POSIX timer id of tid's process
// first fires, for a timer_settime whose new value (relative, or absolute
// if abs; raw the timespec as given) is value; ok is false for a timer
// whose expiry does not follow from the clock (a CPU-time clock) or that
// sends no signal. The clock and the notification are read from
// /proc/TID/timers; if that fails the timer is taken as a relative
// CLOCK_MONOTONIC one that signals.
func (s *Supervisor) posixTimerDelay(tid, id int32, abs bool, raw []byte, value time.Duration) (time.Duration, bool) {
	clock, notify := posixTimerInfo(tid, id)
	if clock < 0 || clock == unix.CLOCK_PROCESS_CPUTIME_ID || clock == unix.CLOCK_THREAD_CPUTIME_ID {
		return 0, false
	}
	if notify == "none" {
		return 0, false
	}
	if !abs {
		return value, true
	}
	var now unix.Timespec
	if unix.ClockGettime(clock, &now) != nil {
		return 0, false
	}
	sec := int64(binary.NativeEndian.Uint64(raw[0:8]))
	nsec := int64(binary.NativeEndian.Uint64(raw[8:16]))
	d := time.Duration(sec-now.Sec)*time.Second + time.Duration(nsec-now.Nsec)
	return max(d, time.Nanosecond), true // an expiry past fires at once
}

// posixTimerInfo reads the clock and the notification kind ("signal",
// "thread", "none") of POSIX timer id from /proc/TID/timers; clock is
// CLOCK_MONOTONIC and notify "signal" if it cannot.
func posixTimerInfo(tid, id int32) (clock int32, notify string) {
	clock, notify = unix.CLOCK_MONOTONIC, "signal"
	f, err := os.Open("/proc/" + strconv.Itoa(int(tid)) + "/timers")
	if err != nil {
		return
	}
	defer f.Close()
	return parseTimers(bufio.NewScanner(f), id, clock, notify)
}

// parseTimers finds timer id in the text of /proc/PID/timers:
//
//	ID: 0
//	signal: 14/0000000000000000
//	notify: signal/pid.1234
//	ClockID: 1
//
// and returns its ClockID and the kind of its notify line; the defaults
// if it is not there.
func parseTimers(sc *bufio.Scanner, id int32, clock int32, notify string) (int32, string) {
	in := false
	for sc.Scan() {
		k, v, ok := bytes.Cut(sc.Bytes(), []byte(": "))
		if !ok {
			continue
		}
		switch string(k) {
		case "ID":
			n, err := strconv.Atoi(string(v))
			in = err == nil && int32(n) == id
		case "notify":
			if in {
				kind, _, _ := bytes.Cut(v, []byte("/"))
				notify = string(kind)
			}
		case "ClockID":
			if in {
				if n, err := strconv.Atoi(string(v)); err == nil {
					clock = int32(n)
				}
			}
		}
	}
	return clock, notify
}

// timeval and timespec read an interval (seconds and micro- or
// nanoseconds, 64 bits each); an invalid one (negative, or a fraction
// of a second out of range, which the kernel refuses) reads as -1.
func timeval(b []byte) time.Duration  { return duration(b, time.Microsecond, 1e6) }
func timespec(b []byte) time.Duration { return duration(b, time.Nanosecond, 1e9) }

func duration(b []byte, unit time.Duration, perSec int64) time.Duration {
	sec := int64(binary.NativeEndian.Uint64(b[0:8]))
	frac := int64(binary.NativeEndian.Uint64(b[8:16]))
	if sec < 0 || frac < 0 || frac >= perSec {
		return -1
	}
	const maxSec = int64(1<<63-1) / int64(time.Second)
	if sec >= maxSec {
		return 1<<63 - 1 // never, in practice
	}
	return time.Duration(sec)*time.Second + time.Duration(frac)*unit
}
