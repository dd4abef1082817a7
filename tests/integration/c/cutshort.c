/*
 * cutshort: a signal that reaches a semop before the call is served.
 *
 * Under sembox a trapped call sleeps until the supervisor receives it, and
 * a signal in that window makes the kernel drop it: EINTR, or, with an
 * SA_RESTART handler, the same call again after the handler. Linux ends a
 * semop asleep on a semaphore with EINTR and never restarts it. To make
 * the window wide and the outcome deterministic, the program stops its
 * parent when that is sembox (SIGSTOP: nothing is received) while a child
 * makes its call, which the parent then interrupts; it waits for
 * the child's handler to have run, and lets sembox go on (SIGCONT).
 * Natively the parent is not stopped: the child's semop sleeps in the
 * kernel and the timer's signal interrupts it.
 *
 * sembox traps kill() and the timer calls (to look at once at the
 * targets' waits), so no signal can be sent or armed with them while it
 * is stopped: the child's signals and sembox's SIGCONT come from the
 * kernel, as the SIGIO of a pipe whose owner the target is (F_SETOWN,
 * F_SETSIG), when the parent writes to it.
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
#include <dirent.h>

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

/* Stops sembox: returns once every one of its threads is stopped. The
 * leader's state alone is not enough: under load a worker thread can
 * still be running, receive the child's call and only then stop, and a
 * received call is no longer cut short by a signal. The threads' stat
 * files are opened before the stop (an open could wait for sembox). */
static void stop_sembox(void) {
    if (stopper <= 0)
        return;
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task", (int)stopper);
    DIR *d = opendir(path);
    if (!d)
        FATAL("opendir %s", path);
    int fds[512], n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && n < 512) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        char stat[352];
        snprintf(stat, sizeof stat, "%s/%s/stat", path, e->d_name);
        int fd = open(stat, O_RDONLY | O_CLOEXEC);
        if (fd >= 0)
            fds[n++] = fd;
    }
    closedir(d);
    if (kill(stopper, SIGSTOP) < 0)
        FATAL("SIGSTOP sembox");
    for (int i = 0; i < n; i++) {
        char b[8];
        if (pread(fds[i], b, 1, 0) > 0) /* else the thread is gone */
            wait_state(fds[i], "T", "a thread of sembox");
        close(fds[i]);
    }
}


struct op { short num, op, flg; int timed; int restart; int nsig; };

/* The system call a task is in, from a descriptor open on its syscall
 * file: its number, or -1 if it is running (or the file is unreadable). */
static long syscall_of(int fd) {
    char b[256];
    ssize_t n = pread(fd, b, sizeof b - 1, 0);
    if (n <= 0)
        return -1;
    b[n] = 0;
    if (b[0] < '0' || b[0] > '9')
        return -1; /* "running" */
    return strtol(b, NULL, 10);
}

static int open_proc(pid_t pid, const char *file) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, file);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        FATAL("open %s", path);
    return fd;
}

static int readable(int fd) {
    struct pollfd pf = { fd, POLLIN, 0 };
    return poll(&pf, 1, 0) > 0;
}

/* Wait until the child is in its semop (trapped and not received, under
 * a stopped sembox; asleep in the kernel natively), or past it (done: a
 * call that did not block). */
static void wait_in_call(int sysfd, int done) {
    for (int i = 0; i < 200000; i++) {
        long nr = syscall_of(sysfd);
        if (nr == SYS_semtimedop
#ifdef SYS_semop
            || nr == SYS_semop
#endif
            || readable(done))
            return;
        usleep(50);
    }
    FATAL("the child never reached its semop");
}

/* One case: a child makes op on set id while the parent signals it. The
 * signals are SIGUSR1 as the SIGIO of a pipe the child owns (F_SETOWN,
 * F_SETSIG): the parent writes to it, no call sembox traps is made, and
 * it chooses the moment (once the child is in its call). */
static void one(int n, int id, struct op o) {
    int rp[2], go[2], sp[2], ready[2];
    if (pipe(rp) < 0 || pipe(go) < 0 || pipe(sp) < 0 || pipe(ready) < 0)
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
        if (fcntl(sp[0], F_SETOWN, getpid()) < 0 || fcntl(sp[0], F_SETSIG, SIGUSR1) < 0 ||
            fcntl(sp[0], F_SETFL, O_ASYNC | O_NONBLOCK) < 0)
            _exit(92);
        char x = 'r';
        if (write(ready[1], &x, 1) != 1) /* set up, its alarm() served */
            _exit(93);
        if (read(go[0], &x, 1) != 1)
            _exit(90);
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
    char x;
    if (read(ready[0], &x, 1) != 1)
        FATAL("child not ready");
    int st = open_stat(c), sysfd = open_proc(c, "syscall");
    stop_sembox();
    if (write(go[1], "g", 1) != 1)
        FATAL("write");
    for (int i = 1; i <= o.nsig; i++) {
        wait_in_call(sysfd, rp[0]);
        if (write(sp[1], "s", 1) != 1)
            FATAL("signal pipe");
        wait_handled(i);
        while (read(sp[0], &x, 1) < 0 && errno == EINTR) /* drained for the next one */
            ;
    }
    wait_state(st, "SZ", "child after its handlers");
    cont_sembox();
    int out[2];
    if (read(rp[0], out, sizeof out) != sizeof out)
        FATAL("read result");
    close(go[1]);
    xwait(c);
    close(st);
    close(sysfd);
    close(rp[0]); close(rp[1]); close(go[0]); close(sp[0]); close(sp[1]); close(ready[0]); close(ready[1]);
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
