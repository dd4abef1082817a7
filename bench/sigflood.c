/* sigflood: semop under a signal flood (issue 8).
 *   sigflood SECS [RATE]
 * 6 worker processes pass 3 tokens (one semaphore, value 3) for SECS
 * seconds: P (-1, may block), then V (+1, never blocks), in a loop. Workers
 * 0, 2, 4 handle SIGUSR1 and SIGRTMIN with SA_RESTART, workers 1, 3, 5
 * without. One flooder process signals random workers, alternating kill()
 * and tgkill() (and SIGUSR1 / SIGRTMIN), at RATE signals/s (default
 * 100000; 0 = as fast as it can).
 *
 * A V that fails with EINTR was not performed (Linux never fails it so):
 * the worker retries it, and so does a P. A call the kernel restarts after
 * an SA_RESTART handler is not seen here (it counts as one call): the
 * restart workers' V EINTR is 0 by construction, the norestart workers'
 * shows the share of calls cut short. Every call is stamped (4th argument
 * = CLOCK_MONOTONIC ns, ignored by the kernel) for
 * `sembox run --bench-recv-window`; a restarted call keeps its first stamp.
 * A worker that faults (SIGSEGV, SIGBUS) prints where before it dies.
 *
 * Output, first line (for bench/run.sh):
 *   V_EINTR_PCT V_EINTR V_CALLS SIGNALS_PER_S TOKENS_AT_END NORESTART_V_EINTR_PCT
 * where V_EINTR_PCT = 100 * V EINTR / V calls (every attempt counts as a
 * call) and the last one is the same for the workers without SA_RESTART; then key=value lines: per kind of handler (restart, norestart)
 * and in total, the counts of V calls, V EINTR, V other errors, P calls,
 * P ok, P EINTR, P other errors and handlers run. Exits 1 if the tokens
 * are not conserved (GETVAL != 3 once every worker has stopped), a call
 * failed with anything but EINTR, or a worker did not exit 0. Natively V
 * EINTR is 0. */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/sem.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#define WORKERS 6
#define TOKENS 3

struct counts {
	long v_calls, v_eintr, v_other, p_calls, p_ok, p_eintr, p_other, handled;
	int last_errno;
};
struct shared {
	volatile int stop, go;
	volatile pid_t pid[WORKERS];
	long sent, send_failed;
	double flood_secs;
	struct counts c[WORKERS];
};
static struct shared *sh;
static volatile long handled;
static pid_t children[WORKERS + 1];

static long long now_ns(void) {
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static long stamped_semop(int id, struct sembuf *s) {
	return syscall(SYS_semop, id, s, 1, now_ns());
}

static void on_signal(int sig) { (void)sig; handled++; }

/* A fault in a worker is reported (where, and who sent it) before the
 * worker dies of it. */
static void on_fault(int sig, siginfo_t *si, void *uc) {
	char m[256];
	int n = snprintf(m, sizeof m, "sigflood: worker %d: signal %d code %d addr %p from pid %d rip 0x%llx rsp 0x%llx\n",
	                 (int)getpid(), sig, si->si_code, si->si_addr, (int)si->si_pid,
	                 (unsigned long long)((ucontext_t *)uc)->uc_mcontext.gregs[REG_RIP],
	                 (unsigned long long)((ucontext_t *)uc)->uc_mcontext.gregs[REG_RSP]);
	if (write(2, m, n) < 0) {}
	signal(sig, SIG_DFL);
	raise(sig);
}

static void worker(int w, int id) {
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sa.sa_flags = w % 2 == 0 ? SA_RESTART : 0;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGUSR1, &sa, NULL) < 0 || sigaction(SIGRTMIN, &sa, NULL) < 0) _exit(3);
	struct sigaction fa;
	memset(&fa, 0, sizeof fa);
	fa.sa_sigaction = on_fault;
	fa.sa_flags = SA_SIGINFO | SA_ONSTACK;
	static char altstack[65536];
	stack_t ss = {.ss_sp = altstack, .ss_size = sizeof altstack};
	if (sigaltstack(&ss, NULL) < 0 || sigaction(SIGSEGV, &fa, NULL) < 0 || sigaction(SIGBUS, &fa, NULL) < 0) _exit(3);
	struct counts *c = &sh->c[w];
	struct sembuf P = {0, -1, 0}, V = {0, 1, 0};
	sh->pid[w] = getpid();
	while (!sh->go)
		sched_yield();
	while (!sh->stop) {
		for (;;) {
			c->p_calls++;
			if (stamped_semop(id, &P) == 0) { c->p_ok++; break; }
			if (errno == EINTR) c->p_eintr++;
			else { c->p_other++; c->last_errno = errno; }
			if (sh->stop) goto out; /* holds no token */
		}
		for (;;) {
			c->v_calls++;
			if (stamped_semop(id, &V) == 0) break;
			if (errno == EINTR) { c->v_eintr++; continue; }
			c->v_other++; c->last_errno = errno;
			goto out;
		}
	}
out:
	c->handled = handled;
	_exit(0);
}

static void flooder(long rate) {
	uint64_t x = 0x9e3779b97f4a7c15ULL ^ (uint64_t)getpid();
	long sent = 0, failed = 0;
	prctl(PR_SET_TIMERSLACK, 1UL);
	while (!sh->go)
		sched_yield();
	long long t0 = now_ns();
	for (long i = 0; !sh->stop; i++) {
		x ^= x >> 12; x ^= x << 25; x ^= x >> 27;
		pid_t p = sh->pid[(x * 0x2545F4914F6CDD1DULL >> 33) % WORKERS];
		int sig = i & 2 ? SIGRTMIN : SIGUSR1;
		long r = i & 1 ? syscall(SYS_tgkill, p, p, sig) : kill(p, sig);
		if (r == 0) sent++; else failed++;
		if (rate > 0 && (i & 15) == 15) {
			/* paced: sleep while ahead of schedule by more than 50 us */
			long long ahead = t0 + (i + 1) * 1000000000LL / rate - now_ns();
			if (ahead > 50000) {
				struct timespec ts = {0, ahead < 1000000 ? ahead : 1000000};
				nanosleep(&ts, NULL);
			}
		}
	}
	sh->flood_secs = (now_ns() - t0) / 1e9;
	sh->sent = sent;
	sh->send_failed = failed;
	_exit(0);
}

static void watchdog(int sig) {
	(void)sig;
	static const char m[] = "sigflood: watchdog: workers did not stop\n";
	if (write(2, m, sizeof m - 1) < 0) {}
	for (int i = 0; i <= WORKERS; i++)
		if (children[i] > 0) kill(children[i], SIGKILL);
	_exit(99);
}

static void add(struct counts *t, const struct counts *c) {
	t->v_calls += c->v_calls; t->v_eintr += c->v_eintr; t->v_other += c->v_other;
	t->p_calls += c->p_calls; t->p_ok += c->p_ok; t->p_eintr += c->p_eintr;
	t->p_other += c->p_other; t->handled += c->handled;
	if (c->last_errno) t->last_errno = c->last_errno;
}

static void print_counts(const char *name, const struct counts *t) {
	printf("%s: v_calls=%ld v_eintr=%ld v_eintr_pct=%.3f v_other=%ld p_calls=%ld p_ok=%ld p_eintr=%ld p_other=%ld handlers_run=%ld%s%s\n",
	       name, t->v_calls, t->v_eintr, t->v_calls ? 100.0 * t->v_eintr / t->v_calls : 0.0, t->v_other,
	       t->p_calls, t->p_ok, t->p_eintr, t->p_other, t->handled,
	       t->last_errno ? " last_other_errno=" : "", t->last_errno ? strerror(t->last_errno) : "");
}

int main(int argc, char **argv) {
	double secs = argc > 1 ? atof(argv[1]) : 2.0;
	long rate = argc > 2 ? atol(argv[2]) : 100000;
	if (secs <= 0 || secs > 600 || rate < 0) {
		fprintf(stderr, "usage: sigflood SECS [RATE]\n");
		return 2;
	}
	sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED) { perror("mmap"); return 1; }
	int id = semget(IPC_PRIVATE, 1, 0600);
	if (id < 0) { perror("semget"); return 1; }
	if (semctl(id, 0, SETVAL, TOKENS) < 0) { perror("SETVAL"); return 1; }
	fflush(stdout);
	for (int w = 0; w < WORKERS; w++) {
		children[w] = fork();
		if (children[w] < 0) { perror("fork"); watchdog(0); }
		if (children[w] == 0) worker(w, id);
	}
	for (int w = 0; w < WORKERS; w++)
		while (sh->pid[w] == 0)
			usleep(100);
	children[WORKERS] = fork();
	if (children[WORKERS] < 0) { perror("fork"); watchdog(0); }
	if (children[WORKERS] == 0) flooder(rate);
	signal(SIGALRM, watchdog);
	alarm((unsigned)secs + 60);
	__atomic_store_n(&sh->go, 1, __ATOMIC_SEQ_CST);
	struct timespec d = {(time_t)secs, (long)((secs - (time_t)secs) * 1e9)};
	while (nanosleep(&d, &d) < 0 && errno == EINTR)
		;
	__atomic_store_n(&sh->stop, 1, __ATOMIC_SEQ_CST);
	int bad = 0, st;
	for (int i = 0; i <= WORKERS; i++) {
		while (waitpid(children[i], &st, 0) < 0)
			if (errno != EINTR) { perror("waitpid"); return 1; }
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			fprintf(stderr, "sigflood: child %d ended with status 0x%x\n", i, st);
			bad = 1;
		}
	}
	alarm(0);
	int tokens;
	while ((tokens = semctl(id, 0, GETVAL)) < 0 && errno == EINTR)
		;
	semctl(id, 0, IPC_RMID);

	struct counts r = {0}, nr = {0}, t = {0};
	for (int w = 0; w < WORKERS; w++) {
		add(w % 2 == 0 ? &r : &nr, &sh->c[w]);
		add(&t, &sh->c[w]);
	}
	double sigps = sh->flood_secs > 0 ? sh->sent / sh->flood_secs : 0;
	printf("%.3f %ld %ld %.0f %d %.3f\n", t.v_calls ? 100.0 * t.v_eintr / t.v_calls : 0.0, t.v_eintr, t.v_calls, sigps, tokens,
	       nr.v_calls ? 100.0 * nr.v_eintr / nr.v_calls : 0.0);
	print_counts("restart", &r);
	print_counts("norestart", &nr);
	print_counts("total", &t);
	printf("signals_sent=%ld send_failed=%ld signals_per_s=%.0f secs=%.2f v_ok_per_s=%.0f tokens_at_end=%d (want %d)\n",
	       sh->sent, sh->send_failed, sigps, secs, (t.v_calls - t.v_eintr - t.v_other) / secs, tokens, TOKENS);
	if (tokens != TOKENS) {
		fprintf(stderr, "sigflood: tokens not conserved: %d at the end, want %d\n", tokens, TOKENS);
		bad = 1;
	}
	if (t.v_other || t.p_other) {
		fprintf(stderr, "sigflood: calls failed with errors other than EINTR (last: %s)\n", strerror(t.last_errno));
		bad = 1;
	}
	return bad;
}
