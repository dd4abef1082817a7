package seccomp

import (
	"errors"
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The tests in this file install real filters on throwaway threads of the
// test process (see trappedThread) and act as the supervisor.

const (
	semgetNr = unix.SYS_SEMGET  // trapped: ActNotify
	ppidNr   = unix.SYS_GETPPID // trapped: ActNotify (used with FlagContinue)
	semctlNr = unix.SYS_SEMCTL  // fails with E2BIG in the filter
)

// testProgram builds the filter used by the listener tests.
func testProgram(t testing.TB) []unix.SockFilter {
	t.Helper()
	prog, err := Build(Policy{
		Tables: []Table{{
			ABI: ABI{Arch: nativeArch},
			Rules: []Rule{
				{semgetNr, ActNotify},
				{ppidNr, ActNotify},
				{semctlNr, ActErrno(unix.E2BIG)},
			},
			Default: ActAllow,
		}},
		Default: ActAllow,
	})
	if err != nil {
		t.Fatal(err)
	}
	return prog
}

// listenerFlags are the filter flags sembox uses.
const listenerFlags = FlagNewListener | FlagWaitKillableRecv

// recvTimeout receives one notification, failing the test if none arrives
// within a few seconds.
func recvTimeout(t testing.TB, fd int) Notif {
	t.Helper()
	ev, err := Poll(fd, 5000)
	if err != nil {
		t.Fatalf("Poll: %v", err)
	}
	if ev&unix.POLLIN == 0 {
		t.Fatalf("no notification (revents %#x)", ev)
	}
	var n Notif
	if err := Recv(fd, &n); err != nil {
		t.Fatalf("Recv: %v", err)
	}
	return n
}

// callResult is what a trapped system call returned.
type callResult struct {
	r uintptr
	e unix.Errno
}

func TestNotifyResponses(t *testing.T) {
	tests := []struct {
		name  string
		nr    uintptr
		resp  NotifResp // ID filled in by the test
		want  callResult
		notif bool // whether the call reaches the listener
	}{
		{"value", semgetNr, NotifResp{Val: 4242}, callResult{4242, 0}, true},
		{"zero", semgetNr, NotifResp{}, callResult{0, 0}, true},
		{"errno", semgetNr, NotifResp{Error: -int32(unix.EPERM)}, callResult{0, unix.EPERM}, true},
		{"continue", ppidNr, NotifResp{Flags: FlagContinue}, callResult{uintptr(os.Getppid()), 0}, true},
		{"errno action", semctlNr, NotifResp{}, callResult{0, unix.E2BIG}, false},
	}
	tt := startTrapped(t, testProgram(t), listenerFlags)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got callResult
			finished := tt.goDo(func() { got.r, got.e = syscall3(tc.nr, 0, 1, 0o600) })
			if tc.notif {
				n := recvTimeout(t, tt.listener)
				if n.Data.Nr != int32(tc.nr) {
					t.Errorf("notification for syscall %d, want %d", n.Data.Nr, tc.nr)
				}
				resp := tc.resp
				resp.ID = n.ID
				if err := Send(tt.listener, &resp); err != nil {
					t.Fatalf("Send: %v", err)
				}
			}
			<-finished
			if tc.want.e != 0 {
				got.r = 0
			}
			if got != tc.want {
				t.Errorf("call returned %d, %v; want %d, %v", got.r, got.e, tc.want.r, tc.want.e)
			}
		})
	}
}

func TestNotifContents(t *testing.T) {
	tt := startTrapped(t, testProgram(t), listenerFlags)
	var tid int
	tt.do(func() { tid = unix.Gettid() })
	finished := tt.goDo(func() { unix.Syscall6(semgetNr, 11, 22, 33, 44, 55, 66) })
	n := recvTimeout(t, tt.listener)
	if err := IDValid(tt.listener, n.ID); err != nil {
		t.Errorf("IDValid of a pending notification: %v", err)
	}
	if err := Send(tt.listener, &NotifResp{ID: n.ID}); err != nil {
		t.Fatal(err)
	}
	<-finished
	if n.PID != uint32(tid) {
		t.Errorf("PID %d, want the thread's TID %d", n.PID, tid)
	}
	if n.Data.Arch != uint32(nativeArch) || n.Data.Nr != semgetNr {
		t.Errorf("arch %#x nr %d, want %#x %d", n.Data.Arch, n.Data.Nr, uint32(nativeArch), semgetNr)
	}
	if want := [6]uint64{11, 22, 33, 44, 55, 66}; n.Data.Args != want {
		t.Errorf("args %v, want %v", n.Data.Args, want)
	}
	if n.Data.InstructionPointer == 0 {
		t.Errorf("instruction pointer is zero")
	}
	// Once answered, the notification is gone.
	if err := IDValid(tt.listener, n.ID); err != unix.ENOENT {
		t.Errorf("IDValid after Send: %v, want ENOENT", err)
	}
	if err := Send(tt.listener, &NotifResp{ID: n.ID}); err != unix.ENOENT {
		t.Errorf("second Send: %v, want ENOENT", err)
	}
}

func TestSendMalformed(t *testing.T) {
	tt := startTrapped(t, testProgram(t), listenerFlags)
	var got callResult
	finished := tt.goDo(func() { got.r, got.e = syscall3(semgetNr, 0, 1, 0) })
	n := recvTimeout(t, tt.listener)
	// FlagContinue with a return value is rejected, and the call is still
	// pending afterwards.
	if err := Send(tt.listener, &NotifResp{ID: n.ID, Val: 1, Flags: FlagContinue}); err != unix.EINVAL {
		t.Errorf("Send(continue with value): %v, want EINVAL", err)
	}
	if err := Send(tt.listener, &NotifResp{ID: n.ID, Val: 7}); err != nil {
		t.Errorf("Send after EINVAL: %v", err)
	}
	<-finished
	if got != (callResult{7, 0}) {
		t.Errorf("call returned %v", got)
	}
}

// TestSignalDuringNotification shows what FlagWaitKillableRecv is for: a
// non-fatal signal that arrives after the supervisor has received the
// notification aborts the call without it (the answer is then lost and the
// call is restarted as a new notification), and does not with it.
func TestSignalDuringNotification(t *testing.T) {
	tests := []struct {
		name      string
		flags     uint
		wantSend  error
		restarted bool
	}{
		{"wait killable", listenerFlags, nil, false},
		{"plain listener", FlagNewListener, unix.ENOENT, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tt := startTrapped(t, testProgram(t), tc.flags)
			var tid int
			tt.do(func() { tid = unix.Gettid() })
			var got callResult
			finished := tt.goDo(func() { got.r, got.e = syscall3(semgetNr, 0, 1, 0) })
			n := recvTimeout(t, tt.listener)
			// SIGURG is Go's preemption signal: handled, harmless, SA_RESTART.
			if err := unix.Tgkill(os.Getpid(), tid, unix.SIGURG); err != nil {
				t.Fatal(err)
			}
			time.Sleep(50 * time.Millisecond)
			if err := Send(tt.listener, &NotifResp{ID: n.ID, Val: 1}); err != tc.wantSend {
				t.Errorf("Send after signal: %v, want %v", err, tc.wantSend)
			}
			if tc.restarted {
				again := recvTimeout(t, tt.listener)
				if again.ID == n.ID {
					t.Errorf("restarted call has the same ID")
				}
				if err := Send(tt.listener, &NotifResp{ID: again.ID, Val: 2}); err != nil {
					t.Fatal(err)
				}
			}
			<-finished
			want := callResult{1, 0}
			if tc.restarted {
				want = callResult{2, 0}
			}
			if got != want {
				t.Errorf("call returned %v, want %v", got, want)
			}
		})
	}
}

// TestListenerClosed checks the kernel's behaviour when the supervisor goes
// away: pending and future trapped calls fail with ENOSYS; they never run.
func TestListenerClosed(t *testing.T) {
	tt := startTrapped(t, testProgram(t), listenerFlags)
	var pending callResult
	finished := tt.goDo(func() { pending.r, pending.e = syscall3(semgetNr, 0, 1, 0) })
	recvTimeout(t, tt.listener)
	if err := unix.Close(tt.listener); err != nil {
		t.Fatal(err)
	}
	<-finished
	if pending.e != unix.ENOSYS {
		t.Errorf("call pending while the listener closed: %d, %v; want ENOSYS", pending.r, pending.e)
	}
	var later callResult
	tt.do(func() { later.r, later.e = syscall3(semgetNr, 0, 1, 0) })
	if later.e != unix.ENOSYS {
		t.Errorf("call after the listener closed: %d, %v; want ENOSYS", later.r, later.e)
	}
	// Calls the filter fails by itself are unaffected.
	var errnoCall callResult
	tt.do(func() { errnoCall.r, errnoCall.e = syscall3(semctlNr, 0, 0, 0) })
	if errnoCall.e != unix.E2BIG {
		t.Errorf("ERRNO action after the listener closed: %v, want E2BIG", errnoCall.e)
	}
}

// TestOrphanedListener checks what the supervisor sees once no task uses
// the filter any more: POLLHUP, and Recv failing with ENOENT at once,
// including a Recv that was already blocked.
func TestOrphanedListener(t *testing.T) {
	tt := startTrapped(t, testProgram(t), listenerFlags)
	if ev, err := Poll(tt.listener, 0); err != nil || ev != 0 {
		t.Errorf("Poll on an idle listener: %#x, %v; want 0, nil", ev, err)
	}
	blocked := make(chan error, 1)
	go func() {
		var n Notif
		blocked <- Recv(tt.listener, &n)
	}()
	time.Sleep(50 * time.Millisecond)
	tt.stop()
	select {
	case err := <-blocked:
		if err != unix.ENOENT {
			t.Errorf("blocked Recv woke with %v, want ENOENT", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("blocked Recv did not wake when the filter was orphaned")
	}
	ev, err := Poll(tt.listener, 5000)
	if err != nil || ev&unix.POLLHUP == 0 {
		t.Errorf("Poll on an orphaned listener: %#x, %v; want POLLHUP", ev, err)
	}
	var n Notif
	if err := Recv(tt.listener, &n); err != unix.ENOENT {
		t.Errorf("Recv on an orphaned listener: %v, want ENOENT", err)
	}
	unix.Close(tt.listener)
}

func TestSetSyncWakeUp(t *testing.T) {
	tt := startTrapped(t, testProgram(t), listenerFlags)
	err := SetSyncWakeUp(tt.listener)
	if errors.Is(err, errors.ErrUnsupported) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	// Notifications still work.
	var got callResult
	finished := tt.goDo(func() { got.r, got.e = syscall3(semgetNr, 0, 0, 0) })
	n := recvTimeout(t, tt.listener)
	if err := Send(tt.listener, &NotifResp{ID: n.ID, Val: 9}); err != nil {
		t.Fatal(err)
	}
	<-finished
	if got != (callResult{9, 0}) {
		t.Errorf("call returned %v", got)
	}
	if err := SetSyncWakeUp(-1); err != unix.EBADF {
		t.Errorf("SetSyncWakeUp(-1): %v, want EBADF", err)
	}
}

func TestAddFD(t *testing.T) {
	tests := []struct {
		name  string
		send  bool
		flags uint32
	}{
		{"with send", true, 0},
		{"then Send", false, unix.O_CLOEXEC},
	}
	tt := startTrapped(t, testProgram(t), listenerFlags)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, w, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			defer w.Close()
			var got callResult
			var fdFlags int
			var wrote int
			finished := tt.goDo(func() {
				got.r, got.e = syscall3(semgetNr, 0, 0, 0)
				if got.e == 0 {
					fdFlags, _ = unix.FcntlInt(got.r, unix.F_GETFD, 0)
					wrote, _ = unix.Write(int(got.r), []byte("hi"))
					unix.Close(int(got.r))
				}
			})
			n := recvTimeout(t, tt.listener)
			newFD, err := AddFD(tt.listener, n.ID, int(w.Fd()), tc.flags, tc.send)
			if err != nil {
				t.Fatalf("AddFD: %v", err)
			}
			if !tc.send {
				if err := Send(tt.listener, &NotifResp{ID: n.ID, Val: int64(newFD)}); err != nil {
					t.Fatal(err)
				}
			}
			<-finished
			if got.e != 0 || int(got.r) != newFD {
				t.Fatalf("call returned %d, %v; want fd %d", got.r, got.e, newFD)
			}
			if wantCloexec := tc.flags&unix.O_CLOEXEC != 0; (fdFlags&unix.FD_CLOEXEC != 0) != wantCloexec {
				t.Errorf("fd flags %#x, want close-on-exec %v", fdFlags, wantCloexec)
			}
			buf := make([]byte, 2)
			if wrote != 2 {
				t.Fatalf("wrote %d bytes through the added fd", wrote)
			}
			if _, err := r.Read(buf); err != nil || string(buf) != "hi" {
				t.Errorf("read %q, %v through the pipe", buf, err)
			}
		})
	}
	if _, err := AddFD(tt.listener, 12345, 0, 0, true); err != unix.ENOENT {
		t.Errorf("AddFD for an unknown ID: %v, want ENOENT", err)
	}
}

// TestListenerAllocs proves that the supervisor's hot path, Poll, Recv,
// IDValid and Send, does not allocate.
func TestListenerAllocs(t *testing.T) {
	const runs = 200
	tt := startTrapped(t, testProgram(t), listenerFlags)
	// AllocsPerRun calls the function runs+1 times.
	finished := tt.goDo(func() {
		for i := 0; i < runs+1; i++ {
			syscall3(semgetNr, 0, 0, 0)
		}
	})
	var n Notif
	var resp NotifResp
	var failed error
	allocs := testing.AllocsPerRun(runs, func() {
		if _, err := Poll(tt.listener, -1); err != nil {
			failed = err
		}
		if err := Recv(tt.listener, &n); err != nil {
			failed = err
		}
		if err := IDValid(tt.listener, n.ID); err != nil {
			failed = err
		}
		resp = NotifResp{ID: n.ID, Val: 1}
		if err := Send(tt.listener, &resp); err != nil {
			failed = err
		}
	})
	<-finished
	if failed != nil {
		t.Fatal(failed)
	}
	if allocs != 0 {
		t.Errorf("%v allocations per round trip, want 0", allocs)
	}
}

func TestInstallErrors(t *testing.T) {
	t.Run("nested listener", func(t *testing.T) {
		tt := startTrapped(t, testProgram(t), listenerFlags)
		var err error
		tt.do(func() { _, err = Install(testProgram(t), listenerFlags) })
		if !errors.Is(err, unix.EBUSY) {
			t.Errorf("second listener on the same thread: %v, want EBUSY", err)
		}
		// A filter without a listener stacks fine.
		tt.do(func() { _, err = Install(testProgram(t), 0) })
		if err != nil {
			t.Errorf("stacking a filter without listener: %v", err)
		}
	})
	t.Run("no privileges", func(t *testing.T) {
		errc := make(chan error, 1)
		goOnNonMainThread(func() {
			// Drop CAP_SYS_ADMIN on this thread only (capabilities are per
			// thread), and do not set no_new_privs.
			hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
			var data [2]unix.CapUserData
			if err := unix.Capget(&hdr, &data[0]); err != nil {
				errc <- err
				return
			}
			data[0].Effective &^= 1 << unix.CAP_SYS_ADMIN
			if err := unix.Capset(&hdr, &data[0]); err != nil {
				errc <- err
				return
			}
			_, err := Install(testProgram(t), listenerFlags)
			errc <- err
		})
		if err := <-errc; !errors.Is(err, unix.EACCES) {
			t.Errorf("Install without no_new_privs or CAP_SYS_ADMIN: %v, want EACCES", err)
		}
	})
	t.Run("empty program", func(t *testing.T) {
		if _, err := Install(nil, 0); err == nil {
			t.Errorf("Install(nil) succeeded")
		}
	})
}

func TestCheckFlags(t *testing.T) {
	tests := []struct {
		name        string
		flags       uint
		ok          bool
		unsupported bool
	}{
		{"none", 0, true, false},
		{"sembox flags", listenerFlags, true, false},
		{"unknown flag", 1 << 20, false, true},
		{"wait killable without listener", FlagWaitKillableRecv, false, false},
		{"tsync with listener", FlagTSync | FlagNewListener, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckFlags(tc.flags)
			if (err == nil) != tc.ok {
				t.Fatalf("CheckFlags(%#x) = %v, want ok=%v", tc.flags, err, tc.ok)
			}
			if errors.Is(err, ErrUnsupportedFlags) != tc.unsupported {
				t.Errorf("CheckFlags(%#x) = %v, want unsupported=%v", tc.flags, err, tc.unsupported)
			}
		})
	}
}

// TestCloseWhileRecvBlocked documents a kernel subtlety that the Recv doc
// warns about: close does not wake a blocked Recv, and the listener is torn
// down only when that Recv returns (with the next notification, whose call
// then fails with ENOSYS).
func TestCloseWhileRecvBlocked(t *testing.T) {
	tt := startTrapped(t, testProgram(t), listenerFlags)
	blocked := make(chan error, 1)
	go func() {
		var n Notif
		blocked <- Recv(tt.listener, &n)
	}()
	time.Sleep(50 * time.Millisecond)
	unix.Close(tt.listener)
	select {
	case err := <-blocked:
		t.Fatalf("close woke the blocked Recv (%v); the kernel's behaviour changed", err)
	case <-time.After(100 * time.Millisecond):
	}
	var got callResult
	tt.do(func() { got.r, got.e = syscall3(semgetNr, 0, 0, 0) })
	if got.e != unix.ENOSYS {
		t.Errorf("trapped call after close: %v, want ENOSYS", got)
	}
	select {
	case err := <-blocked:
		t.Logf("blocked Recv returned %v", err)
	case <-time.After(5 * time.Second):
		t.Errorf("blocked Recv did not return after the next notification")
	}
}
