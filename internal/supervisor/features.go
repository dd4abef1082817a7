package supervisor

import (
	"fmt"
	"os"
	"strings"
)

// Optional kernel features. The supervisor uses each when the kernel has
// it, and a fallback otherwise:
//
//	sync-wakeup    SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP (Linux 6.6): the
//	               supervisor runs on the caller's CPU. Fallback: the
//	               kernel's ordinary wake-ups.
//	killable-wait  SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (Linux 5.19): once
//	               the supervisor has received a call, only a fatal signal
//	               ends it, so every answer is delivered. Fallback: the
//	               filter is installed without it (also when the kernel
//	               rejects it, down to Linux 5.5) and every answer that
//	               changes something is given while the change can still
//	               be taken back (see commit.go).
//	thread-pidfd   PIDFD_THREAD (Linux 6.9): a pidfd per thread, so a
//	               thread's exit ends its wait and "alive" costs no system
//	               call. Fallback: only thread groups are watched, and a
//	               waiter is alive if its notification is still valid
//	               (SECCOMP_IOCTL_NOTIF_ID_VALID).
//
// FeaturesEnv turns features off, as if the kernel lacked them, so that
// the fallbacks run on this kernel too (in tests): a comma-separated list
// of the names above, or "all".
const FeaturesEnv = "SEMBOX_KERNEL_OFF"

// Features says which optional kernel features the supervisor may use.
type Features struct {
	SyncWakeUp   bool
	ThreadPidfd  bool
	KillableWait bool
}

// knownFeatures are the names FeaturesEnv accepts.
var knownFeatures = []string{"sync-wakeup", "thread-pidfd", "killable-wait"}

// FeaturesFromEnv returns the features FeaturesEnv leaves on.
func FeaturesFromEnv() (Features, error) {
	f := Features{SyncWakeUp: true, ThreadPidfd: true, KillableWait: true}
	v := os.Getenv(FeaturesEnv)
	if v == "" {
		return f, nil
	}
	for _, name := range strings.Split(v, ",") {
		switch strings.TrimSpace(name) {
		case "all":
			f = Features{}
		case "sync-wakeup":
			f.SyncWakeUp = false
		case "thread-pidfd":
			f.ThreadPidfd = false
		case "killable-wait":
			f.KillableWait = false
		case "":
		default:
			return f, fmt.Errorf("%s: unknown feature %q (known: all, %s)", FeaturesEnv, name, strings.Join(knownFeatures, ", "))
		}
	}
	return f, nil
}

// WantKillableWait reports whether a filter should be installed with
// SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV: unless FeaturesEnv turns
// killable-wait off, or cannot be parsed (FeaturesFromEnv reports that).
// The sandbox helper asks it before installing the filter, and New asks
// the kernel too (KillableWait is off where the kernel lacks the flag),
// so that both agree on the same machine and environment. A filter
// without the flag served as if it had it could lose answers; the other
// way round only costs time, so doubt means without.
func WantKillableWait() bool {
	f, err := FeaturesFromEnv()
	return err == nil && f.KillableWait
}
