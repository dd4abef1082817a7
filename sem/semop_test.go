package sem_test

import (
	"slices"
	"testing"

	"github.com/sembox/sembox/abi"
	"github.com/sembox/sembox/sem"
)

// TestSemopCheckOrder checks which errno semop reports when several checks
// would fail, in the order of Linux's do_semtimedop: E2BIG, EINVAL (nsops,
// semid, timeout, id lookup), EFBIG, EACCES, then the operations
// themselves in array order (ERANGE or EAGAIN, whichever comes first).
func TestSemopCheckOrder(t *testing.T) {
	owner := userTask(10, uidOwner, gidOwner)
	other := userTask(20, uidOther, gidOther)
	many := make([]abi.Sembuf, abi.SEMOPM+1)
	for i := range many {
		many[i] = sb(7, 1, 0) // EFBIG and EACCES too, if they were checked
	}
	bad := func(sec, nsec int64) *abi.Timespec { return &abi.Timespec{Sec: sec, Nsec: nsec} }

	tests := []struct {
		name    string
		task    *sem.Task
		id      int32 // set ids: 0 is owner's 0o600 with 2 semaphores [1, 0]; 1 is owner's 0o644 with 2 [0, 0]
		sops    []abi.Sembuf
		timeout *abi.Timespec
		err     sem.Errno
	}{
		{name: "E2BIG above SEMOPM before everything else", task: other, id: -1, sops: many, err: sem.E2BIG},
		{name: "E2BIG before a bad timeout", task: owner, id: 0, sops: many, timeout: bad(0, -1), err: sem.E2BIG},
		{name: "EINVAL for zero operations", task: owner, id: 0, sops: nil, err: sem.EINVAL},
		{name: "EINVAL for a negative semid", task: owner, id: -1, sops: []abi.Sembuf{sb(0, 1, 0)}, err: sem.EINVAL},
		{name: "EINVAL for a timeout with nsec 1e9", task: owner, id: 0, sops: []abi.Sembuf{sb(9, 1, 0)}, timeout: bad(0, 1e9), err: sem.EINVAL},
		{name: "EINVAL for a negative timeout nsec", task: owner, id: 0, sops: []abi.Sembuf{sb(0, 1, 0)}, timeout: bad(1, -1), err: sem.EINVAL},
		{name: "EINVAL for a negative timeout sec", task: owner, id: 0, sops: []abi.Sembuf{sb(0, 1, 0)}, timeout: bad(-1, 0), err: sem.EINVAL},
		{name: "EINVAL for an unused id", task: owner, id: 5, sops: []abi.Sembuf{sb(0, 1, 0)}, err: sem.EINVAL},
		{name: "EINVAL for an id with a stale sequence number", task: owner, id: 1<<abi.IPCMNI_SEQ_SHIFT | 0, sops: []abi.Sembuf{sb(0, 1, 0)}, err: sem.EINVAL},
		{name: "EFBIG for sem_num beyond the set before EACCES", task: other, id: 0, sops: []abi.Sembuf{sb(2, 1, 0)}, err: sem.EFBIG},
		{name: "EFBIG for the largest sem_num of any operation", task: owner, id: 0, sops: []abi.Sembuf{sb(0, 1, 0), sb(65535, 0, 0)}, err: sem.EFBIG},
		{name: "EACCES for an alter operation without write permission", task: other, id: 1, sops: []abi.Sembuf{sb(0, 1, 0)}, err: sem.EACCES},
		{name: "EACCES for a read-only operation without read permission", task: other, id: 0, sops: []abi.Sembuf{sb(1, 0, 0)}, err: sem.EACCES},
		{name: "EACCES before EAGAIN", task: other, id: 1, sops: []abi.Sembuf{sb(0, -1, nowait)}, err: sem.EACCES},
		{name: "wait-for-zero needs only read permission", task: other, id: 1, sops: []abi.Sembuf{sb(0, 0, 0), sb(1, 0, 0)}, err: 0},
		{name: "one alter operation makes the whole call need write permission", task: other, id: 1, sops: []abi.Sembuf{sb(0, 0, 0), sb(1, 1, 0)}, err: sem.EACCES},
		{name: "EAGAIN for a decrement below zero with IPC_NOWAIT", task: owner, id: 0, sops: []abi.Sembuf{sb(1, -1, nowait)}, err: sem.EAGAIN},
		{name: "EAGAIN for wait-for-zero on a non-zero value with IPC_NOWAIT", task: owner, id: 0, sops: []abi.Sembuf{sb(0, 0, nowait)}, err: sem.EAGAIN},
		{name: "ERANGE for a result above SEMVMX", task: owner, id: 0, sops: []abi.Sembuf{sb(0, abi.SEMVMX, 0)}, err: sem.ERANGE},
		{name: "a result of exactly SEMVMX is allowed", task: owner, id: 0, sops: []abi.Sembuf{sb(0, abi.SEMVMX-1, 0)}, err: 0},
		{name: "ERANGE in an earlier operation wins over a later EAGAIN", task: owner, id: 0, sops: []abi.Sembuf{sb(0, abi.SEMVMX, 0), sb(1, -1, nowait)}, err: sem.ERANGE},
		{name: "EAGAIN in an earlier operation wins over a later ERANGE", task: owner, id: 0, sops: []abi.Sembuf{sb(1, -1, nowait), sb(0, abi.SEMVMX, 0)}, err: sem.EAGAIN},
		{name: "IPC_NOWAIT is per operation: the blocking one decides", task: owner, id: 0, sops: []abi.Sembuf{sb(0, 0, nowait), sb(1, -1, 0)}, err: sem.EAGAIN},
		{name: "without a Waiter a blocking call fails with EAGAIN", task: owner, id: 0, sops: []abi.Sembuf{sb(1, -1, 0)}, err: sem.EAGAIN},
		{name: "a zero timeout succeeds if nothing blocks", task: owner, id: 0, sops: []abi.Sembuf{sb(0, -1, 0)}, timeout: bad(0, 0), err: 0},
		{name: "SEM_UNDO without an undo list fails with ENOMEM", task: &sem.Task{PID: 10, Cred: owner.Cred}, id: 0, sops: []abi.Sembuf{sb(0, 1, undo)}, err: sem.ENOMEM},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ns, _ := newNS()
			if id := mustGet(t, ns, owner, 2, 0o600); id != 0 {
				t.Fatal(id)
			}
			if id := mustGet(t, ns, owner, 2, 0o644); id != 1 {
				t.Fatal(id)
			}
			mustSetVal(t, ns, owner, 0, 0, 1)
			before := [2][]uint16{vals(t, ns, 0), vals(t, ns, 1)}
			blocked, err := ns.Semtimedop(tc.task, tc.id, tc.sops, tc.timeout, nil)
			if blocked || err != tc.err {
				t.Errorf("Semtimedop = %v, %s; want false, %s", blocked, errName(err), errName(tc.err))
			}
			if err != 0 {
				after := [2][]uint16{vals(t, ns, 0), vals(t, ns, 1)}
				if !slices.Equal(before[0], after[0]) || !slices.Equal(before[1], after[1]) {
					t.Errorf("a failed semop changed values: %v -> %v", before, after)
				}
			}
		})
	}
}

// TestCheckNsops is the front end's pre-copy check.
func TestCheckNsops(t *testing.T) {
	ns, _ := newNS()
	for _, tc := range []struct {
		n   uint64
		err sem.Errno
	}{{0, sem.EINVAL}, {1, 0}, {abi.SEMOPM, 0}, {abi.SEMOPM + 1, sem.E2BIG}, {1 << 40, sem.E2BIG}} {
		if err := ns.CheckNsops(tc.n); err != tc.err {
			t.Errorf("CheckNsops(%d) = %s, want %s", tc.n, errName(err), errName(tc.err))
		}
	}
	l := sem.DefaultLimits()
	l.SEMOPM = 2
	ns.SetLimits(l)
	if err := ns.CheckNsops(3); err != sem.E2BIG {
		t.Errorf("CheckNsops(3) with SEMOPM 2 = %s, want E2BIG", errName(err))
	}
	tk := rootTask(1)
	id := mustGet(t, ns, tk, 1, 0o600)
	if err := op(ns, tk, id, sb(0, 1, 0), sb(0, 1, 0), sb(0, 1, 0)); err != sem.E2BIG {
		t.Errorf("semop with 3 operations and SEMOPM 2 = %s, want E2BIG", errName(err))
	}
}

// TestSemopAtomic checks that a call's operations apply in array order
// and all-or-nothing, also when one semaphore is named several times.
func TestSemopAtomic(t *testing.T) {
	tests := []struct {
		name string
		init []uint16
		sops []abi.Sembuf
		err  sem.Errno
		want []uint16
	}{
		{"increments of one semaphore accumulate", []uint16{0, 0}, []abi.Sembuf{sb(0, 1, 0), sb(0, 2, 0), sb(1, 3, 0)}, 0, []uint16{3, 3}},
		{"a decrement may use an earlier increment of the same call", []uint16{0, 0}, []abi.Sembuf{sb(0, 2, 0), sb(0, -2, 0)}, 0, []uint16{0, 0}},
		{"a decrement before the increment would block", []uint16{0, 0}, []abi.Sembuf{sb(0, -2, nowait), sb(0, 2, 0)}, sem.EAGAIN, []uint16{0, 0}},
		{"wait-for-zero sees the earlier operations of the call", []uint16{1, 0}, []abi.Sembuf{sb(0, -1, 0), sb(0, 0, 0)}, 0, []uint16{0, 0}},
		{"wait-for-zero after an increment of the same call blocks", []uint16{0, 0}, []abi.Sembuf{sb(0, 1, 0), sb(0, 0, nowait)}, sem.EAGAIN, []uint16{0, 0}},
		{"a late failure rolls back every earlier operation", []uint16{5, 5}, []abi.Sembuf{sb(0, -5, 0), sb(1, 7, 0), sb(0, 1, 0), sb(1, -20, nowait)}, sem.EAGAIN, []uint16{5, 5}},
		{"ERANGE on the second increment of one semaphore rolls back the first", []uint16{0, 0}, []abi.Sembuf{sb(0, 20000, 0), sb(1, 1, 0), sb(0, 20000, 0)}, sem.ERANGE, []uint16{0, 0}},
		{"intermediate values may not exceed SEMVMX even if the end result would fit", []uint16{32767, 0}, []abi.Sembuf{sb(0, 1, 0), sb(0, -1, 0)}, sem.ERANGE, []uint16{32767, 0}},
		{"intermediate values may not go below zero even if the end result would fit", []uint16{0, 0}, []abi.Sembuf{sb(0, -1, nowait), sb(0, 1, 0)}, sem.EAGAIN, []uint16{0, 0}},
		{"the most negative sem_op", []uint16{32767, 0}, []abi.Sembuf{sb(0, -32768, nowait)}, sem.EAGAIN, []uint16{32767, 0}},
		{"zero and non-zero operations mixed", []uint16{0, 3}, []abi.Sembuf{sb(0, 0, 0), sb(1, -3, 0), sb(1, 0, 0)}, 0, []uint16{0, 0}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ns, _ := newNS()
			tk := rootTask(77)
			id := mustGet(t, ns, tk, int32(len(tc.init)), 0o600)
			mustSetAll(t, ns, rootTask(1), id, tc.init...)
			if err := op(ns, tk, id, tc.sops...); err != tc.err {
				t.Errorf("semop = %s, want %s", errName(err), errName(tc.err))
			}
			if got := vals(t, ns, id); !slices.Equal(got, tc.want) {
				t.Errorf("values = %v, want %v", got, tc.want)
			}
			// sempid moves only on success, for every semaphore named.
			for i := range tc.init {
				named := slices.ContainsFunc(tc.sops, func(s abi.Sembuf) bool { return int(s.SemNum) == i })
				want := int32(1) // SETALL's caller
				if tc.err == 0 && named {
					want = 77
				}
				if got := getOne(t, ns, id, int32(i), abi.GETPID); got != want {
					t.Errorf("GETPID(%d) = %d, want %d", i, got, want)
				}
			}
		})
	}
}

// TestSemopTimes checks sem_otime and sem_ctime: a successful semop sets
// otime, also a pure wait-for-zero; a failed one does not; nothing in
// semop touches ctime.
func TestSemopTimes(t *testing.T) {
	tests := []struct {
		name      string
		sops      []abi.Sembuf
		err       sem.Errno
		wantOtime bool
	}{
		{"an increment sets otime", []abi.Sembuf{sb(0, 1, 0)}, 0, true},
		{"a successful wait-for-zero sets otime", []abi.Sembuf{sb(1, 0, 0)}, 0, true},
		{"an operation that changes nothing in total sets otime", []abi.Sembuf{sb(0, 1, 0), sb(0, -1, 0)}, 0, true},
		{"EAGAIN leaves otime", []abi.Sembuf{sb(1, -1, nowait)}, sem.EAGAIN, false},
		{"EAGAIN of wait-for-zero leaves otime", []abi.Sembuf{sb(0, 0, nowait)}, sem.EAGAIN, false},
		{"ERANGE leaves otime", []abi.Sembuf{sb(0, 32767, 0)}, sem.ERANGE, false},
		{"EFBIG leaves otime", []abi.Sembuf{sb(2, 1, 0)}, sem.EFBIG, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ns, clk := newNS()
			tk := rootTask(1)
			id := mustGet(t, ns, tk, 2, 0o600)
			mustSetVal(t, ns, tk, id, 0, 1)
			clk.Set(t0 + 50)
			if err := op(ns, tk, id, tc.sops...); err != tc.err {
				t.Fatalf("semop = %s, want %s", errName(err), errName(tc.err))
			}
			ds := stat(t, ns, id)
			wantOtime := int64(0)
			if tc.wantOtime {
				wantOtime = t0 + 50
			}
			if ds.Otime != wantOtime || ds.Ctime != t0 {
				t.Errorf("otime, ctime = %d, %d; want %d, %d", ds.Otime, ds.Ctime, wantOtime, t0)
			}
		})
	}
}

// TestSemtimedopZeroTimeout: a zero timeout never queues the caller; a
// call that would block fails with EAGAIN at once and leaves no waiter.
func TestSemtimedopZeroTimeout(t *testing.T) {
	ns, _ := newNS()
	tk := rootTask(1)
	id := mustGet(t, ns, tk, 1, 0o600)
	var rec recorder
	w := rec.waiter("w")
	blocked, err := ns.Semtimedop(tk, id, []abi.Sembuf{sb(0, -1, 0)}, &abi.Timespec{}, w)
	if blocked || err != sem.EAGAIN {
		t.Fatalf("Semtimedop with a zero timeout = %v, %s; want false, EAGAIN", blocked, errName(err))
	}
	if w.Queued() || counts(t, ns, id) != "0/0" {
		t.Errorf("a zero timeout left a waiter: queued %v, counts %s", w.Queued(), counts(t, ns, id))
	}
	mustOp(t, ns, tk, id, sb(0, 1, 0))
	if got := rec.take(); got != "" || val(t, ns, id, 0) != 1 {
		t.Errorf("after V: Done calls %q, value %d; want none and 1", got, val(t, ns, id, 0))
	}
	// A non-zero timeout queues; the caller enforces it with Cancel.
	blocked, err = ns.Semtimedop(tk, id, []abi.Sembuf{sb(0, -2, 0)}, &abi.Timespec{Nsec: 1}, w)
	if !blocked || err != 0 {
		t.Fatalf("Semtimedop with a 1ns timeout = %v, %s; want it to block", blocked, errName(err))
	}
	if !ns.Cancel(w, sem.EAGAIN) || w.Err != sem.EAGAIN {
		t.Errorf("Cancel(EAGAIN) did not end the wait: Err %s", errName(w.Err))
	}
}
