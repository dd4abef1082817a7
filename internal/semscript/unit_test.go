package semscript

import (
	"reflect"
	"strings"
	"testing"

	"github.com/sembox/sembox/abi"
)

// These tests need neither root nor gcc.

func TestParseValues(t *testing.T) {
	s, err := Parse(`
semget 0x100000001 2147483648 IPC_CREAT|IPC_EXCL|0600   # comment
semop $0 1:40000:IPC_NOWAIT|SEM_UNDO*2,-1:0:0 timeout=-1.5
semop @-1+32768 !501 timeout=bad
semop -0x10 - timeout=0/-1
semctl $0 -1 SETVAL 4294967297
semctl $0 0 SETALL 65536 -1
semctl $0 0 IPC_SET -1 2 0100600
semctl $0 0 IPC_STAT|IPC_64 bad
as 1000 1000 5 6
cycle 3
`)
	if err != nil {
		t.Fatal(err)
	}
	c := s.Calls
	if len(c) != 10 {
		t.Fatalf("%d calls", len(c))
	}
	if c[0].Line != "semget 0x100000001 2147483648 IPC_CREAT|IPC_EXCL|0600" || c[0].LineNo != 2 {
		t.Errorf("line %q at %d", c[0].Line, c[0].LineNo)
	}
	if int32(c[0].Key) != 1 || int32(c[0].Nsems) != -2147483648 || c[0].Flags != abi.IPC_CREAT|abi.IPC_EXCL|0o600 {
		t.Errorf("semget %+v", c[0])
	}
	wantSops := []abi.Sembuf{
		{SemNum: 1, SemOp: -25536, SemFlg: abi.IPC_NOWAIT | abi.SEM_UNDO},
		{SemNum: 1, SemOp: -25536, SemFlg: abi.IPC_NOWAIT | abi.SEM_UNDO},
		{SemNum: 65535, SemOp: 0, SemFlg: 0},
	}
	if !reflect.DeepEqual(c[1].Sops, wantSops) || *c[1].Timeout != (abi.Timespec{Sec: -1, Nsec: 500000000}) {
		t.Errorf("semop %+v %+v", c[1].Sops, c[1].Timeout)
	}
	if c[2].ID != (Ref{Kind: RefIndex, Semget: 0, Add: 32768}) || !c[2].SopsBad || c[2].Nsops != 501 || !c[2].TimeoutBad {
		t.Errorf("semop %+v", c[2])
	}
	if c[3].ID.value(nil) != -16 || len(c[3].Sops) != 0 || *c[3].Timeout != (abi.Timespec{Sec: 0, Nsec: -1}) {
		t.Errorf("semop %+v", c[3])
	}
	if int32(c[4].SemNum) != -1 || int32(c[4].Val) != 1 {
		t.Errorf("setval %+v", c[4])
	}
	if !reflect.DeepEqual(c[5].Vals, []int64{65536, -1}) {
		t.Errorf("setall %+v", c[5].Vals)
	}
	if uint32(c[6].UID) != 0xffffffff || c[6].GID != 2 || c[6].Mode != 0o100600 {
		t.Errorf("ipc_set %+v", c[6])
	}
	if c[7].Cmd != abi.IPC_STAT|abi.IPC_64 || !c[7].ArgBad {
		t.Errorf("stat %+v", c[7])
	}
	if c[8].EUID != 1000 || c[8].EGID != 1000 || !reflect.DeepEqual(c[8].Groups, []uint32{5, 6}) {
		t.Errorf("as %+v", c[8])
	}
	if c[9].Kind != KindCycle || c[9].Count != 3 {
		t.Errorf("cycle %+v", c[9])
	}
	ids := []int64{0x18005}
	if got := c[2].ID.value(ids); got != 5+32768 {
		t.Errorf("@0+32768 = %d", got)
	}
	if got := (Ref{Kind: RefIndex, Semget: 0}).value([]int64{-1}); got != 32767 {
		t.Errorf("@ of a failed semget = %d", got)
	}
}

func TestParseNum(t *testing.T) {
	for s, want := range map[string]int64{
		"0": 0, "-0": 0, "+7": 7, "010": 8, "0x1F": 31, "-0X10": -16,
		"9223372036854775807": 1<<63 - 1, "-9223372036854775808": -1 << 63,
	} {
		if v, ok := parseNum(s); !ok || v != want {
			t.Errorf("parseNum(%q) = %d, %v", s, v, ok)
		}
	}
	for _, s := range []string{"", "-", "08", "0x", "1e3", "9223372036854775808", "0b1", "1_000", " 1"} {
		if v, ok := parseNum(s); ok {
			t.Errorf("parseNum(%q) = %d", s, v)
		}
	}
}

func TestGenerateIsDeterministicAndValid(t *testing.T) {
	cmds := map[string]bool{}
	for seed := uint64(1); seed <= 300; seed++ {
		text := Generate(seed, 200)
		if text != Generate(seed, 200) {
			t.Fatalf("seed %d: not deterministic", seed)
		}
		s, err := Parse(text)
		if err != nil {
			t.Fatalf("seed %d: %v\n%s", seed, err, text)
		}
		if len(s.Calls) > 200 {
			t.Fatalf("seed %d: %d calls", seed, len(s.Calls))
		}
		for _, c := range s.Calls {
			if c.Kind == KindSemctl {
				cmds[strings.Fields(c.Line)[3]] = true
			}
		}
	}
	for _, name := range []string{"IPC_RMID", "IPC_SET", "IPC_STAT", "IPC_INFO", "GETPID", "GETVAL",
		"GETALL", "GETNCNT", "GETZCNT", "SETVAL", "SETALL", "SEM_STAT", "SEM_INFO", "SEM_STAT_ANY"} {
		if !cmds[name] {
			t.Errorf("no generated script uses %s", name)
		}
	}
}

func TestEngineOutput(t *testing.T) {
	s := MustParse(`
semget IPC_PRIVATE 3 0600
semop $0 0:1:0,1:2:SEM_UNDO
semctl $0 0 GETALL
semctl $0 1 GETPID
semctl $0 2 GETPID
semop $0 2:-1:0 timeout=0.001
semop $0 2:-1:0
semctl $0 0 IPC_STAT
semctl 0 0 IPC_INFO bad
cycle 64
`)
	want := `semget IPC_PRIVATE 3 0600 → 0 OK
semop $0 0:1:0,1:2:SEM_UNDO → 0 OK
semctl $0 0 GETALL → 0 OK vals=1,2,0
semctl $0 1 GETPID → P OK
semctl $0 2 GETPID → 0 OK
semop $0 2:-1:0 timeout=0.001 → -1 EAGAIN
semop $0 2:-1:0 → -1 EINTR
semctl $0 0 IPC_STAT → 0 OK key=0 uid=0 gid=0 cuid=0 cgid=0 mode=0600 seq=0 nsems=3 otime=T ctime=T
semctl 0 0 IPC_INFO bad → -1 EFAULT
cycle 64 → 32769 OK
`
	for _, f := range Fronts {
		if got := RunEngine(s, f); got != want {
			t.Errorf("%v front:\n%s\nwant:\n%s", f, got, want)
		}
	}
}

func TestMinimize(t *testing.T) {
	s := MustParse(`
semget 1 1 IPC_CREAT|0600
semget IPC_PRIVATE 2 0600
semctl $1 0 SETVAL 5
semget IPC_PRIVATE 1 0600
semop $-1 0:1:0
semctl $1 0 GETVAL
semctl $2 0 IPC_RMID
`)
	// "Fails" while some call prints 5.
	fails := func(x *Script) bool {
		return strings.Contains(RunEngine(x, FrontDirect), "→ 5 OK")
	}
	small := Minimize(s, fails)
	want := "semget IPC_PRIVATE 2 0600\nsemctl $0 0 SETVAL 5\nsemctl $0 0 GETVAL\n"
	if got := small.Text(); got != want {
		t.Errorf("minimized to\n%s\nwant\n%s", got, want)
	}
}

func TestCompare(t *testing.T) {
	if m := Compare("a\nb\n", "a\nb\n"); m != nil {
		t.Errorf("equal outputs: %+v", m)
	}
	m := Compare("a\nb\nc\n", "a\nx\n")
	if m == nil || m.Line != 1 || m.Native != "b" || m.Engine != "x" {
		t.Errorf("got %+v", m)
	}
	m = Compare("a\n", "a\nb\n")
	if m == nil || m.Line != 1 || m.Native != "" || m.Engine != "b" {
		t.Errorf("got %+v", m)
	}
	if r := m.Report("a\n", 3); !strings.Contains(r, "(end of output)") {
		t.Errorf("report %q", r)
	}
}
