//go:build linux

package fuse

// Can an unprivileged user do what TestBindOverProc does, inside a user
// namespace of its own (as `unshare -Urm` makes)? The test runs the
// experiment as nobody and reports each step.

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// readSysctl reports a sysctl's value, or why it could not be read.
func readSysctl(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(" + err.Error() + ")"
	}
	return strings.TrimSpace(string(b))
}

// roleUsernsOuter runs as an unprivileged user (no capabilities): it
// creates a user and mount namespace for each device node of $devEnv, as
// unshare -Urm does (uid 0 inside mapped to its own uid, setgroups
// denied), runs roleUserns there, and reports all as one JSON object.
func roleUsernsOuter() int {
	res := map[string]any{
		"euid":                      os.Geteuid(),
		"max_user_namespaces":       readSysctl("/proc/sys/user/max_user_namespaces"),
		"unprivileged_userns_clone": readSysctl("/proc/sys/kernel/unprivileged_userns_clone"),
		"apparmor_restrict_unprivileged_userns": readSysctl(
			"/proc/sys/kernel/apparmor_restrict_unprivileged_userns"),
	}
	exe, _ := os.Executable()
	for _, dev := range strings.Split(os.Getenv(devEnv), ",") {
		cmd := exec.Command(exe, "-test.run=^$")
		cmd.Env = append(os.Environ(), roleEnv+"=userns", devEnv+"="+dev)
		cmd.SysProcAttr = &syscall.SysProcAttr{
			Cloneflags:                 syscall.CLONE_NEWUSER | syscall.CLONE_NEWNS,
			UidMappings:                []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Geteuid(), Size: 1}},
			GidMappings:                []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getegid(), Size: 1}},
			GidMappingsEnableSetgroups: false,
		}
		cmd.Stderr = os.Stderr
		out, err := cmd.Output()
		var r map[string]string
		if err := json.Unmarshal(out, &r); err != nil {
			r = map[string]string{"error": fmt.Sprintf("%v: %s", err, out)}
		}
		if err != nil {
			r["exit"] = err.Error()
		}
		res[dev] = r
	}
	b, _ := json.Marshal(res)
	fmt.Println(string(b))
	return 0
}

// roleUserns runs as root of a user namespace owned by an unprivileged
// user, in a mount namespace of its own: it tries each step with the
// device node $devEnv.
func roleUserns() int {
	dir := os.Getenv(dirEnv)
	res := map[string]string{"uid_map": readSysctl("/proc/self/uid_map")}
	defer func() {
		b, _ := json.Marshal(res)
		fmt.Println(string(b))
	}()
	res["make_private"] = errString(unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""))
	mi, _ := os.ReadFile("/proc/self/mountinfo")
	for _, line := range strings.Split(string(mi), "\n") {
		if f := strings.Fields(line); len(f) > 5 && f[4] == "/proc" {
			res["proc_mount"] = line
		}
	}
	// Binding a plain file over the /proc files, without FUSE.
	for _, dst := range []string{procSysvipcSem, procSysKernelSem} {
		err := unix.Mount(filepath.Join(dir, "plain"), dst, "", unix.MS_BIND, "")
		res["plain_bind "+dst] = errString(err)
		if err == nil {
			b, err := os.ReadFile(dst)
			res["plain_read "+dst] = strings.TrimSpace(string(b)) + " " + errString(err)
			res["plain_umount "+dst] = errString(unix.Unmount(dst, 0))
		}
	}
	// FUSE.
	devFuse = os.Getenv(devEnv)
	fd, err := unix.Open(devFuse, unix.O_RDWR|unix.O_CLOEXEC, 0)
	res["open_dev"] = errString(err)
	if err == nil {
		unix.Close(fd)
	}
	s, err := Mount(filepath.Join(dir, "mnt"), procFileInfo, &procFiles{limits: "17\t170\t27\t37"})
	res["mount"] = errString(err)
	if err != nil {
		return 0
	}
	defer s.Unmount()
	res["cat_mounted"] = output(exec.Command("cat", filepath.Join(dir, "mnt", "kernel_sem")))
	for src, dst := range map[string]string{"sysvipc_sem": procSysvipcSem, "kernel_sem": procSysKernelSem} {
		res["bind "+dst] = errString(unix.Mount(filepath.Join(dir, "mnt", src), dst, "", unix.MS_BIND, ""))
	}
	res["cat"] = output(exec.Command("cat", procSysvipcSem))
	res["ipcs"] = output(exec.Command("ipcs", "-s", "-l"))
	res["write"] = output(exec.Command("sh", "-c", "echo 5 6 7 8 > "+procSysKernelSem+" && cat "+procSysKernelSem))
	return 0
}

func TestUnprivilegedUserNS(t *testing.T) {
	needRoot(t)
	if readSysctl("/proc/sys/user/max_user_namespaces") == "0" {
		t.Skip("user namespaces are disabled")
	}
	p := publicDir(t)
	if err := os.Mkdir(filepath.Join(p, "mnt"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(p, "plain"), []byte("plain file\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// The experiment runs as nobody, from a copy of the test binary that
	// nobody can run.
	exe := filepath.Join(p, "fuse.test")
	if err := copyFile(exe, "/proc/self/exe", 0o755); err != nil {
		t.Fatal(err)
	}
	devs := []string{devFuse}
	var st unix.Stat_t
	if err := unix.Stat(devFuse, &st); err == nil && st.Mode&0o006 != 0o006 {
		// /dev/fuse is closed to other users here (distributions usually
		// make it 0666): also try a 0666 node of the same device.
		node := filepath.Join(p, "fuse")
		if err := unix.Mknod(node, unix.S_IFCHR|0o666, int(st.Rdev)); err == nil {
			os.Chmod(node, 0o666)
			devs = append(devs, node)
		} else {
			t.Logf("mknod %s: %v", node, err)
		}
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), roleEnv+"=userns-outer", dirEnv+"="+p, devEnv+"="+strings.Join(devs, ","))
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	var res map[string]json.RawMessage
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	for _, k := range []string{"euid", "max_user_namespaces", "unprivileged_userns_clone", "apparmor_restrict_unprivileged_userns"} {
		t.Logf("%s: %s", k, res[k])
	}
	for _, dev := range devs {
		var r map[string]string
		if err := json.Unmarshal(res[dev], &r); err != nil {
			t.Fatalf("%s: %v: %s", dev, err, res[dev])
		}
		var b strings.Builder
		for _, k := range sortedKeys(r) {
			fmt.Fprintf(&b, "  %s: %s\n", k, strings.ReplaceAll(strings.TrimRight(r[k], "\n"), "\n", "\n    "))
		}
		t.Logf("as root of a user namespace owned by nobody, with %s:\n%s", dev, b.String())
		if r["error"] != "" {
			t.Errorf("%s: %s", dev, r["error"])
		}
		// Whatever this machine allows, what is mounted must work.
		if r["mount"] == "ok" && r["bind "+procSysKernelSem] == "ok" &&
			!strings.Contains(r["ipcs"], "max semaphores per array = 17") {
			t.Errorf("%s: mounted and bound, but ipcs shows %q", dev, r["ipcs"])
		}
	}
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	for i := range keys {
		for j := i + 1; j < len(keys); j++ {
			if keys[j] < keys[i] {
				keys[i], keys[j] = keys[j], keys[i]
			}
		}
	}
	return keys
}

func copyFile(dst, src string, mode os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
