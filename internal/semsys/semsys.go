// Package semsys is the system-call surface of the engine: it turns the
// raw arguments of a trapped semget, semop, semtimedop or semctl into
// engine calls, reading and writing the caller's memory in exactly the
// places, and the order, where Linux does (so a bad pointer gives EFAULT
// where the kernel gives it, and nothing is read twice).
//
// It knows the x86_64 argument conventions and structure layouts (package
// abi) but nothing about how the caller is trapped: memory access is an
// interface and the caller's identity arrives as a sem.Task.
package semsys

import (
	"github.com/sembox/sembox/abi"
	"github.com/sembox/sembox/sem"
)

// Memory is the caller's address space.
type Memory interface {
	// CopyIn fills dst from the caller's memory at addr, or returns
	// EFAULT if any byte cannot be read.
	CopyIn(addr uint64, dst []byte) sem.Errno
	// CopyOut writes src to the caller's memory at addr, or returns
	// EFAULT if any byte cannot be written (a prefix may have been
	// written, as with the kernel's copy_to_user).
	CopyOut(addr uint64, src []byte) sem.Errno
}

// Scratch is a serving thread's reusable buffers, so that serving a call
// does not allocate once they have grown. The zero value is ready to use;
// a Scratch must not be shared between concurrent calls.
type Scratch struct {
	raw  []byte
	sops []abi.Sembuf
	last []abi.Sembuf // the operations of the last semop decoded
	vals []uint16
}

// keepMax is the largest buffer a Scratch keeps between calls. Larger
// ones (possible only after a privileged caller raised SEMOPM or SEMMSL
// far above their defaults) are allocated for one call and left to the
// garbage collector, so that one such call does not pin gigabytes.
const keepMax = 1 << 20

func (sc *Scratch) bytes(n int) []byte {
	if n > keepMax {
		return make([]byte, n)
	}
	if cap(sc.raw) < n {
		sc.raw = make([]byte, n)
	}
	return sc.raw[:n]
}

// Semget serves semget(key, nsems, semflg).
func Semget(ns *sem.Namespace, t *sem.Task, key, nsems, semflg uint64) (int64, sem.Errno) {
	id, err := ns.Semget(t, int32(key), int32(nsems), int32(semflg))
	return int64(id), err
}

// SemopResult is the outcome of a semop or semtimedop call.
type SemopResult struct {
	Err sem.Errno // 0 on success, unless Blocked
	// Blocked is true when the call waits on its Waiter; Timeout then
	// tells the caller's relative timeout, if it gave one.
	Blocked    bool
	HasTimeout bool
	Timeout    abi.Timespec
}

// Semtimedop serves semtimedop(semid, sops, nsops, timeout); semop is the
// same call with timeoutAddr 0. The order follows Linux's
// ksys_semtimedop and do_semtimedop: the timeout is read first (EFAULT),
// then nsops is checked (E2BIG, EINVAL), then the operations are read
// (EFAULT), then the engine applies the remaining checks.
func Semtimedop(ns *sem.Namespace, t *sem.Task, mem Memory, sc *Scratch,
	semid, sopsAddr, nsops, timeoutAddr uint64, w *sem.Waiter) SemopResult {
	var r SemopResult
	var tp *abi.Timespec
	if timeoutAddr != 0 {
		b := sc.bytes(abi.TimespecSize)
		if err := mem.CopyIn(timeoutAddr, b); err != 0 {
			return SemopResult{Err: err}
		}
		r.Timeout.Unmarshal(b)
		r.HasTimeout = true
		tp = &r.Timeout
	}
	n := uint64(uint32(nsops)) // the syscall takes an unsigned int
	if err := ns.CheckNsops(n); err != 0 {
		return SemopResult{Err: err}
	}
	b := sc.bytes(int(n) * abi.SembufSize)
	if err := mem.CopyIn(sopsAddr, b); err != 0 {
		return SemopResult{Err: err}
	}
	var sops []abi.Sembuf
	if n*abi.SembufSize > keepMax {
		sops = make([]abi.Sembuf, n)
	} else {
		if cap(sc.sops) < int(n) {
			sc.sops = make([]abi.Sembuf, n)
		}
		sops = sc.sops[:n]
	}
	abi.UnmarshalSembufs(sops, b)
	sc.last = sops
	r.Blocked, r.Err = ns.Semtimedop(t, int32(semid), sops, tp, w)
	return r
}

// Semctl serves semctl(semid, semnum, cmd, arg), following Linux's
// ksys_semctl: a negative semid fails first, IPC_SET reads its buffer
// before the set is looked up, results are written after the engine call,
// and an unknown command is EINVAL.
func Semctl(ns *sem.Namespace, t *sem.Task, mem Memory, sc *Scratch,
	semidArg, semnumArg, cmdArg, arg uint64) (int64, sem.Errno) {
	semid, semnum, cmd := int32(semidArg), int32(semnumArg), int32(cmdArg)
	if semid < 0 {
		return -1, sem.EINVAL
	}
	switch cmd {
	case abi.IPC_INFO, abi.SEM_INFO:
		info, ret, err := ns.Info(semid, cmd)
		if err != 0 {
			return -1, err
		}
		b := sc.bytes(abi.SeminfoSize)
		info.Marshal(b)
		if err := mem.CopyOut(arg, b); err != 0 {
			return -1, err
		}
		return int64(ret), 0

	case abi.IPC_STAT, abi.SEM_STAT, abi.SEM_STAT_ANY:
		ds, ret, err := ns.Stat(t, semid, cmd)
		if err != 0 {
			return -1, err
		}
		b := sc.bytes(abi.SemidDSSize)
		ds.Marshal(b)
		if err := mem.CopyOut(arg, b); err != 0 {
			return -1, err
		}
		return int64(ret), 0

	case abi.GETALL:
		vals, err := ns.GetAll(t, semid, sc.vals[:0])
		sc.vals = vals
		if err != 0 {
			return -1, err
		}
		b := sc.bytes(2 * len(vals))
		for i, v := range vals {
			b[2*i], b[2*i+1] = byte(v), byte(v>>8)
		}
		if err := mem.CopyOut(arg, b); err != 0 {
			return -1, err
		}
		return 0, 0

	case abi.GETVAL, abi.GETPID, abi.GETNCNT, abi.GETZCNT:
		v, err := ns.GetOne(t, semid, semnum, cmd)
		return int64(v), err

	case abi.SETALL:
		err := ns.SetAll(t, semid, func(n int) ([]uint16, sem.Errno) {
			b := sc.bytes(2 * n)
			if err := mem.CopyIn(arg, b); err != 0 {
				return nil, err
			}
			if cap(sc.vals) < n {
				sc.vals = make([]uint16, n)
			}
			vals := sc.vals[:n]
			for i := range vals {
				vals[i] = uint16(b[2*i]) | uint16(b[2*i+1])<<8
			}
			return vals, 0
		})
		return errResult(err)

	case abi.SETVAL:
		return errResult(ns.SetVal(t, semid, semnum, int32(arg)))

	case abi.IPC_SET:
		b := sc.bytes(abi.SemidDSSize)
		if err := mem.CopyIn(arg, b); err != 0 {
			return -1, err
		}
		var ds abi.SemidDS
		ds.Unmarshal(b)
		return errResult(ns.IPCSet(t, semid, &ds))

	case abi.IPC_RMID:
		return errResult(ns.Remove(t, semid))
	}
	return -1, sem.EINVAL
}

func errResult(err sem.Errno) (int64, sem.Errno) {
	if err != 0 {
		return -1, err
	}
	return 0, 0
}

// Sops returns the operations of the last semop decoded with sc (for
// tracing).
func (sc *Scratch) Sops() []abi.Sembuf { return sc.last }
