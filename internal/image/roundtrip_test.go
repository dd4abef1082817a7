package image

import (
	"bytes"
	"math"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"slices"
	"testing"

	"github.com/sembox/sembox/abi"
	"github.com/sembox/sembox/sem"
)

// randomImage returns a valid image of nsets sets whose every field is
// drawn from its whole range (not only what a short engine history
// reaches): ids anywhere in the index and sequence-number space, keys,
// any owners, modes within 0777, any pids and times (negative too), values
// 0..SEMVMX with the edges favoured, limits anywhere SEMMNI allows, and
// the allocator at one of the sets or at a free index. The sets are in
// index order, as Namespace.Image gives them.
func randomImage(rng *rand.Rand, nsets int) *sem.Image {
	edge32 := func() int32 {
		switch rng.IntN(6) {
		case 0:
			return math.MinInt32
		case 1:
			return math.MaxInt32
		case 2:
			return 0
		case 3:
			return -1
		}
		return rng.Int32() - rng.Int32()
	}
	edge64 := func() int64 {
		switch rng.IntN(5) {
		case 0:
			return math.MinInt64
		case 1:
			return math.MaxInt64
		case 2:
			return 0
		}
		return int64(rng.Uint64())
	}
	img := &sem.Image{
		Time: edge64(),
		Limits: sem.Limits{SEMMSL: edge32(), SEMMNS: edge32(), SEMOPM: edge32(),
			SEMMNI: rng.Int32N(abi.IPCMNI + 1)},
	}
	idxs := rng.Perm(abi.IPCMNI)[:nsets]
	slices.Sort(idxs)
	keys := map[int32]bool{}
	for _, idx := range idxs {
		n := 1 + rng.IntN(8)
		switch rng.IntN(50) {
		case 0:
			n = 250 + rng.IntN(2000)
		case 1:
			n = 1
		}
		key := int32(abi.IPC_PRIVATE)
		if rng.IntN(3) != 0 {
			for key = edge32(); key == abi.IPC_PRIVATE || keys[key]; key = rng.Int32() {
			}
			keys[key] = true
		}
		s := sem.SetImage{
			ID:  rng.Int32N(abi.IPCID_SEQ_MAX)<<abi.IPCMNI_SEQ_SHIFT | int32(idx),
			Key: key, Mode: rng.Uint32N(0o1000),
			UID: rng.Uint32(), GID: rng.Uint32(), CUID: rng.Uint32(), CGID: rng.Uint32(),
			Otime: edge64(), Ctime: edge64(),
			Vals: make([]uint16, n), Pids: make([]int32, n),
		}
		if rng.IntN(4) == 0 {
			s.UID, s.GID = math.MaxUint32, 0
		}
		for j := range n {
			switch rng.IntN(8) {
			case 0:
				s.Vals[j] = abi.SEMVMX
			case 1:
				s.Vals[j] = 0
			default:
				s.Vals[j] = uint16(rng.IntN(abi.SEMVMX + 1))
			}
			s.Pids[j] = edge32()
		}
		img.Sets = append(img.Sets, s)
	}
	if rng.IntN(4) == 0 {
		// The last allocated set has gone: any free index, any seq.
		last := int32(rng.IntN(abi.IPCMNI))
		for slices.Contains(idxs, int(last)) {
			last = int32(rng.IntN(abi.IPCMNI))
		}
		img.Alloc = sem.AllocState{LastIdx: last, NextIdx: last + 1, Seq: rng.Int32N(abi.IPCID_SEQ_MAX)}
	} else {
		s := &img.Sets[rng.IntN(nsets)]
		last := s.ID & abi.IPCMNI_IDX_MASK
		img.Alloc = sem.AllocState{LastIdx: last, NextIdx: last + 1, Seq: s.ID >> abi.IPCMNI_SEQ_SHIFT}
	}
	return img
}

// TestRoundTripRandomImages: 1,000 sets with every field random go
// through the file format and a namespace and back, byte-exact and
// state-exact: Encode, Decode and WriteFile/ReadFile give the same image
// and the same bytes; a namespace restored from it re-images to the same
// image (sets, allocator, limits), and shows the same values through the
// engine's own views (IPC_STAT, GETALL, GETPID).
func TestRoundTripRandomImages(t *testing.T) {
	dir := t.TempDir()
	for seed := uint64(1); seed <= 8; seed++ {
		rng := rand.New(rand.NewPCG(seed, 0x1000))
		img := randomImage(rng, 1000)
		if err := img.Validate(); err != nil {
			t.Fatalf("seed %d: the random image is invalid: %v", seed, err)
		}
		data := encodeBytes(t, img)
		got, err := Decode(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		if !reflect.DeepEqual(got, img) {
			t.Fatalf("seed %d: the decoded image differs", seed)
		}
		path := filepath.Join(dir, "ns.state")
		if err := WriteFile(path, img); err != nil {
			t.Fatal(err)
		}
		fromFile, err := ReadFile(path)
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		if !reflect.DeepEqual(fromFile, img) {
			t.Fatalf("seed %d: the image read from the file differs", seed)
		}

		clk := &clock{t: img.Time}
		ns, err := sem.NewNamespaceFromImage(fromFile, clk)
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		again, st := ns.Image(nil)
		if st.UndoEntries != 0 || st.Sets != len(img.Sets) {
			t.Fatalf("seed %d: re-image stats %+v", seed, st)
		}
		if !reflect.DeepEqual(again, img) {
			for i := range img.Sets {
				if !reflect.DeepEqual(again.Sets[i], img.Sets[i]) {
					t.Fatalf("seed %d: set %d differs after a restore:\n%+v\n%+v", seed, i, img.Sets[i], again.Sets[i])
				}
			}
			t.Fatalf("seed %d: the restored namespace's image differs: %+v %+v vs %+v %+v",
				seed, img.Alloc, img.Limits, again.Alloc, again.Limits)
		}
		if b := encodeBytes(t, again); !bytes.Equal(b, data) {
			t.Fatalf("seed %d: the restored namespace's image encodes to other bytes", seed)
		}

		// The engine's views of the restored sets.
		r := root(1)
		for _, s := range img.Sets {
			ds, _, e := ns.Stat(r, s.ID, abi.IPC_STAT)
			want := abi.SemidDS{Perm: abi.IPCPerm{Key: s.Key, UID: s.UID, GID: s.GID, CUID: s.CUID, CGID: s.CGID,
				Mode: s.Mode, Seq: uint16(s.ID >> abi.IPCMNI_SEQ_SHIFT)}, Otime: s.Otime, Ctime: s.Ctime, Nsems: uint64(len(s.Vals))}
			if e != 0 || ds != want {
				t.Fatalf("seed %d: IPC_STAT of %d: %v\n got %+v\nwant %+v", seed, s.ID, e, ds, want)
			}
			vals, e := ns.GetAll(r, s.ID, nil)
			if e != 0 || !slices.Equal(vals, s.Vals) {
				t.Fatalf("seed %d: GETALL of %d: %v", seed, s.ID, e)
			}
			j := rng.IntN(len(s.Pids))
			if pid, e := ns.GetOne(r, s.ID, int32(j), abi.GETPID); e != 0 || pid != s.Pids[j] {
				t.Fatalf("seed %d: GETPID of %d[%d]: %d %v, want %d", seed, s.ID, j, pid, e, s.Pids[j])
			}
		}
		if l := ns.Limits(); l != img.Limits {
			t.Fatalf("seed %d: limits %+v, want %+v", seed, l, img.Limits)
		}
	}
}
