package supervisor

import (
	"bytes"
	"strconv"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// Calls cut short before receipt.
//
// A trapped call sleeps until a worker receives it. A signal that arrives
// in that window ends the wait: the kernel drops the notification and the
// call fails with EINTR, or, if the handler was installed with SA_RESTART,
// is made again after the handler has run. For a semop that then blocks,
// the restart is wrong: the caller was visibly asleep in semop (state S)
// when the signal came, and Linux ends such a wait with EINTR and never
// restarts it. sembox cannot stop the restart, but it can recognise the
// restarted call and end it with EINTR as soon as it blocks.
//
// The kernel numbers a listener's notifications consecutively, so a gap
// in the ids received counts the calls cut short (cutShort). A restarted
// call is recognised by the stale signal frame the handler left on its
// stack, just below the caller's stack pointer: its saved registers are
// those of the restarted call (the syscall number back in the result
// register, the instruction pointer moved back onto the syscall
// instruction, the same stack pointer), which the kernel writes only when
// it restarts a call. The frame is then defaced so that it is matched
// once. Only blocking calls made while a cut is unclaimed and recent are
// examined, once parked; a recognised one ends with EINTR at once. The
// caller's stack is written only while its call is unanswered, so that
// the memory below its stack pointer is surely dead. A call whose handler
// ran on an alternate signal stack is not recognised.
//
// Without killable wait (commit mode) the kernel also ends calls already
// received and parked. Their thread is known, so they are not counted
// here: the thread's next semaphore call is examined (see dropEnded).
// Counting them here let a restart recognised before its cut was counted
// take another thread's count.
type cutShort struct {
	// unclaimed counts the cuts whose restarted call has not been
	// recognised yet; at is when the last cut was seen (nanotime).
	unclaimed atomic.Int64
	at        atomic.Int64
	total     atomic.Uint64 // every cut seen

	// frameDist is, per alignment class of the stack pointer (sp/8 mod
	// 8), the distance below it at which a restart's signal frame was
	// last found (see findRestartFrame), or 0.
	frameDist [8]atomic.Int64
}

// restartHorizon is how long after a cut a blocking call is examined: the
// restart follows the signal handler at once, unless the handler itself
// takes long.
const restartHorizon = time.Second

// note records n calls cut short.
func (c *cutShort) note(n uint64) {
	c.at.Store(nanotime())
	c.unclaimed.Add(int64(n))
	c.total.Add(n)
}

// pending reports whether a blocking call should be examined.
func (c *cutShort) pending() bool {
	if c.unclaimed.Load() <= 0 {
		return false
	}
	if time.Duration(nanotime()-c.at.Load()) > restartHorizon {
		c.unclaimed.Store(0)
		return false
	}
	return true
}

// seen records a parked call the kernel ended, which its thread may make
// again: for recent only, as the thread is known (see dropEnded).
func (c *cutShort) seen() {
	c.at.Store(nanotime())
	c.total.Add(1)
}

// recentCuts is how long after a cut the workers receive ahead.
const recentCuts = 100 * time.Millisecond

// recent reports whether calls were cut short lately.
func (c *cutShort) recent() bool {
	return c.total.Load() != 0 && time.Duration(nanotime()-c.at.Load()) < recentCuts
}

// claim records that one restarted call was recognised.
func (c *cutShort) claim() { c.unclaimed.Add(-1) }

// restartedBySignal reports whether the semaphore call in w.n, parked as
// c, is one the kernel restarted after a signal handler, as told by the
// stale signal frame below its stack pointer, and defaces that frame.
func (w *worker) restartedBySignal(c *call) bool {
	n := &w.n
	w.mem.tid = int32(n.PID)
	sp, pc, ok := w.syscallRegs(int32(n.PID), n.Data.Nr)
	if !ok || pc != n.Data.InstructionPointer {
		return false
	}
	at, ok := w.findRestartFrame(sp, pc, uint64(n.Data.Nr))
	if !ok {
		return false
	}
	s := w.s
	if s.commitMode() {
		return w.newRestartFrame(c, at)
	}
	// What was read is the caller's dead stack only if the caller has
	// been in this call all along: c not answered yet. Answers are sent
	// after finishLocked, under s.mu, so holding it keeps the caller in
	// the call while the frame is defaced.
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.finished {
		return false
	}
	w.deface(at)
	return true
}

// frameKeyLen is how much of a restart's signal frame tells it apart
// from the next one at the same place (saved registers, signal mask).
const frameKeyLen = 256

// newRestartFrame reports whether the restart frame found at address at
// below the stack of c's caller is not the one matched last for that
// thread, and remembers it. It is the commit mode's way of matching a
// frame once: without killable wait a signal can end the caller's call
// at any moment, after which the memory below its stack pointer is live
// again (the next handler's frame lies exactly there), so it must not be
// written. A second restart that leaves a frame identical in every byte
// at the same place (the same call, signal, sender and mask) is then
// taken for the old one: that call blocks again instead of ending with
// EINTR.
func (w *worker) newRestartFrame(c *call, at uint64) bool {
	var b [frameKeyLen]byte
	if w.mem.CopyIn(at, b[:]) != 0 {
		return false
	}
	s := w.s
	// The frame belongs to c only if c is still pending now: else the
	// thread has moved on (c was ended by a signal, and the frame may be
	// that of c's own restart, which is examined when it is served).
	if s.idValid(c.id) != nil {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	th := c.th
	if c.finished || (th.lastFrame != nil && th.lastFrameAt == at && *th.lastFrame == b) {
		return false
	}
	if th.lastFrame == nil {
		th.lastFrame = new([frameKeyLen]byte)
	}
	th.lastFrameAt, *th.lastFrame = at, b
	return true
}

// syscallRegs reads the stack pointer and instruction pointer of thread
// tid, blocked in system call nr, from /proc/TID/syscall ("NR ARG1 ...
// ARG6 SP PC").
func (w *worker) syscallRegs(tid int32, nr int32) (sp, pc uint64, ok bool) {
	path := "/proc/" + strconv.Itoa(int(tid)) + "/syscall"
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, 0, false
	}
	m, err := unix.Read(fd, w.buf)
	unix.Close(fd)
	if err != nil || m <= 0 {
		return 0, 0, false
	}
	f := bytes.Fields(w.buf[:m])
	if len(f) != 9 || string(f[0]) != strconv.Itoa(int(nr)) {
		return 0, 0, false
	}
	sp, err1 := strconv.ParseUint(string(f[7]), 0, 64)
	pc, err2 := strconv.ParseUint(string(f[8]), 0, 64)
	return sp, pc, err1 == nil && err2 == nil
}

// readBelow reads up to len(buf) bytes ending at addr from the caller, a
// page at a time from the top down, and returns the address of the first
// byte read and the bytes read (fewer where the stack is not mapped).
func (w *worker) readBelow(addr uint64, buf []byte) (uint64, []byte) {
	end := addr
	got := 0
	for got < len(buf) {
		chunk := int(end % 4096)
		if chunk == 0 {
			chunk = 4096
		}
		chunk = min(chunk, len(buf)-got)
		start := end - uint64(chunk)
		dst := buf[len(buf)-got-chunk : len(buf)-got]
		if w.mem.CopyIn(start, dst) != 0 {
			break
		}
		got += chunk
		end = start
	}
	return end, buf[len(buf)-got:]
}
