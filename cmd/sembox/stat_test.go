package main

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sembox/sembox/internal/control"
)

// statWorkload is a C program with known semop counts. Set 0 (key
// 0x5151, 2 semaphores): 3 V and 3 P performed at once and an IPC_NOWAIT
// P that fails on semaphore 0; on semaphore 1, a child's wait completed
// by the parent's V, a child's semtimedop that times out (EAGAIN) and a
// child's wait interrupted by SIGUSR1 (EINTR). Set 1 (IPC_PRIVATE) is
// removed under a waiting child (EIDRM). Then a child waits on semaphore
// 0 while the program prints "ready PID" and reads a line; it removes
// set 0 and exits 0 if every call ended as it should.
const statWorkload = `#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/sem.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void on_usr1(int s) { (void)s; }

static int sop(int id, int num, int op, int flg) {
	struct sembuf b = {num, op, flg};
	return semop(id, &b, 1);
}

static void die(const char *what) { perror(what); exit(1); }

static void wait_ncnt(int id, int num) {
	while (semctl(id, num, GETNCNT) != 1)
		usleep(1000);
}

static void reap(pid_t p) {
	int st;
	if (waitpid(p, &st, 0) != p || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		fprintf(stderr, "child %d: status %#x\n", p, st);
		exit(1);
	}
}

int main(void) {
	int a = semget(0x5151, 2, IPC_CREAT | 0600), b = semget(IPC_PRIVATE, 1, 0600);
	if (a < 0 || b < 0)
		die("semget");
	for (int i = 0; i < 3; i++)
		if (sop(a, 0, 1, 0))
			die("V");
	for (int i = 0; i < 3; i++)
		if (sop(a, 0, -1, 0))
			die("P");
	if (sop(a, 0, -1, IPC_NOWAIT) == 0 || errno != EAGAIN)
		die("IPC_NOWAIT");

	pid_t c = fork();
	if (c == 0)
		_exit(sop(a, 1, -1, 0) == 0 ? 0 : 10);
	wait_ncnt(a, 1);
	if (sop(a, 1, 1, 0))
		die("V 1");
	reap(c);

	c = fork();
	if (c == 0) {
		struct timespec ts = {0, 20 * 1000 * 1000};
		struct sembuf p = {1, -1, 0};
		_exit(semtimedop(a, &p, 1, &ts) == -1 && errno == EAGAIN ? 0 : 11);
	}
	reap(c);

	c = fork();
	if (c == 0) {
		struct sigaction sa = {0};
		sa.sa_handler = on_usr1;
		sigaction(SIGUSR1, &sa, 0);
		_exit(sop(a, 1, -1, 0) == -1 && errno == EINTR ? 0 : 12);
	}
	wait_ncnt(a, 1);
	kill(c, SIGUSR1);
	reap(c);

	c = fork();
	if (c == 0)
		_exit(sop(b, 0, -1, 0) == -1 && errno == EIDRM ? 0 : 13);
	wait_ncnt(b, 0);
	if (semctl(b, 0, IPC_RMID))
		die("IPC_RMID");
	reap(c);

	pid_t w = fork();
	if (w == 0)
		_exit(sop(a, 0, -1, 0) == -1 && errno == EIDRM ? 0 : 14);
	wait_ncnt(a, 0);
	printf("ready %d\n", (int)w);
	fflush(stdout);
	char line[16];
	if (!fgets(line, sizeof line, stdin))
		return 1;
	if (semctl(a, 0, IPC_RMID))
		die("IPC_RMID");
	reap(w);
	return 0;
}
`

// TestStatEndToEnd runs statWorkload under `sembox run --metrics` and
// checks `sembox stat --json` exactly (wait times aside: they are real)
// and the /metrics scrape, then the table.
func TestStatEndToEnd(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root for unshare --ipc")
	}
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("needs gcc")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "sembox")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	src, prog := filepath.Join(dir, "w.c"), filepath.Join(dir, "w")
	os.WriteFile(src, []byte(statWorkload), 0o644)
	if out, err := exec.Command("gcc", "-O2", "-Wall", "-Werror", "-o", prog, src).CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v\n%s", err, out)
	}

	// Nothing running (a private, empty /run/sembox): stat says so, as
	// ipcs does, and --json lists no sandbox.
	for _, args := range []string{"stat", "stat --json"} {
		out, err := exec.Command("unshare", "--mount", "sh", "-c",
			"mkdir -p /run/sembox && mount -t tmpfs none /run/sembox && exec "+bin+" "+args).CombinedOutput()
		want := "sembox stat: no sandbox or shared namespace of yours is running\n"
		if args == "stat --json" {
			want = "{\n   \"sandboxes\": []\n}\n"
		}
		if err != nil || string(out) != want {
			t.Errorf("%s with nothing running: %v %q, want %q", args, err, out, want)
		}
	}

	cmd := exec.Command("unshare", "--ipc", bin, "run", "--metrics", "127.0.0.1:0", "--", prog)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	// The first line on standard error says where the metrics are.
	errs := bufio.NewReader(stderr)
	first, err := errs.ReadString('\n')
	url, ok := strings.CutPrefix(strings.TrimSpace(first), "sembox: metrics at ")
	if err != nil || !ok {
		t.Fatalf("no metrics address: %q %v", first, err)
	}
	go io.Copy(os.Stderr, errs)
	line, err := bufio.NewReader(stdout).ReadString('\n')
	f := strings.Fields(line)
	if err != nil || len(f) != 2 || f[0] != "ready" {
		t.Fatalf("workload did not get ready: %q %v", line, err)
	}
	waiter, _ := strconv.Atoi(f[1])
	sandbox := itoa(cmd.Process.Pid) // unshare execs sembox: same pid

	out, err := exec.Command(bin, "stat", "--json", "--sandbox", sandbox).Output()
	if err != nil {
		t.Fatalf("sembox stat --json: %v", err)
	}
	if strings.Contains(string(out), "null") {
		t.Errorf("null in --json:\n%s", out)
	}
	var r struct{ Sandboxes []statReport }
	if err := json.Unmarshal(out, &r); err != nil || len(r.Sandboxes) != 1 {
		t.Fatalf("bad JSON %v: %s", err, out)
	}
	st := r.Sandboxes[0].Stats
	// The wait times are real: check they add up, then leave them out.
	for _, c := range []*control.Counters{&st.Sets[0].Counters, &st.Removed, &st.Total} {
		var n uint64
		for _, b := range c.Wait.Buckets {
			n += b
		}
		if n != c.Wait.Count || c.Wait.MaxNs > c.Wait.SumNs || c.Wait.P50Ns > c.Wait.P99Ns || c.Wait.P99Ns > c.Wait.MaxNs ||
			(c.Wait.Count > 0) != (c.Wait.MaxNs > 0) {
			t.Errorf("inconsistent wait %+v", c.Wait)
		}
		c.Wait = control.Wait{}
	}
	for i := range st.Sets[0].Sems {
		st.Sets[0].Sems[i].WaitSumNs, st.Sets[0].Sems[i].WaitMaxNs = 0, 0
	}
	if len(st.Sets[0].Waiters) == 1 {
		st.Sets[0].Waiters[0].WaitedNs = 0
	}
	st.BucketBoundsNs = nil
	want := &control.Stats{
		Sets: []control.SetStats{{
			ID: 0, Key: 0x5151, Nsems: 2,
			Counters: control.Counters{Calls: 12, PerformedAtOnce: 7, FailedAtOnce: 1, Blocked: 4, Performed: 8, Ops: 8,
				Ends: control.Ends{Completed: 1, EINTR: 1, EAGAIN: 1}},
			Waiters: []control.Waiter{{PID: int32(waiter), Sem: 0, Op: -1, Nsops: 1}},
			Sems: []control.SemStats{
				{Num: 0, Ops: 6, Blocked: 1, Ncount: 1, Pids: []int32{int32(waiter)}},
				{Num: 1, Ops: 2, Blocked: 3, Ends: control.Ends{Completed: 1, EINTR: 1, EAGAIN: 1}, Pids: []int32{}},
			},
		}},
		Removed:     control.Counters{Calls: 1, Blocked: 1, Ends: control.Ends{EIDRM: 1}},
		RemovedSets: 1,
		Total: control.Counters{Calls: 13, PerformedAtOnce: 7, FailedAtOnce: 1, Blocked: 5, Performed: 8, Ops: 8,
			Ends: control.Ends{Completed: 1, EINTR: 1, EAGAIN: 1, EIDRM: 1}},
	}
	if !reflect.DeepEqual(st, want) {
		g, _ := json.MarshalIndent(st, "", " ")
		w, _ := json.MarshalIndent(want, "", " ")
		t.Errorf("sembox stat --json:\n%s\nwant\n%s", g, w)
	}

	// The same numbers, scraped by an HTTP client while the sandbox runs.
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Get(url)
	if err != nil {
		t.Fatal(err)
	}
	samples, err := parsePromText(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("/metrics: %v", err)
	}
	set := `key="0x00005151",`
	checkSamples(t, samples, map[string]float64{
		`sembox_semop_calls_total{` + set + `outcome="performed",semid="0"}`:    7,
		`sembox_semop_calls_total{` + set + `outcome="failed",semid="0"}`:       1,
		`sembox_semop_calls_total{` + set + `outcome="blocked",semid="0"}`:      4,
		`sembox_semop_wait_ends_total{` + set + `result="completed",semid="0"}`: 1,
		`sembox_semop_wait_ends_total{` + set + `result="eintr",semid="0"}`:     1,
		`sembox_semop_wait_ends_total{` + set + `result="eagain",semid="0"}`:    1,
		`sembox_semop_wait_seconds_count{` + set + `semid="0"}`:                 3,
		`sembox_semop_wait_seconds_bucket{` + set + `le="+Inf",semid="0"}`:      3,
		`sembox_semop_waiters{` + set + `semid="0"}`:                            1,
		`sembox_sem_operations_total{` + set + `semid="0",semnum="0"}`:          6,
		`sembox_sem_operations_total{` + set + `semid="0",semnum="1"}`:          2,
		`sembox_sem_blocked_total{` + set + `semid="0",semnum="1"}`:             3,
		`sembox_sem_waiters{` + set + `semid="0",semnum="0"}`:                   1,
		`sembox_sets`:               1,
		`sembox_removed_sets_total`: 1,
		`sembox_namespace_semop_wait_ends_total{result="eidrm"}`: 1,
		`sembox_namespace_semop_calls_total{outcome="blocked"}`:  5,
		`sembox_namespace_semop_wait_seconds_count`:              4,
	})

	text, err := exec.Command(bin, "stat", "--sandbox", sandbox).Output()
	if err != nil {
		t.Fatalf("sembox stat: %v", err)
	}
	t.Logf("sembox stat:\n%s", text)
	for _, want := range []string{"0          0x00005151         12          4 ", "  1: " + f[1] + "\n", "removed    (1 sets)            1          1 "} {
		if !strings.Contains(string(text), want) {
			t.Errorf("sembox stat: no %q in\n%s", want, text)
		}
	}

	stdin.Write([]byte("done\n"))
	if err := cmd.Wait(); err != nil {
		t.Fatalf("the workload failed: %v", err)
	}
}

// TestStatNoSuchSandbox: a sandbox that is not running is an error, and
// --json still prints an empty list, not null.
func TestStatNoSuchSandbox(t *testing.T) {
	var b strings.Builder
	if code := stat([]string{"--json", "--sandbox", "999999999"}, &b); code != 1 || b.String() != "{\n   \"sandboxes\": []\n}\n" {
		t.Errorf("stat --json --sandbox 999999999 = %d %q", code, b.String())
	}
}

// TestStatArgs checks the flags' errors.
func TestStatArgs(t *testing.T) {
	for _, args := range [][]string{{"--watch=0.01"}, {"--watch=x"}, {"--sandbox"}, {"--sandbox", "x"}, {"--frob"}} {
		if code := stat(args, io.Discard); code != 2 {
			t.Errorf("stat %v = %d, want 2", args, code)
		}
	}
	var b strings.Builder
	if stat([]string{"-h"}, &b) != 0 || !strings.Contains(b.String(), "--watch[=INTERVAL]") {
		t.Errorf("stat -h: %q", b.String())
	}
}
