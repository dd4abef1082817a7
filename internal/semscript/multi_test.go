package semscript

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
)

var (
	flagMultiSeeds = flag.Int("semscript.multi-seeds", 200,
		"number of random multi-process scripts run natively and under `sembox run` and compared")
	flagMultiCalls  = flag.Int("semscript.multi-calls", 100, "maximum number of lines in a random multi-process script")
	flagMultiScript = flag.String("semscript.multi-script", "", "also compare this multi-process script file")
)

var (
	multiOnce sync.Once
	multiBin  string
	multiErr  error
)

// multiNative returns the path of the multi-process executor, built once
// into the native executor's directory; it skips the test as native does.
func multiNative(t testing.TB) string {
	t.Helper()
	native(t)
	multiOnce.Do(func() { multiBin, multiErr = BuildMulti(nativeDir) })
	if multiErr != nil {
		t.Fatal(multiErr)
	}
	return multiBin
}

// compareMulti checks script natively (twice: a difference from sembox
// means something only if the kernel's output is deterministic), under
// sembox and through the engine executor.
func compareMulti(t *testing.T, script string) {
	t.Helper()
	s, err := ParseMulti(script)
	if err != nil {
		t.Fatalf("parse: %v\nscript:\n%s", err, indent(script))
	}
	r, err := semboxChecker(t, Multi).RunScript(Multi, script)
	if err != nil {
		out := ""
		if r != nil {
			out = r.Kernel
		}
		t.Fatalf("native run: %v\noutput:\n%s\nscript:\n%s", err, indent(out), indent(script))
	}
	if r.Unstable != nil {
		t.Fatal(r.Report("sembox"))
	}
	if r.Differs() {
		t.Error(r.Report("sembox"))
	}
	nat := r.Kernel
	if *flagShow {
		t.Logf("kernel output:\n%s", indent(nat))
	}
	for _, front := range Fronts {
		if m := Compare(nat, RunEngineMulti(s, front)); m != nil {
			t.Errorf("the engine (%v) differs from the kernel at output line %d:\n%s\nscript:\n%s",
				front, m.Line+1, m.Report(nat, 6), indent(script))
		}
	}
}

// multiCases are hand-written multi-process scripts.
var multiCases = []struct{ name, script string }{
	{"WakeOrderAndUndoAtExit", `
p 0 semget IPC_PRIVATE 2 IPC_CREAT|0600
p 1 semop $0 0:-1:0
p 2 semop $0 0:-1:SEM_UNDO,1:0:0
p 3 semop $0 1:-1:0 timeout=0.001
p 0 semctl $0 0 GETNCNT
p 0 semop $0 0:2:0            # wakes 1 and 2
p 0 semctl $0 0 GETPID
p 1 semop $0 1:-1:0
signal 1                      # EINTR
signal 0                      # idle: nothing
p 1 semop $0 0:1:SEM_UNDO
p 4 semop $0 0:-2:0
exit 1                        # undoes its +1: 4 still waits
p 1 semctl $0 0 GETPID        # the exited process: P1, not P1.1
p 3 semctl $0 0 SETVAL 0      # clears 2's adjustment
exit 2
p 2 semctl $0 0 GETPID
p 0 semop $0 0:2:SEM_UNDO     # wakes 4
exit 0
p 1 semctl $0 0 GETALL
`},
	{"RemoveWithWaitersOnTwoSets", `
p 0 semget IPC_PRIVATE 1 IPC_CREAT|0600
p 0 semget 1 3 IPC_CREAT|0600
p 1 semop $0 0:0:0,0:-1:0
p 2 semop $1 2:-1:0
p 0 semctl $1 0 SETVAL 1
p 3 semop $1 0:0:0
p 4 semop $0 0:-1:SEM_UNDO
p 0 semctl $1 0 IPC_RMID      # 2 and 3: EIDRM
p 0 semop $0 0:1:0            # 4 takes it
p 0 semop $0 0:1:0            # 1 waits on 0:0 now
p 0 semctl $0 0 GETZCNT
p 5 semop $0 0:-2:0
`},
	{"BusyAndEnd", `
p 0 semget IPC_PRIVATE 1 IPC_CREAT|0600
p 1 semop $0 0:-1:0
p 1 semget IPC_PRIVATE 1 IPC_CREAT|0600   # busy: $1 is -1
p 0 semctl $1 0 GETVAL
exit 1                                    # busy
exit 3                                    # none
signal 4                                  # none
p 0 semop $0 0:0:0 timeout=0.0
`},
	{"StateSyncActAtOnce", `
sync state                       # a queued semop: asleep in it, then one count
p 0 semget IPC_PRIVATE 2 IPC_CREAT|0600
p 1 semop $0 0:-1:0
p 2 semop $0 0:-2:0 now          # a new process: the next line as soon as it sleeps
p 3 semctl $0 0 GETNCNT          # 2
p 0 semop $0 0:1:0               # wakes 1; 2 needs 2
p 4 semop $0 1:0:0               # does not wait
p 4 semop $0 1:1:0
p 5 semop $0 1:0:0 now
p 4 semop $0 1:-1:0              # wakes 5
p 1 semop $0 0:-1:0 now
signal 1                         # EINTR
exit 3
p 3 semop $0 0:-1:SEM_UNDO now   # a new process
p 4 semctl $0 0 IPC_RMID         # 2 and 3: EIDRM
sync count
p 0 semget IPC_PRIVATE 1 IPC_CREAT|0600
p 1 semop $1 0:-1:0 timeout=100000.0 now
p 0 semctl $1 0 IPC_RMID
`},
}

// TestParseMultiSync checks the sync lines and the "now" ending.
func TestParseMultiSync(t *testing.T) {
	s, err := ParseMulti("sync state\np 1 semop 0 0:-1:0 timeout=none now\nsync count\n")
	if err != nil {
		t.Fatal(err)
	}
	st := s.Steps
	if len(st) != 3 || st[0].Kind != StepSync || !st[0].State || st[2].Kind != StepSync || st[2].State {
		t.Fatalf("steps %+v", st)
	}
	if c := st[1]; !c.Now || c.Call.Kind != KindSemop || c.Call.Timeout != nil || c.Call.Line != "p 1 semop 0 0:-1:0 timeout=none now" {
		t.Fatalf("semop step %+v", c)
	}
	for _, bad := range []string{"sync", "sync fast", "sync state now", "p 1 semop now", "p 1 semop 0 now"} {
		if _, err := ParseMulti(bad); err == nil {
			t.Errorf("ParseMulti(%q) accepted it", bad)
		}
	}
}

func TestMultiCases(t *testing.T) {
	multiNative(t)
	sembox(t)
	for _, c := range multiCases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			compareMulti(t, c.script)
		})
	}
}

// TestMultiUnderSembox is the end-to-end multi-process differential test:
// random multi-process scripts run by the same C executor, making raw
// system calls, natively (twice, to check that the kernel's output is
// deterministic) and under `sembox run`, outputs compared line by line
// (raw ids included). The engine executor is compared too.
func TestMultiUnderSembox(t *testing.T) {
	multiNative(t)
	sembox(t)
	if *flagMultiScript != "" {
		b, err := os.ReadFile(*flagMultiScript)
		if err != nil {
			t.Fatal(err)
		}
		t.Run("script", func(t *testing.T) { compareMulti(t, string(b)) })
	}
	for i := range *flagMultiSeeds {
		seed := *flagSeed + uint64(i)
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			t.Parallel()
			compareMulti(t, GenerateMulti(seed, *flagMultiCalls))
		})
	}
}

func TestGenerateMulti(t *testing.T) {
	for seed := range uint64(300) {
		a, b := GenerateMulti(seed, 100), GenerateMulti(seed, 100)
		if a != b {
			t.Fatalf("seed %d: GenerateMulti is not deterministic", seed)
		}
		s, err := ParseMulti(a)
		if err != nil {
			t.Fatalf("seed %d: %v\n%s", seed, err, a)
		}
		if s.Text() != a {
			t.Fatalf("seed %d: Text does not give the script back", seed)
		}
		out := RunEngineMulti(s, FrontDirect)
		if strings.Contains(out, "end "+Arrow) {
			t.Fatalf("seed %d: the script leaves a worker blocked:\n%s", seed, out)
		}
	}
}
