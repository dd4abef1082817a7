package semscript

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
)

var (
	flagSeeds    = flag.Int("semscript.seeds", 200, "number of random scripts compared with the kernel")
	flagSeed     = flag.Uint64("semscript.seed", 1, "first seed of the random scripts")
	flagCalls    = flag.Int("semscript.calls", 200, "maximum number of calls in a random script")
	flagScript   = flag.String("semscript.script", "", "also compare this script file with the kernel")
	flagMinimize = flag.Bool("semscript.minimize", true, "shrink a mismatching random script to a minimal one")
	flagShow     = flag.Bool("semscript.show", false, "log the kernel's output of every script")
	flagLong     = flag.Bool("semscript.long", false, "also run the slow scripts (sequence number wrap-around, about a minute)")
)

// The native executor is built once per test binary into a temporary
// directory that TestMain removes.
var (
	nativeOnce sync.Once
	nativeDir  string
	nativeBin  string
	nativeSkip string
	nativeErr  error
)

func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	if nativeDir != "" {
		os.RemoveAll(nativeDir)
	}
	os.Exit(code)
}

// native returns the path of the native executor, skipping the test if
// gcc is missing or IPC namespaces cannot be created.
func native(t testing.TB) string {
	t.Helper()
	nativeOnce.Do(func() {
		if _, err := exec.LookPath("gcc"); err != nil {
			nativeSkip = "gcc not found: cannot build the native executor"
			return
		}
		if err := CheckUnshare(); err != nil {
			nativeSkip = fmt.Sprintf("cannot create an IPC namespace (run as root): %v", err)
			return
		}
		nativeDir, nativeErr = os.MkdirTemp("", "semscript")
		if nativeErr == nil {
			nativeBin, nativeErr = BuildNative(nativeDir)
		}
	})
	if nativeSkip != "" {
		t.Skip(nativeSkip)
	}
	if nativeErr != nil {
		t.Fatal(nativeErr)
	}
	return nativeBin
}

// runNative runs s through the kernel.
func runNative(t testing.TB, s *Script) string {
	t.Helper()
	nat, err := RunNative(native(t), s.Text())
	if err != nil {
		t.Fatalf("%v\nscript:\n%s", err, s.Text())
	}
	return nat
}

// compare checks that text gives the same output through the kernel and
// through the engine (by every front), and reports the first mismatch
// (shrunk, if minimize).
func compare(t *testing.T, text string, minimize bool) {
	t.Helper()
	s, err := Parse(text)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	nat := runNative(t, s)
	if *flagShow {
		t.Logf("kernel output:\n%s", indent(nat))
	}
	for _, front := range Fronts {
		m := Compare(nat, RunEngine(s, front))
		if m == nil {
			continue
		}
		msg := fmt.Sprintf("kernel and engine (%v) differ at output line %d:\n%s", front, m.Line+1, m.Report(nat, 6))
		if minimize {
			small := Minimize(s, func(x *Script) bool {
				return Compare(runNative(t, x), RunEngine(x, front)) != nil
			})
			snat, seng := runNative(t, small), RunEngine(small, front)
			diff := "none on this run: the mismatch is not deterministic"
			if sm := Compare(snat, seng); sm != nil {
				diff = sm.Report(snat, 0)
			}
			msg += fmt.Sprintf("\nminimal script (%d calls):\n%s\nkernel:\n%s\nengine (%v):\n%s\nfirst difference:\n%s",
				len(small.Calls), indent(small.Text()), indent(snat), front, indent(seng), diff)
		}
		t.Error(msg)
	}
}

func indent(s string) string {
	return "    " + strings.ReplaceAll(strings.TrimSuffix(s, "\n"), "\n", "\n    ")
}

// cases are hand-written scripts, each named for the rule it checks.
var cases = []struct {
	name   string
	script string
}{
	{"semop E2BIG before EFBIG", `
semget IPC_PRIVATE 1 0600
semop $0 5:1:0*501
semop $0 5:1:0*500
semop $0 0:1:IPC_NOWAIT*500
semctl $0 0 GETVAL
`},
	{"semop E2BIG before EINVAL nsops and id", `
semop -1 0:1:0*501
semop 123 0:1:0*501
semop -1 -
semop 0 -
semop 0 0:0:0*501 timeout=-1.0
semop 0 - timeout=-1.0
semop -1 0:0:0 timeout=-1.0
`},
	{"semop timeout validated before the id", `
semget IPC_PRIVATE 1 0600
semop 999 0:0:0 timeout=-1.0
semop 999 0:0:0 timeout=0/1000000000
semop 999 0:0:0 timeout=0/-1
semop 999 0:0:0 timeout=0/999999999
semop $0 0:1:0 timeout=0/1000000000
semop $0 0:1:0 timeout=-1/0
semop $0 0:1:0 timeout=9223372036854775807/999999999
semop $0 0:1:0 timeout=none
semctl $0 0 GETVAL
`},
	{"semop EFBIG before EACCES", `
semget IPC_PRIVATE 2 0600
as 1000 1000
semop $0 2:1:0
semop $0 0:1:0
semop $0 65535:0:0
as 0 0
`},
	{"semop timeout expires with EAGAIN", `
semget IPC_PRIVATE 2 0600
semop $0 0:-1:0 timeout=0.000001
semop $0 0:-1:0 timeout=0.0
semop $0 0:-1:0 timeout=0/1
semop $0 0:1:0,1:-1:0 timeout=0.001
semctl $0 0 GETALL
semctl $0 0 GETNCNT
semctl $0 1 GETNCNT
semctl $0 0 IPC_STAT
semop $0 0:1:0 timeout=0.0
semop $0 0:0:0 timeout=0.000001
semctl $0 0 GETZCNT
`},
	{"semop that blocks forever is interrupted", `
semget IPC_PRIVATE 1 0600
semop $0 0:-1:0
semop $0 0:-1:0 timeout=100000.0
semctl $0 0 GETNCNT
`},
	{"semop IPC_NOWAIT fails with EAGAIN and rolls back", `
semget IPC_PRIVATE 3 0600
semctl $0 0 SETALL 1 1 0
semop $0 0:-1:0,1:-1:0,2:-1:IPC_NOWAIT
semctl $0 0 GETALL
semop $0 0:-1:IPC_NOWAIT,2:0:0
semctl $0 0 GETALL
semop $0 2:0:IPC_NOWAIT,0:-1:IPC_NOWAIT
semctl $0 0 GETALL
semctl $0 0 GETPID
semctl $0 2 GETPID
`},
	{"repeated sem_num applies in order", `
semget IPC_PRIVATE 2 0600
semop $0 0:1:0,0:-1:0
semop $0 0:-1:IPC_NOWAIT,0:1:0
semop $0 0:1:0,0:0:IPC_NOWAIT
semop $0 0:1:0,0:1:0,0:-2:0,0:0:0
semop $0 0:2:0,0:-1:0,0:-1:0,0:-1:IPC_NOWAIT
semctl $0 0 GETALL
semop $0 0:32767:0,0:1:0
semop $0 0:32767:0,0:-1:0,0:1:0
semctl $0 0 GETALL
semop $0 1:0:0,1:1:0
semop $0 1:1:0,65:1:0
`},
	{"semop value ERANGE", `
semget IPC_PRIVATE 2 0600
semctl $0 0 SETVAL 32767
semop $0 0:1:IPC_NOWAIT
semop $0 0:1:0 timeout=0.001
semop $0 1:32767:0
semop $0 1:1:0
semop $0 1:-1:IPC_NOWAIT,0:1:0
semop $0 1:-32768:IPC_NOWAIT
semop $0 1:40000:0
semctl $0 0 GETALL
semop $0 1:-40000:0
semctl $0 0 GETALL
`},
	{"SEM_UNDO adjustment ERANGE", `
semget IPC_PRIVATE 2 0600
semop $0 0:32767:SEM_UNDO
semop $0 0:-32767:0
semop $0 0:1:SEM_UNDO
semop $0 0:-1:0
semop $0 0:1:SEM_UNDO
semctl $0 0 GETALL
semctl $0 1 SETVAL 32767
semop $0 1:-32767:SEM_UNDO
semop $0 1:1:0
semop $0 1:-1:SEM_UNDO
semop $0 1:1:0,1:-1:SEM_UNDO
semctl $0 0 GETALL
`},
	{"SETVAL clears SEM_UNDO adjustments", `
semget IPC_PRIVATE 2 0600
semop $0 0:32767:SEM_UNDO,1:32767:SEM_UNDO
semctl $0 0 SETVAL 0
semop $0 0:1:SEM_UNDO
semop $0 1:-32767:0
semop $0 1:1:SEM_UNDO
semctl $0 0 GETALL
`},
	{"SETALL clears SEM_UNDO adjustments", `
semget IPC_PRIVATE 2 0600
semop $0 0:32767:SEM_UNDO,1:32767:SEM_UNDO
semctl $0 0 SETALL 0 0
semop $0 0:1:SEM_UNDO
semop $0 1:32767:SEM_UNDO
semctl $0 0 GETALL
semctl $0 0 SETALL 40000 0
semop $0 0:-1:0,0:1:SEM_UNDO
semctl $0 0 GETALL
`},
	{"SEM_UNDO adjustments are per set id", `
semget IPC_PRIVATE 1 0600
semop $0 0:32767:SEM_UNDO
semctl $0 0 IPC_RMID
semget IPC_PRIVATE 1 0600
semop $1 0:32767:SEM_UNDO
semop $1 0:-32767:0
semop $1 0:1:SEM_UNDO
semop $1 0:-1:0
semop $1 0:1:SEM_UNDO
semop $0 0:1:SEM_UNDO
`},
	{"SETVAL ERANGE before EINVAL id", `
semctl 12345 0 SETVAL 40000
semctl 12345 0 SETVAL -1
semctl -1 0 SETVAL 40000
semget IPC_PRIVATE 1 0600
semctl $0 7 SETVAL 32768
semctl $0 7 SETVAL 32767
semctl $0 0 SETVAL 4294967297
semctl $0 0 GETVAL
semctl $0 0 SETVAL 4294999999
semctl $0 0 SETVAL -4294967295
semctl $0 0 GETVAL
`},
	{"SETVAL EINVAL semnum before EACCES, GETVAL EACCES before EINVAL semnum", `
semget IPC_PRIVATE 1 0600
as 1000 1000
semctl $0 5 SETVAL 1
semctl $0 0 SETVAL 1
semctl $0 5 GETVAL
semctl $0 -1 GETNCNT
semctl $0 5 GETALL
as 0 0
semctl $0 5 GETVAL
semctl $0 -1 GETZCNT
semctl $0 1 GETPID
semctl $0 5 GETALL
`},
	{"SETALL ERANGE and short lists", `
semget IPC_PRIVATE 4 0600
semctl $0 0 SETALL 1 2 3 4
semctl $0 0 GETALL
semctl $0 0 SETALL 5 6
semctl $0 0 GETALL
semctl $0 0 SETALL 1 1 1 32768
semctl $0 0 GETALL
semctl $0 0 SETALL 1 1 1 1 40000
semctl $0 0 GETALL
semctl $0 0 SETALL 65536 -65535 32767 0
semctl $0 0 GETALL
semctl $0 0 SETALL
semctl $0 0 GETALL
semctl $0 3 GETPID
`},
	{"IPC_INFO returns highest index", `
semctl 0 0 IPC_INFO
semctl 0 0 SEM_INFO
semget IPC_PRIVATE 1 0600
semget IPC_PRIVATE 2 0600
semget IPC_PRIVATE 3 0600
semctl 0 0 IPC_INFO
semctl 0 0 SEM_INFO
semctl $1 0 IPC_RMID
semctl 0 0 SEM_INFO
semctl $2 0 IPC_RMID
semctl 0 0 SEM_INFO
semctl $0 0 IPC_RMID
semctl 0 0 SEM_INFO
semctl -1 0 IPC_INFO
semctl 99999 0 IPC_INFO
`},
	{"SEM_STAT takes an index", `
semget IPC_PRIVATE 2 0640
semctl @0 0 SEM_STAT
semctl @0 0 SEM_STAT_ANY
semctl @0+32768 0 SEM_STAT
semctl @0+1 0 SEM_STAT
semctl @0+1 0 SEM_STAT_ANY
semctl 32767 0 SEM_STAT
semctl -1 0 SEM_STAT
semctl $0 0 IPC_STAT
semctl $0+32768 0 IPC_STAT
`},
	{"EACCES for other without read", `
semget IPC_PRIVATE 1 0600
semget 7 1 IPC_CREAT|0604
as 1000 1000
semctl $0 0 IPC_STAT
semctl @0 0 SEM_STAT
semctl @0 0 SEM_STAT_ANY
semctl $0 0 GETVAL
semctl $0 0 GETALL
semctl $0 0 GETNCNT
semctl $0 0 SETVAL 1
semctl $0 0 SETALL 1
semop $0 0:0:IPC_NOWAIT
semop $0 0:1:0
semctl $1 0 GETVAL
semctl $1 0 SETVAL 1
semop $1 0:0:IPC_NOWAIT
semop $1 0:1:0
semget 7 1 0
semget 7 1 0400
semget 7 1 0004
semget 7 1 0200
semget 7 1 IPC_CREAT|0666
as 0 0
`},
	{"group permissions", `
semget IPC_PRIVATE 1 0640
as 1001 1000
semctl $0 0 GETVAL
semctl $0 0 SETVAL 1
as 2000 2000 1000
semctl $0 0 GETVAL
semop $0 0:1:0
as 2000 2000
semctl $0 0 GETVAL
as 1000 0
semctl $0 0 GETVAL
semctl $0 0 SETVAL 1
as 0 1000
semctl $0 0 SETVAL 1
`},
	{"owner bits win over group and other bits", `
semget IPC_PRIVATE 1 0066
as 0 0
semctl $0 0 IPC_SET 1000 1000 0066
as 1000 1000
semctl $0 0 GETVAL
as 1001 1000
semctl $0 0 GETVAL
as 2000 2000
semctl $0 0 GETVAL
as 0 0
`},
	{"EPERM for IPC_RMID by non-owner", `
semget IPC_PRIVATE 1 0666
as 1000 1000
semctl $0 0 IPC_RMID
semctl $0 0 IPC_SET 1000 1000 0666
semctl $0 0 IPC_SET -1 1000 0666
semctl $0+32768 0 IPC_RMID
as 0 0
semctl $0 0 IPC_STAT
`},
	{"IPC_SET to another owner", `
as 1000 1000
semget IPC_PRIVATE 1 0600
as 0 0
semctl $0 0 IPC_SET 2000 2000 0600
semctl $0 0 IPC_STAT
as 1000 1000
semctl $0 0 GETVAL
semctl $0 0 IPC_SET 65534 65534 01777
semctl $0 0 IPC_STAT
as 2000 2000
semctl $0 0 GETVAL
as 65534 65534
semctl $0 0 GETVAL
semctl $0 0 IPC_SET 0 0 0400
semctl $0 0 IPC_STAT
semctl $0 0 IPC_SET 1 1 0400
as 1000 1000
semctl $0 0 IPC_RMID
as 0 0
semctl $0 0 IPC_STAT
`},
	{"IPC_SET invalid uid or gid", `
semget IPC_PRIVATE 1 0600
semctl $0 0 IPC_SET -1 0 0600
semctl $0 0 IPC_SET 0 -1 0600
semctl $0 0 IPC_SET 4294967295 0 0600
semctl $0 0 IPC_SET 4294967294 4294967294 0100666
semctl $0 0 IPC_STAT
semctl $0 0 IPC_SET 0 0 -1
semctl $0 0 IPC_STAT
`},
	{"semget with an existing key", `
semget 5 2 IPC_CREAT|0600
semget 5 3 IPC_CREAT|IPC_EXCL|0600
semget 5 3 0
semget 5 2 0
semget 5 0 0
semget 5 40000 0
semget 5 -1 0
semget 5 1 IPC_EXCL
semget 6 1 0
semget 6 0 IPC_CREAT|0600
semget 6 1 IPC_EXCL|0600
semget 0x100000005 1 0
as 1000 1000
semget 5 1 0600
semget 5 1 0
semget 5 1 IPC_CREAT|IPC_EXCL|0600
semget -1 1 IPC_CREAT|0600
as 0 0
semget -1 1 0666
semctl $12 0 IPC_STAT
semctl $0 0 IPC_RMID
semget 5 1 0
semget 5 1 IPC_CREAT|0640
semctl $-1 0 IPC_STAT
`},
	{"nsems bounds", `
semget IPC_PRIVATE 0 0600
semget IPC_PRIVATE -1 0600
semget IPC_PRIVATE 32001 0600
semget IPC_PRIVATE 2147483648 0600
semget IPC_PRIVATE 32000 0600
semctl 0 0 SEM_INFO
semop $4 31999:1:0
semop $4 32000:1:0
semctl $4 0 SETALL 1 2 3
semctl $4 0 GETALL
semctl $4 31999 GETVAL
semctl $4 32000 GETVAL
semctl $4 0 IPC_RMID
semctl 0 0 SEM_INFO
`},
	{"semget mode bits beyond 0777 are dropped", `
semget IPC_PRIVATE 1 IPC_CREAT|IPC_EXCL|IPC_NOWAIT|07777
semctl $0 0 IPC_STAT
semget IPC_PRIVATE 1 -1
semctl $1 0 IPC_STAT
semget IPC_PRIVATE 1 0
semctl $2 0 IPC_STAT
`},
	{"unknown commands are EINVAL", `
semget IPC_PRIVATE 1 0600
semctl $0 0 99
semctl $0 0 -1
semctl $0 0 IPC_STAT|IPC_64
semctl $0 0 GETVAL|IPC_64
semctl $0 0 IPC_RMID|IPC_64
semctl $0 0 10
semctl $0 0 21
semctl -1 0 99
semctl $0 0 GETVAL
`},
	{"negative id fails before the command", `
semctl -1 0 IPC_INFO
semctl -1 0 SEM_INFO
semctl -1 0 SEM_STAT
semctl -2147483648 0 SEM_STAT_ANY
semctl -1 0 GETALL
semctl -1 0 IPC_RMID
semctl -1 0 IPC_SET 0 0 0
semop -1 0:0:0
`},
	{"ids cycle through 64 before reuse", cycleScript(70)},
	{"cycle advances index and sequence", `
cycle 1
cycle 63
cycle 1
cycle 130
semget IPC_PRIVATE 1 0600
semget 9 1 IPC_CREAT|0600
cycle 64
semctl 0 0 SEM_INFO
semctl @0 0 SEM_STAT
semctl @1 0 SEM_STAT
cycle 1000
semget IPC_PRIVATE 1 0600
`},
	{"the id window grows with the number of sets", windowScript()},
	{"stale ids after reuse", `
semget IPC_PRIVATE 1 0600
semctl $0 0 IPC_RMID
` + strings.Repeat("semget IPC_PRIVATE 1 0600\nsemctl $-1 0 IPC_RMID\n", 63) + `
semget IPC_PRIVATE 2 0600
semctl $0 0 GETVAL
semctl $0 0 IPC_STAT
semctl @0 0 SEM_STAT
semop $0 0:1:0
semctl $0 0 IPC_RMID
semctl $-1 0 IPC_STAT
semctl $-1-32768 0 IPC_STAT
`},
	{"keys are released by IPC_RMID", `
semget 42 1 IPC_CREAT|0600
semctl $0 0 IPC_RMID
semget 42 1 0
semget 42 1 IPC_CREAT|IPC_EXCL|0600
semctl $-1 0 IPC_STAT
semget IPC_PRIVATE 1 IPC_CREAT|IPC_EXCL|0600
semget IPC_PRIVATE 1 IPC_CREAT|IPC_EXCL|0600
semctl 0 0 SEM_INFO
`},
	{"wait-for-zero sets otime and sempid", `
semget IPC_PRIVATE 2 0600
semctl $0 0 IPC_STAT
semctl $0 1 GETPID
semop $0 1:0:0
semctl $0 0 IPC_STAT
semctl $0 0 GETPID
semctl $0 1 GETPID
semget IPC_PRIVATE 1 0600
semctl $1 0 SETVAL 0
semctl $1 0 IPC_STAT
semctl $1 0 GETPID
semop $1 0:-1:IPC_NOWAIT
semctl $1 0 IPC_STAT
`},
	{"read-only semop needs read permission only", `
semget IPC_PRIVATE 1 0644
as 1000 1000
semop $0 0:0:IPC_NOWAIT
semop $0 0:0:0,0:0:0
semop $0 0:0:0,0:1:0
semop $0 0:0:SEM_UNDO
as 0 0
semctl $0 0 IPC_SET 0 0 0600
as 1000 1000
semop $0 0:0:0
as 0 0
`},
	{"capabilities follow the effective uid", `
semget IPC_PRIVATE 1 0
as 0 1000
semctl $0 0 GETVAL
semctl $0 0 SETVAL 3
semctl $0 0 IPC_SET 0 1000 0
as 1000 1000
semctl $0 0 GETVAL
semctl $0 0 IPC_RMID
as 0 0 1000
semctl $0 0 IPC_STAT
semctl $0 0 IPC_RMID
`},
	{"EFAULT comes where the kernel copies", `
semget IPC_PRIVATE 2 0600
semctl $0 0 IPC_STAT bad
semctl 999 0 IPC_STAT bad
semctl -1 0 IPC_STAT bad
semctl @0 0 SEM_STAT bad
semctl @0+1 0 SEM_STAT_ANY bad
semctl 0 0 IPC_INFO bad
semctl 0 0 SEM_INFO bad
semctl -1 0 IPC_INFO bad
semctl 999 0 IPC_SET bad
semctl -1 0 IPC_SET bad
semctl $0 0 IPC_SET bad
semctl $0 0 GETALL bad
semctl 999 0 GETALL bad
semctl $0 0 SETALL bad
semctl 999 0 SETALL bad
semctl $0 0 GETVAL bad
semctl $0 0 GETPID bad
semctl $0 0 99 bad
semctl $0 0 IPC_STAT|IPC_64 bad
as 1000 1000
semctl $0 0 IPC_STAT bad
semctl $0 0 SETALL bad
semctl $0 0 GETALL bad
semctl $0 0 IPC_SET bad
semctl @0 0 SEM_STAT_ANY bad
semop $0 !1
as 0 0
semop $0 !1
semop -1 !1
semop 999 !1
semop $0 !0
semop $0 !501
semop $0 !4294967295
semop $0 !501 timeout=bad
semop -1 - timeout=bad
semop $0 !1 timeout=-1.0
semop $0 0:0:0 timeout=bad
semop $0 0:0:0*501 timeout=bad
semop $0 0:0:0 timeout=0/-1
semctl $0 0 IPC_RMID bad
semctl $0 0 IPC_STAT
`},
	{"truncation of script values", `
semget 0x100000001 1 IPC_CREAT|0600
semget 1 1 0
semop $0 0:65537:0
semop $0 65536:1:0
semctl $0 0 GETALL
semop $0 0:1:0x10000
semctl $0 4294967296 GETVAL
semctl 0x100000000 0 SEM_STAT
`},
}

// cycleScript creates and removes a set n times: the index advances
// through the 64-slot window and the sequence number grows at each wrap.
func cycleScript(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "semget IPC_PRIVATE 1 0600\nsemctl $%d 0 IPC_RMID\n", i)
	}
	b.WriteString("semctl 0 0 SEM_INFO\n")
	return b.String()
}

// windowScript keeps 50 sets alive, so the allocation window is 75 slots,
// then removes and creates sets around it.
func windowScript() string {
	var b strings.Builder
	for range 50 {
		b.WriteString("semget IPC_PRIVATE 1 0600\n")
	}
	for i := 0; i < 50; i += 7 {
		fmt.Fprintf(&b, "semctl $%d 0 IPC_RMID\n", i)
	}
	b.WriteString("semctl 0 0 IPC_INFO\n")
	for range 40 {
		b.WriteString("semget IPC_PRIVATE 1 0600\n")
	}
	b.WriteString("semctl 0 0 SEM_INFO\n")
	for i := 50; i < 90; i += 3 {
		fmt.Fprintf(&b, "semctl $%d 0 IPC_RMID\n", i)
	}
	for range 20 {
		b.WriteString("semget IPC_PRIVATE 1 0600\n")
	}
	b.WriteString("semctl 0 0 SEM_INFO\n")
	return b.String()
}

func TestCases(t *testing.T) {
	native(t)
	for _, c := range cases {
		t.Run(strings.ReplaceAll(c.name, " ", "_"), func(t *testing.T) {
			t.Parallel()
			compare(t, c.script, false)
		})
	}
}

// TestSeqWrap checks the wrap of sequence numbers: 65535 * 64 sets are
// created and removed, so ids reach 65534<<15 | 63 and start again at 0.
func TestSeqWrap(t *testing.T) {
	if !*flagLong {
		t.Skip("slow; run with -semscript.long")
	}
	native(t)
	compare(t, `
cycle 4194239
semget IPC_PRIVATE 1 0600
semctl @0 0 SEM_STAT
semctl $0 0 IPC_RMID
semget IPC_PRIVATE 1 0600
semctl $1 0 IPC_STAT
cycle 100
semctl 0 0 SEM_INFO
`, false)
}

func TestRandom(t *testing.T) {
	native(t)
	for i := range *flagSeeds {
		seed := *flagSeed + uint64(i)
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			t.Parallel()
			compare(t, Generate(seed, *flagCalls), *flagMinimize)
		})
	}
}

// TestScriptFile compares the script named by -semscript.script.
func TestScriptFile(t *testing.T) {
	if *flagScript == "" {
		t.Skip("no -semscript.script")
	}
	native(t)
	text, err := os.ReadFile(*flagScript)
	if err != nil {
		t.Fatal(err)
	}
	compare(t, string(text), *flagMinimize)
}

// TestRejectedScripts checks that both parsers reject the same scripts.
func TestRejectedScripts(t *testing.T) {
	bin := native(t)
	bad := []string{
		"frob 1 2",
		"semget 1 2",
		"semget 08 1 0",
		"semget 0x 1 0",
		"semget 1 1 IPC_CREAT||0600",
		"semget 1 1 |0600",
		"semget 1 1 IPC_WHATEVER",
		"semget 1 99999999999999999999 0",
		"semop $0 0:1:0",
		"semget 1 1 0\nsemop $1 0:1:0",
		"semget 1 1 0\nsemop $-2 0:1:0",
		"semget 1 1 0\nsemop $ 0:1:0",
		"semget 1 1 0\nsemop $0x1 0:1:0",
		"semget 1 1 0\nsemop $0*2 0:1:0",
		"semop 0 0:1",
		"semop 0 0:1:0,",
		"semop 0 ,0:1:0",
		"semop 0 0:1:0,,0:1:0",
		"semop 0 0:1:0*0",
		"semop 0 0:1:0*65537",
		"semop 0 0:1:0*40000,0:1:0*30000",
		"semop 0 0:1:0 timeout=0.1234567890",
		"semop 0 0:1:0 timeout=0.",
		"semop 0 0:1:0 timeout=.5",
		"semop 0 0:1:0 timeout=1",
		"semop 0 0:1:0 timeout=0x1.0",
		"semop 0 0:1:0 timeout=1/",
		"semop 0 0:1:0 timeout=0.5/3",
		"semop 0 0:1:0 wait=1",
		"semop 0 0:1:0 timeout=none extra",
		"semctl 0 0",
		"semctl 0 0 SETVAL",
		"semctl 0 0 SETVAL 1 2",
		"semctl 0 0 GETVAL 5",
		"semctl 0 0 IPC_SET 0 0",
		"semctl 0 0 SETALL 1 x",
		"semctl 0 0 SETVAL bad",
		"semctl 0 0 GETVAL bad bad",
		"semop 0 !",
		"semop 0 !-1",
		"semop 0 !4294967296",
		"semop 0 !1,0:1:0",
		"semop 0 0:1:0 timeout=BAD",
		"as 1",
		"as -1 0",
		"as 0 4294967295",
		"as 0 0 -5",
		"as 0 0" + strings.Repeat(" 1", 65),
		"cycle",
		"cycle 0",
		"cycle 1 2",
	}
	for _, text := range bad {
		if _, err := Parse(text); err == nil {
			t.Errorf("Parse accepted %q", text)
		}
		if out, err := RunNative(bin, text); !errors.Is(err, ErrScript) {
			t.Errorf("native executor on %q: %v, output %q", text, err, out)
		}
	}
	good := "semget 1 1 0 # comment\n\t  semop  0   0:1:0x800|SEM_UNDO*3,+1:-0:00  timeout=-0.000000001\n" +
		"semop 0 0:1:0 timeout=-1/+7\nsemget 0X7fffFFFF 0 -0\nsemop $-1-0x8000 - timeout=none\n" +
		"semctl @0+1 -0 GETVAL|IPC_64\nas 0 0" + strings.Repeat(" 1", 64) + "\n"
	s, err := Parse(good)
	if err != nil {
		t.Fatal(err)
	}
	out, err := RunNative(bin, good)
	if err != nil {
		t.Fatal(err)
	}
	for _, front := range Fronts {
		if m := Compare(out, RunEngine(s, front)); m != nil {
			t.Errorf("accepted script differs (%v):\n%s", front, m.Report(out, 10))
		}
	}
}
