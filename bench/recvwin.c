/* recvwin: the receive window of trapped calls, uncontended.
 *   recvwin N [PROCS]   PROCS processes (default 1) at once, each making N
 *                       uncontended semop calls (V then P, alternating) on
 *                       its own semaphore of one set; prints the mean
 *                       nanoseconds per call of the slowest process.
 * Every call is stamped: its 4th argument is the caller's CLOCK_MONOTONIC
 * time in ns just before the call, syscall(SYS_semop, id, sops, nsops,
 * now_ns), which the kernel ignores (semop takes three arguments) and
 * `sembox run --bench-recv-window` turns into the time from the stamp to
 * the receipt of the notification by a supervisor worker: the window in
 * which a signal cuts a trapped call short. sembox prints the
 * distribution on stderr at exit; this program's own output matters
 * little. Runs natively too (the stamp is then unused). */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/sem.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void) {
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

/* semop with the caller's time as the ignored 4th argument */
static long stamped_semop(int id, struct sembuf *s) {
	return syscall(SYS_semop, id, s, 1, now_ns());
}

int main(int argc, char **argv) {
	long n = argc > 1 ? atol(argv[1]) : 20000;
	int procs = argc > 2 ? atoi(argv[2]) : 1;
	if (n < 2 || procs < 1 || procs > 64) {
		fprintf(stderr, "usage: recvwin N [PROCS]\n");
		return 2;
	}
	int id = semget(IPC_PRIVATE, procs, 0600);
	if (id < 0) { perror("semget"); return 1; }
	long long *ns = mmap(NULL, 64 * sizeof *ns, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (ns == MAP_FAILED) { perror("mmap"); return 1; }
	for (int p = 0; p < procs; p++) {
		pid_t c = fork();
		if (c < 0) { perror("fork"); return 1; }
		if (c > 0) continue;
		struct sembuf v = {p, 1, 0}, P = {p, -1, 0};
		long long a = now_ns();
		for (long i = 0; i < n; i += 2) {
			if (stamped_semop(id, &v) < 0) { perror("semop V"); _exit(1); }
			if (stamped_semop(id, &P) < 0) { perror("semop P"); _exit(1); }
		}
		ns[p] = (now_ns() - a) / n;
		_exit(0);
	}
	int bad = 0, st;
	while (wait(&st) > 0)
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) bad = 1;
	semctl(id, 0, IPC_RMID);
	long long worst = 0;
	for (int p = 0; p < procs; p++)
		if (ns[p] > worst) worst = ns[p];
	printf("%lld\n", worst);
	return bad;
}
