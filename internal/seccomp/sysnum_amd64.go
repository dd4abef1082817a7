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
