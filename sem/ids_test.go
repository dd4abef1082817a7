package sem_test

import (
	"testing"

	"github.com/sembox/sembox/abi"
	"github.com/sembox/sembox/sem"
)

// TestIDAllocation checks Linux's id scheme: id = seq<<15 | index; indexes
// are handed out cyclically (idr_alloc_cyclic) within a window of
// max(in_use*3/2, 64) entries, and seq grows each time the index does not.
func TestIDAllocation(t *testing.T) {
	seqID := func(seq, idx int32) int32 { return seq<<abi.IPCMNI_SEQ_SHIFT | idx }
	tests := []struct {
		name string
		// steps: n>0 creates a set and expects the id; a negative value
		// -(k+1) removes the k-th id created so far.
		run func(t *testing.T, ns *sem.Namespace, tk *sem.Task)
	}{
		{"fresh ids are 0, 1, 2", func(t *testing.T, ns *sem.Namespace, tk *sem.Task) {
			for want := int32(0); want < 3; want++ {
				if id := mustGet(t, ns, tk, 1, 0); id != want {
					t.Errorf("id = %d, want %d", id, want)
				}
			}
		}},
		{"a freed index is not reused before the window wraps", func(t *testing.T, ns *sem.Namespace, tk *sem.Task) {
			a := mustGet(t, ns, tk, 1, 0)
			mustGet(t, ns, tk, 1, 0)
			ns.Remove(tk, a)
			if id := mustGet(t, ns, tk, 1, 0); id != 2 {
				t.Errorf("id after removing 0 = %d, want 2", id)
			}
		}},
		{"create and remove cycles through 64 indexes, then seq 1", func(t *testing.T, ns *sem.Namespace, tk *sem.Task) {
			for i := int32(0); i < 3*abi.IPC_MIN_CYCLE; i++ {
				want := seqID(i/abi.IPC_MIN_CYCLE, i%abi.IPC_MIN_CYCLE)
				id := mustGet(t, ns, tk, 1, 0)
				if id != want {
					t.Fatalf("create #%d: id = %d, want %d", i, id, want)
				}
				ns.Remove(tk, id)
			}
		}},
		{"the wrap skips used indexes", func(t *testing.T, ns *sem.Namespace, tk *sem.Task) {
			keep := mustGet(t, ns, tk, 1, 0) // index 0 stays in use
			for i := 1; i < abi.IPC_MIN_CYCLE; i++ {
				ns.Remove(tk, mustGet(t, ns, tk, 1, 0))
			}
			if id := mustGet(t, ns, tk, 1, 0); id != seqID(1, 1) {
				t.Errorf("id after the wrap = %d, want %d (index 1, seq 1)", id, seqID(1, 1))
			}
			if ds := stat(t, ns, keep); ds.Perm.Seq != 0 {
				t.Errorf("the kept set's seq = %d, want 0", ds.Perm.Seq)
			}
		}},
		{"the window grows to in_use*3/2", func(t *testing.T, ns *sem.Namespace, tk *sem.Task) {
			// in_use is counted before the new set is added.
			ids := make([]int32, 0, 60)
			for i := 0; i < 60; i++ {
				ids = append(ids, mustGet(t, ns, tk, 1, 0))
			}
			for i := 60; i < 64; i++ {
				ns.Remove(tk, mustGet(t, ns, tk, 1, 0)) // indexes 60..63
			}
			// in_use = 60: window 90, next index 64 (no wrap, seq 0).
			if id := mustGet(t, ns, tk, 1, 0); id != 64 {
				t.Errorf("id with 60 sets in use = %d, want 64", id)
			}
			// Free everything but index 64: the window shrinks back to
			// 64, so the next allocation (idr_next 65) wraps to 0.
			for _, id := range ids {
				ns.Remove(tk, id)
			}
			if id := mustGet(t, ns, tk, 1, 0); id != seqID(1, 0) {
				t.Errorf("id after shrinking = %d, want %d", id, seqID(1, 0))
			}
		}},
		{"stale ids are rejected after reuse", func(t *testing.T, ns *sem.Namespace, tk *sem.Task) {
			for i := 0; i < abi.IPC_MIN_CYCLE; i++ {
				ns.Remove(tk, mustGet(t, ns, tk, 1, 0))
			}
			id := mustGet(t, ns, tk, 1, 0)
			if id != seqID(1, 0) {
				t.Fatalf("id = %d, want %d", id, seqID(1, 0))
			}
			for _, old := range []int32{0, seqID(2, 0), seqID(65535, 0) & 0x7fffffff} {
				if _, err := ns.GetOne(tk, old, 0, abi.GETVAL); err != sem.EINVAL {
					t.Errorf("GETVAL(%d) with index 0 held by %d = %s, want EINVAL", old, id, errName(err))
				}
				if err := op(ns, tk, old, sb(0, 1, 0)); err != sem.EINVAL {
					t.Errorf("semop(%d) = %s, want EINVAL", old, errName(err))
				}
			}
			if _, err := ns.GetOne(tk, id, 0, abi.GETVAL); err != 0 {
				t.Errorf("GETVAL(%d) = %s", id, errName(err))
			}
		}},
		{"the index 32768 and above are never valid", func(t *testing.T, ns *sem.Namespace, tk *sem.Task) {
			mustGet(t, ns, tk, 1, 0)
			// 32768 is seq 1, index 0: stale, not a huge index.
			if _, err := ns.GetOne(tk, abi.IPCMNI, 0, abi.GETVAL); err != sem.EINVAL {
				t.Errorf("GETVAL(32768) = %s, want EINVAL", errName(err))
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ns, _ := newNS()
			tc.run(t, ns, rootTask(1))
		})
	}
}

// TestIDSequenceWraps: the sequence number wraps to 0 at IPCID_SEQ_MAX
// (65535 with 15 index bits), so ids stay positive.
func TestIDSequenceWraps(t *testing.T) {
	if testing.Short() {
		t.Skip("creates 4 million sets")
	}
	ns, _ := newNS()
	tk := rootTask(1)
	var last int32
	for i := 0; i < abi.IPCID_SEQ_MAX*abi.IPC_MIN_CYCLE; i++ {
		id := mustGet(t, ns, tk, 1, 0)
		if id < 0 {
			t.Fatalf("negative id %d", id)
		}
		ns.Remove(tk, id)
		last = id
	}
	if want := int32((abi.IPCID_SEQ_MAX-1)<<abi.IPCMNI_SEQ_SHIFT | 63); last != want {
		t.Fatalf("last id before the wrap = %d, want %d", last, want)
	}
	if id := mustGet(t, ns, tk, 1, 0); id != 0 {
		t.Errorf("id after the sequence wrapped = %d, want 0", id)
	}
}

// TestIDFullNamespace: with SEMMNI = IPCMNI every index can be used, and
// IPC_INFO then reports IPCMNI-1.
func TestIDFullNamespace(t *testing.T) {
	if testing.Short() {
		t.Skip("creates 32768 sets")
	}
	ns, _ := newNS()
	tk := rootTask(1)
	l := sem.DefaultLimits()
	l.SEMMNI = abi.IPCMNI
	if err := ns.SetLimits(l); err != 0 {
		t.Fatal(err)
	}
	for i := int32(0); i < abi.IPCMNI; i++ {
		if id := mustGet(t, ns, tk, 1, 0); id != i {
			t.Fatalf("id #%d = %d", i, id)
		}
	}
	if _, err := ns.Semget(tk, abi.IPC_PRIVATE, 1, 0); err != sem.ENOSPC {
		t.Errorf("Semget in a full namespace = %s, want ENOSPC", errName(err))
	}
	if _, res, _ := ns.Info(0, abi.IPC_INFO); res != abi.IPCMNI-1 {
		t.Errorf("IPC_INFO in a full namespace = %d, want %d", res, abi.IPCMNI-1)
	}
	ns.Remove(tk, 100)
	if id := mustGet(t, ns, tk, 1, 0); id != 1<<abi.IPCMNI_SEQ_SHIFT|100 {
		t.Errorf("id of the only free index = %d, want %d", id, 1<<abi.IPCMNI_SEQ_SHIFT|100)
	}
}
