/*
 * eintr: a child blocked in semop receives signals.
 *
 *  1 handler without SA_RESTART              -> EINTR
 *  2 handler with SA_RESTART                 -> EINTR (SysV IPC is never restarted)
 *  3 SIGSTOP + SIGCONT, no handler           -> EINTR (Linux)
 *  4 blocked signal (sigprocmask)            -> not interrupted; later gets the semaphore
 *  5 signal whose default action is ignore   -> not interrupted
 *  6 signal set to SIG_IGN                   -> not interrupted
 *  7 semtimedop(10 s) + handler              -> EINTR
 *  8 wait-for-zero + handler (SA_RESTART)    -> EINTR
 *  9 SIGKILL                                 -> killed, no longer counted
 *
 * The parent waits for a handshake on a pipe and for GETNCNT/GETZCNT to
 * show the child blocked before signalling. After every case GETNCNT and
 * GETZCNT are back to 0.
 */
#include "common.h"

static volatile sig_atomic_t handled;
static void handler(int sig) { (void)sig; handled++; }

struct result { int rc, err, handled_before, handled_after; };

static void set_handler(int sig, int flags) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = handler;
    sa.sa_flags = flags;
    sigemptyset(&sa.sa_mask);
    if (sigaction(sig, &sa, NULL) < 0)
        _exit(90);
}

static void set_disp(int sig, void (*h)(int)) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = h;
    sigemptyset(&sa.sa_mask);
    if (sigaction(sig, &sa, NULL) < 0)
        _exit(91);
}

static void child(int id, int ctl, int out) {
    unsigned char c;
    while (xread(ctl, &c, 1)) {
        struct result r = { 0, 0, 0, 0 };
        struct sembuf P = sb(0, -1, 0), Z = sb(1, 0, 0);
        struct timespec ten = { 10, 0 };
        sigset_t set;
        handled = 0;
        switch (c) {
        case 1: set_handler(SIGUSR1, 0); break;
        case 2: set_handler(SIGUSR1, SA_RESTART); break;
        case 3: set_disp(SIGUSR1, SIG_DFL); break;
        case 4:
            set_handler(SIGUSR2, 0);
            sigemptyset(&set);
            sigaddset(&set, SIGUSR2);
            sigprocmask(SIG_BLOCK, &set, NULL);
            break;
        case 5: set_disp(SIGWINCH, SIG_DFL); break;
        case 6: set_disp(SIGUSR1, SIG_IGN); break;
        case 7: set_handler(SIGUSR1, 0); break;
        case 8: set_handler(SIGUSR1, SA_RESTART); break;
        case 9: break;
        }
        xwrite(out, &c, 1);
        if (c == 7)
            r.rc = semtimedop(id, &P, 1, &ten);
        else if (c == 8)
            r.rc = semop(id, &Z, 1);
        else
            r.rc = semop(id, &P, 1);
        r.err = r.rc < 0 ? errno : 0;
        r.handled_before = handled;
        if (c == 4)
            sigprocmask(SIG_UNBLOCK, &set, NULL);
        r.handled_after = handled;
        xwrite(out, &r, sizeof r);
    }
    _exit(0);
}

static int readable(int fd, int ms) {
    struct pollfd pf = { fd, POLLIN, 0 };
    return poll(&pf, 1, ms) > 0;
}

int main(void) {
    it_setup();
    int id = xsemget(IPC_PRIVATE, 2, 0600);
    printf("semid=%d\n", id);
    xsetval(id, 1, 1); /* s1 = 1 so that a wait-for-zero on it blocks */

    int ctl[2], out[2];
    xpipe(ctl);
    xpipe(out);
    pid_t c = xfork();
    if (c == 0) {
        close(ctl[1]);
        close(out[0]);
        child(id, ctl[0], out[1]);
    }
    close(ctl[0]);
    close(out[1]);

    static const char *names[] = { "", "handler_no_restart", "handler_sa_restart", "sigstop_sigcont",
                                   "blocked_signal", "default_ignored_sigwinch", "sig_ign",
                                   "semtimedop_handler", "zero_wait_handler", "sigkill" };
    for (unsigned char k = 1; k <= 9; k++) {
        unsigned char ack;
        xwrite(ctl[1], &k, 1);
        if (!xread(out[0], &ack, 1) || ack != k)
            FATAL("handshake %d", k);
        if (k == 8)
            wait_zcnt(id, 1, 1);
        else
            wait_ncnt(id, 0, 1);
        printf("case %d %s: blocked ncnt=%d zcnt=%d\n", k, names[k], getncnt(id, 0), getzcnt(id, 1));

        switch (k) {
        case 1: case 2: case 7: case 8:
            kill(c, SIGUSR1);
            break;
        case 3: {
            kill(c, SIGSTOP);
            int st;
            while (waitpid(c, &st, WUNTRACED) < 0 && errno == EINTR)
                ;
            printf("case %d: stopped=%d ncnt_while_stopped=%d\n", k, WIFSTOPPED(st), getncnt(id, 0));
            kill(c, SIGCONT);
            break;
        }
        case 4: case 5: case 6: {
            kill(c, k == 4 ? SIGUSR2 : k == 5 ? SIGWINCH : SIGUSR1);
            msleep(150);
            int early = readable(out[0], 0);
            printf("case %d: interrupted_early=%d ncnt_after_150ms=%d\n", k, early, getncnt(id, 0));
            if (!early) {
                struct sembuf V = sb(0, 1, 0);
                if (semop(id, &V, 1) < 0)
                    FATAL("V");
            }
            break;
        }
        case 9: {
            kill(c, SIGKILL);
            int st = xwait(c);
            int n0 = getncnt(id, 0);
            int n = n0;
            for (int i = 0; i < 1000 && n != 0; i++) {
                msleep(1);
                n = getncnt(id, 0);
            }
            printf("case %d: child %s ncnt_right_after_waitpid=%d ncnt_within_1s=%d val=%d\n",
                   k, wstr(st), n0, n, getval(id, 0));
            continue;
        }
        }
        struct result r;
        if (!readable(out[0], 5000) || !xread(out[0], &r, sizeof r))
            FATAL("no result for case %d", k);
        printf("case %d: semop %s handled_during=%d handled_after_unblock=%d ncnt=%d zcnt=%d val=%d\n",
               k, res(r.rc, r.err), r.handled_before, r.handled_after, getncnt(id, 0), getzcnt(id, 1),
               getval(id, 0));
    }
    printf("rmid rc=%d\n", semctl(id, 0, IPC_RMID));
    return 0;
}
