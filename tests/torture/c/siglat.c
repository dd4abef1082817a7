/*
 * siglat: signal-to-EINTR latency of a single waiter blocked in semop, and
 * two signal cases where sembox's polling can differ from the kernel.
 *
 * usage: siglat TRIALS STOPCONT_TRIALS MT_TRIALS
 *
 * 1. latency: TRIALS times, a child blocks in semop (P on a semaphore at
 *    0); the parent waits until GETNCNT shows it blocked, then another
 *    0, 5, 10, ... 35 ms (cycling), takes t0 and sends SIGUSR1 (handler
 *    without SA_RESTART); the child takes t1 as soon as semop returns.
 *    Every return must be EINTR. Printed: lat (all), lat_fresh (sent at
 *    once), lat_parked (sent after >= 20 ms).
 * 2. stopcont: a blocked child gets SIGSTOP and at once SIGCONT. Linux
 *    wakes the task at SIGSTOP, so semop returns EINTR even though SIGCONT
 *    follows at once. Printed: how many of the trials returned EINTR within
 *    300 ms (the rest are released with a V and return 0).
 * 3. mt: a process with two threads, both blocked in semop, gets one
 *    process-directed SIGUSR1. Linux wakes one thread; printed: how many
 *    threads returned EINTR per signal (the other is released by V's).
 * An errno other than EINTR, or a trial that does not end, is an anomaly.
 */
#include "torture.h"

struct shm {
    atomic_int go, done, err, rc;
    atomic_llong t1;
    atomic_int thr_eintr, thr_ok, thr_done, thr_handled;
};

static struct shm *S;
static int semid;
static void handler(int sig) { (void)sig; atomic_fetch_add(&S->thr_handled, 1); }

/* One blocked P per command; returns the result in S. */
static void child(void) {
    set_handler(SIGUSR1, handler, 0);
    int seen = 0;
    for (;;) {
        while (atomic_load(&S->go) == seen)
            sleep_ns(20000);
        seen = atomic_load(&S->go);
        if (seen < 0)
            _exit(0);
        struct sembuf P = { 0, -1, 0 };
        int rc = semop(semid, &P, 1);
        long long t1 = now_ns();
        atomic_store(&S->t1, t1);
        atomic_store(&S->err, rc < 0 ? errno : 0);
        atomic_store(&S->rc, rc);
        atomic_fetch_add(&S->done, 1);
    }
}

static void wait_ncnt(int num, int want) {
    long long t0 = now_ns();
    while (semctl(semid, num, GETNCNT) != want) {
        if (now_ns() - t0 > 5000000000LL)
            FATAL("GETNCNT(%d) never reached %d (is %d)", num, want, semctl(semid, num, GETNCNT));
        sleep_ns(50000);
    }
}

/* Wait for done to reach want for up to ms milliseconds. */
static int wait_done(int want, int ms) {
    long long t0 = now_ns();
    /* Sleep while polling: a spinning parent would take one of the CPUs
     * that the waiter and the supervisor need (t1 is the child's clock). */
    while (atomic_load(&S->done) < want) {
        if (now_ns() - t0 > (long long)ms * 1000000LL)
            return 0;
        sleep_ns(20000);
    }
    return 1;
}

static void *mt_thread(void *p) {
    (void)p;
    struct sembuf P = { 1, -1, 0 };
    int rc = semop(semid, &P, 1);
    if (rc == 0)
        atomic_fetch_add(&S->thr_ok, 1);
    else if (errno == EINTR)
        atomic_fetch_add(&S->thr_eintr, 1);
    else
        ANOMALY("mt: semop returned %s", en(errno));
    atomic_fetch_add(&S->thr_done, 1);
    return NULL;
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: siglat TRIALS STOPCONT_TRIALS MT_TRIALS\n");
        return 2;
    }
    int n = atoi(argv[1]), nsc = atoi(argv[2]), nmt = atoi(argv[3]);
    t_setup(120 + n / 5);
    S = shared_alloc(sizeof *S);
    semid = xsemget(IPC_PRIVATE, 2, IPC_CREAT | 0600);
    fflush(stdout);
    pid_t c = fork();
    if (c < 0)
        FATAL("fork");
    if (c == 0)
        child();

    long long *all = calloc((size_t)n + 1, sizeof *all), *fresh = calloc((size_t)n + 1, sizeof *fresh),
              *parked = calloc((size_t)n + 1, sizeof *parked);
    int na = 0, nf = 0, np = 0, bad = 0;
    int trial = 0;
    for (int t = 0; t < n; t++, trial++) {
        atomic_store(&S->go, trial + 1);
        wait_ncnt(0, 1);
        int delay_ms = (t % 8) * 5;
        if (delay_ms)
            msleep(delay_ms);
        long long t0 = now_ns();
        kill(c, SIGUSR1);
        if (!wait_done(trial + 1, 5000)) {
            ANOMALY("latency trial %d: no return 5 s after the signal", t);
            break;
        }
        if (atomic_load(&S->rc) != -1 || atomic_load(&S->err) != EINTR) {
            bad++;
            ANOMALY("latency trial %d: semop returned rc=%d %s, want EINTR", t, atomic_load(&S->rc),
                    en(atomic_load(&S->err)));
            continue;
        }
        long long d = atomic_load(&S->t1) - t0;
        all[na++] = d;
        if (delay_ms == 0)
            fresh[nf++] = d;
        if (delay_ms >= 20)
            parked[np++] = d;
    }
    printf("latency_trials=%d bad=%d\n", n, bad);
    print_dist("lat", all, na);
    print_dist("lat_fresh", fresh, nf);
    print_dist("lat_parked", parked, np);

    /* 2. SIGSTOP + SIGCONT. */
    int sc_eintr = 0, sc_released = 0;
    for (int t = 0; t < nsc; t++, trial++) {
        atomic_store(&S->go, trial + 1);
        wait_ncnt(0, 1);
        msleep(t % 2 ? 10 : 1);
        kill(c, SIGSTOP);
        kill(c, SIGCONT);
        if (wait_done(trial + 1, 300)) {
            if (atomic_load(&S->rc) == -1 && atomic_load(&S->err) == EINTR)
                sc_eintr++;
            else
                ANOMALY("stopcont trial %d: semop returned rc=%d %s", t, atomic_load(&S->rc),
                        en(atomic_load(&S->err)));
            continue;
        }
        struct sembuf V = { 0, 1, 0 };
        if (semop(semid, &V, 1) < 0)
            FATAL("V");
        if (!wait_done(trial + 1, 5000)) {
            ANOMALY("stopcont trial %d: waiter not released by V", t);
            break;
        }
        if (atomic_load(&S->rc) == 0)
            sc_released++;
        else if (atomic_load(&S->err) == EINTR)
            sc_eintr++; /* late EINTR, raced with the V: V still pending */
        else
            ANOMALY("stopcont trial %d: released semop returned %s", t, en(atomic_load(&S->err)));
        xsetval(semid, 0, 0);
    }
    printf("stopcont_trials=%d stopcont_eintr=%d stopcont_not_interrupted=%d\n", nsc, sc_eintr, sc_released);
    atomic_store(&S->go, -1);
    int st;
    xwaitpid(c, &st, 0);

    /* 3. One process-directed signal, two blocked threads. */
    long dist[3] = { 0, 0, 0 };
    for (int t = 0; t < nmt; t++) {
        atomic_store(&S->thr_eintr, 0);
        atomic_store(&S->thr_ok, 0);
        atomic_store(&S->thr_done, 0);
        atomic_store(&S->thr_handled, 0);
        xsetval(semid, 1, 0);
        fflush(stdout);
        pid_t m = fork();
        if (m < 0)
            FATAL("fork");
        if (m == 0) {
            set_handler(SIGUSR1, handler, 0);
            pthread_t th[2];
            for (int i = 0; i < 2; i++)
                pthread_create(&th[i], NULL, mt_thread, NULL);
            for (int i = 0; i < 2; i++)
                pthread_join(th[i], NULL);
            _exit(0);
        }
        wait_ncnt(1, 2);
        msleep(t % 2 ? 10 : 1);
        kill(m, SIGUSR1);
        msleep(100);
        struct sembuf V = { 1, 2, 0 };
        semop(semid, &V, 1);
        xwaitpid(m, &st, 0);
        int e = atomic_load(&S->thr_eintr);
        if (atomic_load(&S->thr_done) != 2 || e > 2)
            ANOMALY("mt trial %d: %d threads done, %d EINTR", t, atomic_load(&S->thr_done), e);
        else
            dist[e]++;
    }
    printf("mt_trials=%d mt_eintr0=%ld mt_eintr1=%ld mt_eintr2=%ld\n", nmt, dist[0], dist[1], dist[2]);
    semctl(semid, 0, IPC_RMID);
    return t_exit_code();
}
