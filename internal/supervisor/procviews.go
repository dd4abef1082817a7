package supervisor

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/sembox/sembox/internal/seccomp"
	"github.com/sembox/sembox/sem"
)

// limitsWriter is a pending write to /proc/sys/kernel/sem: the read end of
// the pipe the writer got, and the namespace it applies to.
type limitsWriter struct {
	fd int
	ns *sem.Namespace
}

// The /proc files that describe System V semaphores. Inside a sandbox
// they must describe the sandbox's namespace, not the host's.
const (
	procSysvipcSem   = "/proc/sysvipc/sem"
	procSysKernelSem = "/proc/sys/kernel/sem"
)

// serveOpen answers a trapped open, openat or openat2. Opens of the two
// semaphore files get a file descriptor injected into the caller
// (SECCOMP_IOCTL_NOTIF_ADDFD) whose content is the sandbox's; every other
// open continues in the kernel untouched. It reports false if the call is
// not an open.
func (w *worker) serveOpen() bool {
	n := &w.n
	dirfd, pathAddr, flags, howAddr, ok := openArgs(n.Data.Nr, &n.Data.Args)
	if !ok {
		return false
	}
	w.mem.tid = int32(n.PID)
	p, good := w.readPath(pathAddr)
	if !good || !bytes.HasSuffix(p, []byte("sem")) {
		w.traceOpen(p, good, "continued")
		w.continueCall()
		return true
	}
	w.yieldTurn() // resolving and serving a view take system calls
	name := w.resolve(dirfd, string(p))
	if name != procSysvipcSem && name != procSysKernelSem {
		w.traceOpen(p, good, "continued")
		w.continueCall()
		return true
	}
	w.traceOpen(p, good, "served")
	if howAddr != 0 {
		var how [8]byte
		if w.mem.CopyIn(howAddr, how[:]) != 0 {
			w.continueCall() // let the kernel report the fault
			return true
		}
		flags = binary.LittleEndian.Uint64(how[:])
	}
	th := w.thread()
	if th == nil {
		return true
	}
	defer th.serving.Unlock()
	if seccomp.IDValid(w.s.fd, n.ID) != nil {
		return true
	}
	w.reapExits() // the view shows values an undo may have changed
	w.enter()
	w.s.openView(w, th, name, flags)
	w.leave()
	return true
}

// traceOpen writes the trace line of a trapped open of path p (unreadable
// if !good): every open is trapped on this path, which the trace shows.
func (w *worker) traceOpen(p []byte, good bool, what string) {
	t := w.s.trace
	if t == nil {
		return
	}
	name := "open"
	switch w.n.Data.Nr {
	case unix.SYS_OPENAT:
		name = "openat"
	case unix.SYS_OPENAT2:
		name = "openat2"
	}
	arg := fmt.Sprintf("%q", p)
	if !good {
		arg = "?"
	}
	t.write(fmt.Sprintf("[pid %d] %s(%s) <trapped: %s>", w.n.PID, name, arg, what))
}

// openView injects a descriptor for one of the semaphore files.
func (s *Supervisor) openView(w *worker, th *thread, name string, flags uint64) {
	var fdFlags uint32
	if flags&unix.O_CLOEXEC != 0 {
		fdFlags = unix.O_CLOEXEC
	}
	writing := flags&unix.O_ACCMODE != unix.O_RDONLY
	if writing {
		// /proc/sysvipc/sem is read-only; /proc/sys/kernel/sem is
		// root's (mode 0644).
		if name == procSysvipcSem || (th.cred.EUID != 0 && !th.cred.CapSysAdmin) {
			w.reply(0, unix.EACCES)
			return
		}
		s.injectLimitsWriter(w, th.proc.ns.Load(), fdFlags)
		return
	}
	var content []byte
	if name == procSysvipcSem {
		var b bytes.Buffer
		th.proc.ns.Load().WriteProcSysvipcSem(&b)
		content = b.Bytes()
	} else {
		content = []byte(th.proc.ns.Load().ProcSysKernelSem())
	}
	fd, err := unix.MemfdCreate("sembox"+name, unix.MFD_CLOEXEC)
	if err != nil {
		w.reply(0, unix.ENOMEM)
		return
	}
	defer unix.Close(fd)
	if _, err := unix.Write(fd, content); err != nil {
		w.reply(0, unix.ENOMEM)
		return
	}
	unix.Seek(fd, 0, io.SeekStart)
	// The injected memfd is read-write; make it read-only for the caller
	// by reopening it O_RDONLY.
	ro, err := unix.Open("/proc/self/fd/"+strconv.Itoa(fd), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		w.reply(0, unix.ENOMEM)
		return
	}
	defer unix.Close(ro)
	if _, err := seccomp.AddFD(s.fd, w.n.ID, ro, fdFlags, true); err != nil {
		return // the caller is gone
	}
	s.served.Add(1)
}

// injectLimitsWriter gives the caller the write end of a pipe and applies
// what it writes to the namespace's limits once it is closed, with the
// kernel's validation. Unlike the kernel, an invalid value cannot fail
// the write(2) itself.
func (s *Supervisor) injectLimitsWriter(w *worker, ns *sem.Namespace, fdFlags uint32) {
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		w.reply(0, unix.ENOMEM)
		return
	}
	// The descriptor is added, our copy of the write end closed, and only
	// then the call answered: answered at once (ADDFD_FLAG_SEND), the
	// caller could write, close and open the file again before our copy
	// was closed, and drainWriters would not see the end of the write
	// (no POLLHUP while we hold a copy). Without killable waits a signal
	// can still end the call between the two steps: the caller then keeps
	// a descriptor it does not know of, and the writer stays pending.
	tfd, err := seccomp.AddFD(s.fd, w.n.ID, p[1], fdFlags, false)
	unix.Close(p[1])
	if err != nil {
		unix.Close(p[0])
		return
	}
	s.writersMu.Lock()
	s.writers = append(s.writers, limitsWriter{fd: p[0], ns: ns})
	s.writersMu.Unlock()
	s.nwriters.Add(1)
	w.reply(int64(tfd), 0)
}

// drainWriters applies the writes to /proc/sys/kernel/sem whose writers
// have closed the file. It runs before every semaphore call or view open
// while a writer is pending, so a program that writes the limits and then
// uses them sees them applied, as with the kernel's synchronous write.
func (s *Supervisor) drainWriters() {
	s.writersMu.Lock()
	defer s.writersMu.Unlock()
	kept := s.writers[:0]
	for _, lw := range s.writers {
		fd := lw.fd
		pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		if n, _ := unix.Poll(pfd, 0); n == 0 || pfd[0].Revents&unix.POLLHUP == 0 {
			kept = append(kept, lw)
			continue
		}
		text, _ := io.ReadAll(io.LimitReader(os.NewFile(uintptr(fd), "limits"), 4096))
		unix.Close(fd)
		s.nwriters.Add(-1)
		if len(bytes.TrimSpace(text)) > 0 {
			lw.ns.WriteProcSysKernelSem(string(text))
		}
	}
	s.writers = kept
}

// readPath reads a NUL-terminated path (at most PATH_MAX bytes) from the
// caller, a page at a time so that a string near the end of a mapping is
// read correctly.
func (w *worker) readPath(addr uint64) ([]byte, bool) {
	const pathMax = 4096
	buf := w.buf[:0]
	for len(buf) < pathMax {
		chunk := 4096 - int(addr%4096)
		chunk = min(chunk, pathMax-len(buf))
		start := len(buf)
		buf = append(buf, make([]byte, chunk)...)
		if w.mem.CopyIn(addr, buf[start:]) != 0 {
			return nil, false
		}
		if i := bytes.IndexByte(buf[start:], 0); i >= 0 {
			w.buf = buf[:cap(buf)]
			return buf[:start+i], true
		}
		addr += uint64(chunk)
	}
	return nil, false
}

// resolve makes p absolute against dirfd in the caller, and cleans it.
func (w *worker) resolve(dirfd int32, p string) string {
	if !path.IsAbs(p) {
		link := "/proc/" + strconv.Itoa(int(w.n.PID)) + "/cwd"
		if dirfd != unix.AT_FDCWD {
			link = "/proc/" + strconv.Itoa(int(w.n.PID)) + "/fd/" + strconv.Itoa(int(dirfd))
		}
		dir, err := os.Readlink(link)
		if err != nil {
			return ""
		}
		p = dir + "/" + p
	}
	return path.Clean(p)
}
