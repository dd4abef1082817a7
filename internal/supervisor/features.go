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
	SyncWakeUp  bool
	ThreadPidfd bool
}

// knownFeatures are the names FeaturesEnv accepts.
var knownFeatures = []string{"sync-wakeup", "thread-pidfd"}

// FeaturesFromEnv returns the features FeaturesEnv leaves on.
func FeaturesFromEnv() (Features, error) {
	f := Features{SyncWakeUp: true, ThreadPidfd: true}
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
		case "":
		default:
			return f, fmt.Errorf("%s: unknown feature %q (known: all, %s)", FeaturesEnv, name, strings.Join(knownFeatures, ", "))
		}
	}
	return f, nil
}
