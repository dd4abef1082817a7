/*
 * waiters.h - named child processes that each perform one (possibly
 * multi-op) semop/semtimedop and report its result through a pipe.
 *
 * settle() waits until the system is quiescent: the number of waiters that
 * have not reported equals the sum of GETNCNT+GETZCNT over the set (Linux
 * >= 3.16 counts every sleeping task exactly once, on the semaphore of the
 * operation it blocks on). It never assumes which waiter should finish.
 */
#ifndef SEMBOX_IT_WAITERS_H
#define SEMBOX_IT_WAITERS_H
#include "common.h"

struct waiter {
    char  name[16];
    pid_t pid;
    int   fd;
    int   done;
    int   rc, err;
};

static struct waiter W[32];
static int nW;

struct wmsg { int rc, err; };

static __attribute__((unused)) int total_waiting(int id, int nsems) {
    int t = 0;
    for (int i = 0; i < nsems; i++) {
        int n = getncnt(id, i), z = getzcnt(id, i);
        if (n < 0 || z < 0)
            FATAL("GETNCNT/GETZCNT(%d,%d)", id, i);
        t += n + z;
    }
    return t;
}

static __attribute__((unused)) int blocked_waiters(void) {
    int b = 0;
    for (int i = 0; i < nW; i++)
        b += !W[i].done;
    return b;
}

/* Collect reports that are available within timeout_ms (0 = just poll). */
static __attribute__((unused)) void collect(int timeout_ms) {
    for (int i = 0; i < nW; i++) {
        if (W[i].done)
            continue;
        struct pollfd pf = { W[i].fd, POLLIN, 0 };
        if (poll(&pf, 1, timeout_ms) > 0) {
            struct wmsg m;
            if (!xread(W[i].fd, &m, sizeof m)) {
                W[i].rc = -999;
                W[i].err = 0;
            } else {
                W[i].rc = m.rc;
                W[i].err = m.err;
            }
            W[i].done = 1;
            close(W[i].fd);
            xwait(W[i].pid);
        }
    }
}

static __attribute__((unused)) void settle(int id, int nsems) {
    for (int ms = 0; ms < POLL_LIMIT_MS; ms++) {
        collect(0);
        if (blocked_waiters() == total_waiting(id, nsems))
            return;
        msleep(1);
    }
    printf("SETTLE TIMEOUT: unreported waiters=%d counted(ncnt+zcnt)=%d\n",
           blocked_waiters(), total_waiting(id, nsems));
}

/* Start a waiter performing sops (timeout: NULL = semop). */
static __attribute__((unused)) void start_waiter_t(const char *name, int id, int nsems, struct sembuf *sops, int nsops,
                           const struct timespec *timeout) {
    int p[2];
    xpipe(p);
    pid_t pid = xfork();
    if (pid == 0) {
        close(p[0]);
        struct wmsg m;
        m.rc = timeout ? semtimedop(id, sops, (size_t)nsops, timeout) : semop(id, sops, (size_t)nsops);
        m.err = m.rc < 0 ? errno : 0;
        xwrite(p[1], &m, sizeof m);
        _exit(0);
    }
    close(p[1]);
    struct waiter *w = &W[nW++];
    snprintf(w->name, sizeof w->name, "%s", name);
    w->pid = pid;
    w->fd = p[0];
    w->done = 0;
    settle(id, nsems);
}

static __attribute__((unused)) void start_waiter(const char *name, int id, int nsems, struct sembuf *sops, int nsops) {
    start_waiter_t(name, id, nsems, sops, nsops, NULL);
}

static __attribute__((unused)) void print_state(const char *label, int id, int nsems) {
    printf("%s: vals=[", label);
    for (int i = 0; i < nsems; i++)
        printf("%s%d", i ? "," : "", getval(id, i));
    printf("] ncnt=[");
    for (int i = 0; i < nsems; i++)
        printf("%s%d", i ? "," : "", getncnt(id, i));
    printf("] zcnt=[");
    for (int i = 0; i < nsems; i++)
        printf("%s%d", i ? "," : "", getzcnt(id, i));
    printf("]");
    for (int i = 0; i < nW; i++) {
        if (W[i].done)
            printf(" %s=done(%s)", W[i].name, res(W[i].rc, W[i].err));
        else
            printf(" %s=blocked", W[i].name);
    }
    printf("\n");
}

/* Forget finished waiters (call between scenarios). */
static __attribute__((unused)) void reset_waiters(void) {
    for (int i = 0; i < nW; i++)
        if (!W[i].done)
            FATAL("reset_waiters: %s still blocked", W[i].name);
    nW = 0;
}

#endif
