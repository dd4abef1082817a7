package supervisor

import "golang.org/x/sys/unix"

// receiverSlice is the scheduler slice the receiving threads ask for.
//
// A trapped caller sleeps until a worker receives its call, and a signal
// that arrives meanwhile cuts the call short (EINTR, or a restart under
// SA_RESTART) where the kernel would have performed it or queued it.
// With SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP the receiver is woken on the
// caller's CPU, but a CPU-bound task there can still run first for the
// rest of its slice (milliseconds). Since Linux 6.12 a normal (SCHED_OTHER)
// task may ask for a shorter slice, which gives it an earlier deadline and
// lets it preempt on wake-up; no privilege is needed. Older kernels refuse
// it and the default slice stays.
const receiverSlice = 100_000 // ns, the kernel's minimum

// preferLowLatency asks the scheduler to run the calling OS thread soon
// after it is woken. Best effort.
// Precondition: the goroutine is locked to its OS thread.
func preferLowLatency() {
	attr := unix.SchedAttr{Policy: unix.SCHED_NORMAL, Runtime: receiverSlice}
	_ = unix.SchedSetAttr(0, &attr, 0)
}
