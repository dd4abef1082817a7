/* pingpong: two processes bounce a token through two semaphores (parent
 * V(0) then P(1); child P(0) then V(1)); prints microseconds per round
 * trip. Every round trip blocks and wakes both sides once. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void op(int id, int num, int delta) {
	struct sembuf b = {num, delta, 0};
	if (semop(id, &b, 1) < 0) { perror("semop"); exit(1); }
}

int main(int argc, char **argv) {
	long n = argc > 1 ? atol(argv[1]) : 20000;
	int id = semget(IPC_PRIVATE, 2, 0600);
	if (id < 0) { perror("semget"); return 1; }
	pid_t pid = fork();
	if (pid < 0) { perror("fork"); return 1; }
	if (pid == 0) {
		for (long i = 0; i < n + 100; i++) { op(id, 0, -1); op(id, 1, 1); }
		_exit(0);
	}
	for (long i = 0; i < 100; i++) { op(id, 0, 1); op(id, 1, -1); } /* warm up */
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (long i = 0; i < n; i++) { op(id, 0, 1); op(id, 1, -1); }
	clock_gettime(CLOCK_MONOTONIC, &b);
	int st;
	waitpid(pid, &st, 0);
	semctl(id, 0, IPC_RMID);
	if (!WIFEXITED(st) || WEXITSTATUS(st)) { fprintf(stderr, "child failed\n"); return 1; }
	printf("%.2f\n", ((b.tv_sec - a.tv_sec) * 1e6 + (b.tv_nsec - a.tv_nsec) / 1e3) / n);
	return 0;
}
