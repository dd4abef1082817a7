/*
 * threads: semaphore calls from several threads of one process.
 *  1 four threads block in P one at a time; V one at a time wakes them FIFO
 *  2 pthread_kill of one blocked thread (handler, no SA_RESTART): only that
 *    thread gets EINTR, the others stay blocked
 *  3 a thread's semtimedop is released by another thread of the process
 *  4 a process exits (exit_group) while two of its threads are blocked:
 *    they are no longer counted once it has been reaped
 *  5 execve while another thread is blocked: the new image no longer sees
 *    the old thread waiting
 */
#include "common.h"

static int id;
static int pfd[2];
static volatile sig_atomic_t handled;
static void handler(int s) { (void)s; handled++; }

struct targ { int idx; int num; int op; int rc, err; long timeout_ms; };

static void *blocker(void *p) {
    struct targ *a = p;
    struct sembuf s = sb((unsigned short)a->num, (short)a->op, 0);
    if (a->timeout_ms) {
        struct timespec ts = { a->timeout_ms / 1000, (a->timeout_ms % 1000) * 1000000L };
        a->rc = semtimedop(id, &s, 1, &ts);
    } else {
        a->rc = semop(id, &s, 1);
    }
    a->err = a->rc < 0 ? errno : 0;
    xwrite(pfd[1], &a->idx, sizeof a->idx);
    return NULL;
}

static void V(int num, int n) {
    struct sembuf s = sb((unsigned short)num, (short)n, 0);
    if (semop(id, &s, 1) < 0)
        FATAL("V");
}

int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "after-exec") == 0) {
        int sid = atoi(argv[2]);
        printf("5: new image: ncnt=%d val=%d\n", getncnt(sid, 0), getval(sid, 0));
        return 0;
    }
    it_setup();
    id = xsemget(IPC_PRIVATE, 2, 0600);
    printf("semid=%d\n", id);
    xpipe(pfd);

    /* 1 */
    {
        pthread_t t[4];
        struct targ a[4];
        for (int i = 0; i < 4; i++) {
            a[i] = (struct targ){ i, 0, -1, 0, 0, 0 };
            pthread_create(&t[i], NULL, blocker, &a[i]);
            wait_ncnt(id, 0, i + 1);
        }
        printf("1: blocked ncnt=%d\n", getncnt(id, 0));
        printf("1: wake order:");
        for (int i = 0; i < 4; i++) {
            V(0, 1);
            int idx;
            xread(pfd[0], &idx, sizeof idx);
            printf(" %d", idx);
        }
        printf("\n");
        for (int i = 0; i < 4; i++)
            pthread_join(t[i], NULL);
        printf("1: rcs=%d,%d,%d,%d ncnt=%d val=%d\n", a[0].rc, a[1].rc, a[2].rc, a[3].rc, getncnt(id, 0),
               getval(id, 0));
    }
    /* 2 */
    {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = handler;
        sigaction(SIGUSR1, &sa, NULL);
        pthread_t t[3];
        struct targ a[3];
        for (int i = 0; i < 3; i++) {
            a[i] = (struct targ){ i, 0, -1, 0, 0, 0 };
            pthread_create(&t[i], NULL, blocker, &a[i]);
            wait_ncnt(id, 0, i + 1);
        }
        pthread_kill(t[1], SIGUSR1);
        int idx;
        xread(pfd[0], &idx, sizeof idx);
        pthread_join(t[1], NULL);
        printf("2: signalled thread 1: first to return=%d %s handled=%d ncnt=%d\n", idx, res(a[1].rc, a[1].err),
               (int)handled, getncnt(id, 0));
        V(0, 2);
        int i1, i2;
        xread(pfd[0], &i1, sizeof i1);
        xread(pfd[0], &i2, sizeof i2);
        pthread_join(t[0], NULL);
        pthread_join(t[2], NULL);
        printf("2: others: %s / %s ncnt=%d val=%d\n", res(a[0].rc, a[0].err), res(a[2].rc, a[2].err),
               getncnt(id, 0), getval(id, 0));
    }
    /* 3 */
    {
        pthread_t t;
        struct targ a = { 7, 1, -1, 0, 0, 5000 };
        long long t0 = now_ns();
        pthread_create(&t, NULL, blocker, &a);
        wait_ncnt(id, 1, 1);
        V(1, 1);
        int idx;
        xread(pfd[0], &idx, sizeof idx);
        pthread_join(t, NULL);
        printf("3: semtimedop released by sibling: %s fast=%d ncnt=%d\n", res(a.rc, a.err),
               (now_ns() - t0) < 4000000000LL, getncnt(id, 1));
    }
    /* 4 */
    {
        pid_t c = xfork();
        if (c == 0) {
            pthread_t t1, t2;
            struct targ a1 = { 0, 0, -1, 0, 0, 0 }, a2 = { 1, 1, 0, 0, 0, 0 };
            xsetval(id, 1, 1);
            pthread_create(&t1, NULL, blocker, &a1);
            pthread_create(&t2, NULL, blocker, &a2);
            wait_ncnt(id, 0, 1);
            wait_zcnt(id, 1, 1);
            _exit(5);
        }
        int st = xwait(c);
        int n0 = getncnt(id, 0), z0 = getzcnt(id, 1);
        int n = n0, z = z0;
        for (int i = 0; i < 1000 && (n || z); i++) {
            msleep(1);
            n = getncnt(id, 0);
            z = getzcnt(id, 1);
        }
        printf("4: process with 2 blocked threads %s: right_after_waitpid ncnt=%d zcnt=%d, within_1s ncnt=%d zcnt=%d\n",
               wstr(st), n0, z0, n, z);
        xsetval(id, 1, 0);
    }
    /* 5 */
    {
        pid_t c = xfork();
        if (c == 0) {
            pthread_t t;
            struct targ a = { 0, 0, -1, 0, 0, 0 };
            pthread_create(&t, NULL, blocker, &a);
            wait_ncnt(id, 0, 1);
            char ids[16];
            snprintf(ids, sizeof ids, "%d", id);
            execl("/proc/self/exe", argv[0], "after-exec", ids, (char *)NULL);
            _exit(3);
        }
        int st = xwait(c);
        printf("5: child %s ncnt=%d\n", wstr(st), getncnt(id, 0));
    }
    printf("rmid rc=%d\n", semctl(id, 0, IPC_RMID));
    return 0;
}
