package semscript

import (
	"fmt"
	"strconv"
	"strings"
	"syscall"

	"github.com/sembox/sembox/abi"
)

// Arrow separates a call from its result in an output line.
const Arrow = "→"

// errnoNames are the errno names both executors print; others print as
// E<number>.
var errnoNames = map[syscall.Errno]string{
	syscall.EPERM: "EPERM", syscall.ENOENT: "ENOENT", syscall.ESRCH: "ESRCH",
	syscall.EINTR: "EINTR", syscall.EIO: "EIO", syscall.E2BIG: "E2BIG",
	syscall.EBADF: "EBADF", syscall.EAGAIN: "EAGAIN", syscall.ENOMEM: "ENOMEM",
	syscall.EACCES: "EACCES", syscall.EFAULT: "EFAULT", syscall.EBUSY: "EBUSY",
	syscall.EEXIST: "EEXIST", syscall.EINVAL: "EINVAL", syscall.ENOSPC: "ENOSPC",
	syscall.EFBIG: "EFBIG", syscall.ERANGE: "ERANGE", syscall.ENOSYS: "ENOSYS",
	syscall.EIDRM: "EIDRM", syscall.EOVERFLOW: "EOVERFLOW",
}

// ErrnoName returns the name an output line uses for e.
func ErrnoName(e syscall.Errno) string {
	if n, ok := errnoNames[e]; ok {
		return n
	}
	return "E" + strconv.Itoa(int(e))
}

// resultLine formats one output line: ret is the return value (already
// rendered), err the errno if ret is -1, extra the printed values.
func resultLine(line, ret string, err syscall.Errno, extra string) string {
	name := "OK"
	if ret == "-1" {
		name = ErrnoName(err)
	}
	s := line + " " + Arrow + " " + ret + " " + name
	if extra != "" {
		s += " " + extra
	}
	return s
}

func formatMode(m uint32) string {
	if m == 0 {
		return "0"
	}
	return "0" + strconv.FormatUint(uint64(m), 8)
}

func timeFlag(t int64) string {
	if t != 0 {
		return "T"
	}
	return "0"
}

// formatStat renders the fields of a semid64_ds that a stat prints.
func formatStat(d *abi.SemidDS) string {
	p := &d.Perm
	return fmt.Sprintf("key=%d uid=%d gid=%d cuid=%d cgid=%d mode=%s seq=%d nsems=%d otime=%s ctime=%s",
		p.Key, p.UID, p.GID, p.CUID, p.CGID, formatMode(p.Mode), p.Seq, d.Nsems,
		timeFlag(d.Otime), timeFlag(d.Ctime))
}

// formatInfo renders all ten fields of a seminfo.
func formatInfo(s *abi.Seminfo) string {
	return fmt.Sprintf("semmap=%d semmni=%d semmns=%d semmnu=%d semmsl=%d semopm=%d semume=%d semusz=%d semvmx=%d semaem=%d",
		s.Semmap, s.Semmni, s.Semmns, s.Semmnu, s.Semmsl, s.Semopm, s.Semume, s.Semusz, s.Semvmx, s.Semaem)
}

// formatVals renders GETALL values, a run of k > 1 equal values v as v*k.
func formatVals(vals []uint16) string {
	var b strings.Builder
	b.WriteString("vals=")
	for i := 0; i < len(vals); {
		j := i
		for j < len(vals) && vals[j] == vals[i] {
			j++
		}
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(int(vals[i])))
		if j-i > 1 {
			b.WriteString("*" + strconv.Itoa(j-i))
		}
		i = j
	}
	return b.String()
}
