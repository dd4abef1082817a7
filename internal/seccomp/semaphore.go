package seccomp

import (
	"slices"

	"golang.org/x/sys/unix"
)

// SemaphorePolicy returns the policy that sembox enforces on the host
// architecture: the System V semaphore calls of the native ABI, plus the
// calls in extraNotify (native numbers, for example unix.SYS_OPENAT when a
// supervisor wants to see them too), are trapped with ActNotify; the same
// calls made through the host's other ABIs (x32 and i386 on x86-64, 32-bit
// ARM on arm64), including the multiplexed ipc(2), fail with ENOSYS, since
// they would otherwise reach the host kernel's semaphores; the calls of
// those ABIs that change a thread's credentials or user namespace (set*id,
// setgroups, capset, execve, unshare, setns) are trapped with ActNotify,
// so that a supervisor that caches identities sees a 64-bit program change
// its identity through int $0x80 (such a notification has
// [Data.Native] false; the supervisor lets it continue); everything else
// is allowed. Numbers repeated in extraNotify are ignored; [Build] rejects
// invalid ones.
//
// Failing ipc(2) for 32-bit code also fails its message-queue and
// shared-memory operations; that is deliberate, as sembox has no way to trap
// part of a multiplexed call.
func SemaphorePolicy(extraNotify []int) Policy {
	notify := append([]int(nil), nativeSemaphoreSyscalls...)
	for _, nr := range extraNotify {
		if !slices.Contains(notify, nr) {
			notify = append(notify, nr)
		}
	}
	native := Table{
		ABI:     ABI{Arch: nativeArch},
		Rules:   Rules(ActNotify, notify...),
		Default: ActAllow,
	}
	p := Policy{Tables: []Table{native}, Default: ActAllow}
	for _, c := range compatSemaphoreSyscalls {
		t := Table{
			ABI:     c.abi,
			Rules:   Rules(ActErrno(unix.ENOSYS), c.nrs...),
			Default: ActAllow,
		}
		for _, id := range compatIdentitySyscalls {
			if id.abi == c.abi {
				t.Rules = append(t.Rules, Rules(ActNotify, id.nrs...)...)
			}
		}
		p.Tables = append(p.Tables, t)
	}
	return p
}

// abiSyscalls lists system call numbers of one ABI.
type abiSyscalls struct {
	abi ABI
	nrs []int
}
