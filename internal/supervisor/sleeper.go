package supervisor

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// sleeper lets one goroutine sleep until a time or until woken, to the
// microsecond. Go's timers cannot: while the process has nothing else to
// run, the runtime waits for a timer in epoll_wait, whose timeout is in
// milliseconds, so every wait shorter than a millisecond lasts one (and
// longer ones are late by up to one). The signal checks of a burst are
// due 25 µs apart, from a kill's release or a timer's expiry on; on Go
// timers each came ~1 ms late.
//
// The sleeping goroutine is locked to its thread and blocks in ppoll (a
// timeout in nanoseconds) on an eventfd that wake writes; the thread asks
// for a timer slack of 1 ns (prctl PR_SET_TIMERSLACK: a thread's
// default is 50 µs). Its thread is taken for good; a blocking system call
// does not hold up the rest of the runtime.
//
// Being woken through the kernel matters as much as the precision. A
// goroutine made ready by another (a channel send) waits for a P, and the
// ready one is queued on the waker's P: a worker that kicks the watcher
// and then blocks in SECCOMP_IOCTL_NOTIF_RECV holds that P, and with
// every P so held (two on a 2-CPU machine: the receiving worker's and
// the watcher's, asleep in ppoll) it waited for the runtime's monitor to
// take one back, up to 10 ms. Signal→EINTR p99 was 2.4-11 ms with the
// watcher's longer waits on a Go timer and kicked through a channel,
// 0.7-1.5 ms with every wait here (unpinned; pinned to one CPU 0.6-1.0
// and 0.5-0.74 ms; 3 runs of bench/siglat kill each, 2-vCPU AMD guest,
// 2026-12-05). Adding a P per supervisor instead also cut the unpinned
// tail but made the pinned one 7-14 ms. The supervisor's CPU with 1,000
// or 10,000 calls parked was the same either way (1.25-1.7%, 0.6-0.85%).
type sleeper struct {
	// mu protects efd against close while a waker writes to it (a waker
	// may come late: a signal from another member, a timer).
	mu     sync.Mutex
	efd    int
	closed bool
	// until is when the sleeping goroutine will wake by itself (a now()
	// value), or 0 while it is awake. wake writes the eventfd only if it
	// must come earlier.
	until atomic.Int64
}

// newSleeper makes a sleeper, or returns nil if the eventfd cannot be
// made (the caller falls back to Go timers).
func newSleeper() *sleeper {
	efd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		return nil
	}
	return &sleeper{efd: efd}
}

// lockThread prepares the calling goroutine to sleep: it stays on its
// thread, whose timer slack is made 1 ns and which asks to run soon
// after it is woken (preferLowLatency). Call it once, first.
func (sl *sleeper) lockThread() {
	runtime.LockOSThread()
	_ = unix.Prctl(unix.PR_SET_TIMERSLACK, 1, 0, 0, 0)
	preferLowLatency()
}

// plan records that the sleeping goroutine will sleep until t (a now()
// value; a day or more from now: until woken). Wakers that change what it waits
// for under the same lock as the one plan is called under, and call wake
// after, cannot be missed: either the plan saw their change, or they see
// the plan.
// Precondition: the lock that orders the plan against wakers' changes is
// held.
func (sl *sleeper) plan(t time.Duration) { sl.until.Store(int64(t)) }

// sleep returns at the planned time or when woken, whichever comes first;
// at once if the time has passed. It reports whether it was woken.
func (sl *sleeper) sleep() (woken bool) {
	t := time.Duration(sl.until.Load())
	defer sl.until.Store(0)
	fds := []unix.PollFd{{Fd: int32(sl.efd), Events: unix.POLLIN}}
	for {
		d := t - now()
		if d <= 0 {
			return sl.drain()
		}
		var tsp *unix.Timespec
		if d < 24*time.Hour {
			ts := unix.NsecToTimespec(int64(d))
			tsp = &ts
		}
		n, err := unix.Ppoll(fds, tsp, nil)
		if err == unix.EINTR {
			continue
		}
		if n > 0 {
			return sl.drain()
		}
		if tsp != nil {
			return false
		}
	}
}

// drain consumes a pending wake-up, reporting whether there was one.
func (sl *sleeper) drain() bool {
	var b [8]byte
	n, _ := unix.Read(sl.efd, b[:])
	return n == 8
}

// wake makes the sleeping goroutine return if it would otherwise sleep
// past t (a now() value); t = 0 wakes it in any case. It costs a system
// call only then.
func (sl *sleeper) wake(t time.Duration) {
	if u := sl.until.Load(); u != 0 && (t == 0 || int64(t) < u) {
		one := uint64(1)
		sl.mu.Lock()
		if !sl.closed {
			unix.Write(sl.efd, (*[8]byte)(unsafe.Pointer(&one))[:])
		}
		sl.mu.Unlock()
	}
}

// close releases the eventfd; later wakes do nothing.
// Precondition: nobody sleeps.
func (sl *sleeper) close() {
	sl.mu.Lock()
	sl.closed = true
	unix.Close(sl.efd)
	sl.mu.Unlock()
}
