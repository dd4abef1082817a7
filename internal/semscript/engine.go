package semscript

import (
	"strconv"
	"strings"

	"github.com/sembox/sembox/abi"
	"github.com/sembox/sembox/internal/semsys"
	"github.com/sembox/sembox/sem"
)

// EnginePID is the thread group id of the engine executor's single
// process. GETPID prints it (like the native executor's own pid) as P.
const EnginePID = 4242

// Watchdog is how long a native semop may stay blocked before the C
// executor interrupts it with SIGALRM (it then fails with EINTR). The
// engine executor models it: a call that blocks with no timeout, or with a
// timeout not shorter than Watchdog, fails with EINTR; one that blocks
// with a shorter timeout fails with EAGAIN when it expires. Scripts should
// avoid timeouts near Watchdog, which would race.
const Watchdog = 500_000_000 // nanoseconds

// BadAddr is the address both executors pass for a "bad" pointer. It lies
// below Linux's mmap_min_addr, so it is never mapped.
const BadAddr = 8

// Front selects how the engine executor enters the engine.
type Front int

const (
	// FrontDirect calls the sem.Namespace methods from the executor's own
	// model of the kernel's entry code (ksys_semctl's dispatch, the copy
	// order of ksys_semtimedop and do_semtimedop).
	FrontDirect Front = iota
	// FrontSemsys goes through package semsys, the system-call surface
	// sembox serves trapped calls with, over a simulated address space.
	FrontSemsys
)

func (f Front) String() string {
	if f == FrontSemsys {
		return "semsys"
	}
	return "direct"
}

// Fronts lists every Front.
var Fronts = []Front{FrontDirect, FrontSemsys}

// RunEngine runs s through a fresh sem.Namespace, entered through front,
// in a single simulated process, and returns its output: one line per
// call, each ending in a newline, in the format of the C executor.
func RunEngine(s *Script, front Front) string {
	r := &engineRun{front: front, ns: sem.NewNamespace(sem.SystemClock{})}
	r.cred = sem.Cred{CapIPCOwner: true, CapSysAdmin: true}
	r.task = sem.Task{PID: EnginePID, Cred: &r.cred, Undo: &sem.UndoList{}}
	var out strings.Builder
	for i := range s.Calls {
		out.WriteString(r.run(&s.Calls[i]))
		out.WriteByte('\n')
	}
	return out.String()
}

// engineRun is the state of one engine execution.
type engineRun struct {
	front   Front
	ns      *sem.Namespace
	cred    sem.Cred
	task    sem.Task
	semgets []int64 // result of each semget call: the id, or -1
	scratch semsys.Scratch
}

func (r *engineRun) run(c *Call) string {
	switch c.Kind {
	case KindSemget:
		var ret int64
		var err sem.Errno
		if r.front == FrontSemsys {
			ret, err = semsys.Semget(r.ns, &r.task, uint64(c.Key), uint64(c.Nsems), uint64(c.Flags))
		} else {
			var id int32
			id, err = r.ns.Semget(&r.task, int32(c.Key), int32(c.Nsems), int32(c.Flags))
			ret = int64(id)
		}
		if err != 0 {
			ret = -1
		}
		r.semgets = append(r.semgets, ret)
		return resultLine(c.Line, strconv.FormatInt(ret, 10), err, "")
	case KindSemop:
		return r.semop(c)
	case KindSemctl:
		ret, err, extra := r.semctl(c)
		if err != 0 {
			ret, extra = -1, ""
		}
		retStr := strconv.FormatInt(ret, 10)
		if int32(c.Cmd) == abi.GETPID && ret == EnginePID {
			retStr = "P"
		}
		return resultLine(c.Line, retStr, err, extra)
	case KindCycle:
		return r.cycle(c)
	default:
		// The kernel drops the effective capabilities when the effective
		// uid leaves 0 and restores them when it returns to 0.
		root := c.EUID == 0
		r.cred = sem.Cred{
			EUID: c.EUID, EGID: c.EGID, FSGID: c.EGID,
			Groups:      append([]uint32(nil), c.Groups...),
			CapIPCOwner: root, CapSysAdmin: root,
		}
		return resultLine(c.Line, "0", 0, "")
	}
}

// cycle creates and removes a private set Count times.
func (r *engineRun) cycle(c *Call) string {
	id := int64(-1)
	for range c.Count {
		var err sem.Errno
		if r.front == FrontSemsys {
			if id, err = semsys.Semget(r.ns, &r.task, abi.IPC_PRIVATE, 1, 0o600); err == 0 {
				_, err = semsys.Semctl(r.ns, &r.task, &memory{}, &r.scratch, uint64(id), 0, abi.IPC_RMID, 0)
			}
		} else {
			var id32 int32
			if id32, err = r.ns.Semget(&r.task, abi.IPC_PRIVATE, 1, 0o600); err == 0 {
				err = r.ns.Remove(&r.task, id32)
			}
			id = int64(id32)
		}
		if err != 0 {
			return resultLine(c.Line, "-1", err, "")
		}
	}
	return resultLine(c.Line, strconv.FormatInt(id, 10), 0, "")
}

// semop runs semtimedop(2). A call that blocks is cancelled at once,
// since in a single process nothing else can complete it; see Watchdog for
// the errno.
func (r *engineRun) semop(c *Call) string {
	var w sem.Waiter
	blocked, err := r.semopStart(c, &w)
	if blocked {
		cancel := sem.EINTR
		if c.Timeout != nil && c.Timeout.Sec == 0 && c.Timeout.Nsec < Watchdog {
			cancel = sem.EAGAIN
		}
		if r.ns.Cancel(&w, cancel) {
			err = cancel
		} else {
			err = w.Err
		}
	}
	if err != 0 {
		return resultLine(c.Line, "-1", err, "")
	}
	return resultLine(c.Line, "0", 0, "")
}

// semopStart makes the semtimedop(2) call c through r's front. If the
// call must wait, w is queued and semopStart returns blocked; otherwise it
// returns the call's result.
func (r *engineRun) semopStart(c *Call, w *sem.Waiter) (blocked bool, err sem.Errno) {
	semid := c.ID.value(r.semgets)
	timeout := c.Timeout
	if r.front == FrontSemsys {
		mem := &memory{}
		var sopsAddr, timeoutAddr uint64 = BadAddr, 0
		nsops := uint64(c.Nsops)
		if !c.SopsBad {
			b := make([]byte, len(c.Sops)*abi.SembufSize)
			for i := range c.Sops {
				c.Sops[i].Marshal(b[i*abi.SembufSize:])
			}
			sopsAddr, nsops = mem.add(b), uint64(len(c.Sops))
		}
		switch {
		case c.TimeoutBad:
			timeoutAddr = BadAddr
		case timeout != nil:
			b := make([]byte, abi.TimespecSize)
			timeout.Marshal(b)
			timeoutAddr = mem.add(b)
		}
		res := semsys.Semtimedop(r.ns, &r.task, mem, &r.scratch,
			uint64(uint32(semid)), sopsAddr, nsops, timeoutAddr, w)
		blocked, err = res.Blocked, res.Err
	} else {
		// ksys_semtimedop reads the timeout, do_semtimedop checks nsops
		// and then reads the operations.
		switch {
		case c.TimeoutBad:
			err = sem.EFAULT
		case c.SopsBad:
			if err = r.ns.CheckNsops(uint64(c.Nsops)); err == 0 {
				err = sem.EFAULT
			}
		default:
			blocked, err = r.ns.Semtimedop(&r.task, semid, c.Sops, timeout, w)
		}
	}
	return blocked, err
}

// semctl runs semctl(2) and returns its result and the values to print.
func (r *engineRun) semctl(c *Call) (int64, sem.Errno, string) {
	if r.front == FrontSemsys {
		return r.semctlSemsys(c)
	}
	return r.semctlDirect(c)
}

// semctlDirect is the kernel's ksys_semctl in front of the engine.
func (r *engineRun) semctlDirect(c *Call) (int64, sem.Errno, string) {
	semid := c.ID.value(r.semgets)
	semnum, cmd := int32(c.SemNum), int32(c.Cmd)
	t := &r.task
	if semid < 0 {
		return -1, sem.EINVAL, ""
	}
	switch cmd {
	case abi.IPC_INFO, abi.SEM_INFO:
		info, maxIdx, err := r.ns.Info(semid, cmd)
		if err == 0 && c.ArgBad {
			err = sem.EFAULT // copy_to_user after the work
		}
		return int64(maxIdx), err, formatInfo(&info)
	case abi.IPC_STAT, abi.SEM_STAT, abi.SEM_STAT_ANY:
		ds, id, err := r.ns.Stat(t, semid, cmd)
		if err == 0 && c.ArgBad {
			err = sem.EFAULT
		}
		return int64(id), err, formatStat(&ds)
	case abi.GETALL:
		vals, err := r.ns.GetAll(t, semid, nil)
		if err == 0 && c.ArgBad {
			err = sem.EFAULT
		}
		return 0, err, formatVals(vals)
	case abi.GETVAL, abi.GETPID, abi.GETNCNT, abi.GETZCNT:
		v, err := r.ns.GetOne(t, semid, semnum, cmd)
		return int64(v), err, ""
	case abi.SETALL:
		return 0, r.ns.SetAll(t, semid, func(nsems int) ([]uint16, sem.Errno) {
			if c.ArgBad {
				return nil, sem.EFAULT
			}
			// The C executor passes a zeroed buffer holding the listed
			// values; the kernel reads nsems of them.
			vals := make([]uint16, nsems)
			for i := 0; i < nsems && i < len(c.Vals); i++ {
				vals[i] = uint16(c.Vals[i])
			}
			return vals, 0
		}), ""
	case abi.SETVAL:
		// The kernel takes the int in the low half of the unsigned long.
		return 0, r.ns.SetVal(t, semid, semnum, int32(c.Val)), ""
	case abi.IPC_SET:
		if c.ArgBad {
			return -1, sem.EFAULT, "" // copied in before the lookup
		}
		in := abi.SemidDS{Perm: abi.IPCPerm{UID: uint32(c.UID), GID: uint32(c.GID), Mode: uint32(c.Mode)}}
		return 0, r.ns.IPCSet(t, semid, &in), ""
	case abi.IPC_RMID:
		return 0, r.ns.Remove(t, semid), ""
	}
	return -1, sem.EINVAL, ""
}

// Sizes of the native executor's argument buffers.
const (
	unionSize = 4096         // the semid64_ds/seminfo union
	arraySize = arrayLen * 2 // the unsigned short array
)

// semctlSemsys serves the call through semsys.Semctl with the argument in
// a simulated address space laid out like the C executor's.
func (r *engineRun) semctlSemsys(c *Call) (int64, sem.Errno, string) {
	semid := c.ID.value(r.semgets)
	cmd := int32(c.Cmd)
	mem := &memory{}
	var buf []byte
	var arg uint64 = BadAddr
	switch {
	case c.ArgBad:
	case cmd == abi.SETVAL:
		arg = uint64(c.Val)
	case cmd == abi.SETALL:
		buf = make([]byte, arraySize)
		for i, v := range c.Vals {
			buf[2*i], buf[2*i+1] = byte(v), byte(v>>8)
		}
		arg = mem.add(buf)
	case cmd == abi.GETALL:
		buf = make([]byte, arraySize)
		for i := range buf {
			buf[i] = 0xff // the C executor's sentinel
		}
		arg = mem.add(buf)
	default:
		buf = make([]byte, unionSize)
		if cmd == abi.IPC_SET {
			in := abi.SemidDS{Perm: abi.IPCPerm{UID: uint32(c.UID), GID: uint32(c.GID), Mode: uint32(c.Mode)}}
			in.Marshal(buf)
		}
		arg = mem.add(buf)
	}
	ret, err := semsys.Semctl(r.ns, &r.task, mem, &r.scratch,
		uint64(uint32(semid)), uint64(c.SemNum), uint64(c.Cmd), arg)
	if err != 0 || c.ArgBad {
		return ret, err, ""
	}
	switch cmd {
	case abi.IPC_STAT, abi.SEM_STAT, abi.SEM_STAT_ANY:
		var ds abi.SemidDS
		ds.Unmarshal(buf)
		return ret, 0, formatStat(&ds)
	case abi.IPC_INFO, abi.SEM_INFO:
		var info abi.Seminfo
		info.Unmarshal(buf)
		return ret, 0, formatInfo(&info)
	case abi.GETALL:
		var vals []uint16
		for i := 0; i+1 < len(buf); i += 2 {
			v := uint16(buf[i]) | uint16(buf[i+1])<<8
			if v == 0xffff {
				break
			}
			vals = append(vals, v)
		}
		return ret, 0, formatVals(vals)
	}
	return ret, 0, ""
}

// memory is a simulated address space for semsys: a few buffers at
// addresses of their own; every other address faults.
type memory struct {
	regions []region
}

type region struct {
	addr uint64
	data []byte
}

// add maps b and returns its address.
func (m *memory) add(b []byte) uint64 {
	addr := uint64(0x10000 * (len(m.regions) + 1) * 64)
	m.regions = append(m.regions, region{addr, b})
	return addr
}

func (m *memory) find(addr uint64, n int) []byte {
	for _, r := range m.regions {
		if addr >= r.addr && addr-r.addr <= uint64(len(r.data)) && uint64(n) <= uint64(len(r.data))-(addr-r.addr) {
			return r.data[addr-r.addr : addr-r.addr+uint64(n)]
		}
	}
	return nil
}

// CopyIn implements semsys.Memory.
func (m *memory) CopyIn(addr uint64, dst []byte) sem.Errno {
	src := m.find(addr, len(dst))
	if src == nil {
		return sem.EFAULT
	}
	copy(dst, src)
	return 0
}

// CopyOut implements semsys.Memory.
func (m *memory) CopyOut(addr uint64, src []byte) sem.Errno {
	dst := m.find(addr, len(src))
	if dst == nil {
		return sem.EFAULT
	}
	copy(dst, src)
	return 0
}
