package supervisor

import (
	"fmt"
	"io"
	"strings"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/sembox/sembox/abi"
	"github.com/sembox/sembox/internal/seccomp"
	"github.com/sembox/sembox/internal/semsys"
	"github.com/sembox/sembox/sem"
)

// tracer writes one strace-like line per served call.
type tracer struct {
	mu sync.Mutex // serialises writes to w
	w  io.Writer
}

type traceKind int

const (
	traceDone    traceKind = iota // answered at once
	traceBlocked                  // parked: the answer comes later
)

func (t *tracer) call(n *seccomp.Notif, sc *semsys.Scratch, val int64, err sem.Errno, kind traceKind) {
	line := fmt.Sprintf("[pid %d] %s", n.PID, formatCall(n.Data.Nr, n.Data.Args, sc.Sops()))
	if kind == traceBlocked {
		line += " <unfinished ...>"
	} else {
		line += " = " + formatResult(val, err)
	}
	t.write(line)
}

func (t *tracer) parked(c *call, err sem.Errno) {
	t.write(fmt.Sprintf("[pid %d] <... %s resumed> = %s", c.th.tid, syscallName(c.nr), formatResult(0, err)))
}

func (t *tracer) write(line string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	io.WriteString(t.w, line+"\n")
}

func syscallName(nr int32) string {
	switch nr {
	case unix.SYS_SEMGET:
		return "semget"
	case unix.SYS_SEMOP:
		return "semop"
	case unix.SYS_SEMTIMEDOP:
		return "semtimedop"
	case unix.SYS_SEMCTL:
		return "semctl"
	}
	return fmt.Sprintf("syscall_%d", nr)
}

var semctlCmds = map[int32]string{
	abi.IPC_RMID: "IPC_RMID", abi.IPC_SET: "IPC_SET", abi.IPC_STAT: "IPC_STAT",
	abi.IPC_INFO: "IPC_INFO", abi.GETPID: "GETPID", abi.GETVAL: "GETVAL",
	abi.GETALL: "GETALL", abi.GETNCNT: "GETNCNT", abi.GETZCNT: "GETZCNT",
	abi.SETVAL: "SETVAL", abi.SETALL: "SETALL", abi.SEM_STAT: "SEM_STAT",
	abi.SEM_INFO: "SEM_INFO", abi.SEM_STAT_ANY: "SEM_STAT_ANY",
}

func formatCall(nr int32, a [6]uint64, sops []abi.Sembuf) string {
	switch nr {
	case unix.SYS_SEMGET:
		return fmt.Sprintf("semget(%#x, %d, %s)", uint32(a[0]), int32(a[1]), formatSemflg(int32(a[2])))
	case unix.SYS_SEMCTL:
		cmd, ok := semctlCmds[int32(a[2])]
		if !ok {
			cmd = fmt.Sprint(int32(a[2]))
		}
		return fmt.Sprintf("semctl(%d, %d, %s, %#x)", int32(a[0]), int32(a[1]), cmd, a[3])
	case unix.SYS_SEMOP, unix.SYS_SEMTIMEDOP:
		var b strings.Builder
		fmt.Fprintf(&b, "%s(%d, [", syscallName(nr), int32(a[0]))
		if uint32(a[2]) == uint32(len(sops)) {
			for i, s := range sops {
				if i > 0 {
					b.WriteString(", ")
				}
				fmt.Fprintf(&b, "{%d, %d, %s}", s.SemNum, s.SemOp, formatSemflg(int32(s.SemFlg)))
			}
		} else {
			fmt.Fprintf(&b, "%#x", a[1])
		}
		fmt.Fprintf(&b, "], %d", uint32(a[2]))
		if nr == unix.SYS_SEMTIMEDOP {
			if a[3] == 0 {
				b.WriteString(", NULL")
			} else {
				fmt.Fprintf(&b, ", %#x", a[3])
			}
		}
		b.WriteString(")")
		return b.String()
	}
	return syscallName(nr) + "(...)"
}

func formatSemflg(f int32) string {
	var parts []string
	for _, x := range []struct {
		bit  int32
		name string
	}{{abi.IPC_CREAT, "IPC_CREAT"}, {abi.IPC_EXCL, "IPC_EXCL"}, {abi.IPC_NOWAIT, "IPC_NOWAIT"}, {abi.SEM_UNDO, "SEM_UNDO"}} {
		if f&x.bit != 0 {
			parts = append(parts, x.name)
			f &^= x.bit
		}
	}
	if f != 0 || len(parts) == 0 {
		parts = append(parts, fmt.Sprintf("%#o", f))
	}
	return strings.Join(parts, "|")
}

func formatResult(val int64, err sem.Errno) string {
	if err != 0 {
		return fmt.Sprintf("-1 %s (%s)", unix.ErrnoName(err), err.Error())
	}
	return fmt.Sprint(val)
}
