package sem_test

import (
	"math"
	"testing"

	"github.com/sembox/sembox/abi"
	"github.com/sembox/sembox/sem"
)

// The outcomes below were measured on Linux 6.18 (x86_64) in a fresh IPC
// namespace with /proc/sys/kernel/sem set to
// "2147483647 2147483647 2147483647 32000".

// TestSemgetHugeNsems checks that a set too large for the kernel's
// sem_alloc fails with ENOMEM instead of being allocated: sem_alloc
// refuses nsems > (INT_MAX - sizeof(struct sem_array)) / sizeof(struct
// sem), 33554427 on x86_64.
func TestSemgetHugeNsems(t *testing.T) {
	ns, _ := newNS()
	if err := ns.SetLimits(sem.Limits{SEMMSL: math.MaxInt32, SEMMNS: math.MaxInt32, SEMOPM: math.MaxInt32, SEMMNI: abi.SEMMNI}); err != 0 {
		t.Fatal(err)
	}
	tk := rootTask(1)
	for _, n := range []int32{math.MaxInt32, 1 << 30, 40000000, 33554432, 33554428} {
		if id, err := ns.Semget(tk, abi.IPC_PRIVATE, n, 0o600); err != sem.ENOMEM {
			t.Errorf("Semget(nsems %d) = %d, %s; want ENOMEM", n, id, errName(err))
		}
	}
	// SEMMNS is checked first.
	l := ns.Limits()
	l.SEMMNS = 1 << 30
	ns.SetLimits(l)
	if _, err := ns.Semget(tk, abi.IPC_PRIVATE, math.MaxInt32, 0o600); err != sem.ENOSPC {
		t.Errorf("Semget(nsems INT_MAX) above SEMMNS = %s, want ENOSPC", errName(err))
	}
}

// TestSemgetUsedSemsWrap checks that newary's used_sems + nsems check is
// done in int arithmetic, as the kernel does: with one semaphore in use
// and SEMMNS INT_MAX, nsems INT_MAX wraps the sum negative, passes the
// SEMMNS check and fails with ENOMEM in sem_alloc, not with ENOSPC.
func TestSemgetUsedSemsWrap(t *testing.T) {
	ns, _ := newNS()
	if err := ns.SetLimits(sem.Limits{SEMMSL: math.MaxInt32, SEMMNS: math.MaxInt32, SEMOPM: abi.SEMOPM, SEMMNI: abi.SEMMNI}); err != 0 {
		t.Fatal(err)
	}
	tk := rootTask(1)
	mustGet(t, ns, tk, 1, 0o600)
	for _, n := range []int32{math.MaxInt32, math.MaxInt32 - 1} {
		if id, err := ns.Semget(tk, abi.IPC_PRIVATE, n, 0o600); err != sem.ENOMEM {
			t.Errorf("Semget(nsems %d) with 1 in use = %d, %s; want ENOMEM", n, id, errName(err))
		}
	}
}

// TestCheckNsopsHuge checks that an nsops whose sembuf array is larger
// than INT_MAX bytes fails with ENOMEM before the operations are read, as
// the kernel's kvmalloc refuses such sizes: 357913941 operations (6 bytes
// each) are read (EFAULT from a bad pointer), 357913942 are not.
func TestCheckNsopsHuge(t *testing.T) {
	ns, _ := newNS()
	l := sem.DefaultLimits()
	l.SEMOPM = math.MaxInt32
	ns.SetLimits(l)
	for _, tc := range []struct {
		n   uint64
		err sem.Errno
	}{
		{357913941, 0}, {357913942, sem.ENOMEM}, {math.MaxInt32, sem.ENOMEM},
		{math.MaxInt32 + 1, sem.E2BIG}, {0, sem.EINVAL},
	} {
		if err := ns.CheckNsops(tc.n); err != tc.err {
			t.Errorf("CheckNsops(%d) = %s, want %s", tc.n, errName(err), errName(tc.err))
		}
	}
}
