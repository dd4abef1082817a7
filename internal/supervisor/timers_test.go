package supervisor

import (
	"bufio"
	"encoding/binary"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestParseTimers(t *testing.T) {
	const text = `ID: 0
signal: 14/0000000000000000
notify: signal/pid.1234
ClockID: 1
ID: 3
signal: 10/00005555deadbeef
notify: thread/tid.1240
ClockID: 0
ID: 4
signal: 0/0000000000000000
notify: none/pid.1234
ClockID: 2
`
	for _, tc := range []struct {
		id     int32
		clock  int32
		notify string
	}{
		{0, unix.CLOCK_MONOTONIC, "signal"},
		{3, unix.CLOCK_REALTIME, "thread"},
		{4, unix.CLOCK_PROCESS_CPUTIME_ID, "none"},
		{7, -99, "default"}, // not there: the defaults
	} {
		clock, notify := parseTimers(bufio.NewScanner(strings.NewReader(text)), tc.id, -99, "default")
		if clock != tc.clock || notify != tc.notify {
			t.Errorf("timer %d: clock %d notify %q, want %d %q", tc.id, clock, notify, tc.clock, tc.notify)
		}
	}
}

func TestTimerDurations(t *testing.T) {
	pair := func(a, b int64) []byte {
		buf := make([]byte, 16)
		binary.NativeEndian.PutUint64(buf[0:8], uint64(a))
		binary.NativeEndian.PutUint64(buf[8:16], uint64(b))
		return buf
	}
	for _, tc := range []struct {
		b        []byte
		val, spc time.Duration
	}{
		{pair(0, 0), 0, 0},
		{pair(1, 500000), 1500 * time.Millisecond, time.Second + 500*time.Microsecond},
		{pair(0, 999999), 999999 * time.Microsecond, 999999 * time.Nanosecond},
		{pair(0, 1000000), -1, time.Millisecond}, // usec out of range for a timeval
		{pair(0, 1000000000), -1, -1},
		{pair(-1, 0), -1, -1},
		{pair(0, -1), -1, -1},
		{pair(1<<62, 0), 1<<63 - 1, 1<<63 - 1},
	} {
		if got := timeval(tc.b); got != tc.val {
			t.Errorf("timeval(%x) = %v, want %v", tc.b, got, tc.val)
		}
		if got := timespec(tc.b); got != tc.spc {
			t.Errorf("timespec(%x) = %v, want %v", tc.b, got, tc.spc)
		}
	}
}
