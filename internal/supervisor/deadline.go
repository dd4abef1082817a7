package supervisor

import (
	"math"
	"time"

	"github.com/sembox/sembox/abi"
)

// never is the deadline of a timeout that never expires: Linux's
// KTIME_MAX, a time no timer reaches.
const never = time.Duration(math.MaxInt64)

// deadlineAfter returns the time, on the clock of now, at which the
// relative timeout ts of a call parked at time now expires, saturated at
// never as Linux does: timespec64_to_ktime gives KTIME_MAX for tv_sec >=
// KTIME_SEC_MAX (9223372036), and the relative hrtimer adds the current
// time with ktime_add_safe, which saturates at KTIME_MAX. So a huge but
// valid timeout, up to {INT64_MAX, 999999999}, waits for a wake-up or a
// signal instead of wrapping into the past and expiring at once.
//
// ts is expected to be valid (tv_sec >= 0, 0 <= tv_nsec < 1e9): the
// engine fails other values with EINVAL before a call can wait. Should
// one arrive anyway, its negative parts count as 0 and tv_nsec is capped
// at 999999999, so the result is never before now.
func deadlineAfter(now time.Duration, ts abi.Timespec) time.Duration {
	const secMax = int64(never / time.Second) // KTIME_SEC_MAX
	if ts.Sec >= secMax {
		return never
	}
	// 0 <= rel < secMax seconds: no overflow.
	rel := time.Duration(max(ts.Sec, 0))*time.Second + time.Duration(min(max(ts.Nsec, 0), int64(time.Second)-1))
	if now > never-rel {
		return never
	}
	return now + rel
}
