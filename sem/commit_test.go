package sem_test

import (
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sembox/sembox/abi"
	"github.com/sembox/sembox/sem"
)

// commitScenario is a scenario whose waiters carry a Commit hook: the
// hook records the waiter's name (name+"!" when it refuses) and refuses
// when the test said so.
type commitScenario struct {
	*scenario
	refuse  map[string]bool
	commits []string
}

func newCommitScenario(t *testing.T, init ...uint16) *commitScenario {
	return &commitScenario{scenario: newScenario(t, init...), refuse: map[string]bool{}}
}

func (c *commitScenario) commitHook(name string) func(*sem.Waiter) bool {
	return func(w *sem.Waiter) bool {
		if w.Err != 0 {
			c.t.Errorf("Commit of %s with Err %s, want OK", name, errName(w.Err))
		}
		if c.refuse[name] {
			c.commits = append(c.commits, name+"!")
			return false
		}
		c.commits = append(c.commits, name)
		return true
	}
}

// block queues the waiter name (task name) with sops and a Commit hook
// that refuses if refuse is true.
func (c *commitScenario) block(name string, refuse bool, sops ...abi.Sembuf) {
	c.t.Helper()
	w := c.rec.waiter(name)
	w.Commit = c.commitHook(name)
	c.refuse[name] = refuse
	c.waiters[name] = w
	block(c.t, c.ns, c.task(name), c.id, w, sops...)
}

// own performs a semop as task name with a Waiter carrying a Commit hook
// that refuses if refuse is true, and checks its result; the Waiter is
// kept as the waiter name if the call blocks.
func (c *commitScenario) own(name string, refuse bool, want sem.Errno, sops ...abi.Sembuf) bool {
	c.t.Helper()
	w := c.rec.waiter(name)
	w.Commit = c.commitHook(name)
	c.refuse[name] = refuse
	blocked, err := c.ns.Semtimedop(c.task(name), c.id, sops, nil, w)
	if err != want {
		c.t.Fatalf("semop by %s %v = blocked %v, %s; want %s", name, sops, blocked, errName(err), errName(want))
	}
	if blocked {
		c.waiters[name] = w
	}
	return blocked
}

// committed checks the Commit calls since the last check, in order.
func (c *commitScenario) committed(want string) {
	c.t.Helper()
	if got := strings.Join(c.commits, " "); got != want {
		c.t.Errorf("Commit calls: %q, want %q", got, want)
	}
	c.commits = nil
}

// adj checks task name's adjustments (nil: no undo entry).
func (c *commitScenario) adj(name string, want ...int16) {
	c.t.Helper()
	got := c.ns.Adjustments(c.task(name).Undo, c.id)
	if !slices.Equal(got, want) || (got == nil) != (want == nil) {
		c.t.Errorf("%s's adjustments = %v, want %v", name, got, want)
	}
}

func (c *commitScenario) err(name string, want sem.Errno) {
	c.t.Helper()
	if got := c.waiters[name].Err; got != want {
		c.t.Errorf("%s.Err = %s, want %s", name, errName(got), errName(want))
	}
}

// TestCommitOwnCall: Commit on the caller's own call, when it succeeds at
// once. A refusal takes the call back exactly and Semtimedop returns
// EINTR; nothing else sees anything.
func TestCommitOwnCall(t *testing.T) {
	runCommitCases(t, []commitCase{
		{"a refused V changes nothing and wakes nobody", []uint16{0}, func(c *commitScenario) {
			c.scenario.block("A", sb(0, -1, 0))
			c.clk.Set(t0 + 200)
			c.own("V", true, sem.EINTR, sb(0, 1, 0))
			c.committed("V!")
			c.woke("")
			c.vals(0)
			c.sempid(0, "setup")
			c.otime(0)
			c.counts("1/0")
			c.queued("A", true)
			// Accepted, the same call goes through and wakes A.
			c.own("V", false, 0, sb(0, 1, 0))
			c.committed("V")
			c.woke("A")
			c.vals(0)
			c.sempid(0, "A")
			c.otime(t0 + 200)
		}},
		{"a refused wait-for-zero leaves sempid and otime", []uint16{0, 3}, func(c *commitScenario) {
			c.clk.Set(t0 + 200)
			c.own("Z", true, sem.EAGAIN, sb(0, 0, 0), sb(1, 0, nowait))
			c.committed("")
			c.own("Z", true, sem.EINTR, sb(0, 0, 0))
			c.committed("Z!")
			c.sempid(0, "setup")
			c.otime(0)
			c.own("Z", false, 0, sb(0, 0, 0))
			c.committed("Z")
			c.sempid(0, "Z")
			c.otime(t0 + 200)
		}},
		{"a refused multi-op call with SEM_UNDO: values, adjustments and sempids as before", []uint16{2, 0, 7}, func(c *commitScenario) {
			c.op("X", 0, sb(2, -3, undo), sb(1, 4, 0))
			c.adj("X", 0, 0, 3)
			c.own("X", true, sem.EINTR, sb(0, -1, undo), sb(1, 1, undo), sb(0, -1, undo), sb(2, 5, undo), sb(1, -2, 0))
			c.committed("X!")
			c.vals(2, 4, 4)
			c.adj("X", 0, 0, 3)
			c.sempid(0, "setup")
			c.sempid(1, "X")
			c.sempid(2, "X")
			// A fresh undo entry created for the call stays, all zeros.
			c.own("Y", true, sem.EINTR, sb(0, -2, undo))
			c.vals(2, 4, 4)
			c.adj("Y", 0, 0, 0)
			if !c.ns.UndoInUse() {
				c.t.Error("UndoInUse = false")
			}
		}},
		{"a call with more operations than the stack buffer", []uint16{20, 0}, func(c *commitScenario) {
			var sops []abi.Sembuf
			for range 10 {
				sops = append(sops, sb(0, -1, undo), sb(1, 1, undo))
			}
			c.op("W", 0, sb(1, 1, 0))
			c.own("X", true, sem.EINTR, sops...)
			c.vals(20, 1)
			c.adj("X", 0, 0)
			c.sempid(0, "setup")
			c.sempid(1, "W")
			c.own("X", false, 0, sops...)
			c.vals(10, 11)
			c.adj("X", 10, -10)
			c.sempid(0, "X")
		}},
		{"a call that fails or blocks does not call Commit until it succeeds", []uint16{0}, func(c *commitScenario) {
			c.own("X", false, sem.EAGAIN, sb(0, -1, nowait))
			c.own("X", false, sem.ERANGE, sb(0, 32767, 0), sb(0, 1, 0))
			c.own("X", false, sem.EFBIG, sb(1, 1, 0))
			c.committed("")
			if !c.own("X", false, 0, sb(0, -1, 0)) {
				c.t.Fatal("P did not block")
			}
			c.committed("")
			c.op("V", 0, sb(0, 1, 0))
			c.committed("X")
			c.woke("X")
			c.vals(0)
		}},
		{"Semtimedop with a zero timeout that succeeds is committed", []uint16{1}, func(c *commitScenario) {
			w := c.rec.waiter("X")
			w.Commit = c.commitHook("X")
			c.refuse["X"] = true
			if blocked, err := c.ns.Semtimedop(c.task("X"), c.id, []abi.Sembuf{sb(0, -1, 0)}, &abi.Timespec{}, w); blocked || err != sem.EINTR {
				c.t.Errorf("= %v, %s; want false, EINTR", blocked, errName(err))
			}
			if w.Err != sem.EINTR || c.ns.Cancel(w, sem.EINTR) {
				c.t.Errorf("Err %s after a refused own call; or Cancel true", errName(w.Err))
			}
			c.committed("X!")
			c.vals(1)
			c.woke("")
		}},
	})
}

// TestCommitOnBehalf: Commit on a completion performed by someone else.
// A refusal takes the completion back exactly, the waiter ends with
// EINTR through Done, and the scan goes on as if it had never been
// queued.
func TestCommitOnBehalf(t *testing.T) {
	runCommitCases(t, []commitCase{
		{"a V wakes a P whose commit fails: the next waiter in FIFO order gets it", []uint16{0}, func(c *commitScenario) {
			c.block("A", true, sb(0, -1, 0))
			c.block("B", false, sb(0, -1, 0))
			c.block("C", false, sb(0, -1, 0))
			c.op("V", 0, sb(0, 1, 0))
			c.committed("A! B")
			c.woke("A:EINTR B")
			c.err("A", sem.EINTR)
			c.queued("A", false)
			c.cancel("A", sem.EINTR, false)
			c.vals(0)
			c.sempid(0, "B")
			c.counts("1/0")
			c.op("V", 0, sb(0, 1, 0))
			c.committed("C")
			c.woke("C")
		}},
		{"a refused waiter that alone could proceed leaves the value", []uint16{0}, func(c *commitScenario) {
			c.block("A", true, sb(0, -2, 0))
			c.block("B", false, sb(0, -3, 0))
			c.clk.Set(t0 + 200)
			c.op("V", 0, sb(0, 2, 0))
			c.committed("A!")
			c.woke("A:EINTR")
			c.vals(2)
			c.sempid(0, "V")
			c.otime(t0 + 200) // the V's own
			c.counts("1/0")
		}},
		{"several refusals in one scan", []uint16{0}, func(c *commitScenario) {
			c.block("A", true, sb(0, -1, 0))
			c.block("B", true, sb(0, -2, 0))
			c.block("C", false, sb(0, -2, 0))
			c.block("D", false, sb(0, -1, 0))
			c.block("E", false, sb(0, -1, 0))
			c.op("V", 0, sb(0, 3, 0))
			c.committed("A! B! C D")
			c.woke("A:EINTR B:EINTR C D")
			c.vals(0)
			c.counts("1/0")
		}},
		{"a refused multi-op waiter's increment is taken back and wakes nobody", []uint16{0, 0}, func(c *commitScenario) {
			c.block("M", true, sb(0, -1, 0), sb(1, 1, 0))
			c.block("B", false, sb(1, -1, 0))
			c.op("V", 0, sb(0, 1, 0))
			c.committed("M!")
			c.woke("M:EINTR")
			c.vals(1, 0)
			c.sempid(0, "V")
			c.sempid(1, "setup")
			c.counts("0/0 1/0")
			// B is back on its semaphore's queue and still woken.
			c.op("V", 0, sb(1, 1, 0))
			c.woke("B")
		}},
		{"a refused multi-op waiter lets a later waiter have the value", []uint16{0, 1}, func(c *commitScenario) {
			c.block("M", true, sb(0, -1, 0), sb(1, -1, 0))
			c.block("B", false, sb(0, -1, 0))
			c.op("V", 0, sb(0, 1, 0))
			c.committed("M! B")
			c.woke("M:EINTR B")
			c.vals(0, 1)
			c.sempid(1, "setup")
			c.counts("0/0 0/0")
		}},
		{"the rescan after a complex completion goes on past a refused waiter", []uint16{0, 0}, func(c *commitScenario) {
			c.block("M", false, sb(0, -1, 0), sb(1, 1, 0))
			c.block("R", true, sb(1, -1, 0))
			c.block("B", false, sb(1, -1, 0))
			c.op("V", 0, sb(0, 1, 0))
			c.committed("M R! B")
			c.woke("M R:EINTR B")
			c.vals(0, 0)
			c.sempid(0, "M")
			c.sempid(1, "B")
		}},
		{"a refused complex waiter does not stop the scan behind it", []uint16{0, 0, 0}, func(c *commitScenario) {
			c.block("M", true, sb(0, -1, 0), sb(1, 1, 0))
			c.block("N", false, sb(0, -1, 0), sb(2, 1, 0))
			c.block("B", false, sb(2, -1, 0))
			c.block("C", false, sb(1, -1, 0))
			c.op("V", 0, sb(0, 1, 0))
			c.committed("M! N B")
			c.woke("M:EINTR N B")
			c.vals(0, 0, 0)
			c.counts("0/0 1/0 0/0")
		}},
		{"a refused wait-for-zero waiter: the others still wake", []uint16{1}, func(c *commitScenario) {
			c.block("Z", true, sb(0, 0, 0))
			c.block("Y", false, sb(0, 0, 0))
			c.block("X", true, sb(0, 0, 0))
			c.op("P", 0, sb(0, -1, 0))
			c.committed("Z! Y X!")
			c.woke("Z:EINTR Y X:EINTR")
			c.sempid(0, "Y")
			c.counts("0/0")
		}},
		{"a refused wait-for-zero waiter leaves sempid and otime", []uint16{1}, func(c *commitScenario) {
			c.block("Z", true, sb(0, 0, 0))
			c.clk.Set(t0 + 200)
			mustSetVal(c.t, c.ns, c.task("S"), c.id, 0, 0)
			c.committed("Z!")
			c.woke("Z:EINTR")
			c.sempid(0, "S")
			c.otime(0)
		}},
		{"a refused multi-op wait-for-zero waiter", []uint16{1, 1}, func(c *commitScenario) {
			c.block("C", true, sb(0, 0, 0), sb(1, 0, 0))
			c.block("D", false, sb(0, 0, 0), sb(1, 0, 0))
			mustSetAll(c.t, c.ns, c.task("S"), c.id, 0, 0)
			c.committed("C! D")
			c.woke("C:EINTR D")
			c.sempid(0, "D")
			c.sempid(1, "D")
			c.counts("0/0 0/0")
		}},
		{"a wait-for-zero waiter enabled by an alter waiter's completion is refused", []uint16{1}, func(c *commitScenario) {
			c.block("Z", true, sb(0, 0, 0))
			c.block("A", false, sb(0, -2, 0))
			c.op("V", 0, sb(0, 1, 0))
			c.committed("A Z!")
			c.woke("Z:EINTR A")
			c.vals(0)
			c.sempid(0, "A")
		}},
		{"SETVAL wakes a refused waiter: the next gets it; otime only if someone did", []uint16{0, 0}, func(c *commitScenario) {
			c.block("A", true, sb(0, -1, 0))
			c.clk.Set(t0 + 200)
			mustSetVal(c.t, c.ns, c.task("S"), c.id, 0, 1)
			c.committed("A!")
			c.woke("A:EINTR")
			c.vals(1, 0)
			c.sempid(0, "S")
			c.otime(0)
			c.block("B", true, sb(0, -2, 0))
			c.block("C", false, sb(0, -2, 0))
			c.clk.Set(t0 + 300)
			mustSetVal(c.t, c.ns, c.task("S"), c.id, 0, 2)
			c.committed("B! C")
			c.woke("B:EINTR C")
			c.vals(0, 0)
			c.sempid(0, "C")
			c.otime(t0 + 300)
		}},
		{"SETALL wakes refused waiters on several semaphores", []uint16{0, 1, 0}, func(c *commitScenario) {
			c.block("A", true, sb(0, -1, 0))
			c.block("Z", true, sb(1, 0, 0))
			c.block("C", false, sb(2, -2, 0))
			c.block("D", false, sb(0, -1, 0))
			mustSetAll(c.t, c.ns, c.task("S"), c.id, 1, 0, 2)
			c.wokeSet("A:EINTR Z:EINTR C D")
			c.vals(0, 0, 0)
			c.sempid(0, "D")
			c.sempid(1, "S")
			c.sempid(2, "C")
			c.counts("0/0 0/0 0/0")
		}},
		{"an undo at exit wakes a refused waiter: the next gets it", []uint16{1}, func(c *commitScenario) {
			c.op("U", 0, sb(0, -1, undo))
			c.block("A", true, sb(0, -1, undo))
			c.block("B", false, sb(0, -1, 0))
			c.clk.Set(t0 + 300)
			c.ns.ExitUndo(c.task("U").Undo, c.pid("U"))
			c.committed("A! B")
			c.woke("A:EINTR B")
			c.vals(0)
			c.sempid(0, "B")
			c.adj("A", 0)
			c.adj("U")
			c.otime(t0 + 300)
		}},
		{"SEM_UNDO adjustments of a refused waiter are restored exactly", []uint16{0, 5}, func(c *commitScenario) {
			c.op("A", 0, sb(0, 3, undo))
			c.adj("A", -3, 0)
			c.block("A", true, sb(0, -4, undo), sb(1, 2, undo), sb(0, 1, undo), sb(1, -3, 0))
			c.block("B", false, sb(0, -4, undo))
			c.op("V", 0, sb(0, 1, 0))
			c.committed("A! B")
			c.woke("A:EINTR B")
			c.vals(0, 5)
			c.adj("A", -3, 0)
			c.adj("B", 4, 0)
			c.sempid(0, "B")
			c.sempid(1, "setup")
		}},
		{"ERANGE and EAGAIN on retry and EIDRM do not call Commit", []uint16{0, 32767, 0}, func(c *commitScenario) {
			c.block("R", false, sb(0, -1, undo), sb(1, 1, 0))
			c.block("N", false, sb(0, -1, 0), sb(2, -1, nowait))
			c.op("V", 0, sb(0, 1, 0))
			c.committed("")
			c.woke("R:ERANGE N:EAGAIN")
			c.vals(1, 32767, 0)
			c.block("I", false, sb(2, -1, 0))
			if err := c.ns.Remove(c.task("setup"), c.id); err != 0 {
				c.t.Fatal(err)
			}
			c.committed("")
			c.woke("I:EIDRM")
		}},
		{"a dead waiter is dropped before Commit is asked", []uint16{0}, func(c *commitScenario) {
			c.block("A", false, sb(0, -1, 0))
			c.block("B", false, sb(0, -1, 0))
			c.waiters["A"].Alive = func(*sem.Waiter) bool { return false }
			c.op("V", 0, sb(0, 1, 0))
			c.committed("B")
			c.woke("A:EINTR B")
		}},
		{"an accepting Commit changes nothing", []uint16{0, 0}, func(c *commitScenario) {
			c.block("A", false, sb(0, -1, undo), sb(1, 2, undo))
			c.clk.Set(t0 + 200)
			c.op("V", 0, sb(0, 3, 0))
			c.committed("A")
			c.woke("A")
			c.err("A", 0)
			c.vals(2, 2)
			c.adj("A", 1, -2)
			c.sempid(0, "A")
			c.sempid(1, "A")
			c.otime(t0 + 200)
		}},
		{"a Waiter refused on behalf can be reused", []uint16{0}, func(c *commitScenario) {
			c.block("A", true, sb(0, -1, 0))
			c.op("V", 0, sb(0, 1, 0))
			c.woke("A:EINTR")
			c.vals(1)
			c.refuse["A"] = false
			w := c.waiters["A"]
			if blocked, err := c.ns.Semtimedop(c.task("A"), c.id, []abi.Sembuf{sb(0, -1, 0)}, nil, w); blocked || err != 0 {
				c.t.Fatalf("P = %v, %s; want false, OK", blocked, errName(err))
			}
			c.committed("A! A")
			block(c.t, c.ns, c.task("A"), c.id, w, sb(0, -1, 0))
			c.op("V", 0, sb(0, 1, 0))
			c.committed("A")
			c.woke("A")
			c.err("A", 0)
			c.vals(0)
		}},
	})
}

// TestCommitConcurrent has goroutines take and give back units with
// blocking waits, timeouts and SEM_UNDO, where every Commit may refuse
// (a signal interrupted the caller) and an interrupted call is made
// again, as under SA_RESTART. At the end every unit is back, nobody
// waits and no adjustment is left. Run it with -race.
func TestCommitConcurrent(t *testing.T) {
	ns, _ := newNS()
	root := rootTask(1)
	const nsems, units = 3, 2
	id := mustGet(t, ns, root, nsems, 0o600)
	mustSetAll(t, ns, root, id, units, units, units)
	goroutines, rounds := 12, 300
	if testing.Short() {
		rounds = 80
	}
	var refused, accepted atomic.Int64
	var wg sync.WaitGroup
	callers := make([]*blockingCaller, goroutines)
	for g := range goroutines {
		c := newBlockingCaller(ns, rootTask(int32(100+g)))
		callers[g] = c
		// The Commit hook runs in whichever goroutine completes the call:
		// its decision comes from an atomic counter.
		var n atomic.Uint64
		seed := uint64(g) * 0x9e3779b97f4a7c15
		c.w.Commit = func(*sem.Waiter) bool {
			if (n.Add(1)*0x2545f4914f6cdd1d+seed)>>61 < 3 { // 3/8
				refused.Add(1)
				return false
			}
			accepted.Add(1)
			return true
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(g), 9))
			// restart repeats a call ended by a refused Commit.
			restart := func(timeout time.Duration, sops ...abi.Sembuf) sem.Errno {
				for {
					if err := c.semop(t, id, timeout, sops...); err != sem.EINTR {
						return err
					}
				}
			}
			for range rounds {
				a, b := uint16(r.IntN(nsems)), uint16(r.IntN(nsems))
				var flg int16
				if r.IntN(2) == 0 {
					flg = abi.SEM_UNDO
				}
				timeout := time.Duration(0)
				if r.IntN(4) == 0 {
					timeout = time.Duration(r.IntN(50)) * time.Microsecond
				}
				take := []abi.Sembuf{sb(a, -1, flg)}
				if r.IntN(2) == 0 {
					take = append(take, sb(b, -1, flg))
				}
				var give []abi.Sembuf
				for _, s := range take {
					give = append(give, sb(s.SemNum, -s.SemOp, s.SemFlg))
				}
				switch err := restart(timeout, take...); err {
				case 0:
					if err := restart(0, give...); err != 0 {
						t.Errorf("giving back %v: %s", give, errName(err))
						return
					}
				case sem.EAGAIN:
				default:
					t.Errorf("taking %v: %s", take, errName(err))
					return
				}
			}
		}()
	}
	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()
	select {
	case <-finished:
	case <-time.After(2 * time.Minute):
		t.Fatalf("goroutines still waiting after 2 minutes: values %v, ncnt/zcnt %s", vals(t, ns, id), counts(t, ns, id))
	}
	if got := vals(t, ns, id); !slices.Equal(got, []uint16{units, units, units}) {
		t.Errorf("values at the end = %v, want all %d", got, units)
	}
	if c := counts(t, ns, id); c != "0/0 0/0 0/0" {
		t.Errorf("waiters left at the end: %s", c)
	}
	for _, c := range callers {
		if a := ns.Adjustments(c.task.Undo, id); a != nil && slices.ContainsFunc(a, func(x int16) bool { return x != 0 }) {
			t.Errorf("task %d: adjustments %v left, want zeros", c.task.PID, a)
		}
	}
	if refused.Load() == 0 || accepted.Load() == 0 {
		t.Errorf("Commit refused %d times, accepted %d: want both", refused.Load(), accepted.Load())
	}
	t.Logf("Commit accepted %d times, refused %d times", accepted.Load(), refused.Load())
}

// BenchmarkCommit is BenchmarkSemopUncontended (clock=fake) and
// BenchmarkWakeOneAmong10000 (parked=100) with an accepting Commit hook
// on the caller's Waiter: the cost of the hook where it is used.
func BenchmarkCommit(b *testing.B) {
	commit := func(*sem.Waiter) bool { return true }
	b.Run("uncontended", func(b *testing.B) {
		ns := sem.NewNamespace(newClock(t0))
		tk := rootTask(1)
		id := mustGet(b, ns, tk, 1, 0o600)
		mustSetVal(b, ns, tk, id, 0, 1)
		w := &sem.Waiter{Commit: commit}
		p, v := []abi.Sembuf{sb(0, -1, 0)}, []abi.Sembuf{sb(0, 1, 0)}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := ns.Semtimedop(tk, id, p, nil, w); err != 0 {
				b.Fatal(err)
			}
			if _, err := ns.Semtimedop(tk, id, v, nil, w); err != 0 {
				b.Fatal(err)
			}
		}
	})
	b.Run("wake", func(b *testing.B) {
		ns := sem.NewNamespace(nil)
		tk := rootTask(1)
		id := mustGet(b, ns, tk, 101, 0o600)
		for i := 1; i <= 100; i++ {
			block(b, ns, tk, id, &sem.Waiter{}, sb(uint16(i), -1, 0))
		}
		woken := 0
		w := &sem.Waiter{Done: func(*sem.Waiter) { woken++ }, Commit: commit}
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

// commitCase is a scenario of a Commit test: semaphores of a set made
// with values init, then run.
type commitCase struct {
	name string
	init []uint16
	run  func(c *commitScenario)
}

// runCommitCases runs each case as a subtest on a fresh scenario whose
// first task is "setup".
func runCommitCases(t *testing.T, cases []commitCase) {
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newCommitScenario(t, tc.init...)
			c.task("setup")
			tc.run(c)
		})
	}
}
