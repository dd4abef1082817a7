package sem_test

import (
	"slices"
	"testing"

	"github.com/sembox/sembox/abi"
	"github.com/sembox/sembox/sem"
)

// semctlFixture is a namespace with two sets of owner (uid 1000, gid
// 100): set 0 with mode 0600 and set 1 with mode 0644, two semaphores
// each, created at t0.
type semctlFixture struct {
	ns           *sem.Namespace
	clk          *fakeClock
	owner, other *sem.Task
	priv, public int32
}

func newSemctlFixture(t *testing.T) *semctlFixture {
	ns, clk := newNS()
	f := &semctlFixture{ns: ns, clk: clk, owner: userTask(10, uidOwner, gidOwner), other: userTask(20, uidOther, gidOther)}
	f.priv = mustGet(t, ns, f.owner, 2, 0o600)
	f.public = mustGet(t, ns, f.owner, 2, 0o644)
	if f.priv != 0 || f.public != 1 {
		t.Fatalf("ids %d %d, want 0 1", f.priv, f.public)
	}
	return f
}

const stale = 1 << abi.IPCMNI_SEQ_SHIFT // index 0 with sequence number 1

func TestGetOne(t *testing.T) {
	f := newSemctlFixture(t)
	mustSetAll(t, f.ns, f.owner, f.priv, 3, 0)
	// One waiter for each count on set 0: decrement on 0, zero on 0.
	var rec recorder
	block(t, f.ns, f.owner, f.priv, rec.waiter("n"), sb(0, -4, 0))
	block(t, f.ns, userTask(11, uidOwner, gidOwner), f.priv, rec.waiter("z"), sb(0, 0, 0))
	tests := []struct {
		name string
		task *sem.Task
		id   int32
		num  int32
		cmd  int32
		want int32
		err  sem.Errno
	}{
		{"GETVAL returns the value", f.owner, f.priv, 0, abi.GETVAL, 3, 0},
		{"GETPID returns the pid of the last change", f.owner, f.priv, 1, abi.GETPID, 10, 0},
		{"GETNCNT counts decrement waiters", f.owner, f.priv, 0, abi.GETNCNT, 1, 0},
		{"GETZCNT counts wait-for-zero waiters", f.owner, f.priv, 0, abi.GETZCNT, 1, 0},
		{"GETNCNT of a semaphore without waiters", f.owner, f.priv, 1, abi.GETNCNT, 0, 0},
		{"EINVAL for an unknown command", f.owner, f.priv, 0, 99, -1, sem.EINVAL},
		{"EINVAL for SETVAL through GetOne", f.owner, f.priv, 0, abi.SETVAL, -1, sem.EINVAL},
		{"EINVAL for a stale id", f.owner, stale, 0, abi.GETVAL, -1, sem.EINVAL},
		{"EINVAL for a negative id", f.owner, -1, 0, abi.GETVAL, -1, sem.EINVAL},
		{"EINVAL for a negative semnum", f.owner, f.priv, -1, abi.GETVAL, -1, sem.EINVAL},
		{"EINVAL for semnum == nsems", f.owner, f.priv, 2, abi.GETNCNT, -1, sem.EINVAL},
		{"EACCES without read permission", f.other, f.priv, 0, abi.GETVAL, -1, sem.EACCES},
		{"EACCES comes before the semnum check", f.other, f.priv, 99, abi.GETZCNT, -1, sem.EACCES},
		{"read permission suffices", f.other, f.public, 1, abi.GETVAL, 0, 0},
		{"EINVAL for semnum with read permission", f.other, f.public, 99, abi.GETPID, -1, sem.EINVAL},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := f.ns.GetOne(tc.task, tc.id, tc.num, tc.cmd)
			if got != tc.want || err != tc.err {
				t.Errorf("semctl(%d, %d, %d) = %d, %s; want %d, %s", tc.id, tc.num, tc.cmd, got, errName(err), tc.want, errName(tc.err))
			}
		})
	}
}

func TestGetAll(t *testing.T) {
	f := newSemctlFixture(t)
	mustSetAll(t, f.ns, f.owner, f.public, 7, 32767)
	tests := []struct {
		name string
		task *sem.Task
		id   int32
		want []uint16
		err  sem.Errno
	}{
		{"GETALL returns every value", f.other, f.public, []uint16{7, 32767}, 0},
		{"EINVAL for a stale id", f.owner, stale, nil, sem.EINVAL},
		{"EACCES without read permission", f.other, f.priv, nil, sem.EACCES},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			prefix := []uint16{9}
			got, err := f.ns.GetAll(tc.task, tc.id, prefix)
			if err != tc.err || !slices.Equal(got[1:], tc.want) || got[0] != 9 {
				t.Errorf("GETALL(%d) = %v, %s; want [9] + %v, %s (appended to dst)", tc.id, got, errName(err), tc.want, errName(tc.err))
			}
		})
	}
}

func TestSetVal(t *testing.T) {
	tests := []struct {
		name string
		task func(*semctlFixture) *sem.Task
		id   int32
		num  int32
		val  int32
		err  sem.Errno
	}{
		{"SETVAL stores the value", func(f *semctlFixture) *sem.Task { return f.owner }, 0, 1, 32767, 0},
		{"SETVAL 0", func(f *semctlFixture) *sem.Task { return f.owner }, 0, 0, 0, 0},
		{"ERANGE above SEMVMX", func(f *semctlFixture) *sem.Task { return f.owner }, 0, 0, 32768, sem.ERANGE},
		{"ERANGE for a negative value", func(f *semctlFixture) *sem.Task { return f.owner }, 0, 0, -1, sem.ERANGE},
		{"ERANGE comes before EINVAL for a stale id", func(f *semctlFixture) *sem.Task { return f.owner }, stale, 0, -1, sem.ERANGE},
		{"ERANGE comes before EINVAL for semnum", func(f *semctlFixture) *sem.Task { return f.owner }, 0, 5, 40000, sem.ERANGE},
		{"EINVAL for a stale id", func(f *semctlFixture) *sem.Task { return f.owner }, stale, 0, 1, sem.EINVAL},
		{"EINVAL for semnum == nsems", func(f *semctlFixture) *sem.Task { return f.owner }, 0, 2, 1, sem.EINVAL},
		{"EINVAL for semnum comes before EACCES", func(f *semctlFixture) *sem.Task { return f.other }, 0, 99, 1, sem.EINVAL},
		{"EACCES without write permission", func(f *semctlFixture) *sem.Task { return f.other }, 1, 0, 1, sem.EACCES},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newSemctlFixture(t)
			f.clk.Set(t0 + 10)
			tk := tc.task(f)
			err := f.ns.SetVal(tk, tc.id, tc.num, tc.val)
			if err != tc.err {
				t.Fatalf("SETVAL(%d, %d, %d) = %s, want %s", tc.id, tc.num, tc.val, errName(err), errName(tc.err))
			}
			ds := stat(t, f.ns, 0)
			if err != 0 {
				if ds.Ctime != t0 || !slices.Equal(vals(t, f.ns, 0), []uint16{0, 0}) {
					t.Errorf("a failed SETVAL changed the set: ctime %d values %v", ds.Ctime, vals(t, f.ns, 0))
				}
				return
			}
			if got := val(t, f.ns, tc.id, tc.num); got != tc.val {
				t.Errorf("GETVAL after SETVAL = %d, want %d", got, tc.val)
			}
			if got := getOne(t, f.ns, tc.id, tc.num, abi.GETPID); got != tk.PID {
				t.Errorf("GETPID after SETVAL = %d, want the caller %d", got, tk.PID)
			}
			if got := getOne(t, f.ns, tc.id, 1-tc.num, abi.GETPID); got != 0 {
				t.Errorf("GETPID of the other semaphore = %d, want 0", got)
			}
			if ds.Ctime != t0+10 || ds.Otime != 0 {
				t.Errorf("SETVAL: ctime, otime = %d, %d; want %d, 0 (SETVAL sets ctime, not otime)", ds.Ctime, ds.Otime, t0+10)
			}
		})
	}
}

func TestSetAll(t *testing.T) {
	tests := []struct {
		name       string
		task       func(*semctlFixture) *sem.Task
		id         int32
		vals       []uint16
		loadErr    sem.Errno
		err        sem.Errno
		wantLoaded bool // load must be called, with nsems
	}{
		{"SETALL stores every value", func(f *semctlFixture) *sem.Task { return f.owner }, 0, []uint16{5, 32767}, 0, 0, true},
		{"EINVAL for a stale id", func(f *semctlFixture) *sem.Task { return f.owner }, stale, []uint16{1, 1}, 0, sem.EINVAL, false},
		{"EACCES without write permission, before reading the values", func(f *semctlFixture) *sem.Task { return f.other }, 1, []uint16{40000, 0}, 0, sem.EACCES, false},
		{"EFAULT from reading the values", func(f *semctlFixture) *sem.Task { return f.owner }, 0, nil, sem.EFAULT, sem.EFAULT, true},
		{"ERANGE for a value above SEMVMX", func(f *semctlFixture) *sem.Task { return f.owner }, 0, []uint16{1, 32768}, 0, sem.ERANGE, true},
		{"ERANGE for 65535", func(f *semctlFixture) *sem.Task { return f.owner }, 0, []uint16{65535, 0}, 0, sem.ERANGE, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newSemctlFixture(t)
			f.clk.Set(t0 + 10)
			tk := tc.task(f)
			loaded := -1
			err := f.ns.SetAll(tk, tc.id, func(n int) ([]uint16, sem.Errno) {
				loaded = n
				return tc.vals, tc.loadErr
			})
			if err != tc.err {
				t.Fatalf("SETALL = %s, want %s", errName(err), errName(tc.err))
			}
			if tc.wantLoaded && loaded != 2 || !tc.wantLoaded && loaded != -1 {
				t.Errorf("load called with %d (-1: not called), want called=%v with 2", loaded, tc.wantLoaded)
			}
			ds := stat(t, f.ns, 0)
			if err != 0 {
				if ds.Ctime != t0 || !slices.Equal(vals(t, f.ns, 0), []uint16{0, 0}) || getOne(t, f.ns, 0, 0, abi.GETPID) != 0 {
					t.Errorf("a failed SETALL changed the set")
				}
				return
			}
			if got := vals(t, f.ns, tc.id); !slices.Equal(got, tc.vals) {
				t.Errorf("GETALL after SETALL = %v, want %v", got, tc.vals)
			}
			for i := int32(0); i < 2; i++ {
				if got := getOne(t, f.ns, tc.id, i, abi.GETPID); got != tk.PID {
					t.Errorf("GETPID(%d) after SETALL = %d, want %d", i, got, tk.PID)
				}
			}
			if ds.Ctime != t0+10 || ds.Otime != 0 {
				t.Errorf("SETALL: ctime, otime = %d, %d; want %d, 0", ds.Ctime, ds.Otime, t0+10)
			}
		})
	}
}

// TestSetAllWrongLength: a loader returning the wrong number of values is a
// front-end bug, reported as EFAULT, and changes nothing.
func TestSetAllWrongLength(t *testing.T) {
	f := newSemctlFixture(t)
	if err := f.ns.SetAll(f.owner, f.priv, loader([]uint16{1})); err != sem.EFAULT {
		t.Errorf("SETALL with 1 value for 2 semaphores = %s, want EFAULT", errName(err))
	}
	if got := vals(t, f.ns, f.priv); !slices.Equal(got, []uint16{0, 0}) {
		t.Errorf("values = %v, want unchanged", got)
	}
}

func TestStat(t *testing.T) {
	f := newSemctlFixture(t)
	f.clk.Set(t0 + 5)
	mustOp(t, f.ns, f.owner, f.public, sb(0, 1, 0))
	want := abi.SemidDS{
		Perm:  abi.IPCPerm{Key: 0, UID: uidOwner, GID: gidOwner, CUID: uidOwner, CGID: gidOwner, Mode: 0o644},
		Otime: t0 + 5, Ctime: t0, Nsems: 2,
	}
	tests := []struct {
		name   string
		task   *sem.Task
		id     int32
		cmd    int32
		want   abi.SemidDS
		result int32
		err    sem.Errno
	}{
		{"IPC_STAT returns 0", f.other, f.public, abi.IPC_STAT, want, 0, 0},
		{"SEM_STAT takes an index and returns the full id", f.other, 1, abi.SEM_STAT, want, 1, 0},
		{"SEM_STAT_ANY takes an index and returns the full id", f.other, 1, abi.SEM_STAT_ANY, want, 1, 0},
		{"IPC_STAT: EINVAL for a stale id", f.owner, stale | 1, abi.IPC_STAT, abi.SemidDS{}, -1, sem.EINVAL},
		{"SEM_STAT ignores the sequence bits of its index", f.other, stale | 1, abi.SEM_STAT, want, 1, 0},
		{"SEM_STAT: EINVAL for an unused index", f.owner, 2, abi.SEM_STAT, abi.SemidDS{}, -1, sem.EINVAL},
		{"SEM_STAT_ANY: EINVAL for an unused index", f.owner, 77, abi.SEM_STAT_ANY, abi.SemidDS{}, -1, sem.EINVAL},
		{"IPC_STAT: EACCES without read permission", f.other, f.priv, abi.IPC_STAT, abi.SemidDS{}, -1, sem.EACCES},
		{"SEM_STAT: EACCES without read permission", f.other, 0, abi.SEM_STAT, abi.SemidDS{}, -1, sem.EACCES},
		{"SEM_STAT_ANY needs no read permission", f.other, 0, abi.SEM_STAT_ANY, abi.SemidDS{Perm: abi.IPCPerm{UID: uidOwner, GID: gidOwner, CUID: uidOwner, CGID: gidOwner, Mode: 0o600}, Ctime: t0, Nsems: 2}, 0, 0},
		{"EINVAL for another command", f.owner, f.priv, abi.GETVAL, abi.SemidDS{}, -1, sem.EINVAL},
		{"EINVAL for a negative id", f.owner, -1, abi.IPC_STAT, abi.SemidDS{}, -1, sem.EINVAL},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ds, res, err := f.ns.Stat(tc.task, tc.id, tc.cmd)
			if ds != tc.want || res != tc.result || err != tc.err {
				t.Errorf("Stat(%d, %d) = %+v, %d, %s; want %+v, %d, %s", tc.id, tc.cmd, ds, res, errName(err), tc.want, tc.result, errName(tc.err))
			}
		})
	}
}

// TestStatSeq: sem_perm.seq is the id's sequence number.
func TestStatSeq(t *testing.T) {
	ns, _ := newNS()
	tk := rootTask(1)
	// Cycle through the 64-entry window once so that index 0 is reused
	// with sequence number 1.
	for i := 0; i < abi.IPC_MIN_CYCLE; i++ {
		if err := ns.Remove(tk, mustGet(t, ns, tk, 1, 0)); err != 0 {
			t.Fatal(err)
		}
	}
	id := mustGet(t, ns, tk, 1, 0)
	if id != 1<<abi.IPCMNI_SEQ_SHIFT {
		t.Fatalf("id = %d, want %d", id, 1<<abi.IPCMNI_SEQ_SHIFT)
	}
	ds, res, err := ns.Stat(tk, 0, abi.SEM_STAT)
	if err != 0 || res != id || ds.Perm.Seq != 1 {
		t.Errorf("SEM_STAT(0) = seq %d, %d, %s; want seq 1, %d", ds.Perm.Seq, res, errName(err), id)
	}
}

func TestInfo(t *testing.T) {
	ns, _ := newNS()
	tk := rootTask(1)
	base := abi.Seminfo{
		Semmap: abi.SEMMAP, Semmni: abi.SEMMNI, Semmns: abi.SEMMNS, Semmnu: abi.SEMMNU, Semmsl: abi.SEMMSL,
		Semopm: abi.SEMOPM, Semume: abi.SEMUME, Semusz: abi.SEMUSZ, Semvmx: abi.SEMVMX, Semaem: abi.SEMAEM,
	}
	check := func(name string, cmd int32, want abi.Seminfo, wantRes int32) {
		t.Helper()
		info, res, err := ns.Info(0, cmd)
		if err != 0 || info != want || res != wantRes {
			t.Errorf("%s: Info(%d) = %+v, %d, %s; want %+v, %d", name, cmd, info, res, errName(err), want, wantRes)
		}
	}
	semInfo := func(sets, sems int32) abi.Seminfo {
		i := base
		i.Semusz, i.Semaem = sets, sems
		return i
	}
	check("IPC_INFO of an empty namespace returns 0", abi.IPC_INFO, base, 0)
	check("SEM_INFO of an empty namespace returns 0", abi.SEM_INFO, semInfo(0, 0), 0)
	a := mustGet(t, ns, tk, 3, 0)
	b := mustGet(t, ns, tk, 4, 0)
	c := mustGet(t, ns, tk, 5, 0)
	check("IPC_INFO returns the highest used index", abi.IPC_INFO, base, 2)
	check("SEM_INFO: semusz is the number of sets, semaem the number of semaphores", abi.SEM_INFO, semInfo(3, 12), 2)
	ns.Remove(tk, c)
	check("removing the highest index lowers the result", abi.SEM_INFO, semInfo(2, 7), 1)
	ns.Remove(tk, a)
	check("removing a lower index keeps the result", abi.SEM_INFO, semInfo(1, 4), 1)
	ns.Remove(tk, b)
	check("an emptied namespace returns 0 again", abi.SEM_INFO, semInfo(0, 0), 0)

	l := sem.Limits{SEMMSL: 11, SEMMNS: 22, SEMOPM: 33, SEMMNI: 44}
	ns.SetLimits(l)
	lim := base
	lim.Semmsl, lim.Semmns, lim.Semopm, lim.Semmni = 11, 22, 33, 44
	check("IPC_INFO reports the namespace's limits", abi.IPC_INFO, lim, 0)

	for _, tc := range []struct {
		name string
		id   int32
		cmd  int32
	}{
		{"EINVAL for a negative semid", -1, abi.IPC_INFO},
		{"EINVAL for another command", 0, abi.IPC_STAT},
	} {
		if _, res, err := ns.Info(tc.id, tc.cmd); res != -1 || err != sem.EINVAL {
			t.Errorf("%s: Info(%d, %d) = %d, %s; want -1, EINVAL", tc.name, tc.id, tc.cmd, res, errName(err))
		}
	}
	// Any non-negative semid is ignored.
	if _, res, err := ns.Info(12345, abi.IPC_INFO); res != 0 || err != 0 {
		t.Errorf("Info(12345, IPC_INFO) = %d, %s; want 0, OK", res, errName(err))
	}
}

func TestIPCSet(t *testing.T) {
	admin := userTask(30, uidOther, gidOther)
	admin.Cred.CapSysAdmin = true
	ipcOwner := userTask(31, uidOther, gidOther)
	ipcOwner.Cred.CapIPCOwner = true
	in := func(uid, gid, mode uint32) *abi.SemidDS {
		// Fields other than uid, gid and mode are ignored.
		return &abi.SemidDS{Perm: abi.IPCPerm{Key: 77, UID: uid, GID: gid, CUID: 9, CGID: 9, Mode: mode, Seq: 9}, Otime: 9, Ctime: 9, Nsems: 9}
	}
	tests := []struct {
		name string
		task func(*semctlFixture) *sem.Task
		id   int32
		in   *abi.SemidDS
		err  sem.Errno
	}{
		{"the owner may change uid, gid and mode", func(f *semctlFixture) *sem.Task { return f.owner }, 0, in(5, 6, 0o640), 0},
		{"only the permission bits of mode are taken", func(f *semctlFixture) *sem.Task { return f.owner }, 0, in(5, 6, 0o177777), 0},
		{"CAP_SYS_ADMIN may change a set it does not own", func(*semctlFixture) *sem.Task { return admin }, 0, in(5, 6, 0o640), 0},
		{"EPERM for another user", func(f *semctlFixture) *sem.Task { return f.other }, 0, in(5, 6, 0o640), sem.EPERM},
		{"EPERM for another user with read permission", func(f *semctlFixture) *sem.Task { return f.other }, 1, in(5, 6, 0o666), sem.EPERM},
		{"EPERM despite CAP_IPC_OWNER", func(*semctlFixture) *sem.Task { return ipcOwner }, 0, in(5, 6, 0o640), sem.EPERM},
		{"EPERM comes before the uid check", func(f *semctlFixture) *sem.Task { return f.other }, 0, in(^uint32(0), 6, 0o640), sem.EPERM},
		{"EINVAL for uid -1", func(f *semctlFixture) *sem.Task { return f.owner }, 0, in(^uint32(0), 6, 0o640), sem.EINVAL},
		{"EINVAL for gid -1", func(f *semctlFixture) *sem.Task { return f.owner }, 0, in(5, ^uint32(0), 0o640), sem.EINVAL},
		{"EINVAL for a stale id", func(f *semctlFixture) *sem.Task { return f.owner }, stale, in(5, 6, 0o640), sem.EINVAL},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newSemctlFixture(t)
			f.clk.Set(t0 + 20)
			before := stat(t, f.ns, tc.id&abi.IPCMNI_IDX_MASK)
			err := f.ns.IPCSet(tc.task(f), tc.id, tc.in)
			if err != tc.err {
				t.Fatalf("IPC_SET = %s, want %s", errName(err), errName(tc.err))
			}
			after := stat(t, f.ns, tc.id&abi.IPCMNI_IDX_MASK)
			if err != 0 {
				if after != before {
					t.Errorf("a failed IPC_SET changed the set: %+v -> %+v", before, after)
				}
				return
			}
			want := before
			want.Perm.UID, want.Perm.GID, want.Perm.Mode = tc.in.Perm.UID, tc.in.Perm.GID, tc.in.Perm.Mode&0o777
			want.Ctime = t0 + 20
			if after != want {
				t.Errorf("after IPC_SET: %+v, want %+v", after, want)
			}
		})
	}
}

// TestIPCSetOwnership: after IPC_SET gives the set away, the new owner and
// the creator may both control it; the old owner's uid keeps the creator
// rights.
func TestIPCSetOwnership(t *testing.T) {
	f := newSemctlFixture(t)
	newOwner := userTask(50, 5000, 500)
	if err := f.ns.IPCSet(f.owner, f.priv, &abi.SemidDS{Perm: abi.IPCPerm{UID: 5000, GID: 500, Mode: 0o600}}); err != 0 {
		t.Fatal(err)
	}
	// The new owner gets the owner bits.
	if err := f.ns.SetVal(newOwner, f.priv, 0, 1); err != 0 {
		t.Errorf("SETVAL by the new owner = %s", errName(err))
	}
	// The creator still gets the owner bits and may still IPC_SET.
	if err := f.ns.SetVal(f.owner, f.priv, 0, 2); err != 0 {
		t.Errorf("SETVAL by the creator = %s", errName(err))
	}
	if err := f.ns.IPCSet(newOwner, f.priv, &abi.SemidDS{Perm: abi.IPCPerm{UID: 6000, GID: 600, Mode: 0o600}}); err != 0 {
		t.Errorf("IPC_SET by the new owner = %s", errName(err))
	}
	// 5000 is neither owner nor creator any more.
	if err := f.ns.Remove(newOwner, f.priv); err != sem.EPERM {
		t.Errorf("IPC_RMID by a former owner = %s, want EPERM", errName(err))
	}
	if err := f.ns.Remove(f.owner, f.priv); err != 0 {
		t.Errorf("IPC_RMID by the creator = %s", errName(err))
	}
}

func TestRemove(t *testing.T) {
	admin := userTask(30, uidOther, gidOther)
	admin.Cred.CapSysAdmin = true
	ipcOwner := userTask(31, uidOther, gidOther)
	ipcOwner.Cred.CapIPCOwner = true
	tests := []struct {
		name string
		task func(*semctlFixture) *sem.Task
		id   int32
		err  sem.Errno
	}{
		{"the creator may remove", func(f *semctlFixture) *sem.Task { return f.owner }, 0, 0},
		{"CAP_SYS_ADMIN may remove", func(*semctlFixture) *sem.Task { return admin }, 0, 0},
		{"EPERM for another user", func(f *semctlFixture) *sem.Task { return f.other }, 0, sem.EPERM},
		{"EPERM for another user with read permission", func(f *semctlFixture) *sem.Task { return f.other }, 1, sem.EPERM},
		{"EPERM despite CAP_IPC_OWNER", func(*semctlFixture) *sem.Task { return ipcOwner }, 0, sem.EPERM},
		{"EINVAL for a stale id", func(f *semctlFixture) *sem.Task { return f.owner }, stale, sem.EINVAL},
		{"EINVAL for a stale id comes before EPERM", func(f *semctlFixture) *sem.Task { return f.other }, stale | 1, sem.EINVAL},
		{"EINVAL for an unused id", func(f *semctlFixture) *sem.Task { return f.owner }, 2, sem.EINVAL},
		{"EINVAL for a negative id", func(f *semctlFixture) *sem.Task { return f.owner }, -1, sem.EINVAL},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newSemctlFixture(t)
			err := f.ns.Remove(tc.task(f), tc.id)
			if err != tc.err {
				t.Fatalf("IPC_RMID(%d) = %s, want %s", tc.id, errName(err), errName(tc.err))
			}
			_, _, serr := f.ns.Stat(f.owner, tc.id, abi.IPC_STAT)
			if removed := serr == sem.EINVAL; removed != (err == 0) && tc.id >= 0 && tc.id < 2 {
				t.Errorf("after IPC_RMID = %s: IPC_STAT = %s", errName(err), errName(serr))
			}
		})
	}
}

// TestRemovedSetIsGone: every command on a removed set's id fails with
// EINVAL, its key is free, and its semaphores no longer count.
func TestRemovedSetIsGone(t *testing.T) {
	ns, _ := newNS()
	tk := rootTask(1)
	id, _ := ns.Semget(tk, key, 3, abi.IPC_CREAT|0o600)
	if err := ns.Remove(tk, id); err != 0 {
		t.Fatal(err)
	}
	calls := []struct {
		name string
		call func() sem.Errno
	}{
		{"semop", func() sem.Errno { return op(ns, tk, id, sb(0, 1, 0)) }},
		{"semop with SEM_UNDO", func() sem.Errno { return op(ns, tk, id, sb(0, 1, undo)) }},
		{"GETVAL", func() sem.Errno { _, err := ns.GetOne(tk, id, 0, abi.GETVAL); return err }},
		{"GETALL", func() sem.Errno { _, err := ns.GetAll(tk, id, nil); return err }},
		{"SETVAL", func() sem.Errno { return ns.SetVal(tk, id, 0, 1) }},
		{"SETALL", func() sem.Errno { return ns.SetAll(tk, id, loader([]uint16{1, 1, 1})) }},
		{"IPC_STAT", func() sem.Errno { _, _, err := ns.Stat(tk, id, abi.IPC_STAT); return err }},
		{"SEM_STAT", func() sem.Errno { _, _, err := ns.Stat(tk, id, abi.SEM_STAT); return err }},
		{"SEM_STAT_ANY", func() sem.Errno { _, _, err := ns.Stat(tk, id, abi.SEM_STAT_ANY); return err }},
		{"IPC_SET", func() sem.Errno { return ns.IPCSet(tk, id, &abi.SemidDS{}) }},
		{"IPC_RMID", func() sem.Errno { return ns.Remove(tk, id) }},
	}
	for _, c := range calls {
		if err := c.call(); err != sem.EINVAL {
			t.Errorf("%s on a removed set = %s, want EINVAL", c.name, errName(err))
		}
	}
	if _, err := ns.Semget(tk, key, 1, 0); err != sem.ENOENT {
		t.Errorf("Semget of a removed set's key = %s, want ENOENT", errName(err))
	}
	if info, _, _ := ns.Info(0, abi.SEM_INFO); info.Semusz != 0 || info.Semaem != 0 {
		t.Errorf("SEM_INFO after removal: %d sets, %d semaphores; want 0, 0", info.Semusz, info.Semaem)
	}
	if tk.Undo != nil && ns.Adjustments(tk.Undo, id) != nil {
		t.Errorf("a removed set still has adjustments")
	}
}
