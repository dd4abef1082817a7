package supervisor

import (
	"bytes"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/sembox/sembox/sem"
)

// Capability bits of CapEff that System V IPC consults.
const (
	capSysAdmin = 21
	capIPCOwner = 15
)

// taskStatus is what the supervisor reads from /proc/TID/status.
type taskStatus struct {
	tgid      int32
	ppid      int32
	cred      sem.Cred
	sigPnd    uint64  // signals pending for the thread
	shdPnd    uint64  // signals pending for the thread group
	sigBlk    uint64  // the thread's blocked signals
	hasSignal bool    // the fields above were present
	zombie    bool    // State is Z (zombie) or X (dead)
	nspid     []int32 // the thread's ids from the supervisor's pid namespace down to its own
}

// pendingUnblocked reports whether a signal that is not blocked is pending
// for the thread: the condition under which Linux ends an interruptible
// wait.
func (st *taskStatus) pendingUnblocked() bool {
	return (st.sigPnd|st.shdPnd)&^st.sigBlk != 0
}

// readTaskStatus reads and parses /proc/TID/status into st using buf as
// scratch space. It returns the errno of the open or read.
func readTaskStatus(tid int32, buf []byte, st *taskStatus) error {
	path := "/proc/" + strconv.Itoa(int(tid)) + "/status"
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	n := 0
	for n < len(buf) {
		m, err := unix.Read(fd, buf[n:])
		if err != nil {
			if err == unix.EINTR {
				continue
			}
			return err
		}
		if m == 0 {
			break
		}
		n += m
		if n < len(buf) && buf[n-1] == '\n' {
			// /proc/TID/status comes whole from one read when it fits:
			// skip the read that would return 0 (a system call per
			// check of every parked call).
			break
		}
	}
	parseTaskStatus(buf[:n], st)
	return nil
}

// parseTaskStatus extracts the fields sembox uses from the text of
// /proc/TID/status.
func parseTaskStatus(b []byte, st *taskStatus) {
	*st = taskStatus{cred: sem.Cred{Groups: st.cred.Groups[:0]}, nspid: st.nspid[:0]}
	for len(b) > 0 {
		line := b
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			b = nil
		}
		colon := bytes.IndexByte(line, ':')
		if colon < 0 {
			continue
		}
		key, val := line[:colon], bytes.TrimSpace(line[colon+1:])
		switch string(key) {
		case "State":
			st.zombie = len(val) > 0 && (val[0] == 'Z' || val[0] == 'X')
		case "Tgid":
			st.tgid = int32(atoi(val))
		case "PPid":
			st.ppid = int32(atoi(val))
		case "NStgid":
			for _, p := range bytes.Fields(val) {
				st.nspid = append(st.nspid, int32(atoi(p)))
			}
		case "Uid":
			f := fields4(val)
			st.cred.EUID = uint32(f[1])
		case "Gid":
			f := fields4(val)
			st.cred.EGID, st.cred.FSGID = uint32(f[1]), uint32(f[3])
		case "Groups":
			for _, g := range bytes.Fields(val) {
				st.cred.Groups = append(st.cred.Groups, uint32(atoi(g)))
			}
		case "SigPnd":
			st.sigPnd, st.hasSignal = hex(val), true
		case "ShdPnd":
			st.shdPnd = hex(val)
		case "SigBlk":
			st.sigBlk = hex(val)
		case "CapEff":
			c := hex(val)
			st.cred.CapIPCOwner = c&(1<<capIPCOwner) != 0
			st.cred.CapSysAdmin = c&(1<<capSysAdmin) != 0
		}
	}
}

func fields4(b []byte) [4]uint64 {
	var out [4]uint64
	for i, f := range bytes.Fields(b) {
		if i < 4 {
			out[i] = atoi(f)
		}
	}
	return out
}

func atoi(b []byte) uint64 {
	var v uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			break
		}
		v = v*10 + uint64(c-'0')
	}
	return v
}

func hex(b []byte) uint64 {
	v, _ := strconv.ParseUint(string(b), 16, 64)
	return v
}

// readUserNS returns the inode number that names the user namespace of
// thread tid (the link /proc/TID/ns/user reads "user:[INODE]").
func readUserNS(tid int32, buf []byte) (uint64, error) {
	path := "/proc/self/ns/user"
	if tid > 0 {
		path = "/proc/" + strconv.Itoa(int(tid)) + "/ns/user"
	}
	n, err := unix.Readlink(path, buf)
	if err != nil {
		return 0, err
	}
	return parseNSLink(buf[:n])
}

// parseNSLink parses the target of a /proc/PID/ns/* link, "TYPE:[INODE]".
func parseNSLink(b []byte) (uint64, error) {
	i, j := bytes.IndexByte(b, '['), bytes.LastIndexByte(b, ']')
	if i < 0 || j < i+2 {
		return 0, unix.EINVAL
	}
	return strconv.ParseUint(string(b[i+1:j]), 10, 64)
}
