package semsys

import (
	"testing"

	"github.com/sembox/sembox/abi"
	"github.com/sembox/sembox/sem"
)

// fakeMemory is an address space with one mapped range [base, base+len).
type fakeMemory struct {
	base  uint64
	bytes []byte
	reads int // CopyIn calls, to check nothing is read twice
}

func (m *fakeMemory) slice(addr uint64, n int) []byte {
	if addr < m.base || addr+uint64(n) > m.base+uint64(len(m.bytes)) || addr+uint64(n) < addr {
		return nil
	}
	return m.bytes[addr-m.base : addr-m.base+uint64(n)]
}

func (m *fakeMemory) CopyIn(addr uint64, dst []byte) sem.Errno {
	m.reads++
	b := m.slice(addr, len(dst))
	if b == nil {
		return sem.EFAULT
	}
	copy(dst, b)
	return 0
}

func (m *fakeMemory) CopyOut(addr uint64, src []byte) sem.Errno {
	b := m.slice(addr, len(src))
	if b == nil {
		return sem.EFAULT
	}
	copy(b, src)
	return 0
}

type fixedClock struct{}

func (fixedClock) Now() int64 { return 1000 }

func root() *sem.Task {
	return &sem.Task{PID: 1, Cred: &sem.Cred{CapIPCOwner: true, CapSysAdmin: true}, Undo: &sem.UndoList{}}
}

const base = 0x10000

// TestOrderOfChecks checks where faults come relative to the engine's
// checks, as the kernel orders them.
func TestOrderOfChecks(t *testing.T) {
	ns := sem.NewNamespace(fixedClock{})
	tk := root()
	id, _ := ns.Semget(tk, abi.IPC_PRIVATE, 2, 0o600)
	mem := &fakeMemory{base: base, bytes: make([]byte, 4096)}
	sop := abi.Sembuf{SemNum: 0, SemOp: 1}
	sop.Marshal(mem.bytes)
	var sc Scratch
	bad := uint64(8)
	for _, tc := range []struct {
		name string
		run  func() sem.Errno
		want sem.Errno
	}{
		{"semtimedop: bad timeout pointer before E2BIG", func() sem.Errno {
			return Semtimedop(ns, tk, mem, &sc, uint64(id), base, 100000, bad, nil).Err
		}, sem.EFAULT},
		{"semop: E2BIG before reading the operations", func() sem.Errno {
			return Semtimedop(ns, tk, mem, &sc, uint64(id), bad, 501, 0, nil).Err
		}, sem.E2BIG},
		{"semop: nsops is an unsigned int", func() sem.Errno {
			return Semtimedop(ns, tk, mem, &sc, uint64(id), base, 1<<32|1, 0, nil).Err
		}, 0},
		{"semop: bad operations pointer before a negative id", func() sem.Errno {
			return Semtimedop(ns, tk, mem, &sc, ^uint64(0), bad, 1, 0, nil).Err
		}, sem.EFAULT},
		{"semctl: negative id before IPC_SET reads", func() sem.Errno {
			_, e := Semctl(ns, tk, mem, &sc, ^uint64(0), 0, abi.IPC_SET, bad)
			return e
		}, sem.EINVAL},
		{"semctl: IPC_SET reads before the lookup", func() sem.Errno {
			_, e := Semctl(ns, tk, mem, &sc, 12345, 0, abi.IPC_SET, bad)
			return e
		}, sem.EFAULT},
		{"semctl: IPC_STAT of a missing id is EINVAL, not EFAULT", func() sem.Errno {
			_, e := Semctl(ns, tk, mem, &sc, 12345, 0, abi.IPC_STAT, 0)
			return e
		}, sem.EINVAL},
		{"semctl: IPC_STAT writes after the lookup", func() sem.Errno {
			_, e := Semctl(ns, tk, mem, &sc, uint64(id), 0, abi.IPC_STAT, 0)
			return e
		}, sem.EFAULT},
		{"semctl: GETALL into a buffer that ends too early", func() sem.Errno {
			_, e := Semctl(ns, tk, mem, &sc, uint64(id), 0, abi.GETALL, base+4095)
			return e
		}, sem.EFAULT},
		{"semctl: IPC_64 is not a command on x86_64", func() sem.Errno {
			_, e := Semctl(ns, tk, mem, &sc, uint64(id), 0, abi.IPC_STAT|abi.IPC_64, base)
			return e
		}, sem.EINVAL},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.run(); got != tc.want {
				t.Fatalf("errno %v, want %v", got, tc.want)
			}
		})
	}
}

// TestReadOnce checks that a semop reads its operations exactly once.
func TestReadOnce(t *testing.T) {
	ns := sem.NewNamespace(fixedClock{})
	tk := root()
	id, _ := ns.Semget(tk, abi.IPC_PRIVATE, 1, 0o600)
	mem := &fakeMemory{base: base, bytes: make([]byte, 64)}
	for i := range 3 {
		(&abi.Sembuf{SemOp: 1}).Marshal(mem.bytes[i*abi.SembufSize:])
	}
	var sc Scratch
	if r := Semtimedop(ns, tk, mem, &sc, uint64(id), base, 3, 0, nil); r.Err != 0 || mem.reads != 1 {
		t.Fatalf("err %v after %d reads, want success after 1", r.Err, mem.reads)
	}
	if v, _ := ns.GetOne(tk, id, 0, abi.GETVAL); v != 3 {
		t.Fatalf("value %d, want 3", v)
	}
}

// FuzzSyscalls feeds arbitrary arguments and memory to the system-call
// surface: it must never panic, and a bad pointer must only ever give
// EFAULT-class errors, never corrupt state.
func FuzzSyscalls(f *testing.F) {
	f.Add(uint8(0), uint64(0), uint64(1), uint64(abi.GETALL), uint64(base), []byte{0, 0, 1, 0, 0, 0})
	f.Add(uint8(1), uint64(0), uint64(base), uint64(2), uint64(0), []byte{0, 0, 0xff, 0xff, 0, 8})
	f.Add(uint8(2), uint64(0), uint64(0), uint64(abi.SETALL), uint64(base), []byte{0xff, 0x7f, 1, 0})
	f.Fuzz(func(t *testing.T, which uint8, a0, a1, a2, a3 uint64, data []byte) {
		ns := sem.NewNamespace(fixedClock{})
		tk := root()
		ns.Semget(tk, abi.IPC_PRIVATE, 3, 0o600)
		ns.Semget(tk, 0x1234, 1, abi.IPC_CREAT|0o644)
		mem := &fakeMemory{base: base, bytes: append([]byte(nil), data...)}
		var sc Scratch
		var w sem.Waiter
		switch which % 3 {
		case 0:
			Semget(ns, tk, a0, a1, a2)
		case 1:
			if r := Semtimedop(ns, tk, mem, &sc, a0, a1, a2%600, a3, &w); r.Blocked {
				ns.Cancel(&w, sem.EINTR)
			}
		default:
			Semctl(ns, tk, mem, &sc, a0, a1, a2%32, a3)
		}
		for _, si := range ns.Snapshot(true) {
			for _, v := range si.Vals {
				if v > abi.SEMVMX {
					t.Fatalf("value %d out of range", v)
				}
			}
		}
	})
}
