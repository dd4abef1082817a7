// Package image stores a semaphore namespace's image (sem.Image) in a
// file: the format of `sembox --state FILE` and `sembox ns save`.
//
// # Format, version 1
//
// All integers are little-endian, whatever the machine; nothing is a Go
// memory dump, so a file moves between amd64 and arm64 unchanged.
//
//	offset  size       field
//	0       8          magic "SEMBOXNS"
//	8       4          version (u32) = 1
//	12      4          flags (u32) = 0
//	16      8          time of the image (i64, seconds since the epoch)
//	24      16         limits SEMMSL, SEMMNS, SEMOPM, SEMMNI (4 × i32)
//	40      4          allocator: last index (i32, -1 before the first set)
//	44      4          allocator: next index (i32)
//	48      4          allocator: sequence number (i32)
//	52      4          number of sets N (u32)
//	56      4          number of semaphores M in all sets (u32)
//	60      4          CRC-32C of bytes 0..59
//	64      48 × N     sets, in the image's order: id, key (i32), mode,
//	                   nsems, uid, gid, cuid, cgid (u32), otime, ctime (i64)
//	        2 × M      values (u16), set after set, semaphore after semaphore
//	        4 × M      sempids (i32), in the same order
//	end-4   4          CRC-32C (Castagnoli) of every byte before it
//
// A file is canonical: an image has exactly one encoding, and a file
// that decodes re-encodes to the same bytes.
//
// Decoding checks the header's checksum before trusting its counts,
// refuses counts beyond the engine's limits (sem.Image.Validate) or,
// for ReadFile, beyond what the file's size allows, before allocating
// anything in proportion to them, verifies the whole checksum, then
// validates the image. Errors say what is wrong; ReadFile and WriteFile
// prefix them with the file's name.
package image

import (
	"bufio"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"

	"github.com/sembox/sembox/abi"
	"github.com/sembox/sembox/sem"
)

// Magic starts every image file.
const Magic = "SEMBOXNS"

// Version is the format version this package writes and reads.
const Version = 1

const (
	headerSize  = 64
	setSize     = 48
	semSize     = 6 // u16 value + i32 sempid
	trailerSize = 4
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Errors that Decode and ReadFile wrap (test them with errors.Is); a
// refused image's content gives a *sem.ImageError (errors.As).
var (
	ErrNotImage  = errors.New("not a sembox namespace image")
	ErrVersion   = errors.New("unknown version")
	ErrChecksum  = errors.New("checksum mismatch")
	ErrTruncated = errors.New("truncated")
	ErrTrailing  = errors.New("trailing data")
	ErrCounts    = errors.New("absurd counts")
)

// Size returns the size in bytes of img's encoding.
func Size(img *sem.Image) int64 {
	m := int64(0)
	for i := range img.Sets {
		m += int64(len(img.Sets[i].Vals))
	}
	return fileSize(int64(len(img.Sets)), m)
}

func fileSize(nsets, nsems int64) int64 {
	return headerSize + setSize*nsets + semSize*nsems + trailerSize
}

// crcWriter writes through a buffer and keeps the running CRC-32C.
type crcWriter struct {
	w   *bufio.Writer
	crc uint32
}

func (c *crcWriter) write(b []byte) {
	c.crc = crc32.Update(c.crc, castagnoli, b)
	c.w.Write(b) // errors stick in the bufio.Writer
}

// Encode writes img to w. It refuses an image that Validate refuses.
func Encode(w io.Writer, img *sem.Image) error {
	if err := img.Validate(); err != nil {
		return err
	}
	return encode(w, img)
}

// encode writes img, which has been validated, to w.
func encode(w io.Writer, img *sem.Image) error {
	total := 0
	for i := range img.Sets {
		total += len(img.Sets[i].Vals)
	}
	le := binary.LittleEndian
	cw := &crcWriter{w: bufio.NewWriterSize(w, 256<<10)}

	var h [headerSize]byte
	copy(h[0:8], Magic)
	le.PutUint32(h[8:], Version)
	le.PutUint32(h[12:], 0)
	le.PutUint64(h[16:], uint64(img.Time))
	le.PutUint32(h[24:], uint32(img.Limits.SEMMSL))
	le.PutUint32(h[28:], uint32(img.Limits.SEMMNS))
	le.PutUint32(h[32:], uint32(img.Limits.SEMOPM))
	le.PutUint32(h[36:], uint32(img.Limits.SEMMNI))
	le.PutUint32(h[40:], uint32(img.Alloc.LastIdx))
	le.PutUint32(h[44:], uint32(img.Alloc.NextIdx))
	le.PutUint32(h[48:], uint32(img.Alloc.Seq))
	le.PutUint32(h[52:], uint32(len(img.Sets)))
	le.PutUint32(h[56:], uint32(total))
	le.PutUint32(h[60:], crc32.Checksum(h[:60], castagnoli))
	cw.write(h[:])

	buf := make([]byte, 0, 64<<10)
	flush := func(need int) {
		if len(buf)+need > cap(buf) {
			cw.write(buf)
			buf = buf[:0]
		}
	}
	for i := range img.Sets {
		s := &img.Sets[i]
		flush(setSize)
		var r [setSize]byte
		le.PutUint32(r[0:], uint32(s.ID))
		le.PutUint32(r[4:], uint32(s.Key))
		le.PutUint32(r[8:], s.Mode)
		le.PutUint32(r[12:], uint32(len(s.Vals)))
		le.PutUint32(r[16:], s.UID)
		le.PutUint32(r[20:], s.GID)
		le.PutUint32(r[24:], s.CUID)
		le.PutUint32(r[28:], s.CGID)
		le.PutUint64(r[32:], uint64(s.Otime))
		le.PutUint64(r[40:], uint64(s.Ctime))
		buf = append(buf, r[:]...)
	}
	for i := range img.Sets {
		for _, v := range img.Sets[i].Vals {
			flush(2)
			buf = le.AppendUint16(buf, v)
		}
	}
	for i := range img.Sets {
		for _, p := range img.Sets[i].Pids {
			flush(4)
			buf = le.AppendUint32(buf, uint32(p))
		}
	}
	cw.write(buf)
	var t [trailerSize]byte
	le.PutUint32(t[:], cw.crc)
	cw.w.Write(t[:])
	return cw.w.Flush()
}

// Decode reads an image from r, which must end where the image does.
// Memory is allocated in proportion to the bytes actually read, never to
// the counts the file announces.
func Decode(r io.Reader) (*sem.Image, error) {
	return decode(r, -1)
}

// crcReader reads exactly and keeps the running CRC-32C.
type crcReader struct {
	r   io.Reader
	crc uint32
}

func (c *crcReader) full(b []byte, what string) error {
	if _, err := io.ReadFull(c.r, b); err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return fmt.Errorf("%w in the %s", ErrTruncated, what)
		}
		return err
	}
	c.crc = crc32.Update(c.crc, castagnoli, b)
	return nil
}

// decode reads an image; size is the input's length if known, else -1.
func decode(r io.Reader, size int64) (*sem.Image, error) {
	le := binary.LittleEndian
	cr := &crcReader{r: r}
	var h [headerSize]byte
	if n, err := io.ReadFull(r, h[:]); err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			if n >= 8 && string(h[:8]) != Magic || n < 8 && string(h[:n]) != Magic[:n] {
				return nil, fmt.Errorf("%w (bad magic)", ErrNotImage)
			}
			return nil, fmt.Errorf("%w in the header (%d bytes)", ErrTruncated, n)
		}
		return nil, err
	}
	cr.crc = crc32.Update(0, castagnoli, h[:])
	if string(h[:8]) != Magic {
		return nil, fmt.Errorf("%w (bad magic)", ErrNotImage)
	}
	if v := le.Uint32(h[8:]); v != Version {
		return nil, fmt.Errorf("%w %d (this sembox reads version %d)", ErrVersion, v, Version)
	}
	if got, want := crc32.Checksum(h[:60], castagnoli), le.Uint32(h[60:]); got != want {
		return nil, fmt.Errorf("header %w", ErrChecksum)
	}
	if f := le.Uint32(h[12:]); f != 0 {
		return nil, fmt.Errorf("unknown flags %#x", f)
	}
	img := &sem.Image{
		Time: int64(le.Uint64(h[16:])),
		Limits: sem.Limits{
			SEMMSL: int32(le.Uint32(h[24:])), SEMMNS: int32(le.Uint32(h[28:])),
			SEMOPM: int32(le.Uint32(h[32:])), SEMMNI: int32(le.Uint32(h[36:])),
		},
		Alloc: sem.AllocState{
			LastIdx: int32(le.Uint32(h[40:])), NextIdx: int32(le.Uint32(h[44:])), Seq: int32(le.Uint32(h[48:])),
		},
	}
	nsets, nsems := int64(le.Uint32(h[52:])), int64(le.Uint32(h[56:]))
	switch {
	case nsets > abi.IPCMNI:
		return nil, fmt.Errorf("%w: %d sets, more than %d", ErrCounts, nsets, abi.IPCMNI)
	case nsems > sem.MaxTotalSems:
		return nil, fmt.Errorf("%w: %d semaphores, more than %d", ErrCounts, nsems, int64(sem.MaxTotalSems))
	case nsems < nsets:
		return nil, fmt.Errorf("%w: %d semaphores in %d sets", ErrCounts, nsems, nsets)
	case nsems > nsets*sem.MaxSetSems:
		return nil, fmt.Errorf("%w: %d semaphores in %d sets of at most %d", ErrCounts, nsems, nsets, sem.MaxSetSems)
	}
	if size >= 0 {
		want := fileSize(nsets, nsems)
		switch {
		case size < want:
			return nil, fmt.Errorf("%w: %d bytes, the header announces %d sets and %d semaphores (%d bytes)", ErrTruncated, size, nsets, nsems, want)
		case size > want:
			return nil, fmt.Errorf("%w: %d bytes after the %d the header announces", ErrTrailing, size-want, want)
		}
	}

	// The set table: at most IPCMNI × 48 bytes.
	tab := make([]byte, setSize*nsets)
	if err := cr.full(tab, "set table"); err != nil {
		return nil, err
	}
	// Values and pids, in chunks. If the input's size is known it has
	// been checked against the counts; otherwise the slices grow as data
	// arrives, so that a lying header runs into the end of the input
	// before much is allocated.
	hint := min(nsems, 1<<16)
	if size >= 0 {
		hint = nsems
	}
	vals := make([]uint16, 0, hint)
	pids := make([]int32, 0, hint)
	chunk := make([]byte, 64<<10)
	for left := nsems * 2; left > 0; {
		b := chunk[:min(left, int64(len(chunk)))]
		if err := cr.full(b, "values"); err != nil {
			return nil, err
		}
		k, n := len(vals), len(b)/2
		if k+n > cap(vals) {
			vals = slices.Grow(vals, max(n, cap(vals)))
		}
		vals = vals[:k+n]
		dst := vals[k:]
		for j := range dst {
			dst[j] = le.Uint16(b[2*j:])
		}
		left -= int64(len(b))
	}
	// The input has held 2 × nsems bytes: 4 × nsems is a fair allocation.
	pids = slices.Grow(pids, int(nsems))
	for left := nsems * 4; left > 0; {
		b := chunk[:min(left, int64(len(chunk)))]
		if err := cr.full(b, "sempids"); err != nil {
			return nil, err
		}
		k, n := len(pids), len(b)/4
		pids = slices.Grow(pids, n)[:k+n]
		dst := pids[k:]
		for j := range dst {
			dst[j] = int32(le.Uint32(b[4*j:]))
		}
		left -= int64(len(b))
	}
	var t [trailerSize]byte
	if _, err := io.ReadFull(r, t[:]); err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return nil, fmt.Errorf("%w in the checksum", ErrTruncated)
		}
		return nil, err
	}
	if le.Uint32(t[:]) != cr.crc {
		return nil, ErrChecksum
	}
	if size < 0 {
		var one [1]byte
		if n, _ := io.ReadFull(r, one[:]); n != 0 {
			return nil, fmt.Errorf("%w after the checksum", ErrTrailing)
		}
	}
	// The checksum is right: now the structure.
	img.Sets = make([]sem.SetImage, nsets)
	sum := int64(0)
	for i := range img.Sets {
		r := tab[i*setSize:]
		n := le.Uint32(r[12:])
		s := &img.Sets[i]
		*s = sem.SetImage{
			ID: int32(le.Uint32(r[0:])), Key: int32(le.Uint32(r[4:])), Mode: le.Uint32(r[8:]),
			UID: le.Uint32(r[16:]), GID: le.Uint32(r[20:]), CUID: le.Uint32(r[24:]), CGID: le.Uint32(r[28:]),
			Otime: int64(le.Uint64(r[32:])), Ctime: int64(le.Uint64(r[40:])),
		}
		if n < 1 || n > sem.MaxSetSems {
			return nil, &sem.ImageError{Set: i, ID: s.ID, Msg: fmt.Sprintf("nsems %d outside 1..%d", n, sem.MaxSetSems)}
		}
		sum += int64(n)
	}
	if sum != nsems {
		return nil, fmt.Errorf("%w: the sets hold %d semaphores, the header announces %d", ErrCounts, sum, nsems)
	}

	off := 0
	for i := range img.Sets {
		n := int(le.Uint32(tab[i*setSize+12:]))
		img.Sets[i].Vals = vals[off : off+n : off+n]
		img.Sets[i].Pids = pids[off : off+n : off+n]
		off += n
	}
	if err := img.Validate(); err != nil {
		return nil, err
	}
	return img, nil
}

// ReadFile reads and checks the image in the file at path. Errors start
// with the path: "PATH: checksum mismatch", "PATH: set 3 (id 98307):
// semaphore 0: value 40000 above SEMVMX (32767)", "PATH: unknown version
// 7 ...", "PATH: truncated ...".
func ReadFile(path string) (*sem.Image, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err // *PathError names the file
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", path)
	}
	img, err := decode(bufio.NewReaderSize(f, 256<<10), fi.Size())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return img, nil
}

// WriteFile writes img to path atomically: to a new temporary file in the
// same directory (created with O_EXCL, mode 0600), synced, then renamed
// over path, and the directory synced. A crash at any point leaves either
// the old file or the new one at path, never a mix; it may leave the
// temporary file (.NAME.tmp-RANDOM) behind. On an error path is
// untouched (unless the error is the directory's sync, after the rename).
func WriteFile(path string, img *sem.Image) error {
	if err := img.Validate(); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	var f *os.File
	var tmp string
	for try := 0; ; try++ {
		var rnd [8]byte
		rand.Read(rnd[:])
		tmp = filepath.Join(dir, "."+base+".tmp-"+hex.EncodeToString(rnd[:]))
		var err error
		f, err = os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err == nil {
			break
		}
		if !errors.Is(err, os.ErrExist) || try == 10 {
			return err
		}
	}
	done := false
	defer func() {
		if !done {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err := f.Chmod(0o600); err != nil { // whatever the umask
		return err
	}
	if err := encode(f, img); err != nil {
		return fmt.Errorf("%s: %w", tmp, err)
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	done = true
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("%s: sync of the directory after the rename: %w", path, err)
	}
	return nil
}
