package sem

import (
	"syscall"
	"time"
)

// Errno is the result of an engine call: 0 for success, otherwise the
// errno Linux would return. Values are Linux's (syscall.Errno on linux).
type Errno = syscall.Errno

// Clock tells the engine the wall-clock time in seconds since the epoch,
// the resolution of sem_otime and sem_ctime. The engine never reads the
// time any other way, so tests can inject a fake clock.
type Clock interface {
	Now() int64
}

// SystemClock is a Clock backed by time.Now.
type SystemClock struct{}

// Now returns the current Unix time in seconds.
func (SystemClock) Now() int64 { return time.Now().Unix() }

// Cred is the identity the kernel would check for a calling thread: its
// effective ids, its supplementary groups and the two capabilities that
// matter to System V IPC (in the namespace's user namespace).
type Cred struct {
	EUID   uint32   // owner and creator of new sets; compared by ipcperms
	EGID   uint32   // group and creator group of new sets
	FSGID  uint32   // the group in_group_p tests first; normally equal to EGID
	Groups []uint32 // supplementary groups

	CapIPCOwner bool // bypass mode bits (CAP_IPC_OWNER)
	CapSysAdmin bool // IPC_SET and IPC_RMID on sets one does not own (CAP_SYS_ADMIN)
}

// inGroup reports whether g is the caller's fs group or a supplementary
// group, as the kernel's in_group_p.
func (c *Cred) inGroup(g uint32) bool {
	if g == c.FSGID {
		return true
	}
	for _, x := range c.Groups {
		if x == g {
			return true
		}
	}
	return false
}

// Task is the calling thread as the engine needs to know it.
type Task struct {
	// PID is the caller's thread group id, which sempid records and
	// GETPID reports.
	PID int32
	// Cred is the caller's identity for permission checks and ownership.
	Cred *Cred
	// Undo is the SEM_UNDO list of the caller's thread group. It must be
	// shared by all threads of a group and must not be inherited by a
	// forked child. A call that uses SEM_UNDO with a nil Undo fails with
	// ENOMEM, as the kernel does when it cannot allocate one.
	Undo *UndoList
}

// Limits are the namespace's run-time limits, in the order of
// /proc/sys/kernel/sem.
type Limits struct {
	SEMMSL int32 // maximum semaphores per set
	SEMMNS int32 // maximum semaphores in the namespace
	SEMOPM int32 // maximum operations per semop call
	SEMMNI int32 // maximum number of sets
}
