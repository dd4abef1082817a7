/*
 * timers: a semop cut short by a timer the process armed itself.
 *
 *  1 alarm(1), SIGALRM handler                      -> EINTR, handler ran first
 *  2 setitimer(ITIMER_REAL, 100 ms), SA_RESTART     -> EINTR (SysV IPC is not restarted)
 *  3 timer_create(CLOCK_MONOTONIC, SIGEV_SIGNAL) + timer_settime(100 ms)
 *                                                   -> EINTR
 *  4 timer on CLOCK_REALTIME, TIMER_ABSTIME now + 100 ms -> EINTR
 *  5 timer with SIGEV_THREAD_ID at the waiting thread -> EINTR
 *  6 periodic setitimer (50 ms), semtimedop(10 s)   -> EINTR at the first expiry
 *  7 alarm(1) then alarm(0), semtimedop(300 ms)     -> EAGAIN, no handler
 *  8 timer with SIGEV_NONE, semtimedop(300 ms)      -> EAGAIN
 *  9 ITIMER_VIRTUAL (a blocked process uses no CPU), semtimedop(300 ms)
 *                                                   -> EAGAIN
 * 10 setitimer(100 ms) while the parent V's at about the same time:
 *    whichever wins, nothing is lost or applied twice (the child's P
 *    succeeded exactly if the value is back to 0)
 *
 * Each case runs in a fresh child (timers are per process). The child
 * reports the result and whether its handler had run when semop returned.
 */
#include "common.h"
#include <sys/time.h>

static volatile sig_atomic_t handled;
static void handler(int sig) { (void)sig; handled++; }

struct result { int rc, err, handled_before; };

static void set_handler(int sig, int flags) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = handler;
    sa.sa_flags = flags;
    sigemptyset(&sa.sa_mask);
    if (sigaction(sig, &sa, NULL) < 0)
        _exit(90);
}

static void child(int k, int id, int out) {
    struct result r = { 0, 0, 0 };
    struct sembuf P = sb(0, -1, 0);
    struct timespec t300 = { 0, 300 * 1000000L }, t10 = { 10, 0 };
    const struct timespec *timeout = NULL;
    struct sigevent ev;
    timer_t tm;
    memset(&ev, 0, sizeof ev);
    alarm(0); /* the watchdog's alarm would be in the way */
    set_handler(SIGALRM, 0);
    set_handler(SIGUSR1, 0);
    switch (k) {
    case 1:
        alarm(1);
        break;
    case 2: {
        set_handler(SIGALRM, SA_RESTART);
        struct itimerval v = { { 0, 0 }, { 0, 100000 } };
        setitimer(ITIMER_REAL, &v, NULL);
        break;
    }
    case 3: case 4: case 5: case 8: {
        clockid_t clk = k == 4 ? CLOCK_REALTIME : CLOCK_MONOTONIC;
        ev.sigev_notify = k == 5 ? SIGEV_THREAD_ID : k == 8 ? SIGEV_NONE : SIGEV_SIGNAL;
        ev.sigev_signo = SIGUSR1;
        if (k == 5)
            ev._sigev_un._tid = (pid_t)syscall(SYS_gettid);
        if (timer_create(clk, &ev, &tm) < 0)
            _exit(91);
        struct itimerspec v = { { 0, 0 }, { 0, 100 * 1000000L } };
        int flags = 0;
        if (k == 4) {
            clock_gettime(CLOCK_REALTIME, &v.it_value);
            v.it_value.tv_nsec += 100 * 1000000L;
            if (v.it_value.tv_nsec >= 1000000000L) {
                v.it_value.tv_sec++;
                v.it_value.tv_nsec -= 1000000000L;
            }
            flags = TIMER_ABSTIME;
        }
        if (timer_settime(tm, flags, &v, NULL) < 0)
            _exit(92);
        if (k == 8)
            timeout = &t300;
        break;
    }
    case 6: {
        set_handler(SIGALRM, SA_RESTART);
        struct itimerval v = { { 0, 50000 }, { 0, 50000 } };
        setitimer(ITIMER_REAL, &v, NULL);
        timeout = &t10;
        break;
    }
    case 7:
        alarm(1);
        alarm(0);
        timeout = &t300;
        break;
    case 9: {
        set_handler(SIGVTALRM, 0);
        struct itimerval v = { { 0, 0 }, { 0, 10000 } };
        setitimer(ITIMER_VIRTUAL, &v, NULL);
        timeout = &t300;
        break;
    }
    case 10: {
        struct itimerval v = { { 0, 0 }, { 0, 100000 } };
        setitimer(ITIMER_REAL, &v, NULL);
        break;
    }
    }
    r.rc = timeout ? semtimedop(id, &P, 1, timeout) : semop(id, &P, 1);
    r.err = r.rc < 0 ? errno : 0;
    r.handled_before = handled;
    if (k == 6) {
        struct itimerval off = { { 0, 0 }, { 0, 0 } };
        setitimer(ITIMER_REAL, &off, NULL);
    }
    xwrite(out, &r, sizeof r);
    _exit(0);
}

int main(void) {
    it_setup();
    int id = xsemget(IPC_PRIVATE, 1, 0600);
    printf("semid=%d\n", id);
    static const char *names[] = { "", "alarm", "setitimer_sa_restart", "timer_monotonic",
                                   "timer_realtime_abstime", "timer_thread_id", "setitimer_periodic",
                                   "alarm_cancelled", "timer_sigev_none", "itimer_virtual",
                                   "setitimer_vs_v" };
    for (int k = 1; k <= 10; k++) {
        int out[2];
        xpipe(out);
        pid_t c = xfork();
        if (c == 0) {
            close(out[0]);
            child(k, id, out[1]);
        }
        close(out[1]);
        if (k == 10) {
            wait_ncnt(id, 0, 1);
            msleep(95);
            struct sembuf V = sb(0, 1, 0);
            if (semop(id, &V, 1) < 0)
                FATAL("V: %s", en(errno));
        }
        struct result r;
        if (!xread(out[0], &r, sizeof r))
            FATAL("case %d: no result", k);
        close(out[0]);
        printf("case %d %s:", k, names[k]);
        if (k == 10) { /* either outcome is Linux's; only the sum is printed */
            int v = getval(id, 0);
            printf(" conserved=%d\n", (r.rc == 0 && v == 0) || (r.rc < 0 && r.err == EINTR && v == 1));
            xsetval(id, 0, 0);
        } else {
            printf(" %s handler_ran_before_return=%d\n", res(r.rc, r.err), r.handled_before > 0);
        }
        printf("  status=%s ncnt=%d val=%d\n", wstr(xwait(c)), getncnt(id, 0), getval(id, 0));
    }
    xrmid(id);
    printf("done\n");
    return 0;
}
