/*
 * zero_first: wait-for-zero waiters, decrement waiters and multi-op waiters
 * on the same semaphores. Which waiters a given operation completes is
 * decided atomically by the semaphore code, so it is shown as outcomes:
 * after each parent operation the program waits until the system is
 * quiescent and prints the values, GETNCNT/GETZCNT and which waiters are
 * done or still blocked.
 *
 * Linux order: when an operation leaves a semaphore at 0, its wait-for-zero
 * waiters are woken before the pending alter operations run; alter waiters
 * are scanned FIFO, and a waiter that cannot proceed is skipped (a later
 * smaller decrement may go first). Since Linux 3.16 GETNCNT/GETZCNT count a
 * multi-op waiter only on the semaphore of the operation it blocks on.
 */
#include "waiters.h"

static void op(const char *label, int id, int nsems, struct sembuf *sops, int nsops) {
    int rc = semop(id, sops, (size_t)nsops);
    int e = errno;
    settle(id, nsems);
    printf("%s %s\n", label, res(rc, e));
    print_state("  state", id, nsems);
}

static void setall(int id, int nsems, const unsigned short *v) {
    union semun a = { .array = (unsigned short *)v };
    (void)nsems;
    if (semctl(id, 0, SETALL, a) < 0)
        FATAL("SETALL");
}

int main(void) {
    it_setup();

    /* A: alter waiters are scanned FIFO; one that cannot proceed is skipped. */
    {
        int id = xsemget(IPC_PRIVATE, 1, 0600);
        printf("A alter_fifo semid=%d\n", id);
        struct sembuf d1[] = { sb(0, -1, 0) }, d2[] = { sb(0, -2, 0) }, d3[] = { sb(0, -1, 0) };
        start_waiter("D1(-1)", id, 1, d1, 1);
        start_waiter("D2(-2)", id, 1, d2, 1);
        start_waiter("D3(-1)", id, 1, d3, 1);
        print_state("  blocked", id, 1);
        struct sembuf v1[] = { sb(0, 1, 0) }, v2[] = { sb(0, 2, 0) };
        op("  parent +1", id, 1, v1, 1);
        op("  parent +1", id, 1, v1, 1);
        op("  parent +2", id, 1, v2, 1);
        reset_waiters();
        printf("  rmid rc=%d\n", semctl(id, 0, IPC_RMID));
    }

    /* B: the parent's own op leaves s0 at 0: the zero waiter is woken before
     * the complex alter waiter M (which raises s0 again) runs. */
    {
        int id = xsemget(IPC_PRIVATE, 2, 0600);
        printf("B zero_before_alter semid=%d\n", id);
        setall(id, 2, (unsigned short[]){ 1, 0 });
        struct sembuf z[] = { sb(0, 0, 0) };
        struct sembuf m[] = { sb(0, 1, 0), sb(1, -1, 0) };
        start_waiter("Z(s0=0)", id, 2, z, 1);
        start_waiter("M(s0+1,s1-1)", id, 2, m, 2);
        print_state("  blocked", id, 2);
        struct sembuf p[] = { sb(0, -1, 0), sb(1, 1, 0) };
        op("  parent s0-1,s1+1", id, 2, p, 2);
        reset_waiters();
        printf("  rmid rc=%d\n", semctl(id, 0, IPC_RMID));
    }

    /* C: a woken alter waiter D leaves s0 at 0: the zero waiter is woken
     * before the next alter waiter M (which raises s0 again) runs. */
    {
        int id = xsemget(IPC_PRIVATE, 2, 0600);
        printf("C zero_woken_mid_queue semid=%d\n", id);
        setall(id, 2, (unsigned short[]){ 1, 0 });
        struct sembuf z[] = { sb(0, 0, 0) };
        struct sembuf d[] = { sb(0, -2, 0), sb(1, 1, 0) };
        struct sembuf m[] = { sb(1, -1, 0), sb(0, 1, 0) };
        start_waiter("Z(s0=0)", id, 2, z, 1);
        start_waiter("D(s0-2,s1+1)", id, 2, d, 2);
        start_waiter("M(s1-1,s0+1)", id, 2, m, 2);
        print_state("  blocked", id, 2);
        struct sembuf p[] = { sb(0, 1, 0) };
        op("  parent s0+1", id, 2, p, 1);
        reset_waiters();
        printf("  rmid rc=%d\n", semctl(id, 0, IPC_RMID));
    }

    /* D: multi-op waiters are counted only on the semaphore they block on,
     * and the count moves when the blocking operation changes. */
    {
        int id = xsemget(IPC_PRIVATE, 2, 0600);
        printf("D multiop_counts semid=%d\n", id);
        setall(id, 2, (unsigned short[]){ 1, 1 });
        struct sembuf w1[] = { sb(0, -1, 0), sb(1, 0, 0) };
        struct sembuf w2[] = { sb(0, -2, 0), sb(1, -1, 0) };
        struct sembuf w3[] = { sb(1, -1, 0), sb(0, 0, 0) };
        start_waiter("W1(s0-1,s1=0)", id, 2, w1, 2);
        print_state("  W1 blocked", id, 2);
        start_waiter("W2(s0-2,s1-1)", id, 2, w2, 2);
        print_state("  W2 blocked", id, 2);
        start_waiter("W3(s1-1,s0=0)", id, 2, w3, 2);
        print_state("  W3 blocked", id, 2);
        union semun a = { .val = 0 };
        int rc = semctl(id, 1, SETVAL, a);
        int e = errno;
        settle(id, 2);
        printf("  parent SETVAL s1=0 %s\n", res(rc, e));
        print_state("  state", id, 2);
        struct sembuf p1[] = { sb(0, 2, 0), sb(1, 1, 0) };
        op("  parent s0+2,s1+1", id, 2, p1, 2);
        struct sembuf p2[] = { sb(1, 1, 0) };
        op("  parent s1+1", id, 2, p2, 1);
        reset_waiters();
        printf("  rmid rc=%d\n", semctl(id, 0, IPC_RMID));
    }

    /* E: zero and decrement waiters on one semaphore. */
    {
        int id = xsemget(IPC_PRIVATE, 1, 0600);
        printf("E zero_and_decrement semid=%d\n", id);
        xsetval(id, 0, 2);
        struct sembuf z[] = { sb(0, 0, 0) }, d[] = { sb(0, -3, 0) };
        start_waiter("Z1", id, 1, z, 1);
        start_waiter("D(-3)", id, 1, d, 1);
        start_waiter("Z2", id, 1, z, 1);
        print_state("  blocked", id, 1);
        struct sembuf m1[] = { sb(0, -1, 0) }, m2[] = { sb(0, -1, 0) }, p3[] = { sb(0, 3, 0) };
        op("  parent -1", id, 1, m1, 1);
        op("  parent -1", id, 1, m2, 1);
        op("  parent +3", id, 1, p3, 1);
        start_waiter("Z3", id, 1, z, 1);
        print_state("  Z3 started", id, 1);
        reset_waiters();
        printf("  rmid rc=%d\n", semctl(id, 0, IPC_RMID));
    }

    /* F: decrement waiter reaching 0 also releases the zero waiter queued
     * behind it; a second decrement waiter stays blocked. */
    {
        int id = xsemget(IPC_PRIVATE, 1, 0600);
        printf("F decrement_then_zero semid=%d\n", id);
        xsetval(id, 0, 1);
        struct sembuf d2[] = { sb(0, -2, 0) }, z[] = { sb(0, 0, 0) }, d1[] = { sb(0, -1, 0) };
        start_waiter("D(-2)", id, 1, d2, 1);
        start_waiter("Z", id, 1, z, 1);
        print_state("  blocked", id, 1);
        struct sembuf p[] = { sb(0, 1, 0) };
        op("  parent +1", id, 1, p, 1);
        start_waiter("D1(-1)", id, 1, d1, 1);
        start_waiter("Z'", id, 1, z, 1);
        print_state("  blocked", id, 1);
        op("  parent +1", id, 1, p, 1);
        reset_waiters();
        printf("  rmid rc=%d\n", semctl(id, 0, IPC_RMID));
    }
    return 0;
}
