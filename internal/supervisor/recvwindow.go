package supervisor

import (
	"fmt"
	"slices"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sembox/sembox/internal/seccomp"
)

// recvWindow measures, for benchmarks, how long trapped calls wait
// between the trap and their receipt by a worker: the window in which a
// signal cuts a call short (see receiverSlice). A caller that wants to
// be measured passes its CLOCK_MONOTONIC time in nanoseconds as the
// fourth argument of semop, which the system call ignores:
//
//	syscall(SYS_semop, id, sops, nsops, now_ns)
type recvWindow struct {
	mu      sync.Mutex
	samples []time.Duration // protected by mu
}

// note records the window of notification n if its caller stamped it.
func (r *recvWindow) note(n *seccomp.Notif) {
	if n.Data.Nr != unix.SYS_SEMOP || n.Data.Args[3] == 0 {
		return
	}
	var ts unix.Timespec
	if unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts) != nil {
		return
	}
	d := time.Duration(ts.Nano() - int64(n.Data.Args[3]))
	r.mu.Lock()
	r.samples = append(r.samples, d)
	r.mu.Unlock()
}

// report summarizes the windows measured so far.
func (r *recvWindow) report() string {
	r.mu.Lock()
	s := slices.Clone(r.samples)
	r.mu.Unlock()
	if len(s) == 0 {
		return "receive window: no stamped semop calls"
	}
	slices.Sort(s)
	q := func(p float64) float64 {
		return float64(s[min(len(s)-1, int(p*float64(len(s))))]) / 1e3
	}
	return fmt.Sprintf("receive window: n=%d p50=%.1fus p90=%.1fus p99=%.1fus p99.9=%.1fus max=%.1fus",
		len(s), q(0.5), q(0.9), q(0.99), q(0.999), float64(s[len(s)-1])/1e3)
}

// RecvWindowReport summarizes the receive windows measured (see
// Config.MeasureRecvWindow), or returns "" if they are not measured.
func (s *Supervisor) RecvWindowReport() string {
	if s.window == nil {
		return ""
	}
	return s.window.report() + fmt.Sprintf(" (cut short before receipt: %d)", s.cut.total.Load())
}
