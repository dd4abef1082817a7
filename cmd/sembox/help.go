package main

import (
	"fmt"
	"io"
	"os"

	helptext "github.com/sembox/sembox/internal/usage"
)

// seeAlso are the pages the manual page refers to.
var seeAlso = []string{"ipcs(1)", "ipcrm(1)", "ipcmk(1)", "lsipc(1)", "semget(2)", "semop(2)", "semctl(2)", "seccomp_unotify(2)", "sysvipc(7)"}

// doc is the usage text, parsed: the manual page and the completion
// scripts are made from it.
func doc() *helptext.Doc {
	d, err := helptext.Parse(usage)
	if err != nil {
		panic(err) // the usage text is a constant; TestUsageParses checks it
	}
	return d
}

// help implements `sembox help [--man]`.
func help(args []string, out io.Writer) int {
	switch {
	case len(args) == 0:
		fmt.Fprint(out, usage)
	case len(args) == 1 && args[0] == "--man":
		fmt.Fprint(out, doc().Man(seeAlso))
	default:
		fmt.Fprintln(os.Stderr, "usage: sembox help [--man]")
		return 2
	}
	return 0
}

// completion implements `sembox completion bash|zsh`.
func completion(args []string, out io.Writer) int {
	if len(args) == 1 {
		switch args[0] {
		case "bash":
			fmt.Fprint(out, doc().Bash())
			return 0
		case "zsh":
			fmt.Fprint(out, doc().Zsh())
			return 0
		}
	}
	fmt.Fprintln(os.Stderr, "usage: sembox completion bash|zsh")
	return 2
}
