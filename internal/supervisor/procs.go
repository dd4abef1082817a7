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
// check. With one P per CPU they can hold every P of a 2-CPU machine, and
// a goroutine made ready meanwhile (the watcher kicked by a trapped kill,
// a worker handed the receive turn) waited for the monitor: signal→EINTR
// latency had a p99 of 8-17 ms (2-vCPU AMD guest, Linux 6.18,
// 2026-12-05), 0.8-2.6 ms with two more Ps. So each serving supervisor
// adds Ps for its blocking threads, on top of what the process had.
const blockingThreads = 2

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
