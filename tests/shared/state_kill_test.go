package shared

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sembox/sembox/abi"
	"github.com/sembox/sembox/internal/image"
	"github.com/sembox/sembox/sem"
)

var flagKillRounds = flag.Int("state.kill-rounds", 8, "TestStateSaveKilled: rounds of a server SIGKILLed while it saves")

// bigStateFile writes an image of nsets sets of nsems semaphores (random
// values and pids, every third set with a key 0x10000000+i, owners and
// modes varied) to path, with one more set, key holdKey, of nsems
// semaphores whose semaphore 0 is 5, and returns the image.
func bigStateFile(t *testing.T, path string, nsets, nsems int, holdKey int32) *sem.Image {
	t.Helper()
	ns := sem.NewNamespace(nil)
	rng := rand.New(rand.NewPCG(10, 10))
	root := &sem.Task{PID: 1, Cred: &sem.Cred{CapIPCOwner: true, CapSysAdmin: true}}
	v := make([]uint16, nsems)
	for i := 0; i <= nsets; i++ {
		key := int32(abi.IPC_PRIVATE)
		switch {
		case i == nsets:
			key = holdKey
		case i%3 == 0:
			key = 0x10000000 + int32(i)
		}
		tk := &sem.Task{PID: 1 + rng.Int32N(1<<20), Cred: &sem.Cred{EUID: uint32(i % 3), EGID: uint32(i % 5)}}
		id, err := ns.Semget(tk, key, int32(nsems), abi.IPC_CREAT|abi.IPC_EXCL|0o600|int32(i%2)*0o066)
		if err != 0 {
			t.Fatalf("semget %d: %v", i, err)
		}
		for k := range v {
			v[k] = uint16(rng.IntN(1000))
		}
		if i == nsets {
			v[0] = 5
		}
		if e := ns.SetAll(&sem.Task{PID: tk.PID, Cred: root.Cred}, id, func(int) ([]uint16, sem.Errno) { return v, 0 }); e != 0 {
			t.Fatal(e)
		}
	}
	img, _ := ns.Image(nil)
	if err := image.WriteFile(path, img); err != nil {
		t.Fatal(err)
	}
	return img
}

// setByKey returns the position of the set with key in img, or -1.
func setByKey(img *sem.Image, key int32) int {
	for i := range img.Sets {
		if img.Sets[i].Key == key {
			return i
		}
	}
	return -1
}

// oldOrNew checks that got is old (as the server restored it, saved
// again: only the time of the image may differ) or old plus the set with
// key (created by the round's member, its value 0 or val: the image may
// fall between create.pl's semget and its SETALL), and says which.
func oldOrNew(got, old *sem.Image, key int32, val uint16) (string, error) {
	if got.Limits != old.Limits {
		return "", fmt.Errorf("limits %+v, want %+v", got.Limits, old.Limits)
	}
	sets := got.Sets
	what := "old"
	alloc := old.Alloc
	if i := setByKey(got, key); i >= 0 {
		what = "new"
		s := got.Sets[i]
		if len(s.Vals) != 1 || (s.Vals[0] != 0 && s.Vals[0] != val) {
			return "", fmt.Errorf("the new set %d has values %v, want [0] or [%d]", s.ID, s.Vals, val)
		}
		alloc = sem.AllocState{LastIdx: s.ID & abi.IPCMNI_IDX_MASK, NextIdx: s.ID&abi.IPCMNI_IDX_MASK + 1, Seq: s.ID >> abi.IPCMNI_SEQ_SHIFT}
		sets = append(sets[:i:i], sets[i+1:]...)
	}
	if got.Alloc != alloc {
		return "", fmt.Errorf("%s image: allocator %+v, want %+v", what, got.Alloc, alloc)
	}
	if !reflect.DeepEqual(sets, old.Sets) {
		return "", fmt.Errorf("%s image: the %d sets that were there before differ", what, len(old.Sets))
	}
	return what, nil
}

// TestStateSaveKilled: a server with --state on a large namespace (20,000
// sets, 1,000,000 semaphores: a save takes tens of milliseconds) saves
// all the time (--save-every 10ms, and `sembox ns save` in a loop) and is
// SIGKILLed at a random moment, -state.kill-rounds times. Each round
// starts a new server from the file and adds a set first; after the kill
// the file must be a whole image (it decodes, both checksums agree, it
// validates) and either the one the round started from or that one with
// the round's set: never a mix. Temporary files a killed save left behind
// are counted (a kill during the write) and removed.
//
// Then a simulated reboot: a server saving every 10 ms while a member
// holds a unit of a semaphore with SEM_UNDO; once a save has recorded
// it, the server and the member are SIGKILLed (no save at the stop). The
// file shows the unit given back (the image's rule), and a new server
// started from it has the sets of the file, the values, and gives the next
// id the engine computes from the image.
func TestStateSaveKilled(t *testing.T) {
	need(t, "perl", "ipcmk", "pgrep")
	dir := t.TempDir()
	state := filepath.Join(dir, "ns.img")
	const holdKey = 0x5eb0c0de
	t0 := time.Now()
	bigStateFile(t, state, 20000, 50, holdKey)
	fi, err := os.Stat(state)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("state file: %d bytes, made in %v", fi.Size(), time.Since(t0).Round(time.Millisecond))
	n := newNamespace(t)
	startArgs := func(argv ...string) []string {
		return append([]string{env.sembox, "run", "--ns", n.name, "--state", state, "--save-every", "10ms", "--"}, argv...)
	}
	rng := rand.New(rand.NewPCG(1, 1)) // the same moments every run, as far as timing allows
	tmpRe := regexp.MustCompile(`^\.ns\.img\.tmp-[0-9a-f]{16}$`)
	// leftovers removes and counts the temporary files of killed saves;
	// anything else in dir is an error.
	leftovers := func() int {
		ents, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		k := 0
		for _, e := range ents {
			switch {
			case e.Name() == "ns.img":
			case tmpRe.MatchString(e.Name()):
				k++
				os.Remove(filepath.Join(dir, e.Name()))
			default:
				t.Errorf("unexpected file %s in the state directory", e.Name())
			}
		}
		return k
	}
	// kill SIGKILLs the server and waits until pgrep no longer sees it.
	kill := func(srv int) {
		t.Helper()
		if err := syscall.Kill(srv, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		for deadline := time.Now().Add(10 * time.Second); len(n.servers()) > 0; time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("server %d still there 10 s after SIGKILL", srv)
			}
		}
	}
	// saving runs `sembox ns save NAME` in a loop until stopped: saves on
	// demand besides the periodic ones (those after the kill fail).
	saving := func() (stop func()) {
		done := make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				sembox(10*time.Second, "ns", "save", n.name)
			}
		}()
		return func() { close(done); wg.Wait() }
	}

	counts := map[string]int{}
	mid := 0
	rounds := *flagKillRounds
	if testing.Short() {
		rounds = min(rounds, 3)
	}
	for round := 0; round < rounds; round++ {
		old, err := image.ReadFile(state)
		if err != nil {
			t.Fatalf("round %d: the file before the round: %v", round, err)
		}
		key := int32(0x5eb0e000 + round)
		val := uint16(round + 1)
		r := run(runTimeout, env.dir, nil, startArgs(perlBin, script("create.pl"), fmt.Sprintf("%#x", key), "1", strconv.Itoa(int(val)))...)
		if !r.OK() {
			t.Fatalf("round %d: starting a server from the file and creating a set:\n%v", round, r)
		}
		srv := n.server()
		stop := saving()
		time.Sleep(time.Duration(rng.IntN(400)) * time.Millisecond)
		kill(srv)
		stop()
		got, err := image.ReadFile(state)
		if err != nil {
			t.Fatalf("round %d: after SIGKILL during saves the file is not a whole image: %v", round, err)
		}
		what, err := oldOrNew(got, old, key, val)
		if err != nil {
			t.Fatalf("round %d: the file is neither the image before the round nor a later one: %v", round, err)
		}
		counts[what]++
		if k := leftovers(); k > 0 {
			mid++
		}
	}
	t.Logf("%d rounds: the file held the old image %d times, the new %d times; %d kills interrupted a save's write (temporary file left)",
		rounds, counts["old"], counts["new"], mid)

	// The reboot.
	r := run(runTimeout, env.dir, nil, startArgs("true")...)
	if !r.OK() {
		t.Fatalf("starting a server for the reboot:\n%v", r)
	}
	srv := n.server()
	h := startBG(t, runTimeout, nil, n.runArgs(perlBin, script("hold.pl"), fmt.Sprintf("%#x", holdKey))...)
	m := h.waitLine(heldRe, 20*time.Second)
	if m[2] != "4" {
		t.Fatalf("the holder sees %s, want 4", m[2])
	}
	holder, _ := strconv.Atoi(m[1])
	// Wait for a save that has recorded the holder: its exit, folded into
	// the image, made it the sempid.
	var img *sem.Image
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		img, err = image.ReadFile(state)
		if err != nil {
			t.Fatalf("while saving: %v", err)
		}
		if i := setByKey(img, holdKey); i >= 0 && img.Sets[i].Pids[0] == int32(holder) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no save recorded the holder in 20 s")
		}
	}
	kill(srv)
	syscall.Kill(-h.cmd.Process.Pid, syscall.SIGKILL)
	h.wait(10 * time.Second)
	leftovers()
	img, err = image.ReadFile(state)
	if err != nil {
		t.Fatalf("after the crash: %v", err)
	}
	hs := img.Sets[setByKey(img, holdKey)]
	if hs.Vals[0] != 5 || hs.Otime != img.Time {
		t.Errorf("the held unit in the file: value %d otime %d (image time %d), want 5 and the image's time (the holder's undo applied)",
			hs.Vals[0], hs.Otime, img.Time)
	}
	// What the engine says the next id is, from the file.
	want, err := sem.NewNamespaceFromImage(img, nil)
	if err != nil {
		t.Fatal(err)
	}
	nextID, e := want.Semget(&sem.Task{PID: 1, Cred: &sem.Cred{CapIPCOwner: true}}, abi.IPC_PRIVATE, 1, 0o644)
	if e != 0 {
		t.Fatal(e)
	}
	// The new server, from the file.
	r = run(runTimeout, env.dir, nil, append([]string{env.sembox, "run", "--ns", n.name, "--state", state, "--"},
		"sh", "-c", fmt.Sprintf("%s %s %#x && ipcmk -S 1", perlBin, script("getall.pl"), holdKey))...)
	if !r.OK() {
		t.Fatalf("restoring after the reboot:\n%v", r)
	}
	vals := valsRe.FindStringSubmatch(r.Stdout)
	wantVals := make([]string, len(hs.Vals))
	for i, v := range hs.Vals {
		wantVals[i] = strconv.Itoa(int(v))
	}
	if vals == nil || vals[1] != strings.Join(wantVals, ",") {
		t.Errorf("values after the reboot: %q, want %s", r.Stdout, strings.Join(wantVals, ","))
	}
	if id := semID.FindStringSubmatch(r.Stdout); id == nil || id[1] != strconv.Itoa(int(nextID)) {
		t.Errorf("first id after the reboot: %q, want %d", r.Stdout, nextID)
	}
	if e := n.entry(); e == nil || e.Sets != len(img.Sets)+1 {
		t.Errorf("after the reboot: want %d sets, got %+v", len(img.Sets)+1, e)
	}
}
