package seccomp

import (
	"errors"
	"runtime"
	"testing"
)

// BenchmarkRoundTrip measures one trapped system call answered by a
// supervisor goroutine in the same process (thread to thread), with and
// without SetSyncWakeUp.
func BenchmarkRoundTrip(b *testing.B) {
	for _, sync := range []bool{false, true} {
		name := "async"
		if sync {
			name = "syncwakeup"
		}
		b.Run(name, func(b *testing.B) {
			tt := startTrapped(b, testProgram(b), listenerFlags)
			if sync {
				if err := SetSyncWakeUp(tt.listener); errors.Is(err, errors.ErrUnsupported) {
					b.Skip(err)
				} else if err != nil {
					b.Fatal(err)
				}
			}
			served := make(chan error, 1)
			go func() {
				runtime.LockOSThread()
				defer runtime.UnlockOSThread()
				var n Notif
				resp := NotifResp{Val: 1}
				for i := 0; i < b.N; i++ {
					if err := Recv(tt.listener, &n); err != nil {
						served <- err
						return
					}
					resp.ID = n.ID
					if err := Send(tt.listener, &resp); err != nil {
						served <- err
						return
					}
				}
				served <- nil
			}()
			b.ResetTimer()
			tt.do(func() {
				for i := 0; i < b.N; i++ {
					syscall3(semgetNr, 0, 0, 0)
				}
			})
			b.StopTimer()
			if err := <-served; err != nil {
				b.Fatal(err)
			}
		})
	}
}
