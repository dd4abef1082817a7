/*
 * timeout: semtimedop timeouts.
 *  - 100 ms on a semaphore nobody releases -> EAGAIN after >= 100 ms
 *  - 5 s timeout released early by a child's V -> 0, well before 5 s
 *  - invalid timespecs -> EINVAL (checked before the operation, even one
 *    that could complete at once)
 *  - {0,0} -> EAGAIN if it would block, 0 if it can complete
 *  - IPC_NOWAIT with a timeout -> EAGAIN at once
 *  - bad timeout pointer -> EFAULT; NULL timeout behaves like semop
 */
#include "common.h"

static long long elapsed_ms(long long t0) { return (now_ns() - t0) / 1000000LL; }

static void timed(const char *label, int id, struct sembuf *op, const struct timespec *ts) {
    long long t0 = now_ns();
    int rc = semtimedop(id, op, 1, ts);
    int e = errno;
    long long ms = elapsed_ms(t0);
    printf("%s: %s elapsed<1000ms=%d val=%d ncnt=%d\n", label, res(rc, e), ms < 1000,
           getval(id, 0), getncnt(id, 0));
}

int main(void) {
    it_setup();
    int id = xsemget(IPC_PRIVATE, 1, 0600);
    printf("semid=%d\n", id);
    struct sembuf P = sb(0, -1, 0);

    /* 1. plain timeout */
    {
        struct timespec ts = { 0, 100 * 1000000L };
        long long t0 = now_ns();
        int rc = semtimedop(id, &P, 1, &ts);
        int e = errno;
        long long ms = elapsed_ms(t0);
        printf("timeout100ms: %s elapsed>=100ms=%d elapsed<2000ms=%d val=%d ncnt=%d\n",
               res(rc, e), ms >= 100, ms < 2000, getval(id, 0), getncnt(id, 0));
    }
    /* 1b. a wait-for-zero that times out */
    {
        xsetval(id, 0, 1);
        struct sembuf Z = sb(0, 0, 0);
        struct timespec ts = { 0, 60 * 1000000L };
        long long t0 = now_ns();
        int rc = semtimedop(id, &Z, 1, &ts);
        int e = errno;
        long long ms = elapsed_ms(t0);
        printf("zero_timeout60ms: %s elapsed>=60ms=%d elapsed<2000ms=%d val=%d zcnt=%d\n",
               res(rc, e), ms >= 60, ms < 2000, getval(id, 0), getzcnt(id, 0));
        xsetval(id, 0, 0);
    }
    /* 2. woken early by a child's V */
    {
        pid_t c = xfork();
        if (c == 0) {
            wait_ncnt(id, 0, 1);
            msleep(20);
            struct sembuf V = sb(0, 1, 0);
            _exit(semop(id, &V, 1) == 0 ? 0 : 1);
        }
        struct timespec ts = { 5, 0 };
        long long t0 = now_ns();
        int rc = semtimedop(id, &P, 1, &ts);
        int e = errno;
        long long ms = elapsed_ms(t0);
        int st = xwait(c);
        printf("early_wake: %s elapsed>=20ms=%d elapsed<4000ms=%d val=%d ncnt=%d child %s\n",
               res(rc, e), ms >= 20, ms < 4000, getval(id, 0), getncnt(id, 0), wstr(st));
    }
    /* 3. invalid timespecs, on a blocking and on a non-blocking operation */
    {
        struct timespec bad[] = { { 0, 1000000000L }, { -1, 0 }, { 0, -1 }, { -5, 500 } };
        const char *names[] = { "nsec=1e9", "sec=-1", "nsec=-1", "sec=-5,nsec=500" };
        for (int i = 0; i < 4; i++) {
            char label[64];
            xsetval(id, 0, 0);
            snprintf(label, sizeof label, "invalid %s blocking", names[i]);
            timed(label, id, &P, &bad[i]);
            xsetval(id, 0, 1);
            snprintf(label, sizeof label, "invalid %s nonblocking", names[i]);
            timed(label, id, &P, &bad[i]);
        }
        xsetval(id, 0, 0);
    }
    /* 4. zero timeout */
    {
        struct timespec zero = { 0, 0 };
        timed("zero_timeout blocking", id, &P, &zero);
        xsetval(id, 0, 1);
        timed("zero_timeout nonblocking", id, &P, &zero);
        struct timespec big = { 999999999, 999999999 };
        xsetval(id, 0, 1);
        timed("huge_timeout nonblocking", id, &P, &big);
    }
    /* 5. IPC_NOWAIT with a long timeout */
    {
        struct sembuf Pn = sb(0, -1, IPC_NOWAIT);
        struct timespec ts = { 5, 0 };
        timed("nowait+timeout5s", id, &Pn, &ts);
    }
    /* 6. bad pointers */
    {
        timed("timeout=(void*)8", id, &P, (const struct timespec *)8);
        xsetval(id, 0, 1);
        timed("timeout=(void*)8 nonblocking", id, &P, (const struct timespec *)8);
        long long t0 = now_ns();
        int rc = semtimedop(id, (struct sembuf *)8, 1, NULL);
        int e = errno;
        printf("sops=(void*)8: %s elapsed<1000ms=%d val=%d\n", res(rc, e), elapsed_ms(t0) < 1000, getval(id, 0));
        /* NULL timeout + value available behaves like semop */
        xsetval(id, 0, 1);
        timed("timeout=NULL nonblocking", id, &P, NULL);
    }
    /* 7. timeout of a multi-op that blocks on its second op leaves nothing applied */
    {
        int id2 = xsemget(IPC_PRIVATE, 2, 0600);
        xsetval(id2, 0, 3);
        struct sembuf ops[] = { sb(0, -1, 0), sb(1, -1, 0) };
        struct timespec ts = { 0, 30 * 1000000L };
        int rc = semtimedop(id2, ops, 2, &ts);
        int e = errno;
        printf("multiop_timeout semid=%d: %s vals=[%d,%d] ncnt=[%d,%d]\n", id2, res(rc, e),
               getval(id2, 0), getval(id2, 1), getncnt(id2, 0), getncnt(id2, 1));
        xrmid(id2);
    }
    printf("rmid rc=%d\n", semctl(id, 0, IPC_RMID));
    return 0;
}
