package seccomp

// System call numbers for arm64 kernels (include/uapi/asm-generic/unistd.h
// and arch/arm64/tools/syscall_32.tbl).

// nativeArch is the architecture of native system calls on this host.
const nativeArch = ArchAArch64

// nativeSemaphoreSyscalls are semget, semctl, semtimedop and semop in the
// generic table.
var nativeSemaphoreSyscalls = []int{
	190, // semget
	191, // semctl
	192, // semtimedop
	193, // semop
}

// compatSemaphoreSyscalls are the ways other ABIs of an arm64 kernel reach
// semaphores: 32-bit ARM (EABI) processes.
var compatSemaphoreSyscalls = []abiSyscalls{
	{
		abi: ABI{Arch: ArchARM},
		nrs: []int{
			298, // semop
			299, // semget
			300, // semctl
			312, // semtimedop
			420, // semtimedop_time64
		},
	},
}

// compatIdentitySyscalls are the 32-bit ARM calls that change a thread's
// credentials or user namespace: set*id (16- and 32-bit ids), setgroups,
// capset, execve, execveat, unshare and setns.
var compatIdentitySyscalls = []abiSyscalls{
	{
		abi: ABI{Arch: ArchARM},
		nrs: append([]int{
			337, // unshare
			375, // setns
			387, // execveat
		}, legacy32IdentitySyscalls...),
	},
}
