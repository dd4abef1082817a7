/*
 * semexec: the native executor of semscript.
 *
 * It reads a semscript (see ../doc.go for the language) on stdin, runs every
 * call against the host kernel with raw syscall(2) (SYS_semget,
 * SYS_semtimedop, SYS_semctl, so that no libc wrapper translates anything)
 * and prints one line per call:
 *
 *     <call> → <ret> <errno name or OK>[ <values>]
 *
 * The Go executor (package semscript) prints exactly the same format for the
 * engine, so the two outputs can be compared line by line. Run it in a fresh
 * IPC namespace (unshare --ipc) as root.
 *
 * A semop still blocked after WATCHDOG_USEC is interrupted by SIGALRM and
 * fails with EINTR, so a script can never hang.
 *
 * Exit status: 0 after the last line, 2 for a script error (message on
 * stderr), 3 if the process cannot take the identity root/root.
 *
 * Build: gcc -O2 -Wall -Werror -o semexec semexec.c
 */
#define _GNU_SOURCE
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>
#include <linux/sem.h>
#include <linux/time_types.h>

_Static_assert(sizeof(struct sembuf) == 6, "sembuf");
_Static_assert(sizeof(struct semid64_ds) == 104, "semid64_ds");
_Static_assert(sizeof(struct seminfo) == 40, "seminfo");

#define MAX_SEMGETS 100000 /* semget calls a script may make */
#define MAX_SOPS 65536     /* operations in one semop call */
#define MAX_TOKENS 70000   /* words on one line */
#define MAX_GROUPS 64      /* supplementary groups of "as" */
#define ARRAY_LEN 65536    /* ushorts in the GETALL/SETALL buffer */
#define SENTINEL 0xffff    /* no semaphore value (<= SEMVMX) looks like it */
#define WATCHDOG_USEC 500000 /* a blocked semop is interrupted after this */
#define BAD_ADDR 8UL         /* "bad": below mmap_min_addr, never mapped */

static int lineno;
static long long semget_ids[MAX_SEMGETS];
static int nsemget;
static pid_t self;

static void die(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "semexec: line %d: ", lineno);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

/* ---- numbers, names and references ------------------------------------ */

/*
 * parse_num parses [+-]? (0[xX]hex | 0 octal | decimal) into an int64 and
 * fails unless the whole string is consumed.
 */
static int parse_num(const char *s, long long *out)
{
	int neg = 0, base = 10;
	unsigned long long v = 0, lim;

	if (*s == '+' || *s == '-')
		neg = *s++ == '-';
	if (*s == '\0')
		return -1;
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
		if (*s == '\0')
			return -1;
	} else if (s[0] == '0') {
		base = 8;
	}
	lim = neg ? (1ULL << 63) : (1ULL << 63) - 1;
	for (; *s; s++) {
		int d;

		if (*s >= '0' && *s <= '9')
			d = *s - '0';
		else if (*s >= 'a' && *s <= 'f')
			d = *s - 'a' + 10;
		else if (*s >= 'A' && *s <= 'F')
			d = *s - 'A' + 10;
		else
			return -1;
		if (d >= base)
			return -1;
		if (v > (lim - (unsigned long long)d) / (unsigned long long)base)
			return -1;
		v = v * base + d;
	}
	*out = neg ? (long long)(0 - v) : (long long)v;
	return 0;
}

/* parse_dec parses [+-]?[0-9]+ (decimal only, leading zeros allowed). */
static int parse_dec(const char *s, long long *out)
{
	int neg = 0;
	unsigned long long v = 0, lim;

	if (*s == '+' || *s == '-')
		neg = *s++ == '-';
	if (*s == '\0')
		return -1;
	lim = neg ? (1ULL << 63) : (1ULL << 63) - 1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		if (v > (lim - (unsigned long long)(*s - '0')) / 10)
			return -1;
		v = v * 10 + (unsigned long long)(*s - '0');
	}
	*out = neg ? (long long)(0 - v) : (long long)v;
	return 0;
}

static const struct {
	const char *name;
	long long val;
} names[] = {
	{"IPC_PRIVATE", IPC_PRIVATE},
	{"IPC_CREAT", IPC_CREAT},
	{"IPC_EXCL", IPC_EXCL},
	{"IPC_NOWAIT", IPC_NOWAIT},
	{"SEM_UNDO", SEM_UNDO},
	{"IPC_64", 0x0100},
	{"IPC_RMID", IPC_RMID},
	{"IPC_SET", IPC_SET},
	{"IPC_STAT", IPC_STAT},
	{"IPC_INFO", IPC_INFO},
	{"GETPID", GETPID},
	{"GETVAL", GETVAL},
	{"GETALL", GETALL},
	{"GETNCNT", GETNCNT},
	{"GETZCNT", GETZCNT},
	{"SETVAL", SETVAL},
	{"SETALL", SETALL},
	{"SEM_STAT", SEM_STAT},
	{"SEM_INFO", SEM_INFO},
	{"SEM_STAT_ANY", SEM_STAT_ANY},
};

/* parse_expr parses TERM('|'TERM)* where TERM is a number or a name. */
static long long parse_expr(const char *s, const char *what)
{
	long long acc = 0;
	char buf[256];
	char *tok, *save = NULL;

	if (strlen(s) >= sizeof buf || *s == '\0')
		die("bad %s %s", what, s);
	strcpy(buf, s);
	if (buf[0] == '|' || buf[strlen(buf) - 1] == '|' || strstr(buf, "||"))
		die("bad %s %s", what, s);
	for (tok = strtok_r(buf, "|", &save); tok; tok = strtok_r(NULL, "|", &save)) {
		long long v;
		size_t i;
		int found = 0;

		for (i = 0; i < sizeof names / sizeof names[0]; i++) {
			if (strcmp(tok, names[i].name) == 0) {
				v = names[i].val;
				found = 1;
				break;
			}
		}
		if (!found && parse_num(tok, &v) != 0)
			die("bad %s %s", what, s);
		acc |= v;
	}
	return acc;
}

static long long parse_number(const char *s, const char *what)
{
	long long v;

	if (parse_num(s, &v) != 0)
		die("bad %s %s", what, s);
	return v;
}

/*
 * parse_ref evaluates an id reference: a number, or $N / @N (the id /
 * index of semget call N; N < 0 counts back from the last one) with an
 * optional +K or -K.
 */
static long long parse_ref(const char *s)
{
	long long n, base, k = 0;
	const char *p;
	char buf[64];
	size_t len;

	if (s[0] != '$' && s[0] != '@')
		return parse_number(s, "id");
	p = s + 1;
	len = (*p == '-') ? 1 : 0;
	while (p[len] >= '0' && p[len] <= '9')
		len++;
	if (len == 0 || len >= sizeof buf || (len == 1 && *p == '-'))
		die("bad id %s", s);
	memcpy(buf, p, len);
	buf[len] = '\0';
	if (parse_dec(buf, &n) != 0)
		die("bad id %s", s);
	if (n < 0)
		n += nsemget;
	if (n < 0 || n >= nsemget)
		die("id %s names no earlier semget", s);
	p += len;
	if (*p != '\0') {
		if (*p != '+' && *p != '-')
			die("bad id %s", s);
		if (parse_num(p, &k) != 0)
			die("bad id %s", s);
	}
	base = semget_ids[n];
	if (s[0] == '@')
		base &= 0x7fff;
	return base + k;
}

/* ---- output ------------------------------------------------------------ */

static const struct {
	int num;
	const char *name;
} errnames[] = {
	{EPERM, "EPERM"},   {ENOENT, "ENOENT"}, {ESRCH, "ESRCH"},
	{EINTR, "EINTR"},   {EIO, "EIO"},       {E2BIG, "E2BIG"},
	{EBADF, "EBADF"},   {EAGAIN, "EAGAIN"}, {ENOMEM, "ENOMEM"},
	{EACCES, "EACCES"}, {EFAULT, "EFAULT"}, {EBUSY, "EBUSY"},
	{EEXIST, "EEXIST"}, {EINVAL, "EINVAL"}, {ENOSPC, "ENOSPC"},
	{EFBIG, "EFBIG"},   {ERANGE, "ERANGE"}, {ENOSYS, "ENOSYS"},
	{EIDRM, "EIDRM"},   {EOVERFLOW, "EOVERFLOW"},
};

/*
 * print_result prints one output line. A GETPID result equal to the
 * executor's own pid (which differs from run to run) is printed as P.
 */
static void print_result(const char *line, long ret, int err, const char *extra, int is_getpid)
{
	char ebuf[32], rbuf[32];
	const char *ename = "OK";
	size_t i;

	if (ret == -1) {
		snprintf(ebuf, sizeof ebuf, "E%d", err);
		ename = ebuf;
		for (i = 0; i < sizeof errnames / sizeof errnames[0]; i++)
			if (errnames[i].num == err)
				ename = errnames[i].name;
	}
	if (is_getpid && ret == (long)self)
		snprintf(rbuf, sizeof rbuf, "P");
	else
		snprintf(rbuf, sizeof rbuf, "%ld", ret);
	printf("%s \xe2\x86\x92 %s %s%s%s\n", line, rbuf, ename, extra && *extra ? " " : "",
	       extra ? extra : "");
}

static void format_mode(char *buf, size_t n, unsigned int mode)
{
	if (mode == 0)
		snprintf(buf, n, "0");
	else
		snprintf(buf, n, "0%o", mode);
}

/* ---- calls ------------------------------------------------------------- */

static char **toks;
static int ntok;

static void do_semget(const char *line)
{
	long long key, nsems, flg;
	long r;

	if (ntok != 4)
		die("usage: semget KEY NSEMS FLAGS");
	key = parse_expr(toks[1], "key");
	nsems = parse_number(toks[2], "nsems");
	flg = parse_expr(toks[3], "flags");
	if (nsemget >= MAX_SEMGETS)
		die("too many semget calls");
	r = syscall(SYS_semget, (int)key, (int)nsems, (int)flg);
	semget_ids[nsemget++] = r;
	print_result(line, r, r == -1 ? errno : 0, NULL, 0);
}

static volatile sig_atomic_t alarmed;

static void on_alarm(int sig)
{
	(void)sig;
	alarmed = 1;
}

static struct sembuf sops[MAX_SOPS];

static void do_semop(const char *line)
{
	long long id;
	size_t nsops = 0;
	struct sembuf *ops = sops;
	struct __kernel_timespec ts, *tp = NULL;
	struct itimerval it;
	long r;
	int err;

	if (ntok != 3 && ntok != 4)
		die("usage: semop ID OPS [timeout=...]");
	id = parse_ref(toks[1]);
	if (toks[2][0] == '!') {
		long long n = parse_number(toks[2] + 1, "nsops");

		if (n < 0 || n > 0xffffffffLL)
			die("bad nsops %s", toks[2]);
		nsops = (size_t)n;
		ops = (struct sembuf *)BAD_ADDR;
	} else if (strcmp(toks[2], "-") != 0) {
		char *buf = strdup(toks[2]), *op, *save = NULL;

		if (!buf)
			die("out of memory");
		if (buf[0] == ',' || buf[strlen(buf) - 1] == ',' || strstr(buf, ",,"))
			die("bad operations %s", toks[2]);
		for (op = strtok_r(buf, ",", &save); op; op = strtok_r(NULL, ",", &save)) {
			char *c1 = strchr(op, ':'), *c2, *star;
			long long num, sop, flg, count = 1, i;

			if (!c1 || !(c2 = strchr(c1 + 1, ':')))
				die("bad operation %s", op);
			*c1 = *c2 = '\0';
			star = strchr(c2 + 1, '*');
			if (star) {
				*star = '\0';
				count = parse_number(star + 1, "count");
				if (count < 1)
					die("bad count %lld", count);
			}
			num = parse_number(op, "sem_num");
			sop = parse_number(c1 + 1, "sem_op");
			flg = parse_expr(c2 + 1, "sem_flg");
			if (count > (long long)(MAX_SOPS - nsops))
				die("too many operations");
			for (i = 0; i < count; i++) {
				sops[nsops].sem_num = (unsigned short)num;
				sops[nsops].sem_op = (short)sop;
				sops[nsops].sem_flg = (short)flg;
				nsops++;
			}
		}
		free(buf);
	}
	if (ntok == 4) {
		const char *t = toks[3], *sep;
		char a[64], b[64];
		long long sec, nsec;

		if (strncmp(t, "timeout=", 8) != 0)
			die("bad timeout %s", t);
		t += 8;
		if (strcmp(t, "none") == 0) {
			tp = NULL;
		} else if (strcmp(t, "bad") == 0) {
			tp = (struct __kernel_timespec *)BAD_ADDR;
		} else if ((sep = strchr(t, '/')) != NULL) {
			if ((size_t)(sep - t) >= sizeof a || strlen(sep + 1) >= sizeof b)
				die("bad timeout %s", toks[3]);
			memcpy(a, t, sep - t);
			a[sep - t] = '\0';
			strcpy(b, sep + 1);
			sec = parse_number(a, "tv_sec");
			nsec = parse_number(b, "tv_nsec");
			ts.tv_sec = sec;
			ts.tv_nsec = nsec;
			tp = &ts;
		} else {
			size_t flen = 0;

			sep = strchr(t, '.');
			if (!sep || (size_t)(sep - t) >= sizeof a)
				die("bad timeout %s", toks[3]);
			memcpy(a, t, sep - t);
			a[sep - t] = '\0';
			if (parse_dec(a, &sec) != 0)
				die("bad timeout %s", toks[3]);
			nsec = 0;
			for (sep++; *sep; sep++, flen++) {
				if (*sep < '0' || *sep > '9' || flen >= 9)
					die("bad timeout %s", toks[3]);
				nsec = nsec * 10 + (*sep - '0');
			}
			if (flen == 0)
				die("bad timeout %s", toks[3]);
			for (; flen < 9; flen++)
				nsec *= 10;
			/* "-1.5" is tv_sec -1, tv_nsec 500000000 */
			ts.tv_sec = sec;
			ts.tv_nsec = nsec;
			tp = &ts;
		}
	}

	/* A call that would block for long is interrupted by SIGALRM. */
	memset(&it, 0, sizeof it);
	it.it_value.tv_usec = WATCHDOG_USEC;
	alarmed = 0;
	if (setitimer(ITIMER_REAL, &it, NULL) != 0)
		die("setitimer: %s", strerror(errno));
	r = syscall(SYS_semtimedop, (int)id, ops, (unsigned int)nsops, tp);
	err = r == -1 ? errno : 0;
	memset(&it, 0, sizeof it);
	setitimer(ITIMER_REAL, &it, NULL);
	print_result(line, r, err, NULL, 0);
}

static unsigned short array[ARRAY_LEN];
static char extra[8 * ARRAY_LEN + 256]; /* values of one output line */

static void do_semctl(const char *line)
{
	long long id, semnum, cmd;
	unsigned long arg;
	union {
		struct semid64_ds ds;
		struct seminfo info;
		char pad[4096];
	} buf;
	long r;
	int err, i, cmd_is_bad = 0;

	if (ntok < 4)
		die("usage: semctl ID SEMNUM CMD [ARG...]");
	id = parse_ref(toks[1]);
	semnum = parse_number(toks[2], "semnum");
	cmd = parse_expr(toks[3], "command");
	memset(&buf, 0, sizeof buf);
	arg = (unsigned long)&buf;
	if (ntok == 5 && strcmp(toks[4], "bad") == 0 && (int)cmd != SETVAL) {
		/* An unreadable, unwritable argument pointer. */
		arg = BAD_ADDR;
		cmd_is_bad = 1;
	}
	switch (cmd_is_bad ? INT_MIN : (int)cmd) {
	case INT_MIN:
		break;
	case SETVAL:
		if (ntok != 5)
			die("usage: semctl ID SEMNUM SETVAL VALUE");
		arg = (unsigned long)parse_number(toks[4], "value");
		break;
	case SETALL:
		if (ntok - 4 > ARRAY_LEN)
			die("too many values");
		memset(array, 0, sizeof array);
		for (i = 4; i < ntok; i++)
			array[i - 4] = (unsigned short)parse_number(toks[i], "value");
		arg = (unsigned long)array;
		break;
	case GETALL:
		if (ntok != 4)
			die("GETALL takes no argument");
		for (i = 0; i < ARRAY_LEN; i++)
			array[i] = SENTINEL;
		arg = (unsigned long)array;
		break;
	case IPC_SET:
		if (ntok != 7)
			die("usage: semctl ID SEMNUM IPC_SET UID GID MODE");
		buf.ds.sem_perm.uid = (unsigned int)parse_number(toks[4], "uid");
		buf.ds.sem_perm.gid = (unsigned int)parse_number(toks[5], "gid");
		buf.ds.sem_perm.mode = (unsigned int)parse_number(toks[6], "mode");
		break;
	default:
		if (ntok != 4)
			die("this command takes no argument");
	}

	r = syscall(SYS_semctl, (int)id, (int)semnum, (int)cmd, arg);
	err = r == -1 ? errno : 0;
	extra[0] = '\0';
	if (r != -1 && !cmd_is_bad) {
		switch ((int)cmd) {
		case IPC_STAT:
		case SEM_STAT:
		case SEM_STAT_ANY: {
			char mode[32];
			struct semid64_ds *d = &buf.ds;

			format_mode(mode, sizeof mode, d->sem_perm.mode);
			snprintf(extra, sizeof extra,
				 "key=%d uid=%u gid=%u cuid=%u cgid=%u mode=%s seq=%u nsems=%lu otime=%s ctime=%s",
				 d->sem_perm.key, d->sem_perm.uid, d->sem_perm.gid, d->sem_perm.cuid,
				 d->sem_perm.cgid, mode, d->sem_perm.seq, (unsigned long)d->sem_nsems,
				 d->sem_otime ? "T" : "0", d->sem_ctime ? "T" : "0");
			break;
		}
		case IPC_INFO:
		case SEM_INFO: {
			struct seminfo *s = &buf.info;

			snprintf(extra, sizeof extra,
				 "semmap=%d semmni=%d semmns=%d semmnu=%d semmsl=%d semopm=%d semume=%d semusz=%d semvmx=%d semaem=%d",
				 s->semmap, s->semmni, s->semmns, s->semmnu, s->semmsl, s->semopm,
				 s->semume, s->semusz, s->semvmx, s->semaem);
			break;
		}
		case GETALL: {
			size_t off = 0;
			int n = 0;

			while (n < ARRAY_LEN && array[n] != SENTINEL)
				n++;
			off += snprintf(extra + off, sizeof extra - off, "vals=");
			for (i = 0; i < n;) {
				int j = i;

				while (j < n && array[j] == array[i])
					j++;
				off += snprintf(extra + off, sizeof extra - off, "%s%u", i ? "," : "", array[i]);
				if (j - i > 1)
					off += snprintf(extra + off, sizeof extra - off, "*%d", j - i);
				i = j;
			}
			break;
		}
		}
	}
	print_result(line, r, err, extra, (int)cmd == GETPID);
}

/*
 * do_cycle creates a private set of one semaphore (mode 0600) and removes
 * it, N times, and prints the id of the last set, or the first failure.
 */
static void do_cycle(const char *line)
{
	long long n, i;
	long r = -1;

	if (ntok != 2)
		die("usage: cycle N");
	n = parse_number(toks[1], "count");
	if (n < 1)
		die("bad count %lld", n);
	for (i = 0; i < n; i++) {
		r = syscall(SYS_semget, IPC_PRIVATE, 1, 0600);
		if (r == -1 || syscall(SYS_semctl, (int)r, 0, IPC_RMID, 0UL) == -1) {
			print_result(line, -1, errno, NULL, 0);
			return;
		}
	}
	print_result(line, r, 0, NULL, 0);
}

/* set_identity switches the effective ids and groups (as root). */
static int set_identity(uid_t euid, gid_t egid, int ngroups, const gid_t *groups)
{
	if (geteuid() != 0 && seteuid(0) != 0)
		return -1;
	if (setgroups(ngroups, groups) != 0)
		return -1;
	if (setegid(egid) != 0)
		return -1;
	if (seteuid(euid) != 0)
		return -1;
	return 0;
}

static void do_as(const char *line)
{
	gid_t groups[MAX_GROUPS];
	long long euid, egid, g;
	int i, n = 0;

	if (ntok < 3 || ntok - 3 > MAX_GROUPS)
		die("usage: as EUID EGID [GROUP...]");
	euid = parse_number(toks[1], "euid");
	egid = parse_number(toks[2], "egid");
	if (euid < 0 || euid >= 0xffffffffLL || egid < 0 || egid >= 0xffffffffLL)
		die("bad identity");
	for (i = 3; i < ntok; i++) {
		g = parse_number(toks[i], "group");
		if (g < 0 || g >= 0xffffffffLL)
			die("bad group %s", toks[i]);
		groups[n++] = (gid_t)g;
	}
	if (set_identity((uid_t)euid, (gid_t)egid, n, groups) != 0)
		print_result(line, -1, errno, NULL, 0);
	else
		print_result(line, 0, 0, NULL, 0);
}

/* split_words splits s in place into toks/ntok at any of the characters
 * in seps. */
static void split_words(char *s, const char *seps)
{
	char *save = NULL, *tok;

	ntok = 0;
	for (tok = strtok_r(s, seps, &save); tok; tok = strtok_r(NULL, seps, &save)) {
		if (ntok >= MAX_TOKENS)
			die("line too long");
		toks[ntok++] = tok;
	}
}

/* join_words returns toks joined by single spaces (the echo of a line),
 * in memory the caller frees. */
static char *join_words(void)
{
	size_t jl = 0;
	char *joined, *p;

	for (int i = 0; i < ntok; i++)
		jl += strlen(toks[i]) + 1;
	joined = malloc(jl + 1);
	if (!joined)
		die("out of memory");
	p = joined;
	for (int i = 0; i < ntok; i++) {
		size_t l = strlen(toks[i]);

		if (i)
			*p++ = ' ';
		memcpy(p, toks[i], l);
		p += l;
	}
	*p = '\0';
	return joined;
}

/* run_call makes the call in toks/ntok, printing line as its echo. */
static void run_call(const char *line)
{
	if (strcmp(toks[0], "semget") == 0)
		do_semget(line);
	else if (strcmp(toks[0], "semop") == 0)
		do_semop(line);
	else if (strcmp(toks[0], "semctl") == 0)
		do_semctl(line);
	else if (strcmp(toks[0], "as") == 0)
		do_as(line);
	else if (strcmp(toks[0], "cycle") == 0)
		do_cycle(line);
	else
		die("unknown call %s", toks[0]);
}

int main(void)
{
	char *raw = NULL, *line, *hash;
	size_t cap = 0;
	ssize_t len;
	struct sigaction sa;

	setvbuf(stdout, NULL, _IOLBF, 0);
	self = getpid();
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_alarm; /* no SA_RESTART: the call fails with EINTR */
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGALRM, &sa, NULL) != 0) {
		perror("semexec: sigaction");
		return 3;
	}
	if (set_identity(0, 0, 0, NULL) != 0) {
		perror("semexec: cannot become root/root with no groups");
		return 3;
	}
	toks = calloc(MAX_TOKENS, sizeof *toks);
	if (!toks)
		return 3;

	while ((len = getline(&raw, &cap, stdin)) >= 0) {
		lineno++;
		(void)len;
		if ((hash = strchr(raw, '#')) != NULL)
			*hash = '\0';
		split_words(raw, " \t\r\n");
		if (ntok == 0)
			continue;
		line = join_words();
		run_call(line);
		free(line);
	}
	free(raw);
	free(toks);
	return 0;
}
