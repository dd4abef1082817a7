package seccomp

import (
	"testing"

	"golang.org/x/sys/unix"
)

// TestInstallListener installs the filter with and without
// WAIT_KILLABLE_RECV as the sandbox helper does: the flag is used when
// asked for and the kernel has it, and the listener accepts
// SECCOMP_USER_NOTIF_FLAG_CONTINUE (Linux 5.5), which CheckContinue
// probes without answering anything.
func TestInstallListener(t *testing.T) {
	for _, want := range []bool{false, true} {
		type result struct {
			fd       int
			killable bool
			err      error
			cont     error
		}
		c := make(chan result, 1)
		goOnNonMainThread(func() {
			var r result
			r.fd, r.killable, r.err = InstallListener(testProgram(t), want)
			if r.err == nil {
				r.cont = CheckContinue(r.fd)
			}
			c <- r
		})
		r := <-c
		if r.err != nil {
			t.Fatalf("InstallListener(waitKillable=%v): %v", want, r.err)
		}
		if got := want && WaitKillableSupported(); r.killable != got {
			t.Errorf("InstallListener(waitKillable=%v): killable %v, want %v", want, r.killable, got)
		}
		if r.cont != nil {
			t.Errorf("CheckContinue on a fresh listener: %v", r.cont)
		}
		unix.Close(r.fd)
	}
}
