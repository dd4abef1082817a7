package sem_test

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/sembox/sembox/abi"
	"github.com/sembox/sembox/sem"
)

// fakeClock is a sem.Clock whose time the test controls.
type fakeClock struct{ now atomic.Int64 }

func newClock(t int64) *fakeClock { c := new(fakeClock); c.Set(t); return c }

// Now implements sem.Clock.
func (c *fakeClock) Now() int64 { return c.now.Load() }

// Set moves the clock to t.
func (c *fakeClock) Set(t int64) { c.now.Store(t) }

// Tick advances the clock by one second and returns the new time.
func (c *fakeClock) Tick() int64 { return c.now.Add(1) }

const t0 = 1_000_000 // the fake clock's start

// newNS returns a namespace with Linux's default limits and a fake clock
// at t0.
func newNS() (*sem.Namespace, *fakeClock) {
	clk := newClock(t0)
	return sem.NewNamespace(clk), clk
}

// Identities used throughout the tests.
const (
	uidOwner   = 1000
	gidOwner   = 100
	uidOther   = 2000
	gidOther   = 200
	uidGroupie = 3000 // another user in gidOwner
)

// rootTask is uid 0 with CAP_IPC_OWNER and CAP_SYS_ADMIN, like root.
func rootTask(pid int32) *sem.Task {
	return &sem.Task{PID: pid, Cred: &sem.Cred{CapIPCOwner: true, CapSysAdmin: true}, Undo: new(sem.UndoList)}
}

// userTask is an unprivileged task with a fresh undo list.
func userTask(pid int32, uid, gid uint32, groups ...uint32) *sem.Task {
	return &sem.Task{PID: pid, Cred: &sem.Cred{EUID: uid, EGID: gid, FSGID: gid, Groups: groups}, Undo: new(sem.UndoList)}
}

func sb(num uint16, op int16, flg int16) abi.Sembuf {
	return abi.Sembuf{SemNum: num, SemOp: op, SemFlg: flg}
}

const (
	nowait = abi.IPC_NOWAIT
	undo   = abi.SEM_UNDO
)

// mustGet creates an IPC_PRIVATE set of n semaphores with mode.
func mustGet(t testing.TB, ns *sem.Namespace, tk *sem.Task, n int32, mode int32) int32 {
	t.Helper()
	id, err := ns.Semget(tk, abi.IPC_PRIVATE, n, mode)
	if err != 0 {
		t.Fatalf("Semget(IPC_PRIVATE, %d, %#o) = %v", n, mode, err)
	}
	return id
}

// op performs a semop that must not block (w is nil, so a would-block
// result is EAGAIN).
func op(ns *sem.Namespace, tk *sem.Task, id int32, sops ...abi.Sembuf) sem.Errno {
	blocked, err := ns.Semtimedop(tk, id, sops, nil, nil)
	if blocked {
		panic("Semtimedop blocked without a Waiter")
	}
	return err
}

func mustOp(t testing.TB, ns *sem.Namespace, tk *sem.Task, id int32, sops ...abi.Sembuf) {
	t.Helper()
	if err := op(ns, tk, id, sops...); err != 0 {
		t.Fatalf("semop(%d, %v) = %v, want success", id, sops, err)
	}
}

func mustSetVal(t testing.TB, ns *sem.Namespace, tk *sem.Task, id, num, val int32) {
	t.Helper()
	if err := ns.SetVal(tk, id, num, val); err != 0 {
		t.Fatalf("SETVAL(%d, %d, %d) = %v", id, num, val, err)
	}
}

func mustSetAll(t testing.TB, ns *sem.Namespace, tk *sem.Task, id int32, vals ...uint16) {
	t.Helper()
	if err := ns.SetAll(tk, id, loader(vals)); err != 0 {
		t.Fatalf("SETALL(%d, %v) = %v", id, vals, err)
	}
}

func loader(vals []uint16) func(int) ([]uint16, sem.Errno) {
	return func(int) ([]uint16, sem.Errno) { return vals, 0 }
}

func getOne(t testing.TB, ns *sem.Namespace, id, num, cmd int32) int32 {
	t.Helper()
	v, err := ns.GetOne(rootTask(1), id, num, cmd)
	if err != 0 {
		t.Fatalf("semctl(%d, %d, %d) = %v", id, num, cmd, err)
	}
	return v
}

func val(t testing.TB, ns *sem.Namespace, id, num int32) int32 {
	t.Helper()
	return getOne(t, ns, id, num, abi.GETVAL)
}

func vals(t testing.TB, ns *sem.Namespace, id int32) []uint16 {
	t.Helper()
	v, err := ns.GetAll(rootTask(1), id, nil)
	if err != 0 {
		t.Fatalf("GETALL(%d) = %v", id, err)
	}
	return v
}

func stat(t testing.TB, ns *sem.Namespace, id int32) abi.SemidDS {
	t.Helper()
	ds, _, err := ns.Stat(rootTask(1), id, abi.IPC_STAT)
	if err != 0 {
		t.Fatalf("IPC_STAT(%d) = %v", id, err)
	}
	return ds
}

// counts returns GETNCNT and GETZCNT of every semaphore of the set as
// "n0/z0 n1/z1 ...".
func counts(t testing.TB, ns *sem.Namespace, id int32) string {
	t.Helper()
	n := int32(stat(t, ns, id).Nsems)
	var b strings.Builder
	for i := int32(0); i < n; i++ {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%d/%d", getOne(t, ns, id, i, abi.GETNCNT), getOne(t, ns, id, i, abi.GETZCNT))
	}
	return b.String()
}

// recorder records the completion order of Waiters.
type recorder struct {
	mu     sync.Mutex
	events []string
}

// waiter returns a Waiter whose Done records "name" or "name:ERRNO".
func (r *recorder) waiter(name string) *sem.Waiter {
	return &sem.Waiter{Done: func(w *sem.Waiter) {
		r.mu.Lock()
		defer r.mu.Unlock()
		if w.Err != 0 {
			r.events = append(r.events, name+":"+errName(w.Err))
		} else {
			r.events = append(r.events, name)
		}
	}}
}

// take returns the recorded events, space separated, and clears them.
func (r *recorder) take() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := strings.Join(r.events, " ")
	r.events = nil
	return s
}

func errName(e sem.Errno) string {
	switch e {
	case 0:
		return "OK"
	case sem.EPERM:
		return "EPERM"
	case sem.ENOENT:
		return "ENOENT"
	case sem.EINTR:
		return "EINTR"
	case sem.EAGAIN:
		return "EAGAIN"
	case sem.ENOMEM:
		return "ENOMEM"
	case sem.EACCES:
		return "EACCES"
	case sem.EFAULT:
		return "EFAULT"
	case sem.EEXIST:
		return "EEXIST"
	case sem.EINVAL:
		return "EINVAL"
	case sem.ENOSPC:
		return "ENOSPC"
	case sem.ERANGE:
		return "ERANGE"
	case sem.E2BIG:
		return "E2BIG"
	case sem.EFBIG:
		return "EFBIG"
	case sem.EIDRM:
		return "EIDRM"
	}
	return fmt.Sprintf("errno(%d)", int(e))
}

// block starts a semop that must block, queueing w.
func block(t testing.TB, ns *sem.Namespace, tk *sem.Task, id int32, w *sem.Waiter, sops ...abi.Sembuf) {
	t.Helper()
	blocked, err := ns.Semtimedop(tk, id, sops, nil, w)
	if !blocked || err != 0 {
		t.Fatalf("semop(%d, %v) = blocked %v, %v; want it to block", id, sops, blocked, errName(err))
	}
}
