// Package testrun runs commands for the project's tests (tests/...): each
// command in a process group of its own, with a timeout after which the
// whole group is killed, and its output and end collected in a Result. It
// is not used by sembox itself.
package testrun

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// Result of one run.
type Result struct {
	Argv           []string
	Stdout, Stderr string
	Exit           int    // exit status, -1 if killed by a signal or not started
	Signal         string // terminating signal, if any
	TimedOut       bool
	Err            error // why the command could not start
	Dur            time.Duration
}

// OK reports whether the command ran and exited 0 in time.
func (r Result) OK() bool { return r.Exit == 0 && !r.TimedOut && r.Err == nil && r.Signal == "" }

// Status says how the command ended.
func (r Result) Status() string {
	switch {
	case r.TimedOut:
		return fmt.Sprintf("TIMED OUT after %v (process group killed)", r.Dur.Round(time.Millisecond))
	case r.Err != nil:
		return "could not start: " + r.Err.Error()
	case r.Signal != "":
		return "killed by " + r.Signal
	}
	return fmt.Sprintf("exit %d", r.Exit)
}

// String is the command line, its status and its output, for failure
// messages.
func (r Result) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "$ %s\n  -> %s in %v\n", ShellQuote(r.Argv), r.Status(), r.Dur.Round(time.Millisecond))
	for _, l := range lines(r.Stdout) {
		b.WriteString("  | " + l + "\n")
	}
	for _, l := range lines(r.Stderr) {
		b.WriteString("  ! " + l + "\n")
	}
	return b.String()
}

// ShellQuote writes argv as a shell command line.
func ShellQuote(argv []string) string {
	q := make([]string, len(argv))
	for i, a := range argv {
		if a == "" || strings.ContainsAny(a, " \t\n'\"$;&|<>()*?{}\\") {
			q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		} else {
			q[i] = a
		}
	}
	return strings.Join(q, " ")
}

func lines(s string) []string {
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// Command prepares argv to run in dir in its own process group; when ctx
// is done, the whole group is killed. Wait gives up on the output 3 s after
// the process ended (WaitDelay; a caller may change it, or set Env or
// Stdin, before starting the command).
func Command(ctx context.Context, dir string, argv ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 3 * time.Second
	return cmd
}

// Finish fills in how cmd ended (err is what its Run or Wait returned, ctx
// the context it was made with) and kills the stragglers of its process
// group.
func Finish(ctx context.Context, cmd *exec.Cmd, err error, r *Result) {
	r.Exit = -1
	r.TimedOut = ctx.Err() == context.DeadlineExceeded
	if cmd.Process != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // stragglers of the group
	}
	var ee *exec.ExitError
	switch {
	case err == nil:
		r.Exit = 0
	case errors.As(err, &ee):
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			r.Signal = ws.Signal().String()
		} else {
			r.Exit = ee.ExitCode()
		}
	case errors.Is(err, exec.ErrWaitDelay):
		r.Exit = cmd.ProcessState.ExitCode()
	default:
		if !r.TimedOut {
			r.Err = err
		}
	}
}

// RunCmd runs cmd, made by Command with ctx, and waits for it, collecting
// its output.
func RunCmd(ctx context.Context, cmd *exec.Cmd) Result {
	var so, se bytes.Buffer
	cmd.Stdout, cmd.Stderr = &so, &se
	start := time.Now()
	err := cmd.Run()
	r := Result{Argv: cmd.Args, Stdout: so.String(), Stderr: se.String(), Dur: time.Since(start)}
	Finish(ctx, cmd, err, &r)
	return r
}

// Run runs argv in dir in its own process group and waits for it, at most
// timeout: then the whole group is killed. Stragglers of the group are
// killed in any case.
func Run(timeout time.Duration, dir string, argv ...string) Result {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return RunCmd(ctx, Command(ctx, dir, argv...))
}
