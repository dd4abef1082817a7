package supervisor

import (
	"sync"
	"sync/atomic"
)

// ArrivalOrder makes the engine steps of received calls happen in the
// order the calls were received, as the kernel performs them in the order
// their callers entered it. The supervisors of one namespace share one
// (Config.Order), so that the order holds across its members too: within
// one listener the order of receipt is the order of the traps; across
// listeners it is as close as the receiving threads' wake-ups.
//
// Without it a call that needs slow preparation (the first call of a
// thread reads its identity from /proc, tens of microseconds) could take
// effect after a later call that another worker received and served
// meanwhile: a child's semop, trapped first, would then meet the set its
// parent removed afterwards (EINVAL instead of EIDRM).
//
// Each call that may reach the engine draws a ticket as soon as its worker
// has received it, while it holds the listener's receive turn, so tickets
// follow the listener's order. A call takes
// its engine step only when its ticket comes up (wait) and passes the turn
// to the next ticket afterwards (done). Preparation is not ordered, and
// receiving goes on meanwhile: a worker yields the receive turn before
// anything slow and before waiting for its ticket.
//
// A ticket whose call turns out to need no engine step (an open that is
// not of a semaphore view, a call whose caller died) is skipped: it is
// passed over when its turn comes, without waiting for it.
//
// On the fast path (one call in flight) a call's ticket is already up when
// it asks: wait and done are an atomic load and store, and a load of
// npending.
//
// The zero value is ready to use.
type ArrivalOrder struct {
	// drawn counts the tickets handed out.
	drawn atomic.Uint64

	// next is the ticket whose engine step may run now.
	next atomic.Uint64

	// npending counts the entries of waiting and skipped. A worker adds
	// one (under mu) and then reads next; done stores next and then reads
	// npending: one of the two always sees the other.
	npending atomic.Int32

	// mu protects waiting and skipped.
	mu sync.Mutex
	// waiting maps a ticket to the channel of the worker waiting for it.
	waiting map[uint64]chan struct{}
	// skipped holds the tickets skipped before their turn.
	skipped map[uint64]struct{}
}

// draw hands out the next ticket.
// Precondition: the caller holds its listener's receive turn.
func (o *ArrivalOrder) draw() uint64 {
	return o.drawn.Add(1) - 1
}

// wait returns once ticket t may take its engine step. wake is the
// caller's own channel (buffered, capacity 1, empty).
func (o *ArrivalOrder) wait(t uint64, wake chan struct{}) {
	if o.next.Load() == t {
		return
	}
	o.mu.Lock()
	if o.waiting == nil {
		o.waiting = make(map[uint64]chan struct{})
	}
	o.waiting[t] = wake
	o.npending.Add(1)
	if o.next.Load() == t {
		delete(o.waiting, t)
		o.npending.Add(-1)
		o.mu.Unlock()
		return
	}
	o.mu.Unlock()
	<-wake
}

// done ends ticket t's engine step and lets the next ticket's run. Only
// done moves next without holding mu, and only from t, which nobody else
// moves it from.
// Precondition: wait(t) has returned.
func (o *ArrivalOrder) done(t uint64) {
	o.next.Store(t + 1)
	if o.npending.Load() == 0 {
		return
	}
	o.mu.Lock()
	if o.next.Load() == t+1 { // not advanced past skipped tickets already
		o.advanceLocked(t + 1)
	}
	o.mu.Unlock()
}

// skip passes ticket t over: its call takes no engine step. It does not
// wait for t's turn.
func (o *ArrivalOrder) skip(t uint64) {
	o.mu.Lock()
	if o.skipped == nil {
		o.skipped = make(map[uint64]struct{})
	}
	o.skipped[t] = struct{}{}
	o.npending.Add(1)
	if o.next.Load() == t {
		o.advanceLocked(t)
	}
	o.mu.Unlock()
}

// advanceLocked makes ticket t, whose turn it is, or the first ticket
// after it that was not skipped, the one whose turn it is, and wakes its
// worker if it waits.
// Precondition: o.mu is held and next is t.
//
// next is stored only if skipped tickets moved it: when t itself was not
// skipped, its worker may be past a fast-path wait and in its own done,
// storing t+1 concurrently, and storing t again would move next back.
func (o *ArrivalOrder) advanceLocked(t uint64) {
	from := t
	for {
		if _, ok := o.skipped[t]; !ok {
			break
		}
		delete(o.skipped, t)
		o.npending.Add(-1)
		t++
	}
	if t != from {
		o.next.Store(t)
	}
	if wake, ok := o.waiting[t]; ok {
		delete(o.waiting, t)
		o.npending.Add(-1)
		wake <- struct{}{}
	}
}
