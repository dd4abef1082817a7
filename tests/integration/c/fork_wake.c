/*
 * fork_wake: N forked children block on P one at a time (the parent waits
 * for GETNCNT == i+1 before forking the next), then the parent releases
 * them; the woken children report their index through a pipe.
 *
 * Round 1: one V at a time -> strict FIFO wake order.
 * Round 2: V by 2 twice -> the first two, then the last two.
 * Round 3: one V by N wakes all of them.
 */
#include "common.h"

#define N 4

struct msg { int idx; int rc; int err; };

static pid_t start(int id, int idx, int wfd) {
    pid_t p = xfork();
    if (p == 0) {
        struct sembuf op = sb(0, -1, 0);
        struct msg m = { idx, 0, 0 };
        m.rc = semop(id, &op, 1);
        m.err = m.rc < 0 ? errno : 0;
        xwrite(wfd, &m, sizeof m);
        _exit(m.rc == 0 ? 0 : 1);
    }
    return p;
}

static void V(int id, int n) {
    struct sembuf op = sb(0, (short)n, 0);
    if (semop(id, &op, 1) < 0)
        FATAL("V");
}

static int cmp_int(const void *a, const void *b) {
    return *(const int *)a - *(const int *)b;
}

int main(void) {
    it_setup();
    int id = xsemget(IPC_PRIVATE, 1, IPC_CREAT | 0600);
    printf("semid=%d val=%d ncnt=%d zcnt=%d\n", id, getval(id, 0), getncnt(id, 0), getzcnt(id, 0));

    for (int round = 1; round <= 3; round++) {
        int p[2];
        pid_t pids[N];
        xpipe(p);
        for (int i = 0; i < N; i++) {
            pids[i] = start(id, i, p[1]);
            wait_ncnt(id, 0, i + 1);
        }
        close(p[1]);
        printf("round %d: blocked ncnt=%d zcnt=%d val=%d\n", round, getncnt(id, 0), getzcnt(id, 0), getval(id, 0));

        int step = round == 1 ? 1 : round == 2 ? 2 : N;
        for (int done = 0; done < N; done += step) {
            V(id, step);
            int idx[N];
            for (int k = 0; k < step; k++) {
                struct msg m;
                if (!xread(p[0], &m, sizeof m))
                    FATAL("EOF from children");
                idx[k] = m.idx;
                if (m.rc != 0)
                    printf("round %d: child %d semop %s\n", round, m.idx, res(m.rc, m.err));
            }
            qsort(idx, (size_t)step, sizeof idx[0], cmp_int);
            printf("round %d: V(+%d) woke", round, step);
            for (int k = 0; k < step; k++)
                printf(" %d", idx[k]);
            printf(" -> val=%d ncnt=%d\n", getval(id, 0), getncnt(id, 0));
        }
        for (int i = 0; i < N; i++) {
            int st = xwait(pids[i]);
            printf("round %d: child %d %s\n", round, i, wstr(st));
        }
        close(p[0]);
    }

    /* Over-release: nothing waits, the value just accumulates. */
    V(id, 3);
    printf("final val=%d ncnt=%d zcnt=%d\n", getval(id, 0), getncnt(id, 0), getzcnt(id, 0));
    printf("rmid rc=%d\n", semctl(id, 0, IPC_RMID));
    return 0;
}
