/* tstp: a job-control stop and continue sent from outside (as a terminal's
 * Ctrl-Z and the shell's fg send them to the whole foreground process
 * group) ends a semop blocked in a child with EINTR (man 7 signal:
 * "Interruption of system calls ... by stop signals").
 *
 * usage: tstp
 * The parent makes a set with one semaphore at 0, forks a child that
 * blocks in P, waits until GETNCNT shows it blocked and prints "ready".
 * Whoever runs it then sends SIGTSTP and later SIGCONT to the process
 * group. The parent waits up to 3 s for the child's P to return, then
 * releases it with a V; it prints "rc=R errno=E" (Linux: rc=-1
 * errno=EINTR).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/sem.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_s(void) {
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

int main(void) {
	int *res = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	int id = semget(IPC_PRIVATE, 1, 0600);
	if (res == MAP_FAILED || id < 0) { perror("setup"); return 2; }
	res[2] = 0;
	pid_t c = fork();
	if (c < 0) { perror("fork"); return 2; }
	if (c == 0) {
		struct sembuf p = {0, -1, 0};
		int rc = semop(id, &p, 1);
		res[1] = rc < 0 ? errno : 0;
		res[0] = rc;
		__atomic_store_n(&res[2], 1, __ATOMIC_SEQ_CST);
		_exit(0);
	}
	double t0 = now_s();
	while (semctl(id, 0, GETNCNT) < 1) {
		if (now_s() - t0 > 5) { fprintf(stderr, "tstp: child never blocked\n"); return 2; }
		usleep(1000);
	}
	printf("ready\n");
	fflush(stdout);
	t0 = now_s();
	while (!__atomic_load_n(&res[2], __ATOMIC_SEQ_CST) && now_s() - t0 < 3)
		usleep(1000);
	if (!__atomic_load_n(&res[2], __ATOMIC_SEQ_CST)) {
		struct sembuf v = {0, 1, 0};
		semop(id, &v, 1);
	}
	waitpid(c, NULL, 0);
	printf("rc=%d errno=%s\n", res[0], res[0] < 0 ? strerrorname_np(res[1]) : "0");
	semctl(id, 0, IPC_RMID);
	return 0;
}
