package usage

import (
	"reflect"
	"strings"
	"testing"
)

const sample = `tool — does things

Usage:
  tool run [flags] [--] PROG [ARGS...]
        Run PROG. It runs
        well.

  tool db ls [--json]
  tool db rm NAME|PATH
        List or remove databases.

  tool check --wrap "CMD PREFIX" [--seeds N]
                 [--json] [-v]
        Check.

Flags of run:
  --trace[=FILE]
        Trace to FILE.
  --state FILE [--every DURATION]
        Keep state.

Examples:
  tool run -- ls      # list

Limits: none
  at all.
`

func TestParse(t *testing.T) {
	d, err := Parse(sample)
	if err != nil {
		t.Fatal(err)
	}
	if d.Name != "tool" || d.Summary != "does things" {
		t.Errorf("name %q summary %q", d.Name, d.Summary)
	}
	if got := d.Words(); !reflect.DeepEqual(got, []string{"run", "db", "check"}) {
		t.Errorf("words %v", got)
	}
	run, _ := d.Command("run")
	if run.Text != "Run PROG. It runs well." {
		t.Errorf("run text %q", run.Text)
	}
	db, _ := d.Command("db")
	if len(db.Synopses) != 2 || db.Text != "List or remove databases." {
		t.Errorf("db: %+v", db)
	}
	check, _ := d.Command("check")
	if check.Synopses[0] != `tool check --wrap "CMD PREFIX" [--seeds N] [--json] [-v]` {
		t.Errorf("continued synopsis: %q", check.Synopses[0])
	}
	if got := optionNames(d.AllOptions("check")); !reflect.DeepEqual(got, []string{"--wrap", "--seeds", "--json", "-v"}) {
		t.Errorf("check options %v", got)
	}
	if got := d.subcommands("db"); !reflect.DeepEqual(got, []string{"ls", "rm"}) {
		t.Errorf("db subcommands %v", got)
	}
	if d.positional("db", "rm") != valueNamespace || d.positional("db", "ls") != valueNone {
		t.Error("db rm takes a NAME, db ls nothing")
	}
	flags := d.Flags["run"]
	want := []Flag{
		{Spec: "--trace[=FILE]", Name: "--trace", Text: "Trace to FILE.", Heading: true},
		{Spec: "--state FILE [--every DURATION]", Name: "--state", Value: "FILE", Text: "Keep state.", Heading: true},
		{Spec: "--every DURATION", Name: "--every", Value: "DURATION", Text: "Keep state."},
	}
	if !reflect.DeepEqual(flags, want) {
		t.Errorf("flags of run:\n got %+v\nwant %+v", flags, want)
	}
	if !reflect.DeepEqual(d.Examples, []string{"tool run -- ls      # list"}) {
		t.Errorf("examples %q", d.Examples)
	}
	if !reflect.DeepEqual(d.Notes, []Note{{"Limits", "none at all."}}) {
		t.Errorf("notes %+v", d.Notes)
	}
}

func TestParseRejects(t *testing.T) {
	for _, text := range []string{
		"",
		"no dash here\n\nUsage:\n  x y\n",
		"x — y\n\nUsage:\n  other y\n        text\n",
		"x — y\n\nUsage:\n  x a\n        text\nstray\n",
		"x — y\n\nNothing:\n",
	} {
		if _, err := Parse(text); err == nil {
			t.Errorf("Parse(%q) accepted it", text)
		}
	}
}

func TestFlagsIn(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []Flag
	}{
		{"[-s] [-c|-p]", []Flag{{Spec: "-s", Name: "-s"}, {Spec: "-c", Name: "-c"}, {Spec: "-p", Name: "-p"}}},
		{"[--sandbox PID | --ns NAME]", []Flag{{Spec: "--sandbox PID", Name: "--sandbox", Value: "PID"}, {Spec: "--ns NAME", Name: "--ns", Value: "NAME"}}},
		{`--limits "A B C"`, []Flag{{Spec: `--limits "A B C"`, Name: "--limits", Value: "A B C"}}},
		{"[--all=sem] [--] PROG", []Flag{{Spec: "--all=sem", Name: "--all"}}},
		{"--trace[=FILE] x", []Flag{{Spec: "--trace", Name: "--trace"}}},
	} {
		if got := flagsIn(tc.in); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("flagsIn(%q)\n got %+v\nwant %+v", tc.in, got, tc.want)
		}
	}
}

func TestManEscapes(t *testing.T) {
	d, err := Parse(sample)
	if err != nil {
		t.Fatal(err)
	}
	m := d.Man([]string{"ls(1)"})
	for _, want := range []string{
		".TH TOOL 1 \"\" \"tool\" \"User Commands\"",
		`\fBtool run\fR [flags] [\-\-] PROG [ARGS...]`,
		`\fB\-\-trace\fR[=FILE]`,
		".SH OPTIONS OF RUN",
		".SH LIMITS\nnone at all.",
		`\fBls\fR(1)`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("man page lacks %q:\n%s", want, m)
		}
	}
	for _, l := range strings.Split(m, "\n") {
		if strings.HasPrefix(l, "'") {
			t.Errorf("line starts with a control character: %q", l)
		}
	}
}
