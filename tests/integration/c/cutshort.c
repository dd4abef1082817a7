/*
 * cutshort: a signal that reaches a semop before the call is served.
 *
 * Under sembox a trapped call sleeps until the supervisor receives it, and
 * a signal in that window makes the kernel drop it: EINTR, or, with an
 * SA_RESTART handler, the same call again after the handler. Linux ends a
 * semop asleep on a semaphore with EINTR and never restarts it. To make
 * the window wide and the outcome deterministic, the program stops its
 * parent when that is sembox (SIGSTOP: nothing is received) while a child
 * makes its call, which a timer of the child's interrupts; it waits for
 * the child's handler to have run, and lets sembox go on (SIGCONT).
 * Natively the parent is not stopped: the child's semop sleeps in the
 * kernel and the timer's signal interrupts it.
 *
 * sembox traps kill() (to look at once at the targets' waits), so no
 * signal can be sent with kill() while it is stopped: the child's signals
 * come from its own timers, and sembox's SIGCONT from the kernel, as the
 * SIGIO of a pipe whose owner sembox is (F_SETOWN, F_SETSIG).
 * Either way the results must be Linux's:
 *
 *  1 P that blocks, SA_RESTART handler         -> EINTR
 *  2 P that blocks, handler without SA_RESTART -> EINTR
 *  3 semtimedop(10 s) that blocks, SA_RESTART  -> EINTR
 *  4 V (does not block), SA_RESTART            -> done once
 *  5 after case 2 (a cut call never restarted), a P that blocks with no
 *    signal at all must wait until a V
 *  6 wait-for-zero that blocks, SA_RESTART, two signals in the window
 *                                               -> EINTR
 *
 * The parent reads /proc/CHILD/stat through a descriptor opened before
 * sembox is stopped: an open() would itself wait for sembox.
 */
#include "common.h"

static pid_t stopper; /* sembox, when it is our parent; else 0 */
static volatile int *handled; /* shared: handler runs in the child */
static int contfd[2]; /* a byte written to contfd[1] sends sembox SIGCONT */

static void handler(int sig) { (void)sig; __atomic_add_fetch(handled, 1, __ATOMIC_SEQ_CST); }

static void cont_sembox(void) {
    char x = 'c';
    if (stopper > 0 && write(contfd[1], &x, 1) != 1)
        FATAL("write to the SIGCONT pipe");
    usleep(1000);
    while (stopper > 0 && read(contfd[0], &x, 1) == 1)
        ;
}

static void watchdog(int sig) {
    cont_sembox();
    it_watchdog(sig);
}

/* The SIGCONT pipe: its read end's owner is sembox, its signal SIGCONT. */
static void setup_cont(void) {
    if (stopper <= 0)
        return;
    if (pipe2(contfd, O_CLOEXEC) < 0 ||
        fcntl(contfd[0], F_SETOWN, stopper) < 0 ||
        fcntl(contfd[0], F_SETSIG, SIGCONT) < 0 ||
        fcntl(contfd[0], F_SETFL, O_ASYNC | O_NONBLOCK) < 0)
        FATAL("SIGCONT pipe");
}

static pid_t parent_if_sembox(void) {
    char path[64], comm[64] = "";
    snprintf(path, sizeof path, "/proc/%d/comm", (int)getppid());
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    if (!fgets(comm, sizeof comm, f))
        comm[0] = 0;
    fclose(f);
    return strncmp(comm, "sembox", 6) == 0 ? getppid() : 0;
}

/* The state letter of a task, from a descriptor open on its stat file. */
static char state_of(int fd) {
    char b[512];
    ssize_t n = pread(fd, b, sizeof b - 1, 0);
    if (n <= 0)
        return 0;
    b[n] = 0;
    char *p = strrchr(b, ')');
    return p && p[1] == ' ' ? p[2] : 0;
}

static int open_stat(pid_t pid) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        FATAL("open %s", path);
    return fd;
}

static void wait_state(int fd, const char *states, const char *what) {
    for (int i = 0; i < 200000; i++) {
        char c = state_of(fd);
        if (c && strchr(states, c))
            return;
        usleep(50);
    }
    FATAL("%s: state never in %s", what, states);
}

static void wait_handled(int want) {
    for (int i = 0; i < 200000; i++) {
        if (__atomic_load_n(handled, __ATOMIC_SEQ_CST) >= want)
            return;
        usleep(50);
    }
    FATAL("handler never ran %d times", want);
}

static void stop_sembox(void) {
    if (stopper <= 0)
        return;
    int fd = open_stat(stopper);
    if (kill(stopper, SIGSTOP) < 0)
        FATAL("SIGSTOP sembox");
    wait_state(fd, "T", "sembox");
    close(fd);
}


struct op { short num, op, flg; int timed; int restart; int nsig; };

/* One case: a child makes op on set id while the parent signals it. */
static void one(int n, int id, struct op o) {
    int rp[2], go[2];
    if (pipe(rp) < 0 || pipe(go) < 0)
        FATAL("pipe");
    __atomic_store_n(handled, 0, __ATOMIC_SEQ_CST);
    pid_t c = xfork();
    if (c == 0) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = handler;
        sa.sa_flags = o.restart ? SA_RESTART : 0;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGUSR1, &sa, NULL);
        close(go[1]);
        timer_t timers[4];
        struct sigevent ev;
        memset(&ev, 0, sizeof ev);
        ev.sigev_notify = SIGEV_SIGNAL;
        ev.sigev_signo = SIGUSR1;
        for (int i = 0; i < o.nsig; i++)
            if (timer_create(CLOCK_MONOTONIC, &ev, &timers[i]) < 0)
                _exit(92);
        char x;
        if (read(go[0], &x, 1) != 1)
            _exit(90);
        /* One signal every 30 ms from now: the first comes while the call
         * below waits (in the kernel, or for sembox to receive it). */
        for (int i = 0; i < o.nsig; i++) {
            struct itimerspec its = { { 0, 0 }, { 0, 30000000L * (i + 1) } };
            if (timer_settime(timers[i], 0, &its, NULL) < 0)
                _exit(93);
        }
        struct sembuf b = { o.num, o.op, o.flg };
        struct timespec ten = { 10, 0 };
        int rc = o.timed ? semtimedop(id, &b, 1, &ten) : semop(id, &b, 1);
        int out[2] = { rc, rc < 0 ? errno : 0 };
        if (write(rp[1], out, sizeof out) != sizeof out)
            _exit(91);
        /* Asleep until the parent is done, so that natively, where the
         * call may not block, the signal comes here instead. */
        while (read(go[0], &x, 1) < 0 && errno == EINTR)
            ;
        _exit(0);
    }
    int st = open_stat(c);
    stop_sembox();
    if (write(go[1], "g", 1) != 1)
        FATAL("write");
    wait_handled(o.nsig);
    wait_state(st, "SZ", "child after its handlers");
    cont_sembox();
    int out[2];
    if (read(rp[0], out, sizeof out) != sizeof out)
        FATAL("read result");
    close(go[1]);
    xwait(c);
    close(st);
    close(rp[0]); close(rp[1]); close(go[0]);
    printf("case %d: %s handled=%d val=%d ncnt=%d zcnt=%d\n", n, res(out[0], out[1]),
           __atomic_load_n(handled, __ATOMIC_SEQ_CST), getval(id, 0), getncnt(id, 0), getzcnt(id, 0));
}

int main(void) {
    it_setup();
    stopper = parent_if_sembox();
    setup_cont();
    signal(SIGALRM, watchdog);
    handled = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (handled == MAP_FAILED)
        FATAL("mmap");
    int id = xsemget(IPC_PRIVATE, 1, 0600);

    one(1, id, (struct op){ 0, -1, 0, 0, 1, 1 });
    one(2, id, (struct op){ 0, -1, 0, 0, 0, 1 });
    one(3, id, (struct op){ 0, -1, 0, 1, 1, 1 });
    one(4, id, (struct op){ 0, +1, 0, 0, 1, 1 });
    xsetval(id, 0, 0);

    /* 5: case 2's cut is never claimed by a restart; an innocent P that
     * blocks right after must not take it for its own. */
    one(2, id, (struct op){ 0, -1, 0, 0, 0, 1 });
    int rp[2];
    if (pipe(rp) < 0)
        FATAL("pipe");
    pid_t c = xfork();
    if (c == 0) {
        struct sembuf b = { 0, -1, 0 };
        int rc = semop(id, &b, 1);
        int out[2] = { rc, rc < 0 ? errno : 0 };
        if (write(rp[1], out, sizeof out) != sizeof out)
            _exit(91);
        _exit(0);
    }
    wait_ctl(id, 0, GETNCNT, 1, "innocent P blocked");
    msleep(20);
    struct sembuf v = { 0, 1, 0 };
    if (semop(id, &v, 1) < 0)
        FATAL("V");
    int out[2];
    if (read(rp[0], out, sizeof out) != sizeof out)
        FATAL("read");
    xwait(c);
    printf("case 5: %s val=%d\n", res(out[0], out[1]), getval(id, 0));

    xsetval(id, 0, 1);
    one(6, id, (struct op){ 0, 0, 0, 0, 1, 2 });
    xrmid(id);
    printf("done\n");
    return 0;
}
