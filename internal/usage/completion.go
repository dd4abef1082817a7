package usage

import (
	"fmt"
	"sort"
	"strings"
)

// Values an option or argument takes, by its placeholder: files for FILE
// and PATH, the user's shared namespaces (and socket paths) for NAME.
type valueKind int

const (
	valueNone valueKind = iota
	valueFile
	valueNamespace
)

func kindOf(placeholder string) valueKind {
	p := strings.Trim(placeholder, `"[]`)
	switch {
	case strings.HasPrefix(p, "NAME"):
		return valueNamespace
	case strings.HasPrefix(p, "FILE"), strings.HasPrefix(p, "PATH"):
		return valueFile
	}
	return valueNone
}

// positional returns the kind of the first argument of command word
// after sub ("" for none): the first placeholder after the head of the
// first synopsis that has it.
func (d *Doc) positional(word, sub string) valueKind {
	for _, c := range d.Commands {
		if c.Word() != word {
			continue
		}
		for _, s := range c.Synopses {
			f := strings.Fields(s)
			head := 2
			if sub != "" {
				if len(f) < 3 || !contains(strings.Split(f[2], "|"), sub) {
					continue
				}
				head = 3
			}
			values := map[string]bool{}
			for _, fl := range flagsIn(s) {
				values[fl.Value] = true
			}
			for _, w := range f[head:] {
				w = strings.Trim(w, "[]")
				if strings.HasPrefix(w, "-") || values[strings.Trim(w, `"`)] || !isPlaceholder(w) {
					continue
				}
				return kindOf(w)
			}
		}
	}
	return valueNone
}

// subcommands of word: the plain words after it in its synopses
// ("ls", "rm" for ns; "bash", "zsh" for "completion bash|zsh").
func (d *Doc) subcommands(word string) []string {
	var subs []string
	for _, c := range d.Commands {
		if c.Word() != word {
			continue
		}
		for _, s := range c.Synopses {
			f := strings.Fields(s)
			if len(f) < 3 {
				continue
			}
			for _, w := range strings.Split(f[2], "|") {
				if isWord(w) && !contains(subs, w) {
					subs = append(subs, w)
				}
			}
		}
	}
	return subs
}

// programCommand reports whether word runs a program given after its
// flags ("PROG" in its synopsis).
func (d *Doc) programCommand(word string) bool {
	c, ok := d.Command(word)
	return ok && strings.Contains(strings.Join(c.Synopses, " "), " PROG")
}

// valueFlags are the options of word that take their value in the next
// argument, by kind.
func (d *Doc) valueFlags(word string) map[valueKind][]string {
	m := map[valueKind][]string{}
	for _, f := range d.AllOptions(word) {
		if f.Value != "" {
			k := kindOf(f.Value)
			m[k] = append(m[k], f.Name)
		}
	}
	return m
}

func optionNames(flags []Flag) []string {
	var n []string
	for _, f := range flags {
		n = append(n, f.Name)
	}
	return n
}

// Bash renders a bash completion script for d.
func (d *Doc) Bash() string {
	var b strings.Builder
	fn := "_" + d.Name
	fmt.Fprintf(&b, "# bash completion for %s, made by '%s completion bash' from '%s help'.\n", d.Name, d.Name, d.Name)
	fmt.Fprintf(&b, "# Use: source <(%s completion bash)\n\n", d.Name)
	fmt.Fprintf(&b, "%s_values() { # KIND CUR\n", fn)
	b.WriteString("    case $1 in\n")
	b.WriteString("    file) COMPREPLY=( $(compgen -f -- \"$2\") ) ;;\n")
	fmt.Fprintf(&b, "    namespace) # a name, or a socket path\n")
	fmt.Fprintf(&b, "        if [[ $2 == */* ]]; then COMPREPLY=( $(compgen -f -- \"$2\") )\n")
	fmt.Fprintf(&b, "        else COMPREPLY=( $(compgen -W \"$(%s ns ls 2>/dev/null | awk 'NR > 1 { print $1 }')\" -- \"$2\") ); fi ;;\n", d.Name)
	b.WriteString("    esac\n}\n\n")
	fmt.Fprintf(&b, "%s() {\n", fn)
	b.WriteString("    local cur=${COMP_WORDS[COMP_CWORD]} i w\n    COMPREPLY=()\n")
	fmt.Fprintf(&b, "    if (( COMP_CWORD == 1 )); then\n        COMPREPLY=( $(compgen -W %q -- \"$cur\") )\n        return\n    fi\n", strings.Join(d.Words(), " "))
	b.WriteString("    case ${COMP_WORDS[1]} in\n")
	for _, w := range d.Words() {
		opts := optionNames(d.AllOptions(w))
		vf := d.valueFlags(w)
		fmt.Fprintf(&b, "    %s)\n", w)
		// Skip over options and their values to find where cur is.
		b.WriteString("        i=2\n        while (( i < COMP_CWORD )); do\n            w=${COMP_WORDS[i]}\n")
		if d.programCommand(w) {
			b.WriteString("            if [[ $w == -- ]]; then (( i++ )); break; fi\n")
		}
		b.WriteString("            [[ $w == -* ]] || break\n")
		var all []string
		for _, k := range []valueKind{valueNone, valueFile, valueNamespace} {
			all = append(all, vf[k]...)
		}
		if len(all) > 0 {
			fmt.Fprintf(&b, "            case $w in %s) (( i++ )) ;; esac\n", strings.Join(all, "|"))
		}
		b.WriteString("            (( i++ ))\n        done\n")
		if len(all) > 0 {
			b.WriteString("        if (( i > COMP_CWORD )); then\n            case ${COMP_WORDS[COMP_CWORD-1]} in\n")
			for _, k := range []valueKind{valueFile, valueNamespace} {
				if len(vf[k]) > 0 {
					fmt.Fprintf(&b, "            %s) %s_values %s \"$cur\" ;;\n", strings.Join(vf[k], "|"), fn, kindName(k))
				}
			}
			b.WriteString("            esac\n            return\n        fi\n")
		}
		if d.programCommand(w) {
			b.WriteString("        if (( i < COMP_CWORD )) || [[ ${COMP_WORDS[i-1]} == -- ]]; then\n")
			b.WriteString("            # The program and its arguments.\n")
			b.WriteString("            if declare -F _command_offset >/dev/null; then _command_offset $i\n")
			b.WriteString("            elif (( i == COMP_CWORD )); then COMPREPLY=( $(compgen -c -- \"$cur\") )\n")
			b.WriteString("            else COMPREPLY=( $(compgen -f -- \"$cur\") ); fi\n            return\n        fi\n")
		}
		b.WriteString("        if [[ $cur == -* ]]; then\n")
		fmt.Fprintf(&b, "            COMPREPLY=( $(compgen -W %q -- \"$cur\") )\n", strings.Join(opts, " "))
		b.WriteString("            return\n        fi\n")
		if d.programCommand(w) {
			b.WriteString("        COMPREPLY=( $(compgen -c -- \"$cur\") )\n")
		} else if subs := d.subcommands(w); len(subs) > 0 {
			fmt.Fprintf(&b, "        if (( i == 2 && COMP_CWORD == 2 )); then\n            COMPREPLY=( $(compgen -W %q -- \"$cur\") )\n            return\n        fi\n", strings.Join(subs, " "))
			b.WriteString("        case ${COMP_WORDS[2]} in\n")
			for _, s := range subs {
				if k := d.positional(w, s); k != valueNone {
					fmt.Fprintf(&b, "        %s) (( COMP_CWORD == 3 )) && %s_values %s \"$cur\" ;;\n", s, fn, kindName(k))
				}
			}
			b.WriteString("        esac\n")
		} else if k := d.positional(w, ""); k != valueNone {
			fmt.Fprintf(&b, "        %s_values %s \"$cur\"\n", fn, kindName(k))
		}
		b.WriteString("        ;;\n")
	}
	b.WriteString("    esac\n}\n")
	fmt.Fprintf(&b, "complete -F %s %s\n", fn, d.Name)
	return b.String()
}

func kindName(k valueKind) string {
	switch k {
	case valueFile:
		return "file"
	case valueNamespace:
		return "namespace"
	}
	return "none"
}

// Zsh renders a zsh completion script for d (a #compdef file).
func (d *Doc) Zsh() string {
	var b strings.Builder
	fn := "_" + d.Name
	fmt.Fprintf(&b, "#compdef %s\n# zsh completion for %s, made by '%s completion zsh' from '%s help'.\n", d.Name, d.Name, d.Name, d.Name)
	fmt.Fprintf(&b, "# Use: %s completion zsh > \"${fpath[1]}/_%s\"  (or: source <(%s completion zsh))\n\n", d.Name, d.Name, d.Name)
	fmt.Fprintf(&b, "%s_namespaces() {\n    local -a names\n    names=( ${(f)\"$(%s ns ls 2>/dev/null | awk 'NR > 1 { print $1 }')\"} )\n    _describe -t namespaces 'namespace' names\n    _files\n}\n\n", fn, d.Name)
	fmt.Fprintf(&b, "%s() {\n    local -a commands\n    commands=(\n", fn)
	for _, w := range d.Words() {
		c, _ := d.Command(w)
		fmt.Fprintf(&b, "        %s\n", zshQuote(w+":"+strings.ReplaceAll(firstSentence(c.Text), ":", `\:`)))
	}
	b.WriteString("    )\n")
	b.WriteString("    if (( CURRENT == 2 )); then\n        _describe -t commands 'command' commands\n        return\n    fi\n")
	b.WriteString("    local cmd=$words[2]\n    shift words\n    (( CURRENT-- ))\n    case $cmd in\n")
	for _, w := range d.Words() {
		var specs []string
		flags := d.AllOptions(w)
		sort.SliceStable(flags, func(i, j int) bool { return flags[i].Name < flags[j].Name })
		for _, f := range flags {
			specs = append(specs, zshQuote(d.zshOption(f)))
		}
		switch {
		case d.programCommand(w):
			specs = append(specs, zshQuote("(-):command: _command_names -e"), zshQuote("*::arguments: _normal"))
		case len(d.subcommands(w)) > 0:
			specs = append(specs, zshQuote("1:subcommand:("+strings.Join(d.subcommands(w), " ")+")"))
			var cases []string
			for _, s := range d.subcommands(w) {
				switch d.positional(w, s) {
				case valueNamespace:
					cases = append(cases, s)
				}
			}
			if len(cases) > 0 {
				specs = append(specs, zshQuote("2: :->arg"))
			}
		default:
			switch d.positional(w, "") {
			case valueFile:
				specs = append(specs, zshQuote("1:file:_files"))
			case valueNamespace:
				specs = append(specs, zshQuote("1:namespace:"+fn+"_namespaces"))
			}
		}
		fmt.Fprintf(&b, "    %s)\n", w)
		if len(specs) == 0 {
			b.WriteString("        ;;\n")
			continue
		}
		fmt.Fprintf(&b, "        _arguments -S \\\n            %s", strings.Join(specs, " \\\n            "))
		b.WriteString("\n")
		var nsSubs []string
		for _, s := range d.subcommands(w) {
			if d.positional(w, s) == valueNamespace {
				nsSubs = append(nsSubs, s)
			}
		}
		if len(nsSubs) > 0 && !d.programCommand(w) {
			fmt.Fprintf(&b, "        [[ $state == arg && $words[2] == (%s) ]] && %s_namespaces\n", strings.Join(nsSubs, "|"), fn)
		}
		b.WriteString("        ;;\n")
	}
	b.WriteString("    esac\n}\n\n")
	fmt.Fprintf(&b, "if [[ $zsh_eval_context[-1] == loadautofunc ]]; then\n    %s \"$@\"\nelse\n    compdef %s %s\nfi\n", fn, fn, d.Name)
	return b.String()
}

// zshOption is the _arguments spec of f.
func (d *Doc) zshOption(f Flag) string {
	desc := strings.NewReplacer(`\`, `\\`, "[", `\[`, "]", `\]`, ":", `\:`).Replace(firstSentence(f.Text))
	if desc != "" {
		desc = "[" + desc + "]"
	}
	switch {
	case strings.Contains(f.Spec, f.Name+"[="):
		return f.Name + "=-" + desc + "::" + strings.ToLower(f.Name[2:]) + ":_files"
	case f.Value != "":
		action := ""
		switch kindOf(f.Value) {
		case valueFile:
			action = "_files"
		case valueNamespace:
			action = "_" + d.Name + "_namespaces"
		}
		return f.Name + "=" + desc + ":" + strings.ToLower(f.Value) + ":" + action
	}
	return f.Name + desc
}

// firstSentence is text up to its first ". ", without the period.
func firstSentence(text string) string {
	if i := strings.Index(text, ". "); i >= 0 {
		return text[:i]
	}
	return strings.TrimSuffix(text, ".")
}

// zshQuote quotes s in single quotes for zsh (and sh).
func zshQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
