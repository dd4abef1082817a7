package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sembox/sembox/internal/control"
	"github.com/sembox/sembox/internal/server"
	"github.com/sembox/sembox/internal/supervisor"
	"github.com/sembox/sembox/sem"
)

const nsUsage = `Usage:
  sembox ns ls [--json]        your shared namespaces: name, server, mode,
                               members, sets, semaphores, waiters, age
  sembox ns rm NAME|PATH       stop a shared namespace's server and drop its
                               sets (refused while members run; with
                               --state its image is saved first)
  sembox ns save NAME|PATH|PID [FILE]
                               save the namespace's image to FILE (default:
                               its --state file), as if its members had
                               exited at that instant
A shared namespace is made by the first 'sembox run --ns NAME' that names it.
`

// ns implements `sembox ns`.
func ns(args []string, out io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, nsUsage)
		return 2
	}
	switch args[0] {
	case "ls", "list":
		return nsList(args[1:], out)
	case "rm", "remove":
		return nsRemove(args[1:])
	case "save":
		return nsSave(args[1:])
	case "serve":
		return nsServe(args[1:])
	case "-h", "--help", "help":
		fmt.Fprint(out, nsUsage)
		return 0
	}
	fmt.Fprintf(os.Stderr, "sembox ns: unknown command %q\n%s", args[0], nsUsage)
	return 2
}

func nsList(args []string, out io.Writer) int {
	asJSON := false
	for _, a := range args {
		switch a {
		case "--json":
			asJSON = true
		default:
			fmt.Fprintf(os.Stderr, "sembox ns ls: unknown option %q\n", a)
			return 2
		}
	}
	targets, err := control.Namespaces()
	if err != nil {
		fmt.Fprintf(os.Stderr, "sembox ns ls: %v\n", err)
		return 1
	}
	type row struct {
		Name    string          `json:"name"`
		Socket  string          `json:"socket"`
		Server  control.Sandbox `json:"server"`
		Members []server.Member `json:"members"`
		Sets    int             `json:"sets"`
		Sems    int             `json:"semaphores"`
		Waiters int             `json:"waiters"`
		Limits  sem.Limits      `json:"limits"`
		Error   string          `json:"error,omitempty"`
		resp    *control.Response
	}
	rows := []row{}
	paths := make([]string, len(targets))
	for i, t := range targets {
		paths[i] = t.Socket
	}
	answers := control.AskEach(paths, control.Request{Op: "members"})
	for i, t := range targets {
		r := row{Name: t.Name, Socket: t.Socket, Members: []server.Member{}}
		resp, err := answers[i].Resp, answers[i].Err
		if err != nil {
			r.Error = err.Error()
			if resp == nil && !errors.Is(err, control.ErrNoAnswer) {
				r.Error = "no server (stale socket): " + err.Error()
			}
		} else {
			r.Server, r.Limits = resp.Sandbox, resp.Limits
			if resp.Members != nil {
				r.Members = resp.Members
			}
			if t := resp.Totals; t != nil {
				r.Sets, r.Sems, r.Waiters = t.Sets, t.Semaphores, t.Waiters
			}
		}
		rows = append(rows, r)
	}
	if asJSON {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "   ")
		enc.Encode(map[string]any{"namespaces": rows})
		return 0
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSERVER\tOWNER\tMODE\tMEMBERS\tSETS\tSEMS\tWAITERS\tAGE")
	for _, r := range rows {
		if r.Error != "" {
			fmt.Fprintf(tw, "%s\t-\t-\t-\t-\t-\t-\t-\t%s\n", r.Name, r.Error)
			continue
		}
		age := time.Since(r.Server.Created).Round(time.Second)
		fmt.Fprintf(tw, "%s\t%d\t%s\t%04o\t%d\t%d\t%d\t%d\t%s\n", r.Name, r.Server.PID, name(uint32(r.Server.UID), false),
			r.Server.Mode, len(r.Members), r.Sets, r.Sems, r.Waiters, age)
	}
	tw.Flush()
	return 0
}

func nsRemove(args []string) int {
	if len(args) != 1 {
		fmt.Fprintf(os.Stderr, "sembox ns rm: want one NAME or PATH\n")
		return 2
	}
	t, err := control.ParseTarget(args[0])
	if err == nil && t.PID != 0 {
		err = errors.New("an anonymous sandbox ends with its program; it cannot be removed")
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "sembox ns rm: %v\n", err)
		return 2
	}
	if _, err := control.AskPath(t.Socket, control.Request{Op: "shutdown"}); err != nil {
		fmt.Fprintf(os.Stderr, "sembox ns rm: %s: %v\n", args[0], err)
		return 1
	}
	return 0
}

func nsSave(args []string) int {
	if len(args) < 1 || len(args) > 2 {
		fmt.Fprintf(os.Stderr, "sembox ns save: want NAME|PATH|PID [FILE]\n")
		return 2
	}
	t, err := control.ParseTarget(args[0])
	if err != nil {
		fmt.Fprintf(os.Stderr, "sembox ns save: %v\n", err)
		return 2
	}
	req := control.Request{Op: "save"}
	if len(args) == 2 {
		if req.Path, err = absPath(args[1]); err != nil {
			fmt.Fprintf(os.Stderr, "sembox ns save: %v\n", err)
			return 2
		}
	}
	if _, err := control.AskPath(t.Socket, req); err != nil {
		fmt.Fprintf(os.Stderr, "sembox ns save: %s: %v\n", args[0], err)
		return 1
	}
	return 0
}

// serveOptions are the flags of the hidden `sembox ns serve`, which runs
// a shared namespace's server.
type serveOptions struct {
	socket, name string
	mode         os.FileMode
	limits       *sem.Limits
	readyFD      int  // write "ok" (or why not) here once listening; -1: none
	foreground   bool // do not detach
	state        string
	saveEvery    time.Duration
}

func parseServeArgs(args []string) (*serveOptions, error) {
	o := &serveOptions{mode: 0o600, readyFD: -1}
	for i := 0; i < len(args); i++ {
		a := args[i]
		name, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if name == "foreground" {
			o.foreground = true
			continue
		}
		if !hasVal {
			if i+1 >= len(args) {
				return nil, fmt.Errorf("%s needs a value", a)
			}
			i++
			val = args[i]
		}
		switch name {
		case "socket":
			o.socket = val
		case "name":
			o.name = val
		case "ns-mode":
			m, err := parseMode(val)
			if err != nil {
				return nil, err
			}
			o.mode = m
		case "limits":
			l, err := parseLimits(val)
			if err != nil {
				return nil, err
			}
			o.limits = &l
		case "state":
			p, err := absPath(val)
			if err != nil {
				return nil, err
			}
			o.state = p
		case "save-every":
			d, err := time.ParseDuration(val)
			if err != nil || d <= 0 {
				return nil, fmt.Errorf("--save-every: bad duration %q", val)
			}
			o.saveEvery = d
		case "ready-fd":
			n, err := strconv.Atoi(val)
			if err != nil || n < 3 {
				return nil, fmt.Errorf("bad --ready-fd %q", val)
			}
			o.readyFD = n
		default:
			return nil, fmt.Errorf("unknown flag %q", a)
		}
	}
	if o.socket == "" {
		return nil, errors.New("--socket is required")
	}
	if o.name == "" {
		o.name = o.socket
	}
	return o, nil
}

// parseMode reads an octal socket mode such as 0600 or 666.
func parseMode(s string) (os.FileMode, error) {
	m, err := strconv.ParseUint(s, 8, 32)
	if err != nil || m > 0o777 {
		return 0, fmt.Errorf("bad mode %q (octal, e.g. 0600)", s)
	}
	return os.FileMode(m), nil
}

// daemonEnv marks the detached second stage of `sembox ns serve`.
const daemonEnv = "SEMBOX_NS_DAEMON"

// nsServe runs a shared namespace's server. Without --foreground it
// starts a detached copy of itself (own process group, standard streams
// on /dev/null, cwd /, SIGHUP ignored) and returns at once; the copy
// reports on --ready-fd.
func nsServe(args []string) int {
	o, err := parseServeArgs(args)
	if err != nil {
		fmt.Fprintf(os.Stderr, "sembox ns serve: %v\n", err)
		return 2
	}
	if !o.foreground && os.Getenv(daemonEnv) == "" {
		self, err := os.Executable()
		if err == nil {
			// Nothing the starter inherited (a CI runner's pipe, say)
			// may stay open in a server that outlives it.
			unix.CloseRange(3, ^uint(0), unix.CLOSE_RANGE_CLOEXEC)
			cmd := exec.Command(self, append([]string{"ns", "serve"}, args...)...)
			cmd.Env = append(os.Environ(), daemonEnv+"=1")
			cmd.Dir = "/"
			// A process group of its own (job control and the
			// terminal's signals leave it alone), but the session of
			// the first member: with the scheduler's autogroups (one
			// task group per session) a supervisor in another session
			// than its callers costs each trapped call ~40% more here.
			cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
			if o.readyFD >= 0 {
				// The ready descriptor keeps its number in the copy.
				files := make([]*os.File, o.readyFD-2)
				files[o.readyFD-3] = os.NewFile(uintptr(o.readyFD), "ready")
				cmd.ExtraFiles = files
			}
			err = cmd.Start()
		}
		if err != nil {
			ready(o.readyFD, "cannot start the server: "+err.Error())
			return 1
		}
		return 0
	}
	os.Unsetenv(daemonEnv)

	clock := supervisor.NewCoarseClock()
	nsp, err := openState(o.state, clock, o.limits)
	if err != nil {
		ready(o.readyFD, err.Error())
		return 2
	}
	srv := server.New(nsp, clock)
	ln, err := control.ListenPath(o.socket, o.mode)
	if err != nil {
		ready(o.readyFD, err.Error())
		return 1
	}
	// A namespace given by path is listed among the user's namespaces
	// through a link.
	var link string
	if filepath.Dir(o.socket) != control.NamespaceDir() && control.PrivateDir(control.NamespaceDir()) == nil {
		link = filepath.Join(control.NamespaceDir(), "path"+strings.ReplaceAll(o.socket, "/", "%")+".sock")
		os.Remove(link)
		if os.Symlink(o.socket, link) != nil {
			link = ""
		}
	}
	stop := make(chan struct{})
	var once sync.Once
	stopNow := func() { once.Do(func() { close(stop) }) }
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, unix.SIGTERM, unix.SIGINT)
	go func() { <-sigs; stopNow() }()
	signal.Ignore(unix.SIGPIPE, unix.SIGHUP) // outlives the terminal

	backend := &control.Backend{
		Namespace:   nsp,
		Sandbox:     control.Sandbox{PID: os.Getpid(), Name: o.name, Socket: o.socket, UID: os.Geteuid(), Mode: uint32(o.mode), Created: srv.Created()},
		Adjustments: srv.Adjustments,
		Settle:      srv.Settle,
		Server:      srv,
		Stop:        stopNow,
		Save: func(path string) error {
			if path == "" {
				path = o.state
			}
			if path == "" {
				return errors.New("the namespace has no --state file: give one")
			}
			return saveState(srv, path)
		},
		Shutdown: func() error {
			// A member whose processes have all gone a moment ago is
			// being released: not a reason to refuse.
			srv.Settle()
			srv.WaitGone(time.Second)
			if m := srv.Members(); len(m) > 0 {
				var who []string
				for _, x := range m {
					who = append(who, fmt.Sprintf("%d (%s)", x.PID, strings.Join(x.Command, " ")))
				}
				return fmt.Errorf("%d members use the namespace: sembox run %s; stop them first", len(m), strings.Join(who, ", "))
			}
			return nil
		},
	}
	go control.Serve(ln, backend)
	go saveEvery(srv, o.state, o.saveEvery, stop, func(error) {})
	ready(o.readyFD, "ok")
	<-stop
	// The sets survive the server in its state file: saved when it
	// stops (ns rm, SIGTERM), as if its members had exited then.
	if o.state != "" {
		saveState(srv, o.state)
	}
	os.Remove(o.socket)
	if link != "" {
		os.Remove(link)
	}
	ln.Close()
	return 0
}

// ready reports the server's start on descriptor fd, if any.
func ready(fd int, msg string) {
	if fd < 0 {
		if msg != "ok" {
			fmt.Fprintf(os.Stderr, "sembox ns serve: %s\n", msg)
		}
		return
	}
	f := os.NewFile(uintptr(fd), "ready")
	fmt.Fprintln(f, msg)
	f.Close()
}

// ensureServer makes sure a server listens on t's socket, starting one
// if none does (two callers at once start one between them).
func ensureServer(t control.Target, limits *sem.Limits, mode os.FileMode, state string, every time.Duration) error {
	if serverListens(t.Socket) {
		return nil
	}
	if t.PID != 0 {
		return fmt.Errorf("no running sandbox %d", t.PID)
	}
	if filepath.Dir(t.Socket) == control.NamespaceDir() {
		if err := control.PrivateDir(control.NamespaceDir()); err != nil {
			return err
		}
	}
	unlock, err := control.StartLock(t.Socket)
	if err != nil {
		return fmt.Errorf("%s: %w", t.Socket, err)
	}
	defer unlock()
	if serverListens(t.Socket) {
		return nil // started meanwhile
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	args := []string{"ns", "serve", "--socket", t.Socket, "--name", t.Name, "--ns-mode", fmt.Sprintf("%04o", mode), "--ready-fd", "3"}
	if limits != nil {
		args = append(args, "--limits", fmt.Sprintf("%d %d %d %d", limits.SEMMSL, limits.SEMMNS, limits.SEMOPM, limits.SEMMNI))
	}
	if state != "" {
		abs, err := absPath(state)
		if err != nil {
			return err
		}
		args = append(args, "--state", abs)
		if every > 0 {
			args = append(args, "--save-every", every.String())
		}
	}
	cmd := exec.Command(self, args...)
	cmd.ExtraFiles = []*os.File{w}
	cmd.Stderr = os.Stderr
	err = cmd.Run() // the first stage returns once the server is detached
	w.Close()
	if err != nil {
		r.Close()
		return fmt.Errorf("starting the namespace's server: %w", err)
	}
	r.SetReadDeadline(time.Now().Add(30 * time.Second))
	line, _ := bufio.NewReader(r).ReadString('\n')
	r.Close()
	if line = strings.TrimSpace(line); line != "ok" {
		if line == "" {
			line = "it exited without a word"
		}
		return fmt.Errorf("the namespace's server did not start: %s", line)
	}
	return nil
}

// serverListens reports whether a server answers on socket path (any
// user may ask).
func serverListens(path string) bool {
	_, err := control.AskPath(path, control.Request{Op: "hello"})
	return err == nil
}
