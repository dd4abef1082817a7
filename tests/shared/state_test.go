package shared

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestStateSurvivesRestart: a namespace made with --state keeps its sets
// across a stop (ns rm) and a fresh server: same ids, keys and values, a
// member's SEM_UNDO adjustment applied as if it had exited when the image
// was taken, and the next id the kernel would give. A corrupt state file
// stops the server from starting, with a message naming the file, and is
// left as it was.
func TestStateSurvivesRestart(t *testing.T) {
	need(t, "perl", "ipcmk", "ipcs", "pgrep")
	dir := t.TempDir()
	state := filepath.Join(dir, "ns.img")
	n := newNamespace(t)
	create := func(args ...string) result {
		return run(runTimeout, env.dir, nil, append([]string{env.sembox, "run", "--ns", n.name, "--state", state, "--"}, args...)...)
	}
	// Ids 0, 1; 0 removed; then 2: the next would be 3.
	if r := create("sh", "-c", "ipcmk -S 3 && ipcmk -S 1 && ipcrm -s 0 && ipcmk -S 2"); !r.OK() {
		t.Fatalf("creating the sets:\n%v", r)
	}
	const key = "0x5eb0a11e"
	n.mustRun(perlBin, script("create.pl"), key, "2", "4", "9")
	// A member holds one unit of semaphore 0 with SEM_UNDO while the
	// image is taken: the image must show it given back.
	h := startBG(t, runTimeout, nil, n.runArgs(perlBin, script("hold.pl"), key)...)
	h.waitLine(heldRe, 10*time.Second)
	if got := n.getall(key); got != "3,9" {
		t.Fatalf("while held: %s, want 3,9", got)
	}
	held := filepath.Join(dir, "held.img")
	if r := sembox(10*time.Second, "ns", "save", n.name, held); !r.OK() {
		t.Fatalf("ns save:\n%v", r)
	}
	before := sembox(10*time.Second, "ipcs", "--ns", n.name)
	syscall.Kill(-h.cmd.Process.Pid, syscall.SIGKILL)
	h.wait(10 * time.Second)
	n.removed(sembox(10*time.Second, "ns", "rm", n.name))
	if _, err := os.Stat(state); err != nil {
		t.Fatalf("no state file after ns rm: %v", err)
	}

	// A new server from the image taken while the unit was held.
	if err := os.Rename(held, state); err != nil {
		t.Fatal(err)
	}
	if r := create("true"); !r.OK() {
		t.Fatalf("restoring:\n%v", r)
	}
	after := sembox(10*time.Second, "ipcs", "--ns", n.name)
	if a, b := ipcsRows(before.Stdout), ipcsRows(after.Stdout); len(a) != 3 || strings.Join(flat(a), " ") != strings.Join(flat(b), " ") {
		t.Fatalf("sets differ after the restore:\nbefore:\n%s\nafter:\n%s", before.Stdout, after.Stdout)
	}
	if got := n.getall(key); got != "4,9" {
		t.Errorf("after the restore: %s, want 4,9 (the holder's undo applied)", got)
	}
	r := n.mustRun("ipcmk", "-S", "1")
	if m := semID.FindStringSubmatch(r.Stdout); m == nil || m[1] != "4" {
		t.Errorf("next id after the restore: %q, want 4 (ids 1, 2, 3 in use)", r.Stdout)
	}
	n.removed(sembox(10*time.Second, "ns", "rm", n.name))

	// A corrupt file: refused, named, untouched.
	data, err := os.ReadFile(state)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 0x40
	if err := os.WriteFile(state, data, 0o600); err != nil {
		t.Fatal(err)
	}
	r = create("true")
	if r.OK() || !strings.Contains(r.Stderr, state) {
		t.Errorf("a corrupt state file was accepted or not named:\n%v", r)
	}
	if again, _ := os.ReadFile(state); string(again) != string(data) {
		t.Errorf("the corrupt state file was changed")
	}
	if left := n.servers(); len(left) != 0 {
		t.Errorf("a server runs on a corrupt state file: %v", left)
	}
}

func flat(rows []ipcsRow) []string {
	var out []string
	for _, r := range rows {
		out = append(out, r.key, r.id, r.owner, r.perms, r.nsems)
	}
	return out
}
