// Package control is the administrative channel of a running sandbox: a
// unix socket per sandbox, in a directory only its owner can enter, that
// answers JSON requests to list the sandbox's semaphore sets, show one in
// detail and remove sets. `sembox ipcs` and `sembox ipcrm` are its
// clients.
package control

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/sembox/sembox/sem"
)

// Request is one request on the socket (one JSON line).
type Request struct {
	Op  string `json:"op"` // "list", "info", "remove", "remove-key", "remove-all"
	ID  int32  `json:"id,omitempty"`
	Key int32  `json:"key,omitempty"`
}

// Response answers a Request (one JSON line).
type Response struct {
	Error   string     `json:"error,omitempty"`
	Sandbox Sandbox    `json:"sandbox"`
	Limits  sem.Limits `json:"limits"`
	Sets    []Set      `json:"semaphores"`
	Removed int        `json:"removed,omitempty"`
}

// Sandbox identifies a running sandbox.
type Sandbox struct {
	PID     int      `json:"pid"` // the sembox process
	Command []string `json:"command"`
}

// Set describes one semaphore set.
type Set struct {
	Key   int32  `json:"key"`
	ID    int32  `json:"id"`
	UID   uint32 `json:"uid"`
	GID   uint32 `json:"gid"`
	CUID  uint32 `json:"cuid"`
	CGID  uint32 `json:"cgid"`
	Mode  uint32 `json:"mode"`
	Nsems uint64 `json:"nsems"`
	Otime int64  `json:"otime"`
	Ctime int64  `json:"ctime"`
	// Sems is filled by "info".
	Sems []Semaphore `json:"sems,omitempty"`
}

// Semaphore is one semaphore of a set in detail.
type Semaphore struct {
	Num         int          `json:"semnum"`
	Value       uint16       `json:"value"`
	Ncount      int32        `json:"ncount"`
	Zcount      int32        `json:"zcount"`
	PID         int32        `json:"pid"`
	Adjustments []Adjustment `json:"adjustments,omitempty"`
}

// Adjustment is a process's pending SEM_UNDO adjustment.
type Adjustment struct {
	PID int32 `json:"pid"`
	Adj int16 `json:"adj"`
}

// Backend is what a control server needs from the sandbox.
type Backend struct {
	Namespace *sem.Namespace
	Sandbox   Sandbox
	// Adjustments returns every undo owner's adjustments for set id.
	Adjustments func(id int32) map[int32][]int16
	// Settle, if set, is called before each request is answered, so that
	// what the sandbox has already done shows (the undo of a process
	// that has exited, say).
	Settle func()
}

// Dir returns the directory of the current user's sandbox sockets.
func Dir() string {
	if os.Geteuid() == 0 {
		return "/run/sembox"
	}
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" {
		return filepath.Join(d, "sembox")
	}
	return filepath.Join(os.TempDir(), "sembox-"+strconv.Itoa(os.Geteuid()))
}

// Listen creates the socket of the sandbox run by this process. The
// directory is created with mode 0700 and must belong to the caller.
func Listen() (net.Listener, string, error) {
	dir := Dir()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, "", err
	}
	var st unix.Stat_t
	if err := unix.Lstat(dir, &st); err != nil {
		return nil, "", err
	}
	if int(st.Uid) != os.Geteuid() || st.Mode&0o077 != 0 || st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return nil, "", fmt.Errorf("control: %s must be a directory of uid %d with mode 0700", dir, os.Geteuid())
	}
	path := filepath.Join(dir, strconv.Itoa(os.Getpid())+".sock")
	os.Remove(path)
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, "", err
	}
	return ln, path, nil
}

// Serve answers requests on ln until it is closed. Only peers with the
// same effective uid as this process, or root, are served.
func Serve(ln net.Listener, b *Backend) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go serveConn(c.(*net.UnixConn), b)
	}
}

func serveConn(c *net.UnixConn, b *Backend) {
	defer c.Close()
	if !peerAllowed(c) {
		json.NewEncoder(c).Encode(Response{Error: "permission denied"})
		return
	}
	var req Request
	if err := json.NewDecoder(bufio.NewReader(c)).Decode(&req); err != nil {
		return
	}
	json.NewEncoder(c).Encode(b.handle(&req))
}

func peerAllowed(c *net.UnixConn) bool {
	raw, err := c.SyscallConn()
	if err != nil {
		return false
	}
	var cred *unix.Ucred
	raw.Control(func(fd uintptr) {
		cred, _ = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	})
	return cred != nil && (cred.Uid == 0 || int(cred.Uid) == os.Geteuid())
}

// admin is the identity of the control channel: the sandbox's owner with
// the rights to remove any set.
var admin = &sem.Task{PID: 0, Cred: &sem.Cred{CapIPCOwner: true, CapSysAdmin: true}}

func (b *Backend) handle(req *Request) Response {
	if b.Settle != nil {
		b.Settle()
	}
	ns := b.Namespace
	resp := Response{Sandbox: b.Sandbox, Limits: ns.Limits()}
	switch req.Op {
	case "list", "info":
		for _, si := range ns.Snapshot(req.Op == "info") {
			if req.Op == "info" && si.ID != req.ID {
				continue
			}
			s := Set{Key: si.DS.Perm.Key, ID: si.ID, UID: si.DS.Perm.UID, GID: si.DS.Perm.GID,
				CUID: si.DS.Perm.CUID, CGID: si.DS.Perm.CGID, Mode: si.DS.Perm.Mode,
				Nsems: si.DS.Nsems, Otime: si.DS.Otime, Ctime: si.DS.Ctime}
			if req.Op == "info" {
				var adj map[int32][]int16
				if b.Adjustments != nil {
					adj = b.Adjustments(si.ID)
				}
				for i := range si.Vals {
					sm := Semaphore{Num: i, Value: si.Vals[i], Ncount: si.Ncnt[i], Zcount: si.Zcnt[i], PID: si.Pids[i]}
					for pid, a := range adj {
						if i < len(a) && a[i] != 0 {
							sm.Adjustments = append(sm.Adjustments, Adjustment{PID: pid, Adj: a[i]})
						}
					}
					sort.Slice(sm.Adjustments, func(x, y int) bool { return sm.Adjustments[x].PID < sm.Adjustments[y].PID })
					s.Sems = append(s.Sems, sm)
				}
			}
			resp.Sets = append(resp.Sets, s)
		}
		if req.Op == "info" && len(resp.Sets) == 0 {
			resp.Error = fmt.Sprintf("id %d not found", req.ID)
		}
	case "remove":
		if e := ns.Remove(admin, req.ID); e != 0 {
			resp.Error = e.Error()
		} else {
			resp.Removed = 1
		}
	case "remove-key":
		id, e := ns.Semget(admin, req.Key, 0, 0)
		if e == 0 {
			e = ns.Remove(admin, id)
		}
		if e != 0 {
			resp.Error = e.Error()
		} else {
			resp.Removed = 1
		}
	case "remove-all":
		for _, si := range ns.Snapshot(false) {
			if ns.Remove(admin, si.ID) == 0 {
				resp.Removed++
			}
		}
	default:
		resp.Error = "unknown request " + strconv.Quote(req.Op)
	}
	return resp
}

// Sandboxes lists the sockets of the current user's running sandboxes,
// sorted by pid.
func Sandboxes() ([]int, error) {
	entries, err := os.ReadDir(Dir())
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".sock")
		if !ok {
			continue
		}
		if pid, err := strconv.Atoi(name); err == nil {
			if unix.Kill(pid, 0) == unix.ESRCH {
				os.Remove(filepath.Join(Dir(), e.Name())) // stale
				continue
			}
			pids = append(pids, pid)
		}
	}
	sort.Ints(pids)
	return pids, nil
}

// Ask sends one request to the sandbox run by sembox process pid.
func Ask(pid int, req Request) (*Response, error) {
	c, err := net.Dial("unix", filepath.Join(Dir(), strconv.Itoa(pid)+".sock"))
	if err != nil {
		return nil, fmt.Errorf("sandbox %d: %w", pid, err)
	}
	defer c.Close()
	if err := json.NewEncoder(c).Encode(req); err != nil {
		return nil, err
	}
	var resp Response
	if err := json.NewDecoder(c).Decode(&resp); err != nil {
		return nil, fmt.Errorf("sandbox %d: %w", pid, err)
	}
	if resp.Error != "" {
		return &resp, errors.New(resp.Error)
	}
	return &resp, nil
}
