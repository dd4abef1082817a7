package supervisor

import (
	"golang.org/x/sys/unix"

	"github.com/sembox/sembox/internal/seccomp"
)

// Done returns a channel that is closed once every task of the sandbox
// has gone and the supervisor has let go of everything it held: the undo
// lists of its thread groups are applied, its waiters ended, its
// goroutines returned and its descriptors, the listener's included,
// closed. The namespace it served lives on.
func (s *Supervisor) Done() <-chan struct{} { return s.done }

// Gone reports whether every task of the sandbox has gone (the supervisor
// is then being released, or is: see Done).
func (s *Supervisor) Gone() bool {
	select {
	case <-s.done:
		return true
	default:
	}
	if s.closing.Load() {
		return true
	}
	s.fdsMu.RLock()
	defer s.fdsMu.RUnlock()
	if s.fdsClosed {
		return true
	}
	ev, err := seccomp.Poll(s.fd, 0)
	return err == nil && ev&unix.POLLHUP != 0
}

// workerExited is called by each worker as it returns, which workers do
// once the listener reports that no task uses the filter any more; the
// last one tears the supervisor down.
func (s *Supervisor) workerExited() {
	if s.nworkers.Add(-1) == 0 {
		go s.teardown()
	}
}

// teardown releases a supervisor whose sandbox is gone.
func (s *Supervisor) teardown() {
	s.HandleReportedExits()
	// No task uses the filter any more, so every thread group the
	// supervisor knows is gone, whether or not its pidfd has fired yet.
	s.procs.Range(func(_, v any) bool {
		s.groupExited(v.(*process))
		return true
	})
	close(s.stop)
	s.kickWatcher(0)
	s.timers.stopAll()
	one := []byte{1, 0, 0, 0, 0, 0, 0, 0}
	unix.Write(s.evfd, one)
	<-s.exitsDone

	s.fdsMu.Lock()
	s.fdsClosed = true
	s.threads.Range(func(k, v any) bool {
		closeFD(v.(*thread).pidfd)
		s.threads.Delete(k)
		return true
	})
	s.procs.Range(func(k, v any) bool {
		closeFD(v.(*process).pidfd)
		s.procs.Delete(k)
		return true
	})
	unix.Close(s.epfd)
	unix.Close(s.evfd)
	s.fdsMu.Unlock()

	s.writersMu.Lock()
	for _, lw := range s.writers {
		unix.Close(lw.fd)
	}
	s.writers = nil
	s.writersMu.Unlock()
	unix.Close(s.fd)
	close(s.done)
}
