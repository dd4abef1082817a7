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
type CoarseClock struct {
	sec atomic.Int64
}

// coarseTick is how often CoarseClock refreshes: a 250 Hz kernel tick.
const coarseTick = 4 * time.Millisecond

// NewCoarseClock returns a running CoarseClock. It refreshes until the
// process exits.
func NewCoarseClock() *CoarseClock {
	c := &CoarseClock{}
	c.sec.Store(time.Now().Unix())
	go func() {
		for range time.Tick(coarseTick) {
			c.sec.Store(time.Now().Unix())
		}
	}()
	return c
}

// Now returns the Unix time in seconds, at most one tick old.
func (c *CoarseClock) Now() int64 { return c.sec.Load() }
