package launch

import (
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/sembox/sembox/internal/fuse"
	"github.com/sembox/sembox/internal/supervisor"
)

// ProcViews says how a sandbox's programs see /proc/sysvipc/sem and
// /proc/sys/kernel/sem, which must describe the sandbox's namespace.
type ProcViews int

const (
	// ProcViewsOff leaves the kernel's files: nothing is mounted or
	// trapped for them.
	ProcViewsOff ProcViews = iota
	// ProcViewsTrap traps every open, openat and openat2 (Config.OpenNotify)
	// and leaves the caller to answer those of the two files: a round trip
	// to the supervisor for every open of the sandbox.
	ProcViewsTrap
	// ProcViewsMount is the mount path: the helper enters a mount namespace
	// of the sandbox's own and binds the files of a FUSE mount served by
	// the caller (supervisor.ProcMountFiles) over the two files; no open
	// is trapped, and only the opens of the two files reach the caller,
	// through FUSE. As asked for in Config, it falls back to ProcViewsTrap
	// where the mount path is not available (Sandbox.ProcWhy says why).
	ProcViewsMount
	// ProcViewsMountOnly is ProcViewsMount without the fallback: the
	// helper fails (ExitSetupFailed) where the mount path is not
	// available. For tests.
	ProcViewsMountOnly
)

// String returns "off", "trap", "mount" or "mount-only".
func (v ProcViews) String() string {
	switch v {
	case ProcViewsOff:
		return "off"
	case ProcViewsTrap:
		return "trap"
	case ProcViewsMount:
		return "mount"
	case ProcViewsMountOnly:
		return "mount-only"
	}
	return "ProcViews(" + strconv.Itoa(int(v)) + ")"
}

// parseProcViews is the inverse of ProcViews.String.
func parseProcViews(s string) (ProcViews, bool) {
	for v := ProcViewsOff; v <= ProcViewsMountOnly; v++ {
		if v.String() == s {
			return v, true
		}
	}
	return 0, false
}

// procMountDir is where the helper mounts the FUSE file system while it
// binds its files: a directory that exists wherever the views do. The
// mount hides it only until the binds are made (their targets are
// reached through descriptors opened before), and is detached before the
// program starts, which never sees it.
const procMountDir = "/proc/sysvipc"

// procMount is the mount path in the helper, half done: the helper is in
// a mount namespace of its own, with a FUSE mount at procMountDir.
type procMount struct {
	dev     int                                 // the connection's /dev/fuse descriptor (-1 once handed over)
	targets [len(supervisor.ProcMountFiles)]int // O_PATH descriptors of the /proc files, in the new namespace
}

// startProcMount takes the mount path as far as it can go before the
// caller serves the FUSE connection: it enters a new mount namespace
// whose mounts are slaves of the original's (mounts made outside still
// appear in it; those made in it do not leak out), and mounts a FUSE file
// system at procMountDir. If the path is not available it returns nil and
// why, with the thread back in its original mount namespace; err is set
// only if it could not go back.
// Precondition: the calling goroutine is locked to its thread (a mount
// namespace belongs to a thread, and the program is exec'd from it).
func startProcMount() (m *procMount, why string, err error) {
	for _, f := range supervisor.ProcMountFiles {
		if _, err := os.Stat(f.Path); err != nil {
			return nil, fmt.Sprintf("no %s", f.Path), nil
		}
	}
	if !hasCapSysAdmin() {
		return nil, "not root (no CAP_SYS_ADMIN): a mount namespace would take a user namespace, which would change the ids programs see", nil
	}
	orig, err := unix.Open("/proc/thread-self/ns/mnt", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Sprintf("/proc/thread-self/ns/mnt: %v", err), nil
	}
	defer unix.Close(orig)
	if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
		return nil, fmt.Sprintf("unshare(CLONE_NEWNS): %v", err), nil
	}
	m = &procMount{dev: -1}
	for i := range m.targets {
		m.targets[i] = -1
	}
	if why = m.mount(); why == "" {
		return m, "", nil
	}
	m.close()
	if err := unix.Setns(orig, unix.CLONE_NEWNS); err != nil {
		return nil, why, fmt.Errorf("the /proc views cannot be mounted (%s), and returning to the original mount namespace failed: %w", why, err)
	}
	return nil, why, nil
}

// mount does startProcMount's work in the new namespace, and reports why
// it failed, or "".
func (m *procMount) mount() string {
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_SLAVE, ""); err != nil {
		return fmt.Sprintf("making the mounts slaves: %v", err)
	}
	for i, f := range supervisor.ProcMountFiles {
		fd, err := unix.Open(f.Path, unix.O_PATH|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Sprintf("%s: %v", f.Path, err)
		}
		m.targets[i] = fd
	}
	fd, err := fuse.MountConn(procMountDir, fuse.MountOptions{OwnPermissions: true})
	if err != nil {
		return err.Error()
	}
	m.dev = fd
	return ""
}

// bind binds the FUSE files over the /proc files and detaches the FUSE
// mount from procMountDir (the binds keep its connection). The caller
// must be serving the connection: each bind looks its file up.
func (m *procMount) bind() error {
	for i, f := range supervisor.ProcMountFiles {
		src := procMountDir + "/" + f.Name
		dst := "/proc/self/fd/" + strconv.Itoa(m.targets[i])
		if err := unix.Mount(src, dst, "", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("cannot bind the served %s: %w", f.Path, err)
		}
	}
	if err := unix.Unmount(procMountDir, unix.MNT_DETACH); err != nil {
		return fmt.Errorf("cannot detach the FUSE mount from %s: %w", procMountDir, err)
	}
	m.close()
	return nil
}

// close closes the descriptors m still holds.
func (m *procMount) close() {
	if m.dev >= 0 {
		unix.Close(m.dev)
		m.dev = -1
	}
	for i, fd := range m.targets {
		if fd >= 0 {
			unix.Close(fd)
			m.targets[i] = -1
		}
	}
}
