/*
 * eintrprobe: calls that never return EINTR on Linux, made while a signal
 * with a handler (no SA_RESTART) keeps arriving.
 *
 * usage: eintrprobe CALLS EXIT_TRIALS
 *
 * For each kind, the target process makes CALLS calls while a flooder
 * sends it SIGUSR1 back to back: semop V (never sleeps), semctl GETVAL,
 * semget of an existing key, setresuid(-1,-1,-1) (a no-op), and
 * open("/dev/null"). Printed per kind: calls, eintr, other errors.
 *
 * Then EXIT_TRIALS times: a process with two threads (the second sleeps in
 * a loop) gets SIGUSR1 flooded at its main thread, which calls exit(0).
 * exit_group ends every thread; if it returned EINTR instead, glibc's
 * _exit falls back to SYS_exit, which ends only the calling thread, and
 * the process lives on. Printed: exit_survived (processes still alive 1 s
 * after exit(0)) and what their threads look like.
 * Nothing here is judged in the program (no ANOMALY): the driver compares
 * the counts with the kernel's, which are all 0.
 */
#include "torture.h"

struct shm {
    atomic_int stop, target_tid, ready;
    atomic_long sent;
};
static struct shm *S;
static atomic_long handled;
static void handler(int sig) { (void)sig; atomic_fetch_add(&handled, 1); }

static void flooder(pid_t pid) {
    while (!atomic_load(&S->stop)) {
        int tid = atomic_load(&S->target_tid);
        if (tid > 0 && syscall(SYS_tgkill, pid, tid, SIGUSR1) == 0)
            atomic_fetch_add(&S->sent, 1);
        sleep_ns(2000);
    }
    _exit(0);
}

enum { K_SEMOP_V, K_GETVAL, K_SEMGET, K_SETRESUID, K_OPEN, NK };
static const char *kname[NK] = { "semop_v", "semctl_getval", "semget", "setresuid", "open" };

static void probe(int kind, int calls, int semid, key_t key) {
    pid_t me = getpid();
    atomic_store(&S->stop, 0);
    atomic_store(&S->target_tid, (int)gettid());
    fflush(stdout);
    pid_t f = fork();
    if (f < 0)
        FATAL("fork");
    if (f == 0)
        flooder(me);
    long eintr = 0, other = 0;
    int other_errno = 0;
    for (int i = 0; i < calls; i++) {
        long rc;
        switch (kind) {
        case K_SEMOP_V: {
            struct sembuf V = { 0, 1, 0 };
            rc = semop(semid, &V, 1);
            if (i % 1000 == 999) {
                /* SETVAL itself may see EINTR under sembox (D2): retry */
                union semun a = { .val = 0 };
                while (semctl(semid, 0, SETVAL, a) < 0)
                    if (errno != EINTR)
                        FATAL("SETVAL");
            }
            break;
        }
        case K_GETVAL:
            rc = semctl(semid, 0, GETVAL);
            break;
        case K_SEMGET:
            rc = semget(key, 0, 0);
            break;
        case K_SETRESUID:
            rc = syscall(SYS_setresuid, -1, -1, -1);
            break;
        default:
            rc = open("/dev/null", O_RDONLY | O_CLOEXEC);
            if (rc >= 0)
                close((int)rc);
            break;
        }
        if (rc < 0) {
            if (errno == EINTR)
                eintr++;
            else {
                other++;
                other_errno = errno;
            }
        }
    }
    atomic_store(&S->stop, 1);
    int st;
    xwaitpid(f, &st, 0);
    printf("%s: calls=%d eintr=%ld other_errors=%ld%s%s\n", kname[kind], calls, eintr, other,
           other ? " last_other=" : "", other ? en(other_errno) : "");
}

static void *sleeper(void *p) {
    (void)p;
    for (;;)
        sleep_ns(1000000);
    return NULL;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: eintrprobe CALLS EXIT_TRIALS\n");
        return 2;
    }
    int calls = atoi(argv[1]), trials = atoi(argv[2]);
    t_setup(100 + trials / 2);
    S = shared_alloc(sizeof *S);
    set_handler(SIGUSR1, handler, 0);
    key_t key = 0x70be;
    int semid = xsemget(key, 1, IPC_CREAT | 0600);

    for (int k = 0; k < NK; k++)
        probe(k, calls, semid, key);
    printf("signals_sent=%ld handlers_run=%ld\n", atomic_load(&S->sent), atomic_load(&handled));

    int survived = 0, exited0 = 0, other = 0;
    for (int t = 0; t < trials; t++) {
        atomic_store(&S->stop, 0);
        atomic_store(&S->target_tid, 0);
        atomic_store(&S->ready, 0);
        fflush(stdout);
        pid_t p = fork();
        if (p < 0)
            FATAL("fork");
        if (p == 0) {
            pthread_t th;
            pthread_create(&th, NULL, sleeper, NULL);
            atomic_store(&S->target_tid, (int)gettid());
            /* exit with signals arriving: some of them just as exit_group
             * is trapped */
            while (atomic_load(&S->sent) < 3)
                ;
            exit(0);
        }
        pid_t f = fork();
        if (f < 0)
            FATAL("fork");
        if (f == 0)
            flooder(p);
        int st;
        long long t0 = now_ns();
        pid_t r;
        while ((r = xwaitpid(p, &st, WNOHANG)) == 0 && now_ns() - t0 < 1000000000LL)
            sleep_ns(200000);
        atomic_store(&S->stop, 1);
        int fst;
        xwaitpid(f, &fst, 0);
        atomic_store(&S->sent, 0);
        if (r == p) {
            if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
                exited0++;
            else
                other++;
            continue;
        }
        survived++;
        if (survived <= 3)
            dump_task("exit_survivor", p);
        kill(p, SIGKILL);
        xwaitpid(p, &st, 0);
    }
    printf("exit_trials=%d exit_ok=%d exit_other_status=%d exit_survived=%d\n", trials, exited0, other, survived);
    semctl(semid, 0, IPC_RMID);
    return t_exit_code();
}
