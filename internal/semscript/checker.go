package semscript

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// Mode is the kind of script a Checker runs.
type Mode int

// The two kinds of script.
const (
	Single Mode = iota // single-process scripts (Generate, c/semexec.c)
	Multi              // multi-process scripts (GenerateMulti, c/multiexec.c)
)

func (m Mode) String() string {
	if m == Multi {
		return "multi"
	}
	return "single"
}

// Checker compares the host kernel with a wrapper: it runs the same
// script through the same C executor natively and behind a command
// prefix (`sembox run --`, `runsc do`…), each in a fresh IPC namespace
// (unshare --ipc: it needs root), and compares the outputs line by line.
type Checker struct {
	Exec Executors
	// Wrap is the command prefix the executor runs behind, such as
	// {"sembox", "run", "--"}.
	Wrap []string
	// Calls bounds the calls of a random single-process script (default
	// 200), MultiCalls the lines of a multi-process one (default 100).
	Calls, MultiCalls int
	// Minimize shrinks each differing script to a minimal one that still
	// differs, trying at most MinimizeRuns scripts (default 300).
	Minimize     bool
	MinimizeRuns int
	// KernelTwice runs every multi-process script natively twice, to
	// check that the kernel's output is deterministic; otherwise only
	// those whose wrapper output differs are run twice.
	KernelTwice bool
	// LooseIDs compares the outputs after MaskIDs: for a wrapper whose
	// id allocation differs from Linux's, which would otherwise make
	// nearly every script differ at its first semget.
	LooseIDs bool
	// Context, if set, ends the runs in progress when it is done (their
	// process groups are killed) and makes later runs fail at once.
	Context context.Context
}

// Result is the comparison of one script.
type Result struct {
	Mode   Mode
	Seed   uint64 // the seed of a random script (Run)
	Script string
	Kernel string // the output natively
	// Wrapped is the output behind the wrapper; WrapErr says how that run
	// failed, if it did (exit status and standard error).
	Wrapped, WrapErr string
	// Diff is the first line where the outputs differ, or nil.
	Diff *Mismatch
	// Unstable, for a multi-process script, is the first difference
	// between two native runs: the kernel's output is not deterministic,
	// and the script compares nothing.
	Unstable *Mismatch
	// Min is the minimised script, if Minimize and Differs.
	Min *Minimal
}

// Differs reports whether the wrapper behaved unlike the kernel: another
// output or a failed run (on a script whose native output is stable).
func (r *Result) Differs() bool {
	return r.Unstable == nil && (r.Diff != nil || r.WrapErr != "")
}

// Lines is the number of calls (single) or lines (multi) of the script.
func (r *Result) Lines() int { return scriptLen(r.Mode, r.Script) }

// Minimal is a minimised differing script and its outputs.
type Minimal struct {
	Script           string
	Kernel           string
	Wrapped, WrapErr string
	Diff             *Mismatch // nil if the outputs are the same (only WrapErr)
	Runs             int       // scripts tried
}

// Lines is the number of calls or lines of the minimal script.
func (m *Minimal) Lines(mode Mode) int { return scriptLen(mode, m.Script) }

func scriptLen(mode Mode, text string) int {
	n := 0
	for range scriptLines(text) {
		n++
	}
	return n
}

// Generate returns the random script of mode for seed, as Run makes it.
func (c *Checker) Generate(mode Mode, seed uint64) string {
	if mode == Multi {
		return GenerateMulti(seed, orDefault(c.MultiCalls, 100))
	}
	return Generate(seed, orDefault(c.Calls, 200))
}

func orDefault(v, def int) int {
	if v <= 0 {
		return def
	}
	return v
}

// Run compares the random script of mode for seed.
func (c *Checker) Run(mode Mode, seed uint64) (*Result, error) {
	r, err := c.RunScript(mode, c.Generate(mode, seed))
	if r != nil {
		r.Seed = seed
	}
	return r, err
}

// RunScript compares script. An error means that the comparison could
// not be made: the script does not parse, or the native run failed.
func (c *Checker) RunScript(mode Mode, script string) (*Result, error) {
	switch mode {
	case Single:
		if _, err := Parse(script); err != nil {
			return nil, err
		}
	case Multi:
		if _, err := ParseMulti(script); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("bad mode %d", mode)
	}
	r := &Result{Mode: mode, Script: script}
	var err error
	if r.Kernel, err = c.native(mode, script); err != nil {
		return r, err
	}
	r.Wrapped, r.WrapErr = c.wrapped(mode, script)
	r.Diff = Compare(r.Kernel, r.Wrapped)
	if mode == Multi && (c.KernelTwice || r.Diff != nil || r.WrapErr != "") {
		again, err := c.native(mode, script)
		if err != nil {
			return r, err
		}
		r.Unstable = Compare(r.Kernel, again)
	}
	if r.Differs() && c.Minimize {
		r.Min = c.minimize(r)
	}
	return r, nil
}

func (c *Checker) ctx() context.Context {
	if c.Context == nil {
		return context.Background()
	}
	return c.Context
}

// native runs script natively.
func (c *Checker) native(mode Mode, script string) (string, error) {
	if err := c.ctx().Err(); err != nil {
		return "", err
	}
	exe := c.Exec.Single
	if mode == Multi {
		exe = c.Exec.Multi
	}
	out, status, err := runExecutorContext(c.ctx(), script, exe)
	if c.LooseIDs {
		out = MaskIDs(out)
	}
	switch {
	case err == nil:
		return out, nil
	case mode == Multi && status == 1:
		return out, fmt.Errorf("%w: %s", ErrMultiRun, lastLine(out))
	case status == 2:
		return out, fmt.Errorf("%w: %v", ErrScript, err)
	default:
		return out, fmt.Errorf("native executor: %v", err)
	}
}

// wrapped runs script behind the wrapper, and says how that run failed,
// if it did.
func (c *Checker) wrapped(mode Mode, script string) (out, failed string) {
	exe := c.Exec.Single
	if mode == Multi {
		exe = c.Exec.Multi
	}
	args := append(append([]string{}, c.Wrap...), exe)
	out, status, err := runExecutorContext(c.ctx(), script, args...)
	if c.LooseIDs {
		out = MaskIDs(out)
	}
	if err == nil {
		return out, ""
	}
	switch {
	case mode == Multi && status == 1:
		return out, "the executor gave up (exit status 1): " + lastLine(out)
	case status == 2:
		return out, fmt.Sprintf("the executor rejected the script: %v", err)
	}
	return out, err.Error()
}

func lastLine(s string) string {
	s = strings.TrimSuffix(s, "\n")
	return s[strings.LastIndexByte(s, '\n')+1:]
}

// differs runs script as RunScript does, without minimising, and reports
// whether it differs; out holds the outputs if so.
func (c *Checker) differs(mode Mode, script string, out *Minimal) bool {
	kernel, err := c.native(mode, script)
	if err != nil {
		return false
	}
	wrapped, failed := c.wrapped(mode, script)
	diff := Compare(kernel, wrapped)
	if diff == nil && failed == "" {
		return false
	}
	if mode == Multi {
		again, err := c.native(mode, script)
		if err != nil || Compare(kernel, again) != nil {
			return false
		}
	}
	*out = Minimal{Script: script, Kernel: kernel, Wrapped: wrapped, WrapErr: failed, Diff: diff}
	return true
}

// errBudget ends a minimisation that has tried MinimizeRuns scripts.
var errBudget = errors.New("budget")

// minimize shrinks r's script while it still differs.
func (c *Checker) minimize(r *Result) *Minimal {
	budget := orDefault(c.MinimizeRuns, 300)
	runs := 0
	last := Minimal{Script: r.Script, Kernel: r.Kernel, Wrapped: r.Wrapped, WrapErr: r.WrapErr, Diff: r.Diff}
	try := func(text string) bool {
		if runs >= budget {
			return false
		}
		runs++
		var m Minimal
		if !c.differs(r.Mode, text, &m) {
			return false
		}
		last = m
		return true
	}
	var text string
	switch r.Mode {
	case Single:
		s := MustParse(r.Script)
		// Each call prints one line: the calls after the first
		// differing line are likely not needed.
		if r.Diff != nil && r.Diff.Line+1 < len(s.Calls) {
			drop := map[int]bool{}
			for i := r.Diff.Line + 1; i < len(s.Calls); i++ {
				drop[i] = true
			}
			if t := s.without(drop); t != nil && try(t.Text()) {
				s = t
			}
		}
		text = Minimize(s, func(x *Script) bool { return try(x.Text()) }).Text()
	case Multi:
		s, _ := ParseMulti(r.Script)
		text = MinimizeMulti(s, func(x *MultiScript) bool { return try(x.Text()) }).Text()
	}
	if text != last.Script {
		// Nothing smaller differed: the original script and outputs.
		last = Minimal{Script: r.Script, Kernel: r.Kernel, Wrapped: r.Wrapped, WrapErr: r.WrapErr, Diff: r.Diff}
	}
	last.Runs = runs
	return &last
}

// Report renders a differing or unstable result as readable text: the
// (minimal) script, both outputs and the first differing line; the other
// side is labelled name.
func (r *Result) Report(name string) string {
	var b strings.Builder
	what := fmt.Sprintf("%s seed %d", r.Mode, r.Seed)
	unit := "calls"
	if r.Mode == Multi {
		unit = "lines"
	}
	if r.Unstable != nil {
		fmt.Fprintf(&b, "%s: the kernel's output is not deterministic (two native runs differ at line %d); not compared\n",
			what, r.Unstable.Line+1)
		fmt.Fprintf(&b, "script (%d %s):\n%s", r.Lines(), unit, indentText(r.Script))
		fmt.Fprintf(&b, "first difference:\n%s", r.Unstable.ReportAs(r.Kernel, "again", 0))
		return b.String()
	}
	script, kernel, wrapped, failed, diff := r.Script, r.Kernel, r.Wrapped, r.WrapErr, r.Diff
	head := fmt.Sprintf("script (%d %s):\n", r.Lines(), unit)
	if m := r.Min; m != nil {
		script, kernel, wrapped, failed, diff = m.Script, m.Kernel, m.Wrapped, m.WrapErr, m.Diff
		tried := "scripts"
		if m.Runs == 1 {
			tried = "script"
		}
		head = fmt.Sprintf("minimal script (%d of %d %s; %d smaller %s tried):\n", m.Lines(r.Mode), r.Lines(), unit, m.Runs, tried)
	}
	if diff != nil {
		fmt.Fprintf(&b, "%s: %s differs from the kernel at output line %d\n", what, name, diff.Line+1)
	} else {
		fmt.Fprintf(&b, "%s: %s failed\n", what, name)
	}
	b.WriteString(head)
	b.WriteString(indentText(script))
	fmt.Fprintf(&b, "kernel output:\n%s", indentText(kernel))
	fmt.Fprintf(&b, "%s output:\n%s", name, indentText(wrapped))
	if failed != "" {
		fmt.Fprintf(&b, "%s failed: %s\n", name, failed)
	}
	if diff != nil {
		fmt.Fprintf(&b, "first difference:\n%s", diff.ReportAs(kernel, name, 0))
	}
	return b.String()
}

// indentText indents every line of s by four spaces; an empty s is
// "    (none)".
func indentText(s string) string {
	if s == "" {
		return "    (none)\n"
	}
	return "    " + strings.ReplaceAll(strings.TrimSuffix(s, "\n"), "\n", "\n    ") + "\n"
}

// MaskIDs rewrites the ids that an output's calls return (semget, cycle,
// SEM_STAT and SEM_STAT_ANY results) as id#K, K counting the distinct ids
// in order of first appearance, so that two outputs compare equal when
// they differ only in how ids are allocated. Everything else, including
// what a call does with a raw or stale id, is compared as it is.
func MaskIDs(out string) string {
	seen := map[string]int{}
	lines := strings.Split(out, "\n")
	for i, line := range lines {
		call, res, ok := strings.Cut(line, " "+Arrow+" ")
		if !ok {
			continue
		}
		w := strings.Fields(call)
		if len(w) > 2 && w[0] == "p" {
			w = w[2:] // multi-process: "p N CALL..."
		}
		if len(w) == 0 {
			continue
		}
		returnsID := w[0] == "semget" || w[0] == "cycle" ||
			w[0] == "semctl" && len(w) > 3 && (w[3] == "SEM_STAT" || w[3] == "SEM_STAT_ANY")
		ret, rest, _ := strings.Cut(res, " ")
		if !returnsID || ret == "-1" || !strings.HasPrefix(rest, "OK") {
			continue
		}
		k, ok := seen[ret]
		if !ok {
			k = len(seen)
			seen[ret] = k
		}
		lines[i] = fmt.Sprintf("%s %s id#%d %s", call, Arrow, k, rest)
	}
	return strings.Join(lines, "\n")
}
