package launch

import (
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/sembox/sembox/internal/fuse"
	"github.com/sembox/sembox/internal/seccomp"
	"github.com/sembox/sembox/internal/supervisor"
)

// stubViews serves fixed content for the mount path's files and counts
// the opens.
type stubViews struct {
	opens atomic.Int32
}

func (v *stubViews) Open(name string, flags uint32, c fuse.Caller) ([]byte, syscall.Errno) {
	v.opens.Add(1)
	return []byte("view " + name + "\n"), 0
}

func (v *stubViews) Write(name string, off int64, data []byte, c fuse.Caller) syscall.Errno {
	return syscall.EINVAL
}

// viewsRun is what runViews saw.
type viewsRun struct {
	res       result
	setup     Setup
	openNotes int // open-family notifications received
	fuseOpens int // opens served through FUSE
}

// runViews runs script under sh with the /proc views asked for as views,
// continuing every trapped call and serving the mount path's FUSE
// connection with stubViews.
func runViews(t *testing.T, views ProcViews, script string) viewsRun {
	t.Helper()
	var out viewsRun
	var stub stubViews
	var srv *fuse.Server
	var notes atomic.Int32
	var wg sync.WaitGroup
	c := Config{Path: "/bin/sh", Args: []string{"sh", "-c", script}, ProcViews: views, OpenNotify: supervisor.OpenSyscalls}
	outR, outW := pipe(t)
	errR, errW := pipe(t)
	c.Stdout, c.Stderr = outW, errW
	stdout, stderr := readAll(outR), readAll(errR)
	c.OnSetup = func(su Setup) {
		out.setup = su
		if su.ProcFUSE >= 0 {
			files := make([]fuse.FileInfo, len(supervisor.ProcMountFiles))
			for i, f := range supervisor.ProcMountFiles {
				files[i] = fuse.FileInfo{Name: f.Name, Mode: f.Mode}
			}
			var err error
			if srv, err = fuse.Serve(su.ProcFUSE, files, &stub); err != nil {
				t.Errorf("fuse.Serve: %v", err)
			}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			serve(su.Listener, func(n *seccomp.Notif) seccomp.NotifResp {
				if slices.Contains(supervisor.OpenSyscalls, int(n.Data.Nr)) {
					notes.Add(1)
				}
				return seccomp.NotifResp{Flags: seccomp.FlagContinue}
			})
		}()
	}
	sb, err := Start(c)
	outW.Close()
	errW.Close()
	if err != nil {
		t.Fatalf("Start: %v (stderr %q)", err, <-stderr)
	}
	out.res.sandbox = sb
	if out.res.status, err = sb.Wait(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	unix.Close(sb.Listener)
	if srv != nil {
		srv.Unmount()
	}
	out.res.stdout, out.res.stderr = <-stdout, <-stderr
	out.openNotes, out.fuseOpens = int(notes.Load()), int(stub.opens.Load())
	return out
}

// TestProcViewsMountPath: on the mount path no open is trapped, the /proc
// files show what the FUSE server serves, and no mount leaks out; on the
// trap path every open is trapped.
func TestProcViewsMountPath(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the mount path needs root")
	}
	if _, err := os.Stat("/dev/fuse"); err != nil {
		t.Skip("no /dev/fuse")
	}
	if _, err := os.Stat("/proc/sysvipc/sem"); err != nil {
		t.Skip(err)
	}
	const script = `for i in 1 2 3 4 5 6 7 8 9 10; do read -r x < /etc/hostname; done
read -r a < /proc/sysvipc/sem; read -r b < /proc/sys/kernel/sem; echo "$a|$b"
grep -cE ' /proc/(sysvipc|sys/kernel)/sem ' /proc/self/mountinfo || true`

	m := runViews(t, ProcViewsMountOnly, script)
	if m.setup.ProcViews != ProcViewsMount || m.res.sandbox.ProcViews != ProcViewsMount {
		t.Fatalf("mount path not taken: %v (%s)", m.setup.ProcViews, m.setup.ProcWhy)
	}
	if m.res.status.ExitStatus() != 0 || m.res.stdout != "view sysvipc_sem|view kernel_sem\n2\n" {
		t.Errorf("mount path: status %v, stdout %q, stderr %q", m.res.status, m.res.stdout, m.res.stderr)
	}
	if m.openNotes != 0 {
		t.Errorf("mount path: %d opens trapped, want none", m.openNotes)
	}
	if m.fuseOpens != 2 {
		t.Errorf("mount path: %d opens served through FUSE, want 2", m.fuseOpens)
	}

	tr := runViews(t, ProcViewsTrap, script)
	if tr.setup.ProcViews != ProcViewsTrap || tr.setup.ProcFUSE != -1 {
		t.Fatalf("trap path: %+v", tr.setup)
	}
	// The trivial supervisor continues every open: the kernel's files.
	if tr.res.status.ExitStatus() != 0 || strings.Contains(tr.res.stdout, "view") || !strings.HasSuffix(tr.res.stdout, "\n0\n") {
		t.Errorf("trap path: status %v, stdout %q, stderr %q", tr.res.status, tr.res.stdout, tr.res.stderr)
	}
	if tr.openNotes < 12 {
		t.Errorf("trap path: %d opens trapped, want every one (at least 12)", tr.openNotes)
	}
	t.Logf("opens trapped: %d on the mount path, %d on the trap path", m.openNotes, tr.openNotes)

	if m := procMountsHere(); m != "" {
		t.Errorf("a mount of the sandbox leaked into the host's namespace:\n%s", m)
	}
}

// TestProcViewsArgs: the views and the open calls go through the helper's
// command line.
func TestProcViewsArgs(t *testing.T) {
	for _, v := range []ProcViews{ProcViewsOff, ProcViewsTrap, ProcViewsMount, ProcViewsMountOnly} {
		c := Config{Path: "p", ProcViews: v, ExtraNotify: []int{1}, OpenNotify: []int{2, 257}, OnSetup: func(Setup) {}}
		argv, err := helperArgv(c)
		if err != nil {
			t.Fatal(err)
		}
		h, err := parseHelperArgs(argv[2:])
		if err != nil {
			t.Fatal(err)
		}
		if h.procViews != v || !slices.Equal(h.extraNotify, []int{1}) || !slices.Equal(h.openNotify, []int{2, 257}) {
			t.Errorf("%v: round trip gave %+v", v, h)
		}
	}
	if _, err := helperArgv(Config{Path: "p", ProcViews: ProcViewsMount}); err == nil {
		t.Error("the mount path without OnSetup was accepted")
	}
	if _, err := helperArgv(Config{Path: "p", ProcViews: ProcViews(9)}); err == nil {
		t.Error("ProcViews(9) was accepted")
	}
	if got := notifyList([]int{1, 2}, []int{2, 3}); !slices.Equal(got, []int{1, 2, 3}) {
		t.Errorf("notifyList: %v", got)
	}
}

// procMountsHere returns the lines of this process's mountinfo that mount
// something at the /proc views or at the helper's FUSE mount point.
func procMountsHere() string {
	mi, _ := os.ReadFile("/proc/self/mountinfo")
	var out strings.Builder
	for _, line := range strings.Split(string(mi), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && (f[4] == "/proc/sysvipc" || f[4] == "/proc/sysvipc/sem" || f[4] == "/proc/sys/kernel/sem") {
			out.WriteString(line + "\n")
		}
	}
	return out.String()
}
