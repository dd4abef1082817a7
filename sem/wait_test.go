package sem_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/sembox/sembox/abi"
	"github.com/sembox/sembox/sem"
)

// scenario drives deterministic wait/wake-up scripts on one set. Waiters
// are named; each task's pid is derived from its name so that GETPID shows
// who performed an operation.
type scenario struct {
	t       *testing.T
	ns      *sem.Namespace
	clk     *fakeClock
	id      int32
	rec     recorder
	waiters map[string]*sem.Waiter
	tasks   map[string]*sem.Task
	nextPID int32
	// alive, if set, gives each new waiter an Alive callback.
	alive func(name string) func(*sem.Waiter) bool
}

func newScenario(t *testing.T, init ...uint16) *scenario {
	ns, clk := newNS()
	s := &scenario{t: t, ns: ns, clk: clk, waiters: map[string]*sem.Waiter{}, tasks: map[string]*sem.Task{}, nextPID: 100}
	s.id = mustGet(t, ns, s.task("setup"), int32(len(init)), 0o600)
	mustSetAll(t, ns, s.task("setup"), s.id, init...)
	clk.Set(t0 + 100)
	return s
}

// task returns the task called name (pid 100, 101, ... in order of first use).
func (s *scenario) task(name string) *sem.Task {
	if tk := s.tasks[name]; tk != nil {
		return tk
	}
	tk := rootTask(s.nextPID)
	s.nextPID++
	s.tasks[name] = tk
	return tk
}

func (s *scenario) pid(name string) int32 { return s.task(name).PID }

// block queues the waiter name (task name) with sops.
func (s *scenario) block(name string, sops ...abi.Sembuf) {
	s.t.Helper()
	w := s.rec.waiter(name)
	if s.alive != nil {
		w.Alive = s.alive(name)
	}
	s.waiters[name] = w
	block(s.t, s.ns, s.task(name), s.id, w, sops...)
}

// op performs a non-blocking semop as task name and checks its result.
func (s *scenario) op(name string, want sem.Errno, sops ...abi.Sembuf) {
	s.t.Helper()
	if err := op(s.ns, s.task(name), s.id, sops...); err != want {
		s.t.Fatalf("semop by %s %v = %s, want %s", name, sops, errName(err), errName(want))
	}
}

// woke checks the Done calls since the last check, in order.
func (s *scenario) woke(want string) {
	s.t.Helper()
	if got := s.rec.take(); got != want {
		s.t.Errorf("woken: %q, want %q", got, want)
	}
}

// wokeSet checks the Done calls since the last check, in any order.
func (s *scenario) wokeSet(want string) {
	s.t.Helper()
	got := strings.Fields(s.rec.take())
	w := strings.Fields(want)
	slices.Sort(got)
	slices.Sort(w)
	if !slices.Equal(got, w) {
		s.t.Errorf("woken: %q, want %q (any order)", got, w)
	}
}

func (s *scenario) vals(want ...uint16) {
	s.t.Helper()
	if got := vals(s.t, s.ns, s.id); !slices.Equal(got, want) {
		s.t.Errorf("values = %v, want %v", got, want)
	}
}

// counts checks GETNCNT/GETZCNT as "n0/z0 n1/z1 ...".
func (s *scenario) counts(want string) {
	s.t.Helper()
	if got := counts(s.t, s.ns, s.id); got != want {
		s.t.Errorf("ncnt/zcnt = %s, want %s", got, want)
	}
}

func (s *scenario) sempid(num int32, who string) {
	s.t.Helper()
	if got := getOne(s.t, s.ns, s.id, num, abi.GETPID); got != s.pid(who) {
		s.t.Errorf("GETPID(%d) = %d, want %d (%s)", num, got, s.pid(who), who)
	}
}

func (s *scenario) queued(name string, want bool) {
	s.t.Helper()
	if got := s.waiters[name].Queued(); got != want {
		s.t.Errorf("%s.Queued() = %v, want %v", name, got, want)
	}
}

func (s *scenario) cancel(name string, err sem.Errno, want bool) {
	s.t.Helper()
	if got := s.ns.Cancel(s.waiters[name], err); got != want {
		s.t.Errorf("Cancel(%s, %s) = %v, want %v", name, errName(err), got, want)
	}
}

func (s *scenario) otime(want int64) {
	s.t.Helper()
	if got := stat(s.t, s.ns, s.id).Otime; got != want {
		s.t.Errorf("otime = %d, want %d", got, want)
	}
}

func TestWakeups(t *testing.T) {
	tests := []struct {
		name string
		init []uint16
		run  func(s *scenario)
	}{
		{"alter waiters on one semaphore are woken in FIFO order", []uint16{0}, func(s *scenario) {
			s.block("A", sb(0, -1, 0))
			s.block("B", sb(0, -1, 0))
			s.block("C", sb(0, -1, 0))
			s.counts("3/0")
			s.op("V", 0, sb(0, 1, 0))
			s.woke("A")
			s.op("V", 0, sb(0, 2, 0))
			s.woke("B C")
			s.vals(0)
			s.counts("0/0")
		}},
		{"a waiter that cannot proceed does not hold back later ones", []uint16{0}, func(s *scenario) {
			s.block("A", sb(0, -2, 0))
			s.block("B", sb(0, -1, 0))
			s.op("V", 0, sb(0, 1, 0))
			s.woke("B")
			s.counts("1/0")
			s.op("V", 0, sb(0, 2, 0))
			s.woke("A")
			s.vals(0)
		}},
		{"one increment wakes as many waiters as it can, in order", []uint16{0}, func(s *scenario) {
			s.block("A", sb(0, -1, 0))
			s.block("B", sb(0, -3, 0))
			s.block("C", sb(0, -1, 0))
			s.block("D", sb(0, -1, 0))
			s.op("V", 0, sb(0, 3, 0))
			s.woke("A C D")
			s.vals(0)
			s.counts("1/0")
		}},
		{"all wait-for-zero waiters of a semaphore wake together", []uint16{2}, func(s *scenario) {
			s.block("Z1", sb(0, 0, 0))
			s.block("Z2", sb(0, 0, 0))
			s.counts("0/2")
			s.op("P", 0, sb(0, -1, 0))
			s.woke("")
			s.op("P", 0, sb(0, -1, 0))
			s.woke("Z1 Z2")
			s.counts("0/0")
		}},
		{"wait-for-zero waiters are woken before alter waiters", []uint16{1, 0}, func(s *scenario) {
			// Z waits for sem 0 to be 0; M would raise sem 0 again.
			s.block("Z", sb(0, 0, 0))
			s.block("M", sb(0, 1, 0), sb(1, -1, 0))
			s.op("W", 0, sb(0, -1, 0), sb(1, 1, 0))
			s.woke("Z M")
			s.vals(1, 0)
			s.sempid(0, "M")
			s.sempid(1, "M")
		}},
		{"an alter waiter's completion wakes the wait-for-zero waiters it enables", []uint16{1}, func(s *scenario) {
			s.block("Z", sb(0, 0, 0))
			s.block("A", sb(0, -2, 0))
			s.op("V", 0, sb(0, 1, 0))
			// Linux queues Z's wake-up while completing A, before A's
			// own (update_queue calls do_smart_wakeup_zero first).
			s.woke("Z A")
			s.vals(0)
			s.sempid(0, "Z")
		}},
		{"a multi-op waiter completes all its operations at once", []uint16{0, 0, 5}, func(s *scenario) {
			s.block("M", sb(0, -1, 0), sb(1, -1, 0), sb(2, 3, 0))
			s.op("V", 0, sb(0, 1, 0))
			s.woke("")
			s.vals(1, 0, 5)
			s.op("V", 0, sb(1, 1, 0))
			s.woke("M")
			s.vals(0, 0, 8)
			s.sempid(0, "M")
			s.sempid(1, "M")
			s.sempid(2, "M")
		}},
		{"a multi-op waiter's increment wakes a later waiter", []uint16{0, 0}, func(s *scenario) {
			s.block("M", sb(0, -1, 0), sb(1, 1, 0))
			s.block("B", sb(1, -1, 0))
			s.op("V", 0, sb(0, 1, 0))
			s.woke("M B")
			s.vals(0, 0)
			s.sempid(1, "B")
		}},
		{"single-op and multi-op waiters keep their FIFO order", []uint16{0, 0}, func(s *scenario) {
			s.block("A", sb(0, -1, 0))
			s.block("M", sb(0, -1, 0), sb(1, -1, 0))
			s.block("B", sb(0, -1, 0))
			s.counts("3/0 0/0")
			s.op("V", 0, sb(1, 1, 0))
			s.woke("")
			s.op("V", 0, sb(0, 1, 0))
			s.woke("A")
			s.op("V", 0, sb(0, 1, 0))
			s.woke("M")
			s.vals(0, 0)
			s.op("V", 0, sb(0, 1, 0))
			s.woke("B")
		}},
		{"the waker performs the sleeper's operation", []uint16{0, 0}, func(s *scenario) {
			s.block("A", sb(0, -1, 0), sb(1, 2, 0))
			s.clk.Set(t0 + 200)
			s.op("V", 0, sb(0, 3, 0))
			// Done has run before the waker's call returned, and the
			// sleeper's operation is already applied, under its own pid.
			s.woke("A")
			s.vals(2, 2)
			s.sempid(0, "A")
			s.sempid(1, "A")
			s.otime(t0 + 200)
			if w := s.waiters["A"]; w.Err != 0 || w.Queued() {
				s.t.Errorf("A: Err %s, queued %v", errName(w.Err), w.Queued())
			}
		}},
		{"GETNCNT counts a multi-op waiter only on the semaphore it blocks on", []uint16{0, 0}, func(s *scenario) {
			s.block("M", sb(0, -1, 0), sb(1, -1, 0))
			s.counts("1/0 0/0")
			s.op("V", 0, sb(0, 1, 0))
			s.woke("")
			s.counts("0/0 1/0")
			s.vals(1, 0)
		}},
		{"GETZCNT counts a multi-op waiter only on the semaphore it blocks on", []uint16{1, 1}, func(s *scenario) {
			s.block("C", sb(0, 0, 0), sb(1, 0, 0))
			s.counts("0/1 0/0")
			s.op("P", 0, sb(0, -1, 0))
			s.counts("0/0 0/1")
			s.op("P", 0, sb(1, -1, 0))
			s.woke("C")
			s.counts("0/0 0/0")
		}},
		{"a multi-op waiter's mixed operations count once", []uint16{1, 0}, func(s *scenario) {
			s.block("M", sb(0, 0, 0), sb(1, -1, 0))
			s.counts("0/1 0/0")
			s.op("P", 0, sb(0, -1, 0))
			s.counts("0/0 1/0")
		}},
		{"IPC_NOWAIT inside a multi-op waiter gives EAGAIN on retry", []uint16{0, 0}, func(s *scenario) {
			s.block("M", sb(0, -1, 0), sb(1, -1, nowait))
			s.clk.Set(t0 + 300)
			s.op("V", 0, sb(0, 1, 0))
			s.woke("M:EAGAIN")
			s.vals(1, 0)
			s.counts("0/0 0/0")
			s.otime(t0 + 300) // set by the V, not by M
			s.sempid(0, "V")
		}},
		{"ERANGE on retry fails the waiter and rolls back", []uint16{0, 32767}, func(s *scenario) {
			s.block("M", sb(0, -1, undo), sb(1, 1, 0))
			s.op("V", 0, sb(0, 1, 0))
			s.woke("M:ERANGE")
			s.vals(1, 32767)
			if adj := s.ns.Adjustments(s.task("M").Undo, s.id); !slices.Equal(adj, []int16{0, 0}) {
				s.t.Errorf("M's adjustments = %v, want [0 0]", adj)
			}
		}},
		{"a non-altering multi-op waiter is retried only when a semaphore becomes zero", []uint16{0, 1}, func(s *scenario) {
			// Linux retries the set-wide wait-for-zero queue only if one
			// of the changed semaphores is zero; checked on Linux 6.18.
			s.block("W", sb(0, 0, nowait), sb(1, 0, 0))
			s.op("V", 0, sb(0, 3, 0))
			s.woke("")
			s.counts("0/0 0/1")
			s.op("P", 0, sb(1, -1, 0))
			s.woke("W:EAGAIN")
			s.counts("0/0 0/0")
		}},
		{"SETVAL wakes waiters and the sleeper's operation sets otime", []uint16{0, 1}, func(s *scenario) {
			s.block("A", sb(0, -2, 0))
			s.block("Z", sb(1, 0, 0))
			s.clk.Set(t0 + 400)
			mustSetVal(s.t, s.ns, s.task("S"), s.id, 0, 3)
			s.woke("A")
			s.vals(1, 1)
			s.sempid(0, "A")
			s.otime(t0 + 400)
			mustSetVal(s.t, s.ns, s.task("S"), s.id, 1, 0)
			s.woke("Z")
			s.sempid(1, "Z")
		}},
		{"SETVAL that wakes nobody leaves otime", []uint16{0}, func(s *scenario) {
			s.block("A", sb(0, -2, 0))
			mustSetVal(s.t, s.ns, s.task("S"), s.id, 0, 1)
			s.woke("")
			s.otime(0)
			s.counts("1/0")
		}},
		{"SETALL wakes waiters on every semaphore", []uint16{0, 1, 0}, func(s *scenario) {
			s.block("A", sb(0, -1, 0))
			s.block("Z", sb(1, 0, 0))
			s.block("C", sb(2, -2, 0))
			s.block("M", sb(0, -1, 0), sb(2, -1, 0))
			mustSetAll(s.t, s.ns, s.task("S"), s.id, 2, 0, 2)
			s.wokeSet("A Z C")
			s.vals(1, 0, 0)
			s.counts("0/0 0/0 1/0")
			mustSetAll(s.t, s.ns, s.task("S"), s.id, 1, 0, 1)
			s.woke("M")
			s.vals(0, 0, 0)
		}},
		{"a timeout (Cancel with EAGAIN) leaves no trace", []uint16{0, 0}, func(s *scenario) {
			s.block("A", sb(0, -1, undo), sb(1, 1, undo))
			s.block("B", sb(0, -1, 0))
			s.cancel("A", sem.EAGAIN, true)
			if w := s.waiters["A"]; w.Err != sem.EAGAIN || w.Queued() {
				s.t.Errorf("A: Err %s, queued %v; want EAGAIN, false", errName(w.Err), w.Queued())
			}
			s.counts("1/0 0/0")
			s.vals(0, 0)
			s.op("V", 0, sb(0, 1, 0))
			s.woke("B")
			s.vals(0, 0)
			if adj := s.ns.Adjustments(s.task("A").Undo, s.id); !slices.Equal(adj, []int16{0, 0}) {
				s.t.Errorf("A's adjustments = %v, want [0 0]", adj)
			}
		}},
		{"a signal (Cancel with EINTR) leaves no trace", []uint16{0, 0, 1}, func(s *scenario) {
			s.block("M", sb(0, 1, 0), sb(1, -1, 0))
			s.block("Z", sb(2, 0, 0))
			s.counts("0/0 1/0 0/1")
			s.cancel("M", sem.EINTR, true)
			s.cancel("Z", sem.EINTR, true)
			s.counts("0/0 0/0 0/0")
			s.vals(0, 0, 1)
			s.op("V", 0, sb(1, 1, 0))
			s.op("P", 0, sb(2, -1, 0))
			s.woke("")
			s.vals(0, 1, 0)
			for _, name := range []string{"M", "Z"} {
				if w := s.waiters[name]; w.Err != sem.EINTR || w.Queued() {
					s.t.Errorf("%s: Err %s, queued %v; want EINTR, false", name, errName(w.Err), w.Queued())
				}
			}
		}},
		{"Cancel after completion returns false and Done was called", []uint16{0}, func(s *scenario) {
			s.block("A", sb(0, -1, 0))
			s.op("V", 0, sb(0, 1, 0))
			s.woke("A")
			s.cancel("A", sem.EINTR, false)
			if w := s.waiters["A"]; w.Err != 0 {
				s.t.Errorf("A.Err after a losing Cancel = %s, want OK", errName(w.Err))
			}
			s.vals(0)
		}},
		{"Cancel twice returns false the second time", []uint16{0}, func(s *scenario) {
			s.block("A", sb(0, -1, 0))
			s.cancel("A", sem.EINTR, true)
			s.cancel("A", sem.EAGAIN, false)
			if w := s.waiters["A"]; w.Err != sem.EINTR {
				s.t.Errorf("A.Err = %s, want the first Cancel's EINTR", errName(w.Err))
			}
			s.woke("")
		}},
		{"IPC_RMID wakes every waiter with EIDRM", []uint16{1, 0}, func(s *scenario) {
			s.block("A", sb(1, -1, 0))
			s.block("Z", sb(0, 0, 0))
			s.block("M", sb(0, -2, 0), sb(1, -1, 0))
			s.block("C", sb(0, 0, 0), sb(1, 0, 0))
			s.block("B", sb(1, -1, 0))
			if err := s.ns.Remove(s.task("R"), s.id); err != 0 {
				s.t.Fatal(err)
			}
			s.wokeSet("A:EIDRM Z:EIDRM M:EIDRM C:EIDRM B:EIDRM")
			for name := range s.waiters {
				s.queued(name, false)
				s.cancel(name, sem.EINTR, false)
			}
		}},
		{"a single-op waiter queued after a multi-op waiter left is still woken", []uint16{0, 0}, func(s *scenario) {
			// Linux moves the set-wide queue back to the per-semaphore
			// queues when the last multi-op waiter leaves
			// (unmerge_queues); checked on Linux 6.18.
			s.block("A", sb(0, -1, 0))
			s.block("M", sb(0, -1, 0), sb(1, -1, 0))
			s.cancel("M", sem.EAGAIN, true)
			s.block("C", sb(1, -1, 0))
			s.op("V", 0, sb(1, 1, 0))
			s.woke("C")
			s.vals(0, 0)
			s.counts("1/0 0/0")
			s.op("V", 0, sb(0, 1, 0))
			s.woke("A")
		}},
		{"the same after the multi-op waiter completed", []uint16{0, 0, 0}, func(s *scenario) {
			s.block("A", sb(0, -1, 0))
			s.block("M", sb(2, -1, 0), sb(1, 0, 0))
			s.op("V", 0, sb(2, 1, 0))
			s.woke("M")
			s.block("C", sb(1, -1, 0))
			s.op("V", 0, sb(1, 1, 0))
			s.woke("C")
			s.vals(0, 0, 0)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.run(newScenario(t, tc.init...))
		})
	}
}

// TestCancelUnqueued: Cancel of a Waiter that is not queued reports false
// and changes nothing; a call that does not block never calls Done.
func TestCancelUnqueued(t *testing.T) {
	ns, _ := newNS()
	tk := rootTask(1)
	id := mustGet(t, ns, tk, 1, 0o600)
	var rec recorder
	w := rec.waiter("w")
	if ns.Cancel(w, sem.EINTR) {
		t.Error("Cancel of a fresh Waiter = true")
	}
	if blocked, err := ns.Semtimedop(tk, id, []abi.Sembuf{sb(0, 1, 0)}, nil, w); blocked || err != 0 {
		t.Fatalf("V = %v, %s", blocked, errName(err))
	}
	if blocked, err := ns.Semtimedop(tk, id, []abi.Sembuf{sb(0, -2, nowait)}, nil, w); blocked || err != sem.EAGAIN {
		t.Fatalf("P with IPC_NOWAIT = %v, %s", blocked, errName(err))
	}
	if ns.Cancel(w, sem.EINTR) {
		t.Error("Cancel of a Waiter whose calls did not block = true")
	}
	if got := rec.take(); got != "" {
		t.Errorf("Done called for calls that did not block: %q", got)
	}
	if w.Err != 0 || val(t, ns, id, 0) != 1 {
		t.Errorf("Err %s, value %d; want OK, 1", errName(w.Err), val(t, ns, id, 0))
	}
	// The Waiter can be reused for a call that blocks.
	block(t, ns, tk, id, w, sb(0, -2, 0))
	mustOp(t, ns, tk, id, sb(0, 1, 0))
	if got := rec.take(); got != "w" || val(t, ns, id, 0) != 0 {
		t.Errorf("reused Waiter: woken %q, value %d; want \"w\", 0", got, val(t, ns, id, 0))
	}
}

// TestWaiterAlive: a waiter whose caller has died (Alive returns false) is
// never granted anything: when the engine would perform its operation it
// is removed with EINTR instead, and the next waiter gets the value.
func TestWaiterAlive(t *testing.T) {
	tests := []struct {
		name string
		init []uint16
		run  func(s *scenario, kill func(name string))
	}{
		{"a dead alter waiter does not consume the value", []uint16{0}, func(s *scenario, kill func(string)) {
			s.block("A", sb(0, -1, undo))
			s.block("B", sb(0, -1, 0))
			kill("A")
			s.op("V", 0, sb(0, 1, 0))
			s.woke("A:EINTR B")
			s.vals(0)
			s.sempid(0, "B")
			if adj := s.ns.Adjustments(s.task("A").Undo, s.id); !slices.Equal(adj, []int16{0}) {
				s.t.Errorf("the dead waiter's adjustments = %v, want [0]", adj)
			}
		}},
		{"a dead multi-op waiter does not consume", []uint16{0, 1}, func(s *scenario, kill func(string)) {
			s.block("M", sb(0, -1, 0), sb(1, -1, 0))
			s.block("B", sb(0, -1, 0))
			kill("M")
			s.op("V", 0, sb(0, 1, 0))
			s.woke("M:EINTR B")
			s.vals(0, 1)
		}},
		{"a dead wait-for-zero waiter ends with EINTR", []uint16{1}, func(s *scenario, kill func(string)) {
			s.block("Z", sb(0, 0, 0))
			s.block("Y", sb(0, 0, 0))
			kill("Z")
			s.op("P", 0, sb(0, -1, 0))
			s.woke("Z:EINTR Y")
			s.sempid(0, "Y")
		}},
		{"a live waiter is completed as usual", []uint16{0}, func(s *scenario, kill func(string)) {
			s.block("A", sb(0, -1, 0))
			s.op("V", 0, sb(0, 1, 0))
			s.woke("A")
			s.vals(0)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newScenario(t, tc.init...)
			dead := map[string]bool{}
			s.alive = func(name string) func(*sem.Waiter) bool {
				return func(*sem.Waiter) bool { return !dead[name] }
			}
			tc.run(s, func(name string) { dead[name] = true })
			s.counts(strings.TrimSpace(strings.Repeat("0/0 ", len(tc.init))))
		})
	}
}
