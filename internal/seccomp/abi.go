package seccomp

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// Data mirrors the kernel's struct seccomp_data: the system call that a
// filter is asked about.
type Data struct {
	// Nr is the system call number, as seen by the filter (for x32 calls it
	// includes X32SyscallBit).
	Nr int32
	// Arch is the AUDIT_ARCH_* value of the calling convention used.
	Arch uint32
	// InstructionPointer is the caller's instruction pointer at the time of
	// the system call.
	InstructionPointer uint64
	// Args holds the six raw system call arguments.
	Args [6]uint64
}

// Native reports whether the call was made through the host's native ABI
// (not x32, i386 or 32-bit ARM), whose numbers golang.org/x/sys/unix names.
func (d *Data) Native() bool {
	return d.Arch == uint32(nativeArch) && d.Nr&X32SyscallBit == 0
}

// Notif mirrors the kernel's struct seccomp_notif: one trapped system call,
// as read from a listener with [Recv].
type Notif struct {
	// ID identifies the notification; it must be echoed in the [NotifResp].
	ID uint64
	// PID is the thread ID of the trapped task, in the listener's PID
	// namespace (0 if it is not visible there).
	PID uint32
	// Flags is currently always zero.
	Flags uint32
	// Data is the system call itself.
	Data Data
}

// NotifResp mirrors the kernel's struct seccomp_notif_resp: the answer to a
// [Notif], written to the listener with [Send].
type NotifResp struct {
	// ID is the ID of the notification being answered.
	ID uint64
	// Val is the system call's return value when Error is zero.
	Val int64
	// Error, if non-zero, is the negated errno the system call fails with
	// (for example -int32(unix.ENOSYS)).
	Error int32
	// Flags may hold FlagContinue to let the call proceed in the kernel as if
	// it had not been trapped (Val and Error must then be zero).
	Flags uint32
}

// NotifAddFD mirrors the kernel's struct seccomp_notif_addfd, the argument of
// SECCOMP_IOCTL_NOTIF_ADDFD.
type NotifAddFD struct {
	// ID is the ID of the notification whose task receives the fd.
	ID uint64
	// Flags is a set of SECCOMP_ADDFD_FLAG_* values.
	Flags uint32
	// SrcFD is the fd in the supervisor to copy.
	SrcFD uint32
	// NewFD is the fd number to use in the target when
	// SECCOMP_ADDFD_FLAG_SETFD is set.
	NewFD uint32
	// NewFDFlags holds O_CLOEXEC or zero: the flags of the new fd.
	NewFDFlags uint32
}

// NotifSizes mirrors the kernel's struct seccomp_notif_sizes, the sizes in
// bytes of the notification structures as the running kernel knows them.
type NotifSizes struct {
	Notif     uint16
	NotifResp uint16
	Data      uint16
}

// FlagContinue is SECCOMP_USER_NOTIF_FLAG_CONTINUE for NotifResp.Flags.
const FlagContinue = unix.SECCOMP_USER_NOTIF_FLAG_CONTINUE

// X32SyscallBit is __X32_SYSCALL_BIT: on x86-64 the x32 ABI reports its
// system calls to filters with this bit set in Data.Nr, under the same
// AUDIT_ARCH_X86_64 as native calls.
const X32SyscallBit = 0x40000000

// Ioctl request numbers for the listener. They encode the size of their
// argument, which the tests check against the structures above.
const (
	ioctlNotifRecv     = unix.SECCOMP_IOCTL_NOTIF_RECV
	ioctlNotifSend     = unix.SECCOMP_IOCTL_NOTIF_SEND
	ioctlNotifIDValid  = unix.SECCOMP_IOCTL_NOTIF_ID_VALID
	ioctlNotifAddFD    = unix.SECCOMP_IOCTL_NOTIF_ADDFD
	ioctlNotifSetFlags = unix.SECCOMP_IOCTL_NOTIF_SET_FLAGS
)

// Offsets of the fields of struct seccomp_data that a filter loads.
const (
	offsetNr   = uint32(unsafe.Offsetof(Data{}.Nr))
	offsetArch = uint32(unsafe.Offsetof(Data{}.Arch))
)

// GetNotifSizes asks the running kernel for the sizes of its notification
// structures (seccomp(SECCOMP_GET_NOTIF_SIZES)).
func GetNotifSizes() (NotifSizes, error) {
	var s NotifSizes
	_, _, e := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_GET_NOTIF_SIZES, 0, uintptr(unsafe.Pointer(&s)))
	if e != 0 {
		return NotifSizes{}, e
	}
	return s, nil
}
