package semscript

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// cSource is the native executor (c/semexec.c).
//
//go:embed c/semexec.c
var cSource []byte

// BuildNative compiles the native executor into dir with
// gcc -O2 -Wall -Werror and returns the path of the binary.
func BuildNative(dir string) (string, error) {
	return compileExecutor(dir, "gcc", strictFlags, "semexec")
}

// CheckUnshare reports whether this process may create IPC namespaces
// (unshare --ipc works), which RunNative needs.
func CheckUnshare() error {
	out, err := exec.Command("unshare", "--ipc", "true").CombinedOutput()
	if err != nil {
		return fmt.Errorf("unshare --ipc: %v: %s", err, bytes.TrimSpace(out))
	}
	return nil
}

// ErrScript is returned by RunNative when the C executor rejects the script.
var ErrScript = errors.New("native executor rejected the script")

// RunNative runs script through the native executor bin in a fresh IPC
// namespace (unshare --ipc) and returns its output.
func RunNative(bin, script string) (string, error) {
	out, status, err := runExecutor(script, bin)
	switch {
	case err == nil:
		return out, nil
	case status == 2:
		return out, fmt.Errorf("%w: %v", ErrScript, err)
	default:
		return out, fmt.Errorf("native executor: %v", err)
	}
}

// executorTimeout bounds one run of an executor.
const executorTimeout = 2 * time.Minute

// runExecutor runs the command line args (an executor, perhaps behind
// `sembox run --`) in a fresh IPC namespace (unshare --ipc) with script on
// its standard input, and returns its output. If it fails, status is its
// exit status (-1 if it did not exit) and err says why, with its standard
// error. After executorTimeout its whole process group is killed: a
// process left blocked would keep its IPC namespace forever.
func runExecutor(script string, args ...string) (out string, status int, err error) {
	return runExecutorContext(context.Background(), script, args...)
}

// runExecutorContext is runExecutor, also killed when ctx is done.
func runExecutorContext(ctx context.Context, script string, args ...string) (out string, status int, err error) {
	ctx, cancel := context.WithTimeout(ctx, executorTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "unshare", append([]string{"--ipc"}, args...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.Stdin = strings.NewReader(script)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		status = -1
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			status = ee.ExitCode()
		}
		return stdout.String(), status, fmt.Errorf("%v: %s", err, bytes.TrimSpace(stderr.Bytes()))
	}
	return stdout.String(), 0, nil
}

// Mismatch is the first line where two outputs differ.
type Mismatch struct {
	Line   int    // 0-based output line
	Native string // the kernel's line, or "" if its output ended
	Engine string // the engine's line, or "" if its output ended
}

// Compare returns the first line where the outputs differ, or nil.
func Compare(native, engine string) *Mismatch {
	a := strings.Split(strings.TrimSuffix(native, "\n"), "\n")
	b := strings.Split(strings.TrimSuffix(engine, "\n"), "\n")
	for i := 0; i < max(len(a), len(b)); i++ {
		var x, y string
		if i < len(a) {
			x = a[i]
		}
		if i < len(b) {
			y = b[i]
		}
		if x != y {
			return &Mismatch{Line: i, Native: x, Engine: y}
		}
	}
	return nil
}

// Report renders m with up to context preceding lines of output.
func (m *Mismatch) Report(native string, context int) string {
	return m.ReportAs(native, "engine", context)
}

// ReportAs is Report with the other side's line labelled name (such as
// "sembox") instead of "engine".
func (m *Mismatch) ReportAs(native, name string, context int) string {
	var b strings.Builder
	w := max(len("kernel"), len(name))
	lines := strings.Split(native, "\n")
	from := max(0, m.Line-context)
	for i := from; i < m.Line && i < len(lines); i++ {
		fmt.Fprintf(&b, "  %*s %4d   %s\n", w, "", i+1, lines[i])
	}
	fmt.Fprintf(&b, "  %*s %4d - %s\n", w, "kernel", m.Line+1, orEnd(m.Native))
	fmt.Fprintf(&b, "  %*s %4d + %s\n", w, name, m.Line+1, orEnd(m.Engine))
	return b.String()
}

func orEnd(s string) string {
	if s == "" {
		return "(end of output)"
	}
	return s
}
