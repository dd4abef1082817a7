/* mutex: P processes contend for a mutex made of one semaphore taken and
 * released with SEM_UNDO, for a fixed time; prints lock+unlock pairs per
 * second (all processes together). A shared counter incremented without
 * atomics inside the critical section checks mutual exclusion. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/sem.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct shared { volatile long counter; double start; long done[64]; };

static double now(void) {
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
	int procs = argc > 1 ? atoi(argv[1]) : 4;
	double secs = argc > 2 ? atof(argv[2]) : 1.0;
	if (procs < 1 || procs > 64) return 2;
	struct shared *sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED) { perror("mmap"); return 1; }
	int id = semget(IPC_PRIVATE, 1, 0600);
	if (id < 0) { perror("semget"); return 1; }
	if (semctl(id, 0, SETVAL, 1) < 0) { perror("SETVAL"); return 1; }
	int go[2];
	if (pipe(go) < 0) return 1;
	for (int p = 0; p < procs; p++) {
		if (fork() == 0) {
			char c;
			close(go[1]);
			if (read(go[0], &c, 1) < 0) _exit(1); /* released by close: EOF */
			struct sembuf lock = {0, -1, SEM_UNDO}, unlock = {0, 1, SEM_UNDO};
			double end = sh->start + secs;
			long n = 0;
			while (now() < end) {
				if (semop(id, &lock, 1) < 0) { perror("lock"); _exit(1); }
				sh->counter = sh->counter + 1;
				if (semop(id, &unlock, 1) < 0) { perror("unlock"); _exit(1); }
				n++;
			}
			sh->done[p] = n;
			_exit(0);
		}
	}
	close(go[0]);
	usleep(100000); /* let every child reach read() */
	sh->start = now();
	close(go[1]);
	int bad = 0, st;
	for (int p = 0; p < procs; p++) {
		wait(&st);
		if (!WIFEXITED(st) || WEXITSTATUS(st)) bad = 1;
	}
	double elapsed = now() - sh->start;
	long total = 0;
	for (int p = 0; p < procs; p++) total += sh->done[p];
	semctl(id, 0, IPC_RMID);
	if (bad || total != sh->counter) {
		fprintf(stderr, "mutex: failed (total %ld, counter %ld)\n", total, sh->counter);
		return 1;
	}
	printf("%.0f\n", total / elapsed);
	return 0;
}
