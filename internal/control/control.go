// Package control is the administrative channel of a running sandbox: a
// unix socket per sandbox, in a directory only its owner can enter, that
// answers JSON requests to list the sandbox's semaphore sets, show one in
// detail and remove sets. `sembox ipcs` and `sembox ipcrm` are its
// clients.
package control

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sembox/sembox/internal/server"
	"github.com/sembox/sembox/sem"
)

// Request is one request on the socket (one JSON line of at most
// MaxRequest bytes). A "join" request carries descriptors (SCM_RIGHTS):
// the member's seccomp listener, and with Trace the file its trace goes
// to.
type Request struct {
	// Op is "list", "info", "stat", "remove", "remove-key",
	// "remove-all", "members", "join", "save", "shutdown" or "hello"
	// (which anyone may ask).
	Op  string `json:"op"`
	ID  int32  `json:"id,omitempty"`
	Key int32  `json:"key,omitempty"`

	// For "join": the member's command, the limits it asks for (the
	// namespace's must be the same), and whether a trace descriptor
	// follows the listener.
	Command []string    `json:"command,omitempty"`
	Limits  *sem.Limits `json:"limits,omitempty"`
	Trace   bool        `json:"trace,omitempty"`
	// ProcFUSE: the FUSE connection of the member's /proc views follows
	// (supervisor.ServeProcMount).
	ProcFUSE bool `json:"proc_fuse,omitempty"`

	// For "save": the absolute path of the file to write ("": the
	// server's state file).
	Path string `json:"path,omitempty"`
}

// MaxRequest bounds the length of a request line.
const MaxRequest = 64 << 10

// Response answers a Request (one JSON line).
type Response struct {
	Error   string     `json:"error,omitempty"`
	Sandbox Sandbox    `json:"sandbox"`
	Limits  sem.Limits `json:"limits"`
	Sets    []Set      `json:"semaphores"`
	Removed int        `json:"removed,omitempty"`
	// Members are the sandboxes using the namespace ("members", "join":
	// the new one only).
	Members []server.Member `json:"members,omitempty"`
	// Stats answers "stat".
	Stats *Stats `json:"stats,omitempty"`
	// Totals answers "members" (which leaves Sets empty: a listing of
	// namespaces needs the counts, not every semaphore).
	Totals *Totals `json:"totals,omitempty"`
}

// Totals counts what a namespace holds.
type Totals struct {
	Sets       int `json:"sets"`
	Semaphores int `json:"semaphores"`
	Waiters    int `json:"waiters"` // blocked calls, counted as GETNCNT and GETZCNT count them
}

// Sandbox identifies the namespace's server: for an anonymous sandbox
// the sembox process that runs it, for a shared namespace its server.
type Sandbox struct {
	PID     int      `json:"pid"` // the sembox process
	Command []string `json:"command"`
	// Name and Socket, for a shared namespace: its name (or path) and
	// the path of its socket.
	Name    string    `json:"name,omitempty"`
	Socket  string    `json:"socket,omitempty"`
	UID     int       `json:"uid"`            // the server's owner
	Mode    uint32    `json:"mode,omitempty"` // the socket's mode: who may join
	Created time.Time `json:"created"`
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

// Stats answers "stat": what the semop calls of each set did since its
// creation (sem.Stats). Times are in nanoseconds; slices are never null.
type Stats struct {
	Sets []SetStats `json:"sets"`
	// Removed sums the counters of the sets removed so far (the waits
	// that IPC_RMID ended show there); RemovedSets is how many of them
	// had semop calls. Total sums every set, live or removed: the
	// namespace's counters, which never decrease.
	Removed     Counters `json:"removed"`
	RemovedSets int      `json:"removed_sets"`
	Total       Counters `json:"total"`
	// BucketBoundsNs are the upper bounds (inclusive) of the wait-time
	// histograms' buckets, Wait.Buckets; the last is -1: no bound (+Inf).
	BucketBoundsNs []int64 `json:"bucket_bounds_ns"`
}

// Counters count a set's semop and semtimedop calls (those that reached
// its operations): Calls = PerformedAtOnce + FailedAtOnce + Blocked.
type Counters struct {
	Calls           uint64 `json:"calls"`
	PerformedAtOnce uint64 `json:"performed_at_once"`
	FailedAtOnce    uint64 `json:"failed_at_once"` // EAGAIN (IPC_NOWAIT, zero timeout), ERANGE
	Blocked         uint64 `json:"blocked"`
	// Performed: at once or after waiting; Ops: their operations (sembufs).
	Performed uint64 `json:"performed"`
	Ops       uint64 `json:"ops"`
	Ends      Ends   `json:"ends"` // how the waits of blocked calls ended
	Wait      Wait   `json:"wait"` // how long they waited
}

// Ends counts how blocked calls' waits ended.
type Ends struct {
	Completed uint64 `json:"completed"`
	EINTR     uint64 `json:"eintr"`  // a signal (or the caller died)
	EAGAIN    uint64 `json:"eagain"` // the timeout expired
	EIDRM     uint64 `json:"eidrm"`  // the set was removed
	Other     uint64 `json:"other"`  // ERANGE when retried
}

// Wait describes the waits that ended. P50Ns and P99Ns are upper bounds
// from the histogram (its buckets double), capped by MaxNs.
type Wait struct {
	Count   uint64   `json:"count"`
	SumNs   uint64   `json:"sum_ns"`
	MaxNs   uint64   `json:"max_ns"`
	P50Ns   uint64   `json:"p50_ns"`
	P99Ns   uint64   `json:"p99_ns"`
	Buckets []uint64 `json:"buckets"` // per bucket of Stats.BucketBoundsNs, not cumulative
}

// SetStats are one set's statistics.
type SetStats struct {
	ID    int32 `json:"id"`
	Key   int32 `json:"key"`
	Nsems int   `json:"nsems"`
	Counters
	// Waiters are the calls waiting now, longest waiting first.
	Waiters []Waiter `json:"waiters"`
	// Sems are the semaphores that had operations or blocked calls or
	// have waiters, hottest first (by operations, then time waited).
	Sems []SemStats `json:"sems"`
}

// Waiter is a call waiting now.
type Waiter struct {
	PID      int32  `json:"pid"`
	Sem      uint16 `json:"semnum"` // the operation it waits for now
	Op       int16  `json:"op"`
	Nsops    int    `json:"nsops"`
	WaitedNs int64  `json:"waited_ns"` // so far
}

// SemStats are one semaphore's statistics: its operations, and the calls
// that first blocked on it.
type SemStats struct {
	Num       int     `json:"semnum"`
	Ops       uint64  `json:"ops"`
	Blocked   uint64  `json:"blocked"`
	Ends      Ends    `json:"ends"`
	WaitSumNs uint64  `json:"wait_sum_ns"`
	WaitMaxNs uint64  `json:"wait_max_ns"`
	Ncount    int32   `json:"ncount"` // waiting now, as GETNCNT
	Zcount    int32   `json:"zcount"` // waiting now, as GETZCNT
	Pids      []int32 `json:"pids"`   // of the waiters now
}

// StatsOf converts the engine's snapshot.
func StatsOf(st sem.Stats) *Stats {
	out := &Stats{Sets: make([]SetStats, 0, len(st.Sets)), RemovedSets: st.RemovedSets,
		Removed: countersOf(&st.Removed), BucketBoundsNs: make([]int64, sem.NumWaitBuckets)}
	tot := st.Total()
	out.Total = countersOf(&tot)
	for i := range out.BucketBoundsNs {
		out.BucketBoundsNs[i] = sem.WaitBucketBound(i)
	}
	for i := range st.Sets {
		s := &st.Sets[i]
		ss := SetStats{ID: s.ID, Key: s.Key, Nsems: s.Nsems, Counters: countersOf(s),
			Waiters: make([]Waiter, 0, len(s.Waiters)), Sems: make([]SemStats, 0, len(s.Sems))}
		for _, w := range s.Waiters {
			ss.Waiters = append(ss.Waiters, Waiter{PID: w.PID, Sem: w.Sem, Op: w.Op, Nsops: w.Nsops, WaitedNs: max(st.Now-w.Since, 0)})
		}
		for _, m := range s.Sems {
			ss.Sems = append(ss.Sems, SemStats{Num: m.Num, Ops: m.Ops, Blocked: m.Blocked, Ends: endsOf(m.Ends),
				WaitSumNs: m.WaitSum, WaitMaxNs: m.WaitMax, Ncount: m.Ncnt, Zcount: m.Zcnt, Pids: append([]int32{}, m.Pids...)})
		}
		out.Sets = append(out.Sets, ss)
	}
	return out
}

func endsOf(e sem.Ends) Ends {
	return Ends{Completed: e.Completed, EINTR: e.EINTR, EAGAIN: e.EAGAIN, EIDRM: e.EIDRM, Other: e.Other}
}

func countersOf(s *sem.SetStats) Counters {
	return Counters{Calls: s.Calls, PerformedAtOnce: s.Immediate, FailedAtOnce: s.Failed, Blocked: s.Blocked,
		Performed: s.Performed, Ops: s.Ops, Ends: endsOf(s.Ends),
		Wait: Wait{Count: s.Ends.Total(), SumNs: s.WaitSum, MaxNs: s.WaitMax,
			P50Ns:   sem.WaitQuantile(s.WaitBuckets, s.WaitMax, 0.5),
			P99Ns:   sem.WaitQuantile(s.WaitBuckets, s.WaitMax, 0.99),
			Buckets: append([]uint64{}, s.WaitBuckets...)}}
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
	// Server, if set, serves "members" and "join".
	Server *server.Server
	// Shutdown, if set, serves "shutdown": it reports why the server
	// cannot stop (members use it), or nil, in which case Stop is called
	// once the answer has been sent.
	Shutdown func() error
	Stop     func()
	// Save, if set, serves "save": it writes the namespace's image to
	// path ("": the server's state file).
	Save func(path string) error
}

// Dir returns the directory of the current user's sandbox sockets:
// /run/sembox for root, unless root here is the root of a user namespace
// (a rootless container) that does not own it and cannot make it; then,
// as for other users, $XDG_RUNTIME_DIR/sembox or $TMPDIR/sembox-UID.
func Dir() string {
	if os.Geteuid() == 0 && rootMayUse("/run/sembox") {
		return "/run/sembox"
	}
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" {
		return filepath.Join(d, "sembox")
	}
	return filepath.Join(os.TempDir(), "sembox-"+strconv.Itoa(os.Geteuid()))
}

// rootMayUse reports whether root may keep its sockets in dir: dir is a
// directory of uid 0 as seen here, or does not exist and its parent is
// writable. A user namespace's root sees the host's /run/sembox as owned
// by the overflow uid and may not write /run.
func rootMayUse(dir string) bool {
	var st unix.Stat_t
	if err := unix.Lstat(dir, &st); err == nil {
		return st.Uid == 0
	}
	return unix.Access(filepath.Dir(dir), unix.W_OK) == nil
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

// requestTimeout bounds how long a peer may take to send its request.
const requestTimeout = 10 * time.Second

func serveConn(c *net.UnixConn, b *Backend) {
	defer c.Close()
	cred := peerCred(c)
	c.SetReadDeadline(time.Now().Add(requestTimeout))
	req, fds, err := readRequest(c)
	defer func() {
		for _, fd := range fds {
			if fd >= 0 {
				unix.Close(fd)
			}
		}
	}()
	enc := json.NewEncoder(c)
	if err != nil {
		enc.Encode(Response{Error: "bad request: " + err.Error()})
		return
	}
	if cred == nil {
		enc.Encode(Response{Error: "permission denied: no peer credentials"})
		return
	}
	if req.Op == "join" {
		enc.Encode(b.join(req, fds, cred))
		return
	}
	if len(fds) > 0 {
		enc.Encode(Response{Error: "bad request: descriptors sent with a request that takes none"})
		return
	}
	if req.Op == "hello" {
		// Anyone who may open the socket learns that a server is there.
		enc.Encode(Response{Sandbox: Sandbox{PID: b.Sandbox.PID, Name: b.Sandbox.Name}})
		return
	}
	// Anyone who may open the socket may join; only its owner and root
	// may look at the namespace from outside or change it.
	if cred.Uid != 0 && int(cred.Uid) != os.Geteuid() {
		enc.Encode(Response{Error: "permission denied"})
		return
	}
	resp := b.handle(req)
	enc.Encode(resp)
	if req.Op == "shutdown" && resp.Error == "" && b.Stop != nil {
		b.Stop()
	}
}

func peerCred(c *net.UnixConn) *unix.Ucred {
	raw, err := c.SyscallConn()
	if err != nil {
		return nil
	}
	var cred *unix.Ucred
	raw.Control(func(fd uintptr) {
		cred, _ = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	})
	return cred
}

// maxFDs is the most descriptors a request may carry.
const maxFDs = 3

// readRequest reads one request line and the descriptors sent with it
// (closed on exec). It refuses a line longer than MaxRequest, bytes
// after it, and anything but JSON.
func readRequest(c *net.UnixConn) (*Request, []int, error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return nil, nil, err
	}
	var fds []int
	buf := make([]byte, 0, 512)
	oob := make([]byte, unix.CmsgSpace(maxFDs*4))
	for {
		if len(buf) == cap(buf) {
			if cap(buf) >= MaxRequest {
				return nil, fds, errors.New("request too long")
			}
			buf = append(buf, make([]byte, cap(buf))...)[:len(buf)]
		}
		var n, oobn, flags int
		var rerr error
		err := raw.Read(func(fd uintptr) bool {
			n, oobn, flags, _, rerr = unix.Recvmsg(int(fd), buf[len(buf):cap(buf)], oob, unix.MSG_CMSG_CLOEXEC)
			return rerr != unix.EAGAIN
		})
		if err == nil {
			err = rerr
		}
		if err != nil {
			return nil, fds, err
		}
		if oobn > 0 {
			msgs, perr := unix.ParseSocketControlMessage(oob[:oobn])
			if perr != nil {
				return nil, fds, perr
			}
			for _, m := range msgs {
				got, perr := unix.ParseUnixRights(&m)
				if perr != nil {
					continue
				}
				fds = append(fds, got...)
			}
		}
		if len(fds) > maxFDs || flags&unix.MSG_CTRUNC != 0 {
			return nil, fds, errors.New("too many descriptors")
		}
		if n == 0 {
			return nil, fds, errors.New("no request")
		}
		buf = buf[:len(buf)+n]
		if len(buf) > MaxRequest {
			return nil, fds, errors.New("request too long")
		}
		if i := bytes.IndexByte(buf, '\n'); i >= 0 {
			if i != len(buf)-1 {
				return nil, fds, errors.New("bytes after the request")
			}
			req, err := DecodeRequest(buf[:i])
			return req, fds, err
		}
	}
}

// DecodeRequest parses a request line (without its newline): one JSON
// object with known fields only.
func DecodeRequest(line []byte) (*Request, error) {
	var req Request
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, errors.New("bytes after the request")
	}
	if len(req.Op) > 32 {
		return nil, errors.New("unknown request")
	}
	return &req, nil
}

// join serves a "join" request: fds[0] is the member's listener, fds[1]
// its trace file if req.Trace, and the last its /proc views' FUSE
// connection if req.ProcFUSE. The descriptors it keeps are set to -1 in
// fds.
func (b *Backend) join(req *Request, fds []int, cred *unix.Ucred) Response {
	resp := Response{Sandbox: b.Sandbox}
	if b.Server == nil {
		resp.Error = "this namespace cannot be joined"
		return resp
	}
	ns := b.Server.Namespace()
	resp.Limits = ns.Limits()
	want := 1
	if req.Trace {
		want++
	}
	if req.ProcFUSE {
		want++
	}
	if len(fds) != want {
		resp.Error = fmt.Sprintf("join: %d descriptors sent, want %d", len(fds), want)
		return resp
	}
	if err := server.CheckListener(fds[0]); err != nil {
		resp.Error = "join: " + err.Error()
		return resp
	}
	if err := server.CanReadMembers(); err != nil {
		resp.Error = "join: " + err.Error()
		return resp
	}
	if req.Limits != nil && *req.Limits != ns.Limits() {
		l := ns.Limits()
		resp.Error = fmt.Sprintf("join: the namespace's limits are \"%d %d %d %d\", not the \"%d %d %d %d\" asked for",
			l.SEMMSL, l.SEMMNS, l.SEMOPM, l.SEMMNI, req.Limits.SEMMSL, req.Limits.SEMMNS, req.Limits.SEMOPM, req.Limits.SEMMNI)
		return resp
	}
	if len(req.Command) > 4096 {
		req.Command = req.Command[:4096]
	}
	jc := server.JoinConfig{Member: server.Member{PID: int(cred.Pid), UID: cred.Uid, Command: req.Command}}
	if req.Trace {
		f := os.NewFile(uintptr(fds[1]), "trace")
		fds[1] = -1
		jc.Trace, jc.Closer = f, f
	}
	listener := fds[0]
	fds[0] = -1
	sup, m, err := b.Server.Join(listener, jc)
	if err != nil {
		resp.Error = "join: " + err.Error()
		return resp
	}
	if req.ProcFUSE {
		dev := fds[len(fds)-1]
		fds[len(fds)-1] = -1
		if err := sup.ServeProcMount(dev); err != nil {
			resp.Error = "join: serving the /proc views: " + err.Error()
			return resp
		}
	}
	resp.Members = []server.Member{m}
	return resp
}

// admin is the identity of the control channel: the sandbox's owner with
// the rights to remove any set.
var admin = &sem.Task{PID: 0, Cred: &sem.Cred{CapIPCOwner: true, CapSysAdmin: true}}

// totalsOf counts the sets, semaphores and waiters of ns.
func totalsOf(ns *sem.Namespace) *Totals {
	t := &Totals{}
	for _, si := range ns.Snapshot(true) {
		t.Sets++
		t.Semaphores += len(si.Vals)
		for i := range si.Vals {
			t.Waiters += int(si.Ncnt[i] + si.Zcnt[i])
		}
	}
	return t
}

func (b *Backend) handle(req *Request) Response {
	if b.Settle != nil {
		b.Settle()
	}
	ns := b.Namespace
	resp := Response{Sandbox: b.Sandbox, Limits: ns.Limits()}
	switch req.Op {
	case "members":
		if b.Server != nil {
			resp.Members = b.Server.Members()
		}
		resp.Totals = totalsOf(ns)
	case "save":
		if b.Save == nil {
			resp.Error = "this namespace cannot be saved"
		} else if req.Path != "" && !filepath.IsAbs(req.Path) {
			resp.Error = "save: the path must be absolute"
		} else if err := b.Save(req.Path); err != nil {
			resp.Error = "save: " + err.Error()
		}
	case "shutdown":
		if b.Shutdown == nil {
			resp.Error = "this namespace ends with its sandbox"
		} else if err := b.Shutdown(); err != nil {
			resp.Error = err.Error()
		}
	case "stat":
		resp.Stats = StatsOf(ns.Stats())
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
	entries, err := sockets(Dir())
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, e := range entries {
		name := strings.TrimSuffix(e.Name(), ".sock")
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

// sockets lists the entries of dir named *.sock (none if dir does not
// exist).
func sockets(dir string) ([]os.DirEntry, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	var out []os.DirEntry
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".sock") {
			out = append(out, e)
		}
	}
	return out, err
}

// Ask sends one request to the sandbox run by sembox process pid.
func Ask(pid int, req Request) (*Response, error) {
	resp, err := AskPath(filepath.Join(Dir(), strconv.Itoa(pid)+".sock"), req)
	if err != nil && resp == nil {
		return nil, fmt.Errorf("sandbox %d: %w", pid, err)
	}
	return resp, err
}
