package server

import (
	"errors"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// closeListener closes a listener descriptor.
func closeListener(fd int) { unix.Close(fd) }

// ErrNotListener reports a descriptor that is not a seccomp listener.
var ErrNotListener = errors.New("not a seccomp user-notification listener")

// CheckListener reports whether fd is a seccomp user-notification
// listener: the kernel names its file "anon_inode:seccomp notify".
func CheckListener(fd int) error {
	link, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(fd))
	if err != nil {
		return err
	}
	if link != "anon_inode:seccomp notify" {
		return ErrNotListener
	}
	return nil
}
