// Package sem is a System V semaphore engine with Linux's semantics, in
// pure Go and with no system calls: the caller passes in who is calling
// and the time comes from an injected Clock. It is what `sembox run`
// serves trapped semget, semop, semtimedop and semctl calls from, and it
// can be embedded by any Go sandbox or library OS.
//
// # Model
//
// A Namespace is one IPC namespace's semaphores: its run-time limits
// (SEMMSL, SEMMNS, SEMOPM, SEMMNI; Linux's defaults), an id allocator
// that hands out the same ids as the kernel for the same call sequence
// (seq<<15 | index, cyclic index allocation in a window of
// max(64, 3/2 × sets in use), the sequence number bumped when the index
// does not grow), a key table, and the sets.
//
// A Set holds its semaphores (8 bytes each), its permissions and times,
// and its queues of blocked callers. As in Linux there are two kinds of
// queue: per-semaphore queues for callers with a single operation
// (allocated the first time one blocks), and set-wide queues for callers
// with several operations; single-operation callers that change a value
// go to the set-wide queue while multi-operation callers are queued, and
// the first multi-operation caller merges the per-semaphore queues into
// it. When a value changes, the engine wakes wait-for-zero callers first,
// then altering callers in FIFO order, and performs each woken caller's
// operation itself, so the sleeper never retries; this follows
// do_smart_update, update_queue and wake_const_ops in ipc/sem.c, and a
// wake-up costs in proportion to the callers it looks at, not to all
// callers of the set.
//
// A blocked call is a Waiter the caller owns. It ends when another call
// completes it (Done is called, with no engine lock held), when the set
// is removed (EIDRM), or when the caller gives up with Cancel (EINTR for
// a signal, EAGAIN for a timeout); Cancel and completion are decided
// under the set's lock, so exactly one of them wins and an update is
// never lost or applied twice.
//
// A Waiter may carry a Commit hook, for callers whose result can fail to
// be delivered after it was decided (a trapped call whose answer the
// kernel refuses because a signal ended its wait, Linux < 5.19). The
// engine calls it under the set's lock when the call succeeds, its own
// call or a completion on its behalf, before anything else can see the
// result; if it returns false, the operations are taken back exactly and
// the call ends with EINTR, as if it had never been queued.
//
// An UndoList is an undo owner: the SEM_UNDO adjustments of a thread group
// (threads share it; a forked child gets a new one; execve keeps it).
// ExitUndo applies it when the owner's last member has exited, as
// exit_sem does: adjustments are added, values clamped to 0..SEMVMX,
// sempid and sem_otime set, waiters woken, and it never blocks. The
// embedder must order it after the owner's last call, as the kernel's
// exit does (sembox holds a per-group lock across both); UndoInUse tells
// whether any undo entry exists at all, so an embedder can skip exit
// bookkeeping when none does.
//
// Every entry point applies Linux's checks in Linux's order, including
// where the kernel reads the caller's memory in between: package semsys
// wraps the engine with the x86_64 system-call argument conventions and a
// Memory interface, so a bad pointer gives EFAULT exactly where the kernel
// gives it.
//
// # Checkpoint and restore
//
// Namespace.Image takes an Image: every set exactly (id, key, owners,
// mode, values, sempids, times), the id allocator's state and the limits,
// at one instant (the namespace lock and every set's lock are held
// together while the values are copied). It is the namespace as if every
// undo owner had exited at that instant: their SEM_UNDO adjustments are
// applied to the image with exit_sem's rules (clamped to 0..SEMVMX,
// sempid set to the owner's pid, sem_otime to the image's time), not to
// the live namespace; waiters are not saved. NewNamespaceFromImage
// validates an Image and builds a namespace that continues exactly where
// the imaged one would have, ids included. Package internal/image stores
// images in files.
//
// # Statistics
//
// Namespace.Stats returns, per set since its creation, what its semop
// calls did: performed at once, failed at once or blocked; how blocked
// calls' waits ended (completed, EINTR, EAGAIN, EIDRM) and how long they
// lasted (sum, max, a log2 histogram); the calls waiting now; and per
// semaphore its operations and the calls that blocked on it. Sets
// removed so far are summed apart, so namespace totals never decrease.
// Counters are allocated at a set's first semop (8 bytes per semaphore)
// and first blocked call (64 bytes per semaphore), and cost the
// uncontended path a few increments under the lock it holds; wait times
// come from the Clock if it is also a MonoClock (stats.go).
//
// # Locking
//
// There is no global lock on the semop path: a set is found through a
// lock-free index table and its own mutex serialises its operations.
// Namespace.mu serialises creation, removal and IPC_SET (the kernel's
// ids rwsem). Lock order: Namespace.mu, Set.mu, UndoList.mu. Only
// Namespace.Image holds several set locks at once: with Namespace.mu
// held, in index order.
//
// # Where it deliberately differs from Linux
//
//   - sem_otime is kept per set, where Linux keeps one per semaphore and
//     reports their maximum: the same value unless the wall clock steps
//     backwards.
//   - A semtimedop with a zero timeout that would block fails with EAGAIN
//     without being queued; Linux queues it and its timer expires at once,
//     which only a concurrent GETNCNT could observe.
//   - A Waiter may carry an Alive callback: a caller that has died while
//     queued is dropped instead of being granted the semaphore. Linux has
//     the same guarantee through the dying task removing itself.
//   - Writing /proc/sys/kernel/sem (WriteProcSysKernelSem) accepts
//     negative SEMMSL, SEMMNS and SEMOPM as the kernel does; only SEMMNI is
//     range-checked.
package sem
