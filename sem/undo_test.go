package sem_test

import (
	"slices"
	"sync"
	"testing"

	"github.com/sembox/sembox/abi"
	"github.com/sembox/sembox/sem"
)

func adj(t testing.TB, ns *sem.Namespace, tk *sem.Task, id int32) []int16 {
	t.Helper()
	return ns.Adjustments(tk.Undo, id)
}

// TestUndoAdjustments checks how SEM_UNDO operations accumulate the
// adjustment (the negated sum of the operations) and the ERANGE bound
// -32768..32767 on it. Bounds checked on Linux 6.18.
func TestUndoAdjustments(t *testing.T) {
	tests := []struct {
		name  string
		init  []uint16
		calls [][]abi.Sembuf
		errs  []sem.Errno // result of each call
		vals  []uint16
		adj   []int16 // nil: no undo entry
	}{
		{"adjustments accumulate the negated operations",
			[]uint16{0, 5}, [][]abi.Sembuf{{sb(0, 1, undo)}, {sb(0, 2, undo), sb(1, -3, undo)}, {sb(0, -1, undo)}},
			[]sem.Errno{0, 0, 0}, []uint16{2, 2}, []int16{-2, 3}},
		{"operations without SEM_UNDO do not adjust",
			[]uint16{0, 0}, [][]abi.Sembuf{{sb(0, 5, 0), sb(1, 1, undo)}}, []sem.Errno{0}, []uint16{5, 1}, []int16{0, -1}},
		{"no SEM_UNDO at all: no undo entry",
			[]uint16{0, 0}, [][]abi.Sembuf{{sb(0, 5, 0)}}, []sem.Errno{0}, []uint16{5, 0}, nil},
		{"a wait-for-zero with SEM_UNDO adjusts nothing",
			[]uint16{0, 0}, [][]abi.Sembuf{{sb(0, 0, undo)}}, []sem.Errno{0}, []uint16{0, 0}, []int16{0, 0}},
		{"the adjustment may reach -32768",
			[]uint16{0, 0}, [][]abi.Sembuf{{sb(0, 32767, undo)}, {sb(0, -1, 0)}, {sb(0, 1, undo)}},
			[]sem.Errno{0, 0, 0}, []uint16{32767, 0}, []int16{-32768, 0}},
		{"ERANGE below -32768",
			[]uint16{0, 0}, [][]abi.Sembuf{{sb(0, 32767, undo)}, {sb(0, -1, 0)}, {sb(0, 1, undo)}, {sb(0, -1, 0)}, {sb(0, 1, undo)}},
			[]sem.Errno{0, 0, 0, 0, sem.ERANGE}, []uint16{32766, 0}, []int16{-32768, 0}},
		{"the adjustment may reach 32767",
			[]uint16{32767, 0}, [][]abi.Sembuf{{sb(0, -32767, undo)}}, []sem.Errno{0}, []uint16{0, 0}, []int16{32767, 0}},
		{"ERANGE above 32767",
			[]uint16{32767, 0}, [][]abi.Sembuf{{sb(0, -32767, undo)}, {sb(0, 1, 0)}, {sb(0, -1, undo)}},
			[]sem.Errno{0, 0, sem.ERANGE}, []uint16{1, 0}, []int16{32767, 0}},
		{"ERANGE from an adjustment rolls back the whole call",
			[]uint16{32767, 0}, [][]abi.Sembuf{{sb(0, -32767, undo)}, {sb(0, 1, 0)}, {sb(1, 4, undo), sb(0, -1, undo)}},
			[]sem.Errno{0, 0, sem.ERANGE}, []uint16{1, 0}, []int16{32767, 0}},
		{"repeated sem_num in one call accumulate, bounded at each step",
			[]uint16{0, 0}, [][]abi.Sembuf{{sb(0, 30000, undo), sb(0, -30000, 0), sb(0, 30000, undo)}},
			[]sem.Errno{sem.ERANGE}, []uint16{0, 0}, []int16{0, 0}},
		{"a failed call still creates the undo entry (EAGAIN)",
			[]uint16{0, 0}, [][]abi.Sembuf{{sb(0, -1, undo|nowait)}}, []sem.Errno{sem.EAGAIN}, []uint16{0, 0}, []int16{0, 0}},
		{"a failed call still creates the undo entry (EFBIG)",
			[]uint16{0, 0}, [][]abi.Sembuf{{sb(5, 1, undo)}}, []sem.Errno{sem.EFBIG}, []uint16{0, 0}, []int16{0, 0}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ns, _ := newNS()
			tk := userTask(10, uidOwner, gidOwner)
			id := mustGet(t, ns, tk, int32(len(tc.init)), 0o600)
			mustSetAll(t, ns, tk, id, tc.init...)
			for i, c := range tc.calls {
				if err := op(ns, tk, id, c...); err != tc.errs[i] {
					t.Fatalf("call %d %v = %s, want %s", i, c, errName(err), errName(tc.errs[i]))
				}
			}
			if got := vals(t, ns, id); !slices.Equal(got, tc.vals) {
				t.Errorf("values = %v, want %v", got, tc.vals)
			}
			if got := adj(t, ns, tk, id); !slices.Equal(got, tc.adj) || (got == nil) != (tc.adj == nil) {
				t.Errorf("adjustments = %#v, want %#v", got, tc.adj)
			}
		})
	}
}

// TestExitUndo checks exit_sem: adjustments are added and clamped to
// 0..SEMVMX, sempid becomes the exiting pid for every semaphore with a
// non-zero adjustment, otime is set even if every adjustment is zero,
// ctime is left alone, and waiters are woken. Clamping and the otime rule
// checked on Linux 6.18.
func TestExitUndo(t *testing.T) {
	tests := []struct {
		name    string
		init    []uint16
		mine    [][]abi.Sembuf // the exiting task's operations
		others  [][]abi.Sembuf // another task's operations afterwards
		want    []uint16
		pids    []string // "exit", "me" (my semop), "other", "setup"
		noOtime bool     // ExitUndo must not touch otime (no undo entry)
	}{
		{"adjustments are applied", []uint16{0, 0}, [][]abi.Sembuf{{sb(0, 3, undo), sb(1, 2, undo)}, {sb(1, -1, undo)}}, nil, []uint16{0, 0}, []string{"exit", "exit"}, false},
		{"a negative result is clamped to 0", []uint16{0, 0}, [][]abi.Sembuf{{sb(0, 5, undo)}}, [][]abi.Sembuf{{sb(0, -3, 0)}}, []uint16{0, 0}, []string{"exit", "setup"}, false},
		{"a result above SEMVMX is clamped to 32767", []uint16{0, 32760}, [][]abi.Sembuf{{sb(1, -5, undo)}}, [][]abi.Sembuf{{sb(1, 10, 0)}}, []uint16{0, 32767}, []string{"setup", "exit"}, false},
		{"a zero adjustment leaves value and sempid", []uint16{4, 0}, [][]abi.Sembuf{{sb(0, 1, undo)}, {sb(0, -1, undo)}}, [][]abi.Sembuf{{sb(1, 1, 0)}}, []uint16{4, 1}, []string{"me", "other"}, false},
		{"an undo entry from a failed call still sets otime", []uint16{0, 0}, [][]abi.Sembuf{{sb(0, -1, undo|nowait)}}, nil, []uint16{0, 0}, []string{"setup", "setup"}, false},
		{"without SEM_UNDO nothing happens at exit", []uint16{0, 0}, [][]abi.Sembuf{{sb(0, 1, 0)}}, nil, []uint16{1, 0}, []string{"me", "setup"}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ns, clk := newNS()
			setup := rootTask(1)
			me := rootTask(10)
			other := rootTask(20)
			id := mustGet(t, ns, setup, int32(len(tc.init)), 0o600)
			mustSetAll(t, ns, setup, id, tc.init...)
			clk.Set(t0 + 10)
			for _, c := range tc.mine {
				op(ns, me, id, c...)
			}
			for _, c := range tc.others {
				mustOp(t, ns, other, id, c...)
			}
			before := stat(t, ns, id)
			clk.Set(t0 + 20)
			ns.ExitUndo(me.Undo, 99)
			if got := vals(t, ns, id); !slices.Equal(got, tc.want) {
				t.Errorf("values after exit = %v, want %v", got, tc.want)
			}
			pidOf := map[string]int32{"exit": 99, "me": 10, "other": 20, "setup": 1}
			for i, who := range tc.pids {
				if got := getOne(t, ns, id, int32(i), abi.GETPID); got != pidOf[who] {
					t.Errorf("GETPID(%d) = %d, want %d (%s)", i, got, pidOf[who], who)
				}
			}
			ds := stat(t, ns, id)
			wantOtime := int64(t0 + 20)
			if tc.noOtime {
				wantOtime = before.Otime
			}
			if ds.Otime != wantOtime || ds.Ctime != before.Ctime {
				t.Errorf("otime, ctime after exit = %d, %d; want %d, %d", ds.Otime, ds.Ctime, wantOtime, before.Ctime)
			}
			if got := adj(t, ns, me, id); got != nil {
				t.Errorf("adjustments after exit = %v, want none", got)
			}
			// A second ExitUndo of the emptied list changes nothing.
			clk.Set(t0 + 30)
			ns.ExitUndo(me.Undo, 98)
			if ds2 := stat(t, ns, id); ds2 != ds || !slices.Equal(vals(t, ns, id), tc.want) {
				t.Errorf("a second ExitUndo changed the set: %+v -> %+v", ds, ds2)
			}
		})
	}
}

// TestExitUndoWakesWaiters: the values an exit restores wake waiters, and
// the woken waiter's operation is performed under its own pid.
func TestExitUndoWakesWaiters(t *testing.T) {
	s := newScenario(t, 1, 0)
	s.op("E", 0, sb(0, -1, undo), sb(1, 1, undo)) // E holds sem 0 and raised sem 1
	s.block("A", sb(0, -1, 0))
	s.block("Z", sb(1, 0, 0))
	s.clk.Set(t0 + 500)
	s.ns.ExitUndo(s.task("E").Undo, s.pid("E"))
	s.wokeSet("A Z")
	s.vals(0, 0)
	s.sempid(0, "A")
	s.sempid(1, "Z")
	s.otime(t0 + 500)
}

// TestUndoClearedBySetValSetAll: SETVAL clears the adjustment of its
// semaphore in every undo list, SETALL clears all of them.
func TestUndoClearedBySetValSetAll(t *testing.T) {
	for _, tc := range []struct {
		name  string
		set   func(ns *sem.Namespace, tk *sem.Task, id int32) sem.Errno
		wantA []int16
		wantB []int16
	}{
		{"SETVAL clears one semaphore's adjustment for everyone",
			func(ns *sem.Namespace, tk *sem.Task, id int32) sem.Errno { return ns.SetVal(tk, id, 1, 7) },
			[]int16{-1, 0, -3}, []int16{-4, 0, 0}},
		{"SETALL clears every adjustment for everyone",
			func(ns *sem.Namespace, tk *sem.Task, id int32) sem.Errno {
				return ns.SetAll(tk, id, loader([]uint16{7, 7, 7}))
			},
			[]int16{0, 0, 0}, []int16{0, 0, 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ns, _ := newNS()
			a, b := rootTask(10), rootTask(20)
			id := mustGet(t, ns, a, 3, 0o600)
			mustOp(t, ns, a, id, sb(0, 1, undo), sb(1, 2, undo), sb(2, 3, undo))
			mustOp(t, ns, b, id, sb(0, 4, undo), sb(1, 5, undo))
			if err := tc.set(ns, rootTask(1), id); err != 0 {
				t.Fatal(err)
			}
			if got := adj(t, ns, a, id); !slices.Equal(got, tc.wantA) {
				t.Errorf("A's adjustments = %v, want %v", got, tc.wantA)
			}
			if got := adj(t, ns, b, id); !slices.Equal(got, tc.wantB) {
				t.Errorf("B's adjustments = %v, want %v", got, tc.wantB)
			}
			// The entries survive (with zeros): exit still sets otime.
			before := vals(t, ns, id)
			ns.ExitUndo(a.Undo, 10)
			ns.ExitUndo(b.Undo, 20)
			want := slices.Clone(before)
			for i := range want {
				want[i] = uint16(int16(want[i]) + tc.wantA[i] + tc.wantB[i])
			}
			if got := vals(t, ns, id); !slices.Equal(got, want) {
				t.Errorf("values after both exits = %v, want %v", got, want)
			}
		})
	}
}

// TestUndoDroppedByRemove: IPC_RMID discards every adjustment for the set;
// a later exit does nothing to other sets, even one that reuses the index.
func TestUndoDroppedByRemove(t *testing.T) {
	ns, clk := newNS()
	tk := rootTask(10)
	root := rootTask(1)
	id := mustGet(t, ns, root, 1, 0o600)
	keep := mustGet(t, ns, root, 1, 0o600)
	mustOp(t, ns, tk, id, sb(0, 5, undo))
	mustOp(t, ns, tk, keep, sb(0, 2, undo))
	if err := ns.Remove(root, id); err != 0 {
		t.Fatal(err)
	}
	if got := adj(t, ns, tk, id); got != nil {
		t.Errorf("adjustments for a removed set = %v, want none", got)
	}
	// Reuse index 0 (after one 64-id cycle) with a fresh set.
	var reused int32 = -1
	for i := 0; i < abi.IPC_MIN_CYCLE; i++ {
		n := mustGet(t, ns, root, 1, 0o600)
		if n&abi.IPCMNI_IDX_MASK == id&abi.IPCMNI_IDX_MASK {
			reused = n
			break
		}
		ns.Remove(root, n)
	}
	if reused < 0 || reused == id {
		t.Fatalf("index not reused: %d", reused)
	}
	mustSetVal(t, ns, root, reused, 0, 10)
	clk.Set(t0 + 7)
	ns.ExitUndo(tk.Undo, 10)
	if got := val(t, ns, reused, 0); got != 10 {
		t.Errorf("a set reusing the removed set's index changed at exit: %d, want 10", got)
	}
	if got := stat(t, ns, reused).Otime; got != 0 {
		t.Errorf("otime of the reusing set = %d, want 0", got)
	}
	if got := val(t, ns, keep, 0); got != 0 {
		t.Errorf("the other set's value after exit = %d, want 0 (2 - 2)", got)
	}
}

// TestUndoListsAreIndependent: a forked child has its own, empty undo list;
// threads that share a list share adjustments.
func TestUndoListsAreIndependent(t *testing.T) {
	ns, _ := newNS()
	parent := rootTask(10)
	child := rootTask(11) // fork without CLONE_SYSVSEM: a new list
	thread := &sem.Task{PID: 10, Cred: parent.Cred, Undo: parent.Undo}
	id := mustGet(t, ns, parent, 2, 0o600)
	mustOp(t, ns, parent, id, sb(0, 3, undo))
	if got := adj(t, ns, child, id); got != nil {
		t.Errorf("the child inherited adjustments %v", got)
	}
	mustOp(t, ns, child, id, sb(1, 1, undo))
	mustOp(t, ns, thread, id, sb(0, 1, undo))
	if got := adj(t, ns, parent, id); !slices.Equal(got, []int16{-4, 0}) {
		t.Errorf("parent's (and thread's) adjustments = %v, want [-4 0]", got)
	}
	if got := adj(t, ns, child, id); !slices.Equal(got, []int16{0, -1}) {
		t.Errorf("child's adjustments = %v, want [0 -1]", got)
	}
	ns.ExitUndo(child.Undo, 11)
	if got := vals(t, ns, id); !slices.Equal(got, []uint16{4, 0}) {
		t.Errorf("after the child's exit: %v, want [4 0]", got)
	}
	if got := adj(t, ns, parent, id); !slices.Equal(got, []int16{-4, 0}) {
		t.Errorf("the child's exit touched the parent's adjustments: %v", got)
	}
	ns.ExitUndo(parent.Undo, 10)
	if got := vals(t, ns, id); !slices.Equal(got, []uint16{0, 0}) {
		t.Errorf("after the parent's exit: %v, want [0 0]", got)
	}
}

// TestUndoByWokenWaiter: a waiter's SEM_UNDO adjustment is recorded when
// another task completes its operation.
func TestUndoByWokenWaiter(t *testing.T) {
	s := newScenario(t, 0)
	s.block("A", sb(0, -2, undo))
	s.op("V", 0, sb(0, 2, 0))
	s.woke("A")
	if got := s.ns.Adjustments(s.task("A").Undo, s.id); !slices.Equal(got, []int16{2}) {
		t.Errorf("A's adjustments = %v, want [2]", got)
	}
	s.ns.ExitUndo(s.task("A").Undo, s.pid("A"))
	s.vals(2)
}

// TestExitUndoSeveralSets: every set of the list is undone.
func TestExitUndoSeveralSets(t *testing.T) {
	ns, clk := newNS()
	tk := rootTask(10)
	ids := []int32{mustGet(t, ns, tk, 1, 0o600), mustGet(t, ns, tk, 2, 0o600), mustGet(t, ns, tk, 1, 0o600)}
	for i, id := range ids {
		mustOp(t, ns, tk, id, sb(0, int16(i+1), undo))
	}
	clk.Set(t0 + 1)
	ns.ExitUndo(tk.Undo, 10)
	for _, id := range ids {
		if v := val(t, ns, id, 0); v != 0 {
			t.Errorf("set %d: value %d after exit, want 0", id, v)
		}
		if o := stat(t, ns, id).Otime; o != t0+1 {
			t.Errorf("set %d: otime %d, want %d", id, o, t0+1)
		}
	}
}

// TestExitUndoConcurrent checks that two ExitUndo calls racing on one list
// (an embedder applying it at exit_group and again when the group is
// gone) apply each adjustment once and leave the other owners' entries
// intact. The owner has entries in many sets, so that the two calls
// overlap.
func TestExitUndoConcurrent(t *testing.T) {
	const others, sets = 3, 64
	for iter := range 100 {
		ns, _ := newNS()
		owner := rootTask(1)
		tasks := []*sem.Task{owner}
		for i := range others {
			tasks = append(tasks, rootTask(int32(2+i)))
		}
		ids := make([]int32, sets)
		for j := range ids {
			ids[j] = mustGet(t, ns, owner, 1, 0o600)
			mustSetVal(t, ns, owner, ids[j], 0, 100)
			for _, tk := range tasks {
				mustOp(t, ns, tk, ids[j], sb(0, -1, undo))
			}
		}
		var wg sync.WaitGroup
		start := make(chan struct{})
		for range 2 {
			wg.Go(func() {
				<-start
				ns.ExitUndo(owner.Undo, owner.PID)
			})
		}
		close(start)
		wg.Wait()
		for _, id := range ids {
			if got, want := val(t, ns, id, 0), int32(100-others); got != want {
				t.Fatalf("iteration %d: set %d after two racing ExitUndo = %d, want %d (applied once)", iter, id, got, want)
			}
		}
		for _, tk := range tasks[1:] {
			for _, id := range ids {
				if a := adj(t, ns, tk, id); !slices.Equal(a, []int16{1}) {
					t.Fatalf("iteration %d: task %d's adjustments for set %d = %v, want [1]", iter, tk.PID, id, a)
				}
			}
			ns.ExitUndo(tk.Undo, tk.PID)
		}
		for _, id := range ids {
			if got := val(t, ns, id, 0); got != 100 {
				t.Fatalf("iteration %d: set %d after every owner exited = %d, want 100", iter, id, got)
			}
		}
	}
}

// TestUndoInUse: the namespace knows whether any undo entry exists, through
// creation, exit and IPC_RMID.
func TestUndoInUse(t *testing.T) {
	ns, _ := newNS()
	a, b := rootTask(1), rootTask(2)
	id1 := mustGet(t, ns, a, 1, 0o600)
	id2 := mustGet(t, ns, a, 1, 0o600)
	if ns.UndoInUse() {
		t.Fatal("in use before any SEM_UNDO operation")
	}
	mustOp(t, ns, a, id1, sb(0, 1, 0))
	if ns.UndoInUse() {
		t.Fatal("in use after an operation without SEM_UNDO")
	}
	mustOp(t, ns, a, id1, sb(0, 1, undo))
	mustOp(t, ns, a, id2, sb(0, 1, undo))
	mustOp(t, ns, b, id1, sb(0, 1, undo))
	ns.ExitUndo(a.Undo, a.PID)
	if !ns.UndoInUse() {
		t.Fatal("not in use while b has an entry")
	}
	if err := ns.Remove(a, id1); err != 0 {
		t.Fatal(err)
	}
	if ns.UndoInUse() {
		t.Fatal("in use after b's only set was removed")
	}
	mustOp(t, ns, b, id2, sb(0, 0, undo))
	if !ns.UndoInUse() {
		t.Fatal("a wait-for-zero with SEM_UNDO makes an entry too")
	}
	ns.ExitUndo(b.Undo, b.PID)
	ns.ExitUndo(b.Undo, b.PID)
	if ns.UndoInUse() {
		t.Fatal("in use after every owner exited")
	}
}
