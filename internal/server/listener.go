package server

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// closeListener closes a listener descriptor.
func closeListener(fd int) { unix.Close(fd) }

// ErrNotListener reports a descriptor that is not a seccomp listener.
var ErrNotListener = errors.New("not a seccomp user-notification listener")

// CheckListener reports whether fd is a seccomp user-notification
// listener: the kernel names its file "anon_inode:seccomp notify".
func CheckListener(fd int) error {
	link, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(fd))
	if err != nil {
		return err
	}
	if link != "anon_inode:seccomp notify" {
		return ErrNotListener
	}
	return nil
}

// capSysPtrace is CAP_SYS_PTRACE's bit in the capability sets.
const capSysPtrace = 19

// CanReadMembers reports why this server could not read the memory of a
// member's processes, which are not its descendants, or nil if it can.
// The kernel lets a process read another's memory (process_vm_readv)
// when it may ptrace it; Yama's ptrace_scope 1 (Ubuntu's default) allows
// that only for descendants, or with CAP_SYS_PTRACE; 2 and 3 allow less.
func CanReadMembers() error {
	b, err := os.ReadFile("/proc/sys/kernel/yama/ptrace_scope")
	if err != nil {
		return nil // no Yama: same user (or root) is enough
	}
	scope, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	if scope == 0 || (scope == 1 && hasCap(capSysPtrace)) {
		return nil
	}
	return fmt.Errorf("Yama's ptrace_scope is %d here: a server without CAP_SYS_PTRACE cannot read the memory of processes it did not start; run the namespace's server as root, or use one sandbox (sembox run -- sh -c '...') for the programs that share semaphores", scope)
}

// hasCap reports whether this process has capability bit in its
// effective set.
func hasCap(bit uint) bool {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "CapEff:"); ok {
			n, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			return err == nil && n&(1<<bit) != 0
		}
	}
	return false
}
