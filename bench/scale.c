/* scale: large-namespace figures.
 *   scale sets N        create N one-semaphore sets, then remove them all;
 *                       prints "CREATE_MS REMOVE_MS" (totals), then the
 *                       ms of the first and of the last eighth of the
 *                       creations, and the same for the removals (for
 *                       8 or more sets): does a call cost more when the
 *                       namespace is full?
 *   scale wake W REPS   park W waiter threads, one per semaphore, on big
 *                       sets (1000 waiters' semaphores + 2 more each);
 *                       then REPS times: V semaphore 1000 of set 0 and
 *                       time until its own waiter thread returns from P
 *                       (the other waiters stay parked). Prints
 *                       "MEDIAN_US MIN_US PARK_MS [IDLE_CPU_PCT]". SCALE_DEBUG=1 prints
 *                       the phases' times, SCALE_IDLE=S sleeps S seconds
 *                       with everything parked and adds the CPU the
 *                       parent (the supervisor) used in the second half
 *                       of them, in % of one CPU.
 *   scale mem SETS NSEMS
 *                       create SETS sets of NSEMS semaphores and SETALL
 *                       them; prints "PARENT_RSS_BEFORE_KB
 *                       PARENT_RSS_CREATED_KB PARENT_RSS_SET_KB
 *                       SLAB_GROWTH_KB". Under sembox the parent is the
 *                       sembox supervisor; natively only the system-wide
 *                       growth of Slab (kernel memory, where the sets
 *                       live; other work on the machine counts too)
 *                       means something. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <time.h>
#include <unistd.h>

#define PER_SET 1000 /* parked waiters per set; semaphores PER_SET, PER_SET+1 are the measured one and its ack */

static double now_us(void) {
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static void die(const char *s) { perror(s); exit(1); }

static int sets(long n) {
	int *ids = malloc(n * sizeof *ids);
	long e = n / 8; /* the first and the last eighth are timed apart */
	double a = now_us(), a1 = 0, a7 = 0;
	for (long i = 0; i < n; i++) {
		if (i == e) a1 = now_us();
		if (i == n - e) a7 = now_us();
		if ((ids[i] = semget(IPC_PRIVATE, 1, 0600)) < 0) die("semget");
	}
	double b = now_us(), b1 = 0, b7 = 0;
	for (long i = 0; i < n; i++) {
		if (i == e) b1 = now_us();
		if (i == n - e) b7 = now_us();
		if (semctl(ids[i], 0, IPC_RMID) < 0) die("IPC_RMID");
	}
	double c = now_us();
	printf("%.1f %.1f %.2f %.2f %.2f %.2f\n", (b - a) / 1e3, (c - b) / 1e3,
	       (a1 - a) / 1e3, (b - a7) / 1e3, (b1 - b) / 1e3, (c - b7) / 1e3);
	return 0;
}

struct waiter { int id; unsigned short num; };

static volatile int entered, removed; /* waiters that called semop / got EIDRM */

static void *park(void *arg) {
	struct waiter *w = arg;
	struct sembuf p = {w->num, -1, 0};
	__atomic_add_fetch(&entered, 1, __ATOMIC_SEQ_CST);
	if (semop(w->id, &p, 1) < 0 && errno == EIDRM) /* the end: IPC_RMID */
		__atomic_add_fetch(&removed, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

/* asleep reports whether thread tid sleeps (state S): in semop, once it
 * has said it entered it. Asking GETNCNT instead would be exact but, under
 * sembox, costs one kernel notification look-up per waiter of the set. */
static int asleep(pid_t tid) {
	char path[64], buf[256];
	snprintf(path, sizeof path, "/proc/self/task/%d/stat", (int)tid);
	FILE *f = fopen(path, "r");
	if (!f) return 0;
	int n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n > 0 ? n : 0] = 0;
	char *p = strrchr(buf, ')');
	return p && p[1] == ' ' && p[2] == 'S';
}

static int mid, reps;
static volatile int ready; /* the measured thread is about to P */
static volatile pid_t mtid;
static volatile double woke;

static void *measured(void *arg) {
	(void)arg;
	struct sembuf p = {PER_SET, -1, 0}, ack = {PER_SET + 1, 1, 0};
	mtid = gettid();
	for (int r = 0; r < reps; r++) {
		ready = 1;
		if (semop(mid, &p, 1) < 0) die("measured P");
		woke = now_us();
		ready = 0;
		if (semop(mid, &ack, 1) < 0) die("ack");
	}
	return NULL;
}

static int cmp(const void *a, const void *b) {
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* parent_cpu_ticks: utime + stime of the parent process, in clock ticks. */
static long parent_cpu_ticks(void) {
	char path[64], buf[1024];
	snprintf(path, sizeof path, "/proc/%d/stat", (int)getppid());
	FILE *f = fopen(path, "r");
	if (!f) return -1;
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = 0;
	char *p = strrchr(buf, ')'); /* the command name may hold spaces */
	unsigned long ut, st;
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2) return -1;
	return (long)(ut + st);
}

static int wake(long w) {
	if (w < 0 || w > 1000000) { fprintf(stderr, "scale wake: bad W\n"); return 2; }
	long nsets = w ? (w + PER_SET - 1) / PER_SET : 1;
	int *ids = malloc(nsets * sizeof *ids);
	for (long s = 0; s < nsets; s++)
		if ((ids[s] = semget(IPC_PRIVATE, PER_SET + 2, 0600)) < 0) die("semget");
	mid = ids[0];
	pthread_attr_t at;
	pthread_attr_init(&at);
	pthread_attr_setstacksize(&at, 64 * 1024);
	struct waiter *ws = calloc((size_t)w + 1, sizeof *ws);
	pthread_t t;
	double a = now_us();
	for (long i = 0; i < w; i++) {
		ws[i].id = ids[i / PER_SET];
		ws[i].num = i % PER_SET;
		if (pthread_create(&t, &at, park, &ws[i])) die("pthread_create");
		pthread_detach(t);
	}
	while (entered < w) usleep(1000);
	/* Every waiter has called (or is about to call) semop. Under sembox a
	 * trapped call of ours is received after every call queued before it,
	 * so once it is answered the supervisor has taken in all the waiters.
	 * (GETNCNT per semaphore would be exact, but under sembox it checks
	 * every waiter of the set with the kernel, which walks its list of
	 * pending notifications: O(W) per waiter, minutes for 10,000.) */
	if (getenv("SCALE_DEBUG")) fprintf(stderr, "entered after %.0f ms\n", (now_us() - a) / 1e3);
	usleep(50000);
	int sentinel = semget(IPC_PRIVATE, 1, 0600);
	if (sentinel < 0) die("semget");
	semctl(sentinel, 0, IPC_RMID);
	if (getenv("SCALE_DEBUG")) fprintf(stderr, "sentinel after %.0f ms\n", (now_us() - a) / 1e3);
	usleep(50000);
	double parked = now_us() - a;
	/* SCALE_IDLE=S: stay parked S seconds, and report the CPU the parent
	 * (under sembox: the supervisor) used in the second half, in % of one
	 * CPU (in the first, the polling of the calls just parked settles). */
	double idle_cpu = -1;
	if (getenv("SCALE_IDLE")) {
		int secs = atoi(getenv("SCALE_IDLE"));
		sleep(secs / 2);
		secs -= secs / 2;
		double t0 = now_us();
		long c0 = parent_cpu_ticks();
		sleep(secs);
		long c1 = parent_cpu_ticks();
		if (c0 >= 0 && c1 >= 0)
			idle_cpu = 100.0 * (c1 - c0) / sysconf(_SC_CLK_TCK) / ((now_us() - t0) / 1e6);
	}
	pthread_t mt;
	if (pthread_create(&mt, &at, measured, NULL)) die("pthread_create");
	double *lat = malloc(reps * sizeof *lat);
	struct sembuf v = {PER_SET, 1, 0}, ack = {PER_SET + 1, -1, 0};
	for (int r = 0; r < reps; r++) {
		while (!ready || !mtid) usleep(100);
		while (!asleep(mtid)) usleep(100);
		usleep(5000);
		double t0 = now_us();
		if (semop(mid, &v, 1) < 0) die("V");
		if (semop(mid, &ack, 1) < 0) die("ack P");
		lat[r] = woke - t0;
	}
	pthread_join(mt, NULL);
	double c = now_us();
	for (long s = 0; s < nsets; s++) semctl(ids[s], 0, IPC_RMID);
	for (int i = 0; i < 60000 && removed < w; i++) usleep(1000);
	if (getenv("SCALE_DEBUG")) fprintf(stderr, "teardown %.0f ms\n", (now_us() - c) / 1e3);
	if (removed != w) {
		fprintf(stderr, "scale wake: only %d of %ld waiters were parked until IPC_RMID\n", removed, w);
		return 1;
	}
	qsort(lat, reps, sizeof *lat, cmp);
	if (idle_cpu >= 0)
		printf("%.1f %.1f %.0f %.2f\n", lat[reps / 2], lat[0], parked / 1e3, idle_cpu);
	else
		printf("%.1f %.1f %.0f\n", lat[reps / 2], lat[0], parked / 1e3);
	return 0;
}

static long field_kb(const char *path, const char *key) {
	FILE *f = fopen(path, "r");
	char line[256];
	long v = -1;
	if (!f) return -1;
	while (fgets(line, sizeof line, f))
		if (!strncmp(line, key, strlen(key))) { v = atol(line + strlen(key)); break; }
	fclose(f);
	return v;
}

static int mem(long nsets, int nsems) {
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/status", (int)getppid());
	long before = field_kb(path, "VmRSS:"), slab = field_kb("/proc/meminfo", "Slab:");
	int *ids = malloc(nsets * sizeof *ids);
	unsigned short *vals = malloc(nsems * sizeof *vals);
	for (int i = 0; i < nsems; i++) vals[i] = 1;
	for (long s = 0; s < nsets; s++)
		if ((ids[s] = semget(IPC_PRIVATE, nsems, 0600)) < 0) die("semget");
	long created = field_kb(path, "VmRSS:");
	/* Write every semaphore, so that memory allocated but never touched
	 * (zero pages) is counted too. */
	for (long s = 0; s < nsets; s++)
		if (semctl(ids[s], 0, SETALL, vals) < 0) die("SETALL");
	sleep(1); /* the kernel folds its per-CPU memory counters every second */
	long after = field_kb(path, "VmRSS:"), slab2 = field_kb("/proc/meminfo", "Slab:");
	for (long s = 0; s < nsets; s++) semctl(ids[s], 0, IPC_RMID);
	printf("%ld %ld %ld %ld\n", before, created, after, slab2 - slab);
	return 0;
}

int main(int argc, char **argv) {
	if (argc >= 3 && !strcmp(argv[1], "sets")) return sets(atol(argv[2]));
	if (argc >= 3 && !strcmp(argv[1], "wake")) {
		reps = argc > 3 ? atoi(argv[3]) : 50;
		return wake(atol(argv[2]));
	}
	if (argc >= 4 && !strcmp(argv[1], "mem")) return mem(atol(argv[2]), atoi(argv[3]));
	fprintf(stderr, "usage: scale sets N | wake W [REPS] | mem SETS NSEMS\n");
	return 2;
}
