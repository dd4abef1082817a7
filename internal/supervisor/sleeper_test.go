package supervisor

import (
	"testing"
	"time"
)

func TestSleeper(t *testing.T) {
	sl := newSleeper()
	if sl == nil {
		t.Skip("no eventfd")
	}
	defer sl.close()
	done := make(chan bool)
	go func() {
		sl.lockThread()
		// A time already past: at once, not woken.
		sl.plan(now() - time.Millisecond)
		if sl.sleep() {
			t.Error("a past plan reported a wake-up")
		}
		// A short sleep ends by itself.
		sl.plan(now() + 100*time.Microsecond)
		if sl.sleep() {
			t.Error("a short sleep reported a wake-up")
		}
		done <- true
		// Until woken.
		sl.plan(now() + 48*time.Hour)
		done <- sl.sleep()
	}()
	<-done
	// wake(t) for a later time than planned does nothing; for an
	// earlier one (or 0) it wakes. Wait for the plan to be in place.
	for sl.until.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	sl.wake(now() + 72*time.Hour)
	select {
	case <-done:
		t.Fatal("woken by a later time")
	case <-time.After(20 * time.Millisecond):
	}
	sl.wake(now())
	if !<-done {
		t.Fatal("sleep did not report the wake-up")
	}
	if sl.until.Load() != 0 {
		t.Fatal("until not cleared after the sleep")
	}
}

// TestCoarseClockIdle: a clock left unused stops ticking, and the next Now
// is current again.
func TestCoarseClockIdle(t *testing.T) {
	c := NewCoarseClock()
	c.Now()
	for !c.idle.Load() {
		time.Sleep(coarseTick)
	}
	c.sec.Store(1) // as if stale: Now must read the time itself
	if got, want := c.Now(), time.Now().Unix(); got < want-1 || got > want+1 {
		t.Fatalf("Now after idle = %d, want about %d", got, want)
	}
	if c.idle.Load() {
		t.Fatal("still idle after Now")
	}
}
