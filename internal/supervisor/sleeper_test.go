package supervisor

import (
	"testing"
	"time"
)

// TestSleeper: a sleep lasts until the planned time, or until the
// earlier time a waker asks for; a later one changes nothing.
func TestSleeper(t *testing.T) {
	sl := newSleeper()
	if sl == nil {
		t.Skip("no timerfd")
	}
	defer sl.close()
	type ended struct{ at, asked time.Duration }
	done := make(chan ended)
	go func() {
		sl.lockThread()
		// A time already past: at once.
		t0 := now()
		sl.plan(t0 - time.Millisecond)
		sl.sleep()
		done <- ended{now() - t0, 0}
		// A short sleep ends by itself, not before its time.
		t0 = now()
		sl.plan(t0 + 2*time.Millisecond)
		sl.sleep()
		done <- ended{now() - t0, 2 * time.Millisecond}
		// Until woken.
		t0 = now()
		sl.plan(t0 + 48*time.Hour)
		sl.sleep()
		done <- ended{now() - t0, 0}
	}()
	if e := <-done; e.at > time.Second {
		t.Errorf("a past plan slept %v", e.at)
	}
	if e := <-done; e.at < e.asked || e.at > time.Second {
		t.Errorf("a sleep planned for %v lasted %v", e.asked, e.at)
	}
	// Wait for the long plan to be in place.
	for {
		sl.mu.Lock()
		u := sl.until
		sl.mu.Unlock()
		if u != 0 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	sl.wake(now() + 72*time.Hour)
	select {
	case <-done:
		t.Fatal("woken by a later time")
	case <-time.After(20 * time.Millisecond):
	}
	// Brought forward by 30 ms: not at once, and not days later.
	woke := now()
	sl.wake(woke + 30*time.Millisecond)
	select {
	case <-done:
		if d := now() - woke; d < 30*time.Millisecond {
			t.Errorf("brought forward to 30 ms ahead, it returned after %v", d)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a sleep brought forward did not end")
	}
	sl.mu.Lock()
	u := sl.until
	sl.mu.Unlock()
	if u != 0 {
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
