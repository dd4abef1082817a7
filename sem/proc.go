package sem

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/sembox/sembox/abi"
)

// SetInfo is a snapshot of one set for administrative views.
type SetInfo struct {
	ID   int32
	DS   abi.SemidDS
	Vals []uint16 // values
	Pids []int32  // sempid of each semaphore
	Ncnt []int32  // GETNCNT of each semaphore
	Zcnt []int32  // GETZCNT of each semaphore
}

// Snapshot returns every set in index order. With detail, the values,
// pids and waiter counts are filled too.
func (ns *Namespace) Snapshot(detail bool) []SetInfo {
	ns.mu.Lock()
	defer ns.mu.Unlock()
	var out []SetInfo
	for idx := 0; idx <= ns.maxIdx; idx++ {
		s := ns.slots[idx].Load()
		if s == nil {
			continue
		}
		s.mu.Lock()
		si := SetInfo{ID: s.id, DS: s.statLocked()}
		if detail {
			n := len(s.sems)
			si.Vals, si.Pids = make([]uint16, n), make([]int32, n)
			si.Ncnt, si.Zcnt = make([]int32, n), make([]int32, n)
			for i := range s.sems {
				si.Vals[i] = uint16(s.sems[i].val)
				si.Pids[i] = s.sems[i].pid
				si.Ncnt[i] = s.countWaitersLocked(i, false)
				si.Zcnt[i] = s.countWaitersLocked(i, true)
			}
		}
		s.mu.Unlock()
		out = append(out, si)
	}
	return out
}

// procSysvipcHeader is the first line of /proc/sysvipc/sem.
const procSysvipcHeader = "       key      semid perms      nsems   uid   gid  cuid  cgid      otime      ctime\n"

// WriteProcSysvipcSem writes the text of /proc/sysvipc/sem for this
// namespace, byte for byte as Linux formats it (ipc/sem.c:
// sysvipc_sem_proc_show), sets in index order.
func (ns *Namespace) WriteProcSysvipcSem(w io.Writer) error {
	var b strings.Builder
	b.WriteString(procSysvipcHeader)
	for _, si := range ns.Snapshot(false) {
		p := &si.DS.Perm
		fmt.Fprintf(&b, "%10d %10d  %4o %10d %5d %5d %5d %5d %10d %10d\n",
			p.Key, si.ID, p.Mode, si.DS.Nsems, p.UID, p.GID, p.CUID, p.CGID,
			uint64(si.DS.Otime), uint64(si.DS.Ctime))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// ProcSysKernelSem returns the text of /proc/sys/kernel/sem:
// "SEMMSL\tSEMMNS\tSEMOPM\tSEMMNI\n".
func (ns *Namespace) ProcSysKernelSem() string {
	l := ns.Limits()
	return fmt.Sprintf("%d\t%d\t%d\t%d\n", l.SEMMSL, l.SEMMNS, l.SEMOPM, l.SEMMNI)
}

// WriteProcSysKernelSem applies a write of text to /proc/sys/kernel/sem
// the way the kernel's proc_dointvec and semmni check do: an empty write
// changes nothing; up to four whitespace-separated integers (decimal,
// 0x hex or 0 octal, optionally negative) replace the limits in order and
// the rest of the text is ignored; a malformed number fails with EINVAL
// after the numbers before it have been stored; an SEMMNI outside
// 0..IPCMNI fails with ERANGE. On any error SEMMNI keeps its old value.
func (ns *Namespace) WriteProcSysKernelSem(text string) Errno {
	if text == "" {
		return 0
	}
	fields := strings.Fields(text)
	if len(fields) == 0 {
		return EINVAL
	}
	l := ns.Limits()
	dst := []*int32{&l.SEMMSL, &l.SEMMNS, &l.SEMOPM, &l.SEMMNI}
	for i, f := range fields[:min(len(fields), 4)] {
		v, ok := parseProcInt(f)
		if !ok {
			l.SEMMNI = ns.semmni.Load()
			ns.SetLimits(l)
			return EINVAL
		}
		*dst[i] = v
	}
	return ns.SetLimits(l)
}

// parseProcInt parses one integer as the kernel's proc_dointvec does
// (simple_strtoul with base 0, an optional leading minus, int range).
func parseProcInt(f string) (int32, bool) {
	digits := strings.TrimPrefix(f, "-")
	if digits == "" || strings.ContainsAny(digits, "+-_") {
		return 0, false
	}
	if len(digits) > 1 && digits[0] == '0' && strings.ContainsAny(digits[1:2], "bBoO") {
		return 0, false
	}
	v, err := strconv.ParseInt(f, 0, 64)
	if err != nil || v < -1<<31 || v > 1<<31-1 {
		return 0, false
	}
	return int32(v), true
}
