package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"

	"github.com/sembox/sembox/internal/semscript"
)

// conformOptions are the flags of `sembox conform`.
type conformOptions struct {
	wrap         []string
	seeds        int
	seed         uint64
	modes        []semscript.Mode
	json         bool
	keep         string
	jobs         int
	calls        int
	multiCalls   int
	minimize     bool
	minimizeRuns int
	cc           string
	cacheDir     string
	verbose      bool
	looseIDs     bool
}

const conformUsage = `usage: sembox conform --wrap "CMD PREFIX" [--seeds N] [--seed S] [--single|--multi|--both]
                      [--json] [--keep DIR] [--jobs N] [--calls N] [--multi-calls N]
                      [--no-minimize] [--minimize-runs N] [--loose-ids] [--cc CC]
                      [--cache DIR] [-v]
`

// parseConformArgs parses the arguments of `sembox conform`.
func parseConformArgs(args []string, stderr io.Writer) (*conformOptions, error) {
	o := &conformOptions{}
	fs := flag.NewFlagSet("sembox conform", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, conformUsage)
		fs.PrintDefaults()
	}
	wrap := fs.String("wrap", "", "the command prefix to check, split at spaces ('…' and \"…\" quote): the executor's path is appended")
	fs.IntVar(&o.seeds, "seeds", 100, "number of random scripts of each kind")
	fs.Uint64Var(&o.seed, "seed", 1, "first seed")
	single := fs.Bool("single", false, "single-process scripts only")
	multi := fs.Bool("multi", false, "multi-process scripts only")
	both := fs.Bool("both", false, "both kinds of script (the default)")
	fs.BoolVar(&o.json, "json", false, "print the report as JSON")
	fs.StringVar(&o.keep, "keep", "", "write the scripts and outputs of every difference into this directory")
	fs.IntVar(&o.jobs, "jobs", runtime.NumCPU(), "scripts compared at once")
	fs.IntVar(&o.calls, "calls", 200, "at most this many calls in a single-process script")
	fs.IntVar(&o.multiCalls, "multi-calls", 100, "at most this many lines in a multi-process script")
	noMin := fs.Bool("no-minimize", false, "report differing scripts whole")
	fs.IntVar(&o.minimizeRuns, "minimize-runs", 300, "at most this many scripts tried to minimise one difference")
	fs.StringVar(&o.cc, "cc", "", "C compiler for the executors (default $CC, or cc)")
	fs.StringVar(&o.cacheDir, "cache", "", "directory of the compiled executors (default the user cache directory's sembox)")
	fs.BoolVar(&o.looseIDs, "loose-ids", false, "compare the ids calls return by order of first appearance, not raw (for a wrapper that allocates ids unlike Linux)")
	fs.BoolVar(&o.verbose, "v", false, "print one line per script to standard error as it finishes")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	var err error
	if o.wrap, err = splitWords(*wrap); err != nil {
		return nil, fmt.Errorf("--wrap: %v", err)
	}
	if len(o.wrap) == 0 {
		return nil, errors.New(`--wrap "CMD PREFIX" is required (such as --wrap "sembox run --")`)
	}
	if o.seeds < 1 || o.jobs < 1 || o.calls < 1 || o.multiCalls < 1 || o.minimizeRuns < 1 {
		return nil, errors.New("--seeds, --jobs, --calls, --multi-calls and --minimize-runs must be at least 1")
	}
	if o.seed > ^uint64(0)-uint64(o.seeds) {
		return nil, errors.New("--seed: the seeds would wrap around")
	}
	o.minimize = !*noMin
	switch {
	case *both || *single == *multi:
		o.modes = []semscript.Mode{semscript.Single, semscript.Multi}
	case *single:
		o.modes = []semscript.Mode{semscript.Single}
	default:
		o.modes = []semscript.Mode{semscript.Multi}
	}
	return o, nil
}

// splitWords splits s at spaces and tabs; '…' and "…" quote (no escapes).
func splitWords(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	var quote rune
	for _, r := range s {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case r == '\'' || r == '"':
			quote, inWord = r, true
		case r == ' ' || r == '\t' || r == '\n':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("unterminated %c", quote)
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

// conformItem is one script of the run and what came of it.
type conformItem struct {
	mode semscript.Mode
	seed uint64
	res  *semscript.Result
	err  error
}

// conform implements `sembox conform`: the differential checker
// (internal/semscript) against any command prefix.
func conform(args []string, stdout, stderr io.Writer) int {
	o, err := parseConformArgs(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "sembox conform: %v\n%s", err, conformUsage)
		return 2
	}
	fail := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "sembox conform: "+format+"\n", a...)
		return 2
	}
	if _, err := exec.LookPath(o.wrap[0]); err != nil {
		return fail("--wrap: %v", err)
	}
	if err := semscript.CheckUnshare(); err != nil {
		return fail("the kernel side runs in fresh IPC namespaces, which needs root: %v", err)
	}
	cacheDir := o.cacheDir
	if cacheDir == "" {
		if cacheDir, err = semscript.DefaultCacheDir(); err != nil {
			tmp, err2 := os.MkdirTemp("", "sembox-conform-")
			if err2 != nil {
				return fail("no cache directory (%v) and no temporary one: %v", err, err2)
			}
			defer os.RemoveAll(tmp)
			cacheDir = tmp
		}
	}
	ex, err := semscript.CachedExecutors(cacheDir, o.cc)
	if err != nil {
		return fail("building the executors: %v", err)
	}
	if o.keep != "" {
		if err := os.MkdirAll(o.keep, 0o755); err != nil {
			return fail("--keep: %v", err)
		}
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	c := &semscript.Checker{
		Exec:         ex,
		Wrap:         o.wrap,
		Calls:        o.calls,
		MultiCalls:   o.multiCalls,
		Minimize:     o.minimize,
		MinimizeRuns: o.minimizeRuns,
		LooseIDs:     o.looseIDs,
		Context:      ctx,
	}
	// An empty script prints nothing: a wrapper that cannot run the
	// executor at all is a setup problem, not a thousand differences.
	if r, err := c.RunScript(semscript.Single, ""); err != nil {
		return fail("the executor does not run natively: %v", err)
	} else if r.Differs() {
		msg := r.WrapErr
		if msg == "" {
			msg = "it printed " + fmt.Sprintf("%q", r.Wrapped)
		}
		return fail("the wrapper cannot run the executor %s on an empty script: %s", ex.Single, msg)
	}

	var items []*conformItem
	for _, m := range o.modes {
		for i := range o.seeds {
			items = append(items, &conformItem{mode: m, seed: o.seed + uint64(i)})
		}
	}
	work := make(chan *conformItem)
	var wg sync.WaitGroup
	var mu sync.Mutex // stderr
	for range min(o.jobs, len(items)) {
		wg.Go(func() {
			for it := range work {
				it.res, it.err = c.Run(it.mode, it.seed)
				if o.verbose {
					mu.Lock()
					fmt.Fprintf(stderr, "conform: %s seed %d: %s\n", it.mode, it.seed, it.status())
					mu.Unlock()
				}
			}
		})
	}
	for _, it := range items {
		if ctx.Err() != nil {
			break
		}
		work <- it
	}
	close(work)
	wg.Wait()
	if ctx.Err() != nil {
		fmt.Fprintln(stderr, "sembox conform: interrupted")
		return 130
	}

	rep := newConformReport(o, items)
	if o.keep != "" {
		if err := keepDifferences(o.keep, items); err != nil {
			fmt.Fprintf(stderr, "sembox conform: --keep: %v\n", err)
		}
	}
	if o.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		if err := enc.Encode(rep); err != nil {
			return fail("%v", err)
		}
	} else {
		writeConformText(stdout, rep, items)
	}
	switch {
	case rep.Summary.Differ > 0:
		return 1
	case rep.Summary.Errors > 0:
		return 2
	}
	return 0
}

func (it *conformItem) status() string {
	switch {
	case it.err != nil:
		return "error: " + it.err.Error()
	case it.res.Unstable != nil:
		return "kernel output not deterministic"
	case it.res.Differs():
		return "differs"
	}
	return "same"
}

// The JSON report. Arrays are never null.
type conformReport struct {
	Wrapper     []string          `json:"wrapper"`
	Kernel      string            `json:"kernel"` // the host kernel's release
	FirstSeed   uint64            `json:"first_seed"`
	Seeds       int               `json:"seeds"`
	Modes       []string          `json:"modes"`
	LooseIDs    bool              `json:"loose_ids"`
	Summary     conformSummary    `json:"summary"`
	Differences []conformDiff     `json:"differences"`
	Unstable    []conformUnstable `json:"unstable"`
	Errors      []conformError    `json:"errors"`
}

type conformSummary struct {
	Scripts  int `json:"scripts"`
	Same     int `json:"same"`
	Differ   int `json:"differ"`
	Unstable int `json:"unstable"`
	Errors   int `json:"errors"`
}

// conformDiff is one differing script: Script, Kernel and Wrapper are the
// minimal script (if Minimized) and its outputs; Line is the first
// differing output line (1-based; 0 if the outputs are the same and only
// the wrapper's run failed), KernelLine and WrapperLine that line of each
// output ("" where the output ended).
type conformDiff struct {
	Mode           string `json:"mode"`
	Seed           uint64 `json:"seed"`
	Minimized      bool   `json:"minimized"`
	Lines          int    `json:"lines"` // calls or lines of Script
	Script         string `json:"script"`
	Kernel         string `json:"kernel"`
	Wrapper        string `json:"wrapper"`
	WrapperError   string `json:"wrapper_error"`
	Line           int    `json:"line"`
	KernelLine     string `json:"kernel_line"`
	WrapperLine    string `json:"wrapper_line"`
	OriginalLines  int    `json:"original_lines"`
	OriginalScript string `json:"original_script"`
	Runs           int    `json:"minimize_runs"`
}

type conformUnstable struct {
	Mode   string `json:"mode"`
	Seed   uint64 `json:"seed"`
	Line   int    `json:"line"`
	First  string `json:"first"`
	Second string `json:"second"`
}

type conformError struct {
	Mode  string `json:"mode"`
	Seed  uint64 `json:"seed"`
	Error string `json:"error"`
}

func newConformReport(o *conformOptions, items []*conformItem) *conformReport {
	rep := &conformReport{
		Wrapper:     o.wrap,
		Kernel:      kernelRelease(),
		FirstSeed:   o.seed,
		Seeds:       o.seeds,
		LooseIDs:    o.looseIDs,
		Modes:       []string{},
		Differences: []conformDiff{},
		Unstable:    []conformUnstable{},
		Errors:      []conformError{},
	}
	for _, m := range o.modes {
		rep.Modes = append(rep.Modes, m.String())
	}
	for _, it := range items {
		rep.Summary.Scripts++
		r := it.res
		switch {
		case it.err != nil:
			rep.Summary.Errors++
			rep.Errors = append(rep.Errors, conformError{it.mode.String(), it.seed, it.err.Error()})
		case r.Unstable != nil:
			rep.Summary.Unstable++
			rep.Unstable = append(rep.Unstable, conformUnstable{it.mode.String(), it.seed,
				r.Unstable.Line + 1, r.Unstable.Native, r.Unstable.Engine})
		case r.Differs():
			rep.Summary.Differ++
			d := conformDiff{Mode: it.mode.String(), Seed: it.seed, OriginalLines: r.Lines(), OriginalScript: r.Script,
				Script: r.Script, Lines: r.Lines(), Kernel: r.Kernel, Wrapper: r.Wrapped, WrapperError: r.WrapErr}
			diff := r.Diff
			if m := r.Min; m != nil {
				d.Minimized, d.Runs = true, m.Runs
				d.Script, d.Lines, d.Kernel, d.Wrapper, d.WrapperError = m.Script, m.Lines(r.Mode), m.Kernel, m.Wrapped, m.WrapErr
				diff = m.Diff
			}
			if diff != nil {
				d.Line, d.KernelLine, d.WrapperLine = diff.Line+1, diff.Native, diff.Engine
			}
			rep.Differences = append(rep.Differences, d)
		default:
			rep.Summary.Same++
		}
	}
	return rep
}

// writeConformText prints the readable report: each difference (minimal
// script, both outputs, first differing line), the unstable scripts, the
// errors, and a summary line.
func writeConformText(w io.Writer, rep *conformReport, items []*conformItem) {
	rule := strings.Repeat("─", 72)
	for _, it := range items {
		if it.err == nil && (it.res.Differs() || it.res.Unstable != nil) {
			fmt.Fprintf(w, "%s\n%s", rule, it.res.Report("wrapper"))
		}
	}
	for _, e := range rep.Errors {
		fmt.Fprintf(w, "%s\n%s seed %d: not compared: %s\n", rule, e.Mode, e.Seed, e.Error)
	}
	if rep.Summary.Differ+rep.Summary.Unstable+rep.Summary.Errors > 0 {
		fmt.Fprintln(w, rule)
	}
	s := rep.Summary
	loose := ""
	if rep.LooseIDs {
		loose = ", ids by order"
	}
	fmt.Fprintf(w, "conform: %d scripts (%s, seeds %d-%d%s) under %q vs Linux %s: %d same, %d differ, %d unstable, %d errors\n",
		s.Scripts, strings.Join(rep.Modes, "+"), rep.FirstSeed, rep.FirstSeed+uint64(rep.Seeds)-1, loose,
		strings.Join(rep.Wrapper, " "), rep.Kernel, s.Same, s.Differ, s.Unstable, s.Errors)
}

// keepDifferences writes, for every differing script, MODE-seedN.script
// and its .kernel and .wrapper outputs, and the minimal script and its
// outputs as MODE-seedN.min.*.
func keepDifferences(dir string, items []*conformItem) error {
	var errs []error
	write := func(name, text string) {
		errs = append(errs, os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644))
	}
	for _, it := range items {
		if it.err != nil || !it.res.Differs() {
			continue
		}
		r := it.res
		base := fmt.Sprintf("%s-seed%d", it.mode, it.seed)
		write(base+".script", r.Script)
		write(base+".kernel", r.Kernel)
		write(base+".wrapper", r.Wrapped)
		if m := r.Min; m != nil {
			write(base+".min.script", m.Script)
			write(base+".min.kernel", m.Kernel)
			write(base+".min.wrapper", m.Wrapped)
		}
	}
	return errors.Join(errs...)
}

// kernelRelease is the host kernel's release (uname -r).
func kernelRelease() string {
	b, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		return "?"
	}
	return strings.TrimSpace(string(b))
}
