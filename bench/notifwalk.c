/* notifwalk: what a seccomp listener's pending notifications cost each
 * trapped call, with no sembox at all.
 *
 * Usage: notifwalk N [CALLS]
 *
 * A child process installs a seccomp filter (SECCOMP_FILTER_FLAG_NEW_LISTENER
 * | WAIT_KILLABLE_RECV) that traps semop, and hands the listener to the
 * parent, a single-threaded C loop: RECV, then SEND 0 at once, except for
 * calls marked semop(-2, ...), which it leaves pending ("parked", as
 * sembox leaves a blocked semop) until a semop(-3, ...) answers them all.
 * The child starts N threads that each make a marked call, waits until
 * the parent holds all N, then times CALLS ordinary trapped calls
 * (answered at once) and prints:
 *
 *   N median_ns mean_ns
 *
 * The kernel keeps a listener's notifications in one list in arrival
 * order; RECV walks it to the first one not yet received and SEND to the
 * given id, so the round trip grows with N. Run it for N = 0, 1000, 10000
 * to see how (bench/run.sh part `wake` does). Linux 5.19+ (x86_64). */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
#define SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (1UL << 5)
#endif
#ifndef SECCOMP_IOCTL_NOTIF_SET_FLAGS
#define SECCOMP_IOCTL_NOTIF_SET_FLAGS SECCOMP_IOW(4, __u64)
#endif
#ifndef SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP
#define SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP (1UL << 0)
#endif

static long long now_ns(void) {
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static void die(const char *what) {
	perror(what);
	exit(1);
}

static void send_fd(int sock, int fd) {
	char c = 'L';
	struct iovec iov = {&c, 1};
	char ctl[CMSG_SPACE(sizeof(int))];
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof ctl};
	struct cmsghdr *h = CMSG_FIRSTHDR(&m);
	h->cmsg_level = SOL_SOCKET;
	h->cmsg_type = SCM_RIGHTS;
	h->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(h), &fd, sizeof(int));
	if (sendmsg(sock, &m, 0) != 1)
		die("sendmsg");
}

static int recv_fd(int sock) {
	char c;
	struct iovec iov = {&c, 1};
	char ctl[CMSG_SPACE(sizeof(int))];
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof ctl};
	if (recvmsg(sock, &m, 0) != 1)
		die("recvmsg");
	int fd;
	memcpy(&fd, CMSG_DATA(CMSG_FIRSTHDR(&m)), sizeof(int));
	return fd;
}

static void *parked(void *arg) {
	(void)arg;
	syscall(SYS_semop, -2, NULL, 0);
	return NULL;
}

static int cmp(const void *a, const void *b) {
	long long x = *(const long long *)a, y = *(const long long *)b;
	return x < y ? -1 : x > y;
}

/* child: install the filter, send the listener, park n threads, time. */
static void child(int sock, int n, int calls, int ready) {
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_semop, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = {sizeof f / sizeof f[0], f};
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		die("no_new_privs");
	int lfd = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
	                  SECCOMP_FILTER_FLAG_NEW_LISTENER | SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV, &prog);
	if (lfd < 0)
		die("seccomp");
	send_fd(sock, lfd);
	close(lfd);
	pthread_attr_t a;
	pthread_attr_init(&a);
	pthread_attr_setstacksize(&a, 64 << 10);
	pthread_t *t = calloc(n ? n : 1, sizeof *t);
	for (int i = 0; i < n; i++)
		if (pthread_create(&t[i], &a, parked, NULL))
			die("pthread_create");
	char c;
	if (read(ready, &c, 1) != 1) /* the parent holds all n */
		die("read ready");
	long long *d = malloc(calls * sizeof *d);
	for (int i = 0; i < calls; i++) {
		long long t0 = now_ns();
		syscall(SYS_semop, -1, NULL, 0);
		d[i] = now_ns() - t0;
	}
	syscall(SYS_semop, -3, NULL, 0); /* release the parked threads */
	for (int i = 0; i < n; i++)
		pthread_join(t[i], NULL);
	long long sum = 0;
	for (int i = 0; i < calls; i++)
		sum += d[i];
	qsort(d, calls, sizeof *d, cmp);
	printf("%d %lld %lld\n", n, d[calls / 2], sum / calls);
	exit(0);
}

int main(int argc, char **argv) {
	if (argc < 2) {
		fprintf(stderr, "usage: notifwalk N [CALLS]\n");
		return 2;
	}
	int n = atoi(argv[1]), calls = argc > 2 ? atoi(argv[2]) : 2000;
	int sp[2], rp[2];
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sp) || pipe(rp))
		die("socketpair");
	pid_t pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		close(sp[0]);
		close(rp[1]);
		child(sp[1], n, calls, rp[0]);
	}
	close(sp[1]);
	close(rp[0]);
	int lfd = recv_fd(sp[0]);
	__u64 flags = SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP;
	ioctl(lfd, SECCOMP_IOCTL_NOTIF_SET_FLAGS, flags); /* best effort (6.6) */
	struct seccomp_notif_sizes sz;
	if (syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sz))
		die("GET_NOTIF_SIZES");
	struct seccomp_notif *req = calloc(1, sz.seccomp_notif > sizeof *req ? sz.seccomp_notif : sizeof *req);
	struct seccomp_notif_resp *resp = calloc(1, sz.seccomp_notif_resp > sizeof *resp ? sz.seccomp_notif_resp : sizeof *resp);
	__u64 *held = calloc(n ? n : 1, sizeof *held);
	int nheld = 0;
	if (n == 0 && write(rp[1], "g", 1) != 1)
		die("write");
	for (;;) {
		memset(req, 0, sz.seccomp_notif);
		if (ioctl(lfd, SECCOMP_IOCTL_NOTIF_RECV, req)) {
			if (errno == EINTR || errno == ENOENT) {
				int st;
				if (waitpid(pid, &st, WNOHANG) == pid)
					return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
				continue;
			}
			break; /* the child is gone */
		}
		memset(resp, 0, sz.seccomp_notif_resp);
		int marker = (int)req->data.args[0];
		if (marker == -2) {
			held[nheld++] = req->id;
			if (nheld == n && write(rp[1], "g", 1) != 1)
				die("write");
			continue;
		}
		if (marker == -3) {
			for (int i = 0; i < nheld; i++) {
				resp->id = held[i];
				ioctl(lfd, SECCOMP_IOCTL_NOTIF_SEND, resp);
			}
			nheld = 0;
		}
		resp->id = req->id;
		ioctl(lfd, SECCOMP_IOCTL_NOTIF_SEND, resp);
	}
	int st;
	waitpid(pid, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
}
