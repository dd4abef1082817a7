/*
 * multiexec: the multi-process native executor of semscript.
 *
 * It reads a multi-process script on stdin (see MultiScript in
 * ../multi.go). The process that reads it, the conductor, makes no
 * semaphore call that the script can see: it forks worker processes
 * 0..MAX_WORKERS-1 on demand and sends each call to the worker the line
 * names, over a pipe. A worker makes the call with semexec.c's code (raw
 * syscall(2), the same parsing and output) and writes its result line back
 * over another pipe; only the conductor prints.
 *
 *     p N CALL...    worker N makes CALL (semget, semop, semctl, as, cycle)
 *     exit N         worker N calls _exit(0), the conductor reaps it
 *     signal N       the conductor sends worker N SIGUSR1 (its handler is
 *                    installed without SA_RESTART)
 *     sync count     (the default) a semop that may queue is confirmed by
 *                    the waiter counts, below
 *     sync state     from the next line on, by the worker's state, below
 *
 * A semop line may end with the word "now" (not passed to the worker):
 * the conductor goes on as soon as the worker shows state S, below.
 *
 * The output is deterministic on Linux, because the conductor does one
 * thing at a time and waits for all of its effects:
 *
 *   - After sending a semop it waits until the worker reports a result or
 *     the call is queued, which is seen from outside: the sum over the
 *     known sets of GETNCNT + GETZCNT of every semaphore rises by exactly
 *     one per queued caller (Linux >= 3.16 counts a caller once, on the
 *     operation it blocks on). It then prints "CALL → blocks". A semop
 *     with a timeout whose tv_sec is 0 is waited for to its end instead:
 *     nothing else happens meanwhile, so it times out with EAGAIN.
 *   - Under "sync state", or for a semop line ending with "now", it
 *     instead waits until the worker reports a result or is seen asleep
 *     in the call, as test suites do (LTP's TST_PROCESS_STATE_WAIT): its
 *     /proc/PID/syscall names SYS_semtimedop (so the task is off the CPU
 *     inside that call: not still in the read of its pipe, whose sleep
 *     shows S too), then its /proc/PID/stat state is S, and then still no
 *     result has come (a worker back in its pipe read after the call has
 *     written its result first). On Linux a task asleep in semtimedop is
 *     queued. "now" then prints "CALL → blocks" at once and goes on to
 *     the next line; "sync state" counts the waiters once (no second
 *     count): before + 1 prints "CALL → blocks", anything else waits up
 *     to NOT_QUEUED_USEC for a result (under sembox a trapped call sleeps
 *     in S before sembox has received it, and it may not block at all),
 *     and without one prints "CALL → not queued", an observable difference
 *     that Linux never shows (the worker is taken as blocked). A blocked
 *     semop has changed nothing, so no other call ended: no settle.
 *   - After each line it counts the waiters again: their drop from the
 *     number of workers it knows to be blocked is the number of blocked
 *     calls that line ended (woken, interrupted, or failed with EIDRM: a
 *     removed set counts no waiters). It collects exactly that many result
 *     lines from the blocked workers and prints them, indented by two
 *     spaces, sorted by worker number.
 *   - A line for a blocked worker is not sent: it prints "LINE → busy"
 *     (a semget not made counts for $N as a failed one). exit or signal
 *     for a worker with no process prints "LINE → none". exit prints
 *     "exit N → status S" once the worker is reaped, its SEM_UNDO
 *     adjustments applied; a signal's EINTR is waited for.
 *
 * GETPID results are printed as the name of the worker with that pid: P2
 * for the first process of worker 2, P2.1 for the second (after an exit),
 * P? for a pid of no worker; 0 stays 0. The conductor's own calls
 * (IPC_STAT, GETNCNT, GETZCNT) are read-only and not printed.
 *
 * At the end of the script, if a worker is still blocked, the conductor
 * prints "end → K blocked", removes every set it knows of and prints the
 * EIDRM results. Then it closes the workers' pipes; they _exit(0).
 *
 * Exit status: 0 after the last line; 1 if an expected result did not come
 * within REPORT_USEC or the waiter counts made no sense (an "error: ..."
 * line is printed and the workers are killed); 2 for a script error
 * (message on stderr); 3 for a setup failure.
 *
 * Build (semexec.c in the same directory):
 *     gcc -O2 -Wall -Werror -o multiexec multiexec.c
 */
/*
 * semexec.c's parsing, calls and output; its main is renamed out of the
 * way (and not used). Its watchdog
 * (SIGALRM 0.5 s into every semop) stays armed, but workers ignore
 * SIGALRM, so a semop blocks for as long as the script says: an ignored
 * signal is discarded and interrupts nothing.
 */
#define main semexec_main
#include "semexec.c"
#undef main

#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>

#define MAX_WORKERS 6        /* worker processes 0..MAX_WORKERS-1 */
#define REPORT_USEC 5000000  /* the longest wait for an expected result */
#define POLL_MIN_USEC 100    /* first wait for a result before counting waiters */
#define POLL_MAX_USEC 2000   /* longest wait between two counts */
#define SHORT_TIMEOUT_SEC 0  /* a timeout with this tv_sec is waited for */
#define MAX_NSEMS 32000      /* SEMMSL: no set has more semaphores */
#define STATE_POLL_USEC 20   /* wait for a result between two looks at a worker's state */
#define NOT_QUEUED_USEC 1000000 /* "sync state": wait for a result of a call seen asleep but not counted */

/* worker is the conductor's view of one worker number. */
struct worker {
	pid_t pid;    /* 0: no process (never started, or exited) */
	int gen;      /* processes this number had before the current one */
	int started;  /* processes this number has had */
	int cmd_fd;   /* conductor → worker: calls */
	int rep_fd;   /* worker → conductor: result lines */
	int blocked;  /* its semop is queued */
	int stat_fd;  /* /proc/PID/stat, or -1 until first needed */
	int sys_fd;   /* /proc/PID/syscall, or -1 until first needed */
	char *buf;    /* bytes read from rep_fd, not yet taken as lines */
	size_t len, cap;
};

static struct worker workers[MAX_WORKERS];
static pid_t conductor;
static int sync_state; /* "sync state": confirm a queued semop by the worker's state */

/* proc_name is one process that has been a worker, for GETPID. */
struct proc_name {
	pid_t pid;
	int num, gen;
};
static struct proc_name *history;
static int nhistory, caphistory;

/* known_set is a set some worker created: the conductor counts its waiters. */
struct known_set {
	int id;
	int nsems; /* -1 until read with IPC_STAT */
};
static struct known_set *known;
static int nknown, capknown;

/* report is a result line of a call that was blocked, printed at the end of a step. */
struct report {
	int num;
	char *line;
};
static struct report reports[MAX_WORKERS];
static int nreports;

/* ---- plumbing ---------------------------------------------------------- */

static long long now_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n);
	if (!p) {
		fputs("multiexec: out of memory\n", stderr);
		exit(3);
	}
	return p;
}

/*
 * kill_workers ends every worker (error paths only: a worker left
 * blocked would keep the IPC namespace alive forever). It runs at exit,
 * in the conductor only.
 */
static void kill_workers(void)
{
	int i;

	if (getpid() != conductor)
		return;
	for (i = 0; i < MAX_WORKERS; i++) {
		if (workers[i].pid > 0) {
			kill(workers[i].pid, SIGKILL);
			waitpid(workers[i].pid, NULL, 0);
			workers[i].pid = 0;
		}
	}
}

/* fail prints an error line into the output and ends the run with status 1. */
static void fail(const char *fmt, ...)
{
	va_list ap;

	printf("error: line %d: ", lineno);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	exit(1);
}

static int write_full(int fd, const void *p, size_t n)
{
	const char *c = p;

	while (n > 0) {
		ssize_t k = write(fd, c, n);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		c += k;
		n -= (size_t)k;
	}
	return 0;
}

/* read_full reads n bytes; it returns n, fewer at end of file, or -1. */
static ssize_t read_full(int fd, void *p, size_t n)
{
	char *c = p;
	size_t got = 0;

	while (got < n) {
		ssize_t k = read(fd, c + got, n - got);

		if (k < 0 && errno == EINTR)
			continue; /* SIGUSR1 while idle */
		if (k < 0)
			return -1;
		if (k == 0)
			break;
		got += (size_t)k;
	}
	return (ssize_t)got;
}

/* ---- the worker --------------------------------------------------------- */

/*
 * A message to a worker is a header { line number, payload length } and
 * the payload "ECHO\0CALL\0": the words to print for the call, and the
 * call to make, with its id already resolved to a number. CALL "exit"
 * makes the worker exit.
 */
struct msg_header {
	uint32_t lineno;
	uint32_t len;
};

static void worker_main(int cmd_fd)
{
	self = getpid();
	signal(SIGALRM, SIG_IGN);
	for (;;) {
		struct msg_header h;
		char *payload, *echo, *call;

		if (read_full(cmd_fd, &h, sizeof h) != (ssize_t)sizeof h)
			_exit(0); /* the conductor is done */
		payload = malloc((size_t)h.len + 1);
		if (!payload || read_full(cmd_fd, payload, h.len) != (ssize_t)h.len)
			_exit(3);
		payload[h.len] = '\0';
		lineno = (int)h.lineno;
		echo = payload;
		call = payload + strlen(payload) + 1;
		if (strcmp(call, "exit") == 0)
			_exit(0);
		split_words(call, " ");
		if (ntok == 0)
			die("empty call");
		run_call(echo);
		free(payload);
	}
}

/* ---- the conductor: workers -------------------------------------------- */

static void spawn(int n)
{
	struct worker *w = &workers[n];
	int cmd[2], rep[2], i;
	pid_t pid;

	if (pipe(cmd) != 0 || pipe(rep) != 0)
		fail("pipe: %s", strerror(errno));
	fflush(stdout); /* nothing buffered may be written twice */
	pid = fork();
	if (pid < 0)
		fail("fork: %s", strerror(errno));
	if (pid == 0) {
		for (i = 0; i < MAX_WORKERS; i++) {
			if (workers[i].pid > 0) {
				close(workers[i].cmd_fd);
				close(workers[i].rep_fd);
			}
		}
		close(cmd[1]);
		close(rep[0]);
		if (dup2(rep[1], STDOUT_FILENO) < 0)
			_exit(3);
		close(rep[1]);
		worker_main(cmd[0]);
	}
	close(cmd[0]);
	close(rep[1]);
	w->pid = pid;
	w->gen = w->started++;
	w->cmd_fd = cmd[1];
	w->rep_fd = rep[0];
	w->blocked = 0;
	w->stat_fd = w->sys_fd = -1;
	w->len = 0;
	if (nhistory == caphistory) {
		caphistory = caphistory ? 2 * caphistory : 16;
		history = xrealloc(history, (size_t)caphistory * sizeof *history);
	}
	history[nhistory++] = (struct proc_name){pid, n, w->gen};
}

static void send_call(struct worker *w, const char *echo, const char *call)
{
	size_t le = strlen(echo) + 1, lc = strlen(call) + 1;
	struct msg_header h = {(uint32_t)lineno, (uint32_t)(le + lc)};
	char *p = xrealloc(NULL, le + lc);

	memcpy(p, echo, le);
	memcpy(p + le, call, lc);
	if (write_full(w->cmd_fd, &h, sizeof h) != 0 || write_full(w->cmd_fd, p, le + lc) != 0)
		fail("cannot write to worker %d: %s", (int)(w - workers), strerror(errno));
	free(p);
}

/* close_proc closes w's /proc files, if open. */
static void close_proc(struct worker *w)
{
	if (w->stat_fd >= 0)
		close(w->stat_fd);
	if (w->sys_fd >= 0)
		close(w->sys_fd);
	w->stat_fd = w->sys_fd = -1;
}

/*
 * worker_gone handles the end of file on a worker's result pipe: a
 * worker that rejected its call (status 2) is a script error.
 */
static void worker_gone(struct worker *w)
{
	int st = 0;
	pid_t pid = w->pid;

	waitpid(pid, &st, 0);
	w->pid = 0;
	close_proc(w);
	if (WIFEXITED(st) && WEXITSTATUS(st) == 2) {
		fprintf(stderr, "multiexec: line %d: worker %d rejected the call\n", lineno,
			(int)(w - workers));
		exit(2);
	}
	fail("worker %d ended unexpectedly (status 0x%x)", (int)(w - workers), st);
}

/* take_line returns the first complete line in w's buffer, or NULL. */
static char *take_line(struct worker *w)
{
	char *nl = w->len ? memchr(w->buf, '\n', w->len) : NULL, *line;
	size_t n;

	if (!nl)
		return NULL;
	n = (size_t)(nl - w->buf);
	line = xrealloc(NULL, n + 1);
	memcpy(line, w->buf, n);
	line[n] = '\0';
	memmove(w->buf, nl + 1, w->len - n - 1);
	w->len -= n + 1;
	return line;
}

/* fill reads what w has written into its buffer (one read). */
static void fill(struct worker *w)
{
	ssize_t k;

	if (w->cap - w->len < 4096) {
		w->cap = w->cap ? 2 * w->cap : 8192;
		w->buf = xrealloc(w->buf, w->cap);
	}
	do
		k = read(w->rep_fd, w->buf + w->len, w->cap - w->len);
	while (k < 0 && errno == EINTR);
	if (k < 0)
		fail("read from worker %d: %s", (int)(w - workers), strerror(errno));
	if (k == 0)
		worker_gone(w);
	w->len += (size_t)k;
}

/* wait_fds waits up to usec for any of the n fds to be readable. */
static void wait_fds(struct pollfd *fds, int n, long long usec)
{
	struct timespec ts;

	if (usec < 0)
		usec = 0;
	ts.tv_sec = usec / 1000000;
	ts.tv_nsec = (usec % 1000000) * 1000;
	if (ppoll(fds, (nfds_t)n, &ts, NULL) < 0 && errno != EINTR)
		fail("ppoll: %s", strerror(errno));
}

/* read_line returns w's next result line, or NULL if none is complete by deadline. */
static char *read_line(struct worker *w, long long deadline)
{
	for (;;) {
		char *line = take_line(w);
		struct pollfd pfd = {w->rep_fd, POLLIN, 0};
		long long left = deadline - now_usec();

		if (line)
			return line;
		wait_fds(&pfd, 1, left);
		if (pfd.revents)
			fill(w);
		else if (left <= 0)
			return NULL;
	}
}

/* ---- the conductor: a worker's state ------------------------------------ */

/* open_proc opens w's /proc/PID/stat and /proc/PID/syscall, once per process. */
static void open_proc(struct worker *w)
{
	char path[64];

	if (w->stat_fd >= 0)
		return;
	snprintf(path, sizeof path, "/proc/%d/stat", (int)w->pid);
	w->stat_fd = open(path, O_RDONLY | O_CLOEXEC);
	if (w->stat_fd < 0)
		fail("open %s: %s", path, strerror(errno));
	snprintf(path, sizeof path, "/proc/%d/syscall", (int)w->pid);
	w->sys_fd = open(path, O_RDONLY | O_CLOEXEC);
	if (w->sys_fd < 0)
		fail("open %s: %s", path, strerror(errno));
}

/*
 * read_proc reads the /proc file fd from its start (pread: no open per
 * look) into buf, NUL-terminated. It returns 0, or -1 if the process is
 * gone (its end of file on the result pipe tells the rest).
 */
static int read_proc(struct worker *w, int fd, char *buf, size_t n)
{
	ssize_t k;

	do
		k = pread(fd, buf, n - 1, 0);
	while (k < 0 && errno == EINTR);
	if (k < 0 && errno != ESRCH)
		fail("read /proc/%d: %s", (int)w->pid, strerror(errno));
	if (k <= 0)
		return -1;
	buf[k] = '\0';
	return 0;
}

/*
 * asleep_in_semop reports whether w was seen off the CPU inside
 * semtimedop (/proc/PID/syscall starts with its number; it says
 * "running" for a task on a CPU or runnable) and then in state S.
 */
static int asleep_in_semop(struct worker *w)
{
	char buf[512], *end, *paren;
	long nr;

	open_proc(w);
	if (read_proc(w, w->sys_fd, buf, sizeof buf) != 0)
		return 0;
	nr = strtol(buf, &end, 10);
	if (end == buf || *end != ' ' || nr != SYS_semtimedop)
		return 0;
	if (read_proc(w, w->stat_fd, buf, sizeof buf) != 0)
		return 0;
	paren = strrchr(buf, ')'); /* the end of the command name */
	return paren && paren[1] == ' ' && paren[2] == 'S';
}

/*
 * wait_state waits until w, just sent a semop, reports its result (which
 * it returns) or is seen asleep in the call (NULL): in semtimedop, then
 * in state S, and then still without a result. The order matters: a
 * worker back in its pipe read after the call (S again) has written its
 * result before, so the last look finds it.
 */
static char *wait_state(struct worker *w, int n, long long deadline)
{
	for (;;) {
		long long until = now_usec() + STATE_POLL_USEC;
		char *line = read_line(w, until < deadline ? until : deadline);

		if (line)
			return line;
		if (asleep_in_semop(w))
			return read_line(w, now_usec());
		if (now_usec() >= deadline)
			fail("worker %d: neither a result nor asleep in semop after %d s", n,
			     REPORT_USEC / 1000000);
	}
}

static int nblocked(void)
{
	int i, n = 0;

	for (i = 0; i < MAX_WORKERS; i++)
		n += workers[i].pid > 0 && workers[i].blocked;
	return n;
}

/* ---- the conductor: waiters --------------------------------------------- */

static void add_known(long long id)
{
	int i;

	if (id < 0)
		return;
	for (i = 0; i < nknown; i++)
		if (known[i].id == (int)id)
			return;
	if (nknown == capknown) {
		capknown = capknown ? 2 * capknown : 16;
		known = xrealloc(known, (size_t)capknown * sizeof *known);
	}
	known[nknown++] = (struct known_set){(int)id, -1};
}

/*
 * count_waiters returns the sum of GETNCNT and GETZCNT over every
 * semaphore of every known set. A set that is gone counts nothing and is
 * forgotten (ids are not reused within a script).
 */
static long count_waiters(void)
{
	long total = 0;
	int i = 0;

	while (i < nknown) {
		struct semid64_ds ds;
		long sum = 0, a = 0, b = 0;
		int k, gone = 0;

		if (known[i].nsems < 0) {
			memset(&ds, 0, sizeof ds);
			if (syscall(SYS_semctl, known[i].id, 0, IPC_STAT, &ds) == -1)
				gone = 1;
			else if (ds.sem_nsems > MAX_NSEMS)
				fail("IPC_STAT of set %d says %lu semaphores", known[i].id,
				     (unsigned long)ds.sem_nsems);
			else
				known[i].nsems = (int)ds.sem_nsems;
		}
		for (k = 0; !gone && k < known[i].nsems; k++) {
			a = syscall(SYS_semctl, known[i].id, k, GETNCNT, 0UL);
			b = syscall(SYS_semctl, known[i].id, k, GETZCNT, 0UL);
			if (a == -1 || b == -1)
				gone = 1;
			else
				sum += a + b;
		}
		if (gone) {
			known[i] = known[--nknown];
			continue;
		}
		total += sum;
		i++;
	}
	return total;
}

static int cmp_report(const void *a, const void *b)
{
	return ((const struct report *)a)->num - ((const struct report *)b)->num;
}

/* ended records the result line of worker n's blocked call. */
static void ended(int n, char *line)
{
	workers[n].blocked = 0;
	reports[nreports++] = (struct report){n, line};
}

/*
 * settle waits for every blocked call that the step just made has
 * ended, then prints the collected result lines sorted by worker.
 */
static void settle(void)
{
	long waiting = count_waiters();
	long want = nblocked() - waiting;
	long long deadline = now_usec() + REPORT_USEC;
	long got = 0;
	int i, j;

	if (want < 0)
		fail("%ld callers wait, but only %d workers are blocked", waiting, nblocked());
	for (;;) {
		struct pollfd fds[MAX_WORKERS];
		int nf = 0, idx[MAX_WORKERS];
		long long left;

		for (i = 0; i < MAX_WORKERS; i++) {
			struct worker *w = &workers[i];
			char *line;

			if (w->pid <= 0 || !w->blocked)
				continue;
			if ((line = take_line(w)) != NULL) {
				ended(i, line);
				got++;
				continue;
			}
			idx[nf] = i;
			fds[nf++] = (struct pollfd){w->rep_fd, POLLIN, 0};
		}
		left = deadline - now_usec();
		if (got > want)
			fail("%ld blocked calls ended, but the waiters dropped by %ld", got, want);
		if (got == want) {
			/* A look for calls that ended without leaving the count. */
			if (nf == 0)
				break;
			left = 0;
		} else if (left <= 0) {
			fail("%ld blocked calls should have ended, %ld did after %d s", want, got,
			     REPORT_USEC / 1000000);
		}
		wait_fds(fds, nf, left);
		for (j = 0; j < nf; j++)
			if (fds[j].revents)
				fill(&workers[idx[j]]);
		if (got == want) {
			for (j = 0; j < nf; j++) {
				char *line = take_line(&workers[idx[j]]);

				if (line)
					fail("worker %d reported \"%s\" but the waiters did not drop", idx[j], line);
			}
			break;
		}
	}
	qsort(reports, (size_t)nreports, sizeof *reports, cmp_report);
	for (i = 0; i < nreports; i++) {
		printf("  %s\n", reports[i].line);
		free(reports[i].line);
	}
	nreports = 0;
}

/* ---- the conductor: steps ----------------------------------------------- */

static int parse_worker(const char *s)
{
	long long n = parse_number(s, "worker");

	if (n < 0 || n >= MAX_WORKERS)
		die("bad worker %s (0 to %d)", s, MAX_WORKERS - 1);
	return (int)n;
}

/* proc_name formats the name of the process with pid as GETPID prints it. */
static void proc_name(char *buf, size_t n, long pid)
{
	int i;

	for (i = nhistory - 1; i >= 0; i--) {
		if (history[i].pid == pid) {
			if (history[i].gen == 0)
				snprintf(buf, n, "P%d", history[i].num);
			else
				snprintf(buf, n, "P%d.%d", history[i].num, history[i].gen);
			return;
		}
	}
	snprintf(buf, n, "P?");
}

/*
 * result_value returns a pointer to the return value in a worker's
 * result line for the call echo, or NULL.
 */
static char *result_value(char *line, const char *echo)
{
	size_t n = strlen(echo);

	if (strncmp(line, echo, n) != 0 || strncmp(line + n, " \xe2\x86\x92 ", 5) != 0)
		return NULL;
	return line + n + 5;
}

/* rename_pid rewrites a GETPID result line: the pid becomes a process name. */
static char *rename_pid(char *line, const char *echo, struct worker *w)
{
	char *v = result_value(line, echo), *end, name[64], *out;
	long pid;

	if (!v)
		fail("malformed result \"%s\"", line);
	end = strchr(v, ' ');
	if (!end)
		fail("malformed result \"%s\"", line);
	if (end - v == 1 && v[0] == 'P') {
		pid = w->pid; /* semexec prints the caller's own pid as P */
	} else {
		*end = '\0';
		pid = strtol(v, NULL, 10);
		*end = ' ';
		if (pid <= 0)
			return line;
	}
	proc_name(name, sizeof name, pid);
	out = xrealloc(NULL, strlen(line) + sizeof name);
	snprintf(out, strlen(line) + sizeof name, "%.*s%s%s", (int)(v - line), line, name, end);
	free(line);
	return out;
}

/*
 * short_timeout reports whether a semop's timeout word names a readable
 * timespec with tv_sec 0, which the conductor waits for to its end.
 */
static int short_timeout(const char *t)
{
	char a[64];
	const char *sep;
	long long sec;

	if (strncmp(t, "timeout=", 8) != 0)
		return 0;
	t += 8;
	if (strcmp(t, "none") == 0 || strcmp(t, "bad") == 0)
		return 0;
	/* tv_sec is parsed as do_semop parses it. */
	if ((sep = strchr(t, '/')) != NULL) {
		if ((size_t)(sep - t) >= sizeof a)
			return 0;
		memcpy(a, t, (size_t)(sep - t));
		a[sep - t] = '\0';
		if (parse_num(a, &sec) != 0)
			return 0;
	} else {
		if ((sep = strchr(t, '.')) == NULL || (size_t)(sep - t) >= sizeof a)
			return 0;
		memcpy(a, t, (size_t)(sep - t));
		a[sep - t] = '\0';
		if (parse_dec(a, &sec) != 0)
			return 0;
	}
	return sec == SHORT_TIMEOUT_SEC;
}

static void do_proc(const char *line)
{
	struct worker *w;
	const char *verb;
	char *call, *p, *result = NULL;
	size_t cl = 0;
	int n, i, is_semop, is_semctl, may_queue = 0, is_getpid = 0, now = 0;
	long long id = 0, deadline, delay = POLL_MIN_USEC;
	long before;

	if (ntok < 3)
		die("usage: p N CALL...");
	n = parse_worker(toks[1]);
	w = &workers[n];
	verb = toks[2];
	is_semop = strcmp(verb, "semop") == 0;
	is_semctl = strcmp(verb, "semctl") == 0;
	if (is_semop && ntok > 3 && strcmp(toks[ntok - 1], "now") == 0) {
		now = 1; /* in the echo, not in the call */
		ntok--;
	}
	if (!is_semop && !is_semctl && strcmp(verb, "semget") != 0 && strcmp(verb, "as") != 0 &&
	    strcmp(verb, "cycle") != 0)
		die("unknown call %s", verb);
	if ((is_semop || is_semctl) && ntok > 3)
		id = parse_ref(toks[3]);
	if (is_semop)
		may_queue = !(ntok == 6 && short_timeout(toks[5]));
	if (is_semctl && ntok > 5)
		is_getpid = (int)parse_expr(toks[5], "command") == GETPID;
	if (w->pid > 0 && w->blocked) {
		/* A semget not made still counts for $N, as a failed one. */
		if (strcmp(verb, "semget") == 0) {
			if (nsemget >= MAX_SEMGETS)
				die("too many semget calls");
			semget_ids[nsemget++] = -1;
		}
		printf("%s \xe2\x86\x92 busy\n", line);
		return;
	}

	/* The call without "p N", its id resolved. */
	for (i = 2; i < ntok; i++)
		cl += strlen(toks[i]) + 24;
	call = p = xrealloc(NULL, cl + 1);
	for (i = 2; i < ntok; i++) {
		if (i > 2)
			*p++ = ' ';
		if (i == 3 && (is_semop || is_semctl))
			p += sprintf(p, "%lld", id);
		else
			p += sprintf(p, "%s", toks[i]);
	}
	*p = '\0';

	if (w->pid <= 0)
		spawn(n);
	before = nblocked();
	send_call(w, line, call);
	free(call);
	deadline = now_usec() + REPORT_USEC;
	if (may_queue && (now || sync_state)) {
		long c = 0;

		result = wait_state(w, n, deadline);
		if (!result && !now) {
			/* One count: nothing changes while the worker sleeps. */
			c = count_waiters();
			if (c != before + 1)
				result = read_line(w, now_usec() + NOT_QUEUED_USEC);
		}
		if (!result) {
			w->blocked = 1;
			if (now || c == before + 1)
				printf("%s \xe2\x86\x92 blocks\n", line);
			else
				printf("%s \xe2\x86\x92 not queued: %ld waiters, %ld before\n", line, c, before);
			return;
		}
	}
	while (!result) {
		long long until = now_usec() + (may_queue ? delay : REPORT_USEC);

		result = read_line(w, until < deadline ? until : deadline);
		if (result)
			break;
		if (may_queue) {
			long c = count_waiters();

			/*
			 * One count reads the semaphores one after the other,
			 * so it may mix the state before the call with the
			 * state after it (a waiter the call retried may have
			 * moved from one semaphore or counter to another). The
			 * call changes the state at once, so of two counts in a
			 * row at most one mixes: when they agree, the value is
			 * true.
			 */
			if (c != before && c == count_waiters()) {
				if (c == before + 1) {
					w->blocked = 1;
					printf("%s \xe2\x86\x92 blocks\n", line);
					settle();
					return;
				}
				if (c > before + 1)
					fail("%ld callers wait, %ld were blocked before this call", c, before);
			}
		}
		if (now_usec() >= deadline)
			fail("no result from worker %d after %d s", n, REPORT_USEC / 1000000);
		delay = delay * 2 < POLL_MAX_USEC ? delay * 2 : POLL_MAX_USEC;
	}
	if (is_getpid)
		result = rename_pid(result, line, w);
	if (strcmp(verb, "semget") == 0) {
		char *v = result_value(result, line);

		if (!v)
			fail("malformed result \"%s\"", result);
		if (nsemget >= MAX_SEMGETS)
			die("too many semget calls");
		semget_ids[nsemget] = strtoll(v, NULL, 10);
		add_known(semget_ids[nsemget++]);
	}
	printf("%s\n", result);
	free(result);
	settle();
}

static void do_exit(const char *line)
{
	struct worker *w;
	int n, st = 0;

	if (ntok != 2)
		die("usage: exit N");
	n = parse_worker(toks[1]);
	w = &workers[n];
	if (w->pid <= 0) {
		printf("%s \xe2\x86\x92 none\n", line);
		return;
	}
	if (w->blocked) {
		printf("%s \xe2\x86\x92 busy\n", line);
		return;
	}
	send_call(w, line, "exit");
	while (waitpid(w->pid, &st, 0) < 0) {
		if (errno != EINTR)
			fail("waitpid: %s", strerror(errno));
	}
	w->pid = 0;
	close(w->cmd_fd);
	close(w->rep_fd);
	close_proc(w);
	if (WIFEXITED(st))
		printf("%s \xe2\x86\x92 status %d\n", line, WEXITSTATUS(st));
	else
		printf("%s \xe2\x86\x92 signal %d\n", line, WIFSIGNALED(st) ? WTERMSIG(st) : -1);
	settle();
}

static void do_signal(const char *line)
{
	struct worker *w;
	int n;

	if (ntok != 2)
		die("usage: signal N");
	n = parse_worker(toks[1]);
	w = &workers[n];
	if (w->pid <= 0) {
		printf("%s \xe2\x86\x92 none\n", line);
		return;
	}
	if (kill(w->pid, SIGUSR1) != 0)
		fail("kill: %s", strerror(errno));
	printf("%s\n", line);
	if (w->blocked) {
		char *r = read_line(w, now_usec() + REPORT_USEC);

		if (!r)
			fail("worker %d: no result %d s after the signal", n, REPORT_USEC / 1000000);
		ended(n, r);
	}
	settle();
}

/* do_sync sets how a semop that may queue is confirmed, from the next line on. */
static void do_sync(void)
{
	if (ntok != 2 || (strcmp(toks[1], "count") != 0 && strcmp(toks[1], "state") != 0))
		die("usage: sync count|state");
	sync_state = strcmp(toks[1], "state") == 0;
}

/* finish ends the waits left at the end of the script and the workers. */
static void finish(void)
{
	int i, nb = nblocked();

	lineno++;
	if (nb > 0) {
		printf("end \xe2\x86\x92 %d blocked\n", nb);
		for (i = 0; i < nknown; i++)
			syscall(SYS_semctl, known[i].id, 0, IPC_RMID, 0UL);
		settle();
	}
	for (i = 0; i < MAX_WORKERS; i++) {
		struct worker *w = &workers[i];

		if (w->pid <= 0)
			continue;
		close(w->cmd_fd);
		while (waitpid(w->pid, NULL, 0) < 0 && errno == EINTR)
			;
		w->pid = 0;
		close(w->rep_fd);
		close_proc(w);
	}
}

int main(void)
{
	char *raw = NULL, *line, *hash;
	size_t cap = 0;
	struct sigaction sa;

	setvbuf(stdout, NULL, _IOLBF, 0);
	conductor = getpid();
	/* Workers inherit the handler: SIGUSR1 sets a flag and, without
	 * SA_RESTART, ends a blocked semop with EINTR. */
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_alarm;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGUSR1, &sa, NULL) != 0) {
		perror("multiexec: sigaction");
		return 3;
	}
	signal(SIGPIPE, SIG_IGN);
	if (set_identity(0, 0, 0, NULL) != 0) {
		perror("multiexec: cannot become root/root with no groups");
		return 3;
	}
	toks = calloc(MAX_TOKENS, sizeof *toks);
	if (!toks)
		return 3;
	atexit(kill_workers);

	while (getline(&raw, &cap, stdin) >= 0) {
		lineno++;
		if ((hash = strchr(raw, '#')) != NULL)
			*hash = '\0';
		split_words(raw, " \t\r\n");
		if (ntok == 0)
			continue;
		line = join_words();

		if (strcmp(toks[0], "p") == 0)
			do_proc(line);
		else if (strcmp(toks[0], "exit") == 0)
			do_exit(line);
		else if (strcmp(toks[0], "signal") == 0)
			do_signal(line);
		else if (strcmp(toks[0], "sync") == 0)
			do_sync();
		else
			die("unknown call %s", toks[0]);
		free(line);
	}
	free(raw);
	finish();
	return 0;
}
