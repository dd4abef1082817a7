package sem

import (
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/sembox/sembox/abi"
)

// Image is a namespace's state at one instant, for checkpoint and
// restore: every set exactly, the id allocator's state and the limits.
// Waiters and undo lists are not part of it: an image is the namespace as
// if every member had exited at that instant (see Namespace.Image).
//
// Namespace.Image produces one; NewNamespaceFromImage builds a namespace
// from one. Package internal/image stores it in a file.
type Image struct {
	// Time is the clock's reading at the instant of the image. It is the
	// sem_otime of the sets an undo owner had an entry for (exit_sem sets
	// it) and is otherwise informational.
	Time   int64
	Limits Limits
	Alloc  AllocState
	// Sets are in index order when Namespace.Image made them; any order
	// is accepted by NewNamespaceFromImage.
	Sets []SetImage
}

// AllocState is the id allocator's state (Linux: ids->last_idx,
// ids->seq and the idr's cyclic cursor idr_next). The rest of it (the
// used indexes, the highest one, the number of sets and semaphores, the
// key table) follows from the sets.
type AllocState struct {
	LastIdx int32 // index handed out last, -1 before the first set
	NextIdx int32 // where the next cyclic search starts; always LastIdx+1
	Seq     int32 // sequence number of new ids, 0..IPCID_SEQ_MAX-1
}

// SetImage is one set of an Image.
type SetImage struct {
	ID   int32 // full id, seq<<15 | index
	Key  int32
	Mode uint32 // permission bits (0777)
	UID  uint32
	GID  uint32
	CUID uint32
	CGID uint32
	// Otime and Ctime are sem_otime and sem_ctime.
	Otime int64
	Ctime int64
	// Vals and Pids have one entry per semaphore (len = nsems): the value
	// (0..SEMVMX) and sempid.
	Vals []uint16
	Pids []int32
}

// UndoOwner names a live undo owner for Namespace.Image: its list and
// the thread group id that its exit would record as sempid.
type UndoOwner struct {
	List *UndoList
	PID  int32
}

// ImageStats describes how an image was taken.
type ImageStats struct {
	Sets        int // sets in the image
	Sems        int // semaphores in the image
	UndoEntries int // undo entries folded into the values
	Unlisted    int // of which whose owner was not in the owners given
	// NSLocked is how long the namespace lock was held: semget, IPC_RMID
	// and IPC_SET waited at most this long.
	NSLocked time.Duration
	// Pause is how long the sets were locked, from the first set lock
	// taken to the last released: a semop, semctl or exit waited at
	// most this long.
	Pause time.Duration
}

// Image returns the namespace's state at one instant, as if every undo
// owner had exited at that instant, without changing the namespace.
//
// Consistency: the namespace lock is held throughout (no set is created
// or removed, no IPC_SET runs) and every set's lock is taken, in index
// order, and kept until the last set has been copied, so the image is the
// state at the instant the last lock was taken: no set is torn, no
// semop is half applied, and no state that never existed (a later call's
// effect without an earlier one's) can appear. The locks are held only
// while the values are copied; see ImageStats.Pause.
//
// Undo: the image's values are those after every undo owner that has an
// entry for a set of the namespace had exited at the instant of the
// image, by Linux's exit_sem rules as ExitUndo applies them: each
// adjustment is added and the result clamped to 0..SEMVMX, the sempid of
// every semaphore with a non-zero adjustment becomes the owner's pid, and
// sem_otime becomes Image.Time for every set the owner had an entry for.
// The waiters are not saved (their callers are gone, as in a real exit)
// and so wake nobody. The live namespace and the undo lists are not
// changed.
//
// On one set the result depends on the order of the exits (clamping):
// the owners listed in owners exit first, in their order, with their
// PID; an owner with an entry that is not listed exits after them, in
// the order its entries were attached to the set, with the Task.PID of
// the last call that used the entry (ImageStats.Unlisted counts those
// entries). owners may be nil. Entries for sets of other namespaces are
// ignored.
func (ns *Namespace) Image(owners []UndoOwner) (*Image, ImageStats) {
	var st ImageStats
	rank := make(map[*UndoList]int, len(owners))
	for i, o := range owners {
		if _, dup := rank[o.List]; !dup && o.List != nil {
			rank[o.List] = i
		}
	}

	nsStart := time.Now()
	ns.mu.Lock()
	img := &Image{
		Limits: ns.Limits(),
		Alloc:  AllocState{LastIdx: int32(ns.lastIdx), NextIdx: int32(ns.nextIdx), Seq: int32(ns.seq)},
		Sets:   make([]SetImage, ns.inUse),
	}
	// Allocate before any set is locked, and write to the memory so that
	// it is paged in: the pause is the copy only.
	locked := make([]*Set, 0, ns.inUse)
	vals := make([]uint16, ns.usedSems)
	pids := make([]int32, ns.usedSems)
	clear(img.Sets)
	clear(vals)
	clear(pids)
	for idx := 0; idx <= ns.maxIdx; idx++ {
		if s := ns.slots[idx].Load(); s != nil {
			locked = append(locked, s)
		}
	}

	var folds []fold
	pauseStart := time.Now()
	img.Time = ns.clock.Now()
	off := 0
	for k, s := range locked {
		s.mu.Lock()
		n := len(s.sems)
		si := &img.Sets[k]
		*si = SetImage{
			ID: s.id, Key: s.key, Mode: s.mode,
			UID: s.uid, GID: s.gid, CUID: s.cuid, CGID: s.cgid,
			Otime: s.otime, Ctime: s.ctime,
			Vals: vals[off : off+n : off+n],
			Pids: pids[off : off+n : off+n],
		}
		off += n
		for i, x := range s.sems {
			si.Vals[i] = uint16(x.val)
			si.Pids[i] = x.pid
		}
		if len(s.undos) > 0 {
			folds = folds[:0]
			for pos, un := range s.undos {
				r, ok := rank[un.owner]
				pid := un.pid
				if ok {
					pid = owners[r].PID
				} else {
					r = len(owners) + pos
					st.Unlisted++
				}
				folds = append(folds, fold{rank: r, pid: pid, adj: un.adj})
			}
			st.UndoEntries += len(folds)
			foldUndos(si, folds, img.Time)
		}
	}
	for _, s := range locked {
		s.mu.Unlock()
	}
	st.Pause = time.Since(pauseStart)
	ns.mu.Unlock()
	st.NSLocked = time.Since(nsStart)
	st.Sets, st.Sems = len(img.Sets), off
	return img, st
}

// fold is one undo entry to apply to a set's image.
type fold struct {
	rank int
	pid  int32
	adj  []int16
}

// foldUndos applies the entries to si in rank order with exit_sem's rules
// (as ExitUndo does).
func foldUndos(si *SetImage, folds []fold, now int64) {
	if len(folds) > 1 {
		slices.SortFunc(folds, func(a, b fold) int { return a.rank - b.rank })
	}
	for _, f := range folds {
		for i, a := range f.adj {
			if a == 0 {
				continue
			}
			si.Vals[i] = uint16(min(max(int32(si.Vals[i])+int32(a), 0), abi.SEMVMX))
			si.Pids[i] = f.pid
		}
	}
	si.Otime = now
}

// ImageError is a reason an Image is refused. Set is the position of the
// set in Image.Sets, or -1 for the image as a whole.
type ImageError struct {
	Set int
	ID  int32
	Msg string
}

func (e *ImageError) Error() string {
	if e.Set < 0 {
		return e.Msg
	}
	return fmt.Sprintf("set %d (id %d): %s", e.Set, e.ID, e.Msg)
}

// MaxSetSems is the largest nsems a set can have: the largest set Linux's
// sem_alloc agrees to allocate. A set can be larger than SEMMSL, since
// the limits may be lowered after it was created.
const MaxSetSems = maxSetSems

// MaxTotalSems is the most semaphores a namespace can hold: Linux counts
// them in an int, and a creation that would pass INT_MAX fails.
const MaxTotalSems = math.MaxInt32

// Validate checks that img is a state a namespace can be in, and returns
// an *ImageError naming the first problem:
//   - limits: SEMMNI in 0..IPCMNI (what SetLimits accepts; the other
//     three may be any value);
//   - allocator: Seq in 0..IPCID_SEQ_MAX-1, LastIdx in -1..IPCMNI-1,
//     NextIdx = LastIdx+1, no set and Seq 0 before the first allocation,
//     and the set at LastIdx, if any, carries the sequence number Seq (it
//     was the last one allocated);
//   - at most IPCMNI sets, ids and their indexes unique, keys other than
//     IPC_PRIVATE unique, a non-negative id whose sequence number is below
//     IPCID_SEQ_MAX;
//   - per set: mode within 0777, 1..MaxSetSems semaphores (len(Vals) ==
//     len(Pids)), values at most SEMVMX; at most MaxTotalSems in all.
//
// Owners, pids and times may be any value. Sets larger than SEMMSL, more
// semaphores than SEMMNS or more sets than SEMMNI are accepted: Linux
// allows lowering the limits below what is in use.
func (img *Image) Validate() error {
	bad := func(format string, args ...any) error {
		return &ImageError{Set: -1, Msg: fmt.Sprintf(format, args...)}
	}
	l := img.Limits
	if l.SEMMNI < 0 || l.SEMMNI > abi.IPCMNI {
		return bad("SEMMNI %d outside 0..%d", l.SEMMNI, abi.IPCMNI)
	}
	a := img.Alloc
	switch {
	case a.Seq < 0 || a.Seq >= abi.IPCID_SEQ_MAX:
		return bad("allocator sequence number %d outside 0..%d", a.Seq, abi.IPCID_SEQ_MAX-1)
	case a.LastIdx < -1 || a.LastIdx >= abi.IPCMNI:
		return bad("allocator last index %d outside -1..%d", a.LastIdx, abi.IPCMNI-1)
	case a.NextIdx != a.LastIdx+1:
		return bad("allocator next index %d is not last index %d + 1", a.NextIdx, a.LastIdx)
	case a.LastIdx == -1 && (len(img.Sets) != 0 || a.Seq != 0):
		return bad("allocator has allocated nothing (last index -1) but %d sets exist and the sequence number is %d", len(img.Sets), a.Seq)
	}
	if len(img.Sets) > abi.IPCMNI {
		return bad("%d sets, more than %d", len(img.Sets), abi.IPCMNI)
	}
	var byIdx [abi.IPCMNI]int32 // position+1 of the set at each index
	keys := make(map[int32]int, len(img.Sets))
	total := int64(0)
	for i := range img.Sets {
		s := &img.Sets[i]
		bad := func(format string, args ...any) error {
			return &ImageError{Set: i, ID: s.ID, Msg: fmt.Sprintf(format, args...)}
		}
		if s.ID < 0 {
			return bad("negative id")
		}
		idx, seq := s.ID&abi.IPCMNI_IDX_MASK, s.ID>>abi.IPCMNI_SEQ_SHIFT
		if seq >= abi.IPCID_SEQ_MAX {
			return bad("sequence number %d above %d", seq, abi.IPCID_SEQ_MAX-1)
		}
		if j := byIdx[idx]; j != 0 {
			o := &img.Sets[j-1]
			if o.ID == s.ID {
				return bad("duplicate id (also set %d)", j-1)
			}
			return bad("index %d also used by set %d (id %d)", idx, j-1, o.ID)
		}
		byIdx[idx] = int32(i + 1)
		if idx == a.LastIdx && seq != a.Seq {
			return bad("sequence number %d at the last allocated index, but the allocator's is %d", seq, a.Seq)
		}
		if s.Key != abi.IPC_PRIVATE {
			if j, dup := keys[s.Key]; dup {
				return bad("duplicate key %d (also set %d, id %d)", s.Key, j, img.Sets[j].ID)
			}
			keys[s.Key] = i
		}
		if s.Mode&^abi.S_IRWXUGO != 0 {
			return bad("mode %#o has bits outside 0777", s.Mode)
		}
		n := len(s.Vals)
		if n != len(s.Pids) {
			return bad("%d values but %d pids", n, len(s.Pids))
		}
		if n < 1 || n > MaxSetSems {
			return bad("nsems %d outside 1..%d", n, MaxSetSems)
		}
		total += int64(n)
		if total > MaxTotalSems {
			return bad("more than %d semaphores in all", MaxTotalSems)
		}
		for j, v := range s.Vals {
			if v > abi.SEMVMX {
				return bad("semaphore %d: value %d above SEMVMX (%d)", j, v, abi.SEMVMX)
			}
		}
	}
	return nil
}

// NewNamespaceFromImage returns a namespace in the state img describes,
// with no waiter and no undo entry, after checking img with Validate. The
// namespace then behaves as the one imaged would have after all its undo
// owners exited: the same sets, values, pids, times and permissions, and
// the same ids for the sets created next. clock is as for NewNamespace.
func NewNamespaceFromImage(img *Image, clock Clock) (*Namespace, error) {
	if err := img.Validate(); err != nil {
		return nil, err
	}
	ns := NewNamespace(clock)
	ns.storeLimits(img.Limits)
	ns.mu.Lock()
	defer ns.mu.Unlock()
	for i := range img.Sets {
		si := &img.Sets[i]
		s := &Set{
			ns: ns, id: si.ID, key: si.Key, mode: si.Mode,
			uid: si.UID, gid: si.GID, cuid: si.CUID, cgid: si.CGID,
			otime: si.Otime, ctime: si.Ctime,
			sems: make([]semaphore, len(si.Vals)),
		}
		for j := range s.sems {
			s.sems[j] = semaphore{val: int32(si.Vals[j]), pid: si.Pids[j]}
		}
		ns.addLocked(s, int(si.ID&abi.IPCMNI_IDX_MASK))
	}
	ns.lastIdx = int(img.Alloc.LastIdx)
	ns.nextIdx = int(img.Alloc.NextIdx)
	ns.seq = int(img.Alloc.Seq)
	return ns, nil
}
