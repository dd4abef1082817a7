//go:build linux

package fuse

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Caller is who made a request, from the request's header: the calling
// thread's id (a TID, not the TGID) as seen in the PID namespace of the
// process that mounted the file system (0 if it is not visible there), and
// its fsuid and fsgid in the mounter's user namespace.
type Caller struct{ PID, UID, GID uint32 }

// Files produces the content of the files and receives what is written
// to them. Its methods are called concurrently.
type Files interface {
	// Open is called for each open of file name; it returns the content the
	// opener will read (a snapshot taken at open, like procfs), or an errno
	// (EACCES, ...). flags are the open flags (O_ACCMODE, O_TRUNC, O_APPEND,
	// ...; the kernel has already dropped O_CREAT, O_EXCL and O_NOCTTY).
	// The returned slice is kept by the open file and must not be changed.
	Open(name string, flags uint32, c Caller) ([]byte, syscall.Errno)
	// Write is called for each write(2) to an open file with the bytes
	// written at offset; its errno is what write(2) returns (e.g. EINVAL,
	// as the kernel's /proc/sys/kernel/sem rejects a bad value). data is
	// the caller's to keep.
	Write(name string, off int64, data []byte, c Caller) syscall.Errno
}

// Accesser is implemented by a Files that checks permissions itself (see
// MountOptions.OwnPermissions): Access answers access(2) and the like for
// file name ("" for the root directory); mask is R_OK, W_OK and X_OK
// or'ed (F_OK is 0). Without it such checks always succeed.
type Accesser interface {
	Access(name string, mask uint32, c Caller) syscall.Errno
}

// MountOptions are how MountConn mounts.
type MountOptions struct {
	// OwnPermissions mounts without default_permissions: the kernel does
	// not check the files' modes against the caller, every open comes to
	// Files.Open whoever makes it, and access(2) comes to Access if
	// Files is an Accesser. Files must then refuse what it must itself
	// (EACCES).
	OwnPermissions bool
}

// FileInfo names one file of the root directory and its permission bits.
type FileInfo struct {
	Name string
	Mode uint32 // permission bits only, e.g. 0444, 0644
}

// Server serves one mounted file system.
type Server struct {
	dir   string
	files []FileInfo
	index map[string]int // name -> position in files
	fs    Files
	time  uint64 // the files' times: when they were mounted

	dev     *os.File // the connection's /dev/fuse descriptor
	workers sync.WaitGroup
	done    chan struct{} // closed when every worker has ended

	poolMu   sync.Mutex
	reading  int       // workers reading dev, or about to
	total    int       // workers
	lastRead time.Time // when a worker last got a request

	initOnce    sync.Once
	initialized chan struct{} // closed when FUSE_INIT has been answered
	initErr     error         // why INIT failed, set before initialized is closed
	ready       atomic.Bool
	pollHack    atomic.Bool // pollHackName resolves (see disablePoll)

	mu      sync.Mutex
	handles map[uint64][]byte // open file handle -> snapshot
	nextFH  uint64

	unmountOnce sync.Once
	unmountErr  error
}

// Tunables.
const (
	// maxWorkers bounds the goroutines serving requests (see serve).
	maxWorkers = 16
	// stallCheck is how often the watchdog checks that a worker is
	// reading, and how long the workers may all be busy before it starts
	// another (see serve).
	stallCheck = 50 * time.Millisecond
	// maxWrite is the largest write the kernel sends in one request.
	maxWrite = 64 << 10
	// bufSize holds the largest request: a write of maxWrite, or a
	// setxattr of a 64 KiB value, with their headers.
	bufSize = maxWrite + 8<<10
	// ttl is how long, in seconds, the kernel may cache names and
	// attributes: they never change while mounted.
	ttl = 3600
	// initTimeout bounds how long Mount waits for the kernel's FUSE_INIT.
	initTimeout = 10 * time.Second
)

// devFuse is the device opened to make a connection (a variable so that a
// test can use a node of its own).
var devFuse = "/dev/fuse"

// newServer checks files and builds a server that is not mounted yet.
func newServer(files []FileInfo, fs Files) (*Server, error) {
	if fs == nil {
		return nil, errors.New("fuse: nil Files")
	}
	s := &Server{
		files:       append([]FileInfo(nil), files...),
		index:       make(map[string]int, len(files)),
		fs:          fs,
		time:        uint64(time.Now().Unix()),
		done:        make(chan struct{}),
		initialized: make(chan struct{}),
		handles:     make(map[uint64][]byte),
	}
	for i, f := range s.files {
		if f.Name == "" || f.Name == "." || f.Name == ".." || len(f.Name) > 255 ||
			strings.ContainsAny(f.Name, "/\x00") {
			return nil, fmt.Errorf("fuse: bad file name %q", f.Name)
		}
		if f.Name == pollHackName {
			return nil, fmt.Errorf("fuse: file name %q is reserved", f.Name)
		}
		if f.Mode&^0o7777 != 0 {
			return nil, fmt.Errorf("fuse: mode %#o of %q has more than permission bits", f.Mode, f.Name)
		}
		if _, dup := s.index[f.Name]; dup {
			return nil, fmt.Errorf("fuse: file %q given twice", f.Name)
		}
		s.index[f.Name] = i
	}
	return s, nil
}

// Mount mounts the file system at dir (an existing directory) and serves it
// until Unmount or until the mount goes away. It needs CAP_SYS_ADMIN in the
// user namespace that owns the caller's mount namespace, and /dev/fuse.
//
// The mount is made with allow_other (every process may use it; in a user
// namespace, the kernel limits that to processes inside it) and
// default_permissions (the kernel checks the modes: a 0644 root-owned file
// cannot be written by other users, who get EACCES without asking us).
// It is owned by the caller's effective uid and gid; the files and the
// root directory (mode 0555) belong to root.
func Mount(dir string, files []FileInfo, fs Files) (*Server, error) {
	s, err := newServer(files, fs)
	if err != nil {
		return nil, err
	}
	s.dir = dir
	fd, err := MountConn(dir, MountOptions{})
	if err != nil {
		return nil, err
	}
	// The kernel has queued FUSE_INIT; every other request waits for its
	// answer.
	s.start(fd)
	select {
	case <-s.initialized:
		if err = s.initErr; err == nil {
			if err = s.disablePoll(); err == nil {
				return s, nil
			}
		}
	case <-s.done:
		err = errors.New("fuse: connection ended before FUSE_INIT")
	case <-time.After(initTimeout):
		err = errors.New("fuse: no FUSE_INIT from the kernel")
	}
	s.Unmount()
	return nil, err
}

// MountConn mounts a FUSE file system at dir (an existing directory)
// without serving it, and returns the connection's /dev/fuse descriptor
// (close-on-exec, non-blocking): every request on the mount, FUSE_INIT
// first, waits until Serve answers it, in this process or in another one
// the descriptor is passed to. It needs what Mount needs. The mount is made
// as Mount's, without default_permissions if opts.OwnPermissions.
func MountConn(dir string, opts MountOptions) (int, error) {
	fd, err := unix.Open(devFuse, unix.O_RDWR|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return -1, &os.PathError{Op: "open", Path: devFuse, Err: err}
	}
	o := fmt.Sprintf("fd=%d,rootmode=%o,user_id=%d,group_id=%d,allow_other",
		fd, sIFDIR, os.Geteuid(), os.Getegid())
	if !opts.OwnPermissions {
		o += ",default_permissions"
	}
	if err := unix.Mount("sembox", dir, "fuse", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, o); err != nil {
		unix.Close(fd)
		return -1, &os.PathError{Op: "mount fuse", Path: dir, Err: err}
	}
	return fd, nil
}

// Serve serves the connection dev, a /dev/fuse descriptor from MountConn
// (here or in another process), until Unmount or until the connection
// ends (the mount and every bind of it went away). It owns dev from then
// on, even on failure. It does not wait for FUSE_INIT: requests are
// answered as they come. The server has no mount point of its own
// (Dir is ""): Unmount only ends the connection.
//
// The serving process must not open the files itself with package os
// (see disablePoll); another process may.
func Serve(dev int, files []FileInfo, fs Files) (*Server, error) {
	s, err := newServer(files, fs)
	if err != nil {
		unix.Close(dev)
		return nil, err
	}
	if err := unix.SetNonblock(dev, true); err != nil {
		unix.Close(dev)
		return nil, fmt.Errorf("fuse: %w", err)
	}
	s.start(dev)
	return s, nil
}

// start serves the non-blocking descriptor fd: the workers wait for
// requests in the runtime's network poller, and Unmount wakes them by
// closing it.
func (s *Server) start(fd int) {
	s.dev = os.NewFile(uintptr(fd), devFuse)
	s.reading, s.total = 1, 1
	s.workers.Add(1)
	go s.serve()
	go func() {
		s.workers.Wait()
		s.dev.Close()
		close(s.done)
	}()
	go s.watchdog()
}

// pollHackName is a hidden file that exists only while disablePoll runs.
const pollHackName = ".sembox-fuse-poll"

// pollHackID is the node id of pollHackName.
const pollHackID = 1 << 62

// disablePoll makes the kernel stop sending FUSE_POLL. Until a FUSE_POLL
// is answered with ENOSYS, each poll of a file of the mount, including the
// epoll_ctl(EPOLL_CTL_ADD) by which the Go runtime registers every file it
// opens, sends one and waits for the answer, and epoll_ctl waits holding
// the lock of the runtime's epoll set: if this process opens one of the
// files with package os, its network poller hangs, and so do the workers
// waiting in it for requests (a deadlock). So Mount polls a hidden file
// once, directly, and the FUSE_POLL that results gets ENOSYS.
func (s *Server) disablePoll() error {
	s.pollHack.Store(true)
	defer s.pollHack.Store(false)
	path := s.dir + "/" + pollHackName
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: path, Err: err}
	}
	defer unix.Close(fd)
	if _, err := unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, 0); err != nil {
		return &os.PathError{Op: "poll", Path: path, Err: err}
	}
	return nil
}

// Unmount detaches the mount (that Mount made; a server from Serve has
// none), ends the connection (so that bind mounts of
// its files elsewhere, in other mount namespaces, stop working too: they
// then fail with ENOTCONN) and waits for the serving goroutines to end. A
// request being answered is finished first. Calling it again returns the
// first call's result.
func (s *Server) Unmount() error {
	s.unmountOnce.Do(func() {
		if s.dir != "" {
			err := unix.Unmount(s.dir, unix.MNT_DETACH)
			if err != nil && err != unix.EINVAL && err != unix.ENOENT {
				// EINVAL: no longer mounted there (unmounted by someone else).
				s.unmountErr = &os.PathError{Op: "umount", Path: s.dir, Err: err}
			}
		}
		s.dev.Close() // the last descriptor of the connection: this aborts it
		<-s.done
	})
	return s.unmountErr
}

// Done is closed when the server has stopped serving: after Unmount, or
// when the kernel ended the connection (the mount and every bind of it
// went away, or the connection was aborted).
func (s *Server) Done() <-chan struct{} { return s.done }

// Dir is where the file system was mounted.
func (s *Server) Dir() string { return s.dir }

// serve reads requests and answers them until the connection ends or
// Unmount closes the descriptor.
//
// One worker reads at a time and answers each request itself, at once:
// then a request costs a single wake-up (with several workers waiting in
// the network poller, every request woke them all; handing each request
// to a new goroutine cost as much; on this project's 2-CPU virtual
// machines either doubled the time of an open). Answers that call Files
// may take time, though: if no worker has been reading for stallCheck, the
// watchdog starts another, and a worker that finds another reading when
// it is done ends.
func (s *Server) serve() {
	defer s.workers.Done()
	buf := make([]byte, bufSize)
	for {
		n, err := s.dev.Read(buf)
		if err != nil {
			if errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.EINTR) {
				continue // the request went away before we read it
			}
			// ENODEV: unmounted or aborted; ErrClosed: Unmount.
			s.poolMu.Lock()
			s.reading--
			s.total--
			s.poolMu.Unlock()
			return
		}
		s.poolMu.Lock()
		s.reading--
		s.lastRead = time.Now()
		s.poolMu.Unlock()

		if reply, fh := s.handle(buf[:n]); reply != nil {
			if _, err := s.dev.Write(reply); err != nil && fh != 0 {
				// The request was interrupted or aborted: an open that
				// was not delivered will never be released.
				s.release(fh)
			}
		}

		s.poolMu.Lock()
		if s.reading > 0 {
			s.total--
			s.poolMu.Unlock()
			return
		}
		s.reading++
		s.poolMu.Unlock()
	}
}

// watchdog starts a worker when all have been busy for stallCheck.
func (s *Server) watchdog() {
	t := time.NewTicker(stallCheck)
	defer t.Stop()
	for {
		select {
		case <-s.done:
			return
		case now := <-t.C:
			s.poolMu.Lock()
			if s.reading == 0 && s.total > 0 && s.total < maxWorkers && now.Sub(s.lastRead) >= stallCheck {
				s.reading++
				s.total++
				s.workers.Add(1)
				go s.serve()
			}
			s.poolMu.Unlock()
		}
	}
}

// handle answers one request. It returns the reply (nil for requests that
// take none) and, for an open, the handle made, to be released if the reply
// cannot be delivered.
func (s *Server) handle(msg []byte) (reply []byte, fh uint64) {
	r, ok, errno := parseRequest(msg)
	if !ok {
		return nil, 0
	}
	switch r.Opcode {
	case opForget, opBatchForget, opInterrupt:
		// No reply. Nodes are fixed, so lookup counts need no tracking;
		// requests are answered without blocking, so interrupts are moot.
		return nil, 0
	}
	if errno != 0 {
		return errReply(r.Unique, errno), 0
	}
	if r.Opcode == opInit {
		return s.init(r), 0
	}
	if !s.ready.Load() {
		return errReply(r.Unique, syscall.EIO), 0
	}
	c := Caller{PID: r.PID, UID: r.UID, GID: r.GID}
	switch r.Opcode {
	case opLookup:
		return s.lookup(r), 0
	case opGetattr:
		return s.getattr(r), 0
	case opSetattr:
		return s.setattr(r), 0
	case opOpen:
		return s.open(r, c)
	case opRead:
		return s.read(r), 0
	case opWrite:
		return s.write(r, c), 0
	case opRelease:
		var d = decoder{b: r.arg}
		if h := d.u64(); !d.short {
			s.release(h)
		}
		return errReply(r.Unique, 0), 0
	case opFlush, opReleasedir, opDestroy:
		return errReply(r.Unique, 0), 0
	case opOpendir:
		if r.NodeID != rootID {
			return errReply(r.Unique, s.notDir(r.NodeID)), 0
		}
		return newReply(r.Unique, openOutSize).openOut(0, 0).done(0), 0
	case opReaddir:
		return s.readdir(r), 0
	case opStatfs:
		e := newReply(r.Unique, kstatfsSize)
		e = e.u64(0).u64(0).u64(0)                // blocks, bfree, bavail
		e = e.u64(uint64(len(s.files)) + 1)       // files
		e = e.u64(0)                              // ffree
		e = e.u32(4096).u32(255).u32(4096).u32(0) // bsize, namelen, frsize, padding
		for i := 0; i < 6; i++ {
			e = e.u32(0) // spare
		}
		return e.done(0), 0
	case opGetxattr:
		return errReply(r.Unique, syscall.ENODATA), 0
	case opListxattr:
		d := decoder{b: r.arg}
		if size := d.u32(); d.short || size != 0 {
			return newReply(r.Unique, 0).done(0), 0 // no names
		}
		return newReply(r.Unique, 8).u32(0).u32(0).done(0), 0 // fuse_getxattr_out: size 0
	case opAccess:
		// Only sent without default_permissions (MountOptions).
		i, root, ok := s.node(r.NodeID)
		if !ok {
			return errReply(r.Unique, syscall.ENOENT), 0
		}
		d := decoder{b: r.arg}
		mask := d.u32()
		if d.short {
			return errReply(r.Unique, syscall.EIO), 0
		}
		a, isAccesser := s.fs.(Accesser)
		if !isAccesser {
			return errReply(r.Unique, 0), 0
		}
		name := ""
		if !root {
			name = s.files[i].Name
		}
		return errReply(r.Unique, a.Access(name, mask, c)), 0
	case opPoll:
		// ENOSYS makes the kernel stop asking: polls of the files then
		// report them always readable and writable (see disablePoll).
		return errReply(r.Unique, syscall.ENOSYS), 0
	case opCreate, opMknod:
		// As procfs: a directory without a create operation.
		return errReply(r.Unique, syscall.EACCES), 0
	case opMkdir, opSymlink, opLink, opUnlink, opRmdir, opRename, opRename2:
		return errReply(r.Unique, syscall.EPERM), 0
	}
	return errReply(r.Unique, syscall.ENOSYS), 0
}

// init answers FUSE_INIT.
func (s *Server) init(r request) []byte {
	in, ok := decodeInit(r.arg)
	var errno syscall.Errno
	switch {
	case !ok:
		errno = syscall.EIO
	case in.Major > kernelVersion:
		// A newer kernel asks what we speak; it sends INIT again.
		return newReply(r.Unique, 8).u32(kernelVersion).u32(maxMinor).done(0)
	case in.Major < kernelVersion || in.Minor < minMinor:
		errno = syscall.EPROTO
	}
	if errno != 0 {
		s.initOnce.Do(func() {
			s.initErr = fmt.Errorf("fuse: kernel protocol %d.%d not supported", in.Major, in.Minor)
			close(s.initialized)
		})
		return errReply(r.Unique, errno)
	}
	minor := min(in.Minor, maxMinor)
	want := uint32(initAsyncRead | initAtomicOTrunc | initBigWrites | initParallelDirops)
	e := newReply(r.Unique, initOutSize)
	e = e.u32(kernelVersion).u32(minor)
	e = e.u32(in.MaxReadahead)
	e = e.u32(in.Flags & want)
	e = e.u16(16).u16(12) // max_background, congestion_threshold
	e = e.u32(maxWrite)
	e = e.u32(1)        // time_gran: 1 ns
	e = e.u16(0).u16(0) // max_pages (not negotiated), map_alignment
	e = e.u32(0)        // flags2
	for i := 0; i < 7; i++ {
		e = e.u32(0) // unused
	}
	s.ready.Store(true)
	s.initOnce.Do(func() { close(s.initialized) })
	return e.done(0)
}

// node resolves a node id: the root directory, or file i.
func (s *Server) node(id uint64) (i int, root, ok bool) {
	if id == rootID {
		return 0, true, true
	}
	if id >= 2 && id-2 < uint64(len(s.files)) {
		return int(id - 2), false, true
	}
	return 0, false, false
}

// notDir is the error for a directory operation on node id.
func (s *Server) notDir(id uint64) syscall.Errno {
	if _, _, ok := s.node(id); ok {
		return syscall.ENOTDIR
	}
	return syscall.ENOENT
}

func (s *Server) rootAttr() attr {
	return attr{Ino: rootID, Time: s.time, Mode: sIFDIR | 0o555, Nlink: 2, Blksize: 4096}
}

func (s *Server) fileAttr(i int) attr {
	return attr{Ino: uint64(i) + 2, Time: s.time, Mode: sIFREG | s.files[i].Mode, Nlink: 1, Blksize: 4096}
}

func (s *Server) attrOf(id uint64) (attr, bool) {
	if id == pollHackID {
		return attr{Ino: pollHackID, Time: s.time, Mode: sIFREG | 0o444, Nlink: 1, Blksize: 4096}, true
	}
	i, root, ok := s.node(id)
	switch {
	case !ok:
		return attr{}, false
	case root:
		return s.rootAttr(), true
	}
	return s.fileAttr(i), true
}

func (s *Server) lookup(r request) []byte {
	if r.NodeID != rootID {
		return errReply(r.Unique, s.notDir(r.NodeID))
	}
	name := cstring(r.arg)
	if name == pollHackName && s.pollHack.Load() {
		a, _ := s.attrOf(pollHackID)
		return newReply(r.Unique, entryOutSize).entryOut(pollHackID, 0, a).done(0)
	}
	i, ok := s.index[name]
	if !ok {
		// A negative entry, cached like the names: the set is fixed.
		return newReply(r.Unique, entryOutSize).entryOut(0, ttl, attr{}).done(0)
	}
	return newReply(r.Unique, entryOutSize).entryOut(uint64(i)+2, ttl, s.fileAttr(i)).done(0)
}

func (s *Server) getattr(r request) []byte {
	a, ok := s.attrOf(r.NodeID)
	if !ok {
		return errReply(r.Unique, syscall.ENOENT)
	}
	return newReply(r.Unique, attrOutSize).attrOut(ttl, a).done(0)
}

// setattr refuses changes of mode and owner and, like procfs, accepts and
// ignores the rest (a truncate, times).
func (s *Server) setattr(r request) []byte {
	a, ok := s.attrOf(r.NodeID)
	if !ok {
		return errReply(r.Unique, syscall.ENOENT)
	}
	d := decoder{b: r.arg}
	valid := d.u32()
	if d.short {
		return errReply(r.Unique, syscall.EIO)
	}
	if valid&(fattrMode|fattrUID|fattrGID) != 0 {
		return errReply(r.Unique, syscall.EPERM)
	}
	return newReply(r.Unique, attrOutSize).attrOut(ttl, a).done(0)
}

func (s *Server) open(r request, c Caller) ([]byte, uint64) {
	if r.NodeID == pollHackID {
		// Handle 0 has no snapshot: reads get EBADF.
		return newReply(r.Unique, openOutSize).openOut(0, fopenDirectIO).done(0), 0
	}
	i, root, ok := s.node(r.NodeID)
	switch {
	case !ok:
		return errReply(r.Unique, syscall.ENOENT), 0
	case root:
		return errReply(r.Unique, syscall.EISDIR), 0
	}
	d := decoder{b: r.arg}
	flags := d.u32()
	if d.short {
		return errReply(r.Unique, syscall.EIO), 0
	}
	data, errno := s.fs.Open(s.files[i].Name, flags, c)
	if errno != 0 {
		return errReply(r.Unique, errno), 0
	}
	// A file handle is a number: the kernel sends it back with each read,
	// write and release of this open file. We number the snapshots.
	s.mu.Lock()
	s.nextFH++
	fh := s.nextFH
	s.handles[fh] = data
	s.mu.Unlock()
	// FOPEN_DIRECT_IO: every read comes to us (no page cache), and the
	// size of 0 in the attributes does not cut reads short. FOPEN_NOFLUSH:
	// close(2) does not wait for a FUSE_FLUSH (there is nothing to flush).
	return newReply(r.Unique, openOutSize).openOut(fh, fopenDirectIO|fopenNoFlush).done(0), fh
}

func (s *Server) release(fh uint64) {
	s.mu.Lock()
	delete(s.handles, fh)
	s.mu.Unlock()
}

func (s *Server) snapshot(fh uint64) ([]byte, bool) {
	s.mu.Lock()
	data, ok := s.handles[fh]
	s.mu.Unlock()
	return data, ok
}

func (s *Server) read(r request) []byte {
	in, ok := decodeIO(r.arg)
	if !ok {
		return errReply(r.Unique, syscall.EIO)
	}
	data, ok := s.snapshot(in.FH)
	if !ok {
		return errReply(r.Unique, syscall.EBADF)
	}
	if in.Offset >= uint64(len(data)) {
		return newReply(r.Unique, 0).done(0)
	}
	data = data[in.Offset:]
	if uint64(len(data)) > uint64(in.Size) {
		data = data[:in.Size]
	}
	return append(newReply(r.Unique, len(data)), data...).done(0)
}

func (s *Server) write(r request, c Caller) []byte {
	in, ok := decodeIO(r.arg)
	if !ok {
		return errReply(r.Unique, syscall.EIO)
	}
	data := r.arg[writeInSize:]
	if uint64(in.Size) > uint64(len(data)) {
		return errReply(r.Unique, syscall.EIO)
	}
	if _, ok := s.snapshot(in.FH); !ok {
		return errReply(r.Unique, syscall.EBADF)
	}
	i, root, ok := s.node(r.NodeID)
	if !ok || root {
		return errReply(r.Unique, syscall.EBADF)
	}
	data = append([]byte(nil), data[:in.Size]...)
	if errno := s.fs.Write(s.files[i].Name, int64(in.Offset), data, c); errno != 0 {
		return errReply(r.Unique, errno)
	}
	return newReply(r.Unique, 8).u32(in.Size).u32(0).done(0)
}

// readdir lists ".", ".." and the files; the offset of an entry is its
// position in that list plus one.
func (s *Server) readdir(r request) []byte {
	if r.NodeID != rootID {
		return errReply(r.Unique, s.notDir(r.NodeID))
	}
	in, ok := decodeIO(r.arg)
	if !ok {
		return errReply(r.Unique, syscall.EIO)
	}
	e := newReply(r.Unique, int(min(in.Size, 4096)))
	for k := in.Offset; k < uint64(len(s.files))+2; k++ {
		name, ino, typ := "", uint64(rootID), uint32(dtDir)
		switch k {
		case 0:
			name = "."
		case 1:
			name = ".." // the parent is outside; the kernel fixes its ino up
		default:
			name, ino, typ = s.files[k-2].Name, k, dtReg
		}
		if len(e)-outHeaderSize+direntSize(name) > int(in.Size) {
			break
		}
		e = e.dirent(ino, k+1, typ, name)
	}
	return e.done(0)
}

var policy = 0
