package sem

import (
	"fmt"
	"io"
	"math/bits"
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
// changes nothing; up to four integers (decimal, 0x hex or 0 octal,
// optionally negative), separated by white space, replace the limits in
// order and the rest of the text is ignored; a malformed number fails
// with EINVAL after the numbers before it have been stored; an SEMMNI
// outside 0..IPCMNI fails with ERANGE. On any error SEMMNI keeps its old
// value. As in the kernel, a number must be followed by a space, a tab, a
// newline or the end of the text, a number of 21 characters or more
// (leading zeros and sign included) is malformed, and only the first
// 4095 bytes of the text are read.
func (ns *Namespace) WriteProcSysKernelSem(text string) Errno {
	if text == "" {
		return 0
	}
	text = text[:min(len(text), 4095)] // PAGE_SIZE - 1
	l := ns.Limits()
	dst := []*int32{&l.SEMMSL, &l.SEMMNS, &l.SEMOPM, &l.SEMMNI}
	n := 0
	for n < len(dst) {
		for len(text) > 0 && procIsSpace(text[0]) {
			text = text[1:]
		}
		if text == "" {
			break
		}
		v, rest, ok := parseProcInt(text)
		if !ok {
			l.SEMMNI = ns.semmni.Load()
			ns.SetLimits(l)
			return EINVAL
		}
		*dst[n] = v
		n++
		text = rest
	}
	if n == 0 {
		return EINVAL
	}
	return ns.SetLimits(l)
}

// procIsSpace is the kernel's isspace (lib/ctype.c, Latin-1): the ASCII
// white space and the no-break space 0xA0.
func procIsSpace(c byte) bool {
	return c == ' ' || c >= '\t' && c <= '\r' || c == 0xa0
}

// parseProcInt parses the integer at the start of text as the kernel's
// proc_get_long and do_proc_dointvec_conv do, and returns it with the
// text after it: at most 21 bytes are looked at (TMPBUFLEN - 1), an
// optional minus, a digit, then simple_strtoul's digits in base 0 (0x
// hex when a hex digit follows the x, else 0 octal), which must not
// overflow nor take all 21 bytes, and the next byte, if any, must be a
// space, a tab or a newline. The value must fit in an int.
func parseProcInt(text string) (v int32, rest string, ok bool) {
	const tmpLen = 21 // TMPBUFLEN - 1
	tmp := text[:min(len(text), tmpLen)]
	p := 0
	neg := false
	if tmp[0] == '-' && len(text) > 1 {
		neg = true
		p++
	}
	if p >= len(tmp) || tmp[p] < '0' || tmp[p] > '9' {
		return 0, "", false
	}
	base := uint64(10)
	if tmp[p] == '0' {
		base = 8
		if p+2 < len(tmp) && tmp[p+1]|0x20 == 'x' && isHexDigit(tmp[p+2]) {
			base = 16
			p += 2
		}
	}
	var u uint64
	for ; p < len(tmp); p++ {
		d, ok := digitValue(tmp[p])
		if !ok || d >= base {
			break
		}
		hi, lo := bits.Mul64(u, base)
		if hi != 0 || lo+d < lo {
			return 0, "", false // strtoul_lenient: overflow
		}
		u = lo + d
	}
	if p == tmpLen {
		return 0, "", false // "too long" for the kernel
	}
	if p < len(text) && text[p] != ' ' && text[p] != '\t' && text[p] != '\n' {
		return 0, "", false
	}
	switch {
	case neg && u > 1<<31:
		return 0, "", false
	case neg:
		return int32(-int64(u)), text[p:], true
	case u > 1<<31-1:
		return 0, "", false
	}
	return int32(u), text[p:], true
}

func isHexDigit(c byte) bool {
	_, ok := digitValue(c)
	return ok
}

// digitValue returns the value of a hexadecimal digit.
func digitValue(c byte) (uint64, bool) {
	switch {
	case c >= '0' && c <= '9':
		return uint64(c - '0'), true
	case c|0x20 >= 'a' && c|0x20 <= 'f':
		return uint64(c|0x20-'a') + 10, true
	}
	return 0, false
}
