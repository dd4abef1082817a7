package sem

import "github.com/sembox/sembox/abi"

// Each method below is one semctl(2) command, with Linux's checks in their
// order. Linux rejects a negative semid before it looks at the command; a
// system-call front end must do that first (a negative id also fails every
// method here with EINVAL).

// Info performs IPC_INFO or SEM_INFO: the namespace's limits, and for
// SEM_INFO its usage (semusz = number of sets, semaem = number of
// semaphores). The result is the highest used index, or 0 if there is no
// set (Linux: semctl_info).
func (ns *Namespace) Info(semid int32, cmd int32) (abi.Seminfo, int32, Errno) {
	if semid < 0 || (cmd != abi.IPC_INFO && cmd != abi.SEM_INFO) {
		return abi.Seminfo{}, -1, EINVAL
	}
	info := abi.Seminfo{
		Semmni: ns.semmni.Load(),
		Semmns: ns.semmns.Load(),
		Semmsl: ns.semmsl.Load(),
		Semopm: ns.semopm.Load(),
		Semvmx: abi.SEMVMX,
		Semmnu: abi.SEMMNU,
		Semmap: abi.SEMMAP,
		Semume: abi.SEMUME,
		Semusz: abi.SEMUSZ,
		Semaem: abi.SEMAEM,
	}
	ns.mu.Lock()
	defer ns.mu.Unlock()
	if cmd == abi.SEM_INFO {
		info.Semusz = int32(ns.inUse)
		info.Semaem = int32(ns.usedSems)
	}
	maxIdx := ns.maxIdx
	switch {
	case ns.inUse == 0:
		maxIdx = 0
	case ns.inUse == abi.IPCMNI:
		maxIdx = abi.IPCMNI - 1
	}
	return info, int32(maxIdx), 0
}

// Stat performs IPC_STAT (semid is a full id; result 0), SEM_STAT and
// SEM_STAT_ANY (semid is an index; result the full id). SEM_STAT_ANY
// skips the read-permission check (Linux: semctl_stat).
func (ns *Namespace) Stat(t *Task, semid int32, cmd int32) (abi.SemidDS, int32, Errno) {
	var s *Set
	switch cmd {
	case abi.IPC_STAT:
		s = ns.lookupCheck(semid)
	case abi.SEM_STAT, abi.SEM_STAT_ANY:
		s = ns.lookup(semid)
	default:
		return abi.SemidDS{}, -1, EINVAL
	}
	if s == nil {
		return abi.SemidDS{}, -1, EINVAL
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if cmd != abi.SEM_STAT_ANY && !s.permitted(t.Cred, abi.S_IRUGO) {
		return abi.SemidDS{}, -1, EACCES
	}
	if s.removed {
		return abi.SemidDS{}, -1, EIDRM
	}
	ds := s.statLocked()
	if cmd == abi.IPC_STAT {
		return ds, 0, 0
	}
	return ds, s.id, 0
}

// statLocked fills a semid64_ds for s.
//
// Precondition: s.mu is held.
func (s *Set) statLocked() abi.SemidDS {
	return abi.SemidDS{
		Perm: abi.IPCPerm{
			Key: s.key, UID: s.uid, GID: s.gid, CUID: s.cuid, CGID: s.cgid,
			Mode: s.mode, Seq: uint16(s.id >> abi.IPCMNI_SEQ_SHIFT),
		},
		Otime: s.otime,
		Ctime: s.ctime,
		Nsems: uint64(len(s.sems)),
	}
}

// IPCSet performs IPC_SET: the owner, the creator or CAP_SYS_ADMIN may
// change the owner uid/gid and the permission bits; sem_ctime is updated
// (Linux: semctl_down and ipc_update_perm).
func (ns *Namespace) IPCSet(t *Task, semid int32, in *abi.SemidDS) Errno {
	return ns.IPCSetCommit(t, semid, in, nil)
}

// Remove performs IPC_RMID: the owner, the creator or CAP_SYS_ADMIN
// removes the set; its undo entries are dropped and every waiter fails
// with EIDRM (Linux: semctl_down and freeary).
func (ns *Namespace) Remove(t *Task, semid int32) Errno {
	return ns.RemoveCommit(t, semid, nil)
}

// destroyLocked marks s removed, drops its undo entries and fails every
// waiter with EIDRM, in the kernel's order.
//
// Precondition: s.mu is held.
func (s *Set) destroyLocked(wake *wakeList) {
	s.removed = true
	s.dropUndosLocked()
	fail := func(l *waitList) {
		for w := l.head; w != nil; {
			next := w.next
			s.unlinkLocked(w)
			wake.add(w, EIDRM)
			w = next
		}
	}
	fail(&s.pendingConst)
	fail(&s.pendingAlter)
	for i := range s.queues {
		fail(&s.queues[i].zero)
		fail(&s.queues[i].alter)
	}
}

// GetOne performs GETVAL, GETPID, GETNCNT or GETZCNT on semaphore semnum
// (Linux: semctl_main).
func (ns *Namespace) GetOne(t *Task, semid int32, semnum int32, cmd int32) (int32, Errno) {
	switch cmd {
	case abi.GETVAL, abi.GETPID, abi.GETNCNT, abi.GETZCNT:
	default:
		return -1, EINVAL
	}
	s := ns.lookupCheck(semid)
	if s == nil {
		return -1, EINVAL
	}
	var wake wakeList
	defer wake.run()
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.permitted(t.Cred, abi.S_IRUGO) {
		return -1, EACCES
	}
	if semnum < 0 || int(semnum) >= len(s.sems) {
		return -1, EINVAL
	}
	if s.removed {
		return -1, EIDRM
	}
	if cmd == abi.GETNCNT || cmd == abi.GETZCNT {
		// A caller that died while waiting is gone from the count at
		// once in Linux (the dying task unlinks itself).
		s.pruneDeadLocked(&wake)
	}
	switch cmd {
	case abi.GETVAL:
		return s.sems[semnum].val, 0
	case abi.GETPID:
		return s.sems[semnum].pid, 0
	case abi.GETNCNT:
		return s.countWaitersLocked(int(semnum), false), 0
	default:
		return s.countWaitersLocked(int(semnum), true), 0
	}
}

// GetAll performs GETALL: it appends every value of the set to dst and
// returns it.
func (ns *Namespace) GetAll(t *Task, semid int32, dst []uint16) ([]uint16, Errno) {
	s := ns.lookupCheck(semid)
	if s == nil {
		return dst, EINVAL
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.permitted(t.Cred, abi.S_IRUGO) {
		return dst, EACCES
	}
	if s.removed {
		return dst, EIDRM
	}
	for i := range s.sems {
		dst = append(dst, uint16(s.sems[i].val))
	}
	return dst, 0
}

// SetAll performs SETALL. After the permission check, load is called with
// the number of semaphores and returns the new values (from the caller's
// memory, where a bad pointer gives EFAULT); values above SEMVMX fail with
// ERANGE. All undo adjustments for the set are cleared, every sempid is
// set to the caller, sem_ctime is updated and waiters that can now proceed
// are woken.
func (ns *Namespace) SetAll(t *Task, semid int32, load func(nsems int) ([]uint16, Errno)) Errno {
	return ns.SetAllCommit(t, semid, load, nil)
}

// SetVal performs SETVAL: the value must be in 0..SEMVMX (ERANGE, checked
// before anything else); every undo adjustment for that semaphore is
// cleared, its sempid is set to the caller, sem_ctime is updated and
// waiters that can now proceed are woken.
func (ns *Namespace) SetVal(t *Task, semid int32, semnum int32, val int32) Errno {
	return ns.SetValCommit(t, semid, semnum, val, nil)
}
