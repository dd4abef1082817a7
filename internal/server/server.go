// Package server holds one System V semaphore namespace and serves the
// sandboxes that use it, its members. Each member is a seccomp listener,
// served by its own supervisor; all of them share the namespace, as the
// processes of one kernel IPC namespace do. A member ends when every
// process that uses its filter has gone: its undo lists are applied and
// its supervisor released, and the namespace lives on.
//
// An anonymous sandbox (`sembox run`) is a server with one member, its
// own program, that others may join (`sembox run --ns PID`); a shared
// namespace (`sembox run --ns NAME`) is a server in a background process
// whose members all joined through its socket.
package server

import (
	"io"
	"sort"
	"sync"
	"time"

	"github.com/sembox/sembox/internal/supervisor"
	"github.com/sembox/sembox/sem"
)

// Server is a namespace and its members.
type Server struct {
	ns      *sem.Namespace
	clock   sem.Clock
	created time.Time

	// mu protects members and nextID.
	mu      sync.Mutex
	members map[int]*member
	nextID  int
	// changed is closed and replaced whenever a member joins or leaves.
	changed chan struct{}

	// order is shared by the members' supervisors: calls take effect in
	// the order they were received, across members too.
	order supervisor.ArrivalOrder
}

// member is a sandbox served by the server.
type member struct {
	info Member
	sup  *supervisor.Supervisor
}

// Member describes a member sandbox.
type Member struct {
	ID      int       `json:"id"`      // the server's number for it, from 1
	PID     int       `json:"pid"`     // the sembox process that runs it
	UID     uint32    `json:"uid"`     // that process's user
	Command []string  `json:"command"` // what it runs
	Joined  time.Time `json:"joined"`
}

// New returns a server for namespace ns, whose clock is clock.
func New(ns *sem.Namespace, clock sem.Clock) *Server {
	return &Server{ns: ns, clock: clock, created: time.Now(), members: make(map[int]*member), changed: make(chan struct{})}
}

// Namespace returns the namespace the server holds.
func (s *Server) Namespace() *sem.Namespace { return s.ns }

// Created returns when the server started.
func (s *Server) Created() time.Time { return s.created }

// JoinConfig is how a member wants to be served.
type JoinConfig struct {
	Member Member    // PID, UID and Command; ID and Joined are set by Join
	Trace  io.Writer // one line per served call, or nil
	// Closer, if set, is closed when the member has gone (its trace
	// file, say).
	Closer io.Closer
	// Benchmarks only (see supervisor.Config).
	Floor, MeasureRecvWindow bool
}

// Join starts serving listener, a seccomp listener descriptor, as a new
// member, and owns it from then on, even on failure (it is then closed).
// The supervisor is serving when Join returns.
func (s *Server) Join(listener int, c JoinConfig) (*supervisor.Supervisor, Member, error) {
	sup, err := supervisor.New(supervisor.Config{Listener: listener, Namespace: s.ns, Clock: s.clock,
		Trace: c.Trace, Floor: c.Floor, MeasureRecvWindow: c.MeasureRecvWindow, Order: &s.order, Signals: s})
	if err != nil {
		closeListener(listener)
		if c.Closer != nil {
			c.Closer.Close()
		}
		return nil, Member{}, err
	}
	s.mu.Lock()
	s.nextID++
	m := &member{info: c.Member, sup: sup}
	m.info.ID = s.nextID
	m.info.Joined = time.Now()
	s.members[m.info.ID] = m
	s.changedLocked()
	s.mu.Unlock()
	sup.Serve(0)
	go func() {
		<-sup.Done()
		if c.Closer != nil {
			c.Closer.Close()
		}
		s.mu.Lock()
		delete(s.members, m.info.ID)
		s.changedLocked()
		s.mu.Unlock()
	}()
	return sup, m.info, nil
}

// changedLocked wakes those waiting for a change of members.
// Precondition: s.mu is held.
func (s *Server) changedLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// Members lists the members, oldest first.
func (s *Server) Members() []Member {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Member, 0, len(s.members))
	for _, m := range s.members {
		out = append(out, m.info)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// WaitEmpty returns once the server has no member other than the one
// numbered except (0: none), or when stop is closed.
func (s *Server) WaitEmpty(except int, stop <-chan struct{}) {
	for {
		s.mu.Lock()
		n, ch := len(s.members), s.changed
		if _, ok := s.members[except]; ok {
			n--
		}
		s.mu.Unlock()
		if n == 0 {
			return
		}
		select {
		case <-ch:
		case <-stop:
			return
		}
	}
}

// WaitGone waits, up to timeout, for the members whose processes have
// all gone to be released, so that Members no longer lists them.
func (s *Server) WaitGone(timeout time.Duration) {
	deadline := time.After(timeout)
	for _, sup := range s.supervisors() {
		if !sup.Gone() {
			continue
		}
		select {
		case <-sup.Done():
		case <-deadline:
			return
		}
	}
}

func (s *Server) supervisors() []*supervisor.Supervisor {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*supervisor.Supervisor, 0, len(s.members))
	for _, m := range s.members {
		out = append(out, m.sup)
	}
	return out
}

// Adjustments returns the SEM_UNDO adjustments that live processes of
// every member hold for set id, by process id.
func (s *Server) Adjustments(id int32) map[int32][]int16 {
	out := make(map[int32][]int16)
	for _, sup := range s.supervisors() {
		for pid, a := range sup.Adjustments(id) {
			out[pid] = a
		}
	}
	return out
}

// Settle handles the exits every member's kernel has reported already,
// so that an observer from outside sees the undo of a process known to
// be dead.
func (s *Server) Settle() {
	for _, sup := range s.supervisors() {
		sup.HandleReportedExits()
	}
}

// Image returns the namespace's state at one instant as if every member
// had exited then (their SEM_UNDO adjustments applied to the image, not
// to the namespace): what a restart from a saved image starts from.
func (s *Server) Image() (*sem.Image, sem.ImageStats) {
	var owners []sem.UndoOwner
	for _, sup := range s.supervisors() {
		owners = append(owners, sup.UndoOwners()...)
	}
	return s.ns.Image(owners)
}

// Sent tells every member's supervisor of a signal a member is sending
// (supervisor.SignalRouter): its target may be served by any of them.
// With cont (a SIGCONT), all look before it is sent; with look, each
// looks once right after (see Supervisor.SignalSending).
func (s *Server) Sent(tgid int32, cont, look bool, send func()) {
	sups := s.supervisors()
	if cont {
		for _, sup := range sups {
			sup.SignalSending(tgid, true, false, nil)
		}
	}
	send()
	for _, sup := range sups {
		sup.SignalSending(tgid, false, look, nil)
	}
}
