package sem_test

import (
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/sembox/sembox/abi"
	"github.com/sembox/sembox/sem"
)

// The Commit variants of semget and the state-changing semctl commands
// (commit.go): with a commit that accepts, each gives the same results and
// leaves the same namespace as the plain call; with one that refuses, the
// namespace is as if the call had never been made (compared with a twin
// namespace that skips it), and the call returns EINTR.

// twinCall makes one random state-changing call on ns with tk, through the
// Commit variant (commit non-nil) or the plain one (commit nil). It
// returns the call's result.
func twinCall(ns *sem.Namespace, tk *sem.Task, rng *rand.Rand, ids []int32, kind int, commit func() bool) (int32, sem.Errno) {
	var id int32 = 12345
	if len(ids) > 0 && rng.IntN(8) != 0 {
		id = ids[rng.IntN(len(ids))]
	}
	num := int32(rng.IntN(3))
	switch kind {
	case 0:
		key := int32(rng.IntN(4)) // 0 is IPC_PRIVATE
		flg := int32(abi.IPC_CREAT | 0600)
		if rng.IntN(3) == 0 {
			flg |= abi.IPC_EXCL
		}
		nsems := int32(1 + rng.IntN(3))
		if commit != nil {
			return ns.SemgetCommit(tk, key, nsems, flg, func(int32) bool { return commit() })
		}
		return ns.Semget(tk, key, nsems, flg)
	case 1:
		v := int32(rng.IntN(4))
		if commit != nil {
			return 0, ns.SetValCommit(tk, id, num, v, commit)
		}
		return 0, ns.SetVal(tk, id, num, v)
	case 2:
		load := func(n int) ([]uint16, sem.Errno) {
			vals := make([]uint16, n)
			for i := range vals {
				vals[i] = uint16(rng.IntN(3))
			}
			return vals, 0
		}
		if commit != nil {
			return 0, ns.SetAllCommit(tk, id, load, commit)
		}
		return 0, ns.SetAll(tk, id, load)
	case 3:
		in := abi.SemidDS{Perm: abi.IPCPerm{UID: uint32(rng.IntN(2)), GID: 7, Mode: uint32(0600 | rng.IntN(0100))}}
		if commit != nil {
			return 0, ns.IPCSetCommit(tk, id, &in, commit)
		}
		return 0, ns.IPCSet(tk, id, &in)
	case 4:
		if rng.IntN(3) != 0 {
			return 0, 0 // removals rarely, so that sets accumulate
		}
		if commit != nil {
			return 0, ns.RemoveCommit(tk, id, commit)
		}
		return 0, ns.Remove(tk, id)
	default:
		// A semop with SEM_UNDO that does not block (plain in both).
		return 0, op(ns, tk, id, sb(uint16(num), int16(rng.IntN(3)), abi.SEM_UNDO|abi.IPC_NOWAIT))
	}
}

func TestCommitCallsTwins(t *testing.T) {
	for seed := range uint64(40) {
		plain, clkA := newNS()
		withCommit, clkB := newNS()
		tkA, tkB := rootTask(10), rootTask(10)
		var idsA []int32
		for step := range 300 {
			clkA.Tick()
			clkB.Tick()
			// Both namespaces run the same random call from the same
			// random state.
			rngA := rand.New(rand.NewPCG(seed, uint64(step)))
			rngB := rand.New(rand.NewPCG(seed, uint64(step)))
			kind := int(rand.New(rand.NewPCG(seed, uint64(step)+1<<32)).IntN(6))
			refuse := step%3 == 1 && kind != 5 // a semop is not refusable here
			if refuse {
				// Refused in withCommit, not made in plain: the rng of
				// the plain side is not used.
				called := false
				_, err := twinCall(withCommit, tkB, rngB, idsA, kind, func() bool { called = true; return false })
				if called && err != sem.EINTR {
					t.Fatalf("seed %d step %d: refused call returned %v", seed, step, err)
				}
			} else {
				calls := 0
				va, ea := twinCall(plain, tkA, rngA, idsA, kind, nil)
				vb, eb := twinCall(withCommit, tkB, rngB, idsA, kind, func() bool { calls++; return true })
				if va != vb || ea != eb {
					t.Fatalf("seed %d step %d: plain %d %v, with commit %d %v", seed, step, va, ea, vb, eb)
				}
				if calls > 1 {
					t.Fatalf("seed %d step %d: commit called %d times", seed, step, calls)
				}
				if ea == 0 && va > 0 {
					idsA = append(idsA, va)
				}
			}
			ia, _ := plain.Image([]sem.UndoOwner{{List: tkA.Undo, PID: 10}})
			ib, _ := withCommit.Image([]sem.UndoOwner{{List: tkB.Undo, PID: 10}})
			if !reflect.DeepEqual(ia, ib) {
				t.Fatalf("seed %d step %d (refused %v): namespaces differ:\nplain       %+v\nwith commit %+v", seed, step, refuse, ia, ib)
			}
		}
	}
}
