/*
 * statewait: synchronising on /proc/PID/stat's state, as test suites do
 * (LTP's TST_PROCESS_STATE_WAIT), with a child blocked in semtimedop
 * (issue 8).
 *
 * usage: statewait ROUNDS MODE [HOGS [VARIANT [MAXWRONG]]]
 *   MODE      rmid, signal, or both (alternating, rmid first)
 *   HOGS      busy-loop processes (nice 0) running beside the test for its
 *             whole duration (default 0); they are SIGKILLed at the end,
 *             and die with the program (PR_SET_PDEATHSIG) in any case
 *   VARIANT   fresh (default): the child's semtimedop is its first
 *             semaphore call; known: the child makes a GETVAL first (so
 *             that under sembox it is a thread the supervisor already knows)
 *   MAXWRONG  stop after this many wrong results (default 5; 0: never), to
 *             bound the run time (a wrong result in signal mode costs the
 *             2 s timeout)
 *   The environment variable STATEWAIT_POLL_US sets the poll interval
 *   (default 100 µs; 0: sched_yield() between polls; LTP sleeps 10 ms).
 *
 * Each round: a set is created (IPC_PRIVATE, 1 semaphore, value 0); a
 * child forks, installs a SIGUSR1 handler with signal(3) (glibc: BSD
 * semantics, so SA_RESTART), in the known variant calls GETVAL, sets a
 * flag in shared memory and calls semtimedop(id, {0,-1,0}, 1, {2 s}). The
 * parent waits for the flag, then reads /proc/CHILD/stat (the state field
 * after the last ')') every POLL_US until it is 'S', and then
 *   rmid:   removes the set: the child must get EIDRM (Linux: a task
 *           seen sleeping in semtimedop is queued on the set, and
 *           IPC_RMID wakes it with EIDRM);
 *   signal: sends the child SIGUSR1: it must get EINTR (semop is never
 *           restarted, SA_RESTART or not); the set is removed afterwards.
 * Between the flag and semtimedop the child makes no system call, so
 * natively 'S' can only be the sleep in semtimedop. The child reports its
 * errno in its exit status. Any other result is an ANOMALY (the first 10
 * are printed; the rest counted). A signal-mode ANOMALY says when the
 * handler ran: right after the signal while the call still returned at the
 * timeout means the call was restarted (under sembox: the signal came
 * before the supervisor received the call, and SA_RESTART restarted it).
 *
 * Printed: "rmid: rounds= eidrm= einval= other=", "signal: rounds=
 * eintr= eagain= other=", the time from the parent's action to the
 * child's return (*_ret) and from the child's call to the action
 * (*_call_to_action), and "wrong= rounds_done= stopped_early=".
 */
#include "torture.h"

struct shm {
    atomic_int ready;       /* the child is about to call semtimedop */
    atomic_llong t_call;    /* when it called semtimedop */
    atomic_llong t_ret;     /* when its semtimedop returned */
    atomic_llong t_handler; /* when its SIGUSR1 handler ran */
};

static struct shm *S;

static void on_usr1(int sig) {
    (void)sig;
    atomic_store(&S->t_handler, now_ns());
}

enum { M_RMID, M_SIGNAL };

struct counts {
    int rounds, ok, bad_other;
    int wrong_kind;   /* EINVAL after rmid, EAGAIN after signal */
    int never_s;      /* the child had returned before it was seen in 'S' */
    long long *lat;   /* action -> child's return, ns */
    long long *act;   /* child's call -> action, ns */
    int nlat;
};

/* The state letter of pid from /proc/PID/stat, 0 if it cannot be read. */
static char proc_state(pid_t pid) {
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = 0;
    char *p = strrchr(buf, ')');
    if (!p || p[1] != ' ')
        return 0;
    return p[2];
}

static int poll_us = 100;

/* The pause between two polls: poll_us µs, or sched_yield() if 0. */
static void poll_pause(void) {
    if (poll_us > 0)
        usleep(poll_us);
    else
        sched_yield();
}

static void hog(pid_t parent) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        _exit(0);
    volatile unsigned long x = 0;
    for (;;)
        x++;
}

int main(int argc, char **argv) {
    if (argc < 3 || argc > 6) {
        fprintf(stderr, "usage: statewait ROUNDS rmid|signal|both [HOGS [fresh|known [MAXWRONG]]]\n");
        return 2;
    }
    int rounds = atoi(argv[1]);
    const char *mode = argv[2];
    int hogs = argc > 3 ? atoi(argv[3]) : 0;
    const char *variant = argc > 4 ? argv[4] : "fresh";
    int maxwrong = argc > 5 ? atoi(argv[5]) : 5;
    int known = !strcmp(variant, "known");
    if (strcmp(mode, "rmid") && strcmp(mode, "signal") && strcmp(mode, "both")) {
        fprintf(stderr, "statewait: bad MODE %s\n", mode);
        return 2;
    }
    if (!known && strcmp(variant, "fresh")) {
        fprintf(stderr, "statewait: bad VARIANT %s\n", variant);
        return 2;
    }
    if (getenv("STATEWAIT_POLL_US"))
        poll_us = atoi(getenv("STATEWAIT_POLL_US"));
    /* Worst case per round: a wrong 2 s wait; MAXWRONG bounds those. */
    t_setup(60 + rounds / 5 + 3 * (maxwrong > 0 ? maxwrong : rounds));
    S = shared_alloc(sizeof *S);
    printf("config: rounds=%d mode=%s hogs=%d variant=%s maxwrong=%d poll_us=%d\n", rounds, mode, hogs,
           variant, maxwrong, poll_us);
    fflush(stdout);

    pid_t me = getpid();
    pid_t *hogpid = calloc((size_t)hogs + 1, sizeof *hogpid);
    for (int i = 0; i < hogs; i++) {
        hogpid[i] = fork();
        if (hogpid[i] < 0)
            FATAL("fork hog");
        if (hogpid[i] == 0)
            hog(me);
    }

    struct counts c[2];
    memset(c, 0, sizeof c);
    for (int m = 0; m < 2; m++)
        c[m].lat = calloc((size_t)rounds + 1, sizeof(long long)),
        c[m].act = calloc((size_t)rounds + 1, sizeof(long long));
    int wrong = 0, shown = 0, done = 0, polls_max = 0;
    long long polls_total = 0, t_start = now_ns();

    for (int r = 0; r < rounds; r++) {
        if (maxwrong > 0 && wrong >= maxwrong)
            break;
        int m = !strcmp(mode, "rmid") ? M_RMID : !strcmp(mode, "signal") ? M_SIGNAL : (r & 1);
        struct counts *k = &c[m];
        int id = xsemget(IPC_PRIVATE, 1, IPC_CREAT | 0600);
        atomic_store(&S->ready, 0);
        atomic_store(&S->t_ret, 0);
        atomic_store(&S->t_handler, 0);
        pid_t pid = fork();
        if (pid < 0)
            FATAL("fork");
        if (pid == 0) {
            signal(SIGUSR1, on_usr1); /* BSD semantics: SA_RESTART */
            if (known && semctl(id, 0, GETVAL) != 0)
                _exit(200);
            atomic_store(&S->ready, 1);
            struct sembuf P = { 0, -1, 0 };
            struct timespec ts = { 2, 0 };
            atomic_store(&S->t_call, now_ns());
            int rc = semtimedop(id, &P, 1, &ts);
            int e = rc < 0 ? errno : 0;
            atomic_store(&S->t_ret, now_ns());
            _exit(e);
        }
        long long t0 = now_ns();
        while (!atomic_load(&S->ready)) {
            if (now_ns() - t0 > 10000000000LL)
                FATAL("round %d: child %d never got ready", r, (int)pid);
            poll_pause();
        }
        /* TST_PROCESS_STATE_WAIT(pid, 'S') */
        int polls = 0;
        char st;
        for (;;) {
            st = proc_state(pid);
            polls++;
            if (st == 'S' || st == 'Z' || st == 'X' || st == 0)
                break;
            if (now_ns() - t0 > 10000000000LL) {
                dump_task("stuck", pid);
                FATAL("round %d: child %d not in S after 10 s (state %c)", r, (int)pid, st);
            }
            poll_pause();
        }
        polls_total += polls;
        if (polls > polls_max)
            polls_max = polls;
        if (st != 'S')
            k->never_s++;
        long long ta = now_ns();
        if (m == M_RMID) {
            if (semctl(id, 0, IPC_RMID) < 0)
                FATAL("round %d: IPC_RMID", r);
        } else if (kill(pid, SIGUSR1) < 0) {
            FATAL("round %d: kill", r);
        }
        int status = 0;
        long long tw = now_ns();
        pid_t w;
        while ((w = xwaitpid(pid, &status, WNOHANG)) == 0) {
            if (now_ns() - tw > 10000000000LL) {
                dump_task("hung", pid);
                kill(pid, SIGKILL);
                xwaitpid(pid, &status, 0);
                status = -1;
                break;
            }
            usleep(200);
        }
        if (w < 0)
            FATAL("round %d: waitpid", r);
        if (m == M_SIGNAL && semctl(id, 0, IPC_RMID) < 0)
            FATAL("round %d: IPC_RMID after the signal", r);
        k->act[k->rounds] = ta - atomic_load(&S->t_call);
        long long tr = atomic_load(&S->t_ret);
        if (tr)
            k->lat[k->nlat++] = tr - ta;
        k->rounds++;
        done++;

        int e = status >= 0 && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        int want = m == M_RMID ? EIDRM : EINTR;
        if (e == want) {
            k->ok++;
            continue;
        }
        wrong++;
        if ((m == M_RMID && e == EINVAL) || (m == M_SIGNAL && e == EAGAIN))
            k->wrong_kind++;
        else
            k->bad_other++;
        if (shown++ < 10) {
            char what[64];
            if (status == -1)
                snprintf(what, sizeof what, "no return within 10 s (killed)");
            else if (e == 200)
                snprintf(what, sizeof what, "its GETVAL failed");
            else if (e >= 0)
                snprintf(what, sizeof what, "%s", en(e));
            else
                snprintf(what, sizeof what, "status 0x%x", status);
            char hnd[96] = "";
            long long th = atomic_load(&S->t_handler);
            if (m == M_SIGNAL && th) /* long before the return: the call was restarted */
                snprintf(hnd, sizeof hnd, "; its handler ran %.3f ms after the signal", (th - ta) / 1e6);
            ANOMALY("round %d: child seen in state %c after %d polls; after %s it got %s, want %s "
                    "(returned %.1f ms after the %s%s)",
                    r, st ? st : '?', polls, m == M_RMID ? "IPC_RMID" : "SIGUSR1", what, en(want),
                    tr ? (tr - ta) / 1e6 : -1.0, m == M_RMID ? "removal" : "signal", hnd);
        }
    }
    long long elapsed = now_ns() - t_start;

    for (int i = 0; i < hogs; i++)
        kill(hogpid[i], SIGKILL);
    for (int i = 0; i < hogs; i++)
        xwaitpid(hogpid[i], NULL, 0);

    if (shown > 10)
        ANOMALY("%d more wrong results not shown", shown - 10);
    printf("rmid: rounds=%d eidrm=%d einval=%d other=%d returned_before_s=%d\n", c[M_RMID].rounds,
           c[M_RMID].ok, c[M_RMID].wrong_kind, c[M_RMID].bad_other, c[M_RMID].never_s);
    printf("signal: rounds=%d eintr=%d eagain=%d other=%d returned_before_s=%d\n", c[M_SIGNAL].rounds,
           c[M_SIGNAL].ok, c[M_SIGNAL].wrong_kind, c[M_SIGNAL].bad_other, c[M_SIGNAL].never_s);
    print_dist("rmid_ret", c[M_RMID].lat, c[M_RMID].nlat);
    print_dist("signal_ret", c[M_SIGNAL].lat, c[M_SIGNAL].nlat);
    print_dist("rmid_call_to_action", c[M_RMID].act, c[M_RMID].rounds);
    print_dist("signal_call_to_action", c[M_SIGNAL].act, c[M_SIGNAL].rounds);
    printf("state_polls_mean=%.1f state_polls_max=%d\n", done ? (double)polls_total / done : 0.0, polls_max);
    printf("wrong=%d rounds_done=%d stopped_early=%d elapsed_ms=%lld\n", wrong, done, done < rounds,
           elapsed / 1000000);
    return t_exit_code();
}
