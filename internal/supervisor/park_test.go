package supervisor

import (
	"container/heap"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestSignalledThread checks which thread a pending signal interrupts,
// as Linux's complete_signal decides: one sent to the thread interrupts
// it; one sent to the process goes to the thread group's leader unless the
// leader blocks it.
func TestSignalledThread(t *testing.T) {
	const usr1 = 1 << (unix.SIGUSR1 - 1)
	const tid, tgid = 101, 100
	tests := []struct {
		name   string
		tid    int32
		first  taskStatus  // the waiting thread's status that showed a signal
		leader *taskStatus // the leader's, nil if it cannot be read
		again  *taskStatus // the thread's, read after the leader's; nil if gone
		want   bool
	}{
		{"sent to the thread", tid, taskStatus{sigPnd: usr1}, nil, nil, true},
		{"the leader waits itself", tgid, taskStatus{shdPnd: usr1}, nil, nil, true},
		{"for the process, the leader takes it", tid, taskStatus{shdPnd: usr1},
			&taskStatus{}, &taskStatus{shdPnd: usr1}, false},
		{"for the process, the leader blocks it", tid, taskStatus{shdPnd: usr1},
			&taskStatus{sigBlk: usr1}, &taskStatus{shdPnd: usr1}, true},
		{"taken by the leader, which blocks it in its handler", tid, taskStatus{shdPnd: usr1},
			&taskStatus{sigBlk: usr1}, &taskStatus{}, false},
		{"sent to the thread meanwhile", tid, taskStatus{shdPnd: usr1},
			&taskStatus{}, &taskStatus{sigPnd: usr1}, true},
		{"the leader is gone", tid, taskStatus{shdPnd: usr1}, nil, &taskStatus{shdPnd: usr1}, true},
		{"the leader is a zombie", tid, taskStatus{shdPnd: usr1},
			&taskStatus{zombie: true}, &taskStatus{shdPnd: usr1}, true},
		{"the thread is gone", tid, taskStatus{shdPnd: usr1}, &taskStatus{sigBlk: usr1}, nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			read := func(id int32, into *taskStatus) error {
				var from *taskStatus
				switch id {
				case tgid:
					from = tc.leader
				case tc.tid:
					from = tc.again
				}
				if from == nil {
					return unix.ENOENT
				}
				*into = *from
				return nil
			}
			st, leader := tc.first, taskStatus{}
			if got := signalledThread(tc.tid, tgid, &st, read, &leader); got != tc.want {
				t.Errorf("signalledThread = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestPollIntervals: a parked call is checked for signals at 2, 4, 8 and
// 16 ms, then every 20 ms, and past 100 parked calls goes from 20 ms
// straight to the interval the polling budget allows for their number.
func TestPollIntervals(t *testing.T) {
	for _, tc := range []struct {
		parked int
		want   []time.Duration
	}{
		{10, []time.Duration{4, 8, 16, 20, 20, 20}},
		// 1,000 calls at 10 µs a check within 1% of a CPU: 1 s apart.
		{999, []time.Duration{4, 8, 16, 20, 1000, 1000}},
		{9999, []time.Duration{4, 8, 16, 20, 10000, 10000}},
	} {
		s := &Supervisor{}
		s.pollCost.Store(int64(10 * time.Microsecond))
		s.parked = make(parkHeap, tc.parked)
		iv := firstSignalCheck
		for i, w := range tc.want {
			iv = s.nextIntervalLocked(iv)
			if iv != w*time.Millisecond {
				t.Errorf("%d parked: interval %d is %v, want %v", tc.parked, i+2, iv, w*time.Millisecond)
			}
		}
	}
}

// TestExpediteDuringCheck: a burst asked for while the watcher is looking
// at the call (a trapped kill let go just as the call's regular check
// came) is kept: the check may have come just before the signal became
// pending, so the next ones follow at burstInterval, not at the call's
// next regular interval.
func TestExpediteDuringCheck(t *testing.T) {
	s := &Supervisor{kick: make(chan struct{}, 1), stop: make(chan struct{})}
	s.features.KillableWait = true
	s.pollCost.Store(int64(10 * time.Microsecond))
	tid := int32(unix.Gettid()) // a live thread with no signal pending
	p := &process{tgid: int32(unix.Getpid()), parked: map[*call]struct{}{}}
	s.procs.Store(p.tgid, p)
	c := s.newCall()
	c.th = &thread{tid: tid, proc: p, pidfd: -1}
	c.interval = firstSignalCheck
	s.mu.Lock()
	c.due = now() // its regular check is due at once
	heap.Push(&s.parked, c)
	p.parked[c] = struct{}{}
	s.nparked.Add(1)
	s.mu.Unlock()

	checks := make(chan [2]int, 16) // burst and interval seen by each check
	s.checkHook = func(c *call) {
		// Looked at under s.mu only by the watcher and expediteAt.
		s.mu.Lock()
		seen := [2]int{c.burst, int(c.interval)}
		s.mu.Unlock()
		if seen[0] == 0 && seen[1] == int(firstSignalCheck) {
			s.expedite(p.tgid, false) // the kill goes out now
		}
		checks <- seen
	}
	go s.watchParked()
	defer close(s.stop)

	first := <-checks
	if first != [2]int{0, int(firstSignalCheck)} {
		t.Fatalf("first check saw burst %d interval %v, want its regular check", first[0], time.Duration(first[1]))
	}
	select {
	case next := <-checks:
		if next[0] != burstChecks-1 || time.Duration(next[1]) != burstInterval {
			t.Errorf("check after the expedite saw burst %d interval %v, want %d and %v",
				next[0], time.Duration(next[1]), burstChecks-1, burstInterval)
		}
	case <-time.After(time.Second):
		t.Fatal("no check within a second of the expedite: the burst was lost")
	}
}
