// Package supervisor serves the System V semaphore calls of a sandbox from
// the engine. It receives trapped calls from a seccomp listener, finds out
// who made them, hands them to package semsys, and answers.
//
// # Threads and the hot path
//
// A call that does not wait is received, served and answered on one
// locked OS thread (a worker) with no goroutine hand-off; a hand-off costs
// tens of microseconds here against a round trip of about two. A call that
// must wait is parked in the engine and the worker goes back to receiving;
// whoever later completes it (another worker serving a semop or semctl,
// the watcher applying an undo) answers it from its own thread.
//
// One worker at a time receives; the others stand by. The kernel wakes
// every thread waiting to receive for each notification, so idle receivers
// would cost every call a context switch. The receiving worker hands the
// turn to a standby worker before anything slow (reading /proc for a new
// thread, serving a /proc view, applying an undo list), and starts one if
// none stands by, so receiving goes on.
//
// # Arrival order
//
// Calls take effect in the engine in the order they were received, as the
// kernel performs them in the order their callers entered it, whatever
// slow preparation one of them needs: each call that may reach the engine
// draws a ticket when it is received, and takes its engine step when its
// ticket comes up (ArrivalOrder). Without this a child's first semop,
// trapped before its parent's IPC_RMID but slow to prepare, would meet a
// removed set (EINVAL instead of EIDRM).
//
// # Before receipt
//
// A trapped call sleeps until a worker receives it, and a signal in that
// window makes the kernel drop it: the call fails with EINTR, or is made
// again after an SA_RESTART handler. The supervisor counts such calls by
// the gaps in the notification ids. While they occur, workers receive
// every waiting call before serving the one in hand (receiveAhead), which
// narrows the window under a signal flood; and a semop made again after a
// handler is recognised by the signal frame the handler left on its stack
// (cutShort): if it blocks, it ends with EINTR at once, as Linux ends a
// semop that was asleep when the signal came. The receiving threads also
// ask the scheduler for a short slice (Linux 6.12), so that a CPU-bound
// task does not delay their wake-up.
//
// # Exit
//
// Threads and thread groups are watched with pidfds. A thread group's
// undo list is applied when its pidfd fires: by the watcher, or by the
// worker of the next semaphore call, which first handles every exit the
// kernel has reported (the pidfd is readable before the parent can reap
// the child, so no program sees a value from before the undo of a process
// it knows to be dead). A group's calls hold its life lock for reading
// while they are in the engine and the undo is applied with it held for
// writing; calls of the group still on their way after that are dropped,
// so no operation of a dead group is performed after its undo.
//
// # Signals
//
// The filter is installed with SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV: once
// a notification has been received, only a fatal signal can end the
// trapped call. A successful answer therefore always reaches the caller
// and no update can be lost or applied twice. Without the flag (Linux
// 5.5-5.18, or SEMBOX_KERNEL_OFF=killable-wait) the supervisor runs in
// commit mode (commit.go): every call that changes something is answered
// from inside the engine and taken back if the answer is refused. Linux ends an interruptible
// semop wait with EINTR when a signal that is not blocked is pending; the
// watcher reproduces that by reading the waiter's pending and blocked
// signal masks from /proc/TID/status, and ends the wait with EINTR through
// the engine's Cancel, which decides atomically against a concurrent
// completion. The caller returns EINTR and then runs its handler; the
// call is never restarted, as in Linux. The polling interval starts small
// and backs off for long waits, which bounds the signal-to-EINTR latency.
//
// Most signals that reach a waiter are sent from inside the sandbox: the
// filter traps kill, tkill, tgkill, rt_(tg)sigqueueinfo and
// pidfd_send_signal, which the supervisor lets go at once and then checks
// their targets' waits in a short burst (serveSignal); before a SIGCONT it
// checks first, since a stop signal still pending interrupted the semop in
// Linux and SIGCONT discards it. A signal sembox forwards, and the
// SIGCHLD of a watched process's exit, hurry the check as well.
//
// # Identity
//
// The engine needs the caller's thread group (the undo owner, and the pid
// recorded as sempid), its effective ids, groups and capabilities. They
// are read from /proc/TID/status the first time a thread is seen, and
// checked against pid reuse by asking the listener whether the
// notification is still valid after the read. Capabilities count only
// when the task is in the user namespace that owns the sandbox. The filter
// also traps the calls that change credentials or namespaces (set*id,
// setgroups, capset, execve, unshare, setns, in every ABI) and lets them
// continue after marking the cache stale, so a changed identity is read
// again on the next semaphore call. A thread's exit drops its
// cache entry and cancels its wait.
package supervisor
