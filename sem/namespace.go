package sem

import (
	"math/bits"
	"sync"
	"sync/atomic"

	"github.com/sembox/sembox/abi"
)

// Namespace is one System V semaphore namespace: Linux's struct
// ipc_namespace restricted to semaphores. Its zero value is not usable;
// call NewNamespace.
type Namespace struct {
	clock Clock
	mono  MonoClock // wait times of the statistics (stats.go)

	// The limits are read without a lock on the semop path, like the
	// kernel's ns->sc_sem*; they change only through SetLimits.
	semmsl, semmns, semopm, semmni atomic.Int32

	// slots maps an id's index to its set. Entries are written with mu
	// held and read without it: a reader that finds a set locks it and
	// checks Set.removed, like the kernel's RCU lookup.
	slots [abi.IPCMNI]atomic.Pointer[Set]

	// mu protects the id allocator, the key table and the counters below
	// (Linux: sem_ids(ns).rwsem). Lock order: Namespace.mu, Set.mu,
	// UndoList.mu.
	mu       sync.Mutex
	occupied [abi.IPCMNI / 64]uint64 // bitmap of used indexes
	keys     map[int32]*Set          // sets with a key other than IPC_PRIVATE
	inUse    int                     // number of sets
	maxIdx   int                     // highest used index, -1 if none
	lastIdx  int                     // index handed out last, -1 at start
	nextIdx  int                     // where the cyclic search starts (idr_next)
	seq      int                     // sequence number of new ids
	usedSems int64                   // semaphores in all sets

	// undoEntries counts the undo entries (one per owner and set) that
	// the namespace's sets have; see UndoInUse.
	undoEntries atomic.Int64

	removed removedStats // counters of removed sets (stats.go); under mu
}

// UndoInUse reports whether any undo owner holds an entry for a set of
// the namespace, that is, whether applying some owner's undo list
// (ExitUndo) could change anything here. It is a single atomic load, for
// embedders that want to skip exit bookkeeping on their hot path.
func (ns *Namespace) UndoInUse() bool { return ns.undoEntries.Load() != 0 }

// NewNamespace returns an empty namespace with Linux's default limits.
// If clock is also a MonoClock, the statistics' wait times come from it.
func NewNamespace(clock Clock) *Namespace {
	if clock == nil {
		clock = SystemClock{}
	}
	ns := &Namespace{
		clock:   clock,
		mono:    monoClockOf(clock),
		keys:    make(map[int32]*Set),
		maxIdx:  -1,
		lastIdx: -1,
	}
	ns.storeLimits(DefaultLimits())
	return ns
}

// DefaultLimits are the limits of a fresh Linux IPC namespace.
func DefaultLimits() Limits {
	return Limits{SEMMSL: abi.SEMMSL, SEMMNS: abi.SEMMNS, SEMOPM: abi.SEMOPM, SEMMNI: abi.SEMMNI}
}

// Limits returns the current limits.
func (ns *Namespace) Limits() Limits {
	return Limits{SEMMSL: ns.semmsl.Load(), SEMMNS: ns.semmns.Load(),
		SEMOPM: ns.semopm.Load(), SEMMNI: ns.semmni.Load()}
}

func (ns *Namespace) storeLimits(l Limits) {
	ns.semmsl.Store(l.SEMMSL)
	ns.semmns.Store(l.SEMMNS)
	ns.semopm.Store(l.SEMOPM)
	ns.semmni.Store(l.SEMMNI)
}

// SetLimits replaces the limits with the kernel's validation for writes to
// /proc/sys/kernel/sem: any value is accepted except an SEMMNI outside
// 0..IPCMNI, which is rejected with ERANGE and leaves the old SEMMNI in
// place while the other three still take the new values.
func (ns *Namespace) SetLimits(l Limits) Errno {
	old := ns.semmni.Load()
	ns.storeLimits(l)
	if l.SEMMNI < 0 || l.SEMMNI > abi.IPCMNI {
		ns.semmni.Store(old)
		return ERANGE
	}
	return 0
}

// lookup returns the set at id's index, or nil. It does not check the
// sequence number (Linux: ipc_obtain_object_idr).
func (ns *Namespace) lookup(id int32) *Set {
	if id < 0 {
		return nil
	}
	return ns.slots[id&abi.IPCMNI_IDX_MASK].Load()
}

// lookupCheck returns the set whose full id is id, or nil if there is
// none or the sequence number is stale (Linux: ipc_obtain_object_check).
func (ns *Namespace) lookupCheck(id int32) *Set {
	s := ns.lookup(id)
	if s == nil || s.id != id {
		return nil
	}
	return s
}

// allocIndexLocked picks the index of a new set exactly as the kernel's
// ipc_idr_alloc and idr_alloc_cyclic do, and advances the sequence number
// when the index does not grow. It returns -1 if no index is free in the
// current window.
//
// Precondition: ns.mu is held.
func (ns *Namespace) allocIndexLocked() int {
	window := max(ns.inUse*3/2, abi.IPC_MIN_CYCLE)
	window = min(window, abi.IPCMNI)
	idx := ns.findFreeLocked(ns.nextIdx, window)
	if idx < 0 && ns.nextIdx > 0 {
		idx = ns.findFreeLocked(0, window)
	}
	if idx < 0 {
		return -1
	}
	ns.nextIdx = idx + 1
	if idx <= ns.lastIdx {
		ns.seq++
		if ns.seq >= abi.IPCID_SEQ_MAX {
			ns.seq = 0
		}
	}
	ns.lastIdx = idx
	return idx
}

// findFreeLocked returns the lowest unused index in [from, to), or -1.
//
// Precondition: ns.mu is held.
func (ns *Namespace) findFreeLocked(from, to int) int {
	for i := from; i < to; {
		word := ^ns.occupied[i/64] >> (i % 64)
		if word == 0 {
			i = (i/64 + 1) * 64
			continue
		}
		i += bits.TrailingZeros64(word)
		if i < to {
			return i
		}
		return -1
	}
	return -1
}

// highestUsedLocked returns the highest used index at or below from, or -1
// (Linux: ipc_search_maxidx).
//
// Precondition: ns.mu is held.
func (ns *Namespace) highestUsedLocked(from int) int {
	for i := from; i >= 0; {
		word := ns.occupied[i/64] << (63 - i%64)
		if word == 0 {
			i = (i/64)*64 - 1
			continue
		}
		return i - bits.LeadingZeros64(word)
	}
	return -1
}

// addLocked publishes s at index idx.
//
// Precondition: ns.mu is held and idx came from allocIndexLocked.
func (ns *Namespace) addLocked(s *Set, idx int) {
	ns.occupied[idx/64] |= 1 << (idx % 64)
	if s.key != abi.IPC_PRIVATE {
		ns.keys[s.key] = s
	}
	ns.inUse++
	ns.maxIdx = max(ns.maxIdx, idx)
	ns.usedSems += int64(len(s.sems))
	ns.slots[idx].Store(s)
}

// removeLocked unpublishes s (Linux: sem_rmid and the used_sems update of
// freeary).
//
// Precondition: ns.mu and s.mu are held.
func (ns *Namespace) removeLocked(s *Set) {
	idx := int(s.id & abi.IPCMNI_IDX_MASK)
	ns.slots[idx].Store(nil)
	ns.occupied[idx/64] &^= 1 << (idx % 64)
	if s.key != abi.IPC_PRIVATE {
		delete(ns.keys, s.key)
	}
	ns.inUse--
	if idx == ns.maxIdx {
		ns.maxIdx = ns.highestUsedLocked(idx - 1)
	}
	ns.usedSems -= int64(len(s.sems))
	ns.foldRemovedLocked(s)
}
