/*
 * getpid: GETPID (sempid) reports the process (thread group) that last
 * operated on the semaphore.
 */
#include "common.h"

static int semop1(int id, int num, int op, int flg) {
    struct sembuf s = sb((unsigned short)num, (short)op, (short)flg);
    return semop(id, &s, 1);
}

static int gp(int id, int num) { return semctl(id, num, GETPID); }

static void *thr(void *arg) {
    int *a = arg;
    a[1] = semop1(a[0], 0, 1, 0);
    a[2] = (int)syscall(SYS_gettid);
    return NULL;
}

int main(void) {
    it_setup();
    pid_t me = getpid();
    int id = xsemget(IPC_PRIVATE, 2, 0600);
    printf("semid=%d getpid_initial=%d,%d\n", id, gp(id, 0), gp(id, 1));

    int rc = semop1(id, 0, 1, 0);
    printf("parent V s0 rc=%d: getpid_s0_is_parent=%d getpid_s1=%d\n", rc, gp(id, 0) == me, gp(id, 1));

    /* child V */
    pid_t c = xfork();
    if (c == 0)
        _exit(semop1(id, 0, 1, 0) == 0 ? 0 : 1);
    int st = xwait(c);
    printf("child V %s: getpid_s0_is_child=%d getpid_s0_is_parent=%d\n", wstr(st), gp(id, 0) == c,
           gp(id, 0) == me);

    /* SETVAL by parent */
    xsetval(id, 0, 0);
    printf("parent SETVAL: getpid_s0_is_parent=%d getpid_s1=%d\n", gp(id, 0) == me, gp(id, 1));

    /* SETALL by a child: every semaphore's pid is updated */
    c = xfork();
    if (c == 0) {
        unsigned short v[2] = { 0, 0 };
        _exit(semctl(id, 0, SETALL, (union semun){ .array = v }) == 0 ? 0 : 1);
    }
    st = xwait(c);
    printf("child SETALL %s: getpid_s0_is_child=%d getpid_s1_is_child=%d\n", wstr(st), gp(id, 0) == c,
           gp(id, 1) == c);

    /* wait-for-zero that succeeds at once also updates sempid */
    rc = semop1(id, 1, 0, 0);
    printf("parent zero-op s1 rc=%d: getpid_s1_is_parent=%d\n", rc, gp(id, 1) == me);

    /* a failing IPC_NOWAIT op does not */
    c = xfork();
    if (c == 0) {
        int r = semop1(id, 0, -1, IPC_NOWAIT);
        _exit(r < 0 && errno == EAGAIN ? 0 : 1);
    }
    st = xwait(c);
    printf("child failed P(nowait) %s: getpid_s0_is_child=%d getpid_s0_unchanged=%d\n", wstr(st), gp(id, 0) == c,
           gp(id, 0) != c);
    int before = gp(id, 0);

    /* a blocked child P completed by the parent's V: sempid is the waiter */
    c = xfork();
    if (c == 0)
        _exit(semop1(id, 0, -1, 0) == 0 ? 0 : 1);
    wait_ncnt(id, 0, 1);
    printf("child blocked: getpid_s0_unchanged_while_blocked=%d\n", gp(id, 0) == before);
    rc = semop1(id, 0, 1, 0);
    int after = gp(id, 0);
    st = xwait(c);
    printf("parent V rc=%d woke child %s: getpid_s0_is_waiter=%d getpid_s0_is_parent=%d\n", rc, wstr(st),
           after == c, after == me);

    /* a multi-op waiter completed by the parent: both semaphores get the waiter's pid */
    c = xfork();
    if (c == 0) {
        struct sembuf ops[] = { sb(1, 1, 0), sb(0, -1, 0) };
        _exit(semop(id, ops, 2) == 0 ? 0 : 1);
    }
    wait_ncnt(id, 0, 1);
    rc = semop1(id, 0, 1, 0);
    int a0 = gp(id, 0), a1 = gp(id, 1);
    st = xwait(c);
    printf("multi-op waiter %s: getpid_s0_is_waiter=%d getpid_s1_is_waiter=%d\n", wstr(st), a0 == c, a1 == c);

    /* a second thread: sempid is the thread group id, not the thread id */
    int a[3] = { id, -5, 0 };
    pthread_t t;
    pthread_create(&t, NULL, thr, a);
    pthread_join(t, NULL);
    printf("thread V rc=%d: tid_differs_from_pid=%d getpid_s0_is_tgid=%d getpid_s0_is_tid=%d\n", a[1], a[2] != me,
           gp(id, 0) == me, gp(id, 0) == a[2]);

    /* undo at exit sets sempid to the exiting process */
    c = xfork();
    if (c == 0)
        _exit(semop1(id, 1, 1, SEM_UNDO) == 0 ? 0 : 1);
    st = xwait(c);
    printf("child V(undo) exited %s: s1=%d getpid_s1_is_child=%d\n", wstr(st), getval(id, 1), gp(id, 1) == c);

    /* undo at exit: a grandchild-less child that did a thread-side undo op */
    c = xfork();
    if (c == 0) {
        int b[3] = { id, -5, 0 };
        pthread_t t2;
        pthread_create(&t2, NULL, thr, b);
        pthread_join(t2, NULL);
        _exit(b[1] == 0 ? 0 : 1);
    }
    st = xwait(c);
    printf("child thread V %s: getpid_s0_is_child=%d\n", wstr(st), gp(id, 0) == c);

    /* IPC_STAT's sem_otime is set by semop; SETVAL does not update it */
    struct semid_ds ds;
    semctl(id, 0, IPC_STAT, (union semun){ .buf = &ds });
    printf("otime_nonzero=%d ctime_nonzero=%d nsems=%lu\n", ds.sem_otime != 0, ds.sem_ctime != 0,
           (unsigned long)ds.sem_nsems);

    rc = semctl(id, 2, GETPID);
    printf("GETPID bad semnum: %s\n", res(rc, errno));
    printf("rmid rc=%d\n", semctl(id, 0, IPC_RMID));
    return 0;
}
