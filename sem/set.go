package sem

import (
	"sync"

	"github.com/sembox/sembox/abi"
)

// semaphore is one semaphore of a set: Linux's struct sem without its
// queues, which live apart (Set.queues) so that an idle semaphore costs 8
// bytes.
type semaphore struct {
	val int32 // 0..SEMVMX
	pid int32 // thread group id of the last process that changed or set it
}

// Set is one semaphore set: Linux's struct sem_array.
type Set struct {
	ns  *Namespace
	id  int32 // full id, seq<<15 | index; immutable
	key int32 // immutable

	// mu protects every field below, the waiters on the set's queues and
	// the adjustments of the undo entries attached to the set.
	mu      sync.Mutex
	removed bool // IPC_RMID has run; lookups that raced with it see EIDRM
	uid     uint32
	gid     uint32
	cuid    uint32
	cgid    uint32
	mode    uint32 // permission bits (S_IRWXUGO)
	otime   int64  // time of the last completed semop, 0 if none
	ctime   int64  // time of creation or the last change by semctl
	sems    []semaphore

	// queues holds the per-semaphore queues of single-operation waiters.
	// It is nil until the first such waiter blocks.
	queues []semQueues
	// pendingAlter and pendingConst are the set-wide queues: multi-op
	// waiters, and single-op altering waiters while complexCount > 0.
	pendingAlter waitList
	pendingConst waitList
	complexCount int // queued waiters with more than one operation

	undos []*undo // undo entries of all processes for this set (list_id)

	stats *setStats // nil until the first semop (stats.go)
}

// perm reports whether cred may access s with the rwx bits of flag, as
// the kernel's ipcperms: owner or creator uid selects the owner bits,
// otherwise a matching group selects the group bits; CAP_IPC_OWNER
// overrides.
//
// Precondition: s.mu is held, or the mode cannot change (ns.mu is held).
func (s *Set) permitted(c *Cred, flag int32) bool {
	f := int32(int16(flag)) // ipcperms takes a short
	requested := (f >> 6) | (f >> 3) | f
	granted := s.mode
	if c.EUID == s.cuid || c.EUID == s.uid {
		granted >>= 6
	} else if c.inGroup(s.cgid) || c.inGroup(s.gid) {
		granted >>= 3
	}
	if uint32(requested)&^granted&7 != 0 && !c.CapIPCOwner {
		return false
	}
	return true
}

// ownedBy reports whether cred may IPC_SET or IPC_RMID s
// (Linux: ipcctl_obtain_check).
func (s *Set) ownedBy(c *Cred) bool {
	return c.EUID == s.cuid || c.EUID == s.uid || c.CapSysAdmin
}

// ID returns the set's full id.
func (s *Set) ID() int32 { return s.id }

// Semget returns the id of the set with key, creating it if asked, with
// the checks of Linux's ksys_semget, ipcget and newary in their order.
func (ns *Namespace) Semget(t *Task, key int32, nsems int32, semflg int32) (int32, Errno) {
	return ns.SemgetCommit(t, key, nsems, semflg, nil)
}

// maxSetSems is the largest set Linux's sem_alloc agrees to allocate:
// (INT_MAX - sizeof(struct sem_array)) / sizeof(struct sem), with the
// x86_64 sizes 256 and 64 (both structures are cache-line aligned). A
// larger nsems fails with ENOMEM, after the SEMMNS check.
const maxSetSems = (1<<31 - 1 - 256) / 64

// newSetLocked creates a set (Linux: newary and ipc_addid).
//
// Precondition: ns.mu is held.
func (ns *Namespace) newSetLocked(t *Task, key int32, nsems int32, semflg int32) (int32, Errno) {
	if nsems == 0 {
		return -1, EINVAL
	}
	// The kernel adds in int: a sum past INT_MAX wraps negative and
	// passes, to fail in sem_alloc below.
	if int32(ns.usedSems)+nsems > ns.semmns.Load() {
		return -1, ENOSPC
	}
	if nsems > maxSetSems {
		return -1, ENOMEM
	}
	limit := min(int(ns.semmni.Load()), abi.IPCMNI)
	if ns.inUse >= limit {
		return -1, ENOSPC
	}
	idx := ns.allocIndexLocked()
	if idx < 0 {
		return -1, ENOSPC
	}
	c := t.Cred
	s := &Set{
		ns:    ns,
		id:    int32(ns.seq<<abi.IPCMNI_SEQ_SHIFT | idx),
		key:   key,
		uid:   c.EUID,
		cuid:  c.EUID,
		gid:   c.EGID,
		cgid:  c.EGID,
		mode:  uint32(semflg) & abi.S_IRWXUGO,
		ctime: ns.clock.Now(),
		sems:  make([]semaphore, nsems),
	}
	ns.addLocked(s, idx)
	return s.id, 0
}
