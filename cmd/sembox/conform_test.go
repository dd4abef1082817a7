package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/sembox/sembox/internal/semscript"
)

func TestSplitWords(t *testing.T) {
	for in, want := range map[string][]string{
		"sembox run --":                {"sembox", "run", "--"},
		"  runsc\t--network=none  do ": {"runsc", "--network=none", "do"},
		`sh -c 'exec "$@"' sh`:         {"sh", "-c", `exec "$@"`, "sh"},
		`a "" b`:                       {"a", "", "b"},
		"":                             nil,
	} {
		got, err := splitWords(in)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("splitWords(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := splitWords(`a 'b`); err == nil {
		t.Error("an unterminated quote was accepted")
	}
}

func TestParseConformArgs(t *testing.T) {
	o, err := parseConformArgs([]string{"--wrap", "x run --", "--seeds", "5", "--seed=7", "--multi", "--json", "--no-minimize"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(o.wrap, []string{"x", "run", "--"}) || o.seeds != 5 || o.seed != 7 || !o.json || o.minimize ||
		!reflect.DeepEqual(o.modes, []semscript.Mode{semscript.Multi}) {
		t.Fatalf("%+v", o)
	}
	for _, args := range [][]string{{"--wrap", "x"}, {"--wrap", "x", "--single", "--multi"}, {"--wrap", "x", "--both"}} {
		o, err := parseConformArgs(args, io.Discard)
		if err != nil || len(o.modes) != 2 {
			t.Errorf("%q: modes %v, %v; want both", args, o.modes, err)
		}
	}
	for _, args := range [][]string{{}, {"--wrap", ""}, {"--wrap", "x", "extra"}, {"--wrap", "x", "--seeds", "0"},
		{"--wrap", "x", "--frobnicate"}, {"--wrap", "x", "--seed", "18446744073709551615"}} {
		if _, err := parseConformArgs(args, io.Discard); err == nil {
			t.Errorf("%q accepted", args)
		}
	}
}

// TestConform runs the built sembox's conform command against `sembox
// run` (every script must match: exit 0) and against `sembox run
// --bench-floor` (which answers every trapped call with 0 without
// serving it: exit 1 with a report naming a differing line).
func TestConform(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root for unshare --ipc")
	}
	if _, err := exec.LookPath("cc"); err != nil {
		t.Skip("needs a C compiler for the executors")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "sembox")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cache := filepath.Join(dir, "cache")
	conform := func(args ...string) (string, string, int) {
		t.Helper()
		cmd := exec.Command(bin, append([]string{"conform", "--cache", cache}, args...)...)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		code := 0
		if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return stdout.String(), stderr.String(), code
	}

	out, errOut, code := conform("--wrap", bin+" run --", "--seeds", "20", "--both")
	if code != 0 {
		t.Fatalf("conform against sembox run: exit %d\n%s%s", code, out, errOut)
	}
	if !strings.Contains(out, "40 scripts (single+multi, seeds 1-20)") || !strings.Contains(out, "40 same, 0 differ, 0 unstable, 0 errors") {
		t.Fatalf("summary:\n%s", out)
	}

	keep := filepath.Join(dir, "keep")
	out, errOut, code = conform("--wrap", bin+" run --bench-floor --", "--seeds", "2", "--both", "--keep", keep)
	if code != 1 {
		t.Fatalf("conform against --bench-floor: exit %d, want 1\n%s%s", code, out, errOut)
	}
	for _, want := range []string{"single seed 1: wrapper differs from the kernel at output line ",
		"multi seed 1: wrapper differs from the kernel at output line ", "minimal script (", "kernel output:\n",
		"wrapper output:\n", "first difference:\n", "  kernel ", "  wrapper ", "0 same, 4 differ, 0 unstable, 0 errors"} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	if kept, _ := filepath.Glob(filepath.Join(keep, "*-seed*.min.script")); len(kept) != 4 {
		t.Errorf("--keep wrote %v", kept)
	}

	out, errOut, code = conform("--wrap", bin+" run --bench-floor --", "--seeds", "1", "--single", "--json")
	if code != 1 {
		t.Fatalf("--json: exit %d\n%s%s", code, out, errOut)
	}
	var rep conformReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("bad JSON: %v\n%s", err, out)
	}
	if rep.Summary.Differ != 1 || len(rep.Differences) != 1 || rep.Unstable == nil || rep.Errors == nil {
		t.Fatalf("JSON report %+v", rep)
	}
	d := rep.Differences[0]
	if !d.Minimized || d.Line < 1 || d.KernelLine == d.WrapperLine || !strings.Contains(d.Kernel, d.KernelLine) || d.Lines > d.OriginalLines {
		t.Fatalf("JSON difference %+v", d)
	}
	if !strings.Contains(out, `"unstable": []`) || !strings.Contains(out, `"errors": []`) {
		t.Fatalf("empty arrays are not []:\n%s", out)
	}

	// Setup errors: exit 2 with a message.
	if out, errOut, code := conform("--wrap", "/nonexistent/wrapper"); code != 2 || !strings.Contains(errOut, "--wrap") {
		t.Fatalf("missing wrapper: exit %d\n%s%s", code, out, errOut)
	}
	if out, errOut, code := conform("--wrap", "false"); code != 2 || !strings.Contains(errOut, "cannot run the executor") {
		t.Fatalf("failing wrapper: exit %d\n%s%s", code, out, errOut)
	}
	if _, _, code := conform("--seeds", "3"); code != 2 {
		t.Fatalf("no --wrap: exit %d", code)
	}
}
