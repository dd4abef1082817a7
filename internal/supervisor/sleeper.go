package supervisor

import (
	"runtime"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// sleeper lets one goroutine sleep until a time that others may bring
// forward, to the microsecond, woken by the kernel.
//
// Go's timers are not precise enough: while the process has nothing else
// to run, the runtime waits for a timer in epoll_wait, whose timeout is
// in milliseconds, so a wait shorter than a millisecond lasts one and
// longer ones come up to two late. The signal checks of a burst are due
// 25 µs apart, from a kill's release or a timer's expiry on.
//
// Nor is waking a goroutine through the Go scheduler quick enough when
// the waker is a worker: a goroutine made ready by a channel send is
// queued on the waker's P, and a worker that then blocks in
// SECCOMP_IOCTL_NOTIF_RECV keeps that P; with every P so held (two on a
// 2-CPU machine: the receiving worker's and the sleeper's) the ready
// goroutine waited for the runtime's monitor to take one back, up to
// 10 ms. Signal→EINTR p99 was 2.4-11 ms with the watcher's longer waits
// on a Go timer kicked through a channel, 0.7-1.5 ms with every wait
// here (bench/siglat kill, 2-vCPU AMD guest, 2026-12-05). With a single
// P the opposite holds (see watchParked).
//
// The sleeping goroutine is locked to its thread and blocks reading a
// timerfd (CLOCK_MONOTONIC). A waker that needs it sooner re-arms the
// timer (timerfd_settime) instead of waking it: a call parked 2 ms ahead
// costs one system call, not a wake-up of the sleeping thread and its
// going back to sleep. Waking the thread for every park cost a pinned
// ping-pong half its rate.
type sleeper struct {
	// mu protects the fields below, and tfd against close while a waker
	// re-arms it (a waker may come late: a signal from another member,
	// a timer).
	mu     sync.Mutex
	tfd    int
	closed bool
	// until is when the timer will end the sleep (a now() value), or 0
	// while the sleeping goroutine is awake.
	until time.Duration
}

// newSleeper makes a sleeper, or returns nil if the timerfd cannot be
// made (the caller falls back to Go timers).
func newSleeper() *sleeper {
	tfd, err := unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_CLOEXEC)
	if err != nil {
		return nil
	}
	return &sleeper{tfd: tfd}
}

// lockThread prepares the calling goroutine to sleep: it stays on its
// thread, which asks to run soon after it is woken (preferLowLatency).
// Call it once, first.
func (sl *sleeper) lockThread() {
	runtime.LockOSThread()
	preferLowLatency()
}

// plan arms the timer for t (a now() value): the next sleep lasts until
// then, or until the earlier time a waker asks for. Wakers that change
// what the sleeper waits for under the same lock as the one plan is
// called under, and call wake after, cannot be missed: either the plan
// saw their change, or they see the plan.
// Precondition: the lock that orders the plan against wakers' changes is
// held.
func (sl *sleeper) plan(t time.Duration) {
	sl.mu.Lock()
	sl.until = t
	sl.armLocked(t)
	sl.mu.Unlock()
}

// armLocked sets the timer to expire at t (a now() value; at once if t
// has passed).
// Precondition: sl.mu is held.
func (sl *sleeper) armLocked(t time.Duration) {
	if sl.closed {
		return
	}
	d := max(t-now(), time.Nanosecond)
	v := unix.ItimerSpec{Value: unix.NsecToTimespec(int64(d))}
	_ = unix.TimerfdSettime(sl.tfd, 0, &v, nil)
}

// sleep returns when the timer expires: at the planned time or earlier
// if a waker brought it forward; at once if that time has passed.
func (sl *sleeper) sleep() {
	var b [8]byte
	for {
		_, err := unix.Read(sl.tfd, b[:])
		if err != unix.EINTR {
			break
		}
	}
	sl.mu.Lock()
	sl.until = 0
	sl.mu.Unlock()
}

// wake makes the sleeping goroutine return by t (a now() value) if it
// would otherwise sleep past it; t = 0 makes it return at once. It costs a
// system call only then.
func (sl *sleeper) wake(t time.Duration) {
	sl.mu.Lock()
	if sl.until != 0 && (t == 0 || t < sl.until) {
		if t == 0 {
			t = now()
		}
		sl.until = t
		sl.armLocked(t)
	}
	sl.mu.Unlock()
}

// close releases the timerfd; later wakes do nothing.
// Precondition: nobody sleeps.
func (sl *sleeper) close() {
	sl.mu.Lock()
	sl.closed = true
	unix.Close(sl.tfd)
	sl.mu.Unlock()
}
