package supervisor

import (
	"errors"
	"fmt"
	"io"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sembox/sembox/abi"
	"github.com/sembox/sembox/internal/seccomp"
	"github.com/sembox/sembox/internal/semsys"
	"github.com/sembox/sembox/sem"
)

// pidfdThread is PIDFD_THREAD (Linux 6.9): a pidfd for one thread.
const pidfdThread = unix.O_EXCL

// CredentialSyscalls are the native system calls after which a thread's
// identity may have changed. The filter must trap them (with
// NamespaceSyscalls) in addition to the semaphore calls; the supervisor
// lets them continue.
var CredentialSyscalls = []int{
	unix.SYS_SETUID, unix.SYS_SETGID, unix.SYS_SETREUID, unix.SYS_SETREGID,
	unix.SYS_SETRESUID, unix.SYS_SETRESGID, unix.SYS_SETFSUID, unix.SYS_SETFSGID,
	unix.SYS_SETGROUPS, unix.SYS_CAPSET, unix.SYS_EXECVE, unix.SYS_EXECVEAT,
}

// NamespaceSyscalls are trapped because unshare(CLONE_SYSVSEM) and
// unshare(CLONE_NEWIPC) detach the caller from its undo list, which the
// kernel then applies, and because a new user namespace (unshare or
// setns) takes away the caller's capabilities over the sandbox's sets.
var NamespaceSyscalls = []int{unix.SYS_UNSHARE, unix.SYS_SETNS}

// ExtraNotify lists every system call besides the semaphore calls that
// the filter must trap for this supervisor.
func ExtraNotify(procViews bool) []int {
	extra := append([]int(nil), CredentialSyscalls...)
	extra = append(extra, NamespaceSyscalls...)
	extra = append(extra, SignalSyscalls...)
	extra = append(extra, TimerSyscalls...)
	if procViews {
		extra = append(extra, OpenSyscalls...)
	}
	return extra
}

// Config configures a Supervisor.
type Config struct {
	Listener  int            // the seccomp listener fd
	Namespace *sem.Namespace // the namespace that serves the sandbox
	Clock     sem.Clock      // for namespaces made by unshare(CLONE_NEWIPC); nil: the system clock
	Trace     io.Writer      // one line per served call, or nil
	Workers   int            // worker threads (one receives at a time); 0 means GOMAXPROCS+1
	// Floor makes the supervisor answer every semaphore call with 0
	// without looking at it: the bare trap-and-answer cost, for
	// benchmarks only.
	Floor bool
	// MeasureRecvWindow records how long stamped semop calls waited to be
	// received (see recvWindow), for benchmarks only.
	MeasureRecvWindow bool
	// Features are the optional kernel features to use where present;
	// nil means those FeaturesFromEnv leaves on.
	Features *Features
	// Signals, if set, learns of the signals the sandbox sends, for every
	// supervisor of the namespace; else only this one looks.
	Signals SignalRouter
	// Order, if set, is shared with the other supervisors of the
	// namespace, so that calls take effect in the order of receipt across
	// them (see ArrivalOrder).
	Order *ArrivalOrder
}

// Supervisor serves one sandbox's semaphore calls.
type Supervisor struct {
	fd    int
	ns    *sem.Namespace
	trace *tracer
	epfd  int

	threads sync.Map // int32 tid → *thread
	procs   sync.Map // int32 tgid → *process

	// turn holds the right to receive while no worker has it: exactly one
	// worker at a time waits in the listener's receive (see worker).
	// standby counts the workers waiting for it, nworkers all workers.
	turn     chan struct{}
	standby  atomic.Int32
	nworkers atomic.Int32
	closing  atomic.Bool // the sandbox is gone: workers are returning

	// Teardown (see stop.go): stop ends the watchers, evfd wakes the exit
	// watcher, exitsDone is closed when it has returned, done once
	// everything is released. fdsMu is held for reading while epfd is
	// used outside the watcher and the workers, and for writing while the
	// descriptors are closed.
	stop      chan struct{}
	evfd      int
	exitsDone chan struct{}
	done      chan struct{}
	fdsMu     sync.RWMutex
	fdsClosed bool // protected by fdsMu

	// lastID is the id of the notification received last, protected by
	// the receive turn. The kernel numbers notifications consecutively,
	// so a gap after it counts calls that were cut short by a signal
	// before anyone received them (see cutShort).
	lastID uint64
	cut    cutShort

	// order makes the engine steps follow the order of receipt
	// (Config.Order, or the supervisor's own).
	order *ArrivalOrder

	// mu protects parked and every call's parking fields.
	mu     sync.Mutex
	parked parkHeap
	kick   chan struct{} // wakes the watcher when parked changes (without a sleeper)
	// timerUntil is when the watcher, waiting on a Go timer, will wake by
	// itself (a now() value); 0 while it does not wait on one. Stored
	// under mu as the watcher plans its wait: a call parked after that
	// and due earlier kicks it (see kickWatcher).
	timerUntil atomic.Int64
	// nprocs is GOMAXPROCS when the supervisor started (see watchParked).
	nprocs int
	// lastLook is when a worker last looked at a signal's targets itself
	// (a now() value; see lookGap).
	lastLook atomic.Int64
	// sleeper is what the watcher sleeps on, to the microsecond; nil if
	// it could not be made (then the watcher uses Go timers and kick).
	sleeper *sleeper
	// pollCost is the watcher's cost of one signal check, in ns (an
	// average over its recent passes); it sets how often parked calls
	// are polled (pollCapLocked).
	pollCost atomic.Int64

	clock sem.Clock

	// nsByTgid maps the thread groups that made a new IPC namespace with
	// unshare(CLONE_NEWIPC) to it; kept after they exit, for descendants
	// registering later. nested counts them: 0 means every process uses ns.
	nsByTgid sync.Map // int32 → *sem.Namespace
	nested   atomic.Int32

	// pidNames maps a thread group id to its ids in nested pid
	// namespaces (NStgid), kept after it exits, for GETPID.
	pidNames sync.Map // int32 → []int32

	// owners maps each namespace to the user namespace that owns it
	// (the inode of its ns/user link): capabilities count over a
	// namespace only for tasks in its owner, as the kernel's
	// ns_capable(ns->user_ns, ...) for the tasks a sandbox can hold
	// (they are in the owner or in a descendant of it, where they have
	// no capability over it). 0: unknown, capabilities are taken as read.
	owners sync.Map // *sem.Namespace → uint64

	// inflight counts the calls received and not yet served or parked;
	// nparked the calls parked. With nothing else in flight, nothing
	// parked and no undo entry, an exit changes nothing a call could see
	// (see reapExits).
	inflight atomic.Int32
	nparked  atomic.Int32

	features Features     // the optional kernel features in use
	signals  SignalRouter // Config.Signals
	timers   timers       // timers armed inside the sandbox (timers.go)

	// sendHook and validHook, if set, replace the listener for answers
	// and for the validity of parked calls (tests).
	sendHook  func(r *seccomp.NotifResp) error
	validHook func(id uint64) error
	// checkHook, if set, is called by the watcher as it is about to look
	// at a parked call (tests).
	checkHook func(c *call)

	served atomic.Uint64 // semaphore calls answered
	floor  bool          // answer without serving (Config.Floor)
	window *recvWindow   // nil unless Config.MeasureRecvWindow

	// writers are read ends of pipes handed out for writes to
	// /proc/sys/kernel/sem, applied once their writers close them.
	writersMu sync.Mutex
	writers   []limitsWriter
	nwriters  atomic.Int32
}

// thread is a trapped thread as the supervisor knows it.
type thread struct {
	tid   int32
	proc  *process
	pidfd int // -1 if the kernel has no thread pidfds

	// serving is held by the worker serving the thread's call (see
	// worker.thread). A thread makes one system call at a time, so it is
	// never contended; it makes the hand-over of the fields below from
	// one worker to the next explicit (the kernel orders them, through
	// the answer and the next trap, but the race detector cannot see
	// that).
	serving sync.Mutex
	task    sem.Task
	cred    sem.Cred
	gen     uint64      // proc.gen when cred was read
	stale   atomic.Bool // set when the thread may have changed identity
	status  taskStatus
	userNS  uint64 // the thread's user namespace when cred was read

	// dead is set once the supervisor has seen the thread exit (its
	// pidfd fired, or its group's).
	dead atomic.Bool

	// The restart frame matched last, in commit mode (see
	// newRestartFrame), and the call a SIGSTOP ended (see stopping).
	// Protected by Supervisor.mu.
	lastFrameAt uint64
	lastFrame   *[frameKeyLen]byte
	stopEnded   *restartKey
	// lastCall is the id of the thread's latest call that restartAfterStop
	// looked at: a call a SIGSTOP ended that is found ended only after a
	// later call of the thread was served (its restart, served as a new
	// call) must not mark the thread's next call as its restart.
	lastCall uint64

	// In commit mode, what tells that the thread's next semaphore call
	// may be a parked call the kernel ended (a signal) made again (see
	// dropEnded). unsettled counts the thread's calls taken out of the
	// parked calls (endLocked) whose answer's fate is not known yet; cut
	// is set once the kernel is known to have ended one (endedByKernel),
	// unless a later call of the thread was served already, and cleared
	// by its next semaphore call.
	unsettled atomic.Int32
	cut       atomic.Bool
}

// process is a thread group: the undo owner.
type process struct {
	ns     atomic.Pointer[sem.Namespace] // its IPC namespace; changed by unshare(CLONE_NEWIPC)
	tgid   int32
	ppid   int32   // its parent when it was registered (for SIGCHLD)
	nstgid []int32 // its ids from the supervisor's pid namespace down to its own
	undo   sem.UndoList
	gen    atomic.Uint64 // bumped by execve: every thread's identity is stale
	pidfd  int

	// life orders the group's calls against the application of its undo
	// list, as the kernel's exit_sem runs only once no member can make a
	// semaphore call: a worker holds it for reading while it serves one of
	// the group's calls (until the call is done in the engine or parked);
	// undo is applied with it held for writing.
	// Without it a call received just before the group was killed could
	// be performed after its undo list was applied (an undone P, then
	// the V: one unit too many).
	life sync.RWMutex
	// exited is set, under life held for writing, once the group is gone
	// (its pidfd fired) and its undo list applied for the last time; calls
	// received before that are then dropped unserved.
	exited bool

	// parked are the group's calls parked in the engine. Protected by
	// Supervisor.mu.
	parked map[*call]struct{}
}

// New returns a supervisor for a listener. Call Serve to start it.
func New(c Config) (*Supervisor, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("epoll_create1: %w", err)
	}
	evfd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		unix.Close(epfd)
		return nil, fmt.Errorf("eventfd: %w", err)
	}
	s := &Supervisor{fd: c.Listener, ns: c.Namespace, epfd: epfd, kick: make(chan struct{}, 1), floor: c.Floor, clock: c.Clock,
		turn: make(chan struct{}, 1), evfd: evfd, stop: make(chan struct{}), exitsDone: make(chan struct{}), done: make(chan struct{})}
	s.turn <- struct{}{}
	s.sleeper = newSleeper()
	s.nprocs = runtime.GOMAXPROCS(0)
	s.pollCost.Store(int64(initialPollCost))
	s.watchFD(evfd, 0, eventStop)
	s.signals = c.Signals
	if s.order = c.Order; s.order == nil {
		s.order = &ArrivalOrder{}
	}
	if c.MeasureRecvWindow {
		s.window = &recvWindow{}
	}
	if s.clock == nil {
		s.clock = sem.SystemClock{}
	}
	// The sandbox's programs start in the supervisor's user namespace.
	if ino, err := readUserNS(0, make([]byte, 64)); err == nil {
		s.owners.Store(s.ns, ino)
	}
	if c.Trace != nil {
		s.trace = &tracer{w: c.Trace}
	}
	if c.Features != nil {
		s.features = *c.Features
	} else if s.features, err = FeaturesFromEnv(); err != nil {
		unix.Close(epfd)
		unix.Close(evfd)
		return nil, err
	}
	// Without the flag in the kernel the helper installed the filter
	// without it (seccomp.InstallListener).
	if s.features.KillableWait && !seccomp.WaitKillableSupported() {
		s.features.KillableWait = false
	}
	// Keep the caller's CPU: the kernel switches straight to the
	// supervisor and back. Older kernels simply lack it.
	if s.features.SyncWakeUp {
		_ = seccomp.SetSyncWakeUp(c.Listener)
	}
	return s, nil
}

// Serve starts the receiving workers and the watchers and returns. They
// run until every task of the sandbox has gone (see Done).
func (s *Supervisor) Serve(workers int) {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0) + 1
	}
	s.nworkers.Add(int32(workers))
	for range workers {
		go s.worker()
	}
	go s.watchExits()
	go s.watchParked()
}

// Served returns the number of semaphore calls answered so far.
func (s *Supervisor) Served() uint64 { return s.served.Load() }

// worker receives and serves calls on one locked OS thread.
//
// Only the worker that holds the turn receives: the kernel wakes every
// thread waiting in SECCOMP_IOCTL_NOTIF_RECV for each notification, and
// with SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP it moves them all to the
// caller's CPU, so each extra receiving thread costs every call a context
// switch (measured here: 3.7 µs per trapped call with one receiver, 4.7
// with two, 9 with four). The others wait for the turn. The receiver
// passes the turn on (yieldTurn) before work that may take long, such as
// reading /proc for a new thread, so that one slow call never holds up
// the others; the fast path keeps it.
type worker struct {
	s       *Supervisor
	hasTurn bool

	// The arrival-order ticket of the call being served (see
	// ArrivalOrder): ticket is valid while ticketState is not noTicket.
	ticket      uint64
	ticketState ticketState
	wake        chan struct{} // for ArrivalOrder.wait

	// ahead are calls received while signals cut calls short, to be
	// served after the one in n, in order (see receiveAhead).
	ahead []aheadCall

	n     seccomp.Notif
	resp  seccomp.NotifResp
	mem   taskMemory
	sc    semsys.Scratch
	spare *call // a parked-call record ready for the next semop
	buf   []byte
	val   int64     // the answer serveSem computed
	err   sem.Errno // its errno

	// Commit mode (see commit.go): noReply says the call in n was
	// answered (or its answer refused) from inside the engine; commitFn
	// and commitIDFn are w.commit and w.commitID, made once.
	noReply    bool
	commitFn   func() bool
	commitIDFn func(int32) bool
	vals       []byte // SETALL's values, in commit mode

	events [16]unix.EpollEvent // for reapExits
	stack  []byte              // for restartedBySignal
}

func (s *Supervisor) worker() {
	runtime.LockOSThread()
	preferLowLatency()
	w := &worker{s: s, buf: make([]byte, 4096), wake: make(chan struct{}, 1)}
	w.commitFn, w.commitIDFn = w.commit, w.commitID
	for {
		if len(w.ahead) > 0 {
			next := &w.ahead[0]
			w.n, w.ticket, w.ticketState = next.n, next.ticket, next.ticketState
			w.ahead = append(w.ahead[:0], w.ahead[1:]...)
		} else {
			if !w.hasTurn {
				s.standby.Add(1)
				<-s.turn
				s.standby.Add(-1)
				w.hasTurn = true
			}
			if err := seccomp.Recv(s.fd, &w.n); err != nil {
				if err == unix.ENOENT {
					// Either the caller went away before we received its
					// call, or no task uses the filter any more.
					if ev, perr := seccomp.Poll(s.fd, 0); perr == nil && ev&unix.POLLHUP != 0 {
						s.closing.Store(true)
						w.yieldTurn() // the next worker finds out too
						s.workerExited()
						return
					}
					continue
				}
				s.closing.Store(true)
				w.yieldTurn()
				s.workerExited()
				return
			}
			w.ticket, w.ticketState = w.received(&w.n)
		}
		if w.hasTurn && s.cut.recent() {
			w.receiveAhead()
		}
		w.serve()
		w.endTicket()
		s.inflight.Add(-1)
	}
}

// received does the bookkeeping of a call just received: the count of
// calls cut short before it, its place in arrival order if it may reach
// the engine, and the count of calls in flight.
// Precondition: w holds the receive turn.
func (w *worker) received(n *seccomp.Notif) (uint64, ticketState) {
	s := w.s
	if gap := n.ID - s.lastID - 1; s.lastID != 0 && gap != 0 && gap < 1<<32 {
		s.cut.note(gap)
	}
	s.lastID = n.ID
	if s.window != nil {
		s.window.note(n)
	}
	s.inflight.Add(1)
	if s.floor || !mayReachEngine(n) {
		return 0, noTicket
	}
	return s.order.draw(), ticketDrawn
}

// mayReachEngine reports whether a call may take a step in the engine,
// and so needs its place in arrival order: the semaphore calls, opens
// (of the /proc views) and unshare (which may apply an undo list).
func mayReachEngine(n *seccomp.Notif) bool {
	if !n.Data.Native() {
		return false
	}
	switch n.Data.Nr {
	case unix.SYS_SEMGET, unix.SYS_SEMOP, unix.SYS_SEMTIMEDOP, unix.SYS_SEMCTL, unix.SYS_UNSHARE:
		return true
	}
	return slices.Contains(OpenSyscalls, int(n.Data.Nr))
}

// aheadCall is a call received ahead of the one being served.
type aheadCall struct {
	n           seccomp.Notif
	ticket      uint64
	ticketState ticketState
}

// maxAhead bounds the calls one worker receives ahead.
const maxAhead = 64

// receiveAhead receives every call waiting in the listener, to be served
// after the one in hand, so that no signal can cut them short meanwhile
// (see cutShort). It costs a poll, and is used only while signals cut
// calls short.
// Precondition: w holds the receive turn.
func (w *worker) receiveAhead() {
	for len(w.ahead) < maxAhead {
		if ev, err := seccomp.Poll(w.s.fd, 0); err != nil || ev&unix.POLLIN == 0 {
			return
		}
		// A call reported waiting is counted by the listener: Recv
		// returns at once, with it or, if it was cut short since,
		// ENOENT.
		w.ahead = append(w.ahead, aheadCall{})
		a := &w.ahead[len(w.ahead)-1]
		if seccomp.Recv(w.s.fd, &a.n) != nil {
			w.ahead = w.ahead[:len(w.ahead)-1]
			return
		}
		a.ticket, a.ticketState = w.received(&a.n)
	}
}

// maxWorkers bounds the workers started while others wait: each worker
// beyond the first few holds one received call still being prepared or
// waiting for its turn in the engine.
const maxWorkers = 256

// yieldTurn lets another worker receive while w finishes a call that may
// take long. Cheap when w does not have the turn. If no worker stands by
// to receive, it starts one: a received call can no longer be cut short
// by a signal, a call waiting to be received can.
func (w *worker) yieldTurn() {
	if !w.hasTurn {
		return
	}
	s := w.s
	w.hasTurn = false
	s.turn <- struct{}{}
	if s.standby.Load() == 0 && s.nworkers.Load() < maxWorkers && !s.closing.Load() {
		s.nworkers.Add(1)
		go s.worker()
	}
}

// ticketState is where a worker's call is in arrival order.
type ticketState uint8

const (
	noTicket      ticketState = iota
	ticketDrawn               // has its place, has not taken its engine step
	ticketEntered             // is taking its engine step
)

// enter waits until the call's ticket comes up: every call received
// before it has taken its engine step. It passes the receive turn on
// first if it has to wait.
func (w *worker) enter() {
	if w.ticketState != ticketDrawn {
		return
	}
	if w.s.order.next.Load() != w.ticket {
		w.yieldTurn()
	}
	w.s.order.wait(w.ticket, w.wake)
	w.ticketState = ticketEntered
}

// leave ends the call's engine step: the next ticket may take its own.
func (w *worker) leave() {
	if w.ticketState == ticketEntered {
		w.s.order.done(w.ticket)
		w.ticketState = noTicket
	}
}

// endTicket passes over the ticket of a call that ended without an
// engine step (an open of another file, a caller that died).
func (w *worker) endTicket() {
	switch w.ticketState {
	case ticketDrawn:
		w.s.order.skip(w.ticket)
	case ticketEntered:
		w.s.order.done(w.ticket)
	}
	w.ticketState = noTicket
}

// serve answers the notification in w.n.
func (w *worker) serve() {
	s, n := w.s, &w.n
	if s.nwriters.Load() > 0 {
		s.drainWriters()
	}
	if !n.Data.Native() {
		// A call of another ABI that may change the caller's identity
		// (the policy fails the others' semaphore calls in the filter).
		if th := s.knownThread(int32(n.PID)); th != nil {
			th.proc.gen.Add(1)
		}
		w.continueCall()
		return
	}
	switch n.Data.Nr {
	case unix.SYS_SEMGET, unix.SYS_SEMOP, unix.SYS_SEMTIMEDOP, unix.SYS_SEMCTL:
	default:
		if w.serveSignal() || w.serveTimer() || w.serveOpen() {
			return
		}
		if n.Data.Nr == unix.SYS_UNSHARE {
			w.serveUnshare()
			w.continueCall()
			return
		}
		if th := s.knownThread(int32(n.PID)); th != nil {
			if n.Data.Nr == unix.SYS_EXECVE || n.Data.Nr == unix.SYS_EXECVEAT {
				th.proc.gen.Add(1)
			} else {
				th.stale.Store(true)
			}
		}
		w.continueCall()
		return
	}

	if s.floor {
		w.reply(0, 0)
		return
	}
	w.reapExits()
	th := w.thread()
	if th == nil {
		// The caller is gone, or, in commit mode, a signal ended its
		// call while it was being prepared: it may make it again after
		// its handler. Counted before this call's turn in arrival order
		// passes, so that the call made again, which comes later, is
		// examined (see cutShort).
		if s.commitMode() {
			s.cut.note(1)
		}
		return
	}
	examine := false
	if s.commitMode() {
		if s.nparked.Load() > 0 || th.unsettled.Load() > 0 || th.cut.Load() {
			examine = s.dropEnded(th)
		}
		if s.restartAfterStop(th, n) {
			th.serving.Unlock()
			w.reply(0, sem.EINTR)
			return
		}
	}
	w.enter()
	p := th.proc
	p.life.RLock()
	if p.exited {
		// Received before its group died, served after: the group's
		// undo list is applied and nobody waits for the answer.
		p.life.RUnlock()
		w.leave()
		th.serving.Unlock()
		return
	}
	if w.spare == nil {
		w.spare = s.newCall()
	}
	c := w.spare
	w.noReply = false
	blocked := w.serveSem(th)
	p.life.RUnlock()
	w.leave()
	th.serving.Unlock()
	if !blocked {
		if !w.noReply {
			w.reply(w.val, w.err)
		}
		return
	}
	if examine || s.cut.pending() {
		w.yieldTurn() // /proc and the caller's stack
		if w.restartedBySignal(c) {
			// The signal came while the caller slept in this call.
			if !examine {
				s.cut.claim() // a call cut short before receipt
			}
			s.interrupt(c, sem.EINTR)
		}
	}
}

// serveSem serves the semaphore call in w.n from th, leaving the answer in
// w.val and w.err, or parks it (in w.spare as it was on entry) and
// reports true.
// Precondition: th.proc.life is held for reading.
func (w *worker) serveSem(th *thread) (blocked bool) {
	s, n := w.s, &w.n
	a := &n.Data.Args
	w.mem.tid = th.tid
	var val int64
	var err sem.Errno
	switch n.Data.Nr {
	case unix.SYS_SEMGET:
		if s.commitMode() {
			var id int32
			id, err = th.proc.ns.Load().SemgetCommit(&th.task, int32(a[0]), int32(a[1]), int32(a[2]), w.commitIDFn)
			val = int64(id)
		} else {
			val, err = semsys.Semget(th.proc.ns.Load(), &th.task, a[0], a[1], a[2])
		}
	case unix.SYS_SEMCTL:
		var done bool
		if s.commitMode() {
			val, err, done = w.semctlCommit(th.proc.ns.Load(), th, a)
		}
		if !done {
			val, err = semsys.Semctl(th.proc.ns.Load(), &th.task, &w.mem, &w.sc, a[0], a[1], a[2], a[3])
		}
		if err == 0 && int32(a[2]) == abi.GETPID && len(th.proc.nstgid) > 1 {
			val = int64(s.pidAsSeenBy(th.proc, int32(val)))
		}
	default:
		timeout := a[3]
		if n.Data.Nr == unix.SYS_SEMOP {
			timeout = 0
		}
		c := w.spare
		// The engine may call c.w's Alive and Done from another worker as
		// soon as it has queued c.w, before park runs: they need these.
		c.id, c.th, c.nr = n.ID, th, n.Data.Nr
		c.answered, c.refused, c.stopped = false, false, false
		c.key = restartKey{nr: n.Data.Nr, args: n.Data.Args, ip: n.Data.InstructionPointer}
		r := semsys.Semtimedop(th.proc.ns.Load(), &th.task, &w.mem, &w.sc, a[0], a[1], a[2], timeout, &c.w)
		// Answered by c.commit (its own call succeeded at once), or
		// refused there and taken back (r.Err is EINTR).
		w.noReply = !r.Blocked && (c.answered || c.refused)
		if r.Blocked {
			w.spare = nil
			s.park(c, th, n, &r, &w.sc)
			return true
		}
		err = r.Err
	}
	if s.trace != nil {
		s.trace.call(n, &w.sc, val, err, traceDone)
	}
	w.val, w.err = val, err
	return false
}

func (w *worker) reply(val int64, err sem.Errno) {
	w.resp = seccomp.NotifResp{ID: w.n.ID, Val: val}
	if err != 0 {
		w.resp.Val, w.resp.Error = 0, -int32(err)
	}
	w.s.served.Add(1)
	_ = w.s.send(&w.resp)
}

func (w *worker) continueCall() {
	w.resp = seccomp.NotifResp{ID: w.n.ID, Flags: seccomp.FlagContinue}
	_ = w.s.send(&w.resp)
}

func (s *Supervisor) knownThread(tid int32) *thread {
	if v, ok := s.threads.Load(tid); ok {
		return v.(*thread)
	}
	return nil
}

// thread returns the calling thread with a current identity, its serving
// lock held for the call (the caller unlocks it), or nil if the caller is
// gone.
func (w *worker) thread() *thread {
	s, n := w.s, &w.n
	tid := int32(n.PID)
	th := s.knownThread(tid)
	if th != nil {
		if !w.lockServing(th) {
			return nil
		}
		if !th.stale.Load() && th.gen == th.proc.gen.Load() {
			return th
		}
		w.yieldTurn() // reading /proc takes tens of microseconds
		gen := th.proc.gen.Load()
		th.stale.Store(false)
		if readTaskStatus(tid, w.buf, &th.status) != nil {
			th.serving.Unlock()
			return nil
		}
		userNS, err := readUserNS(tid, w.buf)
		if err != nil || seccomp.IDValid(s.fd, n.ID) != nil {
			th.serving.Unlock()
			return nil
		}
		th.gen = gen
		s.setCred(th, userNS)
		return th
	}

	w.yieldTurn()
	th = &thread{tid: tid, pidfd: -1}
	if readTaskStatus(tid, w.buf, &th.status) != nil {
		return nil
	}
	userNS, err := readUserNS(tid, w.buf)
	if err != nil {
		return nil
	}
	if s.features.ThreadPidfd {
		if fd, err := unix.PidfdOpen(int(tid), pidfdThread); err == nil {
			th.pidfd = fd
		}
	}
	// The status and the pidfd belong to the caller only if its
	// notification is still pending now: tids are reused.
	if seccomp.IDValid(s.fd, n.ID) != nil {
		closeFD(th.pidfd)
		return nil
	}
	proc := s.process(th.status.tgid, th.status.ppid, th.status.nspid)
	if proc == nil {
		closeFD(th.pidfd)
		return nil
	}
	th.proc = proc
	th.gen = proc.gen.Load()
	s.setCred(th, userNS)
	th.task = sem.Task{PID: proc.tgid, Cred: &th.cred, Undo: &proc.undo}
	th.serving.Lock()
	if prev, loaded := s.threads.LoadOrStore(tid, th); loaded {
		closeFD(th.pidfd)
		prev := prev.(*thread)
		if !w.lockServing(prev) {
			return nil
		}
		return prev
	}
	if th.pidfd >= 0 {
		s.watchFD(th.pidfd, tid, eventThread)
	}
	return th
}

// setCred takes th's identity from the status just read, in user
// namespace userNS: its capabilities count only if that namespace owns the
// IPC namespace th's group uses (CapEff is relative to the task's own
// user namespace).
func (s *Supervisor) setCred(th *thread, userNS uint64) {
	th.cred = th.status.cred
	th.cred.Groups = append([]uint32(nil), th.status.cred.Groups...)
	if v, ok := s.owners.Load(th.proc.ns.Load()); ok && v.(uint64) != 0 && v.(uint64) != userNS {
		th.cred.CapIPCOwner, th.cred.CapSysAdmin = false, false
	}
	th.userNS = userNS
}

// process returns the thread group tgid, registering it on first sight.
// Precondition: a thread of tgid has a valid notification pending, so
// tgid names the right group.
func (s *Supervisor) process(tgid, ppid int32, nstgid []int32) *process {
	if v, ok := s.procs.Load(tgid); ok {
		return v.(*process)
	}
	fd, err := unix.PidfdOpen(int(tgid), 0)
	if err != nil {
		return nil
	}
	p := &process{tgid: tgid, ppid: ppid, pidfd: fd, nstgid: append([]int32(nil), nstgid...), parked: make(map[*call]struct{})}
	p.ns.Store(s.namespaceOf(ppid))
	s.pidNames.Store(tgid, p.nstgid)
	if prev, loaded := s.procs.LoadOrStore(tgid, p); loaded {
		unix.Close(fd)
		return prev.(*process)
	}
	s.watchFD(fd, tgid, eventProcess)
	return p
}

// groupExited cancels the waits of a thread group that is gone and
// applies its undo adjustments, once its calls in progress have finished;
// calls of the group still on their way are not served afterwards. It may
// run more than once for a group (the watcher and a worker both see its
// pidfd): a later run returns once the first has finished.
func (s *Supervisor) groupExited(p *process) {
	p.life.Lock()
	defer p.life.Unlock()
	if p.exited {
		return
	}
	p.exited = true
	for _, c := range s.parkedOf(p) {
		if s.ns.Cancel(&c.w, sem.EINTR) {
			// Unanswered: the thread is dead or dying.
			s.mu.Lock()
			s.finishLocked(c)
			s.mu.Unlock()
		}
	}
	s.ns.ExitUndo(&p.undo, p.tgid)
}

const (
	eventThread  = 0
	eventProcess = 1
	eventStop    = 2 // the eventfd of teardown
)

func (s *Supervisor) watchFD(fd int, id int32, kind int32) {
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: id, Pad: kind}
	_ = unix.EpollCtl(s.epfd, unix.EPOLL_CTL_ADD, fd, &ev)
}

// watchExits handles pidfd events as they come (see handleExits).
func (s *Supervisor) watchExits() {
	defer close(s.exitsDone)
	events := make([]unix.EpollEvent, 64)
	for {
		n, err := unix.EpollWait(s.epfd, events, -1)
		if err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			return
		}
		if s.handleExits(events[:n]) {
			return
		}
	}
}

// reapExits handles the exits the kernel has already reported but the
// watcher may not have handled yet, before w serves a call that could
// observe them. Linux applies a group's undo list before its parent can
// reap it, and its pidfd is readable by then too, so this call, which
// comes after anything its caller has learnt about that exit, sees the
// undo applied, the dead waiters gone and GETNCNT/GETZCNT dropped. It
// costs one epoll_wait with no timeout when nothing has exited, and
// nothing when an exit could change nothing: no other call in flight
// (whose group's exit would wait for it), none parked, no undo entry.
func (w *worker) reapExits() {
	s := w.s
	if s.inflight.Load() <= 1 && s.nparked.Load() == 0 && !s.ns.UndoInUse() && s.nested.Load() == 0 {
		return
	}
	s.drainExits(w.events[:], w)
}

// HandleReportedExits handles the exits the kernel has already reported
// (see reapExits), for a reader outside the sandbox such as the control
// socket's, so that it sees a dead process's undo applied.
func (s *Supervisor) HandleReportedExits() {
	s.fdsMu.RLock()
	defer s.fdsMu.RUnlock()
	if !s.fdsClosed {
		s.drainExits(make([]unix.EpollEvent, 16), nil)
	}
}

// drainExits handles the pidfd events that are ready, without waiting,
// using events as the buffer. A worker w, if given, first passes its turn
// on: an undo list may touch many sets and waiters.
func (s *Supervisor) drainExits(events []unix.EpollEvent, w *worker) {
	for {
		n, err := unix.EpollWait(s.epfd, events, 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil || n == 0 {
			return
		}
		if w != nil {
			w.yieldTurn()
		}
		s.handleExits(events[:n])
		if n < len(events) {
			return
		}
	}
}

// handleExits handles pidfd events: a thread's exit ends its wait, a
// thread group's exit applies its undo list. The watcher and the workers
// may handle one event concurrently (a pidfd stays readable): each
// returns only once the event has been handled, and one of them forgets
// the thread or group and closes its pidfd. It reports whether the
// supervisor is being torn down (the watcher then returns).
func (s *Supervisor) handleExits(events []unix.EpollEvent) (stop bool) {
	for _, ev := range events {
		switch ev.Pad {
		case eventStop:
			stop = true
		case eventThread:
			v, ok := s.threads.Load(ev.Fd)
			if !ok {
				continue
			}
			th := v.(*thread)
			th.dead.Store(true) // from now on the engine skips its wait
			s.cancelThread(th)
			if s.threads.CompareAndDelete(ev.Fd, th) {
				unix.EpollCtl(s.epfd, unix.EPOLL_CTL_DEL, th.pidfd, nil)
				unix.Close(th.pidfd)
			}
		case eventProcess:
			v, ok := s.procs.Load(ev.Fd)
			if !ok {
				continue
			}
			p := v.(*process)
			s.groupExited(p)
			// The kernel sent its parent SIGCHLD as it exited.
			s.expedite(p.ppid, true)
			if !s.procs.CompareAndDelete(ev.Fd, p) {
				continue
			}
			s.threads.Range(func(k, v any) bool {
				if th := v.(*thread); th.proc == p {
					th.dead.Store(true)
					if s.threads.CompareAndDelete(k, th) && th.pidfd >= 0 {
						unix.EpollCtl(s.epfd, unix.EPOLL_CTL_DEL, th.pidfd, nil)
						unix.Close(th.pidfd)
					}
				}
				return true
			})
			unix.EpollCtl(s.epfd, unix.EPOLL_CTL_DEL, p.pidfd, nil)
			unix.Close(p.pidfd)
		}
	}
	return stop
}

func closeFD(fd int) {
	if fd >= 0 {
		unix.Close(fd)
	}
}

// now is the supervisor's monotonic clock.
func now() time.Duration { return time.Duration(nanotime()) }

var start = time.Now()

func nanotime() int64 { return int64(time.Since(start)) }

// Adjustments returns the SEM_UNDO adjustments that live thread groups
// hold for set id, by thread group id.
func (s *Supervisor) Adjustments(id int32) map[int32][]int16 {
	out := make(map[int32][]int16)
	s.procs.Range(func(_, v any) bool {
		p := v.(*process)
		if a := s.ns.Adjustments(&p.undo, id); a != nil {
			out[p.tgid] = a
		}
		return true
	})
	return out
}

// pidAsSeenBy translates pid, a thread group id in the supervisor's pid
// namespace, into the pid namespace of process p, as the kernel's pid_vnr
// does: 0 if pid is not visible there. Namespaces are matched by depth.
func (s *Supervisor) pidAsSeenBy(p *process, pid int32) int32 {
	v, ok := s.pidNames.Load(pid)
	if !ok {
		return pid
	}
	names := v.([]int32)
	level := len(p.nstgid) - 1
	if len(names) <= level {
		return 0 // in an ancestor namespace of p's
	}
	return names[level]
}

// The unshare flags that concern the caller's semaphores.
const cloneSysvsem, cloneNewipc = 0x00040000, 0x08000000

// serveUnshare records what the unshare in w.n changes for the caller's
// semaphores before the kernel performs it (see Supervisor.unshare). A
// thread not seen yet is registered first when the call detaches it from
// its IPC namespace or undo list: a forked child's first trapped call may
// be this one, and until it is recorded its namespace is its parent's.
func (w *worker) serveUnshare() {
	s, n := w.s, &w.n
	flags := n.Data.Args[0]
	if s.knownThread(int32(n.PID)) == nil && flags&(cloneSysvsem|cloneNewipc) == 0 {
		return // nothing to record: its identity is read at its first semaphore call
	}
	w.yieldTurn()
	th := w.thread()
	if th == nil {
		return // the caller's call is gone
	}
	w.enter()
	s.unshare(th, flags)
	w.leave()
	th.serving.Unlock()
	// A new user or IPC namespace changes what its capabilities are
	// worth: read the group's identity again.
	th.proc.gen.Add(1)
}

// unshare applies the undo list of a thread group that detaches from it:
// unshare(CLONE_SYSVSEM), and unshare(CLONE_NEWIPC) by a caller allowed to
// (the kernel's exit_sem in ksys_unshare). Like the kernel for a
// single-threaded caller, the group then starts with an empty list.
func (s *Supervisor) unshare(th *thread, flags uint64) {
	if flags&cloneSysvsem != 0 || (flags&cloneNewipc != 0 && th.cred.CapSysAdmin) {
		p := th.proc
		p.life.Lock()
		s.ns.ExitUndo(&p.undo, p.tgid)
		p.life.Unlock()
	}
	if flags&cloneNewipc != 0 && th.cred.CapSysAdmin {
		ns := sem.NewNamespace(s.clock)
		const cloneNewuser = 0x10000000
		if flags&cloneNewuser == 0 {
			s.owners.Store(ns, th.userNS)
		} // else it is owned by the new user namespace: caps count as read

		th.proc.ns.Store(ns)
		s.nsByTgid.Store(th.proc.tgid, ns)
		s.nested.Add(1)
	}
}

// namespaceOf returns the IPC namespace a new thread group whose parent is
// ppid starts in: that of its nearest ancestor that made one with
// unshare(CLONE_NEWIPC), else the sandbox's. The filter does not see
// fork, so ancestry is read from /proc when it matters.
func (s *Supervisor) namespaceOf(ppid int32) *sem.Namespace {
	if s.nested.Load() == 0 {
		return s.ns
	}
	buf := make([]byte, 4096)
	var st taskStatus
	for range 64 {
		if ppid <= 1 {
			break
		}
		if v, ok := s.nsByTgid.Load(ppid); ok {
			return v.(*sem.Namespace)
		}
		if readTaskStatus(ppid, buf, &st) != nil {
			break
		}
		ppid = st.ppid
	}
	return s.ns
}

// UndoOwners returns the undo lists of the live thread groups, with the
// pid their exit would record, for sem.Namespace.Image.
func (s *Supervisor) UndoOwners() []sem.UndoOwner {
	var out []sem.UndoOwner
	s.procs.Range(func(_, v any) bool {
		p := v.(*process)
		out = append(out, sem.UndoOwner{List: &p.undo, PID: p.tgid})
		return true
	})
	return out
}
