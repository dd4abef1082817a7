/*
 * torture.h - helpers shared by the torture programs.
 *
 * Conventions (the Go driver in ../torture_test.go relies on them):
 *   - counts and measurements are printed as "key=value" lines on stdout;
 *   - a broken invariant is printed as a line starting "ANOMALY:" and makes
 *     the program exit 1 at the end (or at once, through FATAL);
 *   - a problem of the test itself (a failed fork, a timeout of the
 *     harness) is printed as "FATAL(" and exits 98;
 *   - a watchdog (alarm) prints "WATCHDOG" and exits 99 after SIGKILLing
 *     the process group, so that nothing hangs forever.
 * Shared state lives in a MAP_SHARED|MAP_ANONYMOUS mapping made before the
 * first fork.
 */
#ifndef SEMBOX_TORTURE_H
#define SEMBOX_TORTURE_H

#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/sem.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

union semun {
    int              val;
    struct semid_ds *buf;
    unsigned short  *array;
    struct seminfo  *__buf;
};

#define UNUSED __attribute__((unused))

static UNUSED const char *en(int e) {
    static __thread char buf[32];
    switch (e) {
    case 0:       return "OK";
    case EPERM:   return "EPERM";
    case ENOENT:  return "ENOENT";
    case ESRCH:   return "ESRCH";
    case EINTR:   return "EINTR";
    case E2BIG:   return "E2BIG";
    case EAGAIN:  return "EAGAIN";
    case ENOMEM:  return "ENOMEM";
    case EACCES:  return "EACCES";
    case EFAULT:  return "EFAULT";
    case EEXIST:  return "EEXIST";
    case EINVAL:  return "EINVAL";
    case ENOSPC:  return "ENOSPC";
    case EFBIG:   return "EFBIG";
    case ERANGE:  return "ERANGE";
    case ENOSYS:  return "ENOSYS";
    case EIDRM:   return "EIDRM";
    case ECHILD:  return "ECHILD";
    default:
        snprintf(buf, sizeof buf, "errno%d", e);
        return buf;
    }
}

static atomic_int t_anomalies_local;
static atomic_int *t_anomalies_shared; /* set by t_setup: seen by every process */

/* Print an anomaly; the program will exit 1. */
#define ANOMALY(...) do { \
    char anom_buf_[512]; \
    snprintf(anom_buf_, sizeof anom_buf_, __VA_ARGS__); \
    fprintf(stdout, "ANOMALY: %s\n", anom_buf_); fflush(stdout); \
    atomic_fetch_add(&t_anomalies_local, 1); \
    if (t_anomalies_shared) atomic_fetch_add(t_anomalies_shared, 1); \
} while (0)

#define FATAL(...) do { \
    int fatal_errno_ = errno; \
    printf("FATAL(line %d): ", __LINE__); printf(__VA_ARGS__); \
    printf(" errno=%s\n", en(fatal_errno_)); fflush(stdout); \
    kill(0, SIGKILL); _exit(98); \
} while (0)

static UNUSED void t_watchdog(int sig) {
    (void)sig;
    static const char msg[] = "WATCHDOG: program timed out\n";
    ssize_t r = write(1, msg, sizeof msg - 1);
    (void)r;
    signal(SIGTERM, SIG_IGN);
    kill(0, SIGKILL); /* our own process group: the driver gave us one */
    _exit(99);
}

/* Line-buffered stdout, a shared anomaly counter and a watchdog of secs
 * seconds. */
static UNUSED void t_setup(int secs) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p != MAP_FAILED)
        t_anomalies_shared = p;
    signal(SIGALRM, t_watchdog);
    alarm(secs);
}

static UNUSED long long now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static UNUSED void sleep_ns(long long ns) {
    struct timespec ts = { ns / 1000000000LL, ns % 1000000000LL };
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

static UNUSED void msleep(int ms) { sleep_ns((long long)ms * 1000000LL); }

/* Busy-wait ns nanoseconds (a holder "works" without leaving the CPU). */
static UNUSED void spin_ns(long long ns) {
    long long end = now_ns() + ns;
    while (now_ns() < end)
        ;
}

/* xorshift64*: deterministic, per-process. */
static UNUSED uint64_t rnd_next(uint64_t *s) {
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1DULL;
}

static UNUSED uint64_t rnd_below(uint64_t *s, uint64_t n) { return n ? rnd_next(s) % n : 0; }

static UNUSED void *shared_alloc(size_t n) {
    void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        FATAL("mmap shared %zu", n);
    memset(p, 0, n);
    return p;
}

static UNUSED int xsemget(key_t key, int nsems, int flg) {
    int id = semget(key, nsems, flg);
    if (id < 0)
        FATAL("semget(key=%d,nsems=%d,flg=0%o)", (int)key, nsems, flg);
    return id;
}

static UNUSED void xsetval(int id, int num, int val) {
    union semun a = { .val = val };
    if (semctl(id, num, SETVAL, a) < 0)
        FATAL("SETVAL(%d,%d,%d)", id, num, val);
}

static UNUSED int getval(int id, int num) { return semctl(id, num, GETVAL); }

/* waitpid that retries EINTR. */
static UNUSED pid_t xwaitpid(pid_t p, int *st, int flags) {
    pid_t r;
    do {
        r = waitpid(p, st, flags);
    } while (r < 0 && errno == EINTR);
    return r;
}

static UNUSED void set_handler(int sig, void (*h)(int), int flags) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = h;
    sa.sa_flags = flags;
    sigemptyset(&sa.sa_mask);
    if (sigaction(sig, &sa, NULL) < 0)
        FATAL("sigaction(%d)", sig);
}

static int cmp_ll(const void *a, const void *b) {
    long long x = *(const long long *)a, y = *(const long long *)b;
    return (x > y) - (x < y);
}

/* Print "<name>_n= _p50_us= _p90_us= _p99_us= _max_us=" for v[0..n). Sorts v. */
static UNUSED void print_dist(const char *name, long long *v, int n) {
    if (n <= 0) {
        printf("%s_n=0\n", name);
        return;
    }
    qsort(v, (size_t)n, sizeof v[0], cmp_ll);
#define PCT(p) (v[(int)((double)(n - 1) * (p) / 100.0 + 0.5)])
    printf("%s_n=%d %s_min_us=%.1f %s_p50_us=%.1f %s_p90_us=%.1f %s_p99_us=%.1f %s_max_us=%.1f\n",
           name, n, name, v[0] / 1e3, name, PCT(50) / 1e3, name, PCT(90) / 1e3,
           name, PCT(99) / 1e3, name, v[n - 1] / 1e3);
#undef PCT
}

/* The VmRSS (kB) of a process, or -1. */
static UNUSED long vmrss_kb(pid_t pid) {
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    long kb = -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld", &kb) == 1)
            break;
    fclose(f);
    return kb;
}

/* Print one line per thread of pid: state, wchan, current syscall. */
static UNUSED void dump_task(const char *label, pid_t pid) {
    char path[128], buf[512];
    snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
    DIR *d = opendir(path);
    if (!d) {
        printf("%s: pid %d: no /proc entry\n", label, (int)pid);
        return;
    }
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        char state[600] = "?", wchan[64] = "?", sc[128] = "?", sig[256] = "";
        int tid = atoi(de->d_name);
        FILE *f;
        snprintf(path, sizeof path, "/proc/%d/task/%d/status", (int)pid, tid);
        if ((f = fopen(path, "r"))) {
            while (fgets(buf, sizeof buf, f)) {
                buf[strcspn(buf, "\n")] = 0;
                if (!strncmp(buf, "State:", 6))
                    snprintf(state, sizeof state, "%s", buf + 7);
                if (!strncmp(buf, "SigPnd:", 7) || !strncmp(buf, "ShdPnd:", 7) || !strncmp(buf, "SigBlk:", 7)) {
                    strncat(sig, buf, sizeof sig - strlen(sig) - 2);
                    strcat(sig, " ");
                }
            }
            fclose(f);
        }
        snprintf(path, sizeof path, "/proc/%d/task/%d/wchan", (int)pid, tid);
        if ((f = fopen(path, "r"))) {
            if (fgets(wchan, sizeof wchan, f) == NULL)
                wchan[0] = 0;
            fclose(f);
        }
        snprintf(path, sizeof path, "/proc/%d/task/%d/syscall", (int)pid, tid);
        if ((f = fopen(path, "r"))) {
            if (fgets(sc, sizeof sc, f) == NULL)
                sc[0] = 0;
            sc[strcspn(sc, "\n")] = 0;
            fclose(f);
        }
        printf("%s: pid %d tid %d state=[%s] wchan=%s syscall=[%s] %s\n", label, (int)pid, tid,
               state, wchan, sc, sig);
    }
    closedir(d);
}

/* Exit status of a torture program: 1 if any anomaly was printed. */
static UNUSED int t_exit_code(void) {
    if (atomic_load(&t_anomalies_local))
        return 1;
    return t_anomalies_shared && atomic_load(t_anomalies_shared) ? 1 : 0;
}

#endif
