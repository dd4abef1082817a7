package supervisor

import (
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/sembox/sembox/abi"
	"github.com/sembox/sembox/internal/fuse"
	"github.com/sembox/sembox/sem"
)

// viewsSupervisor is a supervisor with no sandbox, enough for procFiles:
// a namespace with one set, and no exits to handle.
func viewsSupervisor(t *testing.T) *Supervisor {
	t.Helper()
	ns := sem.NewNamespace(sem.SystemClock{})
	root := &sem.Task{PID: 1, Cred: &sem.Cred{}}
	if _, err := ns.Semget(root, 0x1234, 3, abi.IPC_CREAT|0o640); err != 0 {
		t.Fatal(err)
	}
	return &Supervisor{ns: ns, order: &ArrivalOrder{}, fdsClosed: true}
}

// TestProcFilesContent: the mount path's files show what a trapped open
// of them shows, for this process as the caller.
func TestProcFilesContent(t *testing.T) {
	s := viewsSupervisor(t)
	f := &procFiles{s: s}
	me := fuse.Caller{PID: uint32(os.Getpid()), UID: uint32(os.Geteuid()), GID: uint32(os.Getegid())}
	var want strings.Builder
	s.ns.WriteProcSysvipcSem(&want)
	got, errno := f.Open("sysvipc_sem", unix.O_RDONLY, me)
	if errno != 0 || string(got) != want.String() || !strings.Contains(string(got), "4660") {
		t.Errorf("sysvipc_sem: %q %v, want %q", got, errno, want.String())
	}
	got, errno = f.Open("kernel_sem", unix.O_RDONLY, me)
	if errno != 0 || string(got) != s.ns.ProcSysKernelSem() {
		t.Errorf("kernel_sem: %q %v", got, errno)
	}
	// Many at once, as FUSE workers may: the arrival order lets each
	// through.
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, errno := f.Open("kernel_sem", unix.O_RDONLY, me); errno != 0 {
				t.Errorf("concurrent open: %v", errno)
			}
		}()
	}
	wg.Wait()
}

// TestProcFilesWrite: who may open for writing, and what writes do, as on
// the trapped path (openView) and in the kernel (the errnos of write).
func TestProcFilesWrite(t *testing.T) {
	s := viewsSupervisor(t)
	f := &procFiles{s: s}
	me := fuse.Caller{PID: uint32(os.Getpid()), UID: uint32(os.Geteuid()), GID: uint32(os.Getegid())}
	// A caller outside the supervisor's pid namespace counts by its ids.
	other := fuse.Caller{PID: 0, UID: 65534, GID: 65534}
	rootOutside := fuse.Caller{PID: 0, UID: 0, GID: 0}

	if _, errno := f.Open("sysvipc_sem", unix.O_WRONLY, rootOutside); errno != syscall.EACCES {
		t.Errorf("writing sysvipc_sem as root: %v, want EACCES", errno)
	}
	if _, errno := f.Open("kernel_sem", unix.O_WRONLY|unix.O_TRUNC, other); errno != syscall.EACCES {
		t.Errorf("writing kernel_sem as nobody: %v, want EACCES", errno)
	}
	if _, errno := f.Open("kernel_sem", unix.O_WRONLY|unix.O_TRUNC, rootOutside); errno != 0 {
		t.Errorf("writing kernel_sem as root: %v", errno)
	}
	if os.Geteuid() == 0 {
		if _, errno := f.Open("kernel_sem", unix.O_RDWR, me); errno != 0 {
			t.Errorf("writing kernel_sem as this root process: %v", errno)
		}
	}
	if errno := f.Write("kernel_sem", 0, []byte("250 32000 32 128\n"), me); errno != 0 {
		t.Fatalf("write: %v", errno)
	}
	if got := s.ns.ProcSysKernelSem(); got != "250\t32000\t32\t128\n" {
		t.Errorf("limits after the write: %q", got)
	}
	if errno := f.Write("kernel_sem", 0, []byte("abc\n"), me); errno != syscall.EINVAL {
		t.Errorf("malformed write: %v, want EINVAL", errno)
	}
	if errno := f.Write("kernel_sem", 0, []byte("1 2 3 99999999\n"), me); errno != syscall.ERANGE {
		t.Errorf("SEMMNI out of range: %v, want ERANGE", errno)
	}
	if errno := f.Write("kernel_sem", 4, []byte("1 1 1 1\n"), me); errno != 0 {
		t.Errorf("write at an offset: %v, want it ignored", errno)
	}
	if errno := f.Write("sysvipc_sem", 0, []byte("x"), me); errno != syscall.EBADF {
		t.Errorf("write to sysvipc_sem: %v, want EBADF", errno)
	}

	for _, tc := range []struct {
		name string
		mask uint32
		c    fuse.Caller
		want syscall.Errno
	}{
		{"kernel_sem", unix.R_OK, other, 0},
		{"kernel_sem", unix.W_OK, other, syscall.EACCES},
		{"kernel_sem", unix.W_OK, rootOutside, 0},
		{"kernel_sem", unix.X_OK, rootOutside, syscall.EACCES},
		{"sysvipc_sem", unix.R_OK, other, 0},
		{"", unix.W_OK, rootOutside, syscall.EACCES},
	} {
		if got := f.Access(tc.name, tc.mask, tc.c); got != tc.want {
			t.Errorf("Access(%q, %d, uid %d) = %v, want %v", tc.name, tc.mask, tc.c.UID, got, tc.want)
		}
	}
}
