/*
 * exhaust: limits and many waiters.
 *
 * usage: exhaust limits
 *        exhaust waiters NPROC NTHREADS [rss]
 *
 * limits: prints IPC_INFO and /proc/sys/kernel/sem, then fills the
 * namespace: sets of one semaphore until semget fails (SEMMNI), sets of
 * SEMMSL semaphores until it fails (SEMMNS or SEMMNI, whichever comes
 * first), the free remainder, SEMMSL+1 (EINVAL), SEMOPM and SEMOPM+1
 * operations (E2BIG), removal and re-creation at the limit. Every outcome
 * is printed with the index of the call: the driver requires the kernel's
 * output, exactly.
 *
 * waiters: NPROC processes of NTHREADS threads each block in one set:
 * P (semop), P with SEM_UNDO, semtimedop P with a 120 s timeout, a
 * two-operation P, or wait-for-zero. When GETNCNT+GETZCNT shows them all
 * parked the set is removed: every one of them must return EIDRM. With
 * "rss", the VmRSS and CPU time of the parent process (the sembox
 * supervisor, when run as the sandbox's root) are printed before, while
 * parked, and after.
 */
#include "torture.h"

static void print_proc_sem(void) {
    char buf[256] = "";
    FILE *f = fopen("/proc/sys/kernel/sem", "r");
    if (f) {
        if (!fgets(buf, sizeof buf, f))
            buf[0] = 0;
        fclose(f);
    }
    buf[strcspn(buf, "\n")] = 0;
    for (char *p = buf; *p; p++)
        if (*p == '\t')
            *p = ' ';
    printf("proc_sys_kernel_sem=\"%s\"\n", buf);
}

static int ids[40000];

static void limits(void) {
    struct seminfo si;
    if (semctl(0, 0, IPC_INFO, (union semun){ .__buf = &si }) < 0)
        FATAL("IPC_INFO");
    printf("ipc_info semmsl=%d semmns=%d semopm=%d semmni=%d semvmx=%d semaem=%d\n", si.semmsl, si.semmns,
           si.semopm, si.semmni, si.semvmx, si.semaem);
    print_proc_sem();
    int n = 0;
    /* 1. SEMMNI with one-semaphore sets. */
    for (;;) {
        int id = semget(IPC_PRIVATE, 1, IPC_CREAT | 0600);
        if (id < 0) {
            printf("semmni: created=%d then %s\n", n, en(errno));
            break;
        }
        ids[n++] = id;
        if (n >= 40000)
            FATAL("no limit after 40000 sets");
    }
    int r = semget(0x4e11, 1, IPC_CREAT | 0600);
    printf("semmni: keyed create at the limit=%s\n", r >= 0 ? "OK" : en(errno));
    struct seminfo si2;
    r = semctl(0, 0, SEM_INFO, (union semun){ .__buf = &si2 });
    printf("semmni: SEM_INFO ret=%d semusz=%d semaem=%d\n", r, si2.semusz, si2.semaem);
    semctl(ids[n / 2], 0, IPC_RMID);
    r = semget(IPC_PRIVATE, 1, IPC_CREAT | 0600);
    printf("semmni: after one removal create=%s id_reuses_slot=%d\n", r >= 0 ? "OK" : en(errno),
           r >= 0 && (r % 32768) == (ids[n / 2] % 32768));
    if (r >= 0)
        ids[n / 2] = r;
    r = semget(IPC_PRIVATE, 1, IPC_CREAT | 0600);
    printf("semmni: then create=%s\n", r >= 0 ? "OK" : en(errno));
    if (r >= 0)
        ids[n++] = r;
    for (int i = 0; i < n; i++)
        semctl(ids[i], 0, IPC_RMID);

    /* 2. SEMMNS with SEMMSL-semaphore sets. */
    r = semget(IPC_PRIVATE, si.semmsl + 1, IPC_CREAT | 0600);
    printf("semmsl+1: %s\n", r >= 0 ? "OK" : en(errno));
    n = 0;
    long used = 0;
    for (;;) {
        int id = semget(IPC_PRIVATE, si.semmsl, IPC_CREAT | 0600);
        if (id < 0) {
            printf("semmns: created=%d sets of %d (%ld semaphores) then %s\n", n, si.semmsl, used, en(errno));
            break;
        }
        ids[n++] = id;
        used += si.semmsl;
        if (n >= 40000)
            FATAL("no limit after 40000 sets");
    }
    long room = (long)si.semmns - used;
    if (room > 0 && room < si.semmsl) {
        r = semget(IPC_PRIVATE, (int)room, IPC_CREAT | 0600);
        printf("semmns: remainder of %ld: %s\n", room, r >= 0 ? "OK" : en(errno));
        if (r >= 0)
            ids[n++] = r;
    }
    r = semget(IPC_PRIVATE, 1, IPC_CREAT | 0600);
    printf("semmns: one more semaphore: %s\n", r >= 0 ? "OK" : en(errno));
    if (r >= 0)
        ids[n++] = r;
    r = semctl(0, 0, SEM_INFO, (union semun){ .__buf = &si2 });
    printf("semmns: SEM_INFO ret=%d semusz=%d semaem=%d\n", r, si2.semusz, si2.semaem);

    /* 3. SEMOPM. */
    static struct sembuf ops[2000];
    for (int i = 0; i < si.semopm + 1 && i < 2000; i++)
        ops[i] = (struct sembuf){ (unsigned short)(i % si.semmsl), 0, IPC_NOWAIT };
    r = semop(ids[0], ops, (size_t)si.semopm);
    printf("semopm: %d ops: %s\n", si.semopm, r >= 0 ? "OK" : en(errno));
    r = semop(ids[0], ops, (size_t)si.semopm + 1);
    printf("semopm: %d ops: %s\n", si.semopm + 1, r >= 0 ? "OK" : en(errno));
    for (int i = 0; i < n; i++)
        semctl(ids[i], 0, IPC_RMID);
    r = semctl(0, 0, SEM_INFO, (union semun){ .__buf = &si2 });
    printf("end: SEM_INFO ret=%d semusz=%d semaem=%d\n", r, si2.semusz, si2.semaem);
}

/* ---- waiters ---- */

struct shm {
    atomic_int started, finished;
    atomic_int res[]; /* errno + 1000 * kind, or -1 while waiting */
};
static struct shm *S;
static int semid, nthreads;

struct targ { int idx; };

static void *waiter(void *p) {
    int idx = ((struct targ *)p)->idx;
    int kind = idx % 5;
    struct sembuf ops[2];
    int n = 1, rc;
    atomic_fetch_add(&S->started, 1);
    switch (kind) {
    case 0: ops[0] = (struct sembuf){ (unsigned short)(idx % 3), -1, 0 }; rc = semop(semid, ops, 1); break;
    case 1: ops[0] = (struct sembuf){ (unsigned short)(idx % 3), -1, SEM_UNDO }; rc = semop(semid, ops, 1); break;
    case 2: {
        struct timespec ts = { 120, 0 };
        ops[0] = (struct sembuf){ (unsigned short)(idx % 3), -2, 0 };
        rc = semtimedop(semid, ops, 1, &ts);
        break;
    }
    case 3:
        ops[0] = (struct sembuf){ 0, -1, 0 };
        ops[1] = (struct sembuf){ 1, -1, SEM_UNDO };
        n = 2;
        rc = semop(semid, ops, (size_t)n);
        break;
    default: ops[0] = (struct sembuf){ 3, 0, 0 }; rc = semop(semid, ops, 1); break;
    }
    atomic_store(&S->res[idx], rc < 0 ? errno : 0);
    atomic_fetch_add(&S->finished, 1);
    return NULL;
}

static void waiter_proc(int pi) {
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setstacksize(&at, 64 * 1024);
    pthread_t *th = calloc((size_t)nthreads, sizeof *th);
    struct targ *a = calloc((size_t)nthreads, sizeof *a);
    for (int t = 0; t < nthreads; t++) {
        a[t].idx = pi * nthreads + t;
        if (pthread_create(&th[t], &at, waiter, &a[t]) != 0)
            FATAL("pthread_create %d/%d", pi, t);
    }
    for (int t = 0; t < nthreads; t++)
        pthread_join(th[t], NULL);
    _exit(0);
}

static int parked(void) {
    int s = semctl(semid, 3, GETZCNT);
    for (int i = 0; i < 3; i++)
        s += semctl(semid, i, GETNCNT);
    return s;
}

static void print_rss(const char *when, pid_t sup) {
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)sup);
    long ut = -1, st = -1;
    FILE *f = fopen(path, "r");
    if (f) {
        if (fgets(buf, sizeof buf, f)) {
            char *p = strrchr(buf, ')');
            if (p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %ld %ld", &ut, &st) != 2)
                ut = st = -1;
        }
        fclose(f);
    }
    long hz = sysconf(_SC_CLK_TCK);
    printf("supervisor_%s: vmrss_kb=%ld cpu_ms=%ld\n", when, vmrss_kb(sup), ut < 0 ? -1 : (ut + st) * 1000 / hz);
}

static void waiters(int nproc, int nth, int rss) {
    nthreads = nth;
    int total = nproc * nth;
    S = shared_alloc(sizeof *S + sizeof(atomic_int) * (size_t)total);
    for (int i = 0; i < total; i++)
        atomic_store(&S->res[i], -1);
    semid = xsemget(IPC_PRIVATE, 4, IPC_CREAT | 0600);
    xsetval(semid, 3, 1);
    pid_t sup = getppid();
    if (rss)
        print_rss("before", sup);
    long long t0 = now_ns();
    pid_t *pids = calloc((size_t)nproc, sizeof *pids);
    for (int p = 0; p < nproc; p++) {
        fflush(stdout);
        pids[p] = fork();
        if (pids[p] < 0)
            FATAL("fork");
        if (pids[p] == 0)
            waiter_proc(p);
    }
    int last = -1;
    long long last_change = now_ns();
    for (;;) {
        int n = parked();
        if (n == total)
            break;
        if (n != last) {
            last = n;
            last_change = now_ns();
        } else if (now_ns() - last_change > 30000000000LL) {
            ANOMALY("only %d of %d waiters parked after 30 s without progress (finished early: %d)", n, total,
                    atomic_load(&S->finished));
            break;
        }
        msleep(20);
    }
    long long t_parked = now_ns();
    printf("waiters=%d processes=%d threads_each=%d parked=%d park_ms=%lld finished_early=%d\n", total, nproc, nth,
           parked(), (t_parked - t0) / 1000000, atomic_load(&S->finished));
    if (atomic_load(&S->finished))
        ANOMALY("%d waiters returned before the set was removed", atomic_load(&S->finished));
    if (rss) {
        msleep(1000); /* let the signal poller settle on its long interval */
        print_rss("parked", sup);
        msleep(1000);
        print_rss("parked_plus_1s", sup); /* the CPU cost of idle waiters */
    }
    long long t_rm = now_ns();
    if (semctl(semid, 0, IPC_RMID) < 0)
        FATAL("IPC_RMID");
    while (atomic_load(&S->finished) < total) {
        if (now_ns() - t_rm > 60000000000LL) {
            ANOMALY("only %d of %d waiters returned 60 s after IPC_RMID", atomic_load(&S->finished), total);
            break;
        }
        msleep(1);
    }
    long long t_woken = now_ns();
    int eidrm = 0, other = 0, none = 0;
    for (int i = 0; i < total; i++) {
        int e = atomic_load(&S->res[i]);
        if (e == EIDRM)
            eidrm++;
        else if (e == -1)
            none++;
        else {
            other++;
            if (other <= 5)
                ANOMALY("waiter %d (kind %d) returned %s, want EIDRM", i, i % 5, en(e));
        }
    }
    for (int p = 0; p < nproc; p++) {
        int st;
        xwaitpid(pids[p], &st, 0);
    }
    long long t_reaped = now_ns();
    printf("after_rmid: eidrm=%d other=%d no_return=%d all_returned_ms=%lld all_exited_ms=%lld\n", eidrm, other,
           none, (t_woken - t_rm) / 1000000, (t_reaped - t_rm) / 1000000);
    if (other)
        ANOMALY("%d waiters returned something other than EIDRM", other);
    if (rss) {
        print_rss("after", sup);
        msleep(1000);
        print_rss("after_1s", sup);
    }
}

int main(int argc, char **argv) {
    if (argc >= 2 && strcmp(argv[1], "limits") == 0) {
        t_setup(60);
        limits();
        return t_exit_code();
    }
    if (argc >= 4 && strcmp(argv[1], "waiters") == 0) {
        t_setup(240);
        waiters(atoi(argv[2]), atoi(argv[3]), argc > 4 && strcmp(argv[4], "rss") == 0);
        return t_exit_code();
    }
    fprintf(stderr, "usage: exhaust limits | exhaust waiters NPROC NTHREADS [rss]\n");
    return 2;
}
