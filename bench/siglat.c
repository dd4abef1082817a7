/* siglat: signal-to-EINTR latency of a semop, by how the signal comes
 * (issue 11).
 *   siglat HOW TRIALS PARKED
 * HOW is one of
 *   kill      the parent sends SIGUSR1 with kill() once the waiter is
 *             blocked; latency = semop's return - the kill
 *   tgkill    the same with tgkill()
 *   setitimer the waiter arms setitimer(ITIMER_REAL, 20 ms) and blocks;
 *             latency = semop's return - (arming + 20 ms)
 *   alarm     the waiter calls alarm(1) and blocks (1 s per trial)
 *   timer     the waiter arms a POSIX timer (CLOCK_MONOTONIC,
 *             SIGEV_SIGNAL, 20 ms) and blocks
 *   sigio     the parent writes to a pipe whose reader the waiter owns
 *             (F_SETOWN, F_SETSIG SIGUSR1): the kernel sends the signal,
 *             with no call a sandbox could trap, as a sender outside it
 *             would; latency = semop's return - the write
 * Every trial: a waiter process (with a SIGUSR1/SIGALRM handler without
 * SA_RESTART, which notes that it ran) blocks in P on a semaphore at 0.
 * PARKED other threads (in a process of their own) stay blocked in P on
 * semaphores of another set throughout, as load on whatever watches the
 * waits.
 *
 * The latency includes the kernel's own delivery (natively tens of µs for
 * a timer). A return other than EINTR, or EINTR without the handler
 * having run first, is an error (exit 1).
 *
 * Output, one line: P50_US P99_US MAX_US TRIALS */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/sem.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TIMER_MS 20

static double now_us(void) {
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static void die(const char *s) { perror(s); exit(2); }

struct shared {
	volatile double t0, t1; /* the signal's (expected) time, semop's return */
	volatile int rc, err, handled_before_return;
	volatile int blocked;
	int entered; /* parker threads about to P (atomic) */
};
static struct shared *sh;
static volatile sig_atomic_t handled;
static void handler(int sig) { (void)sig; handled = 1; }

static int semid, parkid;
static int sigpipe[2]; /* sigio: the parent writes, the waiter owns the read end */

static void *park(void *arg) {
	struct sembuf p = {(unsigned short)(long)arg, -1, 0};
	__atomic_add_fetch(&sh->entered, 1, __ATOMIC_SEQ_CST);
	while (semop(parkid, &p, 1) < 0 && errno == EINTR)
		;
	return NULL;
}

/* parker: PARKED threads blocked on parkid until it is removed. */
static pid_t start_parker(int parked) {
	pid_t pid = fork();
	if (pid < 0) die("fork");
	if (pid > 0) return pid;
	pthread_attr_t at;
	pthread_attr_init(&at);
	pthread_attr_setstacksize(&at, 64 * 1024);
	for (long i = 0; i < parked; i++) {
		pthread_t t;
		if (pthread_create(&t, &at, park, (void *)(i % 30000))) die("pthread_create");
	}
	for (;;) pause();
}

static void waiter(const char *how) {
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = handler;
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGALRM, &sa, NULL);
	timer_t tm;
	if (!strcmp(how, "timer")) {
		struct sigevent ev;
		memset(&ev, 0, sizeof ev);
		ev.sigev_notify = SIGEV_SIGNAL;
		ev.sigev_signo = SIGALRM;
		if (timer_create(CLOCK_MONOTONIC, &ev, &tm)) die("timer_create");
	}
	struct sembuf p = {0, -1, 0};
	if (!strcmp(how, "sigio")) {
		if (fcntl(sigpipe[0], F_SETOWN, getpid()) < 0 || fcntl(sigpipe[0], F_SETSIG, SIGUSR1) < 0 ||
		    fcntl(sigpipe[0], F_SETFL, O_ASYNC | O_NONBLOCK) < 0)
			die("fcntl");
	}
	if (!strcmp(how, "setitimer")) {
		struct itimerval v = {{0, 0}, {0, TIMER_MS * 1000}};
		sh->t0 = now_us() + TIMER_MS * 1000;
		setitimer(ITIMER_REAL, &v, NULL);
	} else if (!strcmp(how, "alarm")) {
		sh->t0 = now_us() + 1e6;
		alarm(1);
	} else if (!strcmp(how, "timer")) {
		struct itimerspec v = {{0, 0}, {0, TIMER_MS * 1000000L}};
		sh->t0 = now_us() + TIMER_MS * 1000;
		timer_settime(tm, 0, &v, NULL);
	}
	sh->blocked = 1;
	int rc = semop(semid, &p, 1);
	double t1 = now_us();
	sh->err = rc < 0 ? errno : 0;
	sh->handled_before_return = handled;
	sh->rc = rc;
	sh->t1 = t1;
	_exit(0);
}

static int cmp(const void *a, const void *b) {
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

int main(int argc, char **argv) {
	if (argc != 4) {
		fprintf(stderr, "usage: siglat kill|tgkill|sigio|setitimer|alarm|timer TRIALS PARKED\n");
		return 2;
	}
	const char *how = argv[1];
	int trials = atoi(argv[2]), parked = atoi(argv[3]);
	int fromparent = !strcmp(how, "kill") || !strcmp(how, "tgkill") || !strcmp(how, "sigio");
	if (!fromparent && strcmp(how, "setitimer") && strcmp(how, "alarm") && strcmp(how, "timer")) {
		fprintf(stderr, "siglat: unknown HOW %s\n", how);
		return 2;
	}
	sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED) die("mmap");
	semid = semget(IPC_PRIVATE, 1, 0600);
	parkid = semget(IPC_PRIVATE, parked > 30000 ? 30000 : (parked ? parked : 1), 0600);
	if (semid < 0 || parkid < 0) die("semget");
	pid_t parker = 0;
	if (parked > 0) {
		parker = start_parker(parked);
		/* Wait until every parker thread has called semop. Under sembox
		 * a trapped call of ours is received after every call queued
		 * before it, so once a later semget is answered the waits are
		 * all taken in (GETNCNT over the set would cost O(parked) per
		 * call there). */
		for (int tries = 0; __atomic_load_n(&sh->entered, __ATOMIC_SEQ_CST) < parked; tries++) {
			if (tries > 12000) { fprintf(stderr, "siglat: parking stalled\n"); return 2; }
			usleep(10000);
		}
		usleep(50000);
		int sentinel = semget(IPC_PRIVATE, 1, 0600);
		semctl(sentinel, 0, IPC_RMID);
		usleep(50000);
	}
	double *lat = malloc(trials * sizeof *lat);
	int bad = 0;
	for (int t = 0; t < trials; t++) {
		sh->t0 = sh->t1 = 0;
		sh->rc = sh->err = sh->handled_before_return = sh->blocked = 0;
		if (!strcmp(how, "sigio") && pipe(sigpipe) < 0) die("pipe");
		pid_t w = fork();
		if (w < 0) die("fork");
		if (w == 0) waiter(how);
		if (fromparent) {
			while (!sh->blocked) usleep(100);
			/* Blocked: GETNCNT sees it (then a little more, as a real
			 * sender would not race the wait). */
			while (semctl(semid, 0, GETNCNT) < 1) usleep(100);
			usleep(2000 + (t % 5) * 1000);
			sh->t0 = now_us();
			if (!strcmp(how, "kill"))
				kill(w, SIGUSR1);
			else if (!strcmp(how, "sigio")) {
				if (write(sigpipe[1], "s", 1) != 1) die("write");
			} else
				syscall(SYS_tgkill, w, w, SIGUSR1);
		}
		int st;
		if (waitpid(w, &st, 0) != w || !WIFEXITED(st)) die("waiter");
		if (!strcmp(how, "sigio")) {
			close(sigpipe[0]);
			close(sigpipe[1]);
		}
		if (sh->rc != -1 || sh->err != EINTR || !sh->handled_before_return) {
			fprintf(stderr, "siglat: trial %d: rc %d errno %d handler ran %d\n", t, sh->rc, sh->err,
				sh->handled_before_return);
			bad++;
			semctl(semid, 0, SETVAL, 0);
		}
		lat[t] = sh->t1 - sh->t0;
	}
	if (parker) {
		semctl(parkid, 0, IPC_RMID);
		kill(parker, SIGKILL);
		waitpid(parker, NULL, 0);
	} else {
		semctl(parkid, 0, IPC_RMID);
	}
	semctl(semid, 0, IPC_RMID);
	qsort(lat, trials, sizeof *lat, cmp);
	printf("%.0f %.0f %.0f %d\n", lat[trials / 2], lat[(int)(trials * 0.99)], lat[trials - 1], trials);
	return bad ? 1 : 0;
}
