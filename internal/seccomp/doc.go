// Package seccomp is a thin, allocation-free interface to the Linux seccomp
// user-notification mechanism and a small assembler for classic-BPF seccomp
// programs.
//
// The package knows nothing about what is being sandboxed. It has three parts:
//
//   - ABI structures that mirror the kernel's (struct seccomp_notif and
//     friends) and the listener operations on a notification fd: [Recv],
//     [Send], [IDValid], [SetSyncWakeUp], [AddFD] and [Poll]. They call
//     ioctl(2) through [unix.Syscall] (never RawSyscall, since the ioctls
//     block) and do not allocate, so a supervisor may run them in a loop on a
//     goroutine locked to its OS thread.
//   - [Policy], a declarative description of the verdict for each
//     (architecture, syscall number) pair, and [Build], which compiles a
//     Policy into a BPF program. The policy that sembox actually enforces is
//     [SemaphorePolicy]; it lives in its own file and is the only place that
//     knows syscall numbers.
//   - [Install], which loads a program with seccomp(2) and returns the
//     listener fd.
//
// A seccomp filter applies to the OS thread that installs it and to the
// threads and processes that thread creates afterwards, so [Install] must be
// called from a goroutine that has called [runtime.LockOSThread] and that
// keeps the thread locked for as long as the filter matters (typically until
// it calls execve).
package seccomp
