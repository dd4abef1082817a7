//go:build linux

package fuse

import (
	"encoding/binary"
	"syscall"
)

// The kernel protocol, from <linux/fuse.h>. Only what this server speaks
// is here. All integers are in the machine's byte order.

// Protocol version: 7.38 is the header this was written against; the
// kernel accepts any minor version from 7.?? up to its own and adapts the
// sizes of its structures to the one we answer with.
const (
	kernelVersion = 7
	// maxMinor is the newest minor version we answer with.
	maxMinor = 38
	// minMinor is the oldest minor version we accept: 7.12 (Linux 2.6.29)
	// has the 88-byte fuse_attr and 40-byte fuse_read_in/fuse_write_in
	// that the encoders below produce and expect.
	minMinor = 12
)

const rootID = 1 // FUSE_ROOT_ID

// Opcodes (enum fuse_opcode).
const (
	opLookup      = 1
	opForget      = 2
	opGetattr     = 3
	opSetattr     = 4
	opReadlink    = 5
	opSymlink     = 6
	opMknod       = 8
	opMkdir       = 9
	opUnlink      = 10
	opRmdir       = 11
	opRename      = 12
	opLink        = 13
	opOpen        = 14
	opRead        = 15
	opWrite       = 16
	opStatfs      = 17
	opRelease     = 18
	opFsync       = 20
	opSetxattr    = 21
	opGetxattr    = 22
	opListxattr   = 23
	opRemovexattr = 24
	opFlush       = 25
	opInit        = 26
	opOpendir     = 27
	opReaddir     = 28
	opReleasedir  = 29
	opFsyncdir    = 30
	opAccess      = 34
	opCreate      = 35
	opInterrupt   = 36
	opDestroy     = 38
	opPoll        = 40
	opBatchForget = 42
	opRename2     = 45
)

// INIT flags (fuse_init_in.flags / fuse_init_out.flags).
const (
	initAsyncRead      = 1 << 0
	initAtomicOTrunc   = 1 << 3
	initBigWrites      = 1 << 5
	initParallelDirops = 1 << 18
)

// FOPEN_* flags of fuse_open_out.open_flags.
const (
	fopenDirectIO = 1 << 0
	fopenNoFlush  = 1 << 5 // since 7.35; older kernels ignore it
)

// FATTR_* bits of fuse_setattr_in.valid.
const (
	fattrMode = 1 << 0
	fattrUID  = 1 << 1
	fattrGID  = 1 << 2
)

// Sizes of the structures.
const (
	inHeaderSize  = 40 // fuse_in_header
	outHeaderSize = 16 // fuse_out_header
	attrSize      = 88 // fuse_attr
	entryOutSize  = 40 + attrSize
	attrOutSize   = 16 + attrSize
	openOutSize   = 16
	readInSize    = 40 // fuse_read_in (minor >= 9)
	writeInSize   = 40 // fuse_write_in (minor >= 9)
	initInSize    = 16 // fuse_init_in up to flags; flags2 and unused follow since 7.36
	initOutSize   = 64
	kstatfsSize   = 80
	direntHdrSize = 24 // fuse_dirent without the name
)

// File type bits of st_mode and d_type values.
const (
	sIFDIR = 0o040000
	sIFREG = 0o100000
	dtDir  = 4
	dtReg  = 8
)

var ne = binary.NativeEndian

// inHeader is struct fuse_in_header.
type inHeader struct {
	Len         uint32
	Opcode      uint32
	Unique      uint64
	NodeID      uint64
	UID         uint32
	GID         uint32
	PID         uint32
	TotalExtlen uint16 // length of extensions, in 8-byte units
}

// request is one decoded request: its header and its argument bytes
// (without the extensions that may trail them).
type request struct {
	inHeader
	arg []byte
}

// parseRequest decodes the header of one message read from /dev/fuse.
// ok is false if the message is too short to carry a header, in which
// case nothing can be answered (there is no unique id to answer to).
// errno is non-zero if the header is there but inconsistent with the
// message: the request should be answered with that error.
func parseRequest(b []byte) (r request, ok bool, errno syscall.Errno) {
	if len(b) < inHeaderSize {
		return r, false, 0
	}
	r.Len = ne.Uint32(b[0:])
	r.Opcode = ne.Uint32(b[4:])
	r.Unique = ne.Uint64(b[8:])
	r.NodeID = ne.Uint64(b[16:])
	r.UID = ne.Uint32(b[24:])
	r.GID = ne.Uint32(b[28:])
	r.PID = ne.Uint32(b[32:])
	r.TotalExtlen = ne.Uint16(b[36:])
	if uint64(r.Len) != uint64(len(b)) {
		return r, true, syscall.EIO
	}
	arg := b[inHeaderSize:]
	ext := int(r.TotalExtlen) * 8
	if ext > len(arg) {
		return r, true, syscall.EIO
	}
	r.arg = arg[:len(arg)-ext]
	return r, true, 0
}

// decoder reads fixed-size fields from an argument. Reading past the end
// yields zeros and marks it short; nothing ever panics.
type decoder struct {
	b     []byte
	short bool
}

func (d *decoder) u32() uint32 {
	if len(d.b) < 4 {
		d.short, d.b = true, nil
		return 0
	}
	v := ne.Uint32(d.b)
	d.b = d.b[4:]
	return v
}

func (d *decoder) u64() uint64 {
	if len(d.b) < 8 {
		d.short, d.b = true, nil
		return 0
	}
	v := ne.Uint64(d.b)
	d.b = d.b[8:]
	return v
}

// cstring returns the NUL-terminated string at the start of b (all of b
// if there is no NUL).
func cstring(b []byte) string {
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}

// Decoded arguments.

type initIn struct {
	Major, Minor, MaxReadahead, Flags uint32
}

func decodeInit(b []byte) (in initIn, ok bool) {
	d := decoder{b: b}
	in.Major = d.u32()
	in.Minor = d.u32()
	in.MaxReadahead = d.u32()
	in.Flags = d.u32()
	return in, !d.short
}

// ioIn is fuse_read_in and fuse_write_in (same layout).
type ioIn struct {
	FH     uint64
	Offset uint64
	Size   uint32
}

func decodeIO(b []byte) (in ioIn, ok bool) {
	if len(b) < readInSize {
		return in, false
	}
	d := decoder{b: b}
	in.FH = d.u64()
	in.Offset = d.u64()
	in.Size = d.u32()
	return in, true
}

// encoder builds a reply: the out header, then the fields appended.
type encoder []byte

func newReply(unique uint64, size int) encoder {
	e := make(encoder, outHeaderSize, outHeaderSize+size)
	ne.PutUint64(e[8:], unique)
	return e
}

func (e encoder) u16(v uint16) encoder { return ne.AppendUint16(e, v) }
func (e encoder) u32(v uint32) encoder { return ne.AppendUint32(e, v) }
func (e encoder) u64(v uint64) encoder { return ne.AppendUint64(e, v) }

// done fills in the header's length (and error) and returns the message.
func (e encoder) done(errno syscall.Errno) []byte {
	ne.PutUint32(e[0:], uint32(len(e)))
	ne.PutUint32(e[4:], uint32(-int32(errno)))
	return e
}

// errReply is a reply carrying only an error.
func errReply(unique uint64, errno syscall.Errno) []byte {
	return newReply(unique, 0).done(errno)
}

// attr is struct fuse_attr.
type attr struct {
	Ino     uint64
	Time    uint64 // atime, mtime and ctime, in seconds
	Mode    uint32
	Nlink   uint32
	UID     uint32
	GID     uint32
	Blksize uint32
}

func (e encoder) attr(a attr) encoder {
	e = e.u64(a.Ino)
	e = e.u64(0) // size: 0, like the files of /proc
	e = e.u64(0) // blocks
	e = e.u64(a.Time).u64(a.Time).u64(a.Time)
	e = e.u32(0).u32(0).u32(0) // nanoseconds
	e = e.u32(a.Mode).u32(a.Nlink).u32(a.UID).u32(a.GID)
	e = e.u32(0) // rdev
	e = e.u32(a.Blksize)
	return e.u32(0) // flags
}

// entryOut is struct fuse_entry_out; a NodeID of 0 is a negative entry.
func (e encoder) entryOut(nodeID uint64, validSec uint64, a attr) encoder {
	e = e.u64(nodeID).u64(0) // generation
	e = e.u64(validSec).u64(validSec)
	e = e.u32(0).u32(0)
	return e.attr(a)
}

func (e encoder) attrOut(validSec uint64, a attr) encoder {
	e = e.u64(validSec).u32(0).u32(0)
	return e.attr(a)
}

func (e encoder) openOut(fh uint64, flags uint32) encoder {
	return e.u64(fh).u32(flags).u32(0)
}

// dirent appends one struct fuse_dirent, padded to 8 bytes.
func (e encoder) dirent(ino, off uint64, typ uint32, name string) encoder {
	e = e.u64(ino).u64(off).u32(uint32(len(name))).u32(typ)
	e = append(e, name...)
	for len(e)%8 != 0 {
		e = append(e, 0)
	}
	return e
}

func direntSize(name string) int {
	return (direntHdrSize + len(name) + 7) &^ 7
}
