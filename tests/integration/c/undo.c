/*
 * undo: SEM_UNDO adjustments.
 *  a  child P with SEM_UNDO, exits normally -> restored by the time waitpid returns
 *  a2 adjustments accumulate over several operations
 *  b  child killed by SIGKILL while holding -> restored (polled up to 1 s)
 *  c  two threads of one process share the undo list: a thread's exit does
 *     not undo, the process exit undoes both threads' operations
 *  d  the undo list survives execve
 *  e  the undo list is not inherited by fork
 *  f  SETVAL clears the adjustment of that semaphore; f2 SETALL clears all;
 *     f3 SETVAL of another semaphore does not
 *  g  the adjusted value is clamped to 0 at exit; g2 clamped to SEMVMX
 *  h  the undo at exit wakes a waiter
 *  i  an adjustment beyond SEMAEM -> ERANGE
 *  j  one process with adjustments on two sets
 *  k  clone(CLONE_SYSVSEM): two processes share one undo list; the
 *     adjustment is applied when the last of them exits
 *  l  unshare(CLONE_SYSVSEM) detaches the undo list and applies it at once
 */
#include "common.h"

static int report_fd = -1;

static void report(int v) { xwrite(report_fd, &v, sizeof v); }

static int get_report(int fd) {
    int v;
    if (!xread(fd, &v, sizeof v))
        FATAL("no report");
    return v;
}

static int semop1(int id, int num, int op, int flg) {
    struct sembuf s = sb((unsigned short)num, (short)op, (short)flg);
    return semop(id, &s, 1);
}

/* Poll up to ms milliseconds for GETVAL == want; returns the last value. */
static int poll_val(int id, int num, int want, int ms) {
    int v = getval(id, num);
    for (int i = 0; i < ms && v != want; i++) {
        msleep(1);
        v = getval(id, num);
    }
    return v;
}

static void *thr_p(void *arg) {
    int *a = arg;
    a[2] = semop1(a[0], a[1], -1, SEM_UNDO);
    return NULL;
}

int main(int argc, char **argv) {
    if (argc == 4 && strcmp(argv[1], "exec-child") == 0) {
        /* d: after execve; report the value and exit (the undo is pending) */
        report_fd = atoi(argv[2]);
        int id = atoi(argv[3]);
        report(getval(id, 0));
        _exit(0);
    }
    it_setup();
    int p[2], ctl[2];

    /* a */
    {
        int id = xsemget(IPC_PRIVATE, 1, 0600);
        xsetval(id, 0, 1);
        xpipe(p); xpipe(ctl);
        pid_t c = xfork();
        if (c == 0) {
            report_fd = p[1];
            report(semop1(id, 0, -1, SEM_UNDO));
            char x;
            xread(ctl[0], &x, 1);
            _exit(0);
        }
        int rc = get_report(p[0]);
        printf("a semid=%d: child P rc=%d val_while_held=%d\n", id, rc, getval(id, 0));
        xwrite(ctl[1], "x", 1);
        int st = xwait(c);
        printf("a: child %s val_after_waitpid=%d\n", wstr(st), getval(id, 0));
        close(p[0]); close(p[1]); close(ctl[0]); close(ctl[1]);
        xrmid(id);
    }
    /* a2 */
    {
        int id = xsemget(IPC_PRIVATE, 1, 0600);
        xsetval(id, 0, 5);
        pid_t c = xfork();
        if (c == 0) {
            int r = semop1(id, 0, -2, SEM_UNDO) | semop1(id, 0, -2, SEM_UNDO) | semop1(id, 0, 1, SEM_UNDO) |
                    semop1(id, 0, -1, 0);
            _exit(r == 0 ? 0 : 1);
        }
        int st = xwait(c);
        printf("a2 semid=%d: child %s val_after_waitpid=%d (5 -2 -2 +1 undo, -1 no undo)\n", id, wstr(st),
               getval(id, 0));
        xrmid(id);
    }
    /* b */
    {
        int id = xsemget(IPC_PRIVATE, 1, 0600);
        xsetval(id, 0, 1);
        xpipe(p);
        pid_t c = xfork();
        if (c == 0) {
            report_fd = p[1];
            report(semop1(id, 0, -1, SEM_UNDO));
            for (;;)
                pause();
        }
        int rc = get_report(p[0]);
        printf("b semid=%d: child P rc=%d val_while_held=%d\n", id, rc, getval(id, 0));
        kill(c, SIGKILL);
        int st = xwait(c);
        printf("b: child %s val_within_1s=%d\n", wstr(st), poll_val(id, 0, 1, 1000));
        close(p[0]); close(p[1]);
        xrmid(id);
    }
    /* c */
    {
        int id = xsemget(IPC_PRIVATE, 2, 0600);
        xsetval(id, 0, 2);
        xsetval(id, 1, 1);
        xpipe(p);
        pid_t c = xfork();
        if (c == 0) {
            report_fd = p[1];
            int a[3] = { id, 0, -5 };
            pthread_t t;
            pthread_create(&t, NULL, thr_p, a);
            pthread_join(t, NULL);
            report(a[2]);
            report(getval(id, 0));
            int b[3] = { id, 0, -5 };
            pthread_create(&t, NULL, thr_p, b);
            pthread_join(t, NULL);
            report(b[2]);
            report(getval(id, 0));
            report(semop1(id, 1, -1, SEM_UNDO));
            report(getval(id, 1));
            _exit(0);
        }
        int ra = get_report(p[0]), va = get_report(p[0]);
        int rb = get_report(p[0]), vb = get_report(p[0]);
        int rm = get_report(p[0]), vm = get_report(p[0]);
        printf("c semid=%d: threadA P rc=%d s0_after_threadA_exit=%d threadB P rc=%d s0_after_threadB_exit=%d "
               "main P(s1) rc=%d s1=%d\n", id, ra, va, rb, vb, rm, vm);
        int st = xwait(c);
        printf("c: child %s vals_after_waitpid=[%d,%d]\n", wstr(st), getval(id, 0), getval(id, 1));
        close(p[0]); close(p[1]);
        xrmid(id);
    }
    /* d */
    {
        int id = xsemget(IPC_PRIVATE, 1, 0600);
        xsetval(id, 0, 1);
        if (pipe(p) < 0) /* no O_CLOEXEC: the exec'd image reports through it */
            FATAL("pipe");
        pid_t c = xfork();
        if (c == 0) {
            close(p[0]);
            if (semop1(id, 0, -1, SEM_UNDO) < 0)
                _exit(2);
            char fd[16], ids[16];
            snprintf(fd, sizeof fd, "%d", p[1]);
            snprintf(ids, sizeof ids, "%d", id);
            execl("/proc/self/exe", argv[0], "exec-child", fd, ids, (char *)NULL);
            _exit(3);
        }
        close(p[1]);
        int v = get_report(p[0]);
        int st = xwait(c);
        printf("d semid=%d: val_after_execve=%d child %s val_after_waitpid=%d\n", id, v, wstr(st), getval(id, 0));
        close(p[0]);
        xrmid(id);
    }
    /* e */
    {
        int id = xsemget(IPC_PRIVATE, 1, 0600);
        xsetval(id, 0, 1);
        int rc = semop1(id, 0, -1, SEM_UNDO);
        pid_t c = xfork();
        if (c == 0)
            _exit(0);
        int st = xwait(c);
        printf("e semid=%d: parent P(undo) rc=%d child %s val_after_child_exit=%d", id, rc, wstr(st),
               poll_val(id, 0, -1, 100));
        /* a grandchild of a forked child: still nothing is undone */
        c = xfork();
        if (c == 0) {
            int rc2 = semop1(id, 0, 1, 0); /* V without undo: 0 -> 1 */
            _exit(rc2 == 0 ? 0 : 1);
        }
        st = xwait(c);
        printf(" child2 V %s val=%d\n", wstr(st), poll_val(id, 0, -1, 100));
        xrmid(id);
    }
    /* f, f2, f3 */
    for (int variant = 1; variant <= 3; variant++) {
        int id = xsemget(IPC_PRIVATE, 2, 0600);
        xsetval(id, 0, 1);
        xsetval(id, 1, 1);
        xpipe(p); xpipe(ctl);
        pid_t c = xfork();
        if (c == 0) {
            report_fd = p[1];
            report(semop1(id, 0, -1, SEM_UNDO) | semop1(id, 1, -1, SEM_UNDO));
            char x;
            xread(ctl[0], &x, 1);
            _exit(0);
        }
        int rc = get_report(p[0]);
        const char *what;
        if (variant == 1) {
            what = "SETVAL(s0=5)";
            xsetval(id, 0, 5);
        } else if (variant == 2) {
            what = "SETALL([7,8])";
            unsigned short v[2] = { 7, 8 };
            if (semctl(id, 0, SETALL, (union semun){ .array = v }) < 0)
                FATAL("SETALL");
        } else {
            what = "SETVAL(s1=3)";
            xsetval(id, 1, 3);
        }
        xwrite(ctl[1], "x", 1);
        int st = xwait(c);
        int v0 = getval(id, 0), v1 = getval(id, 1);
        msleep(200);
        printf("f%d semid=%d: child P(s0,s1 undo) rc=%d, parent %s, child %s vals_after_waitpid=[%d,%d] "
               "vals_200ms_later=[%d,%d]\n", variant, id, rc, what, wstr(st), v0, v1, getval(id, 0), getval(id, 1));
        close(p[0]); close(p[1]); close(ctl[0]); close(ctl[1]);
        xrmid(id);
    }
    /* g, g2 */
    for (int variant = 1; variant <= 2; variant++) {
        int id = xsemget(IPC_PRIVATE, 1, 0600);
        xsetval(id, 0, variant == 1 ? 0 : 32767);
        xpipe(p); xpipe(ctl);
        pid_t c = xfork();
        if (c == 0) {
            report_fd = p[1];
            report(variant == 1 ? semop1(id, 0, 3, SEM_UNDO) : semop1(id, 0, -1, SEM_UNDO));
            char x;
            xread(ctl[0], &x, 1);
            _exit(0);
        }
        int rc = get_report(p[0]);
        int v_held = getval(id, 0);
        int rc2 = variant == 1 ? semop1(id, 0, -2, 0) : semop1(id, 0, 1, 0);
        int v_mid = getval(id, 0);
        xwrite(ctl[1], "x", 1);
        int st = xwait(c);
        printf("g%d semid=%d: child %s(undo) rc=%d val=%d, parent %s rc=%d val=%d, child %s val_after_waitpid=%d\n",
               variant, id, variant == 1 ? "V+3" : "P-1", rc, v_held, variant == 1 ? "P-2" : "V+1", rc2, v_mid,
               wstr(st), getval(id, 0));
        close(p[0]); close(p[1]); close(ctl[0]); close(ctl[1]);
        xrmid(id);
    }
    /* h */
    {
        int id = xsemget(IPC_PRIVATE, 1, 0600);
        xsetval(id, 0, 1);
        int wp[2];
        xpipe(p); xpipe(ctl); xpipe(wp);
        pid_t h = xfork();
        if (h == 0) {
            report_fd = p[1];
            report(semop1(id, 0, -1, SEM_UNDO));
            char x;
            xread(ctl[0], &x, 1);
            _exit(0);
        }
        int rc = get_report(p[0]);
        pid_t w = xfork();
        if (w == 0) {
            report_fd = wp[1];
            int r = semop1(id, 0, -1, 0);
            report(r == 0 ? 0 : errno);
            _exit(0);
        }
        wait_ncnt(id, 0, 1);
        printf("h semid=%d: holder P(undo) rc=%d waiter blocked ncnt=%d\n", id, rc, getncnt(id, 0));
        xwrite(ctl[1], "x", 1);
        int st = xwait(h);
        struct pollfd pf = { wp[0], POLLIN, 0 };
        int got = poll(&pf, 1, 2000) > 0;
        int werr = got ? get_report(wp[0]) : -1;
        int wst = got ? xwait(w) : -1;
        printf("h: holder %s waiter_woken=%d waiter_result=%s waiter %s val=%d ncnt=%d\n", wstr(st), got,
               got ? en(werr) : "none", got ? wstr(wst) : "-", getval(id, 0), getncnt(id, 0));
        close(p[0]); close(p[1]); close(ctl[0]); close(ctl[1]); close(wp[0]); close(wp[1]);
        xrmid(id);
    }
    /* i */
    {
        int id = xsemget(IPC_PRIVATE, 1, 0600);
        xsetval(id, 0, 32767);
        pid_t c = xfork();
        if (c == 0) {
            int r1 = semop1(id, 0, -32767, SEM_UNDO);         /* adj +32767 */
            int r2 = semop1(id, 0, 32767, 0);                 /* val back to 32767 */
            int r3 = semop1(id, 0, -1, SEM_UNDO | IPC_NOWAIT); /* adj 32768 > SEMAEM */
            int e3 = errno;
            int v = getval(id, 0);
            int r4 = semop1(id, 0, 1, SEM_UNDO | IPC_NOWAIT);  /* val would be 32768 */
            int e4 = errno;
            printf("i semid=%d: P-32767(undo) rc=%d V+32767 rc=%d P-1(undo) %s val=%d V+1(undo) %s\n", id, r1, r2,
                   res(r3, e3), v, res(r4, e4));
            fflush(stdout);
            _exit(0);
        }
        int st = xwait(c);
        printf("i: child %s val_after_waitpid=%d\n", wstr(st), getval(id, 0));
        xrmid(id);
    }
    /* j */
    {
        int id1 = xsemget(IPC_PRIVATE, 1, 0600);
        int id2 = xsemget(IPC_PRIVATE, 3, 0600);
        xsetval(id1, 0, 4);
        xsetval(id2, 2, 4);
        xpipe(p); xpipe(ctl);
        pid_t c = xfork();
        if (c == 0) {
            report_fd = p[1];
            report(semop1(id1, 0, -3, SEM_UNDO) | semop1(id2, 2, -1, SEM_UNDO) | semop1(id2, 0, 2, SEM_UNDO));
            char x;
            xread(ctl[0], &x, 1);
            _exit(0);
        }
        int rc = get_report(p[0]);
        printf("j semids=%d,%d: child rc=%d held: set1=[%d] set2=[%d,%d,%d]\n", id1, id2, rc, getval(id1, 0),
               getval(id2, 0), getval(id2, 1), getval(id2, 2));
        xwrite(ctl[1], "x", 1);
        int st = xwait(c);
        printf("j: child %s after: set1=[%d] set2=[%d,%d,%d]\n", wstr(st), getval(id1, 0), getval(id2, 0),
               getval(id2, 1), getval(id2, 2));
        close(p[0]); close(p[1]); close(ctl[0]); close(ctl[1]);
        xrmid(id1);
        xrmid(id2);
    }
    /* k: only with the argument "clone-sysvsem" (a known difference of
     * sembox, which keeps one undo list per thread group: see README) */
    if (argc == 2 && strcmp(argv[1], "clone-sysvsem") == 0) {
        int id = xsemget(IPC_PRIVATE, 1, 0600);
        xsetval(id, 0, 1);
        xpipe(p);
        pid_t a = xfork();
        if (a == 0) {
            report_fd = p[1];
            /* B shares A's undo list (fork-like clone with CLONE_SYSVSEM) */
            pid_t b = (pid_t)syscall(SYS_clone, (unsigned long)(CLONE_SYSVSEM | SIGCHLD), NULL, NULL, NULL, 0);
            if (b == 0)
                _exit(semop1(id, 0, -1, SEM_UNDO) == 0 ? 0 : 1);
            int st;
            while (waitpid(b, &st, 0) < 0 && errno == EINTR)
                ;
            report(WIFEXITED(st) ? WEXITSTATUS(st) : 100);
            report(getval(id, 0));
            msleep(100);
            report(getval(id, 0));
            _exit(0);
        }
        int bst = get_report(p[0]), v1 = get_report(p[0]), v2 = get_report(p[0]);
        int st = xwait(a);
        printf("k semid=%d: clone(CLONE_SYSVSEM) child P(undo) exit=%d val_after_its_exit=%d val_100ms_later=%d; "
               "sharer %s val_after_waitpid=%d\n", id, bst, v1, v2, wstr(st), poll_val(id, 0, 1, 1000));
        close(p[0]); close(p[1]);
        xrmid(id);
    }
    /* l */
    {
        int id = xsemget(IPC_PRIVATE, 1, 0600);
        xsetval(id, 0, 1);
        xpipe(p); xpipe(ctl);
        pid_t c = xfork();
        if (c == 0) {
            report_fd = p[1];
            report(semop1(id, 0, -1, SEM_UNDO));
            report(getval(id, 0));
            report(unshare(CLONE_SYSVSEM) == 0 ? 0 : errno);
            report(getval(id, 0));
            report(semop1(id, 0, -1, SEM_UNDO | IPC_NOWAIT) == 0 ? 0 : errno); /* new list */
            char x;
            xread(ctl[0], &x, 1);
            _exit(0);
        }
        int r1 = get_report(p[0]), v1 = get_report(p[0]), u = get_report(p[0]), v2 = get_report(p[0]);
        int r2 = get_report(p[0]);
        int v3 = getval(id, 0);
        xwrite(ctl[1], "x", 1);
        int st = xwait(c);
        printf("l semid=%d: P(undo) rc=%d val=%d unshare(CLONE_SYSVSEM)=%s val=%d P(undo,nowait) again %s val=%d; "
               "child %s val_after_waitpid=%d\n", id, r1, v1, en(u), v2, en(r2), v3, wstr(st), getval(id, 0));
        close(p[0]); close(p[1]); close(ctl[0]); close(ctl[1]);
        xrmid(id);
    }
    return 0;
}
