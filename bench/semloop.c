/* semloop: N uncontended semop calls (P then V, alternating) on one
 * semaphore; prints nanoseconds per call. Used by bench/run.sh natively,
 * under sembox, and under sembox's bare trap-and-answer floor. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <time.h>

int main(int argc, char **argv) {
	long n = argc > 1 ? atol(argv[1]) : 200000;
	int id = semget(IPC_PRIVATE, 1, 0600);
	if (id < 0) { perror("semget"); return 1; }
	struct sembuf v = {0, 1, 0}, p = {0, -1, 0};
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (long i = 0; i < n; i += 2) {
		semop(id, &v, 1);
		semop(id, &p, 1);
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	double ns = ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / n;
	semctl(id, 0, IPC_RMID);
	printf("%.0f\n", ns);
	return 0;
}
