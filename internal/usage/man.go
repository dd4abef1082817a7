package usage

import (
	"fmt"
	"strings"
)

// Man renders d as a manual page in section 1, in the man(7) macros.
// seeAlso names other pages ("semop(2)") for the SEE ALSO section. The
// page carries no date, so that it is the same whenever it is made.
func (d *Doc) Man(seeAlso []string) string {
	var b strings.Builder
	up := strings.ToUpper(d.Name)
	fmt.Fprintf(&b, ".TH %s 1 \"\" %q \"User Commands\"\n", up, d.Name)
	// Options must not be hyphenated, and read better unjustified.
	b.WriteString(".nh\n.ad l\n")
	b.WriteString(".SH NAME\n")
	fmt.Fprintf(&b, "%s \\- %s\n", roffText(d.Name), roffText(d.Summary))

	b.WriteString(".SH SYNOPSIS\n")
	for i, c := range d.Commands {
		for j, s := range c.Synopses {
			if i > 0 || j > 0 {
				b.WriteString(".br\n")
			}
			b.WriteString(synopsis(d.Name, s) + "\n")
		}
	}

	b.WriteString(".SH COMMANDS\n")
	for _, c := range d.Commands {
		b.WriteString(".PP\n")
		for i, s := range c.Synopses {
			if i > 0 {
				b.WriteString(".br\n")
			}
			b.WriteString(synopsis(d.Name, s) + "\n")
		}
		b.WriteString(".RS\n" + roffText(c.Text) + "\n.RE\n")
	}

	for _, w := range d.Words() {
		flags := d.Flags[w]
		if len(flags) == 0 {
			continue
		}
		fmt.Fprintf(&b, ".SH OPTIONS OF %s\n", roffText(strings.ToUpper(w)))
		for _, f := range flags {
			if f.Heading {
				b.WriteString(".TP\n" + flagHeading(f.Spec) + "\n" + roffText(f.Text) + "\n")
			}
		}
	}

	if len(d.Examples) > 0 {
		b.WriteString(".SH EXAMPLES\n.nf\n")
		for _, e := range d.Examples {
			b.WriteString(roffText(e) + "\n")
		}
		b.WriteString(".fi\n")
	}
	for _, n := range d.Notes {
		fmt.Fprintf(&b, ".SH %s\n%s\n", roffText(strings.ToUpper(n.Title)), roffText(n.Text))
	}
	if len(seeAlso) > 0 {
		b.WriteString(".SH SEE ALSO\n")
		var refs []string
		for _, s := range seeAlso {
			page, sect, ok := strings.Cut(strings.TrimSuffix(s, ")"), "(")
			if !ok {
				refs = append(refs, roffText(s))
				continue
			}
			refs = append(refs, fmt.Sprintf(`\fB%s\fR(%s)`, roffText(page), sect))
		}
		b.WriteString(strings.Join(refs, ",\n") + "\n")
	}
	return b.String()
}

// synopsis sets the program name and command words in bold and the rest
// in roman.
func synopsis(name, s string) string {
	f := strings.Fields(s)
	n := 1
	for n < len(f) && n < 3 && isWord(f[n]) {
		n++
	}
	head := strings.Join(f[:n], " ")
	rest := strings.TrimSpace(strings.TrimPrefix(s, head))
	out := `\fB` + roffText(head) + `\fR`
	if rest != "" {
		out += " " + roffText(rest)
	}
	return lineStart(out)
}

// flagHeading sets the option names of a flag heading in bold.
func flagHeading(spec string) string {
	var parts []string
	for _, w := range strings.Split(spec, " ") {
		if strings.HasPrefix(w, "-") {
			name, val, eq := strings.Cut(w, "[")
			if eq {
				parts = append(parts, `\fB`+roffText(name)+`\fR[`+roffText(val))
				continue
			}
			parts = append(parts, `\fB`+roffText(w)+`\fR`)
			continue
		}
		if strings.HasPrefix(w, "[-") {
			parts = append(parts, "["+`\fB`+roffText(strings.TrimPrefix(w, "["))+`\fR`)
			continue
		}
		parts = append(parts, roffText(w))
	}
	return lineStart(strings.Join(parts, " "))
}

// roffText escapes text for roff: backslashes, and hyphens, which are
// minus signs (options) in this page; a line must not start with a
// control character.
func roffText(s string) string {
	s = strings.ReplaceAll(s, `\`, `\e`)
	s = strings.ReplaceAll(s, "-", `\-`)
	return lineStart(s)
}

// lineStart protects a line that starts with . or '.
func lineStart(s string) string {
	if strings.HasPrefix(s, ".") || strings.HasPrefix(s, "'") {
		return `\&` + s
	}
	return s
}
