// Package abi describes the Linux x86_64 binary interface of the System V
// semaphore system calls: constants, and the byte layouts of the structures
// that cross the user/kernel boundary (struct sembuf, struct timespec,
// struct semid64_ds with its struct ipc64_perm, and struct seminfo).
//
// The package holds no semantics. It only says what the kernel's numbers
// are and how structures are laid out in a caller's memory, so that the
// engine (package sem) and the supervisor can agree on them. Every
// structure has a fixed Size and Marshal/Unmarshal methods that work on
// little-endian byte slices exactly as the x86_64 kernel reads and writes
// them; the sizes are checked against the C compiler in the tests.
package abi
