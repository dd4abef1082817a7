package seccomp

import "golang.org/x/sys/unix"

// semaphorePolicyCases are the verdicts SemaphorePolicy must give on an
// arm64 host (built with unix.SYS_OPENAT as an extra notify call).
var semaphorePolicyCases = []verdictCase{
	{ArchAArch64, 190, ActNotify}, // semget
	{ArchAArch64, 191, ActNotify}, // semctl
	{ArchAArch64, 192, ActNotify}, // semtimedop
	{ArchAArch64, 193, ActNotify}, // semop
	{ArchAArch64, unix.SYS_OPENAT, ActNotify},
	{ArchAArch64, 194, ActAllow},          // shmget
	{ArchAArch64, 63, ActAllow},           // read
	{ArchARM, 298, ActErrno(unix.ENOSYS)}, // semop
	{ArchARM, 299, ActErrno(unix.ENOSYS)}, // semget
	{ArchARM, 300, ActErrno(unix.ENOSYS)}, // semctl
	{ArchARM, 312, ActErrno(unix.ENOSYS)}, // semtimedop
	{ArchARM, 420, ActErrno(unix.ENOSYS)}, // semtimedop_time64
	{ArchARM, 208, ActNotify},             // setresuid32
	{ArchARM, 375, ActNotify},             // setns
	{ArchARM, 301, ActAllow},              // msgsnd
	{ArchARM, 56, ActAllow},               // openat
	{ArchX86_64, 64, ActAllow},            // not a host ABI: policy default
}
