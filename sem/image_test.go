package sem_test

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sembox/sembox/abi"
	"github.com/sembox/sembox/sem"
)

// randomState drives ns through a random history that ends with want
// sets: creations (private and keyed, several owners and modes), removals
// and re-creations (so that sequence numbers and the cyclic cursor
// matter), IPC_SET, SETVAL, SETALL and semops by many pids, with the
// clock moving. It returns the live ids.
func randomState(t testing.TB, rng *rand.Rand, ns *sem.Namespace, clk *fakeClock, want int, churn int) []int32 {
	t.Helper()
	root := rootTask(1)
	var live []int32
	users := []*sem.Task{
		userTask(100, uidOwner, gidOwner), userTask(101, uidOther, gidOther),
		userTask(102, uidGroupie, gidOwner, gidOther), rootTask(103),
	}
	created := 0
	for created < want+churn || len(live) != want {
		clk.Set(t0 + int64(rng.IntN(1_000_000)))
		switch r := rng.IntN(10); {
		case created >= want+churn && len(live) > want:
			i := rng.IntN(len(live))
			if err := ns.Remove(root, live[i]); err != 0 {
				t.Fatalf("Remove: %v", errName(err))
			}
			live[i] = live[len(live)-1]
			live = live[:len(live)-1]
		case r < 4 || len(live) < 2 || created >= want+churn:
			u := users[rng.IntN(len(users))]
			key := int32(abi.IPC_PRIVATE)
			if rng.IntN(2) == 0 {
				key = rng.Int32N(1 << 30)
			}
			n := 1 + rng.Int32N(8)
			mode := rng.Int32N(0o1000)
			id, err := ns.Semget(u, key, n, abi.IPC_CREAT|abi.IPC_EXCL|mode)
			if err == sem.EEXIST {
				continue
			}
			if err != 0 {
				t.Fatalf("Semget: %v", errName(err))
			}
			live = append(live, id)
			created++
		case r < 6 && len(live) > want/2:
			i := rng.IntN(len(live))
			if err := ns.Remove(root, live[i]); err != 0 {
				t.Fatalf("Remove: %v", errName(err))
			}
			live[i] = live[len(live)-1]
			live = live[:len(live)-1]
		case r < 7:
			id := live[rng.IntN(len(live))]
			in := abi.SemidDS{Perm: abi.IPCPerm{UID: rng.Uint32N(5000), GID: rng.Uint32N(5000), Mode: rng.Uint32N(0o1000)}}
			if err := ns.IPCSet(root, id, &in); err != 0 {
				t.Fatalf("IPCSet: %v", errName(err))
			}
		case r < 8:
			id := live[rng.IntN(len(live))]
			n := int32(stat(t, ns, id).Nsems)
			tk := rootTask(200 + rng.Int32N(1000))
			if rng.IntN(2) == 0 {
				mustSetVal(t, ns, tk, id, rng.Int32N(n), rng.Int32N(abi.SEMVMX+1))
			} else {
				v := make([]uint16, n)
				for j := range v {
					v[j] = uint16(rng.IntN(abi.SEMVMX + 1))
				}
				mustSetAll(t, ns, tk, id, v...)
			}
		default:
			id := live[rng.IntN(len(live))]
			n := int(stat(t, ns, id).Nsems)
			tk := rootTask(200 + rng.Int32N(1000))
			sops := make([]abi.Sembuf, 1+rng.IntN(3))
			for j := range sops {
				sops[j] = sb(uint16(rng.IntN(n)), int16(rng.IntN(7)-2), nowait)
			}
			op(ns, tk, id, sops...)
		}
	}
	return live
}

func snapshotText(ns *sem.Namespace) string {
	var b bytes.Buffer
	ns.WriteProcSysvipcSem(&b)
	return b.String()
}

// sameNamespaces fails if a and b differ in anything a caller can see.
func sameNamespaces(t testing.TB, a, b *sem.Namespace) {
	t.Helper()
	if sa, sb := a.Snapshot(true), b.Snapshot(true); !reflect.DeepEqual(sa, sb) {
		t.Fatalf("Snapshot differs:\n%d sets vs %d sets\nfirst: %+v\nsecond: %+v", len(sa), len(sb), first(sa), first(sb))
	}
	if x, y := snapshotText(a), snapshotText(b); x != y {
		t.Fatalf("/proc/sysvipc/sem differs")
	}
	if a.Limits() != b.Limits() {
		t.Fatalf("limits %+v vs %+v", a.Limits(), b.Limits())
	}
	for _, cmd := range []int32{abi.IPC_INFO, abi.SEM_INFO} {
		ia, ma, _ := a.Info(0, cmd)
		ib, mb, _ := b.Info(0, cmd)
		if ia != ib || ma != mb {
			t.Fatalf("Info(%d): %+v %d vs %+v %d", cmd, ia, ma, ib, mb)
		}
	}
}

func first(s []sem.SetInfo) any {
	if len(s) == 0 {
		return nil
	}
	return s[0]
}

// sameFuture runs the same random creations and removals against a and b
// and fails at the first id or errno that differs.
func sameFuture(t testing.TB, rng *rand.Rand, a, b *sem.Namespace, live []int32, steps int) {
	t.Helper()
	root := rootTask(1)
	for i := 0; i < steps; i++ {
		if rng.IntN(3) == 0 && len(live) > 0 {
			j := rng.IntN(len(live))
			ea, eb := a.Remove(root, live[j]), b.Remove(root, live[j])
			if ea != eb {
				t.Fatalf("step %d: Remove(%d) = %v vs %v", i, live[j], errName(ea), errName(eb))
			}
			live[j] = live[len(live)-1]
			live = live[:len(live)-1]
			continue
		}
		key := int32(abi.IPC_PRIVATE)
		if rng.IntN(2) == 0 {
			key = rng.Int32N(1 << 30)
		}
		n := 1 + rng.Int32N(4)
		ida, ea := a.Semget(root, key, n, abi.IPC_CREAT|0o600)
		idb, eb := b.Semget(root, key, n, abi.IPC_CREAT|0o600)
		if ida != idb || ea != eb {
			t.Fatalf("step %d: Semget = %d %v vs %d %v", i, ida, errName(ea), idb, errName(eb))
		}
		if ea == 0 && !containsID(live, ida) {
			live = append(live, ida)
		}
	}
	sameNamespaces(t, a, b)
}

func containsID(ids []int32, id int32) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

func TestImageRoundTrip(t *testing.T) {
	for seed := uint64(1); seed <= 4; seed++ {
		rng := rand.New(rand.NewPCG(seed, 10))
		ns, clk := newNS()
		if seed == 2 {
			ns.SetLimits(sem.Limits{SEMMSL: 100, SEMMNS: 20000, SEMOPM: 7, SEMMNI: 3000})
		}
		live := randomState(t, rng, ns, clk, 1000, 3000)
		if seed == 3 {
			// Limits lowered below what is in use must round-trip too.
			ns.SetLimits(sem.Limits{SEMMSL: 2, SEMMNS: 10, SEMOPM: 1, SEMMNI: 5})
		}
		before := ns.Snapshot(true)
		img, st := ns.Image(nil)
		if !reflect.DeepEqual(before, ns.Snapshot(true)) {
			t.Fatal("Image changed the namespace")
		}
		if st.Sets != 1000 || len(img.Sets) != 1000 || st.UndoEntries != 0 {
			t.Fatalf("stats %+v, %d sets", st, len(img.Sets))
		}
		if err := img.Validate(); err != nil {
			t.Fatalf("Validate of a fresh image: %v", err)
		}
		clk2 := newClock(clk.Now())
		re, err := sem.NewNamespaceFromImage(img, clk2)
		if err != nil {
			t.Fatal(err)
		}
		sameNamespaces(t, ns, re)
		img2, _ := re.Image(nil)
		if !reflect.DeepEqual(img, img2) {
			t.Fatal("image of the restored namespace differs")
		}
		sameFuture(t, rand.New(rand.NewPCG(seed, 11)), ns, re, live, 5000)
	}
}

func TestImageEmptyAndDrained(t *testing.T) {
	ns, clk := newNS()
	img, _ := ns.Image(nil)
	if img.Alloc != (sem.AllocState{LastIdx: -1, NextIdx: 0, Seq: 0}) || len(img.Sets) != 0 {
		t.Fatalf("fresh image %+v", img)
	}
	re, err := sem.NewNamespaceFromImage(img, clk)
	if err != nil {
		t.Fatal(err)
	}
	sameFuture(t, rand.New(rand.NewPCG(1, 1)), ns, re, nil, 200)

	// Every set removed: the allocator's state alone decides the next ids.
	ns, clk = newNS()
	live := randomState(t, rand.New(rand.NewPCG(2, 2)), ns, clk, 300, 2000)
	for _, id := range live {
		if err := ns.Remove(rootTask(1), id); err != 0 {
			t.Fatal(err)
		}
	}
	img, _ = ns.Image(nil)
	if len(img.Sets) != 0 || img.Alloc.Seq == 0 {
		t.Fatalf("drained image: %d sets, alloc %+v", len(img.Sets), img.Alloc)
	}
	re, err = sem.NewNamespaceFromImage(img, clk)
	if err != nil {
		t.Fatal(err)
	}
	sameFuture(t, rand.New(rand.NewPCG(3, 3)), ns, re, nil, 3000)
}

// TestImageSequenceWrap: ids continue across the wrap of the sequence
// number (reached from a crafted image: 4 million creations otherwise).
func TestImageSequenceWrap(t *testing.T) {
	clk := newClock(t0)
	root := rootTask(1)
	start := &sem.Image{
		Limits: sem.DefaultLimits(),
		Alloc:  sem.AllocState{LastIdx: 40, NextIdx: 41, Seq: abi.IPCID_SEQ_MAX - 1},
		Sets: []sem.SetImage{
			{ID: (abi.IPCID_SEQ_MAX-1)<<15 | 40, Mode: 0o600, Vals: []uint16{1}, Pids: []int32{0}},
			{ID: 7<<15 | 3, Key: 99, Mode: 0o600, Vals: []uint16{1, 2}, Pids: []int32{5, 6}},
		},
	}
	a, err := sem.NewNamespaceFromImage(start, clk)
	if err != nil {
		t.Fatal(err)
	}
	var ids []int32
	for i := 0; i < 30; i++ {
		id := mustGet(t, a, root, 1, 0o600)
		ids = append(ids, id)
		if i%3 != 0 {
			a.Remove(root, id)
		}
	}
	img, _ := a.Image(nil)
	b, err := sem.NewNamespaceFromImage(img, clk)
	if err != nil {
		t.Fatal(err)
	}
	sameFuture(t, rand.New(rand.NewPCG(1, 1)), a, b, nil, 200)
	// Index 41..63 with the last sequence number, then index 0 with 0.
	if ids[0] != (abi.IPCID_SEQ_MAX-1)<<15|41 || ids[23] != 0 {
		t.Fatalf("ids %v", ids)
	}
}

// undoScript has several owners make SEM_UNDO operations on several sets,
// arranged so that exit clamping and the order of exits matter.
func undoScript(t testing.TB, rng *rand.Rand, ns *sem.Namespace, owners []*sem.Task, sets []int32) {
	t.Helper()
	other := rootTask(999) // no undo
	for step := 0; step < 400; step++ {
		id := sets[rng.IntN(len(sets))]
		n := int(stat(t, ns, id).Nsems)
		switch r := rng.IntN(10); {
		case r < 7:
			tk := owners[rng.IntN(len(owners))]
			sops := make([]abi.Sembuf, 1+rng.IntN(2))
			for j := range sops {
				sops[j] = sb(uint16(rng.IntN(n)), int16(rng.IntN(2001)-1000), nowait|undo)
			}
			op(ns, tk, id, sops...)
		case r < 9:
			// Someone without undo drives values to the extremes.
			v := int32(0)
			if rng.IntN(2) == 0 {
				v = abi.SEMVMX - rng.Int32N(3)
			}
			num := uint16(rng.IntN(n))
			cur := val(t, ns, id, int32(num))
			if d := v - cur; d >= -32767 && d <= 32767 {
				op(ns, other, id, sb(num, int16(d), nowait))
			}
		default:
			if rng.IntN(4) == 0 {
				mustSetVal(t, ns, other, id, int32(rng.IntN(n)), rng.Int32N(abi.SEMVMX+1))
			}
		}
	}
}

func TestImageFoldsUndo(t *testing.T) {
	for seed := uint64(1); seed <= 50; seed++ {
		rng := rand.New(rand.NewPCG(seed, 20))
		ns, clk := newNS()
		root := rootTask(1)
		var sets []int32
		for i := 0; i < 4; i++ {
			id := mustGet(t, ns, root, 1+rng.Int32N(4), 0o666)
			for j := 0; j < int(stat(t, ns, id).Nsems); j++ {
				mustSetVal(t, ns, root, id, int32(j), rng.Int32N(abi.SEMVMX+1))
			}
			sets = append(sets, id)
		}
		var tasks []*sem.Task
		for i := 0; i < 5; i++ {
			tasks = append(tasks, rootTask(int32(500+i)))
		}
		undoScript(t, rng, ns, tasks, sets)
		clk.Set(t0 + 5000)

		// Owners 0..3 listed in a random order with pids of their own
		// choosing; task 4 is not: the image records its own pid.
		perm := rng.Perm(4)
		var owners []sem.UndoOwner
		for _, i := range perm {
			owners = append(owners, sem.UndoOwner{List: tasks[i].Undo, PID: 7000 + int32(i)})
		}
		before := ns.Snapshot(true)
		img, st := ns.Image(owners)
		if !reflect.DeepEqual(before, ns.Snapshot(true)) {
			t.Fatal("Image changed the live namespace")
		}
		if img.Time != t0+5000 {
			t.Fatalf("image time %d", img.Time)
		}
		re, err := sem.NewNamespaceFromImage(img, clk)
		if err != nil {
			t.Fatal(err)
		}
		// The reference: the owners really exit, in the same order.
		for _, o := range owners {
			ns.ExitUndo(o.List, o.PID)
		}
		if st.Unlisted == 0 || st.UndoEntries <= st.Unlisted {
			t.Fatalf("stats %+v", st)
		}
		ns.ExitUndo(tasks[4].Undo, tasks[4].PID)
		sameNamespaces(t, ns, re)
		if ns.UndoInUse() {
			t.Fatal("undo left after every exit")
		}
	}
}

func TestImageUnlistedUsesLastPID(t *testing.T) {
	ns, _ := newNS()
	root := rootTask(1)
	id := mustGet(t, ns, root, 2, 0o666)
	mustSetVal(t, ns, root, id, 0, 10)
	a := rootTask(41)
	b := &sem.Task{PID: 42, Cred: a.Cred, Undo: a.Undo} // shares a's list
	mustOp(t, ns, a, id, sb(0, -3, undo))
	mustOp(t, ns, b, id, sb(1, 2, undo))
	img, st := ns.Image(nil)
	if st.UndoEntries != 1 || st.Unlisted != 1 {
		t.Fatalf("stats %+v", st)
	}
	if got := img.Sets[0].Vals; got[0] != 10 || got[1] != 0 {
		t.Fatalf("values %v", got)
	}
	if got := img.Sets[0].Pids; got[0] != 42 || got[1] != 42 {
		t.Fatalf("pids %v", got)
	}
	img, st = ns.Image([]sem.UndoOwner{{List: a.Undo, PID: 40}})
	if st.Unlisted != 0 || img.Sets[0].Pids[0] != 40 || img.Sets[0].Pids[1] != 40 {
		t.Fatalf("stats %+v pids %v", st, img.Sets[0].Pids)
	}
}

// TestImageExitOrder: on one set, the owners' order decides the clamping.
func TestImageExitOrder(t *testing.T) {
	ns, _ := newNS()
	root := rootTask(1)
	id := mustGet(t, ns, root, 1, 0o666)
	a, b := rootTask(10), rootTask(20)
	mustOp(t, ns, a, id, sb(0, 5, undo))  // a's exit: -5
	mustOp(t, ns, root, id, sb(0, -5, 0)) // value 0
	mustOp(t, ns, b, id, sb(0, 3, undo))  // value 3, b's exit: -3
	mustOp(t, ns, root, id, sb(0, -3, 0)) // value 0
	mustOp(t, ns, root, id, sb(0, 4, 0))  // value 4
	for _, c := range []struct {
		owners []sem.UndoOwner
		val    uint16
		pid    int32
	}{
		{[]sem.UndoOwner{{a.Undo, 10}, {b.Undo, 20}}, 0, 20}, // 4-5 -> 0, -3 -> 0
		{[]sem.UndoOwner{{b.Undo, 20}, {a.Undo, 10}}, 0, 10}, // 4-3 = 1, -5 -> 0
	} {
		img, _ := ns.Image(c.owners)
		if img.Sets[0].Vals[0] != c.val || img.Sets[0].Pids[0] != c.pid {
			t.Fatalf("%v: %v %v", c.owners, img.Sets[0].Vals, img.Sets[0].Pids)
		}
	}
	// Upwards: clamped at SEMVMX.
	ns2, _ := newNS()
	id = mustGet(t, ns2, root, 1, 0o666)
	mustSetVal(t, ns2, root, id, 0, 100)
	mustOp(t, ns2, a, id, sb(0, -50, undo))
	mustOp(t, ns2, root, id, sb(0, abi.SEMVMX-50, 0))
	img, _ := ns2.Image([]sem.UndoOwner{{a.Undo, 10}})
	if img.Sets[0].Vals[0] != abi.SEMVMX {
		t.Fatalf("value %d", img.Sets[0].Vals[0])
	}
}

// TestImageConsistent takes images while goroutines hammer the sets with
// multi-op semops that conserve a quantity, blocking and being woken,
// plus two-step transfers between sets, creations and removals, and undo
// operations on private sets. Every image must show each conserved
// quantity exactly.
func TestImageConsistent(t *testing.T) {
	ns, _ := newNS()
	ns.SetLimits(sem.Limits{SEMMSL: 250, SEMMNS: 1 << 20, SEMOPM: 32, SEMMNI: abi.IPCMNI})
	root := rootTask(1)
	const (
		nsets   = 16
		nsems   = 4
		perSem  = 50
		movers  = 8
		pairSum = 1000
	)
	// Two sets between which a unit moves in two steps (P on one, then V
	// on the other): at any instant x+y is pairSum, or less by one per
	// mover in between, never more. x is the first set in index order and
	// y the last, so that an image copying set after set would show a
	// transfer's V without its P.
	x := mustGet(t, ns, root, 1, 0o666)
	mustSetVal(t, ns, root, x, 0, pairSum)
	var shared []int32
	for i := 0; i < nsets; i++ {
		id := mustGet(t, ns, root, nsems, 0o666)
		mustSetAll(t, ns, root, id, perSem, perSem, perSem, perSem)
		shared = append(shared, id)
	}
	// Private sets used only by one undo owner each: as if it had exited,
	// they are at their initial values.
	private := make([]int32, movers)
	for i := range private {
		private[i] = mustGet(t, ns, root, 3, 0o666)
		mustSetAll(t, ns, root, private[i], 100, 100, 100)
	}
	y := mustGet(t, ns, root, 1, 0o666)

	var stop atomic.Bool
	var wg sync.WaitGroup
	var ops atomic.Int64
	for g := 0; g < movers; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(g), 30))
			tk := rootTask(int32(1000 + g))
			c := newBlockingCaller(ns, tk)
			for !stop.Load() {
				id := shared[rng.IntN(nsets)]
				a, b := uint16(rng.IntN(nsems)), uint16(rng.IntN(nsems))
				if a == b {
					b = (a + 1) % nsems
				}
				k := int16(1 + rng.IntN(3))
				switch rng.IntN(4) {
				case 0: // three-semaphore rotation
					cc := (b + 1) % nsems
					if cc == a {
						cc = (cc + 1) % nsems
					}
					c.semop(t, id, time.Millisecond, sb(a, -k, 0), sb(b, k-1, 0), sb(cc, 1, 0))
				case 1:
					c.semop(t, id, time.Millisecond, sb(a, -k, 0), sb(b, k, 0))
				case 2:
					// Two steps across sets.
					if op(ns, tk, x, sb(0, -1, nowait)) == 0 {
						mustOp(t, ns, tk, y, sb(0, 1, 0))
					} else if op(ns, tk, y, sb(0, -1, nowait)) == 0 {
						mustOp(t, ns, tk, x, sb(0, 1, 0))
					}
				default:
					p := private[g]
					op(ns, tk, p, sb(uint16(rng.IntN(3)), int16(rng.IntN(41)-20), nowait|undo), sb(uint16(rng.IntN(3)), int16(rng.IntN(11)-5), nowait|undo))
				}
				ops.Add(1)
			}
		}(g)
	}
	// Churn the namespace lock too.
	wg.Add(1)
	go func() {
		defer wg.Done()
		for !stop.Load() {
			id := mustGet(t, ns, root, 2, 0o600)
			ns.Remove(root, id)
		}
	}()

	deadline := time.Now().Add(2 * time.Second)
	if testing.Short() {
		deadline = time.Now().Add(300 * time.Millisecond)
	}
	images := 0
	var maxPause time.Duration
	for time.Now().Before(deadline) || images < 20 {
		img, st := ns.Image(nil)
		images++
		maxPause = max(maxPause, st.Pause)
		byID := map[int32]*sem.SetImage{}
		for i := range img.Sets {
			byID[img.Sets[i].ID] = &img.Sets[i]
		}
		for _, id := range shared {
			sum := 0
			for _, v := range byID[id].Vals {
				sum += int(v)
			}
			if sum != nsems*perSem {
				t.Fatalf("image %d: set %d sums to %d, want %d: %v", images, id, sum, nsems*perSem, byID[id].Vals)
			}
		}
		if s := int(byID[x].Vals[0]) + int(byID[y].Vals[0]); s > pairSum || s < pairSum-movers {
			t.Fatalf("image %d: x+y = %d, want %d-%d..%d", images, s, pairSum, movers, pairSum)
		}
		for _, p := range private {
			if v := byID[p].Vals; v[0] != 100 || v[1] != 100 || v[2] != 100 {
				t.Fatalf("image %d: private set %d at %v after the undo fold, want 100s", images, p, v)
			}
		}
		if err := img.Validate(); err != nil {
			t.Fatal(err)
		}
	}
	stop.Store(true)
	wg.Wait()
	t.Logf("%d images during %d semops; longest pause %v", images, ops.Load(), maxPause)
}

func TestValidateRefuses(t *testing.T) {
	ns, _ := newNS()
	root := rootTask(1)
	for i := 0; i < 5; i++ {
		id := mustGet(t, ns, root, 3, 0o600)
		if i == 1 {
			ns.Remove(root, id)
		}
	}
	keyed, _ := ns.Semget(root, 1234, 2, abi.IPC_CREAT|0o600)
	_ = keyed
	keyed2, _ := ns.Semget(root, 5678, 2, abi.IPC_CREAT|0o600)
	_ = keyed2
	good, _ := ns.Image(nil)
	clone := func() *sem.Image {
		c := *good
		c.Sets = make([]sem.SetImage, len(good.Sets))
		for i, s := range good.Sets {
			s.Vals = append([]uint16(nil), s.Vals...)
			s.Pids = append([]int32(nil), s.Pids...)
			c.Sets[i] = s
		}
		return &c
	}
	last := len(good.Sets) - 1
	cases := []struct {
		name string
		mut  func(*sem.Image)
		want string
	}{
		{"value", func(m *sem.Image) { m.Sets[2].Vals[1] = 40000 }, "set 2 (id "},
		{"value text", func(m *sem.Image) { m.Sets[2].Vals[1] = 40000 }, "semaphore 1: value 40000 above SEMVMX (32767)"},
		{"dup id", func(m *sem.Image) { m.Sets[3].ID = m.Sets[1].ID }, "duplicate id"},
		{"dup index", func(m *sem.Image) { m.Sets[3].ID = m.Sets[1].ID + 1<<15 }, "index"},
		{"dup key", func(m *sem.Image) { m.Sets[last].Key = 1234 }, "duplicate key 1234"},
		{"negative id", func(m *sem.Image) { m.Sets[0].ID = -5 }, "negative id"},
		{"seq max", func(m *sem.Image) { m.Sets[0].ID = abi.IPCID_SEQ_MAX<<15 | 77 }, "sequence number 65535"},
		{"mode", func(m *sem.Image) { m.Sets[0].Mode = 0o1777 }, "mode"},
		{"nsems 0", func(m *sem.Image) { m.Sets[0].Vals, m.Sets[0].Pids = nil, nil }, "nsems 0"},
		{"vals/pids", func(m *sem.Image) { m.Sets[0].Pids = m.Sets[0].Pids[:1] }, "3 values but 1 pids"},
		{"semmni", func(m *sem.Image) { m.Limits.SEMMNI = abi.IPCMNI + 1 }, "SEMMNI 32769"},
		{"seq", func(m *sem.Image) { m.Alloc.Seq = abi.IPCID_SEQ_MAX }, "allocator sequence number"},
		{"lastidx", func(m *sem.Image) { m.Alloc.LastIdx, m.Alloc.NextIdx = abi.IPCMNI, abi.IPCMNI+1 }, "last index"},
		{"nextidx", func(m *sem.Image) { m.Alloc.NextIdx = 99 }, "next index 99"},
		{"lastidx seq", func(m *sem.Image) { m.Alloc.Seq = 3 }, "at the last allocated index"},
		{"nothing allocated", func(m *sem.Image) { m.Alloc = sem.AllocState{LastIdx: -1} }, "allocated nothing"},
		{"too many sets", func(m *sem.Image) {
			m.Sets = make([]sem.SetImage, abi.IPCMNI+1)
		}, "32769 sets"},
	}
	for _, c := range cases {
		m := clone()
		c.mut(m)
		err := m.Validate()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
		var ie *sem.ImageError
		if !errors.As(err, &ie) {
			t.Errorf("%s: %T is not an *ImageError", c.name, err)
		}
		if ns2, err2 := sem.NewNamespaceFromImage(m, nil); ns2 != nil || err2 == nil {
			t.Errorf("%s: NewNamespaceFromImage accepted it", c.name)
		}
	}
	if _, err := sem.NewNamespaceFromImage(clone(), nil); err != nil {
		t.Fatal(err)
	}
	// Any times, owners and pids are fine.
	m := clone()
	m.Sets[0].Otime, m.Sets[0].Ctime, m.Sets[0].Pids[0], m.Sets[0].UID = -1<<63, 1<<63-1, -7, 1<<32-1
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
	// nsems above the image's SEMMSL is a reachable state.
	m.Limits.SEMMSL = 1
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
}
