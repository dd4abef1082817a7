/*
 * killstorm: a lock (one semaphore, value 1) taken with SEM_UNDO by worker
 * processes, while a killer SIGKILLs random workers (half of the time the
 * current holder) and starts new ones.
 *
 * usage: killstorm KILLS WORKERS REAPTRIALS
 *
 * Checks (each failure prints ANOMALY):
 *   - never two holders at once: a holder sets its bit in a shared mask;
 *     another live bit at acquisition, or during the hold, is a second
 *     holder unless the killer had flagged that slot for SIGKILL before
 *     killing it (its bit stays until the killer has reaped it);
 *   - GETVAL is 0 while a holder holds and never above 1 (a monitor
 *     process samples it all the time): an undo applied twice shows here;
 *   - no stall: acquisitions go on (an undo that is lost leaves the lock
 *     taken forever);
 *   - at the end, with every worker gone, the value comes back to 1.
 * Then REAPTRIALS times: a child takes a second lock with SEM_UNDO and is
 * SIGKILLed; right after waitpid() the parent reads GETVAL. Linux applies
 * the undo before the parent can reap the child (exit_sem runs before
 * exit_notify), so natively the value is always back; the program prints
 * how often and for how long it was not (reap_undo_*).
 */
#include "torture.h"

#define MAXW 64

enum { ST_IDLE, ST_WAITING, ST_HOLDING, ST_RELEASING };

struct slot {
    atomic_int pid;
    atomic_int state;
    atomic_int killed;   /* set by the killer before kill() */
    atomic_int checking; /* the worker is looking at the mask and the killed flags */
};

struct shm {
    atomic_ullong mask;  /* bit i: slot i holds the lock */
    atomic_int owner;    /* slot+1 of the last holder */
    atomic_int stop;
    atomic_long acquires, releases, timedout;
    atomic_long takeovers;   /* acquired while a killed holder's bit was still set */
    atomic_long getval_checks, monitor_samples;
    atomic_long semop_errors;
    struct slot slots[MAXW];
};

static struct shm *S;
static int semid;

static int slot_killed(unsigned long long bits) {
    for (int j = 0; j < MAXW; j++)
        if ((bits >> j & 1) && !atomic_load(&S->slots[j].killed))
            return 0;
    return 1;
}

static void worker(int i, uint64_t seed) {
    struct slot *me = &S->slots[i];
    unsigned long long bit = 1ULL << i;
    uint64_t r = seed;
    struct sembuf P = { 0, -1, SEM_UNDO }, V = { 0, 1, SEM_UNDO };
    while (!atomic_load(&S->stop)) {
        atomic_store(&me->state, ST_WAITING);
        int timed = rnd_below(&r, 5) == 0;
        int rc;
        if (timed) {
            struct timespec ts = { 0, 200 * 1000000L };
            rc = semtimedop(semid, &P, 1, &ts);
        } else {
            rc = semop(semid, &P, 1);
        }
        if (rc < 0) {
            if (timed && errno == EAGAIN) {
                atomic_fetch_add(&S->timedout, 1);
                continue;
            }
            atomic_fetch_add(&S->semop_errors, 1);
            ANOMALY("worker %d: P returned %s", i, en(errno));
            msleep(1);
            continue;
        }
        /* While checking is set, the killer does not reset the killed
         * flag of a slot whose stale bit we may have seen. */
        atomic_store(&me->checking, 1);
        unsigned long long old = atomic_fetch_or(&S->mask, bit);
        atomic_store(&S->owner, i + 1);
        atomic_store(&me->state, ST_HOLDING);
        atomic_fetch_add(&S->acquires, 1);
        if (old & ~bit) {
            if (slot_killed(old & ~bit))
                atomic_fetch_add(&S->takeovers, 1);
            else
                ANOMALY("two holders: slot %d acquired while mask=%#llx (live holder)", i, old);
        }
        atomic_store(&me->checking, 0);
        /* Hold: the value must be 0 and nobody else may come in. */
        int v = getval(semid, 0);
        atomic_fetch_add(&S->getval_checks, 1);
        if (v != 0)
            ANOMALY("slot %d holds the lock but GETVAL=%d (rc errno %s)", i, v, v < 0 ? en(errno) : "-");
        spin_ns(20000 + (long long)rnd_below(&r, 180000));
        atomic_store(&me->checking, 1);
        unsigned long long now = atomic_load(&S->mask);
        if ((now & ~bit) && !slot_killed(now & ~bit))
            ANOMALY("two holders: slot %d still holds while mask=%#llx", i, now);
        atomic_store(&me->checking, 0);
        atomic_store(&me->state, ST_RELEASING);
        atomic_fetch_and(&S->mask, ~bit);
        if (semop(semid, &V, 1) < 0) {
            atomic_fetch_add(&S->semop_errors, 1);
            ANOMALY("worker %d: V returned %s", i, en(errno));
        } else {
            atomic_fetch_add(&S->releases, 1);
        }
        atomic_store(&me->state, ST_IDLE);
        if (rnd_below(&r, 2))
            sleep_ns((long long)rnd_below(&r, 100000));
    }
    _exit(0);
}

static pid_t start_worker(int i, uint64_t seed, int nw) {
    /* A worker that saw slot i's stale bit must finish looking at its
     * killed flag before the flag is reset (the bit is already clear, so
     * no later look can see it). */
    atomic_store(&S->slots[i].checking, 0);
    long long t0 = now_ns();
    for (int j = 0; j < nw; j++)
        while (j != i && atomic_load(&S->slots[j].checking) && now_ns() - t0 < 1000000000LL)
            sched_yield();
    atomic_store(&S->slots[i].killed, 0);
    atomic_store(&S->slots[i].state, ST_IDLE);
    fflush(stdout);
    pid_t p = fork();
    if (p < 0)
        FATAL("fork");
    if (p == 0)
        worker(i, seed);
    atomic_store(&S->slots[i].pid, p);
    return p;
}

static void monitor(void) {
    long long maxv = 0;
    while (!atomic_load(&S->stop)) {
        int v = getval(semid, 0);
        atomic_fetch_add(&S->monitor_samples, 1);
        if (v < 0 || v > 1) {
            ANOMALY("monitor: GETVAL=%d (%s)", v, v < 0 ? en(errno) : "above 1");
            if (v > maxv)
                maxv = v;
        }
        sleep_ns(50000);
    }
    _exit(0);
}

static void reap_trials(int n) {
    int id = xsemget(IPC_PRIVATE, 1, IPC_CREAT | 0600);
    xsetval(id, 0, 1);
    long long *lag = calloc((size_t)n + 1, sizeof *lag);
    int pending = 0, nlag = 0, lost = 0;
    for (int t = 0; t < n; t++) {
        int pfd[2];
        if (pipe(pfd) < 0)
            FATAL("pipe");
        pid_t c = fork();
        if (c < 0)
            FATAL("fork");
        if (c == 0) {
            struct sembuf P = { 0, -1, SEM_UNDO };
            if (semop(id, &P, 1) < 0)
                _exit(3);
            char b = 1;
            if (write(pfd[1], &b, 1) != 1)
                _exit(4);
            for (;;)
                pause();
        }
        close(pfd[1]);
        char b;
        if (read(pfd[0], &b, 1) != 1)
            FATAL("reap trial %d: child did not take the lock", t);
        close(pfd[0]);
        kill(c, SIGKILL);
        int st;
        if (xwaitpid(c, &st, 0) != c)
            FATAL("waitpid");
        long long t0 = now_ns();
        int v = getval(id, 0);
        if (v == 1)
            continue;
        pending++;
        while (v != 1 && now_ns() - t0 < 2000000000LL) {
            sleep_ns(20000);
            v = getval(id, 0);
        }
        if (v != 1) {
            lost++;
            ANOMALY("reap trial %d: undo of a killed holder not applied 2 s after reaping (GETVAL=%d)", t, v);
            xsetval(id, 0, 1);
        } else {
            lag[nlag++] = now_ns() - t0;
        }
    }
    printf("reap_trials=%d reap_undo_pending_at_reap=%d reap_undo_lost=%d\n", n, pending, lost);
    print_dist("reap_undo_lag", lag, nlag);
    semctl(id, 0, IPC_RMID);
    free(lag);
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: killstorm KILLS WORKERS REAPTRIALS\n");
        return 2;
    }
    int kills = atoi(argv[1]), nw = atoi(argv[2]), reapn = atoi(argv[3]);
    if (nw < 2 || nw > MAXW)
        FATAL("workers must be 2..%d", MAXW);
    t_setup(60 + kills / 20);
    S = shared_alloc(sizeof *S);
    semid = xsemget(IPC_PRIVATE, 1, IPC_CREAT | 0600);
    xsetval(semid, 0, 1);
    uint64_t rs = 0x9e3779b97f4a7c15ULL ^ (uint64_t)getpid();

    pid_t mon = fork();
    if (mon < 0)
        FATAL("fork");
    if (mon == 0)
        monitor();
    for (int i = 0; i < nw; i++)
        start_worker(i, rnd_next(&rs), nw);

    long k_hold = 0, k_wait = 0, k_release = 0, k_idle = 0, k_exited = 0, stalls = 0;
    long last_acq = -1;
    long long last_progress = now_ns(), t_start = now_ns();
    for (int k = 0; k < kills; k++) {
        sleep_ns((long long)rnd_below(&rs, 3000000));
        int i = -1;
        if (rnd_below(&rs, 2)) {
            /* Aim at a holder: wait up to 5 ms for one. */
            long long until = now_ns() + 5000000LL;
            while (i < 0 && now_ns() < until) {
                for (int j = 0; j < nw; j++)
                    if (atomic_load(&S->slots[j].state) == ST_HOLDING) {
                        i = j;
                        break;
                    }
            }
        }
        if (i < 0)
            i = (int)rnd_below(&rs, (uint64_t)nw);
        pid_t p = atomic_load(&S->slots[i].pid);
        atomic_store(&S->slots[i].killed, 1);
        kill(p, SIGKILL);
        int st;
        if (xwaitpid(p, &st, 0) != p)
            FATAL("waitpid(%d)", (int)p);
        if (!(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL)) {
            k_exited++;
            ANOMALY("worker slot %d ended with status %#x, not SIGKILL", i, st);
        }
        switch (atomic_load(&S->slots[i].state)) {
        case ST_HOLDING:   k_hold++; break;
        case ST_WAITING:   k_wait++; break;
        case ST_RELEASING: k_release++; break;
        default:           k_idle++; break;
        }
        /* The worker is dead: its bit, if any, is stale. */
        atomic_fetch_and(&S->mask, ~(1ULL << i));
        start_worker(i, rnd_next(&rs), nw);

        long a = atomic_load(&S->acquires);
        if (a != last_acq) {
            last_acq = a;
            last_progress = now_ns();
        } else if (now_ns() - last_progress > 3000000000LL) {
            stalls++;
            ANOMALY("stall: no acquisition for 3 s (acquires=%ld GETVAL=%d GETNCNT=%d mask=%#llx)",
                    a, getval(semid, 0), semctl(semid, 0, GETNCNT), (unsigned long long)atomic_load(&S->mask));
            break;
        }
    }
    long long storm_ns = now_ns() - t_start;

    /* Let every worker leave by itself: each takes the lock once more. */
    atomic_store(&S->stop, 1);
    long long t_stop = now_ns();
    for (int i = 0; i < nw; i++) {
        pid_t p = atomic_load(&S->slots[i].pid);
        int st;
        for (;;) {
            pid_t r = xwaitpid(p, &st, WNOHANG);
            if (r == p)
                break;
            if (now_ns() - t_stop > 10000000000LL) {
                ANOMALY("worker slot %d did not finish within 10 s of stop (GETVAL=%d GETNCNT=%d)",
                        i, getval(semid, 0), semctl(semid, 0, GETNCNT));
                kill(p, SIGKILL);
                xwaitpid(p, &st, 0);
                break;
            }
            msleep(1);
        }
    }
    int st;
    xwaitpid(mon, &st, 0);

    long long t_settle = now_ns();
    int v = getval(semid, 0);
    int first_v = v;
    while (v != 1 && now_ns() - t_settle < 2000000000LL) {
        msleep(1);
        v = getval(semid, 0);
    }
    if (v != 1)
        ANOMALY("final GETVAL=%d after all workers are gone and 2 s of settling, want 1", v);
    int ncnt = semctl(semid, 0, GETNCNT);
    if (ncnt != 0)
        ANOMALY("final GETNCNT=%d, want 0", ncnt);

    printf("kills=%d workers=%d storm_ms=%lld\n", kills, nw, storm_ns / 1000000);
    printf("killed_holding=%ld killed_waiting=%ld killed_releasing=%ld killed_idle=%ld killed_not_by_sigkill=%ld\n",
           k_hold, k_wait, k_release, k_idle, k_exited);
    printf("acquires=%ld releases=%ld timed_out=%ld takeovers_after_kill=%ld semop_errors=%ld\n",
           atomic_load(&S->acquires), atomic_load(&S->releases), atomic_load(&S->timedout),
           atomic_load(&S->takeovers), atomic_load(&S->semop_errors));
    printf("getval_checks_while_holding=%ld monitor_samples=%ld stalls=%ld\n",
           atomic_load(&S->getval_checks), atomic_load(&S->monitor_samples), stalls);
    printf("final_value=%d value_when_all_reaped=%d final_settle_us=%lld\n", v, first_v,
           first_v == 1 ? 0LL : (now_ns() - t_settle) / 1000);
    semctl(semid, 0, IPC_RMID);

    if (reapn > 0)
        reap_trials(reapn);
    return t_exit_code();
}
