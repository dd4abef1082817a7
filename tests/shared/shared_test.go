package shared

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	semID   = regexp.MustCompile(`(?m)^Semaphore id: (\d+)$`)
	valsRe  = regexp.MustCompile(`(?m)^vals=([0-9,]*)$`)
	heldRe  = regexp.MustCompile(`^held pid=(\d+) val=(\d+)$`)
	enosys  = strconv.Itoa(int(syscall.ENOSYS))
	perlBin = "perl"
)

// script returns the path of one of the helper scripts.
func script(name string) string { return filepath.Join(env.dir, name) }

// ipcsRow is a line of `ipcs -s`: key, semid, owner, perms, nsems.
type ipcsRow struct{ key, id, owner, perms, nsems string }

// ipcsRows parses the set lines of `ipcs -s` output (also inside
// `sembox ipcs`'s output).
func ipcsRows(out string) []ipcsRow {
	var rows []ipcsRow
	for _, l := range lines(out) {
		f := strings.Fields(l)
		if len(f) == 5 && strings.HasPrefix(f[0], "0x") {
			rows = append(rows, ipcsRow{f[0], f[1], f[2], f[3], f[4]})
		}
	}
	return rows
}

// getall reads the values of the set with key through a new member.
func (n *namespace) getall(key string) string {
	n.t.Helper()
	r := n.run(perlBin, script("getall.pl"), key)
	m := valsRe.FindStringSubmatch(r.Stdout)
	if !r.OK() || m == nil {
		n.t.Fatalf("getall:\n%v", r)
	}
	return m[1]
}

// removed checks that `sembox ns rm` succeeded, then that the server has
// gone and `sembox ns ls --json` no longer lists the namespace.
func (n *namespace) removed(rm result) {
	t := n.t
	t.Helper()
	if !rm.OK() {
		what := "fails"
		switch {
		case strings.Contains(rm.Stderr, "EOF"):
			what = "reports failure (EOF: the server stopped before answering)"
		case strings.Contains(rm.Stderr, "members"):
			what = "is refused although no member runs any more"
		}
		t.Errorf("SEMBOX BUG: `sembox ns rm %s` %s:\n%v", n.name, what, rm)
	}
	var left []int
	for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if left = n.servers(); len(left) == 0 || time.Now().After(deadline) {
			break
		}
	}
	if len(left) > 0 {
		t.Errorf("server %v still running 2 s after `sembox ns rm %s`", left, n.name)
	}
	if e := n.entry(); e != nil {
		t.Errorf("`sembox ns ls --json` still lists %s after `sembox ns rm`: %+v", n.name, *e)
	}
	if _, err := os.Lstat(n.socket); err == nil {
		t.Errorf("socket %s left after `sembox ns rm`", n.socket)
	}
}

// 1. ipcmk in one command, ipcs in the next, sembox ipcs from outside,
// ipcrm in a third (and sembox ipcrm --ns from outside), then
// `sembox ns rm`.
func TestUtilLinuxAcrossCommands(t *testing.T) {
	need(t, "ipcmk", "ipcs", "ipcrm", "pgrep")
	n := newNamespace(t)

	r := n.mustRun("ipcmk", "-S", "3")
	m := semID.FindStringSubmatch(r.Stdout)
	if m == nil {
		t.Fatalf("no id in ipcmk's output:\n%v", r)
	}
	id := m[1]
	srv := n.server()
	t.Logf("ipcmk -S 3: id %s in %v; server %d", id, r.Dur.Round(time.Millisecond), srv)

	r = n.mustRun("ipcs", "-s")
	rows := ipcsRows(r.Stdout)
	if len(rows) != 1 || rows[0].id != id || rows[0].nsems != "3" || rows[0].owner != "root" || rows[0].key == "0x00000000" {
		t.Fatalf("ipcs -s in the next command: want one set, id %s, 3 semaphores, owner root, a key; got %+v:\n%v", id, rows, r)
	}
	key := rows[0].key

	r = sembox(10*time.Second, "ipcs", "--ns", n.name)
	out := sembox(10*time.Second, "ipcs", "--ns", n.name, "-s")
	if !r.OK() || !out.OK() {
		t.Fatalf("sembox ipcs --ns failed:\n%v%v", r, out)
	}
	if want := fmt.Sprintf("=== namespace %s (server %d)", n.name, srv); !strings.Contains(r.Stdout, want) {
		t.Errorf("sembox ipcs --ns %s: no %q:\n%v", n.name, want, r)
	}
	if outer := ipcsRows(r.Stdout); len(outer) != 1 || outer[0] != rows[0] {
		t.Errorf("sembox ipcs --ns %s shows %+v, ipcs inside shows %+v:\n%v", n.name, outer, rows, r)
	}

	r = n.mustRun("ipcrm", "-s", id)
	r = n.mustRun("ipcs", "-s")
	if rows := ipcsRows(r.Stdout); len(rows) != 0 {
		t.Fatalf("ipcs -s after ipcrm -s %s (key %s) still shows %+v", id, key, rows)
	}

	// The same from outside: sembox ipcrm --ns NAME -s ID.
	r = n.mustRun("ipcmk", "-S", "1")
	if m = semID.FindStringSubmatch(r.Stdout); m == nil {
		t.Fatalf("no id in ipcmk's output:\n%v", r)
	}
	if r := sembox(10*time.Second, "ipcrm", "--ns", n.name, "-s", m[1]); !r.OK() {
		t.Fatalf("sembox ipcrm --ns %s -s %s:\n%v", n.name, m[1], r)
	}
	r = n.mustRun("ipcs", "-s")
	if rows := ipcsRows(r.Stdout); len(rows) != 0 {
		t.Fatalf("ipcs -s after sembox ipcrm --ns %s -s %s still shows %+v", n.name, m[1], rows)
	}
	if r := sembox(10*time.Second, "ipcs", "--ns", n.name); !r.OK() || len(ipcsRows(r.Stdout)) != 0 {
		t.Errorf("sembox ipcs --ns after ipcrm:\n%v", r)
	}
	if e := n.entry(); e == nil || e.Server.PID != srv || e.Sets != 0 || len(e.Members) != 0 {
		t.Errorf("sembox ns ls --json before rm: want server %d, 0 sets, 0 members; got %+v", srv, e)
	}

	n.removed(sembox(10*time.Second, "ns", "rm", n.name))
}

// 2. A set made by one command; 4 Perl, 4 Python and 4 PHP processes,
// each its own `sembox run --ns`, started at once, each incrementing a
// counter in a file 100 times under P/V with SEM_UNDO on the set (found by
// key). The count must be exact.
func TestClientsContend(t *testing.T) {
	need(t, "perl", "pgrep")
	const perLang, incs = 4, 100
	var workers [][]string
	var langs []string
	add := func(name string, argv ...string) {
		langs = append(langs, name)
		for i := 0; i < perLang; i++ {
			workers = append(workers, argv)
		}
	}
	dir := t.TempDir()
	counter := filepath.Join(dir, "counter")
	const key = "0x5eb00002"
	add("perl IPC::Semaphore", perlBin, script("worker.pl"), key, counter, strconv.Itoa(incs))
	if !debianPackage("python3-sysv-ipc") {
		t.Logf("SKIPPED python3-sysv-ipc workers: the Debian package is not installed (scripts/setup.sh installs it)")
	} else {
		add("python3-sysv-ipc", "/usr/bin/python3", script("worker.py"), key, counter, strconv.Itoa(incs))
	}
	if !debianPackage("php-cli") {
		t.Logf("SKIPPED PHP sysvsem workers: the Debian package php-cli is not installed (scripts/setup.sh installs it)")
	} else if out, err := exec.Command("php", "-m").Output(); err != nil || !strings.Contains(string(out), "\nsysvsem\n") {
		t.Fatalf("php-cli has no sysvsem extension (`php -m`: %v):\n%s", err, out)
	} else {
		add("PHP sysvsem", "php", script("worker.php"), key, counter, strconv.Itoa(incs))
	}

	n := newNamespace(t)
	if err := os.WriteFile(counter, []byte("0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// [0] the mutex, [1] PHP's usage count pinned at 1, [2] PHP's lock.
	n.mustRun(perlBin, script("create.pl"), key, "3", "1", "1", "0")

	results := make([]result, len(workers))
	var wg sync.WaitGroup
	start := time.Now()
	for i, w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = run(60*time.Second, dir, nil, n.runArgs(w...)...)
		}()
	}
	wg.Wait()
	wall := time.Since(start)
	for i, r := range results {
		if !r.OK() || !strings.Contains(r.Stdout, fmt.Sprintf(" done %d", incs)) {
			t.Errorf("worker %d failed:\n%v", i, r)
		}
	}
	got := strings.TrimSpace(mustRead(t, counter))
	want := strconv.Itoa(len(workers) * incs)
	t.Logf("%d workers (%s), %d increments each, each its own `sembox run --ns`: counter %s (want %s) in %v",
		len(workers), strings.Join(langs, ", "), incs, got, want, wall.Round(time.Millisecond))
	if got != want {
		t.Errorf("counter = %s, want %s: the P/V on the shared set did not exclude", got, want)
	}
	// Every SEM_UNDO settled: the mutex free, PHP's count back to the pin.
	if v := n.getall(key); v != "1,1,0" {
		t.Errorf("set values after the workers: %s, want 1,1,0", v)
	}
}

// 3. `sembox ns rm` while a member runs is refused, naming the member;
// once it has ended, rm succeeds.
func TestRmRefusedWhileMemberRuns(t *testing.T) {
	need(t, "sh", "pgrep")
	n := newNamespace(t)
	rd, wr, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer wr.Close()
	member := startBG(t, 30*time.Second, rd, n.runArgs("sh", "-c", "echo up; read x; echo bye")...)
	rd.Close()
	member.waitLine(regexp.MustCompile(`^up$`), 10*time.Second)
	pid := member.cmd.Process.Pid

	rm := sembox(10*time.Second, "ns", "rm", n.name)
	t.Logf("ns rm while a member runs:\n%v", rm)
	if rm.OK() {
		t.Fatalf("`sembox ns rm %s` succeeded while member %d runs", n.name, pid)
	}
	if rm.Exit <= 0 || !strings.Contains(rm.Stderr, strconv.Itoa(pid)) || !strings.Contains(rm.Stderr, "sh -c") ||
		!strings.Contains(rm.Stderr, "member") {
		t.Errorf("refusal should name the member (sembox run pid %d, command sh -c ...):\n%v", pid, rm)
	}
	if len(n.servers()) != 1 {
		t.Fatalf("the server should survive a refused rm; pgrep: %v", n.servers())
	}
	if e := n.entry(); e == nil || len(e.Members) != 1 || e.Members[0].PID != pid {
		t.Errorf("sembox ns ls --json: want 1 member, pid %d; got %+v", pid, e)
	}

	wr.Close() // the member reads EOF and ends
	if r := member.wait(10 * time.Second); !r.OK() || !strings.Contains(r.Stdout, "bye") {
		t.Fatalf("member:\n%v", r)
	}
	n.removed(sembox(10*time.Second, "ns", "rm", n.name))
}

// 4. 20 `sembox run --ns NAME -- true` released at the same instant (all
// blocked reading one pipe, which is then closed): one server, all exit 0.
func TestCreationRace(t *testing.T) {
	need(t, "sh", "pgrep")
	const n = 20
	ns := newNamespace(t)
	rd, wr, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	procs := make([]*bgProc, n)
	for i := range procs {
		procs[i] = startBG(t, 30*time.Second, rd, "sh", "-c", `read x; exec "$0" run --ns "$1" -- true`, env.sembox, ns.name)
	}
	rd.Close()
	// Wait until every sh sleeps (in read) before releasing them.
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		asleep := 0
		for _, p := range procs {
			st, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid))
			if strings.Contains(string(st), "(sh) S ") {
				asleep++
			}
		}
		if asleep == n {
			break
		}
	}
	time.Sleep(50 * time.Millisecond)
	if len(ns.servers()) != 0 {
		t.Fatalf("a server runs before the race: %v", ns.servers())
	}
	start := time.Now()
	wr.Close()
	var slowest time.Duration
	for i, p := range procs {
		r := p.wait(30 * time.Second)
		if !r.OK() {
			t.Errorf("run %d:\n%v", i, r)
		} else if r.Stderr != "" {
			t.Logf("run %d said:\n%v", i, r)
		}
	}
	slowest = time.Since(start)
	pids := ns.servers()
	t.Logf("%d concurrent first uses: all done in %v; server processes: %v", n, slowest.Round(time.Millisecond), pids)
	if len(pids) != 1 {
		t.Fatalf("want exactly one server process, pgrep finds %v", pids)
	}
	if e := ns.entry(); e == nil || e.Server.PID != pids[0] || len(e.Members) != 0 {
		t.Errorf("sembox ns ls --json: want server %d, no member; got %+v", pids[0], e)
	}
}

// 5. A member holds the semaphore (P with SEM_UNDO, 1 -> 0) and sleeps;
// SIGKILL of the program, then of a member's sembox run process: the
// undo is applied (GETVAL 1 through the next command).
func TestMemberSIGKILLUndo(t *testing.T) {
	need(t, "perl", "pgrep")
	n := newNamespace(t)
	const key = "0x5eb00005"
	n.mustRun(perlBin, script("create.pl"), key, "1", "1")

	// pollBack polls GETVAL through new members until it is 1 again.
	pollBack := func(what string, limit time.Duration, since time.Time) time.Duration {
		t.Helper()
		polls := 0
		for {
			polls++
			if v := n.getall(key); v == "1" {
				d := time.Since(since)
				t.Logf("%s: GETVAL back to 1 after %v (%d polling commands)", what, d.Round(time.Millisecond), polls)
				return d
			}
			if time.Since(since) > limit {
				t.Fatalf("%s: SEM_UNDO not applied: GETVAL still 0 %v after the kill (%d polling commands)", what, limit, polls)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	hold := func() (*bgProc, int) {
		t.Helper()
		h := startBG(t, 60*time.Second, nil, n.runArgs(perlBin, script("hold.pl"), key)...)
		m := h.waitLine(heldRe, 10*time.Second)
		if m[2] != "0" {
			t.Fatalf("holder sees %s after its P, want 0", m[2])
		}
		if v := n.getall(key); v != "0" {
			t.Fatalf("GETVAL through another command while held: %s, want 0", v)
		}
		pid, _ := strconv.Atoi(m[1])
		return h, pid
	}

	// a) SIGKILL the program.
	h, prog := hold()
	killed := time.Now()
	if err := syscall.Kill(prog, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	pollBack("SIGKILL of the program", 2*time.Second, killed)
	if r := h.wait(10 * time.Second); r.Exit != 128+9 {
		t.Errorf("sembox run of the killed program: %s, want exit 137 (128+SIGKILL)\n%v", r.Status(), r)
	}

	// b) SIGKILL the member's sembox run process (the joiner). The
	// program dies with it (PR_SET_PDEATHSIG), and its undo is applied.
	h, prog = hold()
	killed = time.Now()
	if err := syscall.Kill(h.cmd.Process.Pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	d := pollBack("SIGKILL of the member's sembox run", 5*time.Second, killed)
	if d > 2*time.Second {
		t.Errorf("undo after SIGKILL of sembox run took %v (> 2 s)", d)
	}
	h.wait(10 * time.Second)
	// The program is gone, or a zombie not yet reaped by its new parent.
	for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		st, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", prog))
		cmd, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", prog))
		if !strings.Contains(string(cmd), "hold.pl") || strings.Contains(string(st), ") Z ") {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("program %d survived the SIGKILL of its sembox run: %s", prog, st)
			syscall.Kill(prog, syscall.SIGKILL)
			break
		}
	}
	for deadline := time.Now().Add(3 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		e := n.entry()
		if e != nil && len(e.Members) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("sembox ns ls --json still shows members 3 s after both kills: %+v", e)
			break
		}
	}
}

// 6. SIGKILL of the server: a member still running gets ENOSYS from its
// semaphore calls; the next `sembox run --ns NAME -- ipcs -s` starts a new
// server, with an empty namespace.
func TestServerSIGKILL(t *testing.T) {
	need(t, "perl", "ipcs", "pgrep")
	n := newNamespace(t)
	const key = "0x5eb00006"
	// Value 0: the probe's wait-for-zero with IPC_NOWAIT succeeds.
	n.mustRun(perlBin, script("create.pl"), key, "1", "0")
	srv := n.server()

	probe := startBG(t, 30*time.Second, nil, n.runArgs(perlBin, script("probe.pl"), key)...)
	probe.waitLine(regexp.MustCompile(`^semget=ok getval=ok semop=ok$`), 10*time.Second)
	if err := syscall.Kill(srv, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	r := probe.wait(20 * time.Second)
	t.Logf("member running while its server %d is killed (semget, GETVAL, semop every 50 ms; one line per change):\n%v", srv, r)
	if !r.OK() || !strings.Contains(r.Stdout, "semget=-1 errno="+enosys+"\n") || !strings.Contains(r.Stdout, "probe end") {
		t.Errorf("want the member's semaphore calls to fail with ENOSYS (%s) once the server is gone:\n%v", enosys, r)
	}
	for _, l := range lines(r.Stdout) {
		if strings.Contains(l, "errno=") && !strings.Contains(l, "errno="+enosys) {
			t.Errorf("a call failed with another errno than ENOSYS: %q", l)
		}
	}
	if left := n.servers(); len(left) != 0 {
		t.Fatalf("pgrep still finds a server after kill -9 %d: %v", srv, left)
	}

	r = n.mustRun("ipcs", "-s")
	if rows := ipcsRows(r.Stdout); len(rows) != 0 {
		t.Errorf("the new server's namespace should be empty; ipcs -s:\n%v", r)
	}
	now := n.server()
	if now == srv {
		t.Fatalf("server pid %d unchanged", now)
	}
	t.Logf("next command started a new server %d (old %d, killed) in %v", now, srv, r.Dur.Round(time.Millisecond))
	if e := n.entry(); e == nil || e.Server.PID != now || e.Sets != 0 {
		t.Errorf("sembox ns ls --json: want server %d with 0 sets, got %+v", now, e)
	}
}

// 7. `sembox run --ns PID` joins a running anonymous sandbox (the pid
// sembox ipcs shows).
func TestJoinAnonymousSandbox(t *testing.T) {
	need(t, "sh", "ipcmk", "ipcs")
	a := startBG(t, 30*time.Second, nil, env.sembox, "run", "--", "sh", "-c", "ipcmk -S 2; sleep 3")
	m := a.waitLine(regexp.MustCompile(`^Semaphore id: (\d+)$`), 10*time.Second)
	pid := strconv.Itoa(a.cmd.Process.Pid)

	outer := sembox(10*time.Second, "ipcs", "--sandbox", pid)
	if !outer.OK() || !strings.Contains(outer.Stdout, "sandbox "+pid) {
		t.Fatalf("sembox ipcs --sandbox %s:\n%v", pid, outer)
	}
	r := run(runTimeout, env.dir, nil, env.sembox, "run", "--ns", pid, "--", "ipcs", "-s")
	if !r.OK() {
		t.Fatalf("joining sandbox %s:\n%v", pid, r)
	}
	rows := ipcsRows(r.Stdout)
	if len(rows) != 1 || rows[0].id != m[1] || rows[0].nsems != "2" {
		t.Fatalf("ipcs -s through --ns %s: want the set %s of 2 made by the sandbox, got %+v:\n%v", pid, m[1], rows, r)
	}
	if o := ipcsRows(outer.Stdout); len(o) != 1 || o[0] != rows[0] {
		t.Errorf("sembox ipcs --sandbox %s shows %+v, the member's ipcs %+v", pid, o, rows)
	}
	if r := a.wait(10 * time.Second); !r.OK() {
		t.Errorf("the anonymous sandbox:\n%v", r)
	}
	if _, err := os.Stat(filepath.Join("/run/sembox", pid+".sock")); err == nil {
		t.Errorf("/run/sembox/%s.sock left after the sandbox ended", pid)
	}
}

// 8. A root server made with --ns-mode 0666 at a socket path in a 0755
// directory; user nobody joins it and makes a set; root sees it, owned by
// nobody.
func TestOtherUserJoins(t *testing.T) {
	need(t, "setpriv", "ipcmk", "ipcs", "pgrep")
	if _, err := user.Lookup("nobody"); err != nil {
		t.Skip("no user nobody")
	}
	if _, err := user.LookupGroup("nogroup"); err != nil {
		t.Skip("no group nogroup")
	}
	dir := tempDir(t, "sembox-shared-ns-")
	sock := filepath.Join(dir, "ns.sock")
	n := pathNamespace(t, sock)

	r := run(runTimeout, env.dir, nil, env.sembox, "run", "--ns", sock, "--ns-mode", "0666", "--", "true")
	if !r.OK() {
		t.Fatalf("root creating the namespace:\n%v", r)
	}
	st, err := os.Stat(sock)
	if err != nil || st.Mode()&os.ModeSocket == 0 || st.Mode().Perm() != 0o666 {
		t.Fatalf("socket %s: %v %v, want a socket with mode 0666", sock, st.Mode(), err)
	}
	srv := n.server()

	nobody := func(argv ...string) result {
		return run(runTimeout, "/", []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C"},
			append([]string{"setpriv", "--reuid", "nobody", "--regid", "nogroup", "--clear-groups",
				env.sembox, "run", "--ns", sock, "--"}, argv...)...)
	}
	r = nobody("ipcmk", "-S", "1")
	t.Logf("as nobody:\n%v", r)
	if !r.OK() {
		t.Fatalf("SEMBOX BUG: user nobody cannot join root's namespace created with --ns-mode 0666 (socket %v, dir 0755, binary 0755):\n%v", st.Mode(), r)
	}
	m := semID.FindStringSubmatch(r.Stdout)
	if m == nil {
		t.Fatalf("no id in ipcmk's output")
	}
	r = sembox(10*time.Second, "ipcs", "--ns", sock)
	rows := ipcsRows(r.Stdout)
	if !r.OK() || len(rows) != 1 || rows[0].id != m[1] || rows[0].owner != "nobody" {
		t.Errorf("root's sembox ipcs --ns %s: want set %s owned by nobody:\n%v", sock, m[1], r)
	}
	if r := nobody("ipcs", "-s"); !r.OK() || len(ipcsRows(r.Stdout)) != 1 {
		t.Errorf("nobody's ipcs -s in the namespace:\n%v", r)
	}
	if e := n.entry(); e == nil || e.Server.PID != srv {
		t.Errorf("root's sembox ns ls --json does not list %s (server %d): %+v", sock, srv, e)
	}
}

// 9. 100 members at once on one set, each 20 increments of a counter
// under P/V with SEM_UNDO: 2000 exactly. Logs the wall time and the
// server's memory.
func TestHundredMembers(t *testing.T) {
	need(t, "perl", "pgrep")
	const members, incs = 100, 20
	n := newNamespace(t)
	const key = "0x5eb00009"
	dir := t.TempDir()
	counter := filepath.Join(dir, "counter")
	if err := os.WriteFile(counter, []byte("0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	n.mustRun(perlBin, script("create.pl"), key, "1", "1")
	srv := n.server()
	rss0 := procStatus(srv, "VmRSS")

	// Sample the server's VmRSS and the member count while they run.
	stop := make(chan struct{})
	var peakRSS, peakMembers int
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			if v := procStatus(srv, "VmRSS"); v > peakRSS {
				peakRSS = v
			}
			if i%5 == 0 {
				if m := membersOf(n.socket); m > peakMembers {
					peakMembers = m
				}
			}
		}
	}()
	results := make([]result, members)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = run(90*time.Second, dir, nil, n.runArgs(perlBin, script("worker.pl"), key, counter, strconv.Itoa(incs))...)
		}()
	}
	wg.Wait()
	wall := time.Since(start)
	close(stop)
	<-sampled
	failed := 0
	for i, r := range results {
		if !r.OK() {
			if failed++; failed <= 5 {
				t.Errorf("member %d failed:\n%v", i, r)
			}
		}
	}
	got := strings.TrimSpace(mustRead(t, counter))
	t.Logf("%d concurrent `sembox run --ns` members x %d increments: counter %s in %v; server %d VmRSS %d kB before, peak sampled %d kB, VmHWM %d kB; up to %d members seen at once",
		members, incs, got, wall.Round(time.Millisecond), srv, rss0, peakRSS, procStatus(srv, "VmHWM"), peakMembers)
	if failed > 0 {
		t.Errorf("%d of %d members failed", failed, members)
	}
	if got != strconv.Itoa(members*incs) {
		t.Errorf("counter = %s, want %d", got, members*incs)
	}
	if v := n.getall(key); v != "1" {
		t.Errorf("GETVAL after the members: %s, want 1", v)
	}
	if len(n.servers()) != 1 {
		t.Errorf("server processes after the run: %v", n.servers())
	}
}

// A script that runs one member and then removes the namespace must see
// rm succeed: `sembox run --ns X -- true; sembox ns rm X`, 24 times (4 at a
// time, each with its own namespace).
func TestRmRightAfterMember(t *testing.T) {
	need(t, "pgrep")
	const tries, parallel = 24, 4
	var mu sync.Mutex
	var eof, refused, other []string
	nss := make([]*namespace, tries)
	for i := range nss {
		nss[i] = newNamespace(t, strconv.Itoa(i))
	}
	var wg sync.WaitGroup
	next := make(chan *namespace)
	for w := 0; w < parallel; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range next {
				if r := n.run("true"); !r.OK() {
					mu.Lock()
					other = append(other, r.String())
					mu.Unlock()
					continue
				}
				rm := sembox(10*time.Second, "ns", "rm", n.name)
				mu.Lock()
				switch {
				case rm.OK():
				case strings.Contains(rm.Stderr, "EOF"):
					eof = append(eof, strings.TrimSpace(rm.Stderr))
				case strings.Contains(rm.Stderr, "members"):
					refused = append(refused, strings.TrimSpace(rm.Stderr))
				default:
					other = append(other, rm.String())
				}
				mu.Unlock()
			}
		}()
	}
	for _, n := range nss {
		next <- n
	}
	close(next)
	wg.Wait()
	if bad := len(eof) + len(refused) + len(other); bad > 0 {
		t.Errorf("SEMBOX BUG: `sembox run --ns X -- true; sembox ns rm X` failed %d times in %d:\n"+
			"%d times exit 1 with EOF although the server stopped (it exits before its answer is read), e.g. %q\n"+
			"%d times refused for a member whose sembox run had already exited, e.g. %q\n%d other failures %v",
			bad, tries, len(eof), first(eof), len(refused), first(refused), len(other), other)
	}
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

// procStatus returns a "kB" field of /proc/PID/status (0 if unreadable).
func procStatus(pid int, field string) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range lines(string(b)) {
		if v, ok := strings.CutPrefix(l, field+":"); ok {
			n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			return n
		}
	}
	return 0
}

// membersOf returns how many members `sembox ns ls --json` shows for
// socket (-1 on error); safe outside the test goroutine.
func membersOf(socket string) int {
	r := sembox(10*time.Second, "ns", "ls", "--json")
	var v struct {
		Namespaces []nsEntry `json:"namespaces"`
	}
	if !r.OK() || json.Unmarshal([]byte(r.Stdout), &v) != nil {
		return -1
	}
	for _, e := range v.Namespaces {
		if e.Socket == socket {
			return len(e.Members)
		}
	}
	return -1
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// tempDir is a 0755 temp dir (t.TempDir's parent is 0700, which other
// users cannot enter).
func tempDir(t *testing.T, pattern string) string {
	t.Helper()
	d, err := os.MkdirTemp("", pattern)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	if err := os.Chmod(d, 0o755); err != nil {
		t.Fatal(err)
	}
	return d
}
