package supervisor

import (
	"runtime"
	"sync"
)

// Go's scheduler runs goroutines on Ps (GOMAXPROCS of them, by default
// one per CPU), and a thread blocked in a system call keeps its P until
// the runtime's monitor takes it back: at once if other goroutines wait
// for one, but the monitor looks only every 20 µs to 10 ms, the longer
// the quieter the process has been. A supervisor has two threads that
// block in the kernel for long, over and over: the worker waiting in
// SECCOMP_IOCTL_NOTIF_RECV and the watcher sleeping until its next
// check. On a 2-CPU machine they can hold every P, and a goroutine made
// ready meanwhile (the watcher kicked by a trapped kill, a worker handed
// the receive turn) waits for the monitor. So each serving supervisor
// adds a P, on top of what the process had, for a goroutine to run on
// while both are blocked.
//
// Measured (2-vCPU AMD guest, Linux 6.18, 2026-12-05; 4 runs each of
// bench/siglat kill, 300 trials, and bench/sigflood, 2 s): signal→EINTR
// p99 3.9-9.1 ms with no P added, 0.4-2.3 ms with one, 0.5-1.1 ms with
// two; but semops done under sigflood's ~5,000 signals/s fell from
// 15.6-16.3k to 14.2-14.9k with one and 13.7-14.6k with two (more
// threads running Go code at once on two CPUs).
const procsPerSupervisor = 1

// maxExtraProcs bounds the Ps added for all the supervisors of a process
// (a server with many members): past it, busy members' blocked threads
// share them.
const maxExtraProcs = 16

// procReserve counts the Ps the serving supervisors have asked for.
var procReserve struct {
	mu    sync.Mutex
	base  int // GOMAXPROCS before the first reservation
	extra int // Ps asked for, by all supervisors
}

// reserveProcs adds n Ps (n < 0: gives them back) for threads that block
// in the kernel. Changing GOMAXPROCS stops the world for a moment; it is
// done when a supervisor starts and when it is released.
func reserveProcs(n int) {
	r := &procReserve
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.extra == 0 {
		r.base = runtime.GOMAXPROCS(0)
	}
	r.extra += n
	runtime.GOMAXPROCS(r.base + min(r.extra, maxExtraProcs))
}
