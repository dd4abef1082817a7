package seccomp

import (
	"runtime"
	"testing"

	"golang.org/x/sys/unix"
)

// trappedThread is an OS thread of the test process with a seccomp filter
// installed on it. The filter is inherited by nothing else (the Go runtime
// never clones threads from a locked thread), and the thread is destroyed
// when the trappedThread is stopped, so tests can install filters in their
// own process.
type trappedThread struct {
	listener int
	calls    chan func()
	done     chan struct{}
}

// startTrapped starts a thread with prog installed with flags, and returns
// it once the filter is in place. It fails the test if Install fails.
func startTrapped(t testing.TB, prog []unix.SockFilter, flags uint) *trappedThread {
	t.Helper()
	tt, err := tryStartTrapped(prog, flags)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tt.stop)
	return tt
}

// tryStartTrapped is startTrapped returning the Install error.
func tryStartTrapped(prog []unix.SockFilter, flags uint) (*trappedThread, error) {
	tt := &trappedThread{listener: -1, calls: make(chan func()), done: make(chan struct{})}
	errc := make(chan error, 1)
	goOnNonMainThread(func() {
		defer close(tt.done)
		// no_new_privs is per thread too; setting it lets the tests run
		// without CAP_SYS_ADMIN.
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			errc <- err
			return
		}
		fd, err := Install(prog, flags)
		tt.listener = fd
		errc <- err
		if err != nil {
			return
		}
		for f := range tt.calls {
			f()
		}
	})
	if err := <-errc; err != nil {
		<-tt.done
		return nil, err
	}
	return tt, nil
}

// goOnNonMainThread runs f on a new goroutine locked to an OS thread other
// than the process's main thread, and lets the thread exit when f returns.
// (When a goroutine exits locked, Go terminates its thread, except the main
// thread, which it parks forever with its seccomp filter still attached.)
func goOnNonMainThread(f func()) {
	go func() {
		runtime.LockOSThread()
		if unix.Gettid() != unix.Getpid() {
			f()
			return // still locked: the thread exits
		}
		// Hold the main thread while another goroutine locks a thread,
		// which therefore cannot be the main one, then give it back.
		locked := make(chan struct{})
		goOnNonMainThread(func() { close(locked); f() })
		<-locked
		runtime.UnlockOSThread()
	}()
}

// do runs f on the trapped thread and waits for it to return.
func (tt *trappedThread) do(f func()) {
	finished := make(chan struct{})
	tt.calls <- func() { f(); close(finished) }
	<-finished
}

// goDo runs f on the trapped thread and returns at once; the returned
// channel is closed when f has returned.
func (tt *trappedThread) goDo(f func()) <-chan struct{} {
	finished := make(chan struct{})
	tt.calls <- func() { f(); close(finished) }
	return finished
}

// stop ends the thread (idempotent) and waits until the kernel has dropped
// it from the filter's users. The listener stays open.
func (tt *trappedThread) stop() {
	select {
	case <-tt.done:
		return
	default:
	}
	close(tt.calls)
	<-tt.done
}

// syscall3 makes a raw system call; the tests use it on trapped threads so
// that errors come back as plain errnos.
func syscall3(nr, a1, a2, a3 uintptr) (uintptr, unix.Errno) {
	r, _, e := unix.Syscall(nr, a1, a2, a3)
	return r, e
}
