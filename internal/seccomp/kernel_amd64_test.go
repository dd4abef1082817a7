package seccomp

import (
	"testing"

	"golang.org/x/sys/unix"
)

// TestKernelSemaphorePolicy installs the real sembox policy on a thread and
// checks the verdicts the kernel applies for the calls a 64-bit test can
// make: native calls are trapped, and x32 ones fail in the filter.
func TestKernelSemaphorePolicy(t *testing.T) {
	prog, err := Build(SemaphorePolicy(nil))
	if err != nil {
		t.Fatal(err)
	}
	tt := startTrapped(t, prog, listenerFlags)
	for _, nr := range []uintptr{64, 65, 66, 220} {
		var got callResult
		finished := tt.goDo(func() { got.r, got.e = syscall3(nr, 0, 0, 0) })
		n := recvTimeout(t, tt.listener)
		if n.Data.Nr != int32(nr) {
			t.Errorf("trapped syscall %d, want %d", n.Data.Nr, nr)
		}
		if err := Send(tt.listener, &NotifResp{ID: n.ID, Val: 4242}); err != nil {
			t.Fatal(err)
		}
		<-finished
		if got != (callResult{4242, 0}) {
			t.Errorf("syscall %d returned %v", nr, got)
		}
	}
	var got callResult
	tt.do(func() { got.r, got.e = syscall3(X32SyscallBit|64, 0, 1, 0o600) })
	if got.e != unix.ENOSYS {
		t.Errorf("x32 semget: %v, want ENOSYS", got)
	}
}

// TestKernelSeesX32Numbers checks the assumption behind the x32 split: the
// kernel runs the filter on x32 numbers, bit included, under
// AUDIT_ARCH_X86_64, even on kernels built without x32 support.
func TestKernelSeesX32Numbers(t *testing.T) {
	prog, err := Build(Policy{
		Tables: []Table{
			{ABI: ABI{Arch: ArchX86_64}, Default: ActAllow},
			{ABI: ABI{Arch: ArchX86_64, X32: true}, Rules: Rules(ActErrno(unix.E2BIG), X32SyscallBit|64), Default: ActErrno(unix.EDOM)},
		},
		Default: ActAllow,
	})
	if err != nil {
		t.Fatal(err)
	}
	tt := startTrapped(t, prog, 0)
	tests := []struct {
		nr   uintptr
		want unix.Errno
	}{
		{X32SyscallBit | 64, unix.E2BIG},
		{X32SyscallBit | 39, unix.EDOM}, // x32 getpid
	}
	for _, tc := range tests {
		var got callResult
		tt.do(func() { got.r, got.e = syscall3(tc.nr, 0, 0, 0) })
		if got.e != tc.want {
			t.Errorf("syscall %#x: %v, want %v", tc.nr, got.e, tc.want)
		}
	}
}
