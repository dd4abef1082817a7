package supervisor

import (
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"
)

// TestArrivalOrder draws tickets in order and lets goroutines reach wait
// (or skip, for one ticket in four) in a random order, after random
// delays: the steps must run one at a time, in ticket order, and every
// ticket not skipped must run.
func TestArrivalOrder(t *testing.T) {
	for round := range 50 {
		var o ArrivalOrder
		const n = 64
		tickets := make([]uint64, n)
		for i := range tickets {
			tickets[i] = o.draw()
		}
		var (
			mu      sync.Mutex
			ran     []uint64
			running int
			wg      sync.WaitGroup
		)
		r := rand.New(rand.NewPCG(uint64(round), 1))
		var want []uint64
		skip := make([]bool, n)
		for i := range skip {
			if skip[i] = r.IntN(4) == 0; !skip[i] {
				want = append(want, tickets[i])
			}
		}
		for _, i := range r.Perm(n) {
			delay := time.Duration(r.IntN(200)) * time.Microsecond
			wg.Add(1)
			go func(tk uint64, skip bool) {
				defer wg.Done()
				time.Sleep(delay)
				if skip {
					o.skip(tk)
					return
				}
				o.wait(tk, make(chan struct{}, 1))
				mu.Lock()
				running++
				if running != 1 {
					t.Errorf("ticket %d: %d steps at once", tk, running)
				}
				ran = append(ran, tk)
				running--
				mu.Unlock()
				o.done(tk)
			}(tickets[i], skip[i])
		}
		wg.Wait()
		if !slices.Equal(ran, want) {
			t.Fatalf("round %d: ran %v, want %v", round, ran, want)
		}
		if o.next.Load() != n {
			t.Fatalf("round %d: next is %d, want %d", round, o.next.Load(), n)
		}
		if o.npending.Load() != 0 || len(o.waiting) != 0 || len(o.skipped) != 0 {
			t.Fatalf("round %d: %d still registered", round, o.npending.Load())
		}
	}
}

// TestArrivalOrderFastPath: a ticket that is up does not register.
func TestArrivalOrderFastPath(t *testing.T) {
	var o ArrivalOrder
	for range 1000 {
		tk := o.draw()
		o.wait(tk, nil) // a nil channel would block forever if used
		o.done(tk)
	}
	if o.waiting != nil {
		t.Fatal("the fast path registered a waiter")
	}
}

func BenchmarkArrivalOrderFastPath(b *testing.B) {
	var o ArrivalOrder
	wake := make(chan struct{}, 1)
	for b.Loop() {
		tk := o.draw()
		o.wait(tk, wake)
		o.done(tk)
	}
}

// TestArrivalOrderBackToBack races done against a later ticket's fast
// path: workers start in ticket order without delays, so a ticket is often
// up before its predecessor's done has finished. A done that moved next
// back to a ticket that had already run hung this test.
func TestArrivalOrderBackToBack(t *testing.T) {
	for round := range 200 {
		var o ArrivalOrder
		const n = 256
		r := rand.New(rand.NewPCG(uint64(round), 2))
		var (
			wg      sync.WaitGroup
			mu      sync.Mutex
			ran     []uint64
			want    []uint64
			stepped = make(chan struct{})
		)
		for range n {
			tk := o.draw()
			skip := r.IntN(8) == 0
			if !skip {
				want = append(want, tk)
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				if skip {
					o.skip(tk)
					return
				}
				o.wait(tk, make(chan struct{}, 1))
				mu.Lock()
				ran = append(ran, tk)
				mu.Unlock()
				o.done(tk)
			}()
		}
		go func() { wg.Wait(); close(stepped) }()
		select {
		case <-stepped:
		case <-time.After(10 * time.Second):
			mu.Lock()
			t.Fatalf("round %d: stuck after %d of %d steps, next %d", round, len(ran), len(want), o.next.Load())
		}
		if !slices.Equal(ran, want) {
			t.Fatalf("round %d: ran %v, want %v", round, ran, want)
		}
	}
}
