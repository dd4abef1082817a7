// Command sembox runs Linux programs with a private System V semaphore
// namespace served in user space. See `sembox help`.
package main

import (
	"fmt"
	"os"
	"runtime"
	"runtime/debug"

	"github.com/sembox/sembox/internal/launch"
)

const usage = `sembox — System V semaphores served outside the kernel

Usage:
  sembox run [flags] [--] PROG [ARGS...]
        Run PROG and all its descendants with a private SysV semaphore
        namespace. Their semget, semop, semtimedop and semctl calls are
        trapped (seccomp user notification) and answered by sembox with
        Linux's exact semantics; every other system call runs natively.
        The namespace starts empty and disappears when the last process
        of the sandbox has exited. sembox exits with PROG's status
        (128+N if PROG was killed by signal N).

  sembox run --ns NAME|PATH|PID [--ns-mode MODE] [flags] [--] PROG [ARGS...]
        Run PROG in a shared namespace instead: NAME is one of yours
        (created, with a background server, by its first use; its sets
        stay until 'sembox ns rm NAME'), a name with a '/' is the
        server's socket path, and a PID joins the running sandbox that
        'sembox ipcs' shows with that pid.

  sembox ns ls [--json]
  sembox ns rm NAME|PATH
  sembox ns save NAME|PATH|PID [FILE]
        List your shared namespaces; stop one (refused while members run);
        save one's image to FILE (default: its --state file).

  sembox ipcs [--sandbox PID | --ns NAME] [-s] [-c|-p|-t|-u] [-i ID] [-l] [--json]
        Show the semaphore sets of your running sandboxes and shared
        namespaces, in util-linux ipcs's formats (-i also shows values,
        waiters, pids and SEM_UNDO adjustments).

  sembox ipcrm [--sandbox PID | --ns NAME] [-s ID] [-S KEY] [--all=sem]
        Remove sets from a running sandbox or shared namespace.

  sembox stat [--sandbox PID | --ns NAME|PATH] [--json] [--watch[=INTERVAL]]
        Show what the semop calls of your running sandboxes and shared
        namespaces did since each set was created: calls, calls that
        blocked, wait times (p50, p99, max), waits ended by EINTR, EAGAIN
        (timeout) or EIDRM, the calls waiting now and their pids, and the
        hottest semaphores. --watch refreshes every INTERVAL (default 1s)
        until interrupted.

  sembox conform --wrap "CMD PREFIX" [--seeds N] [--seed S] [--single|--multi|--both]
                 [--json] [--keep DIR] [--jobs N] [--no-minimize] [-v]
        Check that a sandbox gives System V semaphore calls Linux's exact
        semantics: random scripts run by the same C executor natively, in
        a fresh IPC namespace (needs root and a C compiler), and behind
        CMD PREFIX (such as "sembox run --" or "runsc --network=none do");
        each difference is minimised and shown with both outputs and the
        first differing line. Exit status 0 if all agree, 1 if any
        differs, 2 on a usage or setup error. 'sembox conform -h': flags.

  sembox version
        Show the module version and the VCS revision it was built from.

  sembox completion bash|zsh
        Print a completion script for bash (source <(sembox completion
        bash)) or zsh (save it as _sembox in a directory of $fpath).

  sembox help [--man]
        Show this text (--man: the same as a manual page, sembox.1).

Flags of run:
  --limits "SEMMSL SEMMNS SEMOPM SEMMNI"
        Start the namespace with these limits, in the order of
        /proc/sys/kernel/sem (default "32000 1024000000 500 32000").
  --no-proc
        Do not serve /proc/sysvipc/sem and /proc/sys/kernel/sem inside
        the sandbox (by default they describe the sandbox's namespace).
        As root, sembox serves them without trapping open(): FUSE files
        bound over them in a mount namespace of the sandbox's own (host
        mounts still appear in it; the sandbox's own mounts stay in it).
        Otherwise (not root, no /dev/fuse, no mount namespace) every
        open() is trapped, a round trip to sembox per open.
        --trace's first line says which path a run took and why;
        SEMBOX_PROC_VIEWS=trap forces the trapped path, =mount the
        mount path (or fails).
  --trace[=FILE]
        Print one strace-like line per served call, with its result, to
        FILE (default: standard error).
  --ns NAME|PATH|PID
        Join a shared namespace (see above).
  --state FILE [--save-every DURATION]
        Restore the namespace from FILE if it exists, and save it there
        (as if every process had exited) when it ends, every DURATION,
        and on 'sembox ns save'. With --ns: when the namespace is created.
  --ns-mode MODE
        When --ns creates the namespace: the mode of its socket, that is
        who may join (default 0600). Members are served with their own
        identity; serving other users' processes needs a root server.
  --metrics ADDR
        Serve the statistics of 'sembox stat' over HTTP at /metrics, in
        the Prometheus text format. A port alone (9464 or :9464) listens
        on 127.0.0.1; another address must be an IP address written out
        (such as 0.0.0.0:9464 for every interface).

Examples:
  sembox run -- ipcmk -S 3          # create a set inside a fresh sandbox
  sembox run --trace -- python3 app.py
  sembox run --ns app -- ipcmk -S 3 # a set that stays in namespace "app"
  sembox run --ns app -- ipcs -s    # ... and is seen by the next command

Limits: 32-bit (i386, x32) semaphore calls fail with ENOSYS inside the
sandbox; run as an unprivileged user, sembox sets NO_NEW_PRIVS, so
setuid programs lose their privileges.
`

func main() {
	if launch.IsHelper() {
		launch.HelperMain()
	}
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	switch os.Args[1] {
	case "run":
		os.Exit(run(os.Args[2:]))
	case "ipcs":
		os.Exit(ipcs(os.Args[2:], os.Stdout))
	case "ipcrm":
		os.Exit(ipcrm(os.Args[2:]))
	case "stat":
		os.Exit(stat(os.Args[2:], os.Stdout))
	case "ns":
		os.Exit(ns(os.Args[2:], os.Stdout))
	case "conform":
		os.Exit(conform(os.Args[2:], os.Stdout, os.Stderr))
	case "version", "--version", "-V":
		fmt.Println(version())
	case "help", "-h", "--help":
		os.Exit(help(os.Args[2:], os.Stdout))
	case "completion":
		os.Exit(completion(os.Args[2:], os.Stdout))
	default:
		fmt.Fprintf(os.Stderr, "sembox: unknown command %q (try 'sembox help')\n", os.Args[1])
		os.Exit(2)
	}
}

// version describes this binary from its build information: the module
// version (set by go install MODULE@VERSION), the VCS revision and time a
// build from a checkout records, and the Go version.
func version() string {
	v, rev, when, dirty := "(devel)", "", "", false
	if bi, ok := debug.ReadBuildInfo(); ok {
		if bi.Main.Version != "" {
			v = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.time":
				when = s.Value
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
	}
	out := "sembox " + v
	if rev != "" {
		if len(rev) > 12 {
			rev = rev[:12]
		}
		out += " " + rev
		if dirty {
			out += "+dirty"
		}
		if when != "" {
			out += " " + when
		}
	}
	return out + " " + runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH
}
