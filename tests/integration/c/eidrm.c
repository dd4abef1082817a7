/*
 * eidrm: children blocked in P, in wait-for-zero, in a multi-op, in a
 * semtimedop with a long timeout and in a SEM_UNDO P; the parent removes the
 * set; every child reports EIDRM. Then the old id is dead (EINVAL), keys are
 * released (ENOENT) and new ids are allocated as in a fresh namespace.
 */
#include "waiters.h"

int main(void) {
    it_setup();
    int id = xsemget(IPC_PRIVATE, 2, 0600);
    printf("semid=%d\n", id);
    xsetval(id, 1, 1);

    struct sembuf p[] = { sb(0, -1, 0) };
    struct sembuf z[] = { sb(1, 0, 0) };
    struct sembuf m[] = { sb(1, -1, 0), sb(0, -1, 0) };
    struct sembuf u[] = { sb(0, -1, SEM_UNDO) };
    struct timespec ten = { 10, 0 };
    start_waiter("P1", id, 2, p, 1);
    start_waiter("Z", id, 2, z, 1);
    start_waiter("P2", id, 2, p, 1);
    start_waiter("M(s1-1,s0-1)", id, 2, m, 2);
    start_waiter_t("T(10s)", id, 2, p, 1, &ten);
    start_waiter("U(undo)", id, 2, u, 1);
    print_state("blocked", id, 2);

    long long t0 = now_ns();
    int rc = semctl(id, 0, IPC_RMID);
    printf("IPC_RMID %s\n", res(rc, errno));
    for (int i = 0; i < nW; i++) {
        struct pollfd pf = { W[i].fd, POLLIN, 0 };
        if (poll(&pf, 1, 5000) <= 0) {
            printf("%s: no report within 5s\n", W[i].name);
            continue;
        }
        collect(0);
    }
    for (int i = 0; i < nW; i++)
        printf("%s: %s\n", W[i].name, W[i].done ? res(W[i].rc, W[i].err) : "still blocked");
    printf("all_reported_within_2s=%d\n", (now_ns() - t0) < 2000000000LL);

    errno = 0;
    rc = semctl(id, 0, GETVAL);
    printf("GETVAL old id: %s\n", res(rc, errno));
    struct semid_ds ds;
    rc = semctl(id, 0, IPC_STAT, (union semun){ .buf = &ds });
    printf("IPC_STAT old id: %s\n", res(rc, errno));
    rc = semop(id, p, 1);
    printf("semop old id: %s\n", res(rc, errno));
    rc = semctl(id, 0, IPC_RMID);
    printf("IPC_RMID old id: %s\n", res(rc, errno));

    /* Keyed sets: removal frees the key. */
    key_t key = 0x5eb0c5;
    int k1 = xsemget(key, 3, IPC_CREAT | IPC_EXCL | 0600);
    printf("keyed semid=%d\n", k1);
    printf("semget same key: %d\n", semget(key, 0, 0));
    /* a waiter blocked on the keyed set */
    start_waiter("K", k1, 3, p, 1);
    rc = semctl(k1, 0, IPC_RMID);
    printf("IPC_RMID keyed %s\n", res(rc, errno));
    {
        struct pollfd pf = { W[nW - 1].fd, POLLIN, 0 };
        poll(&pf, 1, 5000);
        collect(0);
        printf("K: %s\n", W[nW - 1].done ? res(W[nW - 1].rc, W[nW - 1].err) : "still blocked");
    }
    rc = semget(key, 0, 0);
    printf("semget removed key: %s\n", res(rc, errno));
    int k2 = xsemget(key, 1, IPC_CREAT | IPC_EXCL | 0600);
    printf("recreated keyed semid=%d\n", k2);
    int n1 = xsemget(IPC_PRIVATE, 1, 0600);
    int n2 = xsemget(IPC_PRIVATE, 1, 0600);
    printf("new private semids=%d,%d\n", n1, n2);
    xrmid(n1);
    int n3 = xsemget(IPC_PRIVATE, 1, 0600);
    printf("after removing %d: next semid=%d\n", n1, n3);
    xrmid(k2);
    xrmid(n2);
    xrmid(n3);
    int n4 = xsemget(IPC_PRIVATE, 1, 0600);
    printf("after removing all: next semid=%d\n", n4);
    xrmid(n4);
    return 0;
}
