//go:build linux

package fuse

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// roleEnv makes the test binary play a part in a child process (see
// TestMain) instead of running the tests.
const roleEnv = "SEMBOX_FUSE_TEST_ROLE"

func TestMain(m *testing.M) {
	if role := os.Getenv(roleEnv); role != "" {
		os.Exit(runRole(role))
	}
	os.Exit(m.Run())
}

// needRoot skips a test that mounts.
func needRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount")
	}
	if _, err := os.Stat(devFuse); err != nil {
		t.Skipf("no %s: %v", devFuse, err)
	}
}

// publicDir makes a directory that every user can reach.
func publicDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "sembox-fuse-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// mountTest mounts testFiles with a fakeFiles in a new directory.
func mountTest(t testing.TB) (*Server, *fakeFiles, string) {
	t.Helper()
	needRoot(t)
	dir := filepath.Join(publicDir(t), "mnt")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	f := &fakeFiles{value: "32000 1024000000 500 32000"}
	s, err := Mount(dir, testFiles, f)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Unmount() })
	return s, f, dir
}

// run runs a command and returns its output (stdout and stderr) and error.
func run(name string, args ...string) (string, error) {
	out, err := exec.Command(name, args...).CombinedOutput()
	return string(out), err
}

func mounted(dir string) bool {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) > 4 && f[4] == dir {
			return true
		}
	}
	return false
}

func TestMountServe(t *testing.T) {
	s, f, dir := mountTest(t)
	if !mounted(dir) {
		t.Fatalf("%s is not in mountinfo", dir)
	}

	// Each open, by another process, sees a new snapshot.
	out1, err1 := run("cat", dir+"/count")
	out2, err2 := run("cat", dir+"/count")
	if err1 != nil || err2 != nil {
		t.Fatalf("cat: %v %q, %v %q", err1, out1, err2, out2)
	}
	n1, _ := strconv.Atoi(strings.TrimSpace(out1))
	n2, _ := strconv.Atoi(strings.TrimSpace(out2))
	if n1 < 1 || n2 <= n1 {
		t.Fatalf("snapshots %q then %q", out1, out2)
	}
	if out, err := run("cat", dir+"/value"); err != nil || out != "32000 1024000000 500 32000\n" {
		t.Fatalf("cat value: %v %q", err, out)
	}

	// A write reaches Write, with the writer's identity.
	cmd := exec.Command("sh", "-c", "echo 1 2 3 4 > "+dir+"/value")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("echo: %v %q", err, out)
	}
	f.mu.Lock()
	w := f.writes
	f.mu.Unlock()
	want := fakeWrite{"value", 0, "1 2 3 4\n", Caller{PID: uint32(cmd.Process.Pid), UID: 0, GID: 0}}
	if len(w) != 1 || w[0] != want {
		t.Fatalf("writes %+v, want %+v", w, want)
	}
	if out, err := run("cat", dir+"/value"); err != nil || out != "1 2 3 4\n" {
		t.Fatalf("cat value after write: %v %q", err, out)
	}
	// Write's errno reaches the writer.
	// (bash says why; dash's echo says "I/O error" whatever the errno.)
	out, err := run("bash", "-c", "echo bad > "+dir+"/value")
	if err == nil || !strings.Contains(out, "Invalid argument") {
		t.Fatalf("echo bad: %v %q", err, out)
	}
	if err := os.WriteFile(dir+"/value", []byte("bad\n"), 0); !errors.Is(err, syscall.EINVAL) {
		t.Fatalf("write bad: %v", err)
	}
	// Open's errno reaches the opener.
	if out, err := run("cat", dir+"/denied"); err == nil || !strings.Contains(out, "Permission denied") {
		t.Fatalf("cat denied: %v %q", err, out)
	}

	// A missing name, and no creating one.
	if _, err := os.Open(dir + "/missing"); !errors.Is(err, syscall.ENOENT) {
		t.Fatalf("open missing: %v", err)
	}
	if _, err := os.OpenFile(dir+"/missing", os.O_WRONLY|os.O_CREATE, 0o644); !errors.Is(err, syscall.EACCES) {
		t.Fatalf("create missing: %v", err)
	}

	// The directory and the attributes.
	if out, err := run("ls", "-la", dir); err != nil || !strings.Contains(out, "count") {
		t.Fatalf("ls: %v %q", err, out)
	}
	names, err := os.ReadDir(dir)
	if err != nil || len(names) != 3 || names[0].Name() != "count" || names[1].Name() != "denied" || names[2].Name() != "value" {
		t.Fatalf("ReadDir: %v %v", names, err)
	}
	var st unix.Stat_t
	if err := unix.Stat(dir+"/value", &st); err != nil {
		t.Fatal(err)
	}
	if st.Mode != unix.S_IFREG|0o644 || st.Size != 0 || st.Nlink != 1 || st.Uid != 0 || st.Gid != 0 {
		t.Fatalf("stat value: %+v", st)
	}
	if err := unix.Stat(dir, &st); err != nil || st.Mode != unix.S_IFDIR|0o555 {
		t.Fatalf("stat root: %#o %v", st.Mode, err)
	}
	var sfs unix.Statfs_t
	if err := unix.Statfs(dir, &sfs); err != nil || sfs.Type != unix.FUSE_SUPER_MAGIC {
		t.Fatalf("statfs: %#x %v", sfs.Type, err)
	}
	if _, err := unix.Getxattr(dir+"/value", "user.x", nil); !errors.Is(err, unix.ENODATA) {
		t.Fatalf("getxattr: %v", err)
	}
	if err := os.Truncate(dir+"/value", 0); err != nil {
		t.Fatalf("truncate: %v", err)
	}
	if err := os.Chmod(dir+"/value", 0o666); !errors.Is(err, syscall.EPERM) {
		t.Fatalf("chmod: %v", err)
	}

	// default_permissions: the kernel refuses other users' writes to a
	// 0644 root file, without asking us; reads are allowed.
	cmd = exec.Command("sh", "-c", "cat "+dir+"/value; echo 9 9 9 9 > "+dir+"/value")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	b, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(b), "1 2 3 4\n") || !strings.Contains(string(b), "Permission denied") {
		t.Fatalf("as nobody: %v %q", err, b)
	}
	f.mu.Lock()
	nw := len(f.writes)
	f.mu.Unlock()
	if nw != 3 { // "1 2 3 4" and "bad" twice
		t.Fatalf("%d writes reached Write, want 3", nw)
	}

	// Many readers at once.
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				b, err := os.ReadFile(dir + "/value")
				if err != nil || string(b) != "1 2 3 4\n" {
					errs <- fmt.Errorf("read %q: %v", b, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	// Unmount ends the mount and the serving goroutines; open files
	// are released.
	if err := s.Unmount(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.Done():
	default:
		t.Fatal("Unmount returned before the workers ended")
	}
	if mounted(dir) {
		t.Fatalf("%s still mounted", dir)
	}
	if err := s.Unmount(); err != nil {
		t.Fatalf("second Unmount: %v", err)
	}
}

// The mount going away (umount by someone else) ends the server.
func TestExternalUnmount(t *testing.T) {
	s, _, dir := mountTest(t)
	if out, err := run("cat", dir+"/count"); err != nil {
		t.Fatalf("cat: %v %q", err, out)
	}
	if err := unix.Unmount(dir, 0); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("server still running 10 s after umount")
	}
	if err := s.Unmount(); err != nil {
		t.Fatalf("Unmount after umount: %v", err)
	}
}

// gateFiles blocks each Open of "slow" until gate is closed.
type gateFiles struct {
	fakeFiles
	entered chan struct{}
	gate    chan struct{}
}

func (g *gateFiles) Open(name string, flags uint32, c Caller) ([]byte, syscall.Errno) {
	if name == "slow" {
		g.entered <- struct{}{}
		<-g.gate
		return []byte("slow\n"), 0
	}
	return g.fakeFiles.Open(name, flags, c)
}

// poolState waits up to 5 s for the server to have total workers, one of
// them reading, and returns its last state.
func poolState(s *Server, total int) (int, int) {
	deadline := time.Now().Add(5 * time.Second)
	for {
		s.poolMu.Lock()
		t, r := s.total, s.reading
		s.poolMu.Unlock()
		if t == total && r == 1 || time.Now().After(deadline) {
			return t, r
		}
		time.Sleep(time.Millisecond)
	}
}

// Requests are served while Files calls take their time, and the workers
// started for that end.
func TestSlowCallbacks(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	g := &gateFiles{entered: make(chan struct{}), gate: make(chan struct{})}
	s, err := Mount(dir, []FileInfo{{"slow", 0o444}, {"count", 0o444}}, g)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Unmount()
	const slow = 5
	results := make(chan string, slow)
	for i := 0; i < slow; i++ {
		go func() {
			b, err := os.ReadFile(dir + "/slow")
			results <- fmt.Sprintf("%s%v", b, err)
		}()
		<-g.entered
	}
	for i := 0; i < 50; i++ {
		if out, err := run("cat", dir+"/count"); err != nil {
			t.Fatalf("cat while %d opens wait: %v %q", slow, err, out)
		}
	}
	// (The reader may be answering a late FUSE_RELEASE: wait a little.)
	total, reading := poolState(s, slow+1)
	if total != slow+1 || reading != 1 {
		t.Errorf("%d workers, %d reading; want %d, 1", total, reading, slow+1)
	}
	close(g.gate)
	for i := 0; i < slow; i++ {
		if r := <-results; r != "slow\n<nil>" {
			t.Errorf("slow read: %q", r)
		}
	}
	// Each worker that answered a slow open ends after its answer.
	total, reading = poolState(s, 1)
	if total != 1 || reading != 1 {
		t.Errorf("after: %d workers, %d reading; want 1, 1", total, reading)
	}
	if err := s.Unmount(); err != nil {
		t.Fatal(err)
	}
}

func TestMountErrors(t *testing.T) {
	needRoot(t)
	if _, err := Mount(filepath.Join(t.TempDir(), "none"), testFiles, &fakeFiles{}); !errors.Is(err, syscall.ENOENT) {
		t.Fatalf("Mount on a missing directory: %v", err)
	}
	if _, err := Mount(t.TempDir(), []FileInfo{{"a/b", 0o444}}, &fakeFiles{}); err == nil {
		t.Fatal("Mount with a bad name did not fail")
	}
}

// BenchmarkOpenReadClose measures open+read+close of a served file.
func BenchmarkOpenReadClose(b *testing.B) {
	_, _, dir := mountTest(b)
	buf := make([]byte, 4096)
	path := dir + "/value"
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			b.Fatal(err)
		}
		if n, err := unix.Read(fd, buf); err != nil || n == 0 || !bytes.HasSuffix(buf[:n], []byte("\n")) {
			b.Fatal(n, err)
		}
		unix.Close(fd)
	}
}

// runRole plays a part in a child process: see procbind_test.go.
func runRole(role string) int {
	switch role {
	case "bind":
		return roleBind()
	case "time":
		return roleTime()
	case "userns-outer":
		return roleUsernsOuter()
	case "userns":
		return roleUserns()
	}
	fmt.Fprintln(os.Stderr, "unknown role", role)
	return 2
}
