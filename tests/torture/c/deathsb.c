/*
 * deathsb: the sandbox side of the supervisor-death test (see deathobs.c).
 *
 * usage: deathsb DIR
 *
 * The root process creates set KDEATH (2 semaphores: 1 and 0) in the
 * sandbox and starts:
 *   g1: loops P/V with SEM_UNDO on semaphore 0 and counts;
 *   g2: blocks in P on semaphore 1 (nobody ever posts it);
 *   g3: two threads; the second loops on GETVAL and then sleeps; the main
 *       thread waits for an error, reports, and calls exit(0).
 * It writes DIR/NAME.pid for each, and DIR/ready once g1 has done 2000
 * rounds and g2 is parked; then loops on semop itself until it is killed.
 * After the first failing call each child probes what the sandbox can
 * still do (semget of the key, semget IPC_CREAT, GETVAL, semop, a no-op
 * setresuid, open, execve in a child) and writes DIR/NAME.txt, through a
 * file opened beforehand (open is trapped too) and renamed.
 */
#include "torture.h"

#define KDEATH 0x0DEAD

static char *dir;
static int semid;
struct shm { atomic_long g1_rounds; atomic_int g3_err; };
static struct shm *S;

static void write_file(const char *name, const char *text) {
    char path[4096], tmp[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return;
    ssize_t w = write(fd, text, strlen(text));
    (void)w;
    close(fd);
    rename(tmp, path);
}

/* The report file, opened while the supervisor is alive. */
static int report_fd = -1;
static void open_report(const char *name) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.txt.tmp", dir, name);
    report_fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (report_fd < 0)
        FATAL("open %s", path);
}

static void write_pid(const char *name) {
    char f[64], t[32];
    snprintf(f, sizeof f, "%s.pid", name);
    snprintf(t, sizeof t, "%d\n", (int)getpid());
    write_file(f, t);
}

#define R(x) ((x) < 0 ? en(errno) : "OK")

/* After the first failure: what can the sandbox still do? */
static void probe(const char *name, const char *first, long rounds) {
    char out[2048];
    int o = snprintf(out, sizeof out, "%s first_failure=%s rounds=%ld", name, first, rounds);
    int r = semget(KDEATH, 0, 0);
    o += snprintf(out + o, sizeof out - o, " semget_key=%s%s", R(r), r >= 0 ? "(HOST SET!)" : "");
    r = semget(IPC_PRIVATE, 1, IPC_CREAT | 0600);
    o += snprintf(out + o, sizeof out - o, " semget_create=%s", R(r));
    r = semctl(semid, 0, GETVAL);
    o += snprintf(out + o, sizeof out - o, " getval=%s", r >= 0 ? "OK" : en(errno));
    if (r >= 0)
        o += snprintf(out + o, sizeof out - o, "(%d)", r);
    struct sembuf V = { 0, 1, IPC_NOWAIT };
    r = semop(semid, &V, 1);
    o += snprintf(out + o, sizeof out - o, " semop=%s", R(r));
    r = (int)syscall(SYS_setresuid, -1, -1, -1);
    o += snprintf(out + o, sizeof out - o, " setresuid_noop=%s", R(r));
    int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    o += snprintf(out + o, sizeof out - o, " open=%s", R(fd));
    if (fd >= 0)
        close(fd);
    int pfd[2];
    if (pipe2(pfd, O_CLOEXEC) == 0) {
        pid_t c = fork();
        if (c == 0) {
            char *argv[] = { "true", NULL };
            execv("/bin/true", argv);
            int e = errno;
            ssize_t w = write(pfd[1], &e, sizeof e);
            (void)w;
            _exit(127);
        }
        close(pfd[1]);
        int e = 0;
        ssize_t n = read(pfd[0], &e, sizeof e);
        close(pfd[0]);
        int st = 0;
        if (c > 0)
            xwaitpid(c, &st, 0);
        o += snprintf(out + o, sizeof out - o, " execve=%s", n == (ssize_t)sizeof e ? en(e) : "OK");
    }
    snprintf(out + o, sizeof out - o, "\n");
    ssize_t w = write(report_fd, out, strlen(out));
    (void)w;
    close(report_fd);
    char from[4096], to[4096];
    snprintf(from, sizeof from, "%s/%s.txt.tmp", dir, name);
    snprintf(to, sizeof to, "%s/%s.txt", dir, name);
    rename(from, to);
}

static void *g3_looper(void *p) {
    (void)p;
    while (semctl(semid, 0, GETVAL) >= 0)
        sleep_ns(100000);
    atomic_store(&S->g3_err, errno);
    for (;;)
        sleep_ns(10000000); /* lives as long as the process does */
    return NULL;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: deathsb DIR\n");
        return 2;
    }
    dir = argv[1];
    setvbuf(stdout, NULL, _IOLBF, 0);
    alarm(60); /* a last resort: default action kills */
    S = shared_alloc(sizeof *S);
    semid = xsemget(KDEATH, 2, IPC_CREAT | IPC_EXCL | 0600);
    xsetval(semid, 0, 1);
    write_pid("root");
    open_report("root");

    pid_t g1 = fork();
    if (g1 == 0) {
        write_pid("g1");
        open_report("g1");
        struct sembuf P = { 0, -1, SEM_UNDO }, V = { 0, 1, SEM_UNDO };
        long n = 0;
        for (;;) {
            if (semop(semid, &P, 1) < 0 || semop(semid, &V, 1) < 0)
                break;
            atomic_store(&S->g1_rounds, ++n);
        }
        probe("g1", en(errno), n);
        exit(0);
    }
    pid_t g2 = fork();
    if (g2 == 0) {
        write_pid("g2");
        open_report("g2");
        struct sembuf P = { 1, -1, 0 };
        int r = semop(semid, &P, 1);
        probe("g2", r < 0 ? en(errno) : "RETURNED-0", 0);
        exit(0);
    }
    pid_t g3 = fork();
    if (g3 == 0) {
        write_pid("g3");
        open_report("g3");
        pthread_t th;
        pthread_create(&th, NULL, g3_looper, NULL);
        while (atomic_load(&S->g3_err) == 0)
            sleep_ns(100000);
        char first[32];
        snprintf(first, sizeof first, "%s", en(atomic_load(&S->g3_err)));
        probe("g3", first, 0);
        exit(0); /* ends both threads, if exit_group works */
    }
    if (g1 < 0 || g2 < 0 || g3 < 0)
        FATAL("fork");
    long long t0 = now_ns();
    while (atomic_load(&S->g1_rounds) < 2000 || semctl(semid, 1, GETNCNT) != 1) {
        if (now_ns() - t0 > 20000000000LL)
            FATAL("not ready after 20 s: rounds=%ld ncnt=%d", atomic_load(&S->g1_rounds), semctl(semid, 1, GETNCNT));
        msleep(1);
    }
    write_file("ready", "ready\n");
    struct sembuf P = { 0, -1, SEM_UNDO }, V = { 0, 1, SEM_UNDO };
    for (;;) {
        if (semop(semid, &P, 1) < 0 || semop(semid, &V, 1) < 0) {
            /* The root should be dead (PR_SET_PDEATHSIG) before it sees this. */
            probe("root", en(errno), 0);
            exit(0);
        }
    }
}
