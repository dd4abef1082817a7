/* cfloor: the C trap-and-answer floor of the benchmark.
 *
 * Usage: cfloor PROG ARGS...
 *
 * Runs PROG under a seccomp user-notification filter that traps semop and
 * semtimedop (x86_64) and answers every trapped call with 0 at once, from
 * one tight, single-threaded loop: SECCOMP_IOCTL_NOTIF_RECV, then
 * SECCOMP_IOCTL_NOTIF_SEND (val 0, error 0). Nothing is read from the
 * caller, nothing is served. This is what `sembox run --bench-floor` does,
 * without Go: the bare cost of one seccomp-notify round trip, the physical
 * limit of the mechanism (see bench/README.md).
 *
 * As sembox: fork; the child sets no_new_privs (unless root, where it is
 * not needed: set only if the filter is refused without it), installs the
 * filter with SECCOMP_FILTER_FLAG_NEW_LISTENER |
 * SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV, passes the listener to the
 * parent over a socketpair (SCM_RIGHTS), waits for the parent's go-ahead
 * byte and execs PROG. The parent asks for SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP
 * (Linux 6.6; a note on stderr if refused) and, as sembox's receiving
 * threads do, for the shortest scheduler slice (Linux 6.12; best effort,
 * silent), then serves until the filter has no task left: RECV fails with
 * ENOENT and poll(2) reports POLLHUP. Its exit status is PROG's (128+N if
 * killed by signal N; 125 if the sandbox could not be set up, 126/127 if
 * PROG could not be executed / was not found).
 *
 * Kernels from 5.9 release a task's filter only when the task is reaped
 * (release_task(); recent ones, 6.18 for one, already when it exits); there the
 * listener would report POLLHUP only once PROG has been waited for, which
 * a single-threaded loop blocked in RECV never does. So a SIGCHLD handler
 * reaps PROG at once (a RECV blocked then is interrupted and the next one
 * fails at once with ENOENT): nothing in the loop itself. PROG's
 * descendants that outlive it are reaped by init (or a subreaper) and are
 * served until they exit.
 *
 * Build: gcc -O2 -Wall -Werror -o cfloor cfloor.c
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>

#if !defined(__x86_64__)
#error "cfloor traps the x86_64 semop and semtimedop only"
#endif

/* x86_64 system call numbers (arch/x86/entry/syscalls/syscall_64.tbl). */
#define NR_SEMOP 65
#define NR_SEMTIMEDOP 220

/* Not in older kernel headers. */
#ifndef SECCOMP_FILTER_FLAG_NEW_LISTENER
#define SECCOMP_FILTER_FLAG_NEW_LISTENER (1UL << 3)
#endif
#ifndef SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
#define SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (1UL << 5)
#endif
#ifndef SECCOMP_IOC_MAGIC
#define SECCOMP_IOC_MAGIC '!'
#endif
#ifndef SECCOMP_IOCTL_NOTIF_RECV
#define SECCOMP_IOCTL_NOTIF_RECV _IOWR(SECCOMP_IOC_MAGIC, 0, struct seccomp_notif)
#endif
#ifndef SECCOMP_IOCTL_NOTIF_SEND
#define SECCOMP_IOCTL_NOTIF_SEND _IOWR(SECCOMP_IOC_MAGIC, 1, struct seccomp_notif_resp)
#endif
#ifndef SECCOMP_IOCTL_NOTIF_SET_FLAGS
#define SECCOMP_IOCTL_NOTIF_SET_FLAGS _IOW(SECCOMP_IOC_MAGIC, 4, __u64)
#endif
#ifndef SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP
#define SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP (1UL << 0)
#endif

/* Exit statuses of a failed start, as sembox (and env(1)). */
#define EXIT_SETUP 125
#define EXIT_CANNOT_EXECUTE 126
#define EXIT_NOT_FOUND 127

/* struct sched_attr (SCHED_ATTR_SIZE_VER0), for sched_setattr(2). */
struct cfloor_sched_attr {
	uint32_t size, policy;
	uint64_t flags;
	int32_t nice;
	uint32_t priority;
	uint64_t runtime, deadline, period;
};

static pid_t child;
static volatile sig_atomic_t reaped;
static int child_status;

/* SIGCHLD: reap PROG at once, so that its filter is released. */
static void on_sigchld(int sig) {
	int saved = errno, st;
	(void)sig;
	if (!reaped && waitpid(child, &st, WNOHANG) == child) {
		child_status = st;
		reaped = 1;
	}
	errno = saved;
}

static int install_filter(void) {
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, NR_SEMOP, 2, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, NR_SEMTIMEDOP, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF),
	};
	struct sock_fprog prog = {.len = sizeof f / sizeof f[0], .filter = f};
	return (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
			    SECCOMP_FILTER_FLAG_NEW_LISTENER | SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV, &prog);
}

/* The child: filter, listener to the parent, go-ahead, exec. */
static void run_child(int sock, char **argv) {
	int nnp = geteuid() != 0, listener;
	if (nnp && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		perror("cfloor: PR_SET_NO_NEW_PRIVS");
		_exit(EXIT_SETUP);
	}
	listener = install_filter();
	if (listener < 0 && errno == EACCES && !nnp) {
		/* No CAP_SYS_ADMIN after all: no_new_privs is required. */
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0)
			listener = install_filter();
	}
	if (listener < 0) {
		perror("cfloor: seccomp(SECCOMP_SET_MODE_FILTER)");
		_exit(EXIT_SETUP);
	}

	char byte = 1;
	struct iovec iov = {.iov_base = &byte, .iov_len = 1};
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} ctl;
	memset(&ctl, 0, sizeof ctl);
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf, .msg_controllen = sizeof ctl.buf};
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &listener, sizeof(int));
	if (sendmsg(sock, &msg, MSG_NOSIGNAL) != 1) {
		perror("cfloor: passing the listener");
		_exit(EXIT_SETUP);
	}
	close(listener);

	ssize_t n;
	do
		n = read(sock, &byte, 1);
	while (n < 0 && errno == EINTR);
	if (n != 1)
		_exit(EXIT_SETUP); /* the parent went away */
	close(sock);

	execvp(argv[0], argv);
	fprintf(stderr, "cfloor: %s: %s\n", argv[0], strerror(errno));
	_exit(errno == ENOENT ? EXIT_NOT_FOUND : EXIT_CANNOT_EXECUTE);
}

/* recv_listener: the listener fd the child passes, or -1. */
static int recv_listener(int sock) {
	char byte;
	struct iovec iov = {.iov_base = &byte, .iov_len = 1};
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} ctl;
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf, .msg_controllen = sizeof ctl.buf};
	ssize_t n;
	do
		n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n != 1)
		return -1;
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	if (!c || c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS || c->cmsg_len != CMSG_LEN(sizeof(int)))
		return -1;
	int fd;
	memcpy(&fd, CMSG_DATA(c), sizeof fd);
	return fd;
}

/* serve: answer every trapped call with 0 until no task uses the filter. */
static void serve(int fd) {
	struct seccomp_notif req;
	struct seccomp_notif_resp resp;
	for (;;) {
		memset(&req, 0, sizeof req); /* the kernel requires it zeroed */
		if (ioctl(fd, SECCOMP_IOCTL_NOTIF_RECV, &req) < 0) {
			if (errno == EINTR)
				continue;
			if (errno == ENOENT) {
				/* The caller went away before its call was received
				 * (killed, or interrupted by a signal), or no task
				 * uses the filter any more: only then POLLHUP. */
				struct pollfd p = {.fd = fd, .events = POLLIN};
				if (poll(&p, 1, 0) > 0 && (p.revents & POLLHUP))
					return;
				continue;
			}
			perror("cfloor: SECCOMP_IOCTL_NOTIF_RECV");
			return;
		}
		resp.id = req.id;
		resp.val = 0;
		resp.error = 0;
		resp.flags = 0;
		/* ENOENT: the caller is gone (killed) meanwhile; nothing to do. */
		if (ioctl(fd, SECCOMP_IOCTL_NOTIF_SEND, &resp) < 0 && errno != ENOENT && errno != EINTR) {
			perror("cfloor: SECCOMP_IOCTL_NOTIF_SEND");
			return;
		}
	}
}

int main(int argc, char **argv) {
	if (argc < 2) {
		fprintf(stderr, "usage: cfloor PROG ARGS...\n");
		return 2;
	}
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		perror("cfloor: socketpair");
		return EXIT_SETUP;
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_sigchld;
	sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGCHLD, &sa, NULL) < 0) {
		perror("cfloor: sigaction");
		return EXIT_SETUP;
	}

	child = fork();
	if (child < 0) {
		perror("cfloor: fork");
		return EXIT_SETUP;
	}
	if (child == 0) {
		close(sv[0]);
		run_child(sv[1], argv + 1);
	}
	close(sv[1]);

	int fd = recv_listener(sv[0]);
	if (fd >= 0) {
		if (ioctl(fd, SECCOMP_IOCTL_NOTIF_SET_FLAGS, (unsigned long)SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP) < 0)
			fprintf(stderr, "cfloor: note: SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP unavailable (%s, Linux < 6.6?): "
					"the floor is measured without it\n", strerror(errno));
		/* As sembox's receiving threads: the shortest slice, so that the
		 * woken receiver preempts a CPU-bound task (Linux 6.12+). */
		struct cfloor_sched_attr attr = {.size = sizeof attr, .policy = 0 /* SCHED_NORMAL */, .runtime = 100000};
		(void)syscall(SYS_sched_setattr, 0, &attr, 0);

		char go = 1;
		if (send(sv[0], &go, 1, MSG_NOSIGNAL) == 1)
			serve(fd);
		close(fd); /* any call still trapped fails with ENOSYS */
	}
	close(sv[0]);

	/* Reap PROG if the handler has not: block SIGCHLD so that the two
	 * do not race. */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigprocmask(SIG_BLOCK, &set, NULL);
	if (!reaped) {
		int st;
		pid_t p;
		do
			p = waitpid(child, &st, 0);
		while (p < 0 && errno == EINTR);
		if (p != child) {
			perror("cfloor: waitpid");
			return EXIT_SETUP;
		}
		child_status = st;
	}
	if (WIFEXITED(child_status))
		return WEXITSTATUS(child_status);
	if (WIFSIGNALED(child_status))
		return 128 + WTERMSIG(child_status);
	return EXIT_SETUP;
}
