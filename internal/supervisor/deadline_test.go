package supervisor

import (
	"fmt"
	"math"
	"math/big"
	"testing"
	"time"

	"github.com/sembox/sembox/abi"
)

// TestDeadlineAfter checks that a relative timeout saturates as Linux's
// timespec64_to_ktime and ktime_add_safe do, instead of wrapping.
func TestDeadlineAfter(t *testing.T) {
	const hour = time.Hour
	tests := []struct {
		now  time.Duration
		sec  int64
		nsec int64
		want time.Duration
	}{
		{0, 0, 0, 0},
		{hour, 0, 0, hour},
		{hour, 0, 999999999, hour + 999999999},
		{hour, 1, 0, hour + time.Second},
		{hour, 1, 999999999, hour + 1999999999},
		{hour, 1 << 33, 0, hour + (1<<33)*time.Second},
		{hour, 1 << 33, 999999999, hour + (1<<33)*time.Second + 999999999},
		{0, 9223372035, 999999999, 9223372035999999999}, // the largest finite one
		{hour, 9223372035, 999999999, never},            // now + rel saturates
		{0, 9223372036, 0, never},                       // KTIME_SEC_MAX: KTIME_MAX
		{hour, 9223372036, 0, never},
		{hour, 9223372036, 999999999, never},
		{hour, 9223372037, 0, never},
		{hour, 9223372037, 999999999, never},
		{hour, 1 << 62, 0, never},
		{hour, 1 << 62, 999999999, never},
		{hour, math.MaxInt64, 0, never},
		{hour, math.MaxInt64, 999999999, never},
		{1 << 62, 1 << 33, 0, never},
		{1 << 62, 1 << 31, 999999999, 1<<62 + (1<<31)*time.Second + 999999999},
		{never, 0, 0, never},
		{never, 0, 1, never},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%d+%d.%09d", tc.now, tc.sec, tc.nsec), func(t *testing.T) {
			got := deadlineAfter(tc.now, abi.Timespec{Sec: tc.sec, Nsec: tc.nsec})
			if got != tc.want {
				t.Errorf("deadlineAfter = %d, want %d", got, tc.want)
			}
			// An exact model: KTIME_MAX from KTIME_SEC_MAX on, else
			// now + rel in unbounded arithmetic, capped at KTIME_MAX.
			want := never
			if tc.sec < 9223372036 {
				sum := new(big.Int).Mul(big.NewInt(tc.sec), big.NewInt(1e9))
				sum.Add(sum, big.NewInt(tc.nsec))
				sum.Add(sum, big.NewInt(int64(tc.now)))
				if sum.IsInt64() {
					want = time.Duration(sum.Int64())
				}
			}
			if got != want {
				t.Errorf("deadlineAfter = %d, model says %d", got, want)
			}
		})
	}
}

// TestDeadlineNever checks that a call parked with a timeout that never
// expires keeps being polled for signals and is never taken as timed out.
func TestDeadlineNever(t *testing.T) {
	for _, sec := range []int64{9223372036, 9223372037, 1 << 62, math.MaxInt64} {
		now := 3 * time.Hour
		c := &call{hasDeadline: true, interval: maxSignalCheck}
		c.deadline = deadlineAfter(now, abi.Timespec{Sec: sec, Nsec: 999999999})
		if c.deadline < now {
			t.Fatalf("sec %d: deadline %d is before now %d", sec, c.deadline, now)
		}
		if due := c.nextDue(now); due != now+maxSignalCheck {
			t.Errorf("sec %d: nextDue = %d, want the next signal check %d", sec, due, now+maxSignalCheck)
		}
		// What watchParked asks when the call is due.
		if timedOut := c.hasDeadline && c.deadline <= now+maxSignalCheck; timedOut {
			t.Errorf("sec %d: timed out", sec)
		}
	}
}
