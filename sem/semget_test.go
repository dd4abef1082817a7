package sem_test

import (
	"testing"

	"github.com/sembox/sembox/abi"
	"github.com/sembox/sembox/sem"
)

const key = 0x5eb0 // a key other than IPC_PRIVATE

func TestSemget(t *testing.T) {
	owner := userTask(10, uidOwner, gidOwner)
	other := userTask(20, uidOther, gidOther)
	groupie := userTask(30, uidGroupie, gidOther, gidOwner)
	capOwner := userTask(40, uidOther, gidOther)
	capOwner.Cred.CapIPCOwner = true

	// withKey creates the set key (3 semaphores, mode) as owner; it gets id 0.
	withKey := func(mode int32) func(*testing.T, *sem.Namespace) {
		return func(t *testing.T, ns *sem.Namespace) {
			if id, err := ns.Semget(owner, key, 3, abi.IPC_CREAT|mode); id != 0 || err != 0 {
				t.Fatalf("setup: Semget = %d, %v", id, err)
			}
		}
	}
	limits := func(l sem.Limits) func(*testing.T, *sem.Namespace) {
		return func(t *testing.T, ns *sem.Namespace) {
			if err := ns.SetLimits(l); err != 0 {
				t.Fatalf("SetLimits(%+v) = %v", l, err)
			}
		}
	}
	def := sem.DefaultLimits()

	tests := []struct {
		name   string
		setup  func(*testing.T, *sem.Namespace)
		task   *sem.Task
		key    int32
		nsems  int32
		flg    int32
		wantID int32
		err    sem.Errno
	}{
		{name: "ENOENT for an unknown key without IPC_CREAT", task: owner, key: key, nsems: 1, flg: 0o600, wantID: -1, err: sem.ENOENT},
		{name: "IPC_CREAT creates the first set with id 0", task: owner, key: key, nsems: 1, flg: abi.IPC_CREAT | 0o600, wantID: 0},
		{name: "IPC_PRIVATE creates without IPC_CREAT", task: owner, key: abi.IPC_PRIVATE, nsems: 1, flg: 0, wantID: 0},
		{name: "IPC_PRIVATE ignores IPC_EXCL", setup: withKey(0o600), task: owner, key: abi.IPC_PRIVATE, nsems: 1, flg: abi.IPC_CREAT | abi.IPC_EXCL, wantID: 1},
		{name: "a negative key is an ordinary key", task: owner, key: -7, nsems: 1, flg: abi.IPC_CREAT, wantID: 0},
		{name: "an existing key returns its id", setup: withKey(0o600), task: owner, key: key, nsems: 3, flg: 0o600, wantID: 0},
		{name: "IPC_CREAT on an existing key returns its id", setup: withKey(0o600), task: owner, key: key, nsems: 2, flg: abi.IPC_CREAT | 0o600, wantID: 0},
		{name: "IPC_EXCL without IPC_CREAT is ignored", setup: withKey(0o600), task: owner, key: key, nsems: 1, flg: abi.IPC_EXCL, wantID: 0},
		{name: "EEXIST for IPC_CREAT|IPC_EXCL on an existing key", setup: withKey(0o600), task: owner, key: key, nsems: 1, flg: abi.IPC_CREAT | abi.IPC_EXCL | 0o600, wantID: -1, err: sem.EEXIST},
		{name: "nsems 0 opens an existing set", setup: withKey(0o600), task: owner, key: key, nsems: 0, flg: 0, wantID: 0},
		{name: "EINVAL for nsems 0 when creating", task: owner, key: key, nsems: 0, flg: abi.IPC_CREAT, wantID: -1, err: sem.EINVAL},
		{name: "EINVAL for nsems 0 with IPC_PRIVATE", task: owner, key: abi.IPC_PRIVATE, nsems: 0, flg: 0, wantID: -1, err: sem.EINVAL},
		{name: "EINVAL for negative nsems", task: owner, key: key, nsems: -1, flg: abi.IPC_CREAT, wantID: -1, err: sem.EINVAL},
		{name: "EINVAL for nsems above SEMMSL", task: owner, key: key, nsems: abi.SEMMSL + 1, flg: abi.IPC_CREAT, wantID: -1, err: sem.EINVAL},
		{name: "nsems equal to SEMMSL is allowed", task: owner, key: key, nsems: abi.SEMMSL, flg: abi.IPC_CREAT, wantID: 0},
		{name: "EINVAL for nsems above a lowered SEMMSL", setup: limits(sem.Limits{SEMMSL: 2, SEMMNS: def.SEMMNS, SEMOPM: def.SEMOPM, SEMMNI: def.SEMMNI}), task: owner, key: key, nsems: 3, flg: abi.IPC_CREAT, wantID: -1, err: sem.EINVAL},
		{name: "EINVAL for nsems above SEMMSL comes before EEXIST", setup: withKey(0o600), task: owner, key: key, nsems: abi.SEMMSL + 1, flg: abi.IPC_CREAT | abi.IPC_EXCL, wantID: -1, err: sem.EINVAL},
		{name: "EINVAL for nsems above SEMMSL comes before ENOENT", task: owner, key: key, nsems: abi.SEMMSL + 1, flg: 0, wantID: -1, err: sem.EINVAL},
		{name: "EINVAL for nsems above the existing set's size", setup: withKey(0o600), task: owner, key: key, nsems: 4, flg: 0, wantID: -1, err: sem.EINVAL},
		{name: "EEXIST comes before the nsems check of an existing set", setup: withKey(0o600), task: owner, key: key, nsems: 4, flg: abi.IPC_CREAT | abi.IPC_EXCL, wantID: -1, err: sem.EEXIST},
		{name: "EINVAL for the existing set's size comes before EACCES", setup: withKey(0o600), task: other, key: key, nsems: 4, flg: 0o600, wantID: -1, err: sem.EINVAL},
		{name: "EACCES when semflg asks for bits the mode does not grant", setup: withKey(0o600), task: other, key: key, nsems: 1, flg: 0o400, wantID: -1, err: sem.EACCES},
		{name: "EACCES when asking for write on a read-only group grant", setup: withKey(0o640), task: groupie, key: key, nsems: 1, flg: 0o060, wantID: -1, err: sem.EACCES},
		{name: "the group grant lets a supplementary-group member read", setup: withKey(0o640), task: groupie, key: key, nsems: 1, flg: 0o040, wantID: 0},
		{name: "asking for no bits needs no permission", setup: withKey(0o000), task: other, key: key, nsems: 1, flg: 0, wantID: 0},
		{name: "CAP_IPC_OWNER overrides the mode", setup: withKey(0o000), task: capOwner, key: key, nsems: 1, flg: 0o666, wantID: 0},
		{name: "ENOSPC when SEMMNS would be exceeded", setup: func(t *testing.T, ns *sem.Namespace) {
			limits(sem.Limits{SEMMSL: def.SEMMSL, SEMMNS: 10, SEMOPM: def.SEMOPM, SEMMNI: def.SEMMNI})(t, ns)
			mustGet(t, ns, owner, 6, 0)
		}, task: owner, key: abi.IPC_PRIVATE, nsems: 5, flg: 0, wantID: -1, err: sem.ENOSPC},
		{name: "SEMMNS may be reached exactly", setup: func(t *testing.T, ns *sem.Namespace) {
			limits(sem.Limits{SEMMSL: def.SEMMSL, SEMMNS: 10, SEMOPM: def.SEMOPM, SEMMNI: def.SEMMNI})(t, ns)
			mustGet(t, ns, owner, 6, 0)
		}, task: owner, key: abi.IPC_PRIVATE, nsems: 4, flg: 0, wantID: 1},
		{name: "ENOSPC when SEMMNI sets exist", setup: func(t *testing.T, ns *sem.Namespace) {
			limits(sem.Limits{SEMMSL: def.SEMMSL, SEMMNS: def.SEMMNS, SEMOPM: def.SEMOPM, SEMMNI: 2})(t, ns)
			mustGet(t, ns, owner, 1, 0)
			mustGet(t, ns, owner, 1, 0)
		}, task: owner, key: key, nsems: 1, flg: abi.IPC_CREAT, wantID: -1, err: sem.ENOSPC},
		{name: "ENOSPC when SEMMNI is 0", setup: limits(sem.Limits{SEMMSL: def.SEMMSL, SEMMNS: def.SEMMNS, SEMOPM: def.SEMOPM, SEMMNI: 0}), task: owner, key: abi.IPC_PRIVATE, nsems: 1, wantID: -1, err: sem.ENOSPC},
		{name: "EINVAL for nsems 0 comes before ENOSPC", setup: limits(sem.Limits{SEMMSL: def.SEMMSL, SEMMNS: def.SEMMNS, SEMOPM: def.SEMOPM, SEMMNI: 0}), task: owner, key: abi.IPC_PRIVATE, nsems: 0, wantID: -1, err: sem.EINVAL},
		{name: "an existing key is found even when no set can be created", setup: func(t *testing.T, ns *sem.Namespace) {
			withKey(0o600)(t, ns)
			limits(sem.Limits{SEMMSL: def.SEMMSL, SEMMNS: 0, SEMOPM: def.SEMOPM, SEMMNI: 0})(t, ns)
		}, task: owner, key: key, nsems: 3, flg: abi.IPC_CREAT, wantID: 0},
		{name: "an existing set larger than a lowered SEMMSL can be opened with nsems 0", setup: func(t *testing.T, ns *sem.Namespace) {
			withKey(0o600)(t, ns)
			limits(sem.Limits{SEMMSL: 1, SEMMNS: def.SEMMNS, SEMOPM: def.SEMOPM, SEMMNI: def.SEMMNI})(t, ns)
		}, task: owner, key: key, nsems: 0, wantID: 0},
		{name: "ENOENT after the key's set was removed", setup: func(t *testing.T, ns *sem.Namespace) {
			withKey(0o600)(t, ns)
			if err := ns.Remove(owner, 0); err != 0 {
				t.Fatal(err)
			}
		}, task: owner, key: key, nsems: 1, wantID: -1, err: sem.ENOENT},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ns, _ := newNS()
			if tc.setup != nil {
				tc.setup(t, ns)
			}
			id, err := ns.Semget(tc.task, tc.key, tc.nsems, tc.flg)
			if id != tc.wantID || err != tc.err {
				t.Errorf("Semget(%#x, %d, %#o) = %d, %s; want %d, %s", tc.key, tc.nsems, tc.flg, id, errName(err), tc.wantID, errName(tc.err))
			}
		})
	}
}

// TestSemgetNewSetAttributes checks the semid64_ds of a new set: owner and
// creator from the caller, mode from the low 9 bits of semflg, otime 0 and
// ctime the creation time.
func TestSemgetNewSetAttributes(t *testing.T) {
	ns, clk := newNS()
	clk.Set(12345)
	tk := userTask(7, 1234, 567)
	tk.Cred.FSGID = 999 // the creator group is the effective gid, not the fs gid
	id, err := ns.Semget(tk, -99, 5, abi.IPC_CREAT|abi.IPC_EXCL|0o7777)
	if err != 0 {
		t.Fatal(err)
	}
	ds, _, err := ns.Stat(tk, id, abi.IPC_STAT)
	if err != 0 {
		t.Fatal(err)
	}
	want := abi.SemidDS{
		Perm:  abi.IPCPerm{Key: -99, UID: 1234, GID: 567, CUID: 1234, CGID: 567, Mode: 0o777, Seq: 0},
		Otime: 0,
		Ctime: 12345,
		Nsems: 5,
	}
	if ds != want {
		t.Errorf("IPC_STAT of a new set = %+v, want %+v", ds, want)
	}
	if got := vals(t, ns, id); len(got) != 5 || got[0]|got[1]|got[2]|got[3]|got[4] != 0 {
		t.Errorf("values of a new set = %v, want five zeros", got)
	}
	for i := int32(0); i < 5; i++ {
		if pid := getOne(t, ns, id, i, abi.GETPID); pid != 0 {
			t.Errorf("GETPID(%d) of a new set = %d, want 0", i, pid)
		}
	}
}

// TestSemgetFailureConsumesNoID: a failed creation leaves the id allocator
// and the usage counters alone.
func TestSemgetFailureConsumesNoID(t *testing.T) {
	ns, _ := newNS()
	tk := rootTask(1)
	l := sem.DefaultLimits()
	l.SEMMNS = 3
	ns.SetLimits(l)
	if id := mustGet(t, ns, tk, 2, 0); id != 0 {
		t.Fatalf("first id = %d", id)
	}
	if _, err := ns.Semget(tk, abi.IPC_PRIVATE, 2, 0); err != sem.ENOSPC {
		t.Fatalf("Semget over SEMMNS = %v, want ENOSPC", err)
	}
	info, _, _ := ns.Info(0, abi.SEM_INFO)
	if info.Semusz != 1 || info.Semaem != 2 {
		t.Errorf("SEM_INFO after a failed creation: semusz %d semaem %d, want 1 2", info.Semusz, info.Semaem)
	}
	if id := mustGet(t, ns, tk, 1, 0); id != 1 {
		t.Errorf("id after a failed creation = %d, want 1", id)
	}
}

// TestSemgetSetLimits checks SetLimits' validation: SEMMNI must be in
// 0..IPCMNI; a bad one is refused with ERANGE but the other three limits
// are still stored, as the kernel's sysctl handler does.
func TestSemgetSetLimits(t *testing.T) {
	tests := []struct {
		name string
		in   sem.Limits
		err  sem.Errno
		want sem.Limits
	}{
		{"all four replaced", sem.Limits{1, 2, 3, 4}, 0, sem.Limits{1, 2, 3, 4}},
		{"SEMMNI may be IPCMNI", sem.Limits{1, 2, 3, abi.IPCMNI}, 0, sem.Limits{1, 2, 3, abi.IPCMNI}},
		{"SEMMNI may be 0", sem.Limits{1, 2, 3, 0}, 0, sem.Limits{1, 2, 3, 0}},
		{"negative values other than SEMMNI are stored", sem.Limits{-1, -2, -3, 4}, 0, sem.Limits{-1, -2, -3, 4}},
		{"ERANGE for SEMMNI above IPCMNI keeps the old SEMMNI", sem.Limits{1, 2, 3, abi.IPCMNI + 1}, sem.ERANGE, sem.Limits{1, 2, 3, abi.SEMMNI}},
		{"ERANGE for negative SEMMNI keeps the old SEMMNI", sem.Limits{5, 6, 7, -1}, sem.ERANGE, sem.Limits{5, 6, 7, abi.SEMMNI}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ns, _ := newNS()
			if err := ns.SetLimits(tc.in); err != tc.err {
				t.Errorf("SetLimits(%+v) = %v, want %v", tc.in, errName(err), errName(tc.err))
			}
			if got := ns.Limits(); got != tc.want {
				t.Errorf("Limits() = %+v, want %+v", got, tc.want)
			}
		})
	}
	if got, want := sem.DefaultLimits(), (sem.Limits{32000, 1024000000, 500, 32000}); got != want {
		t.Errorf("DefaultLimits() = %+v, want %+v (a fresh Linux namespace)", got, want)
	}
}
