/* statepause: the pause members of a shared namespace see while its
 * server saves the namespace's image.
 *
 *   statepause NSETS TOTAL SECONDS SEMBOX NS
 *
 * Run as a member: sembox run --ns NS --state FILE -- statepause ...
 * It creates NSETS private sets holding TOTAL semaphores in all (the
 * first TOTAL % NSETS sets one more than the others), each semaphore at
 * 1000, then for SECONDS makes uncontended semops (a V or a P, IPC_NOWAIT,
 * on a random semaphore of a random set) in an open loop: one call, then
 * a random pause of 0-200 us, so that calls are issued at any moment of a
 * save, and times each call (CLOCK_MONOTONIC). A second thread saves the
 * namespace every 150 ms: it runs `SEMBOX ns save NS` and records the
 * interval from before the spawn to after the wait. A semop that started
 * in such an interval is "during a save", the others are "without a
 * save". The sets are left in the namespace (bench/run.sh then measures
 * saving and restoring it). Prints one line, times in us:
 *
 *   IDLE_P50 IDLE_P99 IDLE_MAX SAVE_P50 SAVE_P99 SAVE_MAX SAVE_MS_MEDIAN
 *       SAVES N_IDLE N_SAVE
 *
 * SAVE_MS_MEDIAN is the median duration of `sembox ns save` as a whole
 * (process start included). */
#define _GNU_SOURCE
#include <pthread.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

union semun {
	int val;
	struct semid_ds *buf;
	unsigned short *array;
};

static long long now_ns(void) {
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

struct win { long long s, e; };
static struct win wins[4096];
static int nwins;
static atomic_int stop;
static char *sembox, *nsname;

static void *saver(void *arg) {
	(void)arg;
	char *argv[] = {sembox, "ns", "save", nsname, NULL};
	while (!atomic_load(&stop) && nwins < 4096) {
		struct timespec d = {0, 150 * 1000000L};
		nanosleep(&d, NULL);
		if (atomic_load(&stop))
			break;
		long long s = now_ns();
		pid_t pid;
		if (posix_spawn(&pid, sembox, NULL, NULL, argv, environ) != 0) {
			perror("posix_spawn");
			exit(1);
		}
		int st;
		if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			fprintf(stderr, "statepause: sembox ns save failed\n");
			exit(1);
		}
		wins[nwins].s = s;
		wins[nwins].e = now_ns();
		nwins++;
	}
	return NULL;
}

static int cmpll(const void *a, const void *b) {
	long long x = *(const long long *)a, y = *(const long long *)b;
	return x < y ? -1 : x > y;
}

static double pct(long long *v, long n, double p) {
	if (n == 0)
		return -1;
	long i = (long)(p * n);
	if (i >= n)
		i = n - 1;
	return v[i] / 1e3;
}

int main(int argc, char **argv) {
	if (argc != 6) {
		fprintf(stderr, "usage: statepause NSETS TOTAL SECONDS SEMBOX NS\n");
		return 2;
	}
	int nsets = atoi(argv[1]);
	long total = atol(argv[2]);
	double secs = atof(argv[3]);
	sembox = argv[4];
	nsname = argv[5];
	if (nsets < 1 || total < nsets || secs <= 0) {
		fprintf(stderr, "statepause: bad arguments\n");
		return 2;
	}
	int *ids = malloc(nsets * sizeof *ids), *sizes = malloc(nsets * sizeof *sizes);
	unsigned short *vals = malloc((total / nsets + 1) * sizeof *vals);
	for (long k = 0; k <= total / nsets; k++)
		vals[k] = 1000;
	for (int i = 0; i < nsets; i++) {
		sizes[i] = total / nsets + (i < total % nsets);
		ids[i] = semget(IPC_PRIVATE, sizes[i], 0600);
		if (ids[i] < 0) {
			perror("semget");
			return 1;
		}
		union semun a = {.array = vals};
		if (semctl(ids[i], 0, SETALL, a) < 0) {
			perror("SETALL");
			return 1;
		}
	}

	long cap = 4000000, n = 0;
	long long *start = malloc(cap * sizeof *start), *dur = malloc(cap * sizeof *dur);
	pthread_t th;
	pthread_create(&th, NULL, saver, NULL);
	unsigned seed = 12345;
	long long end = now_ns() + (long long)(secs * 1e9);
	while (n < cap) {
		long long s = now_ns();
		if (s >= end)
			break;
		int i = rand_r(&seed) % nsets;
		struct sembuf op = {(unsigned short)(rand_r(&seed) % sizes[i]), (n & 1) ? -1 : 1, IPC_NOWAIT};
		if (semop(ids[i], &op, 1) < 0) {
			perror("semop");
			return 1;
		}
		start[n] = s;
		dur[n] = now_ns() - s;
		n++;
		struct timespec d = {0, (rand_r(&seed) % 200) * 1000L};
		nanosleep(&d, NULL);
	}
	atomic_store(&stop, 1);
	pthread_join(th, NULL);

	long long *idle = malloc(n * sizeof *idle), *save = malloc(n * sizeof *save);
	long ni = 0, nsv = 0;
	int w = 0;
	for (long k = 0; k < n; k++) { /* start[] and wins[] are both in time order */
		while (w < nwins && wins[w].e < start[k])
			w++;
		if (w < nwins && wins[w].s <= start[k])
			save[nsv++] = dur[k];
		else
			idle[ni++] = dur[k];
	}
	qsort(idle, ni, sizeof *idle, cmpll);
	qsort(save, nsv, sizeof *save, cmpll);
	long long *sd = malloc((nwins + 1) * sizeof *sd);
	for (int k = 0; k < nwins; k++)
		sd[k] = wins[k].e - wins[k].s;
	qsort(sd, nwins, sizeof *sd, cmpll);
	printf("%.1f %.1f %.1f %.1f %.1f %.1f %.1f %d %ld %ld\n",
	       pct(idle, ni, 0.5), pct(idle, ni, 0.99), pct(idle, ni, 1),
	       pct(save, nsv, 0.5), pct(save, nsv, 0.99), pct(save, nsv, 1),
	       nwins ? sd[nwins / 2] / 1e6 : -1.0, nwins, ni, nsv);
	return 0;
}
