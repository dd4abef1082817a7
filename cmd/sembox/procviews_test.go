package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// procViewsScript makes two sets, opens an ordinary file, and shows the
// /proc views and what writing them does, as root and as nobody. Its
// argument adds a part: "paths" writes /proc/sysvipc/sem (the kernel lets
// root open it and fails the write with EIO; sembox refuses the open with
// EACCES on both paths), "bad" writes a malformed value (the kernel and
// the mount path fail the write with EINVAL; the trap path applies writes
// when the file is closed and cannot fail them).
const procViewsScript = `use IPC::SysV qw(IPC_CREAT);
$| = 1;
sub show { my $f = shift; my $h; open($h, "<", $f) or return print "read $f: $!\n"; local $/; my $c = <$h>; print "$f:\n$c" }
sub put {
	my ($f, $v) = @_; my $h;
	open($h, ">", $f) or return print "open $f for writing: $!\n";
	my $n = syswrite($h, $v); print "write \"$v\" to $f: ", (defined $n ? "ok" : "$!"), "\n";
	close($h) or print "close: $!\n";
}
semget(0x1234, 3, IPC_CREAT|0640) // die "semget: $!";
semget(0x5678, 1, IPC_CREAT|0600) // die "semget: $!";
open(my $x, "<", "/etc/hostname") or die "/etc/hostname: $!"; close($x);
show("/proc/sysvipc/sem"); show("/proc/sys/kernel/sem");
put("/proc/sys/kernel/sem", "250 32000 32 128");
show("/proc/sys/kernel/sem");
if ($ARGV[0] eq "paths") { put("/proc/sysvipc/sem", "x") }
if ($ARGV[0] eq "bad") { put("/proc/sys/kernel/sem", "abc"); show("/proc/sys/kernel/sem") }
if (fork() == 0) {
	$) = "65534 65534"; $> = 65534;
	put("/proc/sys/kernel/sem", "1 1 1 1"); show("/proc/sys/kernel/sem"); show("/proc/sysvipc/sem");
	exit 0;
}
wait;
`

// ctimes matches the ctime column of /proc/sysvipc/sem.
var ctimes = regexp.MustCompile(`(?m) \d{10}$`)

// procViewsEnv runs the script with the views' path set by env
// (SEMBOX_PROC_VIEWS=...; "" for the kernel itself), in a fresh IPC
// namespace, and returns its output with the ctimes replaced, and the
// trace.
func runProcViews(t *testing.T, bin, path, part string) (out, trace string) {
	t.Helper()
	tf := filepath.Join(t.TempDir(), "trace")
	args := []string{"--ipc", bin, "run", "--trace=" + tf, "--", "perl", "-e", procViewsScript, part}
	if path == "" {
		args = []string{"--ipc", "perl", "-e", procViewsScript, part}
	}
	cmd := exec.Command("unshare", args...)
	cmd.Env = append(os.Environ(), procViewsEnv+"="+path)
	b, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", path, err, b)
	}
	if path != "" {
		tb, err := os.ReadFile(tf)
		if err != nil {
			t.Fatal(err)
		}
		trace = string(tb)
	}
	return ctimes.ReplaceAllString(string(b), " CTIME"), trace
}

func needProcViews(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (unshare --ipc, the mount path)")
	}
	if _, err := exec.LookPath("perl"); err != nil {
		t.Skip("needs perl")
	}
	for _, f := range []string{"/dev/fuse", "/proc/sysvipc/sem"} {
		if _, err := os.Stat(f); err != nil {
			t.Skip(err)
		}
	}
	bin := filepath.Join(t.TempDir(), "sembox")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestProcViewPaths: the views are the same on the mount path, on the
// trap path and in the kernel; the trace says which path was taken, and
// shows that on the mount path no open is trapped.
func TestProcViewPaths(t *testing.T) {
	bin := needProcViews(t)
	native, _ := runProcViews(t, bin, "", "")
	mount, mtrace := runProcViews(t, bin, "mount", "")
	trap, ttrace := runProcViews(t, bin, "trap", "")
	t.Logf("in the kernel:\n%s", native)
	for _, want := range []string{"4660          0   640          3", "22136          1   600          1",
		"250\t32000\t32\t128\n", "open /proc/sys/kernel/sem for writing: Permission denied"} {
		if !strings.Contains(native, want) {
			t.Fatalf("the kernel's output lacks %q", want)
		}
	}
	if mount != native {
		t.Errorf("mount path:\n%s\nthe kernel:\n%s", mount, native)
	}
	if trap != native {
		t.Errorf("trap path:\n%s\nthe kernel:\n%s", trap, native)
	}

	if !strings.HasPrefix(mtrace, "# sembox: /proc views: FUSE files bound over") {
		t.Errorf("mount path: trace does not begin with the path taken:\n%s", mtrace)
	}
	if strings.Contains(mtrace, "<trapped") || strings.Contains(mtrace, "/etc/hostname") {
		t.Errorf("mount path: opens were trapped:\n%s", mtrace)
	}
	if n := strings.Count(mtrace, `open("/proc/sysvipc/sem", 0100000) <FUSE: served>`); n != 2 {
		t.Errorf("mount path: %d reads of /proc/sysvipc/sem served through FUSE, want 2:\n%s", n, mtrace)
	}
	if !strings.Contains(mtrace, `open("/proc/sys/kernel/sem", 0101001) <FUSE: EACCES>`) {
		t.Errorf("mount path: nobody's write not refused through FUSE:\n%s", mtrace)
	}
	if !strings.HasPrefix(ttrace, "# sembox: /proc views: every open() trapped ("+procViewsEnv+"=trap)") {
		t.Errorf("trap path: trace does not begin with the path taken:\n%s", ttrace)
	}
	if !strings.Contains(ttrace, `openat("/etc/hostname") <trapped: continued>`) ||
		!strings.Contains(ttrace, `openat("/proc/sysvipc/sem") <trapped: served>`) {
		t.Errorf("trap path: trace lacks the trapped opens:\n%s", ttrace)
	}

	// Where sembox differs from the kernel, both paths agree.
	mount, _ = runProcViews(t, bin, "mount", "paths")
	trap, _ = runProcViews(t, bin, "trap", "paths")
	if mount != trap || !strings.Contains(mount, "open /proc/sysvipc/sem for writing: Permission denied") {
		t.Errorf("writing /proc/sysvipc/sem: mount path:\n%s\ntrap path:\n%s", mount, trap)
	}
	// A malformed value fails the write as in the kernel, on the mount path.
	native, _ = runProcViews(t, bin, "", "bad")
	mount, _ = runProcViews(t, bin, "mount", "bad")
	if mount != native || !strings.Contains(mount, "write \"abc\" to /proc/sys/kernel/sem: Invalid argument") {
		t.Errorf("a malformed value: mount path:\n%s\nthe kernel:\n%s", mount, native)
	}

	if m := procMountsHere(); m != "" {
		t.Errorf("a mount of the sandbox leaked into the host's namespace:\n%s", m)
	}
}

// TestProcViewsJoined: members of a shared namespace see it through their
// own mounts.
func TestProcViewsJoined(t *testing.T) {
	bin := needProcViews(t)
	sock := filepath.Join(t.TempDir(), "ns.sock")
	defer exec.Command(bin, "ns", "rm", sock).Run()
	run := func(script string) string {
		cmd := exec.Command(bin, "run", "--ns", sock, "--trace=/dev/stderr", "--", "sh", "-c", script)
		cmd.Env = append(os.Environ(), procViewsEnv+"=mount")
		b, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", script, err, b)
		}
		return string(b)
	}
	out := run(`perl -e 'use IPC::SysV qw(IPC_CREAT); semget(0x4321, 2, IPC_CREAT|0600) // die' && echo 250 32000 32 128 > /proc/sys/kernel/sem`)
	if !strings.Contains(out, "FUSE files bound over") {
		t.Errorf("first member: %s", out)
	}
	out = run(`cat /proc/sysvipc/sem /proc/sys/kernel/sem`)
	if !strings.Contains(out, "     17185          0   600          2") || !strings.Contains(out, "250\t32000\t32\t128\n") ||
		!strings.Contains(out, "<FUSE: served>") {
		t.Errorf("second member:\n%s", out)
	}
}

// TestProcViewsSupervisorKilled: a process of the sandbox that opens a
// view while the supervisor is stopped, and is still waiting when the
// supervisor is killed, gets an error instead of waiting forever.
func TestProcViewsSupervisorKilled(t *testing.T) {
	bin := needProcViews(t)
	dir := t.TempDir()
	done := filepath.Join(dir, "done")
	// The root process dies with sembox (PR_SET_PDEATHSIG); its child, in
	// a session of its own, outlives it. It reads the view from a shell
	// builtin: exec is trapped, and fails once sembox is gone.
	script := `exec 3<&0; (read go <&3; if read -r x < /proc/sys/kernel/sem; then r=ok; else r=failed; fi; echo $r > ` + done + `) &
echo started; wait`
	cmd := exec.Command(bin, "run", "--", "sh", "-c", script)
	cmd.Env = append(os.Environ(), procViewsEnv+"=mount")
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	kill := func() { once.Do(func() { cmd.Process.Kill(); cmd.Wait() }) }
	defer kill()
	buf := make([]byte, 8)
	if n, err := stdout.Read(buf); err != nil || string(buf[:n]) != "started\n" {
		t.Fatalf("sandbox did not start: %q %v", buf[:n], err)
	}
	cmd.Process.Signal(syscall.SIGSTOP)
	stdin.Write([]byte("go\n"))
	kill()
	// Whether the child's open came before the kill (and waited for the
	// stopped server) or after it, it must fail now: the connection was
	// aborted with sembox's descriptor.
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if b, err := os.ReadFile(done); err == nil && len(b) > 0 {
			if string(b) != "failed\n" {
				t.Errorf("the view after sembox was killed: %q", b)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the sandbox's process is still waiting on the view 20 s after sembox was killed")
		}
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
