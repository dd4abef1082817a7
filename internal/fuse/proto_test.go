//go:build linux

package fuse

import (
	"bytes"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// fakeFiles is a Files for tests: file "count" reads as the number of
// opens so far, "value" as the last value written to it; writing "bad"
// fails with EINVAL and opening "denied" with EACCES.
type fakeFiles struct {
	mu     sync.Mutex
	opens  int
	value  string
	writes []fakeWrite
}

type fakeWrite struct {
	name string
	off  int64
	data string
	c    Caller
}

func (f *fakeFiles) Open(name string, flags uint32, c Caller) ([]byte, syscall.Errno) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.opens++
	switch name {
	case "count":
		return []byte(strconv.Itoa(f.opens) + "\n"), 0
	case "value":
		return []byte(f.value + "\n"), 0
	case "denied":
		return nil, syscall.EACCES
	}
	return []byte("content of " + name + "\n"), 0
}

func (f *fakeFiles) Write(name string, off int64, data []byte, c Caller) syscall.Errno {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.writes = append(f.writes, fakeWrite{name, off, string(data), c})
	if strings.HasPrefix(string(data), "bad") {
		return syscall.EINVAL
	}
	f.value = strings.TrimSpace(string(data))
	return 0
}

var testFiles = []FileInfo{{"count", 0o444}, {"value", 0o644}, {"denied", 0o444}}

// msg builds a request message.
func msg(op uint32, unique, node uint64, arg ...[]byte) []byte {
	a := bytes.Join(arg, nil)
	e := encoder(nil)
	e = e.u32(uint32(inHeaderSize + len(a))).u32(op).u64(unique).u64(node)
	e = e.u32(1000).u32(1001).u32(4242).u16(0).u16(0)
	return append(e, a...)
}

func u32s(v ...uint32) []byte {
	e := encoder(nil)
	for _, x := range v {
		e = e.u32(x)
	}
	return e
}

func u64s(v ...uint64) []byte {
	e := encoder(nil)
	for _, x := range v {
		e = e.u64(x)
	}
	return e
}

// ioArg is a fuse_read_in or fuse_write_in.
func ioArg(fh, off uint64, size uint32) []byte {
	return append(u64s(fh, off), append(u32s(size, 0), append(u64s(0), u32s(0, 0)...)...)...)
}

type reply struct {
	len    uint32
	errno  syscall.Errno
	unique uint64
	body   []byte
}

func parseReply(t testing.TB, b []byte) reply {
	t.Helper()
	if len(b) < outHeaderSize {
		t.Fatalf("reply of %d bytes", len(b))
	}
	r := reply{len: ne.Uint32(b), errno: syscall.Errno(-int32(ne.Uint32(b[4:]))), unique: ne.Uint64(b[8:]), body: b[16:]}
	if int(r.len) != len(b) {
		t.Fatalf("reply header says %d bytes, has %d", r.len, len(b))
	}
	return r
}

func testServer(t testing.TB) (*Server, *fakeFiles) {
	f := &fakeFiles{value: "32000 1024000000 500 32000"}
	s, err := newServer(testFiles, f)
	if err != nil {
		t.Fatal(err)
	}
	return s, f
}

// do sends a request and parses the reply.
func do(t testing.TB, s *Server, m []byte) reply {
	t.Helper()
	b, _ := s.handle(m)
	if b == nil {
		t.Fatalf("no reply to opcode %d", ne.Uint32(m[4:]))
	}
	r := parseReply(t, b)
	if r.unique != ne.Uint64(m[8:]) {
		t.Fatalf("reply to %d, want %d", r.unique, ne.Uint64(m[8:]))
	}
	return r
}

func initServer(t testing.TB, s *Server) {
	r := do(t, s, msg(opInit, 1, 0, u32s(7, 45, 131072, 0xffffffff, 0), make([]byte, 44)))
	if r.errno != 0 {
		t.Fatalf("INIT: %v", r.errno)
	}
}

func TestInit(t *testing.T) {
	s, _ := testServer(t)
	// Before INIT, nothing is served.
	if r := do(t, s, msg(opGetattr, 2, rootID, make([]byte, 16))); r.errno != syscall.EIO {
		t.Fatalf("GETATTR before INIT: %v", r.errno)
	}
	// A newer kernel (7.45, 64-byte fuse_init_in) gets 7.38.
	r := do(t, s, msg(opInit, 3, 0, u32s(7, 45, 131072, 0xffffffff, 0), make([]byte, 44)))
	if r.errno != 0 || len(r.body) != initOutSize {
		t.Fatalf("INIT: errno %v, %d bytes", r.errno, len(r.body))
	}
	d := decoder{b: r.body}
	major, minor, ra, flags := d.u32(), d.u32(), d.u32(), d.u32()
	if major != 7 || minor != maxMinor || ra != 131072 {
		t.Fatalf("INIT reply %d.%d readahead %d", major, minor, ra)
	}
	if flags&initAtomicOTrunc == 0 || flags&^uint32(initAsyncRead|initAtomicOTrunc|initBigWrites|initParallelDirops) != 0 {
		t.Fatalf("INIT flags %#x", flags)
	}
	if s.initErr != nil {
		t.Fatal(s.initErr)
	}
	// An older kernel (7.31, 16-byte fuse_init_in, no flag we want).
	s2, _ := testServer(t)
	r = do(t, s2, msg(opInit, 4, 0, u32s(7, 31, 4096, 0)))
	d = decoder{b: r.body}
	if major, minor, _, flags := d.u32(), d.u32(), d.u32(), d.u32(); r.errno != 0 || major != 7 || minor != 31 || flags != 0 {
		t.Fatalf("INIT 7.31: %v %d.%d flags %#x", r.errno, major, minor, flags)
	}
	// Too old, or another major.
	s3, _ := testServer(t)
	if r := do(t, s3, msg(opInit, 5, 0, u32s(7, 8, 0, 0))); r.errno != syscall.EPROTO || s3.initErr == nil {
		t.Fatalf("INIT 7.8: %v, %v", r.errno, s3.initErr)
	}
	s4, _ := testServer(t)
	if r := do(t, s4, msg(opInit, 6, 0, u32s(8, 0, 0, 0))); r.errno != 0 || len(r.body) != 8 || s4.ready.Load() {
		t.Fatalf("INIT 8.0: %v, %d bytes", r.errno, len(r.body))
	}
}

func TestRequests(t *testing.T) {
	s, f := testServer(t)
	initServer(t, s)

	// LOOKUP: a file, a missing name (negative entry), below a file.
	r := do(t, s, msg(opLookup, 10, rootID, []byte("value\x00")))
	d := decoder{b: r.body}
	if node := d.u64(); r.errno != 0 || node != 3 || len(r.body) != entryOutSize {
		t.Fatalf("LOOKUP value: %v node %d", r.errno, node)
	}
	mode := ne.Uint32(r.body[40+60:])
	if mode != sIFREG|0o644 {
		t.Fatalf("mode %#o", mode)
	}
	r = do(t, s, msg(opLookup, 11, rootID, []byte("nope\x00")))
	if d := (decoder{b: r.body}); r.errno != 0 || d.u64() != 0 {
		t.Fatalf("LOOKUP nope: %v %x", r.errno, r.body[:8])
	}
	if r := do(t, s, msg(opLookup, 12, 2, []byte("x\x00"))); r.errno != syscall.ENOTDIR {
		t.Fatalf("LOOKUP below a file: %v", r.errno)
	}

	// GETATTR of the root, a file, nothing.
	r = do(t, s, msg(opGetattr, 13, rootID, make([]byte, 16)))
	if r.errno != 0 || len(r.body) != attrOutSize || ne.Uint32(r.body[16+60:]) != sIFDIR|0o555 {
		t.Fatalf("GETATTR root: %v", r.errno)
	}
	r = do(t, s, msg(opGetattr, 14, 2, make([]byte, 16)))
	a := r.body[16:]
	if ne.Uint64(a) != 2 || ne.Uint64(a[8:]) != 0 || ne.Uint32(a[60:]) != sIFREG|0o444 ||
		ne.Uint32(a[64:]) != 1 || ne.Uint32(a[68:]) != 0 || ne.Uint32(a[72:]) != 0 {
		t.Fatalf("GETATTR count: % x", a)
	}
	if r := do(t, s, msg(opGetattr, 15, 99, make([]byte, 16))); r.errno != syscall.ENOENT {
		t.Fatalf("GETATTR 99: %v", r.errno)
	}

	// OPEN, READ in pieces, a second OPEN has a new snapshot, RELEASE.
	open := func(node uint64, flags uint32) (uint64, syscall.Errno) {
		r := do(t, s, msg(opOpen, 20, node, u32s(flags, 0)))
		if r.errno != 0 {
			return 0, r.errno
		}
		if ne.Uint32(r.body[8:])&fopenDirectIO == 0 {
			t.Fatal("no FOPEN_DIRECT_IO")
		}
		return ne.Uint64(r.body), 0
	}
	read := func(fh, off uint64, size uint32) string {
		r := do(t, s, msg(opRead, 21, 2, ioArg(fh, off, size)))
		if r.errno != 0 {
			t.Fatalf("READ: %v", r.errno)
		}
		return string(r.body)
	}
	fh1, _ := open(2, syscall.O_RDONLY)
	fh2, _ := open(2, syscall.O_RDONLY)
	if got := read(fh1, 0, 4096); got != "1\n" {
		t.Fatalf("first snapshot %q", got)
	}
	if got := read(fh2, 0, 1) + read(fh2, 1, 1) + read(fh2, 2, 1) + read(fh2, 1<<62, 10); got != "2\n" {
		t.Fatalf("second snapshot %q", got)
	}
	if r := do(t, s, msg(opRelease, 22, 2, u64s(fh1), u32s(0, 0), u64s(0))); r.errno != 0 {
		t.Fatal(r.errno)
	}
	if r := do(t, s, msg(opRead, 23, 2, ioArg(fh1, 0, 10))); r.errno != syscall.EBADF {
		t.Fatalf("READ after RELEASE: %v", r.errno)
	}
	if _, errno := open(4, syscall.O_RDONLY); errno != syscall.EACCES {
		t.Fatalf("OPEN denied: %v", errno)
	}
	if _, errno := open(rootID, syscall.O_RDONLY); errno != syscall.EISDIR {
		t.Fatalf("OPEN root: %v", errno)
	}

	// WRITE reaches Write, and its errno the writer.
	fh, _ := open(3, syscall.O_WRONLY)
	w := append(ioArg(fh, 0, 8), "1 2 3 4\n"...)
	r = do(t, s, msg(opWrite, 30, 3, w))
	if r.errno != 0 || ne.Uint32(r.body) != 8 {
		t.Fatalf("WRITE: %v %v", r.errno, r.body)
	}
	want := fakeWrite{"value", 0, "1 2 3 4\n", Caller{PID: 4242, UID: 1000, GID: 1001}}
	if len(f.writes) != 1 || f.writes[0] != want {
		t.Fatalf("writes %+v", f.writes)
	}
	if r := do(t, s, msg(opWrite, 31, 3, append(ioArg(fh, 8, 4), "bad\n"...))); r.errno != syscall.EINVAL {
		t.Fatalf("bad WRITE: %v", r.errno)
	}
	if r := do(t, s, msg(opWrite, 32, 3, append(ioArg(fh, 0, 9), "12345678"...))); r.errno != syscall.EIO {
		t.Fatalf("WRITE of more than sent: %v", r.errno)
	}

	// READDIR: all at once, then from an offset, then in a small buffer.
	names := func(b []byte) (out []string) {
		for len(b) >= direntHdrSize {
			n := int(ne.Uint32(b[16:]))
			out = append(out, string(b[24:24+n]))
			b = b[direntSize(string(b[24:24+n])):]
		}
		return out
	}
	r = do(t, s, msg(opReaddir, 40, rootID, ioArg(0, 0, 4096)))
	if got := strings.Join(names(r.body), " "); got != ". .. count value denied" {
		t.Fatalf("READDIR: %q", got)
	}
	r = do(t, s, msg(opReaddir, 41, rootID, ioArg(0, 3, 4096)))
	if got := strings.Join(names(r.body), " "); got != "value denied" {
		t.Fatalf("READDIR from 3: %q", got)
	}
	r = do(t, s, msg(opReaddir, 42, rootID, ioArg(0, 2, 40)))
	if got := strings.Join(names(r.body), " "); got != "count" {
		t.Fatalf("READDIR in 40 bytes: %q", got)
	}
	if r := do(t, s, msg(opReaddir, 43, rootID, ioArg(0, 99, 4096))); len(r.body) != 0 {
		t.Fatalf("READDIR past the end: %q", r.body)
	}

	// The rest.
	for _, c := range []struct {
		op    uint32
		node  uint64
		arg   []byte
		errno syscall.Errno
		size  int
	}{
		{opStatfs, rootID, nil, 0, kstatfsSize},
		{opGetxattr, 2, append(u32s(100, 0), "user.x\x00"...), syscall.ENODATA, 0},
		{opListxattr, 2, u32s(0, 0), 0, 8},
		{opListxattr, 2, u32s(100, 0), 0, 0},
		{opAccess, 2, u32s(4, 0), 0, 0},
		{opFlush, 2, u64s(fh, 0, 0), 0, 0},
		{opOpendir, rootID, u32s(0, 0), 0, openOutSize},
		{opOpendir, 2, u32s(0, 0), syscall.ENOTDIR, 0},
		{opReleasedir, rootID, u64s(0, 0, 0), 0, 0},
		{opSetattr, 2, make([]byte, 88), 0, attrOutSize},
		{opSetattr, 2, append(u32s(fattrMode), make([]byte, 84)...), syscall.EPERM, 0},
		{opCreate, rootID, append(u32s(0, 0o644, 0, 0), "new\x00"...), syscall.EACCES, 0},
		{opUnlink, rootID, []byte("count\x00"), syscall.EPERM, 0},
		{opReadlink, 2, nil, syscall.ENOSYS, 0},
		{opFsync, 2, u64s(fh, 0), syscall.ENOSYS, 0},
		{12345, 2, nil, syscall.ENOSYS, 0},
		{opDestroy, 0, nil, 0, 0},
	} {
		r := do(t, s, msg(c.op, 50, c.node, c.arg))
		if r.errno != c.errno || len(r.body) != c.size {
			t.Errorf("opcode %d: %v, %d bytes; want %v, %d", c.op, r.errno, len(r.body), c.errno, c.size)
		}
	}
	for _, m := range [][]byte{
		msg(opForget, 0, 2, u64s(1)),
		msg(opBatchForget, 0, 0, u32s(1, 0), u64s(2, 1)),
		msg(opInterrupt, 60, 0, u64s(20)),
		[]byte("short"),
	} {
		if b, _ := s.handle(m); b != nil {
			t.Errorf("reply to %q", m)
		}
	}
	// Inconsistent lengths are answered with EIO.
	bad := msg(opGetattr, 70, 2, make([]byte, 16))
	ne.PutUint32(bad, 1000)
	if r := do(t, s, bad); r.errno != syscall.EIO {
		t.Fatalf("bad length: %v", r.errno)
	}
	bad = msg(opGetattr, 71, 2, make([]byte, 16))
	ne.PutUint16(bad[36:], 3) // 24 bytes of extensions in a 16-byte argument
	if r := do(t, s, bad); r.errno != syscall.EIO {
		t.Fatalf("bad extensions: %v", r.errno)
	}
	if r := do(t, s, msg(opRead, 72, 2, make([]byte, 8))); r.errno != syscall.EIO {
		t.Fatalf("short READ: %v", r.errno)
	}
	if len(s.handles) != 2 {
		t.Fatalf("%d handles left, want 2 (fh2 and the writer's)", len(s.handles))
	}
}

func TestNewServerChecksFiles(t *testing.T) {
	for _, files := range [][]FileInfo{
		{{"", 0o444}},
		{{"a/b", 0o444}},
		{{"..", 0o444}},
		{{"a", 0o444}, {"a", 0o644}},
		{{"a", sIFREG | 0o444}},
		{{strings.Repeat("n", 256), 0o444}},
	} {
		if _, err := newServer(files, &fakeFiles{}); err == nil {
			t.Errorf("newServer(%v) did not fail", files)
		}
	}
	if _, err := newServer(nil, nil); err == nil {
		t.Error("newServer with nil Files did not fail")
	}
}

// FuzzHandle feeds arbitrary messages to the request decoder and
// dispatcher, before and after INIT: it must never panic, and every reply
// must be well formed and addressed to the request.
func FuzzHandle(f *testing.F) {
	f.Add(msg(opInit, 1, 0, u32s(7, 45, 131072, 0xffffffff, 0), make([]byte, 44)), false)
	f.Add(msg(opLookup, 2, rootID, []byte("count\x00")), true)
	f.Add(msg(opOpen, 3, 2, u32s(0, 0)), true)
	f.Add(msg(opRead, 4, 2, ioArg(1, 0, 4096)), true)
	f.Add(msg(opWrite, 5, 3, append(ioArg(1, 0, 8), "1 2 3 4\n"...)), true)
	f.Add(msg(opReaddir, 6, rootID, ioArg(0, 1, 100)), true)
	f.Add(msg(opRelease, 7, 2, u64s(1), u32s(0, 0), u64s(0)), true)
	f.Add(msg(opBatchForget, 0, 0, u32s(1, 0), u64s(2, 1)), true)
	f.Add(msg(opSetattr, 8, 2, make([]byte, 88)), true)
	f.Add(msg(opListxattr, 9, 2, u32s(0, 0)), true)
	f.Add([]byte{}, true)
	f.Fuzz(func(t *testing.T, m []byte, initialized bool) {
		s, _ := testServer(t)
		if initialized {
			initServer(t, s)
			// An open file, so that reads and writes find a handle.
			do(t, s, msg(opOpen, 9, 2, u32s(0, 0)))
		}
		b, _ := s.handle(m)
		if b == nil {
			return
		}
		r := parseReply(t, b)
		if len(m) < inHeaderSize || r.unique != ne.Uint64(m[8:]) {
			t.Fatalf("reply to %d for a request of %d bytes", r.unique, len(m))
		}
		if r.errno < 0 || r.errno > 4095 || (r.errno != 0 && len(r.body) != 0) {
			t.Fatalf("errno %d with %d bytes", r.errno, len(r.body))
		}
	})
}
