package supervisor

import (
	"sync/atomic"
	"time"
)

// CoarseClock is a sem.Clock that reads the wall clock every few
// milliseconds instead of on every call, like the kernel's
// ktime_get_real_seconds (updated once per tick) that sem_otime and
// sem_ctime come from. Reading the time costs ~150 ns on this kind of VM
// (kvm-clock), more than a whole uncontended semop in the engine.
//
// It ticks only while it is used: a tick that finds no Now since the one
// before stops the ticking (a timer firing 250 times a second costs an
// idle sandbox's supervisor about 1-2% of a CPU in Go runtime wake-ups),
// and the next Now reads the time itself and starts it again.
type CoarseClock struct {
	sec  atomic.Int64
	used atomic.Bool // Now was called since the last tick
	idle atomic.Bool // the ticking has stopped; the next Now restarts it
	wake chan struct{}
}

// coarseTick is how often CoarseClock refreshes: a 250 Hz kernel tick.
const coarseTick = 4 * time.Millisecond

// NewCoarseClock returns a running CoarseClock. It refreshes until the
// process exits.
func NewCoarseClock() *CoarseClock {
	c := &CoarseClock{wake: make(chan struct{}, 1)}
	c.sec.Store(time.Now().Unix())
	go c.tick()
	return c
}

func (c *CoarseClock) tick() {
	t := time.NewTicker(coarseTick)
	for range t.C {
		if c.used.Swap(false) {
			c.sec.Store(time.Now().Unix())
			continue
		}
		// Unused for a tick: stop until Now is called. A Now racing
		// with this saw idle false and got a value at most a tick old.
		t.Stop()
		c.idle.Store(true)
		<-c.wake
		t.Reset(coarseTick)
	}
}

// Now returns the Unix time in seconds, at most one tick old.
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
