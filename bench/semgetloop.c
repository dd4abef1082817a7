/* semgetloop: N cycles of semget(IPC_PRIVATE, 1) + semctl(IPC_RMID);
 * prints microseconds per cycle. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <time.h>

int main(int argc, char **argv) {
	long n = argc > 1 ? atol(argv[1]) : 20000;
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (long i = 0; i < n; i++) {
		int id = semget(IPC_PRIVATE, 1, 0600);
		if (id < 0) { perror("semget"); return 1; }
		if (semctl(id, 0, IPC_RMID) < 0) { perror("IPC_RMID"); return 1; }
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	printf("%.2f\n", ((b.tv_sec - a.tv_sec) * 1e6 + (b.tv_nsec - a.tv_nsec) / 1e3) / n);
	return 0;
}
