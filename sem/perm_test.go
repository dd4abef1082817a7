package sem_test

import (
	"fmt"
	"testing"

	"github.com/sembox/sembox/abi"
	"github.com/sembox/sembox/sem"
)

// TestPermissions checks ipcperms for every class of caller against every
// single permission bit: the owner or creator uid selects the owner bits
// (even when the group or other bits would grant more), else the creator or
// owner group (fs gid or a supplementary group) selects the group bits,
// else the other bits apply; CAP_IPC_OWNER grants everything.
//
// The set is created by uid 1000/gid 100 and then given to uid 1100/gid 110
// with IPC_SET, so that owner and creator differ.
func TestPermissions(t *testing.T) {
	type class int
	const (
		owner class = iota
		group
		other
	)
	callers := []struct {
		name  string
		cred  sem.Cred
		class class
	}{
		{"creator uid", sem.Cred{EUID: 1000, EGID: 999, FSGID: 999}, owner},
		{"owner uid", sem.Cred{EUID: 1100, EGID: 999, FSGID: 999}, owner},
		{"creator uid in the owner group", sem.Cred{EUID: 1000, EGID: 110, FSGID: 110}, owner},
		{"creator group as fs gid", sem.Cred{EUID: 3000, EGID: 100, FSGID: 100}, group},
		{"owner group as fs gid", sem.Cred{EUID: 3000, EGID: 110, FSGID: 110}, group},
		{"creator group as supplementary group", sem.Cred{EUID: 3000, EGID: 999, FSGID: 999, Groups: []uint32{5, 100}}, group},
		{"owner group as supplementary group", sem.Cred{EUID: 3000, EGID: 999, FSGID: 999, Groups: []uint32{110}}, group},
		{"egid matches but the fs gid does not", sem.Cred{EUID: 3000, EGID: 110, FSGID: 999}, other},
		{"unrelated user", sem.Cred{EUID: 2000, EGID: 200, FSGID: 200, Groups: []uint32{201}}, other},
		{"root without CAP_IPC_OWNER", sem.Cred{EUID: 0, EGID: 0, FSGID: 0, CapSysAdmin: true}, other},
	}
	access := []struct {
		name  string
		write bool
		call  func(ns *sem.Namespace, tk *sem.Task, id int32) sem.Errno
	}{
		{"GETVAL", false, func(ns *sem.Namespace, tk *sem.Task, id int32) sem.Errno {
			_, err := ns.GetOne(tk, id, 0, abi.GETVAL)
			return err
		}},
		{"GETALL", false, func(ns *sem.Namespace, tk *sem.Task, id int32) sem.Errno {
			_, err := ns.GetAll(tk, id, nil)
			return err
		}},
		{"IPC_STAT", false, func(ns *sem.Namespace, tk *sem.Task, id int32) sem.Errno {
			_, _, err := ns.Stat(tk, id, abi.IPC_STAT)
			return err
		}},
		{"wait-for-zero semop", false, func(ns *sem.Namespace, tk *sem.Task, id int32) sem.Errno { return op(ns, tk, id, sb(0, 0, 0)) }},
		{"semget for reading", false, func(ns *sem.Namespace, tk *sem.Task, id int32) sem.Errno {
			_, err := ns.Semget(tk, key, 0, 0o444)
			return err
		}},
		{"SETVAL", true, func(ns *sem.Namespace, tk *sem.Task, id int32) sem.Errno { return ns.SetVal(tk, id, 0, 0) }},
		{"SETALL", true, func(ns *sem.Namespace, tk *sem.Task, id int32) sem.Errno {
			return ns.SetAll(tk, id, loader([]uint16{0}))
		}},
		{"altering semop", true, func(ns *sem.Namespace, tk *sem.Task, id int32) sem.Errno { return op(ns, tk, id, sb(0, 1, 0)) }},
		{"semget for writing", true, func(ns *sem.Namespace, tk *sem.Task, id int32) sem.Errno {
			_, err := ns.Semget(tk, key, 0, 0o222)
			return err
		}},
	}
	for _, mode := range []uint32{0, 0o400, 0o200, 0o040, 0o020, 0o004, 0o002, 0o077, 0o707, 0o770, 0o777} {
		for _, c := range callers {
			for _, capOwner := range []bool{false, true} {
				for _, a := range access {
					bits := mode >> (6 - 3*uint(c.class)) & 7
					need := uint32(4)
					if a.write {
						need = 2
					}
					allowed := bits&need != 0 || capOwner
					name := fmt.Sprintf("mode %04o/%s/%s", mode, c.name, a.name)
					if capOwner {
						name = fmt.Sprintf("mode %04o/%s with CAP_IPC_OWNER/%s", mode, c.name, a.name)
					}
					t.Run(name, func(t *testing.T) {
						ns, _ := newNS()
						creator := &sem.Task{PID: 1, Cred: &sem.Cred{EUID: 1000, EGID: 100, FSGID: 100}}
						id, err := ns.Semget(creator, key, 1, abi.IPC_CREAT|0o600)
						if err != 0 {
							t.Fatal(err)
						}
						if err := ns.IPCSet(creator, id, &abi.SemidDS{Perm: abi.IPCPerm{UID: 1100, GID: 110, Mode: mode}}); err != 0 {
							t.Fatal(err)
						}
						cred := c.cred
						cred.CapIPCOwner = capOwner
						err = a.call(ns, &sem.Task{PID: 2, Cred: &cred}, id)
						want := sem.Errno(0)
						if !allowed {
							want = sem.EACCES
						}
						if err != want {
							t.Errorf("%s = %s, want %s", a.name, errName(err), errName(want))
						}
					})
				}
			}
		}
	}
}

// TestControlPermissions: IPC_SET and IPC_RMID need the owner uid, the
// creator uid or CAP_SYS_ADMIN; mode bits and CAP_IPC_OWNER do not help.
func TestControlPermissions(t *testing.T) {
	tests := []struct {
		name string
		cred sem.Cred
		err  sem.Errno
	}{
		{"creator", sem.Cred{EUID: 1000, EGID: 5, FSGID: 5}, 0},
		{"owner", sem.Cred{EUID: 1100, EGID: 5, FSGID: 5}, 0},
		{"CAP_SYS_ADMIN", sem.Cred{EUID: 4000, EGID: 5, FSGID: 5, CapSysAdmin: true}, 0},
		{"EPERM for the owner group", sem.Cred{EUID: 4000, EGID: 110, FSGID: 110}, sem.EPERM},
		{"EPERM for the creator group", sem.Cred{EUID: 4000, EGID: 100, FSGID: 100}, sem.EPERM},
		{"EPERM for CAP_IPC_OWNER", sem.Cred{EUID: 4000, EGID: 5, FSGID: 5, CapIPCOwner: true}, sem.EPERM},
		{"EPERM for uid 0 without CAP_SYS_ADMIN", sem.Cred{EUID: 0, EGID: 0, FSGID: 0, CapIPCOwner: true}, sem.EPERM},
	}
	for _, tc := range tests {
		for _, cmd := range []string{"IPC_SET", "IPC_RMID"} {
			t.Run(tc.name+"/"+cmd, func(t *testing.T) {
				ns, _ := newNS()
				creator := &sem.Task{PID: 1, Cred: &sem.Cred{EUID: 1000, EGID: 100, FSGID: 100}}
				id := mustGet(t, ns, creator, 1, 0o777)
				if err := ns.IPCSet(creator, id, &abi.SemidDS{Perm: abi.IPCPerm{UID: 1100, GID: 110, Mode: 0o777}}); err != 0 {
					t.Fatal(err)
				}
				cred := tc.cred
				tk := &sem.Task{PID: 2, Cred: &cred}
				var err sem.Errno
				if cmd == "IPC_SET" {
					err = ns.IPCSet(tk, id, &abi.SemidDS{Perm: abi.IPCPerm{UID: 1, GID: 1, Mode: 0o600}})
				} else {
					err = ns.Remove(tk, id)
				}
				if err != tc.err {
					t.Errorf("%s = %s, want %s", cmd, errName(err), errName(tc.err))
				}
			})
		}
	}
}
