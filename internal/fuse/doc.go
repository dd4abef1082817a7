// Package fuse is a minimal FUSE server, speaking the kernel protocol
// over /dev/fuse itself (no library), for a read-only root directory of a
// fixed set of regular files whose content is made at each open by a
// callback and whose writes go to another (Files). It exists to serve
// /proc/sysvipc/sem and /proc/sys/kernel/sem to a sandbox without
// trapping every open (issue 13): in a mount namespace of the sandbox's
// own, each file of the mount is bind-mounted over its /proc file
//
//	mount("", "/", "", MS_REC|MS_PRIVATE, "")
//	mount(dir+"/sysvipc_sem", "/proc/sysvipc/sem", "", MS_BIND, "")
//	mount(dir+"/kernel_sem", "/proc/sys/kernel/sem", "", MS_BIND, "")
//
// and only the opens of those two files come to us; every other open is
// the kernel's alone (TestBindOverProc shows both, with the times).
//
// What was found while building it (Linux 6.18):
//
//   - Binding a FUSE file over a /proc file works, as root in a private
//     mount namespace and as root of a user namespace owned by an
//     unprivileged user (unshare -Urm style): FUSE mounts are allowed in a
//     user namespace, and /proc/sys is not locked against binds on top of
//     its files. What an unprivileged user lacks is /dev/fuse when it is
//     0600, as on this machine; with the usual 0666, it can do all of it
//     (TestUnprivilegedUserNS tries both).
//   - Such a mount in a user namespace serves only the processes inside
//     it (allow_other is limited so), and the uids and gids the requests
//     carry are those of that namespace; a process whose ids are not
//     mapped there cannot use the files at all (EOVERFLOW).
//   - A process that mounts a FUSE file system and opens its files with
//     package os deadlocks, unless the kernel's FUSE_POLL has been turned
//     off first (see Server.disablePoll): Mount does that.
//   - The mount outlives its mount point while any bind of it remains:
//     Unmount therefore closes the connection's descriptor, which aborts
//     it; the binds then fail with ENOTCONN.
//
// The launch helper does so (internal/launch): it mounts with MountConn,
// hands the connection's descriptor to the supervisor, which serves it
// with Serve, and binds. Those mounts are made without
// default_permissions (MountOptions.OwnPermissions), so that who may
// write the files is decided as for a trapped open of them.
//
// The protocol is 7.38 at most (the version of the kernel headers this
// was written against) and 7.12 at least; the kernel adapts.
package fuse
