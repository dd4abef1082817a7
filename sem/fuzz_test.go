package sem_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/sembox/sembox/abi"
	"github.com/sembox/sembox/sem"
)

// fuzzWaiter is one blocked call of FuzzSemops.
type fuzzWaiter struct {
	w     *sem.Waiter
	task  int
	sops  []abi.Sembuf
	done  int // Done calls
	ended bool
	// commit: 0 no Commit hook, 1 one that accepts, 2 one that refuses.
	commit, commits int
}

// semopsState runs FuzzSemops' actions on a 3-semaphore set and checks
// the invariants after each one.
type semopsState struct {
	t       *testing.T
	ns      *sem.Namespace
	clk     *fakeClock
	id      int32
	tasks   []*sem.Task
	waiters []*fuzzWaiter
	// Conservation: for every semaphore, value + the sum of all
	// adjustments == base + the sum of operations made without SEM_UNDO
	// since base was taken (SETVAL, SETALL and exits, which clamp, retake
	// it).
	base    [3]int64
	nonUndo [3]int64
	log     []string
}

func (s *semopsState) fatalf(format string, args ...any) {
	s.t.Helper()
	tail := s.log
	if len(tail) > 30 {
		tail = tail[len(tail)-30:]
	}
	s.t.Fatalf("%s\nlast actions: %q", fmt.Sprintf(format, args...), tail)
}

func (s *semopsState) applied(sops []abi.Sembuf) {
	for _, sop := range sops {
		if sop.SemFlg&abi.SEM_UNDO == 0 {
			s.nonUndo[sop.SemNum] += int64(sop.SemOp)
		}
	}
}

func (s *semopsState) rebase() {
	v, _ := s.ns.GetAll(s.tasks[0], s.id, nil)
	for i := range s.base {
		s.base[i] = int64(v[i])
		for _, tk := range s.tasks {
			if a := s.ns.Adjustments(tk.Undo, s.id); a != nil {
				s.base[i] += int64(a[i])
			}
		}
		s.nonUndo[i] = 0
	}
}

// wouldSucceed reports whether sops could all be applied to vals now
// (ignoring the undo bounds, which can only make a retry fail).
func wouldSucceed(vals []uint16, sops []abi.Sembuf) bool {
	v := [3]int32{int32(vals[0]), int32(vals[1]), int32(vals[2])}
	for _, sop := range sops {
		cur := v[sop.SemNum]
		if sop.SemOp == 0 && cur != 0 || cur+int32(sop.SemOp) < 0 || cur+int32(sop.SemOp) > abi.SEMVMX {
			return false
		}
		v[sop.SemNum] = cur + int32(sop.SemOp)
	}
	return true
}

func (s *semopsState) check() {
	s.t.Helper()
	vals, err := s.ns.GetAll(s.tasks[0], s.id, nil)
	if err != 0 {
		s.fatalf("GETALL = %s", errName(err))
	}
	queued := 0
	for _, fw := range s.waiters {
		if fw.done > 1 || fw.commits > 1 {
			s.fatalf("Done called %d times, Commit %d times", fw.done, fw.commits)
		}
		if fw.ended {
			continue
		}
		if fw.w.Queued() {
			queued++
			if wouldSucceed(vals, fw.sops) {
				s.fatalf("lost wake-up: %v is still queued with values %v", fw.sops, vals)
			}
		} else if fw.done != 1 {
			s.fatalf("waiter %v left its queue without Done", fw.sops)
		}
	}
	counted := int32(0)
	for i := int32(0); i < 3; i++ {
		if vals[i] > abi.SEMVMX {
			s.fatalf("value %d of semaphore %d above SEMVMX", vals[i], i)
		}
		n, _ := s.ns.GetOne(s.tasks[0], s.id, i, abi.GETNCNT)
		z, _ := s.ns.GetOne(s.tasks[0], s.id, i, abi.GETZCNT)
		if n < 0 || z < 0 {
			s.fatalf("negative counts %d %d", n, z)
		}
		counted += n + z
		sum := int64(vals[i])
		for _, tk := range s.tasks {
			a := s.ns.Adjustments(tk.Undo, s.id)
			if a != nil {
				if len(a) != 3 {
					s.fatalf("%d adjustments for 3 semaphores", len(a))
				}
				sum += int64(a[i])
			}
		}
		if sum != s.base[i]+s.nonUndo[i] {
			s.fatalf("semaphore %d: value %d + adjustments = %d, want %d (base %d, operations without SEM_UNDO %d)",
				i, vals[i], sum, s.base[i]+s.nonUndo[i], s.base[i], s.nonUndo[i])
		}
	}
	if int(counted) != queued {
		s.fatalf("GETNCNT+GETZCNT over all semaphores = %d, but %d waiters are queued (each must count exactly once)", counted, queued)
	}
	entries := false
	for _, tk := range s.tasks {
		if s.ns.Adjustments(tk.Undo, s.id) != nil {
			entries = true
		}
	}
	if s.ns.UndoInUse() != entries {
		s.fatalf("UndoInUse = %v, but undo entries exist: %v", s.ns.UndoInUse(), entries)
	}
}

// FuzzSemops feeds random operations, blocking waits, cancellations,
// SETVAL/SETALL and exits to a small set and checks that nothing panics
// and that the invariants hold: values in 0..SEMVMX, value + adjustments
// conserved, each queued waiter counted exactly once by GETNCNT/GETZCNT,
// no queued waiter that could proceed (no lost wake-up), Done at most once.
// Blocking calls 4 and 5 carry a Commit hook that accepts or refuses: a
// refused completion must leave no trace (conservation) and let the
// waiters behind it proceed (no lost wake-up).
func FuzzSemops(f *testing.F) {
	f.Add([]byte{0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07})
	f.Add([]byte("\x10\x00\xff\x10\x41\x01\x20\x12\x01\x02\x30\x00\x05"))
	f.Add([]byte("\x11\x80\x00\x11\x92\x01\x40\x00\x11\x95\x01\x10\x45\x01"))
	// A lost wake-up found by the model (Linux's unmerge_queues): A waits
	// on 0, M on 0 and 1, M is cancelled, C waits on 1, V on 1 must wake C.
	f.Add([]byte{
		0x03, 0x00, 0x00, 0xf0, // task 0 waits: {0, -1}
		0x13, 0x01, 0x00, 0xf0, 0x01, 0xf0, // task 1 waits: {0, -1}, {1, -1}
		0x06, 0x01, // cancel waiter 1
		0x23, 0x00, 0x01, 0xf0, // task 2 waits: {1, -1}
		0x00, 0x00, 0x01, 0x10, // task 0: {1, +1}
	})
	// A V wakes a waiter whose Commit refuses (5): the next one (3) gets it.
	f.Add([]byte{
		0x05, 0x00, 0x00, 0xf0, // task 0 waits: {0, -1}, Commit refuses
		0x13, 0x00, 0x00, 0xf0, // task 1 waits: {0, -1}
		0x20, 0x00, 0x00, 0x10, // task 2: {0, +1}
	})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 2000 {
			data = data[:2000] // keep each run (and minimization) fast
		}
		ns, clk := newNS()
		s := &semopsState{t: t, ns: ns, clk: clk}
		for pid := int32(1); pid <= 3; pid++ {
			s.tasks = append(s.tasks, rootTask(pid))
		}
		s.id = mustGet(t, ns, s.tasks[0], 3, 0o600)
		s.rebase()
		next := func() byte {
			if len(data) == 0 {
				return 0
			}
			b := data[0]
			data = data[1:]
			return b
		}
		for len(data) > 0 {
			b := next()
			task := int(b>>4) % 3
			tk := s.tasks[task]
			clk.Tick()
			switch b & 0xf {
			case 0, 1, 2, 3, 4, 5: // semop: nsops-1 in the low bits of the next byte
				n := 1 + int(next())%3
				sops := make([]abi.Sembuf, n)
				for i := range sops {
					x, y := next(), next()
					sops[i] = abi.Sembuf{SemNum: uint16(x % 3), SemOp: int16(int8(y)) / 16, SemFlg: 0}
					if x&0x10 != 0 {
						sops[i].SemFlg |= abi.SEM_UNDO
					}
					if x&0x20 != 0 {
						sops[i].SemFlg |= abi.IPC_NOWAIT
					}
					if x&0xc0 == 0xc0 {
						sops[i].SemOp = int16(y) << 8 // large values for ERANGE
					}
				}
				if b&0xf < 3 {
					s.log = append(s.log, fmt.Sprintf("task %d semop %v", task, sops))
					if err := op(ns, tk, s.id, sops...); err == 0 {
						s.applied(sops)
					}
					break
				}
				fw := &fuzzWaiter{task: task, sops: sops, commit: int(b&0xf) - 3}
				fw.w = &sem.Waiter{Done: func(w *sem.Waiter) {
					fw.done++
					if w.Err == 0 {
						s.applied(fw.sops)
					}
					// A success is committed, a refusal ends with EINTR.
					if fw.commit != 0 && (w.Err == 0) != (fw.commit == 1 && fw.commits == 1) ||
						fw.commit == 2 && (w.Err == sem.EINTR) != (fw.commits == 1) {
						s.fatalf("waiter %v (Commit %d) ended with %s after %d Commit calls", fw.sops, fw.commit, errName(w.Err), fw.commits)
					}
				}}
				if fw.commit != 0 { // 4: Commit accepts, 5: Commit refuses
					fw.w.Commit = func(*sem.Waiter) bool {
						fw.commits++
						return fw.commit == 1
					}
				}
				blocked, err := ns.Semtimedop(tk, s.id, sops, nil, fw.w)
				s.log = append(s.log, fmt.Sprintf("task %d blocking semop %v (Commit %d) = %v %s", task, sops, fw.commit, blocked, errName(err)))
				// Its own call is committed if and only if it succeeds
				// at once, and ends with EINTR if refused.
				ownOK := err == 0
				if fw.commit == 2 {
					ownOK = err == sem.EINTR
				}
				if fw.commit != 0 && (fw.commits == 1) != (!blocked && ownOK) || fw.commits > 1 || fw.commit == 2 && !blocked && err == 0 {
					s.fatalf("own call %v (Commit %d) = %v, %s after %d Commit calls", sops, fw.commit, blocked, errName(err), fw.commits)
				}
				if blocked {
					s.waiters = append(s.waiters, fw)
				} else if err == 0 {
					s.applied(sops)
				}
			case 6, 7: // cancel
				if len(s.waiters) == 0 {
					break
				}
				fw := s.waiters[int(next())%len(s.waiters)]
				if fw.ended {
					break
				}
				wasQueued := fw.w.Queued()
				ok := ns.Cancel(fw.w, []sem.Errno{sem.EINTR, sem.EAGAIN}[b&1])
				s.log = append(s.log, fmt.Sprintf("cancel %v = %v", fw.sops, ok))
				if ok != wasQueued || ok && fw.done != 0 || !ok && fw.done != 1 {
					s.fatalf("Cancel = %v for a waiter queued=%v with %d Done calls", ok, wasQueued, fw.done)
				}
				fw.ended = true
			case 8: // SETVAL
				num, v := int32(next()%3), int32(next())%5
				if err := ns.SetVal(tk, s.id, num, v); err != 0 {
					s.fatalf("SETVAL = %s", errName(err))
				}
				s.log = append(s.log, fmt.Sprintf("SETVAL %d %d", num, v))
				s.rebase()
			case 9: // SETALL
				v := []uint16{uint16(next() % 4), uint16(next() % 4), uint16(next() % 4)}
				if err := ns.SetAll(tk, s.id, loader(v)); err != 0 {
					s.fatalf("SETALL = %s", errName(err))
				}
				s.log = append(s.log, fmt.Sprintf("SETALL %v", v))
				s.rebase()
			case 10: // exit: interrupt the task's waiters, apply its undo
				for _, fw := range s.waiters {
					if fw.task == task && !fw.ended {
						ns.Cancel(fw.w, sem.EINTR)
						fw.ended = true
					}
				}
				ns.ExitUndo(tk.Undo, tk.PID)
				s.log = append(s.log, fmt.Sprintf("exit %d", task))
				s.rebase()
			default: // a read-only semctl
				if _, err := ns.GetOne(tk, s.id, int32(next()%4), int32(abi.GETVAL+next()%4)); err != 0 && err != sem.EINVAL {
					s.fatalf("GetOne = %s", errName(err))
				}
			}
			s.check()
		}
		// IPC_RMID ends every remaining wait with EIDRM.
		if err := ns.Remove(s.tasks[0], s.id); err != 0 {
			t.Fatal(err)
		}
		for _, fw := range s.waiters {
			if !fw.ended && (fw.w.Queued() || fw.done != 1) {
				t.Fatalf("after IPC_RMID: queued %v, Done %d times", fw.w.Queued(), fw.done)
			}
			refused := fw.commit == 2 && fw.w.Err == sem.EINTR
			if !fw.ended && fw.done == 1 && fw.w.Err != sem.EIDRM && !slices.Contains([]sem.Errno{0, sem.EAGAIN, sem.ERANGE}, fw.w.Err) && !refused {
				t.Fatalf("after IPC_RMID: Err %s", errName(fw.w.Err))
			}
		}
	})
}
