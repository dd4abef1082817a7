package main

import (
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sembox/sembox/internal/control"
	"github.com/sembox/sembox/sem"
)

func TestParseRunArgs(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want runOptions
		err  bool
	}{
		{"program only", []string{"prog", "-x"}, runOptions{argv: []string{"prog", "-x"}}, false},
		{"double dash", []string{"--", "-prog"}, runOptions{argv: []string{"-prog"}}, false},
		{"trace to stderr", []string{"--trace", "p"}, runOptions{trace: true, argv: []string{"p"}}, false},
		{"trace to file", []string{"--trace=f", "p"}, runOptions{trace: true, traceFile: "f", argv: []string{"p"}}, false},
		{"limits", []string{"--limits", "1 2 3 4", "p"},
			runOptions{limits: &sem.Limits{SEMMSL: 1, SEMMNS: 2, SEMOPM: 3, SEMMNI: 4}, argv: []string{"p"}}, false},
		{"limits wrong count", []string{"--limits=1 2 3", "p"}, runOptions{}, true},
		{"ns", []string{"--ns", "db", "p"}, runOptions{ns: "db", argv: []string{"p"}}, false},
		{"ns and mode", []string{"--ns=/tmp/x.sock", "--ns-mode", "0666", "p"},
			runOptions{ns: "/tmp/x.sock", nsMode: 0o666, hasMode: true, argv: []string{"p"}}, false},
		{"mode without ns", []string{"--ns-mode", "0666", "p"}, runOptions{}, true},
		{"bad mode", []string{"--ns", "x", "--ns-mode", "0999", "p"}, runOptions{}, true},
		{"ns with floor", []string{"--ns", "x", "--bench-floor", "p"}, runOptions{}, true},
		{"no program", []string{"--trace"}, runOptions{}, true},
		{"unknown flag", []string{"--frobnicate", "p"}, runOptions{}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseRunArgs(tc.args)
			if (err != nil) != tc.err {
				t.Fatalf("err = %v, want error %v", err, tc.err)
			}
			if err == nil && !reflect.DeepEqual(*got, tc.want) {
				t.Fatalf("got %+v, want %+v", *got, tc.want)
			}
		})
	}
}

// TestAdminTools runs a sandbox that holds two sets, one with a SEM_UNDO
// adjustment, and checks that sembox ipcs and ipcrm see and change them.
func TestAdminTools(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root for unshare --ipc")
	}
	if _, err := exec.LookPath("perl"); err != nil {
		t.Skip("needs perl")
	}
	bin := filepath.Join(t.TempDir(), "sembox")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	// Set 0 (key 0x1234, 3 semaphores) gets +2 with SEM_UNDO on semaphore 1;
	// set 1 (key 0x5678) is plain.
	script := `use IPC::SysV qw(IPC_CREAT SEM_UNDO);
		$a = semget(0x1234, 3, IPC_CREAT|0600) // die "semget: $!";
		$b = semget(0x5678, 1, IPC_CREAT|0640) // die "semget: $!";
		semop($a, pack("s!3", 1, 2, SEM_UNDO)) or die "semop: $!";
		# A child adds 3 to semaphore 2 with SEM_UNDO and is killed: once
		# it is reaped, its undo must show from outside too.
		if (($c = fork) == 0) { semop($a, pack("s!3", 2, 3, SEM_UNDO)); kill 9, $$; sleep 60 }
		waitpid($c, 0);
		print "ready\n"; $| = 1; sleep 60;`
	cmd := exec.Command("unshare", "--ipc", bin, "run", "--", "perl", "-e", script)
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer cmd.Process.Kill()
	buf := make([]byte, 6)
	if _, err := stdout.Read(buf); err != nil || string(buf) != "ready\n" {
		t.Fatalf("sandbox did not start: %q %v", buf, err)
	}
	pid := cmd.Process.Pid // unshare execs sembox: same pid
	sandbox := []string{"--sandbox", itoa(pid)}

	ipcsJSON := func(args ...string) []control.Set {
		t.Helper()
		out, err := exec.Command(bin, append(append([]string{"ipcs", "--json"}, sandbox...), args...)...).Output()
		if err != nil {
			t.Fatalf("sembox ipcs %v: %v", args, err)
		}
		var r struct{ Sandboxes []control.Response }
		if err := json.Unmarshal(out, &r); err != nil || len(r.Sandboxes) != 1 {
			t.Fatalf("bad JSON %v: %s", err, out)
		}
		return r.Sandboxes[0].Sets
	}
	sets := ipcsJSON()
	if len(sets) != 2 || sets[0].Key != 0x1234 || sets[0].Nsems != 3 || sets[1].Mode != 0o640 {
		t.Fatalf("ipcs: %+v", sets)
	}
	detail := ipcsJSON("-i", "0")
	s1 := detail[0].Sems[1]
	if s1.Value != 2 || len(s1.Adjustments) != 1 || s1.Adjustments[0].Adj != -2 {
		t.Fatalf("ipcs -i 0: semaphore 1 = %+v, want value 2 with adjustment -2", s1)
	}
	if s2 := detail[0].Sems[2]; s2.Value != 0 || len(s2.Adjustments) != 0 {
		t.Fatalf("ipcs -i 0: semaphore 2 = %+v, want 0 with no adjustment: the killed child's undo", s2)
	}
	text, _ := exec.Command(bin, append([]string{"ipcs"}, sandbox...)...).Output()
	if !strings.Contains(string(text), "0x00001234 0          root       600        3") {
		t.Fatalf("ipcs text:\n%s", text)
	}
	if out, err := exec.Command(bin, append([]string{"ipcrm", "-S", "0x5678"}, sandbox...)...).CombinedOutput(); err != nil {
		t.Fatalf("ipcrm -S: %v %s", err, out)
	}
	if sets := ipcsJSON(); len(sets) != 1 || sets[0].ID != 0 {
		t.Fatalf("after ipcrm -S: %+v", sets)
	}
	if out, err := exec.Command(bin, append([]string{"ipcrm", "-s", "7"}, sandbox...)...).CombinedOutput(); err == nil {
		t.Fatalf("ipcrm -s 7 of a missing id succeeded: %s", out)
	}
	if out, err := exec.Command(bin, append([]string{"ipcrm", "--all=sem"}, sandbox...)...).CombinedOutput(); err != nil {
		t.Fatalf("ipcrm --all=sem: %v %s", err, out)
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(ipcsJSON()) != 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if sets := ipcsJSON(); len(sets) != 0 {
		t.Fatalf("after --all=sem: %+v", sets)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// TestIpcsIDRange checks that ipcs -i rejects an id that does not fit in
// an int instead of truncating it (4294967296 would have shown set 0).
func TestIpcsIDRange(t *testing.T) {
	for _, id := range []string{"4294967296", "2147483648", "-2147483649"} {
		if code := ipcs([]string{"-i", id, "--sandbox", "1"}, io.Discard); code != 2 {
			t.Errorf("ipcs -i %s = exit %d, want 2 (bad number)", id, code)
		}
	}
}
