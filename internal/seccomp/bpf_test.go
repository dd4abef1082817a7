package seccomp

import (
	"encoding/binary"
	"fmt"
	"strings"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// run interprets prog, a classic-BPF seccomp program, on d the way the
// kernel would, supporting only the instructions that Build emits. It also
// enforces the kernel's static checks: jumps stay inside the program, loads
// are aligned 32-bit reads of seccomp_data, and execution ends in a ret.
func run(prog []unix.SockFilter, d Data) (Action, error) {
	var buf [unsafe.Sizeof(Data{})]byte
	binary.NativeEndian.PutUint32(buf[0:], uint32(d.Nr))
	binary.NativeEndian.PutUint32(buf[4:], d.Arch)
	binary.NativeEndian.PutUint64(buf[8:], d.InstructionPointer)
	for i, a := range d.Args {
		binary.NativeEndian.PutUint64(buf[16+8*i:], a)
	}
	var acc uint32
	for pc := 0; pc < len(prog); pc++ {
		in := prog[pc]
		jump := func(cond bool) error {
			off := int(in.Jf)
			if cond {
				off = int(in.Jt)
			}
			if pc+1+off >= len(prog) {
				return fmt.Errorf("pc %d: jump past the end", pc)
			}
			pc += off
			return nil
		}
		var err error
		switch in.Code {
		case opLoadAbs:
			if in.K%4 != 0 || int(in.K)+4 > len(buf) {
				return 0, fmt.Errorf("pc %d: bad load offset %d", pc, in.K)
			}
			acc = binary.NativeEndian.Uint32(buf[in.K:])
		case opJeq:
			err = jump(acc == in.K)
		case opJset:
			err = jump(acc&in.K != 0)
		case opJa:
			if pc+1+int(in.K) >= len(prog) {
				return 0, fmt.Errorf("pc %d: ja past the end", pc)
			}
			pc += int(in.K)
		case opRet:
			return Action(in.K), nil
		default:
			return 0, fmt.Errorf("pc %d: instruction %#x not supported", pc, in.Code)
		}
		if err != nil {
			return 0, err
		}
	}
	return 0, fmt.Errorf("fell off the end of the program")
}

func TestBuildSemaphorePolicy(t *testing.T) {
	prog, err := Build(SemaphorePolicy([]int{unix.SYS_OPENAT}))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d instructions", len(prog))
	for _, c := range semaphorePolicyCases {
		t.Run(fmt.Sprintf("%v/%#x", c.arch, c.nr), func(t *testing.T) {
			got, err := run(prog, Data{Arch: uint32(c.arch), Nr: int32(c.nr)})
			if err != nil {
				t.Fatal(err)
			}
			if got != c.want {
				t.Errorf("verdict %v, want %v", got, c.want)
			}
		})
	}
}

// verdictCase is one row of a verdict table.
type verdictCase struct {
	arch Arch
	nr   uint32
	want Action
}

func TestBuild(t *testing.T) {
	eperm := ActErrno(unix.EPERM)
	enosys := ActErrno(unix.ENOSYS)
	tests := []struct {
		name   string
		policy Policy
		cases  []verdictCase
	}{
		{
			name:   "empty policy",
			policy: Policy{Default: ActAllow},
			cases: []verdictCase{
				{ArchX86_64, 1, ActAllow},
				{ArchAArch64, 1, ActAllow},
			},
		},
		{
			name: "unknown arch gets policy default",
			policy: Policy{
				Tables:  []Table{{ABI: ABI{Arch: ArchAArch64}, Rules: Rules(ActNotify, 7), Default: ActAllow}},
				Default: ActKillProcess,
			},
			cases: []verdictCase{
				{ArchAArch64, 7, ActNotify},
				{ArchAArch64, 8, ActAllow},
				{ArchARM, 7, ActKillProcess},
				{ArchX86_64, 7, ActKillProcess},
			},
		},
		{
			name: "x86_64 native table does not cover x32 aliases",
			policy: Policy{
				Tables:  []Table{{ABI: ABI{Arch: ArchX86_64}, Rules: Rules(ActNotify, 64), Default: ActAllow}},
				Default: enosys,
			},
			cases: []verdictCase{
				{ArchX86_64, 64, ActNotify},
				{ArchX86_64, 65, ActAllow},
				{ArchX86_64, X32SyscallBit | 64, enosys},
				{ArchX86_64, X32SyscallBit | 1, enosys},
			},
		},
		{
			name: "x32-only table",
			policy: Policy{
				Tables:  []Table{{ABI: ABI{Arch: ArchX86_64, X32: true}, Rules: Rules(eperm, X32SyscallBit|64), Default: ActAllow}},
				Default: ActKillThread,
			},
			cases: []verdictCase{
				{ArchX86_64, X32SyscallBit | 64, eperm},
				{ArchX86_64, X32SyscallBit | 65, ActAllow},
				{ArchX86_64, 64, ActKillThread},
			},
		},
		{
			name: "mixed actions and table order",
			policy: Policy{
				Tables: []Table{
					{ABI: ABI{Arch: ArchI386}, Rules: Rules(enosys, 117), Default: ActLog},
					{ABI: ABI{Arch: ArchX86_64}, Rules: []Rule{{9, ActTrap}, {1, eperm}, {5, ActAllow}}, Default: ActNotify},
					{ABI: ABI{Arch: ArchX86_64, X32: true}, Default: eperm},
				},
				Default: ActAllow,
			},
			cases: []verdictCase{
				{ArchI386, 117, enosys},
				{ArchI386, 118, ActLog},
				{ArchX86_64, 1, eperm},
				{ArchX86_64, 5, ActAllow},
				{ArchX86_64, 9, ActTrap},
				{ArchX86_64, 10, ActNotify},
				{ArchX86_64, X32SyscallBit | 9, eperm},
				{ArchAArch64, 9, ActAllow},
			},
		},
		{
			name: "rule equal to default and numbers with high bits",
			policy: Policy{
				Tables: []Table{
					{ABI: ABI{Arch: ArchAArch64}, Rules: []Rule{{3, ActAllow}, {0xffffffff, enosys}, {0x80000000, ActNotify}}, Default: ActAllow},
				},
				Default: ActAllow,
			},
			cases: []verdictCase{
				{ArchAArch64, 3, ActAllow},
				{ArchAArch64, 0xffffffff, enosys},
				{ArchAArch64, 0x80000000, ActNotify},
				{ArchAArch64, 0x7fffffff, ActAllow},
			},
		},
		{
			name: "a thousand rules: far jumps",
			policy: Policy{
				Tables: []Table{
					{ABI: ABI{Arch: ArchAArch64}, Rules: Rules(ActNotify, seq(0, 1000)...), Default: eperm},
					{ABI: ABI{Arch: ArchARM}, Rules: Rules(enosys, seq(500, 700)...), Default: ActAllow},
				},
				Default: ActKillProcess,
			},
			cases: []verdictCase{
				{ArchAArch64, 0, ActNotify},
				{ArchAArch64, 999, ActNotify},
				{ArchAArch64, 1000, eperm},
				{ArchARM, 499, ActAllow},
				{ArchARM, 699, enosys},
				{ArchX86_64, 1, ActKillProcess},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prog, err := Build(tt.policy)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range tt.cases {
				got, err := run(prog, Data{Arch: uint32(c.arch), Nr: int32(c.nr)})
				if err != nil {
					t.Fatalf("%v %#x: %v", c.arch, c.nr, err)
				}
				if got != c.want {
					t.Errorf("%v %#x: verdict %v, want %v", c.arch, c.nr, got, c.want)
				}
				if ref := tt.policy.Lookup(c.arch, c.nr); ref != got {
					t.Errorf("%v %#x: program says %v, Policy.Lookup says %v", c.arch, c.nr, got, ref)
				}
			}
		})
	}
}

// TestBuildMatchesLookup checks the program against Policy.Lookup for every
// number near the ones a policy mentions, on every architecture.
func TestBuildMatchesLookup(t *testing.T) {
	p := SemaphorePolicy([]int{2, 257})
	prog, err := Build(p)
	if err != nil {
		t.Fatal(err)
	}
	arches := []Arch{ArchX86_64, ArchI386, ArchAArch64, ArchARM, 0}
	for _, arch := range arches {
		for _, base := range []uint32{0, X32SyscallBit, 0x80000000} {
			for nr := base; nr < base+512; nr++ {
				got, err := run(prog, Data{Arch: uint32(arch), Nr: int32(nr)})
				if err != nil {
					t.Fatal(err)
				}
				if want := p.Lookup(arch, nr); got != want {
					t.Errorf("%v %#x: program says %v, Lookup says %v", arch, nr, got, want)
				}
			}
		}
	}
}

func TestBuildRejects(t *testing.T) {
	tests := []struct {
		name   string
		policy Policy
		want   string
	}{
		{"bad default", Policy{Default: Action(0x12345678)}, "unknown action"},
		{"errno zero", Policy{Default: ActErrno(0)}, "errno must be"},
		{"errno too big", Policy{Default: ActErrno(5000)}, "errno must be"},
		{"duplicate table", Policy{Tables: []Table{{ABI: ABI{Arch: ArchI386}}, {ABI: ABI{Arch: ArchI386}}}, Default: ActAllow}, "two tables"},
		{"x32 off x86_64", Policy{Tables: []Table{{ABI: ABI{Arch: ArchAArch64, X32: true}, Default: ActAllow}}, Default: ActAllow}, "only x86_64"},
		{"duplicate rule", Policy{Tables: []Table{{ABI: ABI{Arch: ArchI386}, Rules: Rules(ActNotify, 1, 1), Default: ActAllow}}, Default: ActAllow}, "two rules"},
		{"negative nr", Policy{Tables: []Table{{ABI: ABI{Arch: ArchI386}, Rules: Rules(ActNotify, -1), Default: ActAllow}}, Default: ActAllow}, "out of range"},
		{"x32 bit in native", Policy{Tables: []Table{{ABI: ABI{Arch: ArchX86_64}, Rules: Rules(ActNotify, X32SyscallBit|1), Default: ActAllow}}, Default: ActAllow}, "wrong x32 bit"},
		{"no x32 bit in x32", Policy{Tables: []Table{{ABI: ABI{Arch: ArchX86_64, X32: true}, Rules: Rules(ActNotify, 1), Default: ActAllow}}, Default: ActAllow}, "wrong x32 bit"},
		{"bad rule action", Policy{Tables: []Table{{ABI: ABI{Arch: ArchI386}, Rules: Rules(Action(1), 1), Default: ActAllow}}, Default: ActAllow}, "unknown action"},
		{"too long", Policy{Tables: []Table{{ABI: ABI{Arch: ArchI386}, Rules: Rules(ActNotify, seq(0, 3000)...), Default: ActAllow}}, Default: ActAllow}, "at most 4096"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Build(tt.policy)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Build error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestBuildIsDeterministic(t *testing.T) {
	a, err := Build(Policy{Tables: []Table{{ABI: ABI{Arch: ArchI386}, Rules: Rules(ActNotify, 3, 1, 2), Default: ActAllow}}, Default: ActAllow})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Build(Policy{Tables: []Table{{ABI: ABI{Arch: ArchI386}, Rules: Rules(ActNotify, 2, 3, 1), Default: ActAllow}}, Default: ActAllow})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(a) != fmt.Sprint(b) {
		t.Errorf("rule order changed the program:\n%v\n%v", a, b)
	}
}

func TestActionString(t *testing.T) {
	tests := []struct {
		a    Action
		want string
	}{
		{ActAllow, "ALLOW"},
		{ActNotify, "USER_NOTIF"},
		{ActKillProcess, "KILL_PROCESS"},
		{ActErrno(unix.ENOSYS), "ERRNO(ENOSYS)"},
		{ActErrno(4000), "ERRNO(4000)"},
		{Action(1), "Action(0x1)"},
	}
	for _, tt := range tests {
		if got := tt.a.String(); got != tt.want {
			t.Errorf("%#x.String() = %q, want %q", uint32(tt.a), got, tt.want)
		}
	}
}

// seq returns the integers in [from, to).
func seq(from, to int) []int {
	var s []int
	for i := from; i < to; i++ {
		s = append(s, i)
	}
	return s
}
