package image

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sembox/sembox/abi"
	"github.com/sembox/sembox/sem"
)

type clock struct{ t int64 }

func (c *clock) Now() int64 { return c.t }

func root(pid int32) *sem.Task {
	return &sem.Task{PID: pid, Cred: &sem.Cred{CapIPCOwner: true, CapSysAdmin: true}, Undo: new(sem.UndoList)}
}

func user(pid int32, uid, gid uint32) *sem.Task {
	return &sem.Task{PID: pid, Cred: &sem.Cred{EUID: uid, EGID: gid, FSGID: gid}, Undo: new(sem.UndoList)}
}

// randomNS returns a namespace with nsets sets after a random history
// with removals (so ids carry sequence numbers), several owners and
// modes, keys, values, pids and times, and undo owners with pending
// adjustments (returned).
func randomNS(t testing.TB, seed uint64, nsets int) (*sem.Namespace, *clock, []int32, []sem.UndoOwner) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 99))
	clk := &clock{t: 1_700_000_000}
	ns := sem.NewNamespace(clk)
	r := root(1)
	var live []int32
	users := []*sem.Task{user(10, 1000, 100), user(11, 2000, 200), root(12)}
	var owners []sem.UndoOwner
	for i := 0; i < 4; i++ {
		tk := root(int32(300 + i))
		owners = append(owners, sem.UndoOwner{List: tk.Undo, PID: tk.PID})
		users = append(users, tk)
	}
	for created := 0; created < 3*nsets || len(live) != nsets; {
		clk.t += int64(rng.IntN(100))
		switch k := rng.IntN(10); {
		case (created >= 3*nsets && len(live) > nsets) || (k < 3 && len(live) > nsets/2):
			i := rng.IntN(len(live))
			if err := ns.Remove(r, live[i]); err != 0 {
				t.Fatal(err)
			}
			live[i] = live[len(live)-1]
			live = live[:len(live)-1]
		case k < 6 || len(live) == 0:
			u := users[rng.IntN(len(users))]
			key := int32(abi.IPC_PRIVATE)
			if rng.IntN(2) == 0 {
				key = rng.Int32()
			}
			id, err := ns.Semget(u, key, 1+rng.Int32N(6), abi.IPC_CREAT|abi.IPC_EXCL|rng.Int32N(0o1000))
			if err == sem.EEXIST {
				continue
			}
			if err != 0 {
				t.Fatal(err)
			}
			live = append(live, id)
			created++
		case k < 8:
			id := live[rng.IntN(len(live))]
			ds, _, _ := ns.Stat(r, id, abi.IPC_STAT)
			v := make([]uint16, ds.Nsems)
			for j := range v {
				v[j] = uint16(rng.IntN(abi.SEMVMX + 1))
			}
			ns.SetAll(root(rng.Int32N(5000)), id, func(int) ([]uint16, sem.Errno) { return v, 0 })
		default:
			id := live[rng.IntN(len(live))]
			ds, _, _ := ns.Stat(r, id, abi.IPC_STAT)
			tk := users[3+rng.IntN(4)]
			ns.Semtimedop(tk, id, []abi.Sembuf{{SemNum: uint16(rng.IntN(int(ds.Nsems))), SemOp: int16(rng.IntN(201) - 100), SemFlg: abi.IPC_NOWAIT | abi.SEM_UNDO}}, nil, nil)
		}
	}
	return ns, clk, live, owners
}

func encodeBytes(t testing.TB, img *sem.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	if int64(b.Len()) != Size(img) {
		t.Fatalf("encoded %d bytes, Size says %d", b.Len(), Size(img))
	}
	return b.Bytes()
}

func TestRoundTrip(t *testing.T) {
	for seed := uint64(1); seed <= 3; seed++ {
		ns, clk, live, owners := randomNS(t, seed, 1000)
		img, st := ns.Image(owners)
		if st.UndoEntries == 0 {
			t.Fatal("no undo entry in the random state")
		}
		data := encodeBytes(t, img)
		got, err := Decode(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(img, got) {
			t.Fatal("decoded image differs")
		}
		if again := encodeBytes(t, got); !bytes.Equal(again, data) {
			t.Fatal("re-encoding differs")
		}
		path := filepath.Join(t.TempDir(), "ns.state")
		if err := WriteFile(path, img); err != nil {
			t.Fatal(err)
		}
		fromFile, err := ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(img, fromFile) {
			t.Fatal("ReadFile image differs")
		}
		re, err := sem.NewNamespaceFromImage(fromFile, clk)
		if err != nil {
			t.Fatal(err)
		}
		// The reference: every owner exits now, in the same order.
		for _, o := range owners {
			ns.ExitUndo(o.List, o.PID)
		}
		if a, b := ns.Snapshot(true), re.Snapshot(true); !reflect.DeepEqual(a, b) {
			t.Fatal("restored namespace differs from the original after its owners' exits")
		}
		// The next ids.
		rng := rand.New(rand.NewPCG(seed, 7))
		for i := 0; i < 3000; i++ {
			if rng.IntN(3) == 0 {
				j := rng.IntN(len(live))
				if ea, eb := ns.Remove(root(1), live[j]), re.Remove(root(1), live[j]); ea != eb {
					t.Fatalf("Remove %v vs %v", ea, eb)
				}
				live[j] = live[len(live)-1]
				live = live[:len(live)-1]
				continue
			}
			a, ea := ns.Semget(root(1), abi.IPC_PRIVATE, 2, 0o600)
			b, eb := re.Semget(root(1), abi.IPC_PRIVATE, 2, 0o600)
			if a != b || ea != eb {
				t.Fatalf("step %d: semget %d %v vs %d %v", i, a, ea, b, eb)
			}
			live = append(live, a)
		}
	}
}

func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ns.state")
	ns, _, _, _ := randomNS(t, 5, 50)
	img1, _ := ns.Image(nil)
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	for i := 0; i < 3; i++ {
		if err := WriteFile(path, img1); err != nil {
			t.Fatal(err)
		}
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", fi.Mode())
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Fatalf("directory holds %d entries", len(ents))
	}
	// A refused image leaves the old file alone.
	bad := *img1
	bad.Limits.SEMMNI = -1
	if err := WriteFile(path, &bad); err == nil || !strings.HasPrefix(err.Error(), path+": ") {
		t.Fatalf("WriteFile of a bad image: %v", err)
	}
	got, err := ReadFile(path)
	if err != nil || !reflect.DeepEqual(got, img1) {
		t.Fatalf("old file damaged: %v", err)
	}
	// A directory that does not exist.
	if err := WriteFile(filepath.Join(dir, "no", "x"), img1); err == nil {
		t.Fatal("WriteFile into a missing directory succeeded")
	}
	ents, _ = os.ReadDir(dir)
	if len(ents) != 1 {
		t.Fatalf("directory holds %d entries", len(ents))
	}
}

// TestWriteFileKilled SIGKILLs a process that saves in a loop, at random
// moments: the file is always one of the images, whole.
func TestWriteFileKilled(t *testing.T) {
	if os.Getenv("IMAGE_WRITER") != "" {
		return
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "ns.state")
	imgs := writerImages(t)
	if err := WriteFile(path, imgs[0]); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	rounds := 20
	if testing.Short() {
		rounds = 5
	}
	for i := 0; i < rounds; i++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestWriterHelper$")
		cmd.Env = append(os.Environ(), "IMAGE_WRITER="+path)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(20+rng.IntN(200)) * time.Millisecond)
		cmd.Process.Kill()
		cmd.Wait()
		got, err := ReadFile(path)
		if err != nil {
			t.Fatalf("round %d: %v", i, err)
		}
		if !reflect.DeepEqual(got, imgs[0]) && !reflect.DeepEqual(got, imgs[1]) {
			t.Fatalf("round %d: the file is neither image", i)
		}
	}
}

// writerImages are two different images of about 1 MB each.
func writerImages(t testing.TB) [2]*sem.Image {
	var out [2]*sem.Image
	for i := range out {
		ns := sem.NewNamespace(&clock{t: int64(i)})
		ns.SetLimits(sem.Limits{SEMMSL: 250, SEMMNS: 1 << 30, SEMOPM: 32, SEMMNI: abi.IPCMNI})
		for j := 0; j < 700; j++ {
			id, err := ns.Semget(root(1), abi.IPC_PRIVATE, 250, 0o600)
			if err != 0 {
				t.Fatal(err)
			}
			v := make([]uint16, 250)
			for k := range v {
				v[k] = uint16((i*7 + j + k) % abi.SEMVMX)
			}
			ns.SetAll(root(int32(i+2)), id, func(int) ([]uint16, sem.Errno) { return v, 0 })
		}
		out[i], _ = ns.Image(nil)
	}
	return out
}

// TestWriterHelper is the process TestWriteFileKilled kills.
func TestWriterHelper(t *testing.T) {
	path := os.Getenv("IMAGE_WRITER")
	if path == "" {
		t.Skip("helper process")
	}
	imgs := writerImages(t)
	for i := 0; ; i++ {
		if err := WriteFile(path, imgs[i%2]); err != nil {
			t.Fatal(err)
		}
	}
}

// small returns a small valid image with keys and several sets.
func small(t testing.TB) *sem.Image {
	ns := sem.NewNamespace(&clock{t: 1234})
	r := root(1)
	for i := 0; i < 5; i++ {
		key := int32(abi.IPC_PRIVATE)
		if i%2 == 1 {
			key = int32(100 + i)
		}
		id, _ := ns.Semget(r, key, int32(1+i%3), abi.IPC_CREAT|0o640)
		if i == 2 {
			ns.Remove(r, id)
		}
		ns.SetVal(root(77), id, 0, int32(10+i))
	}
	img, _ := ns.Image(nil)
	return img
}

// reseal recomputes both checksums of an encoded image.
func reseal(b []byte) []byte {
	le := binary.LittleEndian
	le.PutUint32(b[60:], crc32.Checksum(b[:60], castagnoli))
	le.PutUint32(b[len(b)-4:], crc32.Checksum(b[:len(b)-4], castagnoli))
	return b
}

func decodeBoth(t *testing.T, b []byte) (error, error) {
	t.Helper()
	_, e1 := Decode(bytes.NewReader(b))
	path := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	_, e2 := ReadFile(path)
	if e2 != nil && !strings.HasPrefix(e2.Error(), path+": ") {
		t.Fatalf("ReadFile error does not name the file: %v", e2)
	}
	return e1, e2
}

func TestBitFlips(t *testing.T) {
	data := encodeBytes(t, small(t))
	for i := 0; i < len(data)*8; i++ {
		b := bytes.Clone(data)
		b[i/8] ^= 1 << (i % 8)
		_, err := Decode(bytes.NewReader(b))
		if err == nil {
			t.Fatalf("bit %d flipped: accepted", i)
		}
		switch {
		case i/8 < 8:
			if !errors.Is(err, ErrNotImage) {
				t.Fatalf("bit %d: %v", i, err)
			}
		case i/8 < 12:
			if !errors.Is(err, ErrVersion) {
				t.Fatalf("bit %d: %v", i, err)
			}
		default:
			if !errors.Is(err, ErrChecksum) {
				t.Fatalf("bit %d: %v", i, err)
			}
		}
	}
}

func TestTruncated(t *testing.T) {
	data := encodeBytes(t, small(t))
	dir := t.TempDir()
	for n := 0; n < len(data); n++ {
		_, err := Decode(bytes.NewReader(data[:n]))
		if !errors.Is(err, ErrTruncated) {
			t.Fatalf("cut at %d: %v", n, err)
		}
		path := filepath.Join(dir, "f")
		os.WriteFile(path, data[:n], 0o600)
		_, err = ReadFile(path)
		if !errors.Is(err, ErrTruncated) || !strings.Contains(err.Error(), path+": truncated") {
			t.Fatalf("cut at %d: %v", n, err)
		}
	}
	_, err := Decode(bytes.NewReader(append(bytes.Clone(data), 0)))
	if !errors.Is(err, ErrTrailing) {
		t.Fatalf("extra byte: %v", err)
	}
	e1, e2 := decodeBoth(t, append(bytes.Clone(data), 1, 2, 3))
	if !errors.Is(e1, ErrTrailing) || !errors.Is(e2, ErrTrailing) {
		t.Fatalf("extra bytes: %v / %v", e1, e2)
	}
}

func TestHostile(t *testing.T) {
	img := small(t)
	data := encodeBytes(t, img)
	le := binary.LittleEndian
	n := len(img.Sets)
	setOff := func(i int) int { return headerSize + i*setSize }
	valOff := headerSize + n*setSize
	cases := []struct {
		name string
		mut  func(b []byte) []byte
		want string
	}{
		{"value above SEMVMX", func(b []byte) []byte {
			le.PutUint16(b[valOff+2*len(img.Sets[0].Vals):], 40000)
			return b
		}, "set 1 (id "},
		{"value text", func(b []byte) []byte {
			le.PutUint16(b[valOff:], 40000)
			return b
		}, "semaphore 0: value 40000 above SEMVMX (32767)"},
		{"duplicate id", func(b []byte) []byte { copy(b[setOff(2):setOff(2)+4], b[setOff(0):]); return b }, "duplicate id"},
		{"duplicate key", func(b []byte) []byte { copy(b[setOff(3)+4:setOff(3)+8], b[setOff(1)+4:]); return b }, "duplicate key"},
		{"unknown version", func(b []byte) []byte { le.PutUint32(b[8:], 7); return b }, "unknown version 7"},
		{"flags", func(b []byte) []byte { le.PutUint32(b[12:], 1); return b }, "unknown flags"},
		{"bad magic", func(b []byte) []byte { b[0] = 'X'; return b }, "not a sembox namespace image"},
		{"nsems above the limit", func(b []byte) []byte {
			le.PutUint32(b[setOff(0)+12:], sem.MaxSetSems+1)
			return b
		}, "nsems 33554428 outside 1..33554427"},
		{"nsems zero", func(b []byte) []byte { le.PutUint32(b[setOff(0)+12:], 0); return b }, "nsems 0"},
		{"nsems mismatch", func(b []byte) []byte {
			le.PutUint32(b[setOff(0)+12:], le.Uint32(b[setOff(0)+12:])+1)
			return b
		}, "the sets hold"},
		{"10^12 sets", func(b []byte) []byte { le.PutUint32(b[52:], 0xffffffff); return b }, "4294967295 sets, more than 32768"},
		{"absurd semaphores", func(b []byte) []byte { le.PutUint32(b[56:], 0xffffffff); return b }, "absurd counts"},
		{"fewer sems than sets", func(b []byte) []byte { le.PutUint32(b[56:], 1); return b }, "absurd counts"},
		{"semmni", func(b []byte) []byte { le.PutUint32(b[36:], 40000); return b }, "SEMMNI 40000"},
		{"seq", func(b []byte) []byte { le.PutUint32(b[48:], 0xffff); return b }, "allocator sequence number 65535"},
		{"mode", func(b []byte) []byte { le.PutUint32(b[setOff(0)+8:], 0o4777); return b }, "mode"},
	}
	for _, c := range cases {
		b := reseal(c.mut(bytes.Clone(data)))
		e1, e2 := decodeBoth(t, b)
		for _, err := range []error{e1, e2} {
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("%s: %v, want %q", c.name, err, c.want)
			}
		}
	}
	// Without reseal: a checksum mismatch.
	b := bytes.Clone(data)
	le.PutUint16(b[valOff:], 40000)
	if e1, e2 := decodeBoth(t, b); !errors.Is(e1, ErrChecksum) || !strings.HasSuffix(e2.Error(), ": checksum mismatch") {
		t.Fatalf("%v / %v", e1, e2)
	}
}

// TestLyingHeader: counts that the input cannot back are refused without
// allocating in proportion to them.
func TestLyingHeader(t *testing.T) {
	data := encodeBytes(t, small(t))
	le := binary.LittleEndian
	b := bytes.Clone(data)
	le.PutUint32(b[52:], abi.IPCMNI)
	le.PutUint32(b[56:], sem.MaxTotalSems)
	reseal(b)
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	_, err := Decode(bytes.NewReader(b))
	runtime.ReadMemStats(&m1)
	if !errors.Is(err, ErrTruncated) {
		t.Fatalf("%v", err)
	}
	if d := m1.TotalAlloc - m0.TotalAlloc; d > 8<<20 {
		t.Fatalf("allocated %d bytes for a %d-byte input", d, len(b))
	}
	// A file says so at once.
	e1, e2 := decodeBoth(t, b)
	if !errors.Is(e2, ErrTruncated) || !strings.Contains(e2.Error(), "the header announces 32768 sets and 2147483647 semaphores") {
		t.Fatalf("%v / %v", e1, e2)
	}
}

func FuzzDecode(f *testing.F) {
	img := small(f)
	data := encodeBytes(f, img)
	f.Add(data)
	f.Add(data[:70])
	f.Add([]byte(Magic))
	empty, _ := sem.NewNamespace(nil).Image(nil)
	f.Add(encodeBytes(f, empty))
	ns, _, _, owners := randomNS(f, 9, 20)
	big, _ := ns.Image(owners)
	f.Add(encodeBytes(f, big))
	f.Fuzz(func(t *testing.T, b []byte) {
		checkDecode(t, b)
		if len(b) >= headerSize+trailerSize {
			// With the checksums made right, the fuzzer reaches the
			// structure and the validation.
			checkDecode(t, reseal(bytes.Clone(b)))
		}
	})
}

// checkDecode decodes b: no panic; if it is accepted, it re-encodes to b
// and restores.
func checkDecode(t *testing.T, b []byte) {
	{
		img, err := Decode(bytes.NewReader(b))
		if err != nil {
			if img != nil {
				t.Fatal("image and error")
			}
			return
		}
		var out bytes.Buffer
		if err := Encode(&out, img); err != nil {
			t.Fatalf("decoded image does not encode: %v", err)
		}
		if !bytes.Equal(out.Bytes(), b) {
			t.Fatal("not canonical")
		}
		ns, err := sem.NewNamespaceFromImage(img, nil)
		if err != nil {
			t.Fatalf("decoded image refused: %v", err)
		}
		want := slices.Clone(img.Sets)
		slices.SortFunc(want, func(a, b sem.SetImage) int { return int(a.ID&abi.IPCMNI_IDX_MASK) - int(b.ID&abi.IPCMNI_IDX_MASK) })
		if again, _ := ns.Image(nil); len(want) > 0 && !reflect.DeepEqual(again.Sets, want) || again.Alloc != img.Alloc || again.Limits != img.Limits {
			t.Fatal("restored namespace differs")
		}
	}
}
