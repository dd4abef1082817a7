// Package launch starts a program with sembox's seccomp filter installed,
// without cgo and without privileges, and hands the filter's listener fd to
// the caller, who supervises it.
//
// A Go program cannot run code between fork and execve, so the filter is
// installed by a helper: [Start] re-executes the current binary
// (/proc/self/exe) with the hidden argument [HelperArg]. The binary's main
// function must therefore begin with
//
//	if launch.IsHelper() {
//		launch.HelperMain() // never returns
//	}
//
// The helper locks itself to one OS thread, sets no_new_privs when it has to
// (see [NoNewPrivsMode]), installs the filter built from
// [seccomp.SemaphorePolicy], passes the listener fd to the parent over a
// socket (SCM_RIGHTS), waits for the parent's acknowledgement, and execve's
// the program on the same thread, with the environment and argv the caller
// asked for. The program keeps the caller's terminal, process group and
// session.
//
// # The /proc views
//
// With [ProcViewsMount] (as root), the helper first enters a mount
// namespace of its own, slave of the caller's (host mounts still
// propagate in; the program's own mounts do not leak out), and mounts a
// FUSE file system; the listener and the FUSE connection's descriptor go
// to the caller together ([Config.OnSetup]), who serves both; after the
// acknowledgement the helper binds the FUSE files over /proc/sysvipc/sem
// and /proc/sys/kernel/sem, detaches the FUSE mount itself, and installs
// a filter that traps no open. The namespace, and the binds with it, die
// with the sandbox's last process, which ends the connection. Where that
// is not possible (no CAP_SYS_ADMIN, no /dev/fuse, no mount namespace),
// the helper falls back to [ProcViewsTrap]: the filter traps every open
// ([Config.OpenNotify]) and the caller answers those of the two files.
// An unprivileged user namespace is not used: it could map only the
// user's own uid and gid, and programs would see every other owner, and
// their supplementary groups, as the overflow ids.
//
// # Exit statuses
//
// When the program cannot be run, the helper prints the reason on the
// program's standard error, prefixed "sembox: ", exits with the status a
// shell or env(1) would use, and [Start] returns a [*StartError] carrying
// the same status: [ExitSetupFailed] (125) when the sandbox could not be set
// up, [ExitCannotExecute] (126) when the program was found but could not be
// executed, [ExitNotFound] (127) when it was not found.
//
// # When the supervisor dies
//
// The helper, and so the program, is started with PR_SET_PDEATHSIG=SIGKILL:
// if the process that called Start dies, the sandbox's root process is
// killed. (The kernel clears the death signal when the program execve's a
// set-user-ID, set-group-ID or file-capability binary.) Other descendants of
// the program are not killed; but the listener is gone with the supervisor,
// and the kernel then fails their trapped calls, and any call that was
// waiting for an answer, with ENOSYS. They never fall through to the host's
// semaphores.
package launch
