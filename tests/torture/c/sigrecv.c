/*
 * sigrecv: a signal ends a semop wait after the supervisor has received
 * it (issue 14). Without SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (Linux <
 * 5.19, or SEMBOX_KERNEL_OFF=killable-wait) the kernel ends such a wait
 * itself and refuses the supervisor's later answer; the wait must still
 * end exactly as in Linux and no unit may be lost or taken twice.
 *
 * usage: sigrecv ROUNDS
 *
 * Each round: one semaphore set to 0; a child installs a SIGUSR1 handler
 * (without SA_RESTART on even rounds, with it on odd ones) and calls
 * semtimedop(P, 10 s). The parent waits until GETNCNT is 1 (the call is
 * queued: under sembox, received and parked), then, alternating in pairs
 * of rounds:
 *   signal first: SIGUSR1, then the child's result, which must be EINTR
 *     (semop is never restarted, SA_RESTART or not); GETNCNT must then be
 *     0; then a V: the value must be 1 (the interrupted P took nothing);
 *   V first: a V and at once SIGUSR1, then the child's result, which
 *     must be 0 (the V completed the P before the signal was sent; its
 *     handler runs after), and the value must be 0 (taken once).
 * The child reports its errno in its exit status. Any other result is an
 * ANOMALY. Printed: rounds, eintr, ok, wrong.
 */
#include "torture.h"

static volatile sig_atomic_t handled;
static void on_usr1(int sig) { (void)sig; handled = 1; }

static int child(int semid, int restart) {
    set_handler(SIGUSR1, on_usr1, restart ? SA_RESTART : 0);
    struct sembuf p = { 0, -1, 0 };
    struct timespec ts = { 10, 0 };
    if (semtimedop(semid, &p, 1, &ts) == 0)
        return 0;
    return errno;
}

int main(int argc, char **argv) {
    int rounds = argc > 1 ? atoi(argv[1]) : 100;
    t_setup(300);
    int semid = xsemget(IPC_PRIVATE, 1, IPC_CREAT | 0600);
    int eintr = 0, ok = 0, wrong = 0;
    for (int r = 0; r < rounds; r++) {
        int sigfirst = r % 4 < 2, restart = r % 2;
        xsetval(semid, 0, 0);
        pid_t pid = fork();
        if (pid < 0)
            FATAL("fork");
        if (pid == 0)
            _exit(child(semid, restart));
        while (semctl(semid, 0, GETNCNT) != 1)
            sleep_ns(50000);
        struct sembuf v = { 0, 1, 0 };
        int st, want, got;
        if (sigfirst) {
            if (kill(pid, SIGUSR1) < 0)
                FATAL("kill");
            xwaitpid(pid, &st, 0);
            got = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
            want = EINTR;
            int ncnt = semctl(semid, 0, GETNCNT);
            if (ncnt != 0) {
                ANOMALY("round %d: GETNCNT %d after the child's return", r, ncnt);
                wrong++;
            }
            if (semop(semid, &v, 1) < 0)
                FATAL("V");
            int val = getval(semid, 0);
            if (val != 1) {
                ANOMALY("round %d (signal first, %s): value %d after V, want 1", r, restart ? "SA_RESTART" : "no SA_RESTART", val);
                wrong++;
            }
        } else {
            if (semop(semid, &v, 1) < 0)
                FATAL("V");
            if (kill(pid, SIGUSR1) < 0)
                FATAL("kill");
            xwaitpid(pid, &st, 0);
            got = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
            want = 0;
            int val = getval(semid, 0);
            if (val != 0) {
                ANOMALY("round %d (V first): value %d, want 0", r, val);
                wrong++;
            }
        }
        if (got != want) {
            ANOMALY("round %d (%s first, %s): the child got %s, want %s", r, sigfirst ? "signal" : "V",
                    restart ? "SA_RESTART" : "no SA_RESTART", got < 0 ? "a signal" : en(got), en(want));
            wrong++;
        }
        if (got == EINTR)
            eintr++;
        else if (got == 0)
            ok++;
    }
    semctl(semid, 0, IPC_RMID);
    printf("rounds=%d eintr=%d ok=%d wrong=%d\n", rounds, eintr, ok, wrong);
    return t_exit_code();
}
