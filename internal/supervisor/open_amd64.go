package supervisor

import "golang.org/x/sys/unix"

// OpenSyscalls are the native calls that can open the /proc files the
// supervisor serves (see procviews.go).
var OpenSyscalls = []int{unix.SYS_OPEN, unix.SYS_OPENAT, unix.SYS_OPENAT2}

// openArgs returns the dirfd, path address and, for open/openat, flags of
// an open-family call; for openat2 the flags are behind howAddr.
func openArgs(nr int32, a *[6]uint64) (dirfd int32, path uint64, flags uint64, howAddr uint64, ok bool) {
	switch nr {
	case unix.SYS_OPEN:
		return unix.AT_FDCWD, a[0], a[1], 0, true
	case unix.SYS_OPENAT:
		return int32(a[0]), a[1], a[2], 0, true
	case unix.SYS_OPENAT2:
		return int32(a[0]), a[1], 0, a[2], true
	}
	return 0, 0, 0, 0, false
}
