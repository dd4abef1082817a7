package sem

import (
	"slices"
	"sync"
)

// UndoList holds the SEM_UNDO adjustments of one undo owner: a thread
// group, or threads that share System V undo state (Linux: struct
// sem_undo_list). Its zero value is an empty list ready to use.
//
// Lifecycle, which the embedder drives:
//   - a new thread group (fork without CLONE_SYSVSEM) gets a new, empty
//     UndoList: adjustments are not inherited;
//   - threads of a group (CLONE_SYSVSEM) share their group's UndoList;
//   - execve keeps it;
//   - when the last member of the group has exited, the embedder calls
//     Namespace.ExitUndo, which applies and discards the adjustments.
type UndoList struct {
	// mu protects entries and tick. Lock order: Set.mu, then UndoList.mu.
	mu      sync.Mutex
	entries map[int32]*undo // by the full id of the set
	tick    uint64          // use counter for most-recently-used order
}

// undo is the adjustments of one owner for one set (Linux: struct
// sem_undo).
type undo struct {
	set   *Set      // immutable
	owner *UndoList // immutable
	// adj, setPos, dropped and pid are protected by set.mu.
	adj     []int16 // per semaphore: what to add at exit
	setPos  int     // index in set.undos
	dropped bool    // the set was removed (Linux: semid == -1)
	pid     int32   // Task.PID of the last call that used the entry (for Image)
	// lastUse is protected by owner.mu.
	lastUse uint64
}

// findOrAddLocked returns l's entry for s, creating it (Linux:
// find_alloc_undo), and marks it most recently used, since the kernel
// moves a found entry to the head of the owner's list. pid is the
// caller's thread group id, remembered for Namespace.Image.
//
// Precondition: s.mu is held and s is not removed.
func (l *UndoList) findOrAddLocked(s *Set, pid int32) *undo {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.tick++
	if un := l.entries[s.id]; un != nil {
		un.lastUse = l.tick
		un.pid = pid
		return un
	}
	if l.entries == nil {
		l.entries = make(map[int32]*undo)
	}
	un := &undo{set: s, owner: l, adj: make([]int16, len(s.sems)), setPos: len(s.undos), lastUse: l.tick, pid: pid}
	l.entries[s.id] = un
	s.ns.undoEntries.Add(1)
	s.undos = append(s.undos, un)
	return un
}

// dropUndosLocked detaches every undo entry from s (IPC_RMID).
//
// Precondition: s.mu is held.
func (s *Set) dropUndosLocked() {
	for _, un := range s.undos {
		un.dropped = true
		un.owner.mu.Lock()
		if un.owner.entries[s.id] == un {
			delete(un.owner.entries, s.id)
			s.ns.undoEntries.Add(-1)
		}
		un.owner.mu.Unlock()
	}
	s.undos = nil
}

// detachUndoLocked removes un from s's list.
//
// Precondition: s.mu is held.
func (s *Set) detachUndoLocked(un *undo) {
	last := s.undos[len(s.undos)-1]
	s.undos[un.setPos] = last
	last.setPos = un.setPos
	s.undos[len(s.undos)-1] = nil
	s.undos = s.undos[:len(s.undos)-1]
}

// ExitUndo applies the adjustments of an undo owner whose last member has
// exited, and empties l (Linux: exit_sem). For each set, most recently
// used first: every semaphore with a non-zero adjustment gets it added,
// the result clamped to 0..SEMVMX, and its sempid set to pid; then the
// waiters the change allows are woken and sem_otime is set, even if all
// adjustments were zero. It never blocks on a semaphore. pid is the exiting
// thread group's id.
//
// The kernel runs exit_sem when no member can make a semaphore call any
// more; the embedder must give the same guarantee: end the owner's waits
// first (Cancel) and let its calls in progress finish, since an operation
// performed concurrently may keep an adjustment that nobody applies.
// Operations after ExitUndo record into the emptied list again, for a
// later ExitUndo. Concurrent ExitUndo calls on one list apply each
// adjustment once.
func (ns *Namespace) ExitUndo(l *UndoList, pid int32) {
	l.mu.Lock()
	list := make([]*undo, 0, len(l.entries))
	for _, un := range l.entries {
		list = append(list, un)
	}
	l.mu.Unlock()
	slices.SortFunc(list, func(a, b *undo) int {
		switch {
		case a.lastUse > b.lastUse:
			return -1
		case a.lastUse < b.lastUse:
			return 1
		}
		return 0
	})
	for _, un := range list {
		s := un.set
		var wake wakeList
		s.mu.Lock()
		l.mu.Lock()
		// Another ExitUndo of l may have applied un since the snapshot:
		// applying it twice, or detaching it twice, would corrupt the set.
		mine := l.entries[s.id] == un
		if mine {
			delete(l.entries, s.id)
			s.ns.undoEntries.Add(-1)
		}
		l.mu.Unlock()
		if s.removed || un.dropped || !mine {
			s.mu.Unlock()
			continue
		}
		s.detachUndoLocked(un)
		for i, a := range un.adj {
			if a == 0 {
				continue
			}
			v := min(max(s.sems[i].val+int32(a), 0), 32767)
			s.sems[i].val = v
			s.sems[i].pid = pid
		}
		s.smartUpdateLocked(nil, true, &wake)
		s.mu.Unlock()
		wake.run()
	}
}

// Adjustments returns a copy of l's adjustments for the set semid, or nil
// if it has none (for diagnostics such as ipcs -i).
func (ns *Namespace) Adjustments(l *UndoList, semid int32) []int16 {
	l.mu.Lock()
	un := l.entries[semid]
	l.mu.Unlock()
	if un == nil {
		return nil
	}
	un.set.mu.Lock()
	defer un.set.mu.Unlock()
	if un.dropped {
		return nil
	}
	return slices.Clone(un.adj)
}
