package sem_test

import (
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sembox/sembox/abi"
	"github.com/sembox/sembox/sem"
)

// blockingCaller performs semops that may wait, like a thread in the
// kernel: it queues a Waiter, sleeps until Done or its timeout, and on
// timeout Cancels (which may lose the race against a completion).
type blockingCaller struct {
	ns   *sem.Namespace
	task *sem.Task
	w    sem.Waiter
	done chan sem.Errno

	doneCalls, cancels, lostRaces atomic.Int64
}

func newBlockingCaller(ns *sem.Namespace, tk *sem.Task) *blockingCaller {
	c := &blockingCaller{ns: ns, task: tk, done: make(chan sem.Errno, 1)}
	c.w.Done = func(w *sem.Waiter) {
		c.doneCalls.Add(1)
		c.done <- w.Err // never blocks: at most one completion per call
	}
	return c
}

// semop returns the call's result; timeout 0 means wait forever.
func (c *blockingCaller) semop(t testing.TB, id int32, timeout time.Duration, sops ...abi.Sembuf) sem.Errno {
	before := c.doneCalls.Load()
	blocked, err := c.ns.Semtimedop(c.task, id, sops, nil, &c.w)
	if !blocked {
		return err
	}
	if timeout == 0 {
		return <-c.done
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case err := <-c.done:
		return err
	case <-timer.C:
	}
	if c.ns.Cancel(&c.w, sem.EAGAIN) {
		c.cancels.Add(1)
		if c.w.Err != sem.EAGAIN {
			t.Errorf("Cancel returned true but Err = %s", errName(c.w.Err))
		}
		if n := c.doneCalls.Load(); n != before {
			t.Errorf("Cancel returned true but Done ran")
		}
		return sem.EAGAIN
	}
	// Lost the race: Done has been or is about to be called.
	c.lostRaces.Add(1)
	return <-c.done
}

// TestConcurrentPV has many goroutines take and give back units of a few
// semaphores with blocking waits, timeouts, multi-semaphore acquisitions
// and SEM_UNDO, while others read; at the end every unit is back, nobody
// waits and no adjustment is left. Run it with -race.
func TestConcurrentPV(t *testing.T) {
	ns, _ := newNS()
	root := rootTask(1)
	const nsems, units = 3, 2
	id := mustGet(t, ns, root, nsems, 0o600)
	mustSetAll(t, ns, root, id, units, units, units)
	goroutines, rounds := 16, 400
	if testing.Short() {
		rounds = 100
	}
	var wg sync.WaitGroup
	var acquired, timeouts atomic.Int64
	callers := make([]*blockingCaller, goroutines)
	for g := range goroutines {
		tk := rootTask(int32(100 + g))
		if g%2 == 1 {
			// Odd goroutines are threads of the even one before them:
			// they share its undo list.
			tk.Undo = callers[g-1].task.Undo
		}
		c := newBlockingCaller(ns, tk)
		callers[g] = c
		wg.Add(1)
		go func(seed uint64) {
			defer wg.Done()
			r := rand.New(rand.NewPCG(seed, 7))
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
				var take, give []abi.Sembuf
				switch r.IntN(3) {
				case 0:
					take = []abi.Sembuf{sb(a, -1, flg)}
				case 1:
					take = []abi.Sembuf{sb(a, -1, flg), sb(b, -1, flg)} // maybe the same twice
				case 2:
					take = []abi.Sembuf{sb(a, -2, flg)}
				}
				for _, s := range take {
					give = append(give, sb(s.SemNum, -s.SemOp, s.SemFlg))
				}
				switch err := c.semop(t, id, timeout, take...); err {
				case 0:
					acquired.Add(1)
					if r.IntN(3) == 0 {
						// Wait for zero on another semaphore with IPC_NOWAIT: read-only.
						c.semop(t, id, 0, sb(b, 0, abi.IPC_NOWAIT))
					}
					if err := c.semop(t, id, 0, give...); err != 0 {
						t.Errorf("giving back %v: %s", give, errName(err))
						return
					}
				case sem.EAGAIN:
					timeouts.Add(1)
				default:
					t.Errorf("taking %v: %s", take, errName(err))
					return
				}
			}
		}(uint64(g))
	}
	stop := make(chan struct{})
	var readers sync.WaitGroup
	readers.Add(1)
	go func() {
		defer readers.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			v, err := ns.GetAll(root, id, nil)
			if err != 0 || len(v) != nsems {
				t.Errorf("GETALL = %v, %s", v, errName(err))
				return
			}
			for i, x := range v {
				if x > units {
					t.Errorf("semaphore %d holds %d units, more than the %d that exist", i, x, units)
				}
			}
			ns.Snapshot(true)
			ns.GetOne(root, id, 0, abi.GETNCNT)
		}
	}()
	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()
	select {
	case <-finished:
	case <-time.After(2 * time.Minute):
		// Every unit taken is given back, so a goroutine still waiting
		// here missed a wake-up.
		t.Fatalf("goroutines still waiting after 2 minutes: values %v, ncnt/zcnt %s", vals(t, ns, id), counts(t, ns, id))
	}
	close(stop)
	readers.Wait()
	if got := vals(t, ns, id); !slices.Equal(got, []uint16{units, units, units}) {
		t.Errorf("values at the end = %v, want all %d", got, units)
	}
	if c := counts(t, ns, id); c != "0/0 0/0 0/0" {
		t.Errorf("waiters left at the end: %s", c)
	}
	var cancels, lost int64
	for _, c := range callers {
		if a := ns.Adjustments(c.task.Undo, id); a != nil && slices.ContainsFunc(a, func(x int16) bool { return x != 0 }) {
			t.Errorf("task %d: adjustments %v left, want zeros", c.task.PID, a)
		}
		cancels += c.cancels.Load()
		lost += c.lostRaces.Load()
	}
	t.Logf("%d acquisitions, %d timeouts (%d cancelled, %d lost the race to a completion)", acquired.Load(), timeouts.Load(), cancels, lost)
}

// TestConcurrentCancelRace races Cancel against the V that would complete
// the wait: exactly one side wins, Cancel reports which, and the unit is
// neither lost nor duplicated.
func TestConcurrentCancelRace(t *testing.T) {
	ns, _ := newNS()
	root := rootTask(1)
	id := mustGet(t, ns, root, 1, 0o600)
	rounds := 2000
	if testing.Short() {
		rounds = 300
	}
	var cancelWon, doneWon int
	for i := range rounds {
		var doneCalls atomic.Int32
		w := &sem.Waiter{Done: func(*sem.Waiter) { doneCalls.Add(1) }}
		block(t, ns, root, id, w, sb(0, -1, 0))
		var wg sync.WaitGroup
		var cancelled bool
		wg.Add(2)
		go func() {
			defer wg.Done()
			if i%2 == 0 {
				time.Sleep(time.Duration(i%7) * time.Microsecond)
			}
			cancelled = ns.Cancel(w, sem.EINTR)
		}()
		go func() {
			defer wg.Done()
			if err := op(ns, rootTask(2), id, sb(0, 1, 0)); err != 0 {
				t.Errorf("V = %s", errName(err))
			}
		}()
		wg.Wait()
		v := val(t, ns, id, 0)
		switch {
		case cancelled && (doneCalls.Load() != 0 || w.Err != sem.EINTR || v != 1):
			t.Fatalf("round %d: Cancel won but Done ran %d times, Err %s, value %d", i, doneCalls.Load(), errName(w.Err), v)
		case !cancelled && (doneCalls.Load() != 1 || w.Err != 0 || v != 0):
			t.Fatalf("round %d: completion won but Done ran %d times, Err %s, value %d", i, doneCalls.Load(), errName(w.Err), v)
		}
		if cancelled {
			cancelWon++
			mustSetVal(t, ns, root, id, 0, 0)
		} else {
			doneWon++
		}
	}
	t.Logf("Cancel won %d times, the completion %d times", cancelWon, doneWon)
}

// TestConcurrentRemove removes a set while goroutines wait on it and others
// keep calling: waiters end with EIDRM, later calls fail with EINVAL or
// EIDRM, nothing hangs.
func TestConcurrentRemove(t *testing.T) {
	for round := range 20 {
		ns, _ := newNS()
		root := rootTask(1)
		id := mustGet(t, ns, root, 2, 0o600)
		var wg sync.WaitGroup
		const waiters = 8
		results := make(chan sem.Errno, waiters)
		for g := range waiters {
			c := newBlockingCaller(ns, rootTask(int32(10+g)))
			wg.Add(1)
			go func() {
				defer wg.Done()
				results <- c.semop(t, id, 0, sb(uint16(g%2), -1, abi.SEM_UNDO), sb(uint16(1-g%2), 0, 0))
			}()
		}
		var callers sync.WaitGroup
		stop := make(chan struct{})
		for g := range 4 {
			callers.Add(1)
			go func() {
				defer callers.Done()
				tk := rootTask(int32(50 + g))
				for {
					select {
					case <-stop:
						return
					default:
					}
					switch err := op(ns, tk, id, sb(0, 1, abi.SEM_UNDO), sb(0, -1, abi.SEM_UNDO)); err {
					case 0, sem.EINVAL, sem.EIDRM:
					default:
						t.Errorf("semop during removal = %s", errName(err))
						return
					}
					ns.ExitUndo(tk.Undo, tk.PID)
				}
			}()
		}
		time.Sleep(time.Duration(round*50) * time.Microsecond)
		if err := ns.Remove(root, id); err != 0 {
			t.Fatal(err)
		}
		wg.Wait()
		close(stop)
		callers.Wait()
		close(results)
		for err := range results {
			if err != sem.EIDRM && err != sem.EINVAL && err != 0 {
				t.Errorf("a waiter ended with %s, want EIDRM (or EINVAL if it came too late)", errName(err))
			}
		}
	}
}
