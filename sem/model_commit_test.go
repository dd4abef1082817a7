package sem_test

import (
	"slices"
	"testing"

	"github.com/sembox/sembox/abi"
	"github.com/sembox/sembox/sem"
)

// The model side of Waiter.Commit. A waiter with a Commit hook is given,
// when it is created, whether the hook accepts or refuses. The model
// performs a committed call on a copy of the state it keeps aside; when the
// hook refuses, it puts the copy back and ends the waiter with EINTR
// (through Done for a completion on its behalf, as the result of its own
// call otherwise). From then on the model goes on exactly as one in which
// the waiter had never been queued: the wake-up scan skips it and what
// follows sees the state as it was before it. The driver compares the
// engine with it after every step: values, sempids, otime, GETNCNT and
// GETZCNT, every adjustment, each waiter's result and Done and Commit
// calls.

// commitStats counts the model's Commit calls, for TestModelCommit's log:
// [own call, on behalf] × [accepted, refused].
var commitStats [2][2]int

// performCommit is perform for a call whose waiter w may have a Commit
// hook: on success the hook is "called", and if it refuses, the state is
// restored and the result is EINTR.
func (m *model) performCommit(s *mSet, sops []abi.Sembuf, task int, w *mWaiter) (int, sem.Errno) {
	if w == nil || !w.commit {
		return m.perform(s, sops, task)
	}
	vals, pids := slices.Clone(s.vals), slices.Clone(s.pids)
	adj := slices.Clone(m.undo[task][s.id])
	blockAt, err := m.perform(s, sops, task)
	if blockAt >= 0 || err != 0 {
		return blockAt, err
	}
	w.commits++
	behalf, refused := 0, 0
	if w.set != nil { // queued: set by semop only when it blocks
		behalf = 1
	}
	if w.refuse {
		refused = 1
	}
	commitStats[behalf][refused]++
	if !w.refuse {
		return -1, 0
	}
	s.vals, s.pids = vals, pids
	if adj != nil {
		m.undo[task][s.id] = adj
	}
	return -1, sem.EINTR
}

// addCommit gives a new blocking call a Commit hook, or not: none, one
// that accepts, or one that refuses, one in four, four and two.
func (d *driver) addCommit(dw *driverWaiter) {
	switch d.pick(4) {
	case 0:
		return
	case 1:
		dw.mw.commit = true
	default:
		dw.mw.commit, dw.mw.refuse = true, true
	}
	dw.ew.Commit = func(w *sem.Waiter) bool {
		dw.commits++
		if w != dw.ew || w.Err != 0 {
			d.fail("waiter %d: Commit(%p) with Err %s, want its own Waiter %p and OK", dw.mw.n, w, errName(w.Err), dw.ew)
		}
		return !dw.mw.refuse
	}
}

func commitNote(w *mWaiter) string {
	switch {
	case w.refuse:
		return ", Commit refuses"
	case w.commit:
		return ", Commit accepts"
	}
	return ""
}

// TestModelCommit is TestModel with Commit hooks on blocking calls, half
// of which refuse.
func TestModelCommit(t *testing.T) {
	commitStats = [2][2]int{}
	defer func() {
		t.Logf("Commit calls: own call %d accepted, %d refused; on behalf %d accepted, %d refused",
			commitStats[0][0], commitStats[0][1], commitStats[1][0], commitStats[1][1])
	}()
	runModel(t, 0xc0317, true)
}

// FuzzModelCommit is TestModelCommit driven by the fuzzer's bytes.
func FuzzModelCommit(f *testing.F) { fuzzModel(f, 2, true) }
