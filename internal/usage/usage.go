// Package usage reads the text `sembox help` prints and renders the other
// forms of the same documentation from it: a manual page and shell
// completion scripts. The help text is the only source, so the three
// cannot drift apart.
//
// The text has this shape (see cmd/sembox's usage constant):
//
//	NAME — SUMMARY
//
//	Usage:
//	  NAME COMMAND [OPTIONS...]      one or more synopsis lines
//	                 [MORE OPTIONS...]  a synopsis goes on past column 8
//	        Description, indented by 8 spaces.
//
//	Flags of COMMAND:
//	  --flag VALUE
//	        Description.
//
//	Examples:
//	  NAME COMMAND ...     # comment
//
//	Other: a paragraph that starts on its heading's line.
//
// A heading is a line that starts in column 0 and ends with a colon, or
// that starts with a word and a colon followed by text (a paragraph).
package usage

import (
	"fmt"
	"strings"
)

// Doc is a parsed help text.
type Doc struct {
	// Name is the program's name, Summary the text after its dash on the
	// first line.
	Name, Summary string
	// Commands are the entries of the Usage section, in order.
	Commands []Command
	// Flags maps a command's word to the flags its "Flags of WORD"
	// section describes.
	Flags map[string][]Flag
	// Examples are the lines of the Examples section, unindented.
	Examples []string
	// Notes are the other sections, in order.
	Notes []Note
}

// Command is one entry of the Usage section: one or more synopsis lines
// and the description that follows them.
type Command struct {
	Synopses []string // each "NAME WORD ..."
	Text     string   // the description, lines joined by spaces
}

// Word is the command word of c ("run" in "sembox run [flags]").
func (c Command) Word() string {
	f := strings.Fields(c.Synopses[0])
	if len(f) < 2 {
		return ""
	}
	return f[1]
}

// Subcommands are the second words of c's synopses that are plain
// lowercase words ("ls", "rm" for "sembox ns ls", "sembox ns rm NAME").
func (c Command) Subcommands() []string {
	var subs []string
	for _, s := range c.Synopses {
		f := strings.Fields(s)
		if len(f) >= 3 && isWord(f[2]) && !contains(subs, f[2]) {
			subs = append(subs, f[2])
		}
	}
	return subs
}

// Options are the flags c's synopses name, as specs: "--json",
// "--sandbox PID", "-i ID".
func (c Command) Options() []Flag {
	var out []Flag
	for _, s := range c.Synopses {
		for _, f := range flagsIn(s) {
			if !hasFlag(out, f.Name) {
				out = append(out, f)
			}
		}
	}
	return out
}

// Flag is an option: its name with dashes and, if it takes a value in the
// next argument, the value's placeholder.
type Flag struct {
	Spec  string // as written in the heading line, e.g. "--trace[=FILE]"
	Name  string // "--trace"
	Value string // "FILE" for "--state FILE"; "" if no separate value
	Text  string // the description ("" for flags found in synopses)
	// Heading is set on the first flag of a Flags section entry, whose
	// Spec is then the entry's whole heading line.
	Heading bool
}

// Note is a section other than Usage, Flags and Examples.
type Note struct {
	Title string // "Limits"
	Text  string // its paragraph, lines joined by spaces
}

// Parse reads a help text in the shape described in the package comment.
func Parse(text string) (*Doc, error) {
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	if len(lines) == 0 {
		return nil, fmt.Errorf("usage: empty text")
	}
	name, summary, ok := strings.Cut(lines[0], " — ")
	if !ok {
		return nil, fmt.Errorf("usage: first line %q is not \"NAME — SUMMARY\"", lines[0])
	}
	d := &Doc{Name: strings.TrimSpace(name), Summary: strings.TrimSpace(summary), Flags: map[string][]Flag{}}
	section := ""
	for i := 1; i < len(lines); i++ {
		l := lines[i]
		switch {
		case strings.TrimSpace(l) == "":
			continue
		case indent(l) == 0:
			title, rest, ok := strings.Cut(l, ":")
			if !ok {
				return nil, fmt.Errorf("usage: line %d: %q is neither a heading nor indented", i+1, l)
			}
			if strings.TrimSpace(rest) == "" {
				section = title
				continue
			}
			// A paragraph section: its heading's line and the lines up to
			// the next blank one.
			text := []string{strings.TrimSpace(rest)}
			for i+1 < len(lines) && strings.TrimSpace(lines[i+1]) != "" {
				i++
				text = append(text, strings.TrimSpace(lines[i]))
			}
			d.Notes = append(d.Notes, Note{Title: title, Text: strings.Join(text, " ")})
			section = ""
		case section == "Usage" && indent(l) == 2:
			c := Command{}
			for ; i < len(lines); i++ {
				switch n := indent(lines[i]); {
				case n == 2:
					c.Synopses = append(c.Synopses, strings.TrimSpace(lines[i]))
					continue
				case n > descIndent && len(c.Synopses) > 0:
					// A synopsis too long for one line goes on, indented
					// past the description.
					c.Synopses[len(c.Synopses)-1] += " " + strings.TrimSpace(lines[i])
					continue
				}
				break
			}
			c.Text, i = paragraph(lines, i)
			if !strings.HasPrefix(c.Synopses[0], d.Name+" ") {
				return nil, fmt.Errorf("usage: line %d: synopsis %q does not start with %q", i+1, c.Synopses[0], d.Name)
			}
			d.Commands = append(d.Commands, c)
		case strings.HasPrefix(section, "Flags of ") && indent(l) == 2:
			word := strings.TrimPrefix(section, "Flags of ")
			spec := strings.TrimSpace(l)
			text, next := paragraph(lines, i+1)
			i = next
			for j, f := range flagsIn(spec) {
				f.Text = text
				if j == 0 {
					f.Spec, f.Heading = spec, true
				}
				d.Flags[word] = append(d.Flags[word], f)
			}
		case section == "Examples":
			d.Examples = append(d.Examples, strings.TrimSpace(l))
		default:
			return nil, fmt.Errorf("usage: line %d: %q is outside any known section", i+1, l)
		}
	}
	if len(d.Commands) == 0 {
		return nil, fmt.Errorf("usage: no Usage section")
	}
	return d, nil
}

// Command returns the entry whose word is word.
func (d *Doc) Command(word string) (Command, bool) {
	for _, c := range d.Commands {
		if c.Word() == word {
			return c, true
		}
	}
	return Command{}, false
}

// Words are the command words, each once, in order.
func (d *Doc) Words() []string {
	var w []string
	for _, c := range d.Commands {
		if !contains(w, c.Word()) {
			w = append(w, c.Word())
		}
	}
	return w
}

// AllOptions are the flags of command word: those its synopses name and
// those of its Flags section, each once.
func (d *Doc) AllOptions(word string) []Flag {
	var out []Flag
	for _, f := range d.Flags[word] {
		if !hasFlag(out, f.Name) {
			out = append(out, f)
		}
	}
	for _, c := range d.Commands {
		if c.Word() != word {
			continue
		}
		for _, f := range c.Options() {
			if !hasFlag(out, f.Name) {
				out = append(out, f)
			}
		}
	}
	return out
}

// paragraph joins the lines indented by more than 2 from lines[i] on, and
// returns the index of the last one (i-1 if there is none).
func paragraph(lines []string, i int) (string, int) {
	var text []string
	for ; i < len(lines) && indent(lines[i]) > 2 && strings.TrimSpace(lines[i]) != ""; i++ {
		text = append(text, strings.TrimSpace(lines[i]))
	}
	return strings.Join(text, " "), i - 1
}

// flagsIn finds the options in a synopsis or flag heading: every word
// that starts with a dash once brackets and alternatives are split off.
// A flag followed by an upper-case placeholder (or a quoted one) takes it
// as its value.
func flagsIn(s string) []Flag {
	repl := strings.NewReplacer("[", " ", "]", " ", "|", " ", "(", " ", ")", " ")
	words := strings.Fields(repl.Replace(s))
	var out []Flag
	for i, w := range words {
		if !strings.HasPrefix(w, "-") || w == "-" || w == "--" || strings.HasPrefix(w, "---") {
			continue
		}
		f := Flag{Spec: w, Name: w}
		if name, _, ok := strings.Cut(w, "="); ok {
			f.Name = name // an attached value is optional: --trace[=FILE]
		} else if i+1 < len(words) && isPlaceholder(words[i+1]) {
			// A quoted placeholder goes on to its closing quote.
			j := i + 1
			for strings.HasPrefix(words[i+1], `"`) && !strings.HasSuffix(words[j], `"`) && j+1 < len(words) {
				j++
			}
			v := strings.Join(words[i+1:j+1], " ")
			f.Value, f.Spec = strings.Trim(v, `"`), w+" "+v
		}
		out = append(out, f)
	}
	return out
}

// isPlaceholder reports whether w names a value: upper case, or quoted.
func isPlaceholder(w string) bool {
	if strings.HasPrefix(w, `"`) {
		return true
	}
	if strings.HasPrefix(w, "=") { // --trace[=FILE]: attached and optional
		return false
	}
	return w != "" && w == strings.ToUpper(w) && strings.ToLower(w) != w && !strings.HasPrefix(w, "-")
}

func isWord(w string) bool {
	if w == "" {
		return false
	}
	for _, r := range w {
		if r < 'a' || r > 'z' {
			return false
		}
	}
	return true
}

// descIndent is the indentation of a description.
const descIndent = 8

func indent(l string) int { return len(l) - len(strings.TrimLeft(l, " ")) }

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func hasFlag(list []Flag, name string) bool {
	for _, f := range list {
		if f.Name == name {
			return true
		}
	}
	return false
}
