package seccomp

import (
	"fmt"
	"sort"

	"golang.org/x/sys/unix"
)

// Arch is a Linux audit architecture (AUDIT_ARCH_*): the value the kernel
// puts in seccomp_data.arch to say which calling convention, and so which
// system call table, a call uses.
type Arch uint32

// Architectures that sembox knows about. A 64-bit kernel may run code of
// more than one of them: x86-64 kernels also take i386 system calls (int
// $0x80, or a 32-bit process), arm64 kernels may take 32-bit ARM ones.
const (
	ArchX86_64  Arch = unix.AUDIT_ARCH_X86_64
	ArchI386    Arch = unix.AUDIT_ARCH_I386
	ArchAArch64 Arch = unix.AUDIT_ARCH_AARCH64
	ArchARM     Arch = unix.AUDIT_ARCH_ARM
)

// String returns the architecture's conventional name.
func (a Arch) String() string {
	switch a {
	case ArchX86_64:
		return "x86_64"
	case ArchI386:
		return "i386"
	case ArchAArch64:
		return "aarch64"
	case ArchARM:
		return "arm"
	}
	return fmt.Sprintf("Arch(%#x)", uint32(a))
}

// ABI identifies one system call table: an architecture and, for
// ArchX86_64, whether the call used the x32 ABI (whose numbers carry
// X32SyscallBit).
type ABI struct {
	Arch Arch
	X32  bool
}

// String returns the ABI's name, for example "x86_64" or "x86_64/x32".
func (a ABI) String() string {
	if a.X32 {
		return a.Arch.String() + "/x32"
	}
	return a.Arch.String()
}

// Rule gives the action for one system call number.
type Rule struct {
	// Nr is the number as it appears in seccomp_data.nr: for an x32 table it
	// includes X32SyscallBit.
	Nr int
	// Action is the verdict for the call.
	Action Action
}

// Table is the part of a policy that concerns one ABI.
type Table struct {
	ABI ABI
	// Rules lists the calls with a verdict other than Default. Each number
	// may appear once.
	Rules []Rule
	// Default is the verdict for the ABI's other calls.
	Default Action
}

// Policy describes what a seccomp filter does with every system call, per
// ABI. It is plain data; [Build] compiles it into a BPF program.
type Policy struct {
	// Tables lists the ABIs the filter tells apart; at most one per ABI.
	Tables []Table
	// Default is the verdict for calls made through an ABI that has no
	// table. On x86-64, native and x32 calls are told apart even if the
	// policy has a table for only one of them, so that a rule for a native
	// number cannot be sidestepped through the x32 alias of the same call.
	Default Action
}

// Rules returns one rule per number in nrs, each with verdict act; a
// convenience for building tables.
func Rules(act Action, nrs ...int) []Rule {
	rules := make([]Rule, len(nrs))
	for i, nr := range nrs {
		rules[i] = Rule{Nr: nr, Action: act}
	}
	return rules
}

// Lookup returns the verdict p gives to system call nr made through arch,
// as the program built from p will: the reference semantics of Build.
func (p Policy) Lookup(arch Arch, nr uint32) Action {
	abi := ABI{Arch: arch}
	if arch == ArchX86_64 && nr&X32SyscallBit != 0 {
		abi.X32 = true
	}
	for _, t := range p.Tables {
		if t.ABI != abi {
			continue
		}
		for _, r := range t.Rules {
			if uint32(r.Nr) == nr {
				return r.Action
			}
		}
		return t.Default
	}
	return p.Default
}

// validate checks p for mistakes that would make the program wrong.
func (p Policy) validate() error {
	if err := p.Default.validate(); err != nil {
		return fmt.Errorf("policy default: %w", err)
	}
	seen := make(map[ABI]bool)
	for _, t := range p.Tables {
		if seen[t.ABI] {
			return fmt.Errorf("seccomp: policy has two tables for %v", t.ABI)
		}
		seen[t.ABI] = true
		if t.ABI.X32 && t.ABI.Arch != ArchX86_64 {
			return fmt.Errorf("seccomp: x32 table for %v: only x86_64 has x32", t.ABI.Arch)
		}
		if err := t.Default.validate(); err != nil {
			return fmt.Errorf("%v default: %w", t.ABI, err)
		}
		nrs := make(map[int]bool)
		for _, r := range t.Rules {
			if r.Nr < 0 || r.Nr > 0xffffffff {
				return fmt.Errorf("seccomp: %v: syscall number %d out of range", t.ABI, r.Nr)
			}
			if t.ABI.Arch == ArchX86_64 && (r.Nr&X32SyscallBit != 0) != t.ABI.X32 {
				return fmt.Errorf("seccomp: %v: syscall number %#x has the wrong x32 bit", t.ABI, r.Nr)
			}
			if nrs[r.Nr] {
				return fmt.Errorf("seccomp: %v: two rules for syscall %d", t.ABI, r.Nr)
			}
			nrs[r.Nr] = true
			if err := r.Action.validate(); err != nil {
				return fmt.Errorf("%v syscall %d: %w", t.ABI, r.Nr, err)
			}
		}
	}
	return nil
}

// sortedRules returns t's rules ordered by number, so that the emitted
// program does not depend on the order the caller listed them in.
func (t Table) sortedRules() []Rule {
	rules := append([]Rule(nil), t.Rules...)
	sort.Slice(rules, func(i, j int) bool { return rules[i].Nr < rules[j].Nr })
	return rules
}
