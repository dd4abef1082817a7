package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestUsageParses: the help text is in the shape the manual page and the
// completion scripts are made from, and names every command main serves.
func TestUsageParses(t *testing.T) {
	d := doc()
	for _, w := range []string{"run", "ns", "ipcs", "ipcrm", "conform", "version", "completion", "help"} {
		if _, ok := d.Command(w); !ok {
			t.Errorf("the usage text has no entry for %q", w)
		}
	}
	if len(d.Flags["run"]) == 0 {
		t.Error("no Flags of run")
	}
}

// TestManPageCurrent: doc/sembox.1 is what `sembox help --man` prints
// (regenerate: go run ./cmd/sembox help --man > doc/sembox.1).
func TestManPageCurrent(t *testing.T) {
	var b bytes.Buffer
	if help([]string{"--man"}, &b) != 0 {
		t.Fatal("help --man failed")
	}
	path := filepath.Join("..", "..", "doc", "sembox.1")
	have, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(have, b.Bytes()) {
		t.Errorf("%s is stale: run 'go run ./cmd/sembox help --man > doc/sembox.1'", path)
	}
}

// TestManPageRenders: man(1) formats the page without a warning.
func TestManPageRenders(t *testing.T) {
	if _, err := exec.LookPath("man"); err != nil {
		t.Skip("man is not installed (scripts/setup.sh installs man-db)")
	}
	page, _ := filepath.Abs(filepath.Join("..", "..", "doc", "sembox.1"))
	cmd := exec.Command("man", "--warnings=all", "-l", page)
	cmd.Env = append(os.Environ(), "MANWIDTH=80", "MANPAGER=cat", "PAGER=cat")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("man -l: %v\n%s", err, errb.String())
	}
	if errb.Len() != 0 {
		t.Errorf("man -l warns:\n%s", errb.String())
	}
	for _, want := range []string{"SYNOPSIS", "OPTIONS OF RUN", "--no-proc", "sembox ns rm NAME|PATH"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("rendered page lacks %q", want)
		}
	}
}

// TestBashCompletion loads the bash script and completes a few command
// lines, as bash would on TAB.
func TestBashCompletion(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash")
	}
	var script bytes.Buffer
	if completion([]string{"bash"}, &script) != 0 {
		t.Fatal("completion bash failed")
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "c.bash"), script.Bytes(), 0o644)
	os.WriteFile(filepath.Join(dir, "state.img"), nil, 0o644)
	// A stand-in sembox on PATH answers 'ns ls' for namespace names.
	os.WriteFile(filepath.Join(dir, "sembox"), []byte("#!/bin/sh\nprintf 'NAME SERVER\\napp 1\\nappdb 2\\n'\n"), 0o755)
	for _, tc := range []struct{ line, want string }{
		{"sembox ", "run ns ipcs ipcrm stat conform version completion help"},
		{"sembox ru", "run"},
		{"sembox run --n", "--no-proc --ns --ns-mode"},
		{"sembox run --ns ap", "app appdb"},
		{"sembox run --state " + dir + "/sta", dir + "/state.img"},
		{"sembox run --ns app --trace sh -", ""},
		{"sembox ns ", "ls rm save"},
		{"sembox ns rm appd", "appdb"},
		{"sembox ipcs --j", "--json"},
		{"sembox completion ", "bash zsh"},
	} {
		words := strings.Split(tc.line, " ")
		var quoted []string
		for _, w := range words {
			quoted = append(quoted, "'"+w+"'")
		}
		prog := "source c.bash; COMP_WORDS=(" + strings.Join(quoted, " ") + "); COMP_CWORD=" +
			strconv.Itoa(len(words)-1) + "; _sembox; echo \"${COMPREPLY[*]}\""
		cmd := exec.Command("bash", "--norc", "-c", prog)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "PATH="+dir+":"+os.Getenv("PATH"))
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%q: %v\n%s", tc.line, err, out)
		}
		if got := strings.TrimSpace(string(out)); got != tc.want {
			t.Errorf("%q completes to %q, want %q", tc.line, got, tc.want)
		}
	}
}

// TestZshCompletion: the zsh script parses and registers itself.
func TestZshCompletion(t *testing.T) {
	if _, err := exec.LookPath("zsh"); err != nil {
		t.Skip("zsh is not installed (scripts/setup.sh installs it)")
	}
	var script bytes.Buffer
	if completion([]string{"zsh"}, &script) != 0 {
		t.Fatal("completion zsh failed")
	}
	dir := t.TempDir()
	f := filepath.Join(dir, "_sembox")
	os.WriteFile(f, script.Bytes(), 0o644)
	if out, err := exec.Command("zsh", "-n", f).CombinedOutput(); err != nil {
		t.Fatalf("zsh -n: %v\n%s", err, out)
	}
	out, err := exec.Command("zsh", "-f", "-c", "autoload -U compinit; compinit -u -d "+dir+"/zcd; source "+f+"; print -r -- $_comps[sembox]").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "_sembox" {
		t.Fatalf("zsh did not register the completion: %v\n%s", err, out)
	}
	for _, want := range []string{"'--no-proc[", "'--ns=[", ":name:_sembox_namespaces'", "_command_names -e"} {
		if !strings.Contains(script.String(), want) {
			t.Errorf("zsh script lacks %q", want)
		}
	}
}
