package semscript

import (
	"bytes"
	"flag"
	"fmt"
	"maps"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/sembox/sembox/abi"
	"github.com/sembox/sembox/internal/image"
	"github.com/sembox/sembox/sem"
)

// The restore check: checkpoint and restore (sem.Namespace.Image,
// internal/image, sem.NewNamespaceFromImage) must give a namespace that
// behaves exactly as the original would once every member had exited at
// the instant of the image (the image's rule).
//
// For each seed a random script (multi-process with GenerateMulti, or
// single-process with Generate, one seed in two) is cut at a random line.
// Namespace A, after a random history of its own (limits, sets created
// and removed outside the script, sometimes an allocator near the wrap of
// the sequence numbers), runs the prefix; its image is encoded in the file
// format, decoded and restored into namespace B. A is then made what the
// image says it is: every blocked call is cancelled (waiters dropped) and
// every live process exits (ExitUndo, in worker order, the order given to
// Image). The suffix then runs against A and B line by line, with one
// fake clock that advances between lines, and after every line the
// outputs (ids, values, errnos, IPC_STAT/SEM_STAT/IPC_INFO/SEM_INFO
// fields, GETPID) and the states (every set's values, pids, waiter
// counts, exact times and permissions, /proc/sysvipc/sem,
// /proc/sys/kernel/sem, IPC_INFO and SEM_INFO with their return values)
// must be the same; so must the ids of a final run of creations and
// removals (the id allocator).
var (
	flagRestoreSeeds = flag.Int("semscript.restore-seeds", 400,
		"number of random scripts cut, checkpointed and restored (TestRestoreBehavesAsOriginal)")
	flagRestoreLong = flag.Bool("semscript.restore-long", false,
		"TestRestoreBehavesAsOriginal with 4,000 seeds (at least -semscript.restore-seeds)")
	flagRestoreCalls = flag.Int("semscript.restore-calls", 120, "maximum number of lines of a restore check script")
)

// restoreClock is the fake clock A and B share.
type restoreClock struct{ t int64 }

func (c *restoreClock) Now() int64 { return c.t }

func TestRestoreBehavesAsOriginal(t *testing.T) {
	seeds := *flagRestoreSeeds
	if *flagRestoreLong {
		seeds = max(seeds, 4000)
	}
	if testing.Short() {
		seeds = min(seeds, 100)
	}
	first := *flagSeed
	stats := restoreStats{}
	for i := range seeds {
		seed := first + uint64(i)
		if err := restoreCheck(seed, *flagRestoreCalls, &stats); err != nil {
			t.Fatalf("seed %d (-semscript.seed=%d -semscript.restore-seeds=1): %v", seed, seed, err)
		}
	}
	t.Logf("%d seeds: %d multi-process, %d single-process; at the cut: %d blocked calls, %d undo entries, %d sets; %d suffix lines compared",
		seeds, stats.multi, stats.single, stats.blocked, stats.undo, stats.sets, stats.lines)
	// The check must have seen what it is about.
	if seeds >= 100 && (stats.blocked == 0 || stats.undo == 0 || stats.sets == 0) {
		t.Errorf("the random states had no blocked call, undo entry or set at the cut: %+v", stats)
	}
}

type restoreStats struct {
	multi, single, blocked, undo, sets, lines int
}

// restorePrehistory gives ns a random past outside the script: limits,
// private sets created and removed (ids with sequence numbers, the
// allocator's cursor moved), a few kept with values, owners and times.
func restorePrehistory(rng *rand.Rand, ns *sem.Namespace, clk *restoreClock) {
	if rng.IntN(3) == 0 {
		l := sem.DefaultLimits()
		switch rng.IntN(4) {
		case 0:
			l.SEMMNI = int32(2 + rng.IntN(6)) // ENOSPC within a script
		case 1:
			l.SEMMSL = int32(2 + rng.IntN(4)) // EINVAL for large sets
		case 2:
			l.SEMMNS = int32(4 + rng.IntN(12)) // ENOSPC by semaphores
		default:
			l.SEMOPM = int32(1 + rng.IntN(3)) // E2BIG
		}
		ns.SetLimits(l)
	}
	root := &sem.Task{PID: 7, Cred: &sem.Cred{CapIPCOwner: true, CapSysAdmin: true}}
	var kept []int32
	for range rng.IntN(200) {
		clk.t += int64(rng.IntN(3))
		cred := &sem.Cred{CapIPCOwner: true, CapSysAdmin: true}
		if rng.IntN(2) == 0 {
			cred = &sem.Cred{EUID: 1000 + rng.Uint32N(2), EGID: 100, FSGID: 100}
		}
		tk := &sem.Task{PID: 8 + rng.Int32N(50), Cred: cred}
		id, err := ns.Semget(tk, abi.IPC_PRIVATE, 1+rng.Int32N(3), 0o600|rng.Int32N(0o100))
		if err != 0 {
			continue
		}
		if rng.IntN(20) != 0 || len(kept) >= 3 {
			ns.Remove(root, id)
			continue
		}
		ns.SetVal(tk, id, 0, rng.Int32N(5))
		kept = append(kept, id)
	}
}

// restoreStart returns namespace A for a seed: fresh, or (one seed in
// eight) restored from an empty image whose allocator is just before the
// wrap of the sequence numbers.
func restoreStart(rng *rand.Rand, clk *restoreClock) *sem.Namespace {
	if rng.IntN(8) != 0 {
		return sem.NewNamespace(clk)
	}
	last := rng.Int32N(200)
	img := &sem.Image{Limits: sem.DefaultLimits(), Alloc: sem.AllocState{
		LastIdx: last, NextIdx: last + 1, Seq: abi.IPCID_SEQ_MAX - 1 - rng.Int32N(2),
	}}
	ns, err := sem.NewNamespaceFromImage(img, clk)
	if err != nil {
		panic(err)
	}
	return ns
}

// restoreImage takes A's image with the live undo owners and returns
// namespace B restored from it through the file format.
func restoreImage(ns *sem.Namespace, owners []sem.UndoOwner, clk *restoreClock) (*sem.Namespace, sem.ImageStats, error) {
	img, st := ns.Image(owners)
	var buf bytes.Buffer
	if err := image.Encode(&buf, img); err != nil {
		return nil, st, fmt.Errorf("encode: %v", err)
	}
	dec, err := image.Decode(bytes.NewReader(buf.Bytes()))
	if err != nil {
		return nil, st, fmt.Errorf("decode: %v", err)
	}
	if !reflect.DeepEqual(dec, img) {
		return nil, st, fmt.Errorf("the decoded image differs from the image")
	}
	b, err := sem.NewNamespaceFromImage(dec, clk)
	if err != nil {
		return nil, st, fmt.Errorf("restore: %v", err)
	}
	return b, st, nil
}

// restoreState is everything observable about a namespace without a
// caller: every set exactly (times to the second, waiter counts), the
// /proc texts and IPC_INFO and SEM_INFO.
type restoreState struct {
	sets []sem.SetInfo
	text string // /proc/sysvipc/sem, /proc/sys/kernel/sem, IPC_INFO, SEM_INFO
}

func restoreStateOf(ns *sem.Namespace) restoreState {
	var b strings.Builder
	ns.WriteProcSysvipcSem(&b)
	b.WriteString(ns.ProcSysKernelSem())
	for _, cmd := range []int32{abi.IPC_INFO, abi.SEM_INFO} {
		info, maxIdx, err := ns.Info(0, cmd)
		fmt.Fprintf(&b, "info %d: %d %v %+v\n", cmd, maxIdx, err, info)
	}
	return restoreState{sets: ns.Snapshot(true), text: b.String()}
}

func (s restoreState) equal(o restoreState) bool {
	if s.text != o.text || len(s.sets) != len(o.sets) {
		return false
	}
	for i := range s.sets {
		a, b := &s.sets[i], &o.sets[i]
		if a.ID != b.ID || a.DS != b.DS || !slices.Equal(a.Vals, b.Vals) || !slices.Equal(a.Pids, b.Pids) ||
			!slices.Equal(a.Ncnt, b.Ncnt) || !slices.Equal(a.Zcnt, b.Zcnt) {
			return false
		}
	}
	return true
}

func (s restoreState) String() string {
	var b strings.Builder
	for _, si := range s.sets {
		fmt.Fprintf(&b, "%+v\n", si)
	}
	b.WriteString(s.text)
	return b.String()
}

// restoreCompare compares the output of one line and the states after it.
func restoreCompare(what, outA, outB string, a, b *sem.Namespace) error {
	if outA != outB {
		return fmt.Errorf("%s: output differs\noriginal: %q\nrestored: %q", what, outA, outB)
	}
	if sa, sb := restoreStateOf(a), restoreStateOf(b); !sa.equal(sb) {
		return fmt.Errorf("%s: state differs\noriginal:\n%s\nrestored:\n%s", what, sa, sb)
	}
	return nil
}

// restoreAllocProbe creates and removes private sets in both namespaces
// and compares the ids: the allocator's state, whatever the script did.
func restoreAllocProbe(rng *rand.Rand, a, b *sem.Namespace) error {
	root := &sem.Task{PID: 9, Cred: &sem.Cred{CapIPCOwner: true, CapSysAdmin: true}}
	var live []int32
	for i := range 40 {
		if len(live) > 0 && rng.IntN(3) == 0 {
			j := rng.IntN(len(live))
			ea, eb := a.Remove(root, live[j]), b.Remove(root, live[j])
			if ea != eb {
				return fmt.Errorf("probe %d: remove %d: %v vs %v", i, live[j], ea, eb)
			}
			live = slices.Delete(live, j, j+1)
			continue
		}
		ia, ea := a.Semget(root, abi.IPC_PRIVATE, 1, 0o600)
		ib, eb := b.Semget(root, abi.IPC_PRIVATE, 1, 0o600)
		if ia != ib || ea != eb {
			return fmt.Errorf("probe %d: semget: original %d %v, restored %d %v", i, ia, ea, ib, eb)
		}
		if ea == 0 {
			live = append(live, ia)
		}
	}
	return restoreCompare("after the allocator probe", "", "", a, b)
}

func restoreCheck(seed uint64, calls int, stats *restoreStats) error {
	rng := rand.New(rand.NewPCG(seed, 0x726573746f7265))
	clk := &restoreClock{t: 1_700_000_000 + rng.Int64N(1_000_000)}
	a := restoreStart(rng, clk)
	restorePrehistory(rng, a, clk)
	front := Fronts[rng.IntN(len(Fronts))]
	if seed%2 == 0 {
		stats.multi++
		return restoreCheckMulti(seed, calls, rng, clk, a, front, stats)
	}
	stats.single++
	return restoreCheckSingle(seed, calls, rng, clk, a, front, stats)
}

// restoreTick advances the shared clock by 0 to 2 seconds.
func restoreTick(rng *rand.Rand, clk *restoreClock) { clk.t += int64(rng.IntN(3)) }

func restoreCheckMulti(seed uint64, calls int, rng *rand.Rand, clk *restoreClock, a *sem.Namespace, front Front, stats *restoreStats) error {
	text := GenerateMulti(seed, calls)
	s, err := ParseMulti(text)
	if err != nil {
		return fmt.Errorf("GenerateMulti: %v", err)
	}
	cut := rng.IntN(len(s.Steps) + 1)
	ma := &multiModel{front: front, ns: a, names: map[int32]string{}}
	for i := range s.Steps[:cut] {
		ma.step(&s.Steps[i])
		restoreTick(rng, clk)
	}

	// The image: the live processes, in worker order, are its undo owners.
	var owners []sem.UndoOwner
	for n := range ma.procs {
		if p := &ma.procs[n]; p.alive {
			owners = append(owners, sem.UndoOwner{List: p.run.task.Undo, PID: p.run.task.PID})
			if p.blocked {
				stats.blocked++
			}
		}
	}
	b, st, err := restoreImage(a, owners, clk)
	if err != nil {
		return fmt.Errorf("cut after line %d: %v\nscript:\n%s", cut, err, indentScript(text))
	}
	stats.undo += st.UndoEntries
	stats.sets += st.Sets
	if st.Unlisted != 0 {
		return fmt.Errorf("cut after line %d: %d undo entries of processes not listed", cut, st.Unlisted)
	}

	// A becomes what the image says: waiters dropped, then every live
	// process exits in the owners' order.
	for n := range ma.procs {
		if p := &ma.procs[n]; p.alive && p.blocked && !a.Cancel(p.w, sem.EINTR) {
			return fmt.Errorf("cut after line %d: worker %d's wait had ended", cut, n)
		}
	}
	for _, o := range owners {
		a.ExitUndo(o.List, o.PID)
	}
	for n := range ma.procs {
		p := &ma.procs[n]
		*p = multiProc{started: p.started}
	}
	ma.reports = ma.reports[:0]
	ma.out.Reset()
	mb := &multiModel{front: front, ns: b, procs: ma.procs, semgets: slices.Clone(ma.semgets), names: maps.Clone(ma.names)}
	if err := restoreCompare("at the cut", "", "", a, b); err != nil {
		return fmt.Errorf("cut after line %d: %v\nscript:\n%s", cut, err, indentScript(text))
	}

	// The suffix, line by line; each model gets its own parse.
	s2, _ := ParseMulti(text)
	for i := cut; i < len(s.Steps); i++ {
		ma.step(&s.Steps[i])
		mb.step(&s2.Steps[i])
		oa, ob := ma.out.String(), mb.out.String()
		ma.out.Reset()
		mb.out.Reset()
		if err := restoreCompare(fmt.Sprintf("line %d %q", i+1, s.Steps[i].Line), oa, ob, a, b); err != nil {
			return fmt.Errorf("cut after line %d: %v\nscript:\n%s", cut, err, indentScript(text))
		}
		stats.lines++
		restoreTick(rng, clk)
	}
	ma.finish()
	mb.finish()
	if err := restoreCompare("end", ma.out.String(), mb.out.String(), a, b); err != nil {
		return fmt.Errorf("cut after line %d: %v", cut, err)
	}
	if err := restoreAllocProbe(rng, a, b); err != nil {
		return fmt.Errorf("cut after line %d: %v\nscript:\n%s", cut, err, indentScript(text))
	}
	return nil
}

func restoreCheckSingle(seed uint64, calls int, rng *rand.Rand, clk *restoreClock, a *sem.Namespace, front Front, stats *restoreStats) error {
	text := Generate(seed, calls)
	s, err := Parse(text)
	if err != nil {
		return fmt.Errorf("Generate: %v", err)
	}
	cut := rng.IntN(len(s.Calls) + 1)
	ra := &engineRun{front: front, ns: a}
	ra.cred = sem.Cred{CapIPCOwner: true, CapSysAdmin: true}
	ra.task = sem.Task{PID: EnginePID, Cred: &ra.cred, Undo: &sem.UndoList{}}
	for i := range s.Calls[:cut] {
		ra.run(&s.Calls[i])
		restoreTick(rng, clk)
	}
	owners := []sem.UndoOwner{{List: ra.task.Undo, PID: EnginePID}}
	b, st, err := restoreImage(a, owners, clk)
	if err != nil {
		return fmt.Errorf("cut after call %d: %v\nscript:\n%s", cut, err, indentScript(text))
	}
	stats.undo += st.UndoEntries
	stats.sets += st.Sets
	a.ExitUndo(ra.task.Undo, EnginePID)

	// The process exited; the suffix runs in a new one with the same pid
	// and identity, against A and against B.
	next := func(ns *sem.Namespace) *engineRun {
		r := &engineRun{front: front, ns: ns, semgets: slices.Clone(ra.semgets)}
		r.cred = ra.cred
		r.cred.Groups = slices.Clone(ra.cred.Groups)
		r.task = sem.Task{PID: EnginePID, Cred: &r.cred, Undo: &sem.UndoList{}}
		return r
	}
	rb := next(b)
	ra = next(a)
	if err := restoreCompare("at the cut", "", "", a, b); err != nil {
		return fmt.Errorf("cut after call %d: %v\nscript:\n%s", cut, err, indentScript(text))
	}
	s2, _ := Parse(text)
	for i := cut; i < len(s.Calls); i++ {
		oa, ob := ra.run(&s.Calls[i]), rb.run(&s2.Calls[i])
		if err := restoreCompare(fmt.Sprintf("call %d %q", i+1, s.Calls[i].Line), oa, ob, a, b); err != nil {
			return fmt.Errorf("cut after call %d: %v\nscript:\n%s", cut, err, indentScript(text))
		}
		stats.lines++
		restoreTick(rng, clk)
	}
	if err := restoreAllocProbe(rng, a, b); err != nil {
		return fmt.Errorf("cut after call %d: %v\nscript:\n%s", cut, err, indentScript(text))
	}
	return nil
}

func indentScript(s string) string {
	return "\t" + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n\t")
}
