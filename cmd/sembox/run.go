package main

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sembox/sembox/internal/control"
	"github.com/sembox/sembox/internal/launch"
	"github.com/sembox/sembox/internal/server"
	"github.com/sembox/sembox/internal/supervisor"
	"github.com/sembox/sembox/sem"
)

// runOptions are the parsed flags of `sembox run`.
type runOptions struct {
	limits    *sem.Limits
	trace     bool
	noProc    bool // do not serve the /proc views (no open() is trapped)
	floor     bool // hidden: answer every call with 0 (benchmark floor)
	window    bool // hidden: measure the receive window (benchmark)
	traceFile string
	ns        string // --ns: join this namespace ("": a new, private one)
	state     string // --state: restore from and save to this file
	saveEvery time.Duration
	nsMode    os.FileMode // --ns-mode: who may join a namespace this run creates
	hasMode   bool
	argv      []string
}

// parseRunArgs parses `[flags] [--] PROG ARGS...`. Flags stop at "--" or
// at the first argument that is not a flag.
func parseRunArgs(args []string) (*runOptions, error) {
	o := &runOptions{}
	for len(args) > 0 {
		a := args[0]
		if a == "--" {
			args = args[1:]
			break
		}
		if !strings.HasPrefix(a, "-") {
			break
		}
		args = args[1:]
		name, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		switch name {
		case "no-proc":
			o.noProc = true
		case "bench-floor":
			o.floor = true
		case "bench-recv-window":
			o.window = true
		case "trace":
			o.trace, o.traceFile = true, val
		case "state", "save-every":
			if !hasVal {
				if len(args) == 0 {
					return nil, fmt.Errorf("--%s needs a value", name)
				}
				val, args = args[0], args[1:]
			}
			if name == "state" {
				o.state = val
				break
			}
			d, err := time.ParseDuration(val)
			if err != nil || d <= 0 {
				return nil, fmt.Errorf("--save-every: bad duration %q", val)
			}
			o.saveEvery = d
		case "ns", "ns-mode":
			if !hasVal {
				if len(args) == 0 {
					return nil, fmt.Errorf("--%s needs a value", name)
				}
				val, args = args[0], args[1:]
			}
			if name == "ns" {
				o.ns = val
				break
			}
			m, err := parseMode(val)
			if err != nil {
				return nil, fmt.Errorf("--ns-mode: %w", err)
			}
			o.nsMode, o.hasMode = m, true
		case "limits":
			if !hasVal {
				if len(args) == 0 {
					return nil, errors.New("--limits needs a value")
				}
				val, args = args[0], args[1:]
			}
			l, err := parseLimits(val)
			if err != nil {
				return nil, err
			}
			o.limits = &l
		case "metrics":
			if !hasVal {
				if len(args) == 0 {
					return nil, errors.New("--metrics needs an address")
				}
				val, args = args[0], args[1:]
			}
			if err := startMetrics(val, o); err != nil { // metrics.go
				return nil, err
			}
		default:
			return nil, fmt.Errorf("unknown flag %q", a)
		}
	}
	if len(args) == 0 {
		return nil, errors.New("no program to run")
	}
	if o.hasMode && o.ns == "" {
		return nil, errors.New("--ns-mode needs --ns")
	}
	if o.saveEvery > 0 && o.state == "" {
		return nil, errors.New("--save-every needs --state")
	}
	if o.ns != "" && (o.floor || o.window) {
		return nil, errors.New("the benchmark flags are for anonymous sandboxes")
	}
	o.argv = args
	return o, nil
}

// parseLimits reads "SEMMSL SEMMNS SEMOPM SEMMNI".
func parseLimits(s string) (sem.Limits, error) {
	f := strings.Fields(s)
	if len(f) != 4 {
		return sem.Limits{}, fmt.Errorf("--limits wants 4 numbers \"SEMMSL SEMMNS SEMOPM SEMMNI\", got %q", s)
	}
	var v [4]int32
	for i := range f {
		n, err := strconv.ParseInt(f[i], 10, 32)
		if err != nil || n < 0 {
			return sem.Limits{}, fmt.Errorf("--limits: bad number %q", f[i])
		}
		v[i] = int32(n)
	}
	return sem.Limits{SEMMSL: v[0], SEMMNS: v[1], SEMOPM: v[2], SEMMNI: v[3]}, nil
}

// run implements `sembox run` and returns the exit status.
func run(args []string) int {
	o, err := parseRunArgs(args)
	if err != nil {
		fmt.Fprintf(os.Stderr, "sembox run: %v\n", err)
		return 2
	}
	if _, err := supervisor.FeaturesFromEnv(); err != nil {
		fmt.Fprintf(os.Stderr, "sembox run: %v\n", err)
		return 2
	}
	views, err := procViews(o)
	if err != nil {
		fmt.Fprintf(os.Stderr, "sembox run: %v\n", err)
		return 2
	}
	var trace *os.File
	if o.trace {
		trace = os.Stderr
		if o.traceFile != "" {
			f, err := os.Create(o.traceFile)
			if err != nil {
				fmt.Fprintf(os.Stderr, "sembox run: %v\n", err)
				return 2
			}
			defer f.Close()
			trace = f
		}
	}
	// SEMBOX_CPUPROFILE=FILE (hidden, for profiling the hot path; not in
	// the help text): write a pprof CPU profile of this process, the
	// supervisor's, from here until run returns (go tool pprof FILE).
	// The variable is inherited by the sandboxed program, which does not
	// read it.
	if stop := startCPUProfile(os.Getenv(cpuProfileEnv)); stop != nil {
		defer stop()
	}
	if o.ns != "" {
		return runJoined(o, trace, views)
	}
	clock := supervisor.NewCoarseClock()
	ns, err := openState(o.state, clock, o.limits)
	if err != nil {
		fmt.Fprintf(os.Stderr, "sembox run: %v\n", err)
		return 2
	}
	srv := server.New(ns, clock)
	stopSaving := make(chan struct{})
	go saveEvery(srv, o.state, o.saveEvery, stopSaving, func(err error) { fmt.Fprintf(os.Stderr, "sembox run: %v\n", err) })

	// Orphaned descendants are reparented to sembox, so it can reap them
	// and knows when the sandbox's last process is gone.
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		fmt.Fprintf(os.Stderr, "sembox run: PR_SET_CHILD_SUBREAPER: %v\n", err)
		return 1
	}

	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, unix.SIGINT, unix.SIGTERM, unix.SIGHUP, unix.SIGQUIT)

	// The supervisor must serve from the moment the listener exists: the
	// filter traps execve, which the helper calls to become the program.
	var sup *supervisor.Supervisor
	var own server.Member
	var supErr error
	sb, err := launch.Start(launch.Config{
		Path:        o.argv[0],
		Args:        o.argv,
		ExtraNotify: supervisor.ExtraNotify(false),
		ProcViews:   views,
		OpenNotify:  supervisor.OpenSyscalls,
		OnSetup: func(su launch.Setup) {
			traceProcViews(trace, views, su)
			jc := server.JoinConfig{Member: server.Member{PID: os.Getpid(), UID: uint32(os.Geteuid()), Command: o.argv},
				Floor: o.floor, MeasureRecvWindow: o.window}
			if trace != nil {
				jc.Trace = trace
			}
			sup, own, supErr = srv.Join(su.Listener, jc)
			if su.ProcFUSE >= 0 {
				if supErr != nil {
					unix.Close(su.ProcFUSE) // the helper's binds then fail
				} else {
					supErr = sup.ServeProcMount(su.ProcFUSE)
				}
			}
		},
	})
	if supErr != nil {
		fmt.Fprintf(os.Stderr, "sembox run: %v\n", supErr)
		if sb != nil {
			sb.Process.Kill()
		}
		return 1
	}
	if err != nil {
		var se *launch.StartError
		if errors.As(err, &se) {
			return se.Status // the helper has said why
		}
		fmt.Fprintf(os.Stderr, "sembox run: %v\n", err)
		return 1
	}

	root := sb.Process.Pid
	if ln, path, err := control.Listen(); err != nil {
		fmt.Fprintf(os.Stderr, "sembox run: control socket (sembox ipcs will not see this sandbox): %v\n", err)
	} else {
		defer os.Remove(path)
		defer ln.Close()
		go control.Serve(ln, &control.Backend{
			Namespace:   ns,
			Sandbox:     control.Sandbox{PID: os.Getpid(), Command: o.argv, UID: os.Geteuid(), Mode: 0o600, Created: srv.Created()},
			Adjustments: srv.Adjustments,
			Settle:      srv.Settle,
			Server:      srv, // sembox run --ns PID joins it
			Save: func(path string) error {
				if path == "" {
					path = o.state
				}
				if path == "" {
					return errors.New("no --state file: give one")
				}
				return saveState(srv, path)
			},
		})
	}
	go forwardSignals(sigs, root, sup)
	status := reapAll(root)
	if r := sup.RecvWindowReport(); r != "" {
		fmt.Fprintln(os.Stderr, "sembox:", r)
	}
	// Like a kernel IPC namespace, the sandbox's lives on while programs
	// that joined it (sembox run --ns PID) still use it.
	srv.WaitEmpty(own.ID, nil)
	close(stopSaving)
	if o.state != "" {
		if err := saveState(srv, o.state); err != nil {
			fmt.Fprintf(os.Stderr, "sembox run: %v\n", err)
		}
	}
	return status
}

// cpuProfileEnv names the hidden environment variable that makes `sembox
// run` write a CPU profile of the supervisor (see startCPUProfile).
const cpuProfileEnv = "SEMBOX_CPUPROFILE"

// startCPUProfile starts Go's CPU profiler (setitimer/SIGPROF) writing to
// path and returns the function that stops it and closes the file; nil if
// path is empty or the profile cannot be started (a note on stderr).
func startCPUProfile(path string) func() {
	if path == "" {
		return nil
	}
	f, err := os.Create(path)
	if err != nil {
		fmt.Fprintf(os.Stderr, "sembox run: %s: %v\n", cpuProfileEnv, err)
		return nil
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		fmt.Fprintf(os.Stderr, "sembox run: %s: %v\n", cpuProfileEnv, err)
		return nil
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}

// procViewsEnv names the environment variable that chooses the path of
// the /proc views: "auto" (or unset: the mount path where available, else
// trapped opens), "mount" (the mount path, or fail) or "trap" (trapped
// opens, the fallback; so that tests and CI run both).
const procViewsEnv = "SEMBOX_PROC_VIEWS"

// procViews returns how the run serves /proc/sysvipc/sem and
// /proc/sys/kernel/sem: not at all with --no-proc, else as procViewsEnv
// says.
func procViews(o *runOptions) (launch.ProcViews, error) {
	if o.noProc {
		return launch.ProcViewsOff, nil
	}
	switch v := os.Getenv(procViewsEnv); v {
	case "", "auto":
		return launch.ProcViewsMount, nil
	case "mount":
		return launch.ProcViewsMountOnly, nil
	case "trap":
		return launch.ProcViewsTrap, nil
	default:
		return 0, fmt.Errorf("%s=%q: want auto, mount or trap", procViewsEnv, v)
	}
}

// traceProcViews writes, as the trace's first line, which path the /proc
// views took and why.
func traceProcViews(trace *os.File, asked launch.ProcViews, su launch.Setup) {
	if trace == nil {
		return
	}
	var line string
	switch {
	case su.ProcViews == launch.ProcViewsMount:
		line = "FUSE files bound over /proc/sysvipc/sem and /proc/sys/kernel/sem in the sandbox's mount namespace; open() is not trapped"
	case su.ProcViews == launch.ProcViewsTrap && asked == launch.ProcViewsTrap:
		line = "every open() trapped (" + procViewsEnv + "=trap)"
	case su.ProcViews == launch.ProcViewsTrap:
		line = "every open() trapped: the mount path is not available (" + su.ProcWhy + ")"
	default:
		line = "not served (--no-proc)"
	}
	fmt.Fprintf(trace, "# sembox: /proc views: %s\n", line)
}

// forwardSignals passes the signals sembox receives to the sandbox's root
// process. SIGINT and SIGQUIT typed at a terminal already reach the whole
// foreground process group, the program included, so they are not sent a
// second time; sup (nil when another process serves the sandbox) is told
// that a signal may be pending for any of its processes.
func forwardSignals(sigs <-chan os.Signal, root int, sup *supervisor.Supervisor) {
	for s := range sigs {
		sig := s.(unix.Signal)
		if (sig == unix.SIGINT || sig == unix.SIGQUIT) && inForegroundOfTerminal() {
			if sup != nil {
				sup.SignalSent(0)
			}
			continue
		}
		unix.Kill(root, sig)
		if sup != nil {
			sup.SignalSent(int32(root))
		}
	}
}

func inForegroundOfTerminal() bool {
	pgrp, err := unix.IoctlGetInt(0, unix.TIOCGPGRP)
	return err == nil && pgrp == unix.Getpgrp()
}

// reapAll reaps every process of the sandbox (sembox is their subreaper)
// until none is left, and returns the root process's exit status in the
// shell's convention.
func reapAll(root int) int {
	code := 0
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, unix.WALL, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return code // ECHILD: the sandbox is empty
		}
		if pid != root {
			continue
		}
		switch {
		case ws.Exited():
			code = ws.ExitStatus()
		case ws.Signaled():
			code = 128 + int(ws.Signal())
		}
	}
}

// runJoined runs the program as a member of an existing namespace (a
// shared one, started if need be, or a running anonymous sandbox), whose
// server serves its listener. sembox stays the program's parent and
// subreaper, and passes its exit status and signals as for a sandbox of
// its own.
func runJoined(o *runOptions, trace *os.File, views launch.ProcViews) int {
	t, err := control.ParseTarget(o.ns)
	if err != nil {
		fmt.Fprintf(os.Stderr, "sembox run: --ns: %v\n", err)
		return 2
	}
	// Before becoming a subreaper: the server must not be our child.
	mode := os.FileMode(0o600)
	if o.hasMode {
		mode = o.nsMode
	}
	if err := ensureServer(t, o.limits, mode, o.state, o.saveEvery); err != nil {
		fmt.Fprintf(os.Stderr, "sembox run: --ns %s: %v\n", o.ns, err)
		return 1
	}
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		fmt.Fprintf(os.Stderr, "sembox run: PR_SET_CHILD_SUBREAPER: %v\n", err)
		return 1
	}
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, unix.SIGINT, unix.SIGTERM, unix.SIGHUP, unix.SIGQUIT)
	var joinErr error
	sb, err := launch.Start(launch.Config{
		Path:        o.argv[0],
		Args:        o.argv,
		ExtraNotify: supervisor.ExtraNotify(false),
		ProcViews:   views,
		OpenNotify:  supervisor.OpenSyscalls,
		OnSetup: func(su launch.Setup) {
			traceProcViews(trace, views, su)
			tfd := -1
			if trace != nil {
				tfd = int(trace.Fd())
			}
			_, joinErr = control.Join(t.Socket, su.Listener, tfd, su.ProcFUSE, control.Request{Command: o.argv, Limits: o.limits})
			// The server has its own copies. Without one, the program's
			// trapped calls fail with ENOSYS and the helper says so (on the
			// mount path, its binds of the /proc views fail: ENOTCONN).
			unix.Close(su.Listener)
			if su.ProcFUSE >= 0 {
				unix.Close(su.ProcFUSE)
			}
		},
	})
	if joinErr != nil {
		if sb != nil {
			sb.Process.Kill()
		}
		fmt.Fprintf(os.Stderr, "sembox run: --ns %s: %v\n", o.ns, joinErr)
		return 1
	}
	if err != nil {
		var se *launch.StartError
		if errors.As(err, &se) {
			return se.Status
		}
		fmt.Fprintf(os.Stderr, "sembox run: %v\n", err)
		return 1
	}
	root := sb.Process.Pid
	go forwardSignals(sigs, root, nil)
	return reapAll(root)
}
