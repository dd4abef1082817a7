package supervisor

import (
	"sync/atomic"
	"time"
)

// CoarseClock is a sem.Clock that reads the wall clock a few times a
// second instead of on every call, like the kernel's
// ktime_get_real_seconds (updated once per tick) that sem_otime and
// sem_ctime come from. Reading the time costs ~150 ns on this kind of VM
// (kvm-clock), more than a whole uncontended semop in the engine.
//
// The value has a resolution of one second, so it is refreshed just after
// each second boundary (the kernel's is up to a tick late there too), and
// at least every coarseTick so that a step of the wall clock is seen
// soon. (It used to tick at 250 Hz: a goroutine wake-up every 4 ms that,
// on a 2-CPU machine, often preempted the very call being served.)
//
// It ticks only while it is used: a tick that finds no Now since the one
// before stops the ticking (a timer costs an idle sandbox's supervisor Go
// runtime wake-ups), and the next Now reads the time itself and starts it
// again.
type CoarseClock struct {
	sec  atomic.Int64
	used atomic.Bool // Now was called since the last tick
	idle atomic.Bool // the ticking has stopped; the next Now restarts it
	wake chan struct{}
}

// coarseTick is the longest time between two refreshes of a CoarseClock
// in use.
const coarseTick = 100 * time.Millisecond

// NewCoarseClock returns a running CoarseClock. It refreshes until the
// process exits.
func NewCoarseClock() *CoarseClock {
	c := &CoarseClock{wake: make(chan struct{}, 1)}
	now := time.Now()
	c.sec.Store(now.Unix())
	go c.tick(now)
	return c
}

// untilRefresh returns how long after now the clock refreshes next: at the
// next second boundary, or after coarseTick if that comes first.
func untilRefresh(now time.Time) time.Duration {
	return min(time.Second-time.Duration(now.Nanosecond()), coarseTick)
}

func (c *CoarseClock) tick(now time.Time) {
	t := time.NewTimer(untilRefresh(now))
	for range t.C {
		if c.used.Swap(false) {
			now := time.Now()
			c.sec.Store(now.Unix())
			t.Reset(untilRefresh(now))
			continue
		}
		// Unused for a tick: stop until Now is called. A Now racing
		// with this saw idle false and got a value at most a tick old.
		c.idle.Store(true)
		<-c.wake
		t.Reset(untilRefresh(time.Now()))
	}
}

// Now returns the Unix time in seconds: refreshed as each second begins
// (late by the timer's wake-up latency), and within coarseTick of a step
// of the wall clock.
func (c *CoarseClock) Now() int64 {
	if c.idle.Load() && c.idle.CompareAndSwap(true, false) {
		c.sec.Store(time.Now().Unix())
		select {
		case c.wake <- struct{}{}:
		default:
		}
	}
	if !c.used.Load() {
		c.used.Store(true)
	}
	return c.sec.Load()
}
