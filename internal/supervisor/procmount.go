package supervisor

import (
	"bytes"
	"fmt"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/sembox/sembox/internal/fuse"
	"github.com/sembox/sembox/sem"
)

// The mount path of the /proc views (issue 13): where the sandbox may
// have a mount namespace of its own, the launch helper binds the files of
// a FUSE mount over /proc/sysvipc/sem and /proc/sys/kernel/sem there, and
// the supervisor serves the FUSE connection (ServeProcMount). No open is
// trapped: only the opens of the two files come here, through FUSE, and
// get the same content, with the same permission rules, as a trapped open
// of them (procviews.go).

// ProcMountFile is a file of the FUSE mount of the mount path, and the
// /proc file it is bound over.
type ProcMountFile struct {
	Name string // its name in the FUSE mount
	Path string // the /proc file
	Mode uint32 // its permission bits, those of the /proc file
}

// ProcMountFiles are the files ServeProcMount serves.
var ProcMountFiles = [...]ProcMountFile{
	{Name: "sysvipc_sem", Path: procSysvipcSem, Mode: 0o444},
	{Name: "kernel_sem", Path: procSysKernelSem, Mode: 0o644},
}

// ServeProcMount serves the /proc views of the sandbox on dev, the
// /dev/fuse descriptor of the FUSE mount whose files (ProcMountFiles) the
// launch helper binds over the /proc files in the sandbox's mount
// namespace. It owns dev from then on. The FUSE server stops when the
// connection ends (the sandbox's mount namespace died with its last
// process) or when the supervisor is done: the connection is then
// aborted, so that a process still blocked on one of the files gets
// ENOTCONN instead of waiting forever.
func (s *Supervisor) ServeProcMount(dev int) error {
	files := make([]fuse.FileInfo, len(ProcMountFiles))
	for i, f := range ProcMountFiles {
		files[i] = fuse.FileInfo{Name: f.Name, Mode: f.Mode}
	}
	srv, err := fuse.Serve(dev, files, &procFiles{s: s})
	if err != nil {
		return err
	}
	go func() {
		select {
		case <-s.Done():
		case <-srv.Done():
		}
		srv.Unmount()
	}()
	return nil
}

// procFiles is the content of the mount path's files: the views of the
// caller's namespace, as openView makes them for a trapped open.
type procFiles struct {
	s *Supervisor
}

// viewPath returns the /proc file of the mount's file name.
func viewPath(name string) string {
	for _, f := range ProcMountFiles {
		if f.Name == name {
			return f.Path
		}
	}
	return ""
}

// viewCaller returns the identity of the thread that made a FUSE request
// (as thread() and setCred read it for a trapped call: capabilities count
// only in the user namespace that owns the namespace) and the namespace
// its views describe: its thread group's, as the supervisor knows it, or
// else the one a new group of its parent starts in. A caller not visible
// in the supervisor's pid namespace is taken as its fsuid and fsgid,
// without capabilities, in the sandbox's namespace. It reports false if
// the caller has gone.
func (s *Supervisor) viewCaller(c fuse.Caller) (sem.Cred, *sem.Namespace, bool) {
	if c.PID == 0 {
		return sem.Cred{EUID: c.UID, EGID: c.GID, FSGID: c.GID}, s.ns, true
	}
	tid := int32(c.PID)
	buf := make([]byte, 4096)
	var st taskStatus
	if readTaskStatus(tid, buf, &st) != nil {
		return sem.Cred{}, nil, false
	}
	userNS, err := readUserNS(tid, buf)
	if err != nil {
		return sem.Cred{}, nil, false
	}
	ns := s.ns
	if v, ok := s.procs.Load(st.tgid); ok {
		ns = v.(*process).ns.Load()
	} else {
		ns = s.namespaceOf(st.ppid)
	}
	cred := st.cred
	if v, ok := s.owners.Load(ns); ok && v.(uint64) != 0 && v.(uint64) != userNS {
		cred.CapIPCOwner, cred.CapSysAdmin = false, false
	}
	return cred, ns, true
}

// Open makes the content of a view for one open, in arrival order with
// the semaphore calls (as a trapped open of it takes its engine step
// after the calls received before it), once the exits the kernel has
// reported are handled (the view shows values an undo may have changed).
// Opening for writing follows openView's rules: /proc/sysvipc/sem never,
// /proc/sys/kernel/sem by euid 0 or CAP_SYS_ADMIN, else EACCES.
func (f *procFiles) Open(name string, flags uint32, c fuse.Caller) ([]byte, syscall.Errno) {
	s := f.s
	path := viewPath(name)
	cred, ns, ok := s.viewCaller(c)
	if !ok {
		return nil, syscall.ESRCH // the caller has gone: nobody reads this
	}
	if flags&unix.O_ACCMODE != unix.O_RDONLY &&
		(path == procSysvipcSem || (cred.EUID != 0 && !cred.CapSysAdmin)) {
		s.traceView(c, path, flags, "EACCES")
		return nil, syscall.EACCES
	}
	t := s.order.draw()
	s.order.wait(t, make(chan struct{}, 1))
	s.HandleReportedExits()
	var content []byte
	if path == procSysvipcSem {
		var b bytes.Buffer
		ns.WriteProcSysvipcSem(&b)
		content = b.Bytes()
	} else {
		content = []byte(ns.ProcSysKernelSem())
	}
	s.order.done(t)
	s.traceView(c, path, flags, "served")
	return content, 0
}

// Write applies a write to /proc/sys/kernel/sem to the writer's
// namespace, as the kernel does: the write(2) fails with the kernel's
// errno (EINVAL, ERANGE) for a bad value. A write at a later offset is
// ignored, as sysctl's strict mode does. Only a permitted open can write
// (Open).
func (f *procFiles) Write(name string, off int64, data []byte, c fuse.Caller) syscall.Errno {
	s := f.s
	if viewPath(name) != procSysKernelSem {
		return syscall.EBADF
	}
	if off != 0 {
		return 0
	}
	_, ns, ok := s.viewCaller(c)
	if !ok {
		return syscall.ESRCH
	}
	t := s.order.draw()
	s.order.wait(t, make(chan struct{}, 1))
	errno := ns.WriteProcSysKernelSem(string(data))
	s.order.done(t)
	return syscall.Errno(errno)
}

// Access answers access(2) as the kernel does for the /proc files, by
// the caller's fsuid (access(2) makes it the real uid): the root
// directory of the mount is never seen by the sandbox; X_OK is refused,
// and W_OK but for uid 0.
func (f *procFiles) Access(name string, mask uint32, c fuse.Caller) syscall.Errno {
	if name == "" {
		if mask&unix.W_OK != 0 {
			return syscall.EACCES
		}
		return 0
	}
	if mask&unix.X_OK != 0 || (mask&unix.W_OK != 0 && c.UID != 0) {
		return syscall.EACCES
	}
	return 0
}

// traceView writes the trace line of a view opened through the mount.
func (s *Supervisor) traceView(c fuse.Caller, path string, flags uint32, result string) {
	if s.trace != nil {
		s.trace.write(fmt.Sprintf("[pid %d] open(%q, %#o) <FUSE: %s>", c.PID, path, flags, result))
	}
}
