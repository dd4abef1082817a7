package seccomp

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// This file turns a Policy into classic BPF. The program has this shape:
//
//	    ld  [arch]
//	    jeq #ARCH_1, 0, 1 ; ja arch_1     one pair per architecture
//	    ...
//	    ret #Policy.Default               unknown architecture
//	arch_1:
//	    ld  [nr]
//	    jset #X32SyscallBit, 0, 1 ; ja x32  x86-64 only
//	    jeq #NR_1, 0, 1 ; ret #ACTION_1   one pair per rule
//	    ...
//	    ret #Table.Default
//	x32:
//	    ...
//
// Every conditional jump goes to the next instruction or the one after it,
// and the far jumps use ja with its 32-bit offset, so the program is valid
// whatever the size of the policy (up to BPF_MAXINSNS instructions).

// Classic BPF opcodes used by the program.
const (
	opLoadAbs = unix.BPF_LD | unix.BPF_W | unix.BPF_ABS
	opJeq     = unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K
	opJset    = unix.BPF_JMP | unix.BPF_JSET | unix.BPF_K
	opJa      = unix.BPF_JMP | unix.BPF_JA
	opRet     = unix.BPF_RET | unix.BPF_K
)

// Build compiles p into a seccomp BPF program for [Install].
func Build(p Policy) ([]unix.SockFilter, error) {
	if err := p.validate(); err != nil {
		return nil, err
	}
	var a assembler

	// Group the tables by architecture, in the order the policy lists them.
	type archTables struct {
		arch        Arch
		native, x32 *Table
		label       label
	}
	var arches []*archTables
	byArch := make(map[Arch]*archTables)
	for i := range p.Tables {
		t := &p.Tables[i]
		at := byArch[t.ABI.Arch]
		if at == nil {
			at = &archTables{arch: t.ABI.Arch, label: a.newLabel()}
			byArch[t.ABI.Arch] = at
			arches = append(arches, at)
		}
		if t.ABI.X32 {
			at.x32 = t
		} else {
			at.native = t
		}
	}

	a.stmt(opLoadAbs, offsetArch)
	for _, at := range arches {
		a.jump(opJeq, uint32(at.arch), next, skip1)
		a.ja(at.label)
	}
	a.stmt(opRet, uint32(p.Default))

	for _, at := range arches {
		a.bind(at.label)
		a.stmt(opLoadAbs, offsetNr)
		if at.arch == ArchX86_64 {
			x32 := a.newLabel()
			a.jump(opJset, X32SyscallBit, next, skip1)
			a.ja(x32)
			emitTable(&a, at.native, p.Default)
			a.bind(x32)
			emitTable(&a, at.x32, p.Default)
		} else {
			emitTable(&a, at.native, p.Default)
		}
	}
	return a.assemble()
}

// emitTable emits the rules of t, which may be nil (then every call gets
// dflt), for a system call number already loaded into the accumulator.
func emitTable(a *assembler, t *Table, dflt Action) {
	if t == nil {
		a.stmt(opRet, uint32(dflt))
		return
	}
	for _, r := range t.sortedRules() {
		if r.Action == t.Default {
			continue
		}
		a.jump(opJeq, uint32(r.Nr), next, skip1)
		a.stmt(opRet, uint32(r.Action))
	}
	a.stmt(opRet, uint32(t.Default))
}

// label names a position in a program under construction. The two
// predefined labels are relative: next is the following instruction and
// skip1 the one after it.
type label int

const (
	next  label = -1
	skip1 label = -2
)

// assembler accumulates BPF instructions whose jump targets may be labels
// bound later, and resolves them in assemble.
type assembler struct {
	insns  []unix.SockFilter
	labels []int // position of each label, -1 while unbound
	fixups []fixup
}

// fixup records a jump whose offsets are resolved in assemble.
type fixup struct {
	at     int   // index of the jump instruction
	jt, jf label // targets; for ja only jt is used
}

// newLabel returns a fresh, unbound label.
func (a *assembler) newLabel() label {
	a.labels = append(a.labels, -1)
	return label(len(a.labels) - 1)
}

// bind places l at the next instruction to be emitted.
func (a *assembler) bind(l label) { a.labels[l] = len(a.insns) }

// stmt emits a non-jump instruction.
func (a *assembler) stmt(code uint16, k uint32) {
	a.insns = append(a.insns, unix.SockFilter{Code: code, K: k})
}

// jump emits a conditional jump comparing the accumulator with k.
func (a *assembler) jump(code uint16, k uint32, jt, jf label) {
	a.fixups = append(a.fixups, fixup{at: len(a.insns), jt: jt, jf: jf})
	a.insns = append(a.insns, unix.SockFilter{Code: code, K: k})
}

// ja emits an unconditional jump to l.
func (a *assembler) ja(l label) {
	a.fixups = append(a.fixups, fixup{at: len(a.insns), jt: l})
	a.insns = append(a.insns, unix.SockFilter{Code: opJa})
}

// target returns the absolute position of l as seen from the jump at pc.
func (a *assembler) target(pc int, l label) (int, error) {
	switch l {
	case next:
		return pc + 1, nil
	case skip1:
		return pc + 2, nil
	}
	if a.labels[l] < 0 {
		return 0, fmt.Errorf("seccomp: internal error: label %d not bound", l)
	}
	return a.labels[l], nil
}

// offset returns the BPF jump offset from pc to l, checking that the jump
// goes forward, stays inside the program and fits in limit.
func (a *assembler) offset(pc int, l label, limit int) (int, error) {
	t, err := a.target(pc, l)
	if err != nil {
		return 0, err
	}
	off := t - pc - 1
	if off < 0 || t >= len(a.insns) || off > limit {
		return 0, fmt.Errorf("seccomp: internal error: jump from %d to %d out of range", pc, t)
	}
	return off, nil
}

// assemble resolves the jumps and returns the finished program.
func (a *assembler) assemble() ([]unix.SockFilter, error) {
	if n := len(a.insns); n > unix.BPF_MAXINSNS {
		return nil, fmt.Errorf("seccomp: program has %d instructions, the kernel accepts at most %d", n, unix.BPF_MAXINSNS)
	}
	for _, f := range a.fixups {
		in := &a.insns[f.at]
		if in.Code == opJa {
			off, err := a.offset(f.at, f.jt, 1<<31-1)
			if err != nil {
				return nil, err
			}
			in.K = uint32(off)
			continue
		}
		jt, err := a.offset(f.at, f.jt, 255)
		if err != nil {
			return nil, err
		}
		jf, err := a.offset(f.at, f.jf, 255)
		if err != nil {
			return nil, err
		}
		in.Jt, in.Jf = uint8(jt), uint8(jf)
	}
	if last := a.insns[len(a.insns)-1]; last.Code != opRet {
		return nil, fmt.Errorf("seccomp: internal error: program does not end with ret")
	}
	return a.insns, nil
}
