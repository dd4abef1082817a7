package sem_test

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/sembox/sembox/abi"
	"github.com/sembox/sembox/sem"
)

// BenchmarkSemopUncontended is one P and one V on a semaphore nobody else
// uses. It must not allocate. Each successful semop reads the clock for
// sem_otime, so the engine's own cost shows with clock=fake; clock=system
// adds two time.Now calls.
func BenchmarkSemopUncontended(b *testing.B) {
	for _, tc := range []struct {
		name  string
		clock sem.Clock
	}{{"clock=system", sem.SystemClock{}}, {"clock=fake", newClock(t0)}} {
		b.Run(tc.name, func(b *testing.B) {
			ns := sem.NewNamespace(tc.clock)
			tk := rootTask(1)
			id := mustGet(b, ns, tk, 1, 0o600)
			mustSetVal(b, ns, tk, id, 0, 1)
			p, v := []abi.Sembuf{sb(0, -1, 0)}, []abi.Sembuf{sb(0, 1, 0)}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := ns.Semtimedop(tk, id, p, nil, nil); err != 0 {
					b.Fatal(err)
				}
				if _, err := ns.Semtimedop(tk, id, v, nil, nil); err != 0 {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkSemgetRemove is an IPC_PRIVATE semget and IPC_RMID cycle.
func BenchmarkSemgetRemove(b *testing.B) {
	ns := sem.NewNamespace(nil)
	tk := rootTask(1)
	b.ReportAllocs()
	for b.Loop() {
		id, err := ns.Semget(tk, abi.IPC_PRIVATE, 1, 0o600)
		if err != 0 {
			b.Fatal(err)
		}
		if err := ns.Remove(tk, id); err != 0 {
			b.Fatal(err)
		}
	}
}

// BenchmarkWakeOneAmong10000 parks N waiters on other semaphores of a
// 10001-semaphore set, then measures a P that blocks on semaphore 0 plus
// the V that wakes it. The cost must not depend on N: compare parked=100
// with parked=10000.
func BenchmarkWakeOneAmong10000(b *testing.B) {
	for _, parked := range []int{100, 10000} {
		b.Run(fmt.Sprintf("parked=%d", parked), func(b *testing.B) {
			ns := sem.NewNamespace(nil)
			tk := rootTask(1)
			id := mustGet(b, ns, tk, 10001, 0o600)
			for i := 1; i <= parked; i++ {
				w := &sem.Waiter{}
				block(b, ns, tk, id, w, sb(uint16(i), -1, 0))
			}
			woken := 0
			w := &sem.Waiter{Done: func(*sem.Waiter) { woken++ }}
			p, v := []abi.Sembuf{sb(0, -1, 0)}, []abi.Sembuf{sb(0, 1, 0)}
			b.ReportAllocs()
			for b.Loop() {
				if blocked, err := ns.Semtimedop(tk, id, p, nil, w); !blocked || err != 0 {
					b.Fatalf("P did not block: %v %v", blocked, err)
				}
				if _, err := ns.Semtimedop(tk, id, v, nil, nil); err != 0 {
					b.Fatal(err)
				}
			}
			if woken != b.N {
				b.Fatalf("woken %d times in %d iterations", woken, b.N)
			}
		})
	}
}

// buildMillion fills ns with 1000 sets of 1000 semaphores.
func buildMillion(tb testing.TB, ns *sem.Namespace) {
	tk := rootTask(1)
	for range 1000 {
		mustGet(tb, ns, tk, 1000, 0o600)
	}
}

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// bytesPerSemaphore measures the heap a namespace of 1,000,000 semaphores
// takes, the namespace itself included.
func bytesPerSemaphore(tb testing.TB) float64 {
	before := heapInUse()
	ns := sem.NewNamespace(nil)
	buildMillion(tb, ns)
	after := heapInUse()
	runtime.KeepAlive(ns)
	return float64(after-before) / 1e6
}

// BenchmarkMemoryPerSemaphore reports the heap cost of an idle semaphore
// (B/sem; target: at most 16).
func BenchmarkMemoryPerSemaphore(b *testing.B) {
	var perSem float64
	for b.Loop() {
		perSem = bytesPerSemaphore(b)
	}
	b.ReportMetric(perSem, "B/sem")
}

// TestMemoryPerSemaphore holds the engine to 16 bytes per idle semaphore.
func TestMemoryPerSemaphore(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("measures the heap")
	}
	if got := bytesPerSemaphore(t); got > 16 {
		t.Errorf("a namespace of 1,000,000 semaphores costs %.1f bytes per semaphore, want at most 16", got)
	} else {
		t.Logf("%.2f bytes per semaphore", got)
	}
}

// TestNoAllocations checks that the hot paths do not allocate: an
// uncontended P and V, and a P that blocks plus the V that wakes it with a
// reused Waiter.
func TestNoAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector changes allocations")
	}
	ns := sem.NewNamespace(nil)
	tk := rootTask(1)
	id := mustGet(t, ns, tk, 2, 0o600)
	mustSetVal(t, ns, tk, id, 0, 1)
	p, v := []abi.Sembuf{sb(0, -1, 0)}, []abi.Sembuf{sb(0, 1, 0)}
	if n := testing.AllocsPerRun(1000, func() {
		ns.Semtimedop(tk, id, p, nil, nil)
		ns.Semtimedop(tk, id, v, nil, nil)
	}); n != 0 {
		t.Errorf("uncontended P+V: %v allocations, want 0", n)
	}
	mustSetVal(t, ns, tk, id, 0, 0)
	w := &sem.Waiter{Done: func(*sem.Waiter) {}}
	wake := func() {
		if blocked, _ := ns.Semtimedop(tk, id, p, nil, w); !blocked {
			t.Fatal("P did not block")
		}
		ns.Semtimedop(tk, id, v, nil, nil)
	}
	wake() // the first wait allocates the per-semaphore queues
	if n := testing.AllocsPerRun(1000, wake); n != 0 {
		t.Errorf("blocking P + waking V: %v allocations, want 0", n)
	}
	un := []abi.Sembuf{sb(1, 1, abi.SEM_UNDO)}
	unv := []abi.Sembuf{sb(1, -1, abi.SEM_UNDO)}
	ns.Semtimedop(tk, id, un, nil, nil) // the first SEM_UNDO allocates the undo entry
	ns.Semtimedop(tk, id, unv, nil, nil)
	if n := testing.AllocsPerRun(1000, func() {
		ns.Semtimedop(tk, id, un, nil, nil)
		ns.Semtimedop(tk, id, unv, nil, nil)
	}); n != 0 {
		t.Errorf("P+V with SEM_UNDO: %v allocations, want 0", n)
	}
}
