package seccomp

import "golang.org/x/sys/unix"

// semaphorePolicyCases are the verdicts SemaphorePolicy must give on an
// x86-64 host (built with unix.SYS_OPENAT as an extra notify call).
var semaphorePolicyCases = []verdictCase{
	{ArchX86_64, 64, ActNotify},  // semget
	{ArchX86_64, 65, ActNotify},  // semop
	{ArchX86_64, 66, ActNotify},  // semctl
	{ArchX86_64, 220, ActNotify}, // semtimedop
	{ArchX86_64, unix.SYS_OPENAT, ActNotify},
	{ArchX86_64, 0, ActAllow},   // read
	{ArchX86_64, 29, ActAllow},  // shmget
	{ArchX86_64, 67, ActAllow},  // shmdt
	{ArchX86_64, 63, ActAllow},  // uname
	{ArchX86_64, 221, ActAllow}, // fadvise64
	{ArchX86_64, 2, ActAllow},   // open
	{ArchX86_64, X32SyscallBit | 64, ActErrno(unix.ENOSYS)},
	{ArchX86_64, X32SyscallBit | 65, ActErrno(unix.ENOSYS)},
	{ArchX86_64, X32SyscallBit | 66, ActErrno(unix.ENOSYS)},
	{ArchX86_64, X32SyscallBit | 220, ActErrno(unix.ENOSYS)},
	{ArchX86_64, X32SyscallBit | 257, ActAllow}, // x32 openat: extra calls are native-only
	{ArchX86_64, X32SyscallBit | 0, ActAllow},
	{ArchI386, 117, ActErrno(unix.ENOSYS)},       // ipc
	{ArchI386, 393, ActErrno(unix.ENOSYS)},       // semget
	{ArchI386, 394, ActErrno(unix.ENOSYS)},       // semctl
	{ArchI386, 420, ActErrno(unix.ENOSYS)},       // semtimedop_time64
	{ArchI386, 208, ActNotify},                   // setresuid32
	{ArchI386, 23, ActNotify},                    // setuid
	{ArchI386, 11, ActNotify},                    // execve
	{ArchI386, 346, ActNotify},                   // setns
	{ArchX86_64, X32SyscallBit | 117, ActNotify}, // x32 setresuid
	{ArchX86_64, X32SyscallBit | 520, ActNotify}, // x32 execve
	{ArchI386, 64, ActAllow},                     // getppid
	{ArchI386, 395, ActAllow},                    // shmget
	{ArchAArch64, 190, ActAllow},                 // not a host ABI: policy default
	{ArchARM, 299, ActAllow},
}
