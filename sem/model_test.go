package sem_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/sembox/sembox/abi"
	"github.com/sembox/sembox/sem"
)

// This file holds a deliberately simple reference model of Linux's System
// V semaphores (plain maps and slices, every waiter in one list in arrival
// order, retried by brute force) and a driver that runs random call
// sequences against both the model and the engine, comparing every result.
//
// The model's wake-up rules, and why they are equivalent to the kernel's
// queues (ipc/sem.c):
//   - After a change, wait-for-zero waiters are tried first. A
//     single-operation one is tried when its semaphore is among the changed
//     ones and is 0; the multi-operation ones only if some changed
//     semaphore is 0 (do_smart_wakeup_zero: their retry, and so an
//     IPC_NOWAIT failure or GETZCNT moving to another semaphore, happens
//     only then).
//   - Then altering waiters: the first one in arrival order that no longer
//     blocks is completed, the zero rule runs for its operations, and the
//     scan restarts, until none can proceed. Linux scans its set-wide queue
//     exactly so; its per-semaphore queues hold only single decrements,
//     for which one pass is the same fix point. Linux's merge_queues groups
//     waiters by semaphore, but only single operations on different
//     semaphores change order, and those commute.
//   - Only successful altering semops, SETVAL, SETALL and exit adjustments
//     wake anybody; failures and Cancel never do.
// Blocking calls in the driver carry no IPC_NOWAIT, because with it a
// multi-op wait-for-zero waiter's result depends on the order of the
// kernel's merged queue, which the model does not follow.

type mSet struct {
	id, key                    int32
	uid, gid, cuid, cgid, mode uint32
	otime, ctime               int64
	vals, pids                 []int32
}

type mWaiter struct {
	n        int // index in the driver's waiter table
	task     int
	set      *mSet
	sops     []abi.Sembuf
	alter    bool
	blocking int
	done     bool // completed or cancelled
	canceled bool
	err      sem.Errno
	// Commit hook (model_commit_test.go): commit is whether the waiter
	// has one, refuse whether it refuses, commits how often it was called.
	commit, refuse bool
	commits        int
}

type model struct {
	now     func() int64
	limits  sem.Limits
	sets    map[int32]*mSet // by full id
	byIdx   map[int]*mSet
	keys    map[int32]*mSet
	seq     int
	lastIdx int
	nextIdx int
	used    int
	pending []*mWaiter          // queued waiters, arrival order
	undo    []map[int32][]int16 // per task: set id -> adjustments
	creds   []sem.Cred          // per task
	pids    []int32             // per task
}

func newModel(now func() int64, creds []sem.Cred, pids []int32) *model {
	m := &model{
		now: now, limits: sem.DefaultLimits(),
		sets: map[int32]*mSet{}, byIdx: map[int]*mSet{}, keys: map[int32]*mSet{},
		lastIdx: -1, creds: creds, pids: pids,
	}
	for range creds {
		m.undo = append(m.undo, map[int32][]int16{})
	}
	return m
}

func (m *model) perm(task int, s *mSet, flag int32) bool {
	c := m.creds[task]
	f := int32(int16(flag))
	req := uint32((f>>6)|(f>>3)|f) & 7
	granted := s.mode
	inGroup := func(g uint32) bool { return g == c.FSGID || slices.Contains(c.Groups, g) }
	switch {
	case c.EUID == s.cuid || c.EUID == s.uid:
		granted >>= 6
	case inGroup(s.cgid) || inGroup(s.gid):
		granted >>= 3
	}
	return req&^granted == 0 || c.CapIPCOwner
}

func (m *model) owns(task int, s *mSet) bool {
	c := m.creds[task]
	return c.EUID == s.cuid || c.EUID == s.uid || c.CapSysAdmin
}

func (m *model) lookup(id int32) *mSet {
	if id < 0 {
		return nil
	}
	return m.sets[id]
}

func (m *model) semget(task int, key, nsems, flg int32) (int32, sem.Errno) {
	if nsems < 0 || nsems > m.limits.SEMMSL {
		return -1, sem.EINVAL
	}
	if key != abi.IPC_PRIVATE {
		if s := m.keys[key]; s != nil {
			switch {
			case flg&abi.IPC_CREAT != 0 && flg&abi.IPC_EXCL != 0:
				return -1, sem.EEXIST
			case int(nsems) > len(s.vals):
				return -1, sem.EINVAL
			case !m.perm(task, s, flg):
				return -1, sem.EACCES
			}
			return s.id, 0
		}
		if flg&abi.IPC_CREAT == 0 {
			return -1, sem.ENOENT
		}
	}
	if nsems == 0 {
		return -1, sem.EINVAL
	}
	if int64(m.used)+int64(nsems) > int64(m.limits.SEMMNS) || len(m.sets) >= min(int(m.limits.SEMMNI), abi.IPCMNI) {
		return -1, sem.ENOSPC
	}
	window := min(max(len(m.sets)*3/2, abi.IPC_MIN_CYCLE), abi.IPCMNI)
	idx := -1
	for i := m.nextIdx; i < window && idx < 0; i++ {
		if m.byIdx[i] == nil {
			idx = i
		}
	}
	for i := 0; i < window && idx < 0; i++ {
		if m.byIdx[i] == nil {
			idx = i
		}
	}
	if idx < 0 {
		return -1, sem.ENOSPC
	}
	m.nextIdx = idx + 1
	if idx <= m.lastIdx {
		m.seq++
		if m.seq >= abi.IPCID_SEQ_MAX {
			m.seq = 0
		}
	}
	m.lastIdx = idx
	c := m.creds[task]
	s := &mSet{
		id: int32(m.seq<<abi.IPCMNI_SEQ_SHIFT | idx), key: key,
		uid: c.EUID, cuid: c.EUID, gid: c.EGID, cgid: c.EGID, mode: uint32(flg) & 0o777,
		ctime: m.now(), vals: make([]int32, nsems), pids: make([]int32, nsems),
	}
	m.sets[s.id] = s
	m.byIdx[idx] = s
	if key != abi.IPC_PRIVATE {
		m.keys[key] = s
	}
	m.used += int(nsems)
	return s.id, 0
}

// perform applies sops in order, all or nothing. It returns the index of
// the operation that must wait (-1 if none) or an error.
func (m *model) perform(s *mSet, sops []abi.Sembuf, task int) (int, sem.Errno) {
	vals := slices.Clone(s.vals)
	var adj []int16
	if a := m.undo[task][s.id]; a != nil {
		adj = slices.Clone(a)
	}
	for i, sop := range sops {
		v := vals[sop.SemNum]
		if sop.SemOp == 0 && v != 0 || v+int32(sop.SemOp) < 0 {
			if sop.SemFlg&abi.IPC_NOWAIT != 0 {
				return -1, sem.EAGAIN
			}
			return i, 0
		}
		if v+int32(sop.SemOp) > abi.SEMVMX {
			return -1, sem.ERANGE
		}
		if sop.SemFlg&abi.SEM_UNDO != 0 {
			if adj == nil {
				panic("model: SEM_UNDO without an undo entry")
			}
			a := int32(adj[sop.SemNum]) - int32(sop.SemOp)
			if a < -32768 || a > 32767 {
				return -1, sem.ERANGE
			}
			adj[sop.SemNum] = int16(a)
		}
		vals[sop.SemNum] = v + int32(sop.SemOp)
	}
	s.vals = vals
	if adj != nil {
		m.undo[task][s.id] = adj
	}
	for _, sop := range sops {
		s.pids[sop.SemNum] = m.pids[task]
	}
	return -1, 0
}

func isAlter(sops []abi.Sembuf) bool {
	return slices.ContainsFunc(sops, func(s abi.Sembuf) bool { return s.SemOp != 0 })
}

// semop returns blocked=true if the call was queued as waiter w.
func (m *model) semop(task int, id int32, sops []abi.Sembuf, timeout *abi.Timespec, w *mWaiter) (bool, sem.Errno) {
	switch {
	case uint64(len(sops)) > uint64(m.limits.SEMOPM):
		return false, sem.E2BIG
	case len(sops) == 0, id < 0:
		return false, sem.EINVAL
	case timeout != nil && (timeout.Sec < 0 || timeout.Nsec < 0 || timeout.Nsec >= 1e9):
		return false, sem.EINVAL
	}
	s := m.lookup(id)
	if s == nil {
		return false, sem.EINVAL
	}
	if slices.ContainsFunc(sops, func(s abi.Sembuf) bool { return s.SemFlg&abi.SEM_UNDO != 0 }) && m.undo[task][id] == nil {
		m.undo[task][id] = make([]int16, len(s.vals))
	}
	if slices.ContainsFunc(sops, func(sop abi.Sembuf) bool { return int(sop.SemNum) >= len(s.vals) }) {
		return false, sem.EFBIG
	}
	alter := isAlter(sops)
	flag := int32(0o444)
	if alter {
		flag = 0o222
	}
	if !m.perm(task, s, flag) {
		return false, sem.EACCES
	}
	blockAt, err := m.performCommit(s, sops, task, w)
	switch {
	case err != 0:
		return false, err
	case blockAt < 0:
		if alter {
			m.update(s, sops, true)
		} else {
			s.otime = m.now()
		}
		return false, 0
	case w == nil || timeout != nil && *timeout == (abi.Timespec{}):
		return false, sem.EAGAIN
	}
	w.task, w.set, w.sops, w.alter, w.blocking = task, s, slices.Clone(sops), alter, blockAt
	m.pending = append(m.pending, w)
	return true, 0
}

// retry tries a queued waiter again; it reports whether it completed
// successfully.
func (m *model) retry(w *mWaiter) bool {
	blockAt, err := m.performCommit(w.set, w.sops, w.task, w)
	if blockAt >= 0 {
		w.blocking = blockAt
		return false
	}
	m.complete(w, err)
	return err == 0
}

func (m *model) complete(w *mWaiter, err sem.Errno) {
	w.done, w.err = true, err
	m.pending = slices.DeleteFunc(m.pending, func(x *mWaiter) bool { return x == w })
}

// waiters returns the queued waiters of s that match, in arrival order (a
// copy, so that completing them while iterating is safe).
func (m *model) waiters(s *mSet, match func(*mWaiter) bool) []*mWaiter {
	var out []*mWaiter
	for _, w := range m.pending {
		if w.set == s && match(w) {
			out = append(out, w)
		}
	}
	return out
}

// wakeZero applies the wait-for-zero rule for the changed operations
// (nil: every semaphore changed).
func (m *model) wakeZero(s *mSet, changed []abi.Sembuf) bool {
	nums := make([]int, 0, len(s.vals))
	if changed == nil {
		for i := range s.vals {
			nums = append(nums, i)
		}
	} else {
		for _, sop := range changed {
			nums = append(nums, int(sop.SemNum))
		}
	}
	completed, gotZero := false, false
	for _, num := range nums {
		if s.vals[num] != 0 {
			continue
		}
		gotZero = true
		for _, w := range m.waiters(s, func(w *mWaiter) bool {
			return !w.done && !w.alter && len(w.sops) == 1 && int(w.sops[0].SemNum) == num
		}) {
			completed = m.retry(w) || completed
		}
	}
	if gotZero {
		for _, w := range m.waiters(s, func(w *mWaiter) bool { return !w.done && !w.alter && len(w.sops) > 1 }) {
			completed = m.retry(w) || completed
		}
	}
	return completed
}

// update is do_smart_update: the zero rule, then altering waiters until
// none can proceed; otime is set if anything completed or force.
func (m *model) update(s *mSet, changed []abi.Sembuf, force bool) {
	completed := m.wakeZero(s, changed)
again:
	for _, w := range m.waiters(s, func(w *mWaiter) bool { return w.alter }) {
		if m.retry(w) {
			completed = true
			m.wakeZero(s, w.sops)
			goto again
		}
	}
	if completed || force {
		s.otime = m.now()
	}
}

func (m *model) cancel(w *mWaiter, err sem.Errno) bool {
	if w.done || !slices.Contains(m.pending, w) {
		return false
	}
	w.done, w.canceled, w.err = true, true, err
	m.pending = slices.DeleteFunc(m.pending, func(x *mWaiter) bool { return x == w })
	return true
}

func (m *model) getOne(task int, id, num, cmd int32) (int32, sem.Errno) {
	switch cmd {
	case abi.GETVAL, abi.GETPID, abi.GETNCNT, abi.GETZCNT:
	default:
		return -1, sem.EINVAL
	}
	s := m.lookup(id)
	switch {
	case s == nil:
		return -1, sem.EINVAL
	case !m.perm(task, s, 0o444):
		return -1, sem.EACCES
	case num < 0 || int(num) >= len(s.vals):
		return -1, sem.EINVAL
	}
	switch cmd {
	case abi.GETVAL:
		return s.vals[num], 0
	case abi.GETPID:
		return s.pids[num], 0
	}
	n := int32(0)
	for _, w := range m.waiters(s, func(*mWaiter) bool { return true }) {
		sop := w.sops[w.blocking]
		if int32(sop.SemNum) == num && (cmd == abi.GETZCNT) == (sop.SemOp == 0) {
			n++
		}
	}
	return n, 0
}

func (m *model) getAll(task int, id int32) ([]uint16, sem.Errno) {
	s := m.lookup(id)
	switch {
	case s == nil:
		return nil, sem.EINVAL
	case !m.perm(task, s, 0o444):
		return nil, sem.EACCES
	}
	out := make([]uint16, len(s.vals))
	for i, v := range s.vals {
		out[i] = uint16(v)
	}
	return out, 0
}

func (m *model) setVal(task int, id, num, v int32) sem.Errno {
	if v < 0 || v > abi.SEMVMX {
		return sem.ERANGE
	}
	s := m.lookup(id)
	switch {
	case s == nil:
		return sem.EINVAL
	case num < 0 || int(num) >= len(s.vals):
		return sem.EINVAL
	case !m.perm(task, s, 0o222):
		return sem.EACCES
	}
	for _, u := range m.undo {
		if a := u[s.id]; a != nil {
			a[num] = 0
		}
	}
	s.vals[num], s.pids[num] = v, m.pids[task]
	s.ctime = m.now()
	m.update(s, nil, false)
	return 0
}

func (m *model) setAll(task int, id int32, vals []uint16) sem.Errno {
	s := m.lookup(id)
	switch {
	case s == nil:
		return sem.EINVAL
	case !m.perm(task, s, 0o222):
		return sem.EACCES
	}
	for _, v := range vals[:len(s.vals)] {
		if v > abi.SEMVMX {
			return sem.ERANGE
		}
	}
	for i := range s.vals {
		s.vals[i], s.pids[i] = int32(vals[i]), m.pids[task]
	}
	for _, u := range m.undo {
		if a := u[s.id]; a != nil {
			clear(a)
		}
	}
	s.ctime = m.now()
	m.update(s, nil, false)
	return 0
}

func (m *model) ds(s *mSet) abi.SemidDS {
	return abi.SemidDS{
		Perm:  abi.IPCPerm{Key: s.key, UID: s.uid, GID: s.gid, CUID: s.cuid, CGID: s.cgid, Mode: s.mode, Seq: uint16(s.id >> abi.IPCMNI_SEQ_SHIFT)},
		Otime: s.otime, Ctime: s.ctime, Nsems: uint64(len(s.vals)),
	}
}

func (m *model) stat(task int, id, cmd int32) (abi.SemidDS, int32, sem.Errno) {
	var s *mSet
	switch cmd {
	case abi.IPC_STAT:
		s = m.lookup(id)
	case abi.SEM_STAT, abi.SEM_STAT_ANY:
		if id >= 0 {
			s = m.byIdx[int(id&abi.IPCMNI_IDX_MASK)]
		}
	default:
		return abi.SemidDS{}, -1, sem.EINVAL
	}
	switch {
	case s == nil:
		return abi.SemidDS{}, -1, sem.EINVAL
	case cmd != abi.SEM_STAT_ANY && !m.perm(task, s, 0o444):
		return abi.SemidDS{}, -1, sem.EACCES
	case cmd == abi.IPC_STAT:
		return m.ds(s), 0, 0
	}
	return m.ds(s), s.id, 0
}

func (m *model) info(cmd int32) (abi.Seminfo, int32) {
	i := abi.Seminfo{
		Semmap: abi.SEMMAP, Semmni: m.limits.SEMMNI, Semmns: m.limits.SEMMNS, Semmnu: abi.SEMMNU,
		Semmsl: m.limits.SEMMSL, Semopm: m.limits.SEMOPM, Semume: abi.SEMUME, Semusz: abi.SEMUSZ,
		Semvmx: abi.SEMVMX, Semaem: abi.SEMAEM,
	}
	if cmd == abi.SEM_INFO {
		i.Semusz, i.Semaem = int32(len(m.sets)), int32(m.used)
	}
	highest := int32(0)
	for idx := range m.byIdx {
		highest = max(highest, int32(idx))
	}
	return i, highest
}

func (m *model) ipcSet(task int, id int32, uid, gid, mode uint32) sem.Errno {
	s := m.lookup(id)
	switch {
	case s == nil:
		return sem.EINVAL
	case !m.owns(task, s):
		return sem.EPERM
	case uid == ^uint32(0) || gid == ^uint32(0):
		return sem.EINVAL
	}
	s.uid, s.gid, s.mode = uid, gid, mode&0o777
	s.ctime = m.now()
	return 0
}

func (m *model) remove(task int, id int32) sem.Errno {
	s := m.lookup(id)
	switch {
	case s == nil:
		return sem.EINVAL
	case !m.owns(task, s):
		return sem.EPERM
	}
	for _, u := range m.undo {
		delete(u, s.id)
	}
	for _, w := range m.waiters(s, func(*mWaiter) bool { return true }) {
		m.complete(w, sem.EIDRM)
	}
	delete(m.sets, s.id)
	delete(m.byIdx, int(s.id&abi.IPCMNI_IDX_MASK))
	if s.key != abi.IPC_PRIVATE {
		delete(m.keys, s.key)
	}
	m.used -= len(s.vals)
	return 0
}

func (m *model) exit(task int, pid int32) {
	for id, a := range m.undo[task] {
		s := m.sets[id]
		for i, d := range a {
			if d != 0 {
				s.vals[i] = min(max(s.vals[i]+int32(d), 0), abi.SEMVMX)
				s.pids[i] = pid
			}
		}
		m.update(s, nil, true)
	}
	m.undo[task] = map[int32][]int16{}
}

// ---- the driver ----

// chooser is the source of the driver's decisions: a PRNG for the random
// test, the fuzzer's bytes for FuzzModel.
type chooser interface {
	// intn returns a number in [0, n); ok is false when the source is
	// exhausted.
	intn(n int) int
	ok() bool
}

type randChooser struct{ r *rand.Rand }

func (c randChooser) intn(n int) int { return c.r.IntN(n) }
func (c randChooser) ok() bool       { return true }

type byteChooser struct {
	b []byte
	i int
}

func (c *byteChooser) intn(n int) int {
	if c.i >= len(c.b) {
		c.i++
		return 0
	}
	v := int(c.b[c.i])
	c.i++
	if n > 256 {
		if c.i < len(c.b) {
			v = v<<8 | int(c.b[c.i])
			c.i++
		}
	}
	return v % n
}
func (c *byteChooser) ok() bool { return c.i < len(c.b) }

// driverWaiter pairs an engine Waiter with its model twin.
type driverWaiter struct {
	ew       *sem.Waiter
	mw       *mWaiter
	doneRuns int       // Done calls seen for the current wait
	doneErr  sem.Errno // Err seen by Done
	commits  int       // Commit calls seen
}

type driver struct {
	t       testing.TB
	c       chooser
	ns      *sem.Namespace
	clk     *fakeClock
	m       *model
	tasks   []*sem.Task
	ids     []int32 // every id ever returned, plus a few invented ones
	waiters []*driverWaiter
	log     []string
	failed  bool
	commits bool // give blocking calls Commit hooks (model_commit_test.go)
}

func newDriver(t testing.TB, c chooser) *driver {
	clk := newClock(t0)
	creds := []sem.Cred{
		{CapIPCOwner: true, CapSysAdmin: true},
		{EUID: 1000, EGID: 100, FSGID: 100},
		{EUID: 3000, EGID: 300, FSGID: 300, Groups: []uint32{100}},
		{EUID: 2000, EGID: 200, FSGID: 200},
	}
	pids := []int32{101, 102, 103, 104}
	d := &driver{t: t, c: c, ns: sem.NewNamespace(clk), clk: clk, ids: []int32{-1, 0, 1, 2, 64, abi.IPCMNI, abi.IPCMNI + 1}}
	d.m = newModel(clk.Now, creds, pids)
	for i := range creds {
		d.tasks = append(d.tasks, &sem.Task{PID: pids[i], Cred: &creds[i], Undo: new(sem.UndoList)})
	}
	return d
}

func (d *driver) fail(format string, args ...any) {
	if d.failed {
		return
	}
	d.failed = true
	tail := d.log
	if len(tail) > 40 {
		tail = tail[len(tail)-40:]
	}
	d.t.Errorf("%s\nlast steps:\n  %s", fmt.Sprintf(format, args...), strings.Join(tail, "\n  "))
}

func (d *driver) logf(format string, args ...any) {
	d.log = append(d.log, fmt.Sprintf(format, args...))
}

func (d *driver) pick(n int) int { return d.c.intn(n) }

func (d *driver) pickID() int32 {
	live := make([]int32, 0, len(d.m.sets))
	for id := range d.m.sets {
		live = append(live, id)
	}
	slices.Sort(live)
	if len(live) > 0 && d.pick(5) > 0 {
		return live[d.pick(len(live))]
	}
	return d.ids[d.pick(len(d.ids))]
}

func (d *driver) pickSops(id int32, nowaitAll bool) []abi.Sembuf {
	nsems := 3
	if s := d.m.lookup(id); s != nil {
		nsems = len(s.vals)
	}
	n := 1 + d.pick(3)
	if d.pick(40) == 0 {
		n = 0
	}
	sops := make([]abi.Sembuf, n)
	for i := range sops {
		num := d.pick(nsems)
		if d.pick(30) == 0 {
			num = nsems + d.pick(2)
		}
		var op int16
		switch r := d.pick(20); {
		case r < 6:
			op = -1
		case r < 8:
			op = -2
		case r < 12:
			op = 1
		case r < 13:
			op = 2
		case r < 14:
			op = int16([]int{32767, -32768, 20000, -20000}[d.pick(4)])
		default:
			op = 0
		}
		var flg int16
		if d.pick(3) == 0 {
			flg |= abi.SEM_UNDO
		}
		if nowaitAll {
			flg |= abi.IPC_NOWAIT
		}
		sops[i] = abi.Sembuf{SemNum: uint16(num), SemOp: op, SemFlg: flg}
	}
	return sops
}

func (d *driver) checkErr(what string, got, want sem.Errno) {
	if got != want {
		d.fail("%s: engine %s, model %s", what, errName(got), errName(want))
	}
}

// step performs one random call on both sides.
func (d *driver) step() {
	task := d.pick(len(d.tasks))
	tk := d.tasks[task]
	if d.pick(4) == 0 {
		d.clk.Tick()
	}
	switch r := d.pick(100); {
	case r < 8: // semget
		key := []int32{abi.IPC_PRIVATE, 1, 2, 3, -4}[d.pick(5)]
		nsems := []int32{1, 2, 3, 3, 0, -1, 4}[d.pick(7)]
		flg := []int32{0, abi.IPC_CREAT, abi.IPC_CREAT | abi.IPC_EXCL, abi.IPC_EXCL}[d.pick(4)]
		flg |= []int32{0o600, 0o666, 0o640, 0o604, 0o400, 0, 0o060}[d.pick(7)]
		gid, gerr := d.ns.Semget(tk, key, nsems, flg)
		mid, merr := d.m.semget(task, key, nsems, flg)
		d.logf("task %d: semget(%d, %d, %#o) = %d, %s", task, key, nsems, flg, gid, errName(gerr))
		if gid != mid || gerr != merr {
			d.fail("semget(%d, %d, %#o) by %d: engine %d, %s; model %d, %s", key, nsems, flg, task, gid, errName(gerr), mid, errName(merr))
		}
		if gerr == 0 && !slices.Contains(d.ids, gid) {
			d.ids = append(d.ids, gid)
		}
	case r < 40: // a semop that cannot block
		id := d.pickID()
		sops := d.pickSops(id, true)
		var timeout *abi.Timespec
		if d.pick(30) == 0 {
			timeout = &abi.Timespec{Nsec: int64([]int{0, 1, 1e9, -1}[d.pick(4)])}
		}
		if d.pick(50) == 0 {
			sops = make([]abi.Sembuf, d.m.limits.SEMOPM+1)
		}
		blocked, gerr := d.ns.Semtimedop(tk, id, sops, timeout, nil)
		_, merr := d.m.semop(task, id, sops, timeout, nil)
		d.logf("task %d: semop(%d, %v, %v) = %s", task, id, sops, timeout, errName(gerr))
		if blocked {
			d.fail("semop without a Waiter blocked")
		}
		d.checkErr(fmt.Sprintf("semop(%d, %v) by %d", id, sops, task), gerr, merr)
	case r < 55: // a semop that may block
		if len(d.m.pending) >= 12 {
			return
		}
		id := d.pickID()
		sops := d.pickSops(id, false)
		var timeout *abi.Timespec
		if d.pick(10) == 0 {
			timeout = &abi.Timespec{}
		}
		dw := &driverWaiter{mw: &mWaiter{n: len(d.waiters)}}
		dw.ew = &sem.Waiter{Done: func(w *sem.Waiter) { dw.doneRuns++; dw.doneErr = w.Err }}
		if d.commits {
			d.addCommit(dw)
		}
		blocked, gerr := d.ns.Semtimedop(tk, id, sops, timeout, dw.ew)
		mblocked, merr := d.m.semop(task, id, sops, timeout, dw.mw)
		d.logf("task %d: semop(%d, %v, %v) = blocked %v, %s (waiter %d%s)", task, id, sops, timeout, blocked, errName(gerr), dw.mw.n, commitNote(dw.mw))
		if blocked != mblocked || gerr != merr {
			d.fail("blocking semop(%d, %v) by %d: engine %v, %s; model %v, %s", id, sops, task, blocked, errName(gerr), mblocked, errName(merr))
		}
		if dw.commits != dw.mw.commits {
			d.fail("semop(%d, %v) by %d: engine called Commit %d times, model %d", id, sops, task, dw.commits, dw.mw.commits)
		}
		if blocked && mblocked {
			d.waiters = append(d.waiters, dw)
		}
	case r < 62: // cancel a waiter, queued or not
		if len(d.waiters) == 0 {
			return
		}
		dw := d.waiters[d.pick(len(d.waiters))]
		err := []sem.Errno{sem.EINTR, sem.EAGAIN}[d.pick(2)]
		got := d.ns.Cancel(dw.ew, err)
		want := d.m.cancel(dw.mw, err)
		d.logf("cancel waiter %d (%s) = %v", dw.mw.n, errName(err), got)
		if got != want {
			d.fail("Cancel(waiter %d) = %v, model %v", dw.mw.n, got, want)
		}
	case r < 72: // GETVAL, GETPID, GETNCNT, GETZCNT, GETALL
		id := d.pickID()
		if d.pick(5) == 0 {
			gv, gerr := d.ns.GetAll(tk, id, nil)
			mv, merr := d.m.getAll(task, id)
			if !slices.Equal(gv, mv) || gerr != merr {
				d.fail("GETALL(%d) by %d: engine %v, %s; model %v, %s", id, task, gv, errName(gerr), mv, errName(merr))
			}
			return
		}
		cmd := []int32{abi.GETVAL, abi.GETPID, abi.GETNCNT, abi.GETZCNT, abi.SETVAL}[d.pick(5)]
		num := int32(d.pick(4)) - int32(d.pick(2))
		gv, gerr := d.ns.GetOne(tk, id, num, cmd)
		mv, merr := d.m.getOne(task, id, num, cmd)
		if gv != mv || gerr != merr {
			d.fail("semctl(%d, %d, %d) by %d: engine %d, %s; model %d, %s", id, num, cmd, task, gv, errName(gerr), mv, errName(merr))
		}
	case r < 79: // SETVAL
		id := d.pickID()
		num := int32(d.pick(4))
		v := int32([]int{0, 1, 2, 3, 0, 1, 32767, 32768, -1}[d.pick(9)])
		gerr := d.ns.SetVal(tk, id, num, v)
		merr := d.m.setVal(task, id, num, v)
		d.logf("task %d: SETVAL(%d, %d, %d) = %s", task, id, num, v, errName(gerr))
		d.checkErr(fmt.Sprintf("SETVAL(%d, %d, %d) by %d", id, num, v, task), gerr, merr)
	case r < 84: // SETALL
		id := d.pickID()
		vals := []uint16{uint16(d.pick(3)), uint16(d.pick(3)), uint16(d.pick(3)), uint16(d.pick(3))}
		if d.pick(10) == 0 {
			vals[d.pick(4)] = 32768
		}
		gerr := d.ns.SetAll(tk, id, func(n int) ([]uint16, sem.Errno) { return vals[:n], 0 })
		merr := d.m.setAll(task, id, vals)
		d.logf("task %d: SETALL(%d, %v) = %s", task, id, vals, errName(gerr))
		d.checkErr(fmt.Sprintf("SETALL(%d, %v) by %d", id, vals, task), gerr, merr)
	case r < 88: // IPC_STAT, SEM_STAT, SEM_STAT_ANY, IPC_INFO, SEM_INFO
		id := d.pickID()
		if d.pick(4) == 0 {
			cmd := []int32{abi.IPC_INFO, abi.SEM_INFO}[d.pick(2)]
			gi, gres, gerr := d.ns.Info(0, cmd)
			mi, mres := d.m.info(cmd)
			if gi != mi || gres != mres || gerr != 0 {
				d.fail("Info(%d): engine %+v, %d, %s; model %+v, %d", cmd, gi, gres, errName(gerr), mi, mres)
			}
			return
		}
		cmd := []int32{abi.IPC_STAT, abi.SEM_STAT, abi.SEM_STAT_ANY}[d.pick(3)]
		if cmd != abi.IPC_STAT && id >= 0 && d.pick(2) == 0 {
			id &= abi.IPCMNI_IDX_MASK
		}
		gds, gres, gerr := d.ns.Stat(tk, id, cmd)
		mds, mres, merr := d.m.stat(task, id, cmd)
		if gds != mds || gres != mres || gerr != merr {
			d.fail("Stat(%d, %d) by %d: engine %+v, %d, %s; model %+v, %d, %s", id, cmd, task, gds, gres, errName(gerr), mds, mres, errName(merr))
		}
	case r < 91: // IPC_SET
		id := d.pickID()
		uid := []uint32{1000, 2000, 3000, 0, ^uint32(0)}[d.pick(5)]
		gid := []uint32{100, 200, 300, 0}[d.pick(4)]
		mode := []uint32{0o600, 0o666, 0o640, 0o604, 0o1777, 0}[d.pick(6)]
		gerr := d.ns.IPCSet(tk, id, &abi.SemidDS{Perm: abi.IPCPerm{UID: uid, GID: gid, Mode: mode}})
		merr := d.m.ipcSet(task, id, uid, gid, mode)
		d.logf("task %d: IPC_SET(%d, %d, %d, %#o) = %s", task, id, uid, gid, mode, errName(gerr))
		d.checkErr(fmt.Sprintf("IPC_SET(%d) by %d", id, task), gerr, merr)
	case r < 94: // IPC_RMID
		id := d.pickID()
		gerr := d.ns.Remove(tk, id)
		merr := d.m.remove(task, id)
		d.logf("task %d: IPC_RMID(%d) = %s", task, id, errName(gerr))
		d.checkErr(fmt.Sprintf("IPC_RMID(%d) by %d", id, task), gerr, merr)
	case r < 98: // the task exits: its waiters are interrupted, then exit_sem
		for _, dw := range d.waiters {
			if dw.mw.task == task && !dw.mw.done {
				got, want := d.ns.Cancel(dw.ew, sem.EINTR), d.m.cancel(dw.mw, sem.EINTR)
				if got != want {
					d.fail("Cancel(waiter %d) at exit = %v, model %v", dw.mw.n, got, want)
				}
			}
		}
		pid := d.m.pids[task]
		d.ns.ExitUndo(tk.Undo, pid)
		d.m.exit(task, pid)
		d.logf("task %d: exit", task)
	default: // change the limits
		l := sem.DefaultLimits()
		if d.pick(2) == 0 {
			l = sem.Limits{SEMMSL: int32(1 + d.pick(4)), SEMMNS: int32(d.pick(12)), SEMOPM: int32(1 + d.pick(3)), SEMMNI: int32(d.pick(6))}
		}
		gerr := d.ns.SetLimits(l)
		d.m.limits = l
		d.logf("SetLimits(%+v) = %s", l, errName(gerr))
		d.checkErr("SetLimits", gerr, 0)
	}
}

// check compares the whole state: every set, every waiter, every
// adjustment.
func (d *driver) check() {
	snap := d.ns.Snapshot(true)
	if len(snap) != len(d.m.sets) {
		d.fail("engine has %d sets, model %d", len(snap), len(d.m.sets))
		return
	}
	for _, si := range snap {
		s := d.m.sets[si.ID]
		if s == nil {
			d.fail("engine has set %d, model does not", si.ID)
			return
		}
		if si.DS != d.m.ds(s) {
			d.fail("set %d: engine %+v, model %+v", si.ID, si.DS, d.m.ds(s))
		}
		for i := range s.vals {
			n, _ := d.m.getOne(0, s.id, int32(i), abi.GETNCNT)
			z, _ := d.m.getOne(0, s.id, int32(i), abi.GETZCNT)
			if int32(si.Vals[i]) != s.vals[i] || si.Pids[i] != s.pids[i] || si.Ncnt[i] != n || si.Zcnt[i] != z {
				d.fail("set %d sem %d: engine val %d pid %d ncnt %d zcnt %d; model %d %d %d %d",
					si.ID, i, si.Vals[i], si.Pids[i], si.Ncnt[i], si.Zcnt[i], s.vals[i], s.pids[i], n, z)
			}
		}
		for task, tk := range d.tasks {
			got := d.ns.Adjustments(tk.Undo, s.id)
			want := d.m.undo[task][s.id]
			if !slices.Equal(got, want) || (got == nil) != (want == nil) {
				d.fail("task %d, set %d: engine adjustments %v, model %v", task, s.id, got, want)
			}
		}
	}
	for _, dw := range d.waiters {
		mw := dw.mw
		queued := dw.ew.Queued()
		switch {
		case queued != !mw.done:
			d.fail("waiter %d: engine queued %v, model done %v (%s)", mw.n, queued, mw.done, errName(mw.err))
		case mw.done && dw.ew.Err != mw.err:
			d.fail("waiter %d: engine Err %s, model %s", mw.n, errName(dw.ew.Err), errName(mw.err))
		case dw.doneRuns > 1:
			d.fail("waiter %d: Done called %d times", mw.n, dw.doneRuns)
		case dw.commits != mw.commits:
			d.fail("waiter %d: engine called Commit %d times, model %d", mw.n, dw.commits, mw.commits)
		}
	}
	// Forget finished waiters, checking Done was called exactly for the
	// ones completed by someone else.
	d.waiters = slices.DeleteFunc(d.waiters, func(dw *driverWaiter) bool {
		if !dw.mw.done {
			return false
		}
		switch {
		case dw.mw.canceled && dw.doneRuns != 0:
			d.fail("waiter %d was cancelled but Done ran", dw.mw.n)
		case !dw.mw.canceled && (dw.doneRuns != 1 || dw.doneErr != dw.mw.err):
			d.fail("waiter %d completed with %s: Done ran %d times with %s", dw.mw.n, errName(dw.mw.err), dw.doneRuns, errName(dw.doneErr))
		}
		return true
	})
}

// TestModel runs random call sequences against the engine and the model.
func TestModel(t *testing.T) { runModel(t, 0x5eb0, false) }

// FuzzModel is TestModel driven by the fuzzer's bytes.
func FuzzModel(f *testing.F) { fuzzModel(f, 1, false) }

// runModel runs the model's random sequences, seeds drawn from PCG
// stream, with Commit hooks on blocking calls if commits.
func runModel(t *testing.T, stream uint64, commits bool) {
	seeds, steps := 300, 400
	if testing.Short() {
		seeds = 50
	}
	for seed := range seeds {
		d := newDriver(t, randChooser{rand.New(rand.NewPCG(uint64(seed), stream))})
		d.commits = commits
		for i := 0; i < steps && !d.failed; i++ {
			d.step()
			d.check()
		}
		if d.failed {
			t.Logf("seed %d failed", seed)
			return
		}
	}
}

// fuzzModel drives the model with the fuzzer's bytes, its corpus seeded
// from PCG stream, with Commit hooks if commits.
func fuzzModel(f *testing.F, stream uint64, commits bool) {
	f.Add([]byte{8, 0, 0, 0, 1, 2, 3})
	f.Add([]byte("\x00\x05\x00\x01\x01\x00\x00\x00\x30\x01\x00\x00\x00\x00\x01\x45\x00\x00\x00\x01\x00\x00\x00\x00"))
	for seed := range 8 {
		r := rand.New(rand.NewPCG(uint64(seed), stream))
		b := make([]byte, 600)
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > 4000 {
			b = b[:4000]
		}
		c := &byteChooser{b: b}
		d := newDriver(t, c)
		d.commits = commits
		for c.ok() && !d.failed {
			d.step()
			d.check()
		}
	})
}
