/*
 * common.h - helpers shared by the differential integration programs.
 *
 * Every program prints deterministic lines on stdout only from the main
 * (parent) process; children report through pipes and exit with _exit().
 * Pids and times are never printed, only relations between them.
 * A watchdog (alarm) makes a stuck program print "WATCHDOG" and exit 99
 * after killing the children it forked, so nothing hangs forever.
 */
#ifndef SEMBOX_IT_COMMON_H
#define SEMBOX_IT_COMMON_H

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
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

#define WATCHDOG_SECONDS 25
#define CHILD_ALARM      30
#define POLL_LIMIT_MS    5000

static pid_t it_children[256];
static int   it_nchildren;

static __attribute__((unused)) const char *en(int e) {
    static char buf[32];
    switch (e) {
    case 0:       return "OK";
    case EPERM:   return "EPERM";
    case ENOENT:  return "ENOENT";
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
    case ESRCH:   return "ESRCH";
    case ECHILD:  return "ECHILD";
    default:
        snprintf(buf, sizeof buf, "errno%d", e);
        return buf;
    }
}

/* "rc=R err=NAME" for a call that returned rc with errno e. */
static __attribute__((unused)) const char *res(int rc, int e) {
    static char buf[64];
    snprintf(buf, sizeof buf, "rc=%d err=%s", rc, rc < 0 ? en(e) : "OK");
    return buf;
}

static __attribute__((unused)) void it_kill_children(void) {
    for (int i = 0; i < it_nchildren; i++)
        if (it_children[i] > 0)
            kill(it_children[i], SIGKILL);
}

static __attribute__((unused)) void it_watchdog(int sig) {
    (void)sig;
    static const char msg[] = "WATCHDOG: program timed out\n";
    ssize_t r = write(1, msg, sizeof msg - 1);
    (void)r;
    it_kill_children();
    _exit(99);
}

#define FATAL(...) do { \
    int fatal_errno_ = errno; \
    printf("FATAL(line %d): ", __LINE__); printf(__VA_ARGS__); \
    printf(" errno=%s\n", en(fatal_errno_)); fflush(stdout); \
    it_kill_children(); _exit(98); \
} while (0)

static __attribute__((unused)) void it_setup(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGALRM, it_watchdog);
    alarm(WATCHDOG_SECONDS);
}

/* fork(); the child gets a plain SIGALRM death timer and an empty registry. */
static __attribute__((unused)) pid_t xfork(void) {
    fflush(stdout);
    fflush(stderr);
    pid_t p = fork();
    if (p < 0)
        FATAL("fork");
    if (p == 0) {
        it_nchildren = 0;
        signal(SIGALRM, SIG_DFL);
        alarm(CHILD_ALARM);
        return 0;
    }
    if (it_nchildren < (int)(sizeof it_children / sizeof it_children[0]))
        it_children[it_nchildren++] = p;
    return p;
}

static __attribute__((unused)) void it_forget(pid_t p) {
    for (int i = 0; i < it_nchildren; i++)
        if (it_children[i] == p)
            it_children[i] = 0;
}

/* waitpid that retries EINTR; returns the status, FATAL on error. */
static __attribute__((unused)) int xwait(pid_t p) {
    int st, r;
    do {
        r = waitpid(p, &st, 0);
    } while (r < 0 && errno == EINTR);
    if (r < 0)
        FATAL("waitpid");
    it_forget(p);
    return st;
}

/* "exit=N" / "signal=N" */
static __attribute__((unused)) const char *wstr(int st) {
    static char buf[32];
    if (WIFEXITED(st))
        snprintf(buf, sizeof buf, "exit=%d", WEXITSTATUS(st));
    else if (WIFSIGNALED(st))
        snprintf(buf, sizeof buf, "signal=%d", WTERMSIG(st));
    else
        snprintf(buf, sizeof buf, "status=0x%x", st);
    return buf;
}

static __attribute__((unused)) int xsemget(key_t key, int nsems, int flg) {
    int id = semget(key, nsems, flg);
    if (id < 0)
        FATAL("semget(key=%d,nsems=%d,flg=0%o)", (int)key, nsems, flg);
    return id;
}

static __attribute__((unused)) int sctl(int id, int num, int cmd) {
    return semctl(id, num, cmd);
}

static __attribute__((unused)) int getval(int id, int num)  { return semctl(id, num, GETVAL); }
static __attribute__((unused)) int getncnt(int id, int num) { return semctl(id, num, GETNCNT); }
static __attribute__((unused)) int getzcnt(int id, int num) { return semctl(id, num, GETZCNT); }

static __attribute__((unused)) void xsetval(int id, int num, int val) {
    union semun a = { .val = val };
    if (semctl(id, num, SETVAL, a) < 0)
        FATAL("SETVAL(%d,%d,%d)", id, num, val);
}

static __attribute__((unused)) void xrmid(int id) {
    if (semctl(id, 0, IPC_RMID) < 0)
        FATAL("IPC_RMID(%d)", id);
}

static __attribute__((unused)) void msleep(int ms) {
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

static __attribute__((unused)) long long now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Poll semctl(id, num, cmd) (GETNCNT/GETZCNT/GETVAL) until it equals want. */
static __attribute__((unused)) void wait_ctl(int id, int num, int cmd, int want, const char *what) {
    for (int i = 0; i < POLL_LIMIT_MS; i++) {
        int v = semctl(id, num, cmd);
        if (v == want)
            return;
        if (v < 0)
            FATAL("wait_ctl %s: semctl", what);
        msleep(1);
    }
    FATAL("wait_ctl %s: still %d, want %d after %d ms", what,
          semctl(id, num, cmd), want, POLL_LIMIT_MS);
}

static __attribute__((unused)) void wait_ncnt(int id, int num, int want) { wait_ctl(id, num, GETNCNT, want, "GETNCNT"); }
static __attribute__((unused)) void wait_zcnt(int id, int num, int want) { wait_ctl(id, num, GETZCNT, want, "GETZCNT"); }

static __attribute__((unused)) void xpipe(int p[2]) {
    if (pipe2(p, O_CLOEXEC) < 0)
        FATAL("pipe");
}

static __attribute__((unused)) void xwrite(int fd, const void *b, size_t n) {
    if (write(fd, b, n) != (ssize_t)n)
        _exit(97);
}

/* Read exactly n bytes (retrying EINTR); returns 0 on EOF before n. */
static __attribute__((unused)) int xread(int fd, void *b, size_t n) {
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, (char *)b + got, n - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            FATAL("read");
        if (r == 0)
            return 0;
        got += (size_t)r;
    }
    return 1;
}

static __attribute__((unused)) struct sembuf sb(unsigned short num, short op, short flg) {
    struct sembuf s = { num, op, flg };
    return s;
}

#endif
