package seccomp

// System call numbers for x86-64 kernels (arch/x86/entry/syscalls).

// nativeArch is the architecture of native system calls on this host.
const nativeArch = ArchX86_64

// nativeSemaphoreSyscalls are semget, semop, semctl and semtimedop in
// syscall_64.tbl.
var nativeSemaphoreSyscalls = []int{
	64,  // semget
	65,  // semop
	66,  // semctl
	220, // semtimedop
}

// compatSemaphoreSyscalls are the ways other ABIs of an x86-64 kernel reach
// semaphores.
var compatSemaphoreSyscalls = []abiSyscalls{
	{
		// x32 shares the 64-bit table; its numbers carry X32SyscallBit.
		abi: ABI{Arch: ArchX86_64, X32: true},
		nrs: []int{
			X32SyscallBit | 64,  // semget
			X32SyscallBit | 65,  // semop
			X32SyscallBit | 66,  // semctl
			X32SyscallBit | 220, // semtimedop
		},
	},
	{
		// i386 (syscall_32.tbl): 32-bit processes and int $0x80.
		abi: ABI{Arch: ArchI386},
		nrs: []int{
			117, // ipc
			393, // semget
			394, // semctl
			420, // semtimedop_time64
		},
	},
}

// compatIdentitySyscalls are the calls of the other ABIs that change a
// thread's credentials or user namespace: set*id (16- and 32-bit ids),
// setgroups, capset, execve, execveat, unshare and setns. A 64-bit program
// can make them through int $0x80 and go on with 64-bit semaphore calls.
var compatIdentitySyscalls = []abiSyscalls{
	{
		abi: ABI{Arch: ArchX86_64, X32: true},
		nrs: []int{
			X32SyscallBit | 105, // setuid
			X32SyscallBit | 106, // setgid
			X32SyscallBit | 113, // setreuid
			X32SyscallBit | 114, // setregid
			X32SyscallBit | 116, // setgroups
			X32SyscallBit | 117, // setresuid
			X32SyscallBit | 119, // setresgid
			X32SyscallBit | 122, // setfsuid
			X32SyscallBit | 123, // setfsgid
			X32SyscallBit | 126, // capset
			X32SyscallBit | 272, // unshare
			X32SyscallBit | 308, // setns
			X32SyscallBit | 520, // execve
			X32SyscallBit | 545, // execveat
		},
	},
	{
		abi: ABI{Arch: ArchI386},
		nrs: append([]int{
			310, // unshare
			346, // setns
			358, // execveat
		}, legacy32IdentitySyscalls...),
	},
}
