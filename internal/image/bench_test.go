package image

import (
	"fmt"
	"io"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sembox/sembox/abi"
	"github.com/sembox/sembox/sem"
)

// bigNS returns a namespace of nsets sets of nsems semaphores with
// random values and pids, and undo entries of a few owners on 1 set in
// 16.
func bigNS(b testing.TB, nsets, nsems int) (*sem.Namespace, []int32, []sem.UndoOwner) {
	return bigNSTotal(b, nsets, nsets*nsems)
}

// bigNSTotal is bigNS with total semaphores in all: the first
// total%nsets sets have one more than the others.
func bigNSTotal(b testing.TB, nsets, total int) (*sem.Namespace, []int32, []sem.UndoOwner) {
	b.Helper()
	nsems := total / nsets
	ns := sem.NewNamespace(nil)
	ns.SetLimits(sem.Limits{SEMMSL: int32(max(250, nsems+1)), SEMMNS: 1 << 30, SEMOPM: 500, SEMMNI: abi.IPCMNI})
	rng := rand.New(rand.NewPCG(1, 1))
	r := root(1)
	owners := make([]sem.UndoOwner, 8)
	for i := range owners {
		owners[i] = sem.UndoOwner{List: new(sem.UndoList), PID: int32(100 + i)}
	}
	ids := make([]int32, nsets)
	for i := range ids {
		n := nsems
		if i < total%nsets {
			n++
		}
		v := make([]uint16, n)
		id, err := ns.Semget(r, abi.IPC_PRIVATE, int32(n), 0o666)
		if err != 0 {
			b.Fatal(err)
		}
		ids[i] = id
		for k := range v {
			v[k] = uint16(rng.IntN(1000))
		}
		ns.SetAll(root(rng.Int32N(1<<22)), id, func(int) ([]uint16, sem.Errno) { return v, 0 })
		if i%16 == 0 {
			o := owners[rng.IntN(len(owners))]
			tk := &sem.Task{PID: o.PID, Cred: r.Cred, Undo: o.List}
			ns.Semtimedop(tk, id, []abi.Sembuf{{SemNum: 0, SemOp: 1, SemFlg: abi.SEM_UNDO}}, nil, nil)
		}
	}
	return ns, ids, owners
}

// sizes are the namespaces BenchmarkSave measures: sets, and semaphores
// in all. 32,000 sets (SEMMNI) holding 1,000,000 semaphores is the
// figure of bench/run.sh's state row.
var sizes = []struct{ sets, sems int }{{32000, 32000}, {32000, 1_000_000}, {4000, 1_000_000}}

// BenchmarkSave measures each phase of a save and a restore: Image (and
// its pause), WriteFile (encode, fsync, rename), ReadFile (decode,
// validate) and NewNamespaceFromImage, and the file's size.
func BenchmarkSave(b *testing.B) {
	for _, sz := range sizes {
		b.Run(fmt.Sprintf("sets=%d/sems=%d", sz.sets, sz.sems), func(b *testing.B) {
			ns, _, owners := bigNSTotal(b, sz.sets, sz.sems)
			path := filepath.Join(b.TempDir(), "ns.state")
			var tImage, tPause, tWrite, tRead, tRestore time.Duration
			var size int64
			b.ResetTimer()
			for range b.N {
				t0 := time.Now()
				img, st := ns.Image(owners)
				t1 := time.Now()
				if err := WriteFile(path, img); err != nil {
					b.Fatal(err)
				}
				t2 := time.Now()
				got, err := ReadFile(path)
				if err != nil {
					b.Fatal(err)
				}
				t3 := time.Now()
				if _, err := sem.NewNamespaceFromImage(got, nil); err != nil {
					b.Fatal(err)
				}
				t4 := time.Now()
				tImage += t1.Sub(t0)
				tPause += st.Pause
				tWrite += t2.Sub(t1)
				tRead += t3.Sub(t2)
				tRestore += t4.Sub(t3)
				size = Size(img)
			}
			n := float64(b.N)
			ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 / n }
			b.ReportMetric(ms(tImage), "image-ms")
			b.ReportMetric(ms(tPause), "pause-ms")
			b.ReportMetric(ms(tWrite), "write-ms")
			b.ReportMetric(ms(tRead), "read-ms")
			b.ReportMetric(ms(tRestore), "restore-ms")
			b.ReportMetric(float64(size), "file-bytes")
		})
	}
}

// BenchmarkEncodeDecode is the format alone, in memory.
func BenchmarkEncodeDecode(b *testing.B) {
	ns, _, owners := bigNS(b, 32000, 31)
	img, _ := ns.Image(owners)
	w := &sliceWriter{}
	if err := Encode(w, img); err != nil {
		b.Fatal(err)
	}
	buf := w.b
	b.Run("encode", func(b *testing.B) {
		for range b.N {
			w := &sliceWriter{b: buf[:0]}
			if err := Encode(w, img); err != nil {
				b.Fatal(err)
			}
		}
		b.SetBytes(int64(len(buf)))
	})
	b.Run("decode", func(b *testing.B) {
		for range b.N {
			if _, err := Decode(&sliceReader{b: buf}); err != nil {
				b.Fatal(err)
			}
		}
		b.SetBytes(int64(len(buf)))
	})
}

type sliceWriter struct{ b []byte }

func (w *sliceWriter) Write(p []byte) (int, error) { w.b = append(w.b, p...); return len(p), nil }

type sliceReader struct{ b []byte }

func (r *sliceReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.b)
	r.b = r.b[n:]
	return n, nil
}

// BenchmarkSemopDuringSave: members perform P/V semops (single and
// multi-op) on random sets of 32,000 × 31 semaphores, each at random
// moments (a semop, then a pause of 0-200 µs: an open loop, so that a
// semop is as likely to be issued at any moment of a save), while saves
// (Image + WriteFile) run one after the other with 20 ms between them.
// It reports the latency percentiles of the semops issued during the
// Image call (when the sets are locked), during a whole save, and with
// no save running, and the pauses (ImageStats.Pause).
func BenchmarkSemopDuringSave(b *testing.B) {
	ns, ids, owners := bigNS(b, 32000, 31)
	path := filepath.Join(b.TempDir(), "ns.state")
	base := time.Now()
	type rec struct{ start, dur int64 }
	const workers = 4
	var stop atomic.Bool
	var wg sync.WaitGroup
	recs := make([][]rec, workers)
	for g := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(g), 3))
			tk := root(int32(9000 + g))
			out := make([]rec, 0, 1<<16)
			for !stop.Load() {
				id := ids[rng.IntN(len(ids))]
				a, c := uint16(rng.IntN(31)), uint16(rng.IntN(31))
				var sops []abi.Sembuf
				if a == c {
					sops = []abi.Sembuf{{SemNum: a, SemOp: 1}}
				} else {
					sops = []abi.Sembuf{{SemNum: a, SemOp: -1, SemFlg: abi.IPC_NOWAIT}, {SemNum: c, SemOp: 1}}
				}
				s := time.Since(base)
				ns.Semtimedop(tk, id, sops, nil, nil)
				e := time.Since(base)
				out = append(out, rec{int64(s), int64(e - s)})
				time.Sleep(time.Duration(rng.IntN(200)) * time.Microsecond)
			}
			recs[g] = out
		}()
	}
	type win struct{ s, e int64 }
	var imgWins, saveWins []win
	var pauses []time.Duration
	time.Sleep(200 * time.Millisecond) // a baseline before the first save
	b.ResetTimer()
	for range b.N {
		s := int64(time.Since(base))
		img, st := ns.Image(owners)
		m := int64(time.Since(base))
		if err := WriteFile(path, img); err != nil {
			b.Fatal(err)
		}
		e := int64(time.Since(base))
		imgWins = append(imgWins, win{s, m})
		saveWins = append(saveWins, win{s, e})
		pauses = append(pauses, st.Pause)
		time.Sleep(20 * time.Millisecond) // semops with no save, too
	}
	b.StopTimer()
	stop.Store(true)
	wg.Wait()
	in := func(ws []win, t int64) bool {
		i, _ := slices.BinarySearchFunc(ws, t, func(w win, t int64) int {
			switch {
			case w.e < t:
				return -1
			case w.s > t:
				return 1
			}
			return 0
		})
		return i < len(ws) && ws[i].s <= t && t <= ws[i].e
	}
	var during, save, idle []int64
	for _, rs := range recs {
		for _, r := range rs {
			switch {
			case in(imgWins, r.start):
				during = append(during, r.dur)
			case in(saveWins, r.start):
				save = append(save, r.dur)
			default:
				idle = append(idle, r.dur)
			}
		}
	}
	save = append(save, during...)
	pct := func(x []int64, p float64) float64 {
		if len(x) == 0 {
			return 0
		}
		slices.Sort(x)
		return float64(x[min(len(x)-1, int(p*float64(len(x))))]) / 1e3
	}
	slices.Sort(pauses)
	b.ReportMetric(pct(idle, 0.99), "idle-p99-µs")
	b.ReportMetric(pct(idle, 0.50), "idle-p50-µs")
	b.ReportMetric(pct(during, 0.50), "inimage-p50-µs")
	b.ReportMetric(pct(during, 0.99), "inimage-p99-µs")
	b.ReportMetric(pct(during, 1), "inimage-max-µs")
	b.ReportMetric(pct(save, 0.50), "insave-p50-µs")
	b.ReportMetric(pct(save, 0.99), "insave-p99-µs")
	b.ReportMetric(pct(save, 1), "insave-max-µs")
	b.ReportMetric(float64(pauses[len(pauses)/2].Microseconds()), "pause-p50-µs")
	b.ReportMetric(float64(pauses[min(len(pauses)-1, len(pauses)*99/100)].Microseconds()), "pause-p99-µs")
	b.ReportMetric(float64(pauses[len(pauses)-1].Microseconds()), "pause-max-µs")
	b.Logf("%d saves; semops: %d idle, %d during Image, %d during the rest of a save", b.N, len(idle), len(during), len(save)-len(during))
}
