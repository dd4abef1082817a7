/*
 * ctl_misc: argument checking and semctl commands.
 * semget limits and flags, semop error precedence, cumulative multi-op on
 * one semaphore, IPC_NOWAIT per operation, SETVAL/SETALL ranges, IPC_STAT,
 * IPC_SET, IPC_INFO, SEM_INFO, SEM_STAT, stale ids.
 */
#include "common.h"

#ifndef SEM_STAT_ANY
#define SEM_STAT_ANY 20
#endif

#define T(label, expr) do { errno = 0; int rc_ = (expr); int e_ = errno; \
    printf("%-44s %s\n", label, res(rc_, e_)); } while (0)

static void show_info(const char *label, int cmd) {
    struct seminfo si;
    memset(&si, 0xff, sizeof si);
    errno = 0;
    int rc = semctl(0, 0, cmd, (union semun){ .__buf = &si });
    int e = errno;
    printf("%s %s semmap=%d semmni=%d semmns=%d semmnu=%d semmsl=%d semopm=%d semume=%d semusz=%d semvmx=%d "
           "semaem=%d\n", label, res(rc, e), si.semmap, si.semmni, si.semmns, si.semmnu, si.semmsl, si.semopm,
           si.semume, si.semusz, si.semvmx, si.semaem);
}

static void show_vals(const char *label, int id, int n) {
    unsigned short v[8];
    int rc = semctl(id, 0, GETALL, (union semun){ .array = v });
    printf("%s rc=%d vals=[", label, rc);
    for (int i = 0; i < n; i++)
        printf("%s%d", i ? "," : "", v[i]);
    printf("]\n");
}

int main(void) {
    it_setup();
    show_info("IPC_INFO empty:", IPC_INFO);
    show_info("SEM_INFO empty:", SEM_INFO);

    /* semget */
    key_t key = 0x1234;
    T("semget(nokey, 1, 0)", semget(key, 1, 0));
    T("semget(nokey, 0, IPC_CREAT)", semget(key, 0, IPC_CREAT | 0600));
    T("semget(nokey, -1, IPC_CREAT)", semget(key, -1, IPC_CREAT | 0600));
    T("semget(nokey, 32001, IPC_CREAT)", semget(key, 32001, IPC_CREAT | 0600));
    T("semget(PRIVATE, 0)", semget(IPC_PRIVATE, 0, 0600));
    T("semget(nokey, 32000, IPC_CREAT) [max]", semget(key, 32000, IPC_CREAT | 0600));
    T("semget(key, 0, 0) [existing]", semget(key, 0, 0));
    T("semget(key, 32000, 0)", semget(key, 32000, 0));
    T("semget(key, 32001, 0)", semget(key, 32001, 0));
    T("semget(key, 32001, IPC_CREAT|IPC_EXCL)", semget(key, 32001, IPC_CREAT | IPC_EXCL | 0600));
    T("semget(key, 5, IPC_CREAT)", semget(key, 5, IPC_CREAT | 0600));
    T("semget(key, 1, IPC_EXCL) [no CREAT]", semget(key, 1, IPC_EXCL | 0600));
    T("semctl(key's set, IPC_RMID)", semctl(semget(key, 0, 0), 0, IPC_RMID));
    int mid = semget(0x777, 3, IPC_CREAT | 01777);
    struct semid_ds ds;
    semctl(mid, 0, IPC_STAT, (union semun){ .buf = &ds });
    printf("created 01777: semid=%d mode=0%o nsems=%lu\n", mid, ds.sem_perm.mode, (unsigned long)ds.sem_nsems);
    show_info("IPC_INFO one set:", IPC_INFO);
    show_info("SEM_INFO one set:", SEM_INFO);

    int id = xsemget(IPC_PRIVATE, 3, 0600);
    printf("semid=%d\n", id);
    show_vals("initial GETALL", id, 3);
    show_info("SEM_INFO two sets:", SEM_INFO);

    /* semop error precedence */
    struct sembuf ok = sb(0, 1, 0);
    struct sembuf big[501];
    for (int i = 0; i < 501; i++)
        big[i] = sb(0, 0, IPC_NOWAIT);
    T("semop nsops=0", semop(id, &ok, 0));
    T("semop nsops=0 bad id", semop(-1, &ok, 0));
    T("semop nsops=501", semop(id, big, 501));
    T("semop nsops=500 (all zero-ops)", semop(id, big, 500));
    T("semop nsops=501 bad pointer", semop(id, (struct sembuf *)8, 501));
    T("semop nsops=1 bad pointer", semop(id, (struct sembuf *)8, 1));
    T("semop nsops=1 bad pointer bad id", semop(-1, (struct sembuf *)8, 1));
    struct sembuf efbig = sb(3, 1, 0);
    T("semop sem_num=3 of 3", semop(id, &efbig, 1));
    T("semop bad id -1", semop(-1, &ok, 1));
    T("semop bad id 12345", semop(12345, &ok, 1));
    T("semop stale seq (id+32768)", semop(id + 32768, &ok, 1));
    T("semop sem_num=3 bad id", semop(-1, &efbig, 1));
    struct sembuf mixed[] = { sb(0, 32767, 0), sb(3, 1, 0) };
    T("semop {s0+32767, s3+1}", semop(id, mixed, 2));
    show_vals("  after", id, 3);
    struct sembuf max = sb(0, 32767, 0);
    T("semop s0+32767", semop(id, &max, 1));
    T("semop s0+1 (ERANGE)", semop(id, &ok, 1));
    struct sembuf rng[] = { sb(1, 5, 0), sb(0, 1, 0) };
    T("semop {s1+5, s0+1} (ERANGE, nothing applied)", semop(id, rng, 2));
    show_vals("  after", id, 3);
    struct sembuf neg = sb(1, -32768, IPC_NOWAIT);
    T("semop s1-32768 nowait", semop(id, &neg, 1));

    /* several operations on one semaphore are applied in order */
    xsetval(id, 0, 1);
    struct sembuf dup1[] = { sb(0, 1, 0), sb(0, -2, 0) };
    T("semop {s0+1, s0-2} at 1", semop(id, dup1, 2));
    show_vals("  after", id, 3);
    struct sembuf dup2[] = { sb(0, -1, IPC_NOWAIT), sb(0, 1, 0) };
    T("semop {s0-1 nowait, s0+1} at 0", semop(id, dup2, 2));
    struct sembuf dup3[] = { sb(0, 2, 0), sb(0, 0, IPC_NOWAIT) };
    T("semop {s0+2, s0==0 nowait} at 0", semop(id, dup3, 2));
    struct sembuf dup4[] = { sb(0, 2, 0), sb(0, -2, 0), sb(0, 0, 0) };
    T("semop {s0+2, s0-2, s0==0} at 0", semop(id, dup4, 3));
    show_vals("  after", id, 3);

    /* IPC_NOWAIT belongs to the operation that blocks */
    {
        xsetval(id, 0, 1);
        xsetval(id, 1, 0);
        struct sembuf a[] = { sb(0, -1, IPC_NOWAIT), sb(1, -1, 0) };
        struct timespec ts = { 0, 80 * 1000000L };
        long long t0 = now_ns();
        int rc = semtimedop(id, a, 2, &ts);
        int e = errno;
        long long ms = (now_ns() - t0) / 1000000LL;
        printf("{s0-1 nowait, s1-1} at [1,0]: %s waited_for_timeout=%d\n", res(rc, e), ms >= 80);
        struct sembuf b[] = { sb(0, -1, 0), sb(1, -1, IPC_NOWAIT) };
        t0 = now_ns();
        rc = semtimedop(id, b, 2, &ts);
        e = errno;
        ms = (now_ns() - t0) / 1000000LL;
        printf("{s0-1, s1-1 nowait} at [1,0]: %s waited_for_timeout=%d\n", res(rc, e), ms >= 80);
        show_vals("  after", id, 3);
    }

    /* semctl */
    T("GETVAL semnum=3", semctl(id, 3, GETVAL));
    T("GETVAL semnum=-1", semctl(id, -1, GETVAL));
    T("GETNCNT semnum=3", semctl(id, 3, GETNCNT));
    T("GETZCNT semnum=-1", semctl(id, -1, GETZCNT));
    T("SETVAL semnum=3", semctl(id, 3, SETVAL, (union semun){ .val = 1 }));
    T("SETVAL -1", semctl(id, 0, SETVAL, (union semun){ .val = -1 }));
    T("SETVAL 32768", semctl(id, 0, SETVAL, (union semun){ .val = 32768 }));
    T("SETVAL 32767", semctl(id, 0, SETVAL, (union semun){ .val = 32767 }));
    T("GETVAL", semctl(id, 0, GETVAL));
    unsigned short sa[3] = { 1, 32768, 3 };
    T("SETALL [1,32768,3]", semctl(id, 0, SETALL, (union semun){ .array = sa }));
    show_vals("  after", id, 3);
    unsigned short sb3[3] = { 4, 5, 6 };
    T("SETALL [4,5,6] semnum=99 ignored", semctl(id, 99, SETALL, (union semun){ .array = sb3 }));
    show_vals("  after", id, 3);
    T("SETALL bad pointer", semctl(id, 0, SETALL, (union semun){ .array = (unsigned short *)8 }));
    T("GETALL bad pointer", semctl(id, 0, GETALL, (union semun){ .array = (unsigned short *)8 }));
    T("IPC_STAT NULL", semctl(id, 0, IPC_STAT, (union semun){ .buf = NULL }));
    T("IPC_SET NULL", semctl(id, 0, IPC_SET, (union semun){ .buf = NULL }));
    T("cmd 99", semctl(id, 0, 99));
    T("cmd -1", semctl(id, 0, -1));
    T("GETVAL bad id -1", semctl(-1, 0, GETVAL));
    T("GETVAL stale seq (id+32768)", semctl(id + 32768, 0, GETVAL));
    T("IPC_STAT stale seq (id+32768)", semctl(id + 32768, 0, IPC_STAT, (union semun){ .buf = &ds }));
    T("IPC_RMID bad id 77777", semctl(77777, 0, IPC_RMID));

    /* IPC_SET: only the permission bits of mode, uid and gid */
    semctl(id, 0, IPC_STAT, (union semun){ .buf = &ds });
    ds.sem_perm.mode = 07640;
    ds.sem_nsems = 99;
    T("IPC_SET mode=07640", semctl(id, 0, IPC_SET, (union semun){ .buf = &ds }));
    semctl(id, 0, IPC_STAT, (union semun){ .buf = &ds });
    printf("  after: mode=0%o nsems=%lu uid=%u gid=%u cuid=%u\n", ds.sem_perm.mode, (unsigned long)ds.sem_nsems,
           ds.sem_perm.uid, ds.sem_perm.gid, ds.sem_perm.cuid);

    /* SEM_STAT by index; the index of a set is its id modulo 32768 */
    for (int idx = 0; idx < 4; idx++) {
        errno = 0;
        int rc = semctl(idx, 0, SEM_STAT, (union semun){ .buf = &ds });
        int e = errno;
        printf("SEM_STAT index %d: %s", idx, res(rc, e));
        if (rc >= 0)
            printf(" nsems=%lu mode=0%o", (unsigned long)ds.sem_nsems, ds.sem_perm.mode);
        printf("\n");
    }
    T("SEM_STAT index 32000", semctl(32000, 0, SEM_STAT, (union semun){ .buf = &ds }));
    T("SEM_STAT_ANY index 1", semctl(1, 0, SEM_STAT_ANY, (union semun){ .buf = &ds }));
    T("SEM_STAT index 1 NULL buf", semctl(1, 0, SEM_STAT, (union semun){ .buf = NULL }));

    /* sem_otime / sem_ctime */
    {
        time_t t0 = time(NULL);
        int tid = xsemget(IPC_PRIVATE, 2, 0600);
        struct semid_ds st;
        semctl(tid, 0, IPC_STAT, (union semun){ .buf = &st });
        printf("times: new set otime==0=%d ctime_in_range=%d\n", st.sem_otime == 0,
               st.sem_ctime >= t0 - 1 && st.sem_ctime <= time(NULL) + 1);
        struct sembuf fail = sb(0, -1, IPC_NOWAIT);
        semop(tid, &fail, 1);
        xsetval(tid, 1, 1);
        semctl(tid, 0, IPC_STAT, (union semun){ .buf = &st });
        printf("times: after failed op and SETVAL otime==0=%d\n", st.sem_otime == 0);
        struct sembuf z = sb(0, 0, 0);
        semop(tid, &z, 1);
        semctl(tid, 0, IPC_STAT, (union semun){ .buf = &st });
        printf("times: after zero-op otime_in_range=%d\n",
               st.sem_otime >= t0 - 1 && st.sem_otime <= time(NULL) + 1);
        xrmid(tid);
    }

    xrmid(mid);
    T("IPC_RMID", semctl(id, 0, IPC_RMID));
    show_info("SEM_INFO after removal:", SEM_INFO);
    int again = xsemget(IPC_PRIVATE, 1, 0600);
    printf("next semid=%d\n", again);
    xrmid(again);
    return 0;
}
