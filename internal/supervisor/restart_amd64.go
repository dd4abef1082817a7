package supervisor

import "encoding/binary"

// The x86-64 signal frame (struct rt_sigframe) as the kernel writes it
// below the interrupted stack pointer: a return address, then struct
// ucontext, whose struct sigcontext holds the saved registers. Offsets
// from the start of the frame.
const (
	frameRAX = 152
	frameRSP = 168
	frameRIP = 176
	frameMin = 256 // enough to hold the fields above

	// The frame lies below the 128-byte red zone and below the saved
	// extended FPU state (up to ~11 KB with AMX).
	redZone      = 128
	frameScanMax = 16 << 10
)

// syscallInsnLen is the length of the syscall instruction: a restart
// moves the instruction pointer back by it.
const syscallInsnLen = 2

// findRestartFrame looks below sp for the signal frame of a restart of
// system call nr made at pc (the address after the syscall instruction):
// saved RSP sp, RIP pc-2 and RAX nr, and returns its address.
//
// The frame's distance below sp depends only on the size of the FPU
// state the kernel saves and on sp's alignment, so once a frame has been
// found at some distance for an alignment class, that distance is tried
// first (one small read); the whole range is scanned otherwise.
func (w *worker) findRestartFrame(sp, pc, nr uint64) (uint64, bool) {
	if sp < redZone+frameMin+frameScanMax {
		return 0, false
	}
	class := &w.s.cut.frameDist[(sp/8)%8]
	if d := class.Load(); d != 0 {
		var b [frameMin]byte
		at := sp - uint64(d)
		if w.mem.CopyIn(at, b[:]) == 0 && isRestartFrame(b[:], sp, pc, nr) {
			return at, true
		}
	}
	if cap(w.stack) < frameScanMax {
		w.stack = make([]byte, frameScanMax)
	}
	base, b := w.readBelow(sp-redZone, w.stack[:frameScanMax])
	// The frame starts 8 bytes off a 16-byte boundary.
	for off := len(b) - frameMin; off >= 0; off-- {
		at := base + uint64(off)
		if at%16 != 8 || !isRestartFrame(b[off:], sp, pc, nr) {
			continue
		}
		class.Store(int64(sp - at))
		return at, true
	}
	return 0, false
}

// isRestartFrame reports whether b holds the frame of a restarted call.
func isRestartFrame(b []byte, sp, pc, nr uint64) bool {
	le := binary.LittleEndian
	return le.Uint64(b[frameRSP:]) == sp && le.Uint64(b[frameRIP:]) == pc-syscallInsnLen &&
		le.Uint64(b[frameRAX:]) == nr
}

// deface clears the saved instruction pointer of the dead frame at, so
// that it is never matched again.
// Precondition: the caller is blocked in its call, unanswered.
func (w *worker) deface(at uint64) {
	var zero [8]byte
	w.mem.CopyOut(at+frameRIP, zero[:])
}
