/*
 * notifrace: the kernel's race D-K, with no sembox at all (README,
 * Kernels). A filter installed WITHOUT SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
 * traps getppid; 6 children call it in a loop (a SIGUSR1 handler without
 * SA_RESTART); two supervisor threads receive each call and answer 4242
 * with SECCOMP_IOCTL_NOTIF_SEND; a flooder sends SIGUSR1 to random
 * children as fast as it can.
 *
 * usage: notifrace SECS
 *
 * Printed: accepted (answers NOTIF_SEND took), refused (ENOENT),
 * child_ok (4242 seen by a child), child_eintr, lost = accepted - child_ok:
 * answers the kernel accepted and then dropped, because a signal ended
 * the child's wait just before the answer and the child took the
 * interrupted path after NOTIF_SEND had marked the call answered
 * (seccomp_do_user_notification). Natively, on Linux 6.18 here, lost is
 * not 0. Informational: exits 0 unless the setup fails. The children
 * call on until the launcher reaps them; only the answerers are left, in
 * RECV, when the program exits.
 */
#include "torture.h"
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/ioctl.h>

#define NC 6

struct nshm {
    atomic_long ok, eintr, other;
    atomic_int stop;
};
static struct nshm *N;
static int lfd;
static atomic_long accepted, refused;
static atomic_int sstop;

static void on_usr1(int sig) { (void)sig; }

static void *answerer(void *a) {
    (void)a;
    while (!atomic_load(&sstop)) {
        struct seccomp_notif n;
        memset(&n, 0, sizeof n);
        if (ioctl(lfd, SECCOMP_IOCTL_NOTIF_RECV, &n) < 0)
            continue;
        struct seccomp_notif_resp r;
        memset(&r, 0, sizeof r);
        r.id = n.id;
        r.val = 4242;
        if (ioctl(lfd, SECCOMP_IOCTL_NOTIF_SEND, &r) == 0)
            atomic_fetch_add(&accepted, 1);
        else
            atomic_fetch_add(&refused, 1);
    }
    return NULL;
}

int main(int argc, char **argv) {
    int secs = argc > 1 ? atoi(argv[1]) : 3;
    t_setup(60 + secs);
    N = shared_alloc(sizeof *N);
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getppid, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = { 4, f };
    int pp[2];
    if (pipe(pp) < 0)
        FATAL("pipe");
    pid_t kids[NC];
    /* The filter goes on a launcher, which forks the children and hands
     * over the listener's number; we take it with pidfd_getfd. */
    pid_t launcher = fork();
    if (launcher < 0)
        FATAL("fork");
    if (launcher == 0) {
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
            FATAL("no_new_privs");
        int fd = (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog);
        if (fd < 0)
            FATAL("seccomp");
        if (write(pp[1], &fd, sizeof fd) != sizeof fd)
            FATAL("write");
        for (int i = 0; i < NC; i++) {
            pid_t k = fork();
            if (k < 0)
                FATAL("fork");
            if (k == 0) {
                set_handler(SIGUSR1, on_usr1, 0);
                while (!atomic_load(&N->stop)) {
                    long r = syscall(SYS_getppid);
                    if (r == 4242)
                        atomic_fetch_add(&N->ok, 1);
                    else if (r == -1 && errno == EINTR)
                        atomic_fetch_add(&N->eintr, 1);
                    else
                        atomic_fetch_add(&N->other, 1);
                }
                _exit(0);
            }
            if (write(pp[1], &k, sizeof k) != sizeof k)
                FATAL("write");
        }
        for (int i = 0; i < NC; i++)
            wait(NULL);
        _exit(0);
    }
    int rfd;
    if (read(pp[0], &rfd, sizeof rfd) != sizeof rfd)
        FATAL("read");
    for (int i = 0; i < NC; i++)
        if (read(pp[0], &kids[i], sizeof kids[i]) != sizeof kids[i])
            FATAL("read");
    int pfd = (int)syscall(SYS_pidfd_open, launcher, 0);
    lfd = (int)syscall(SYS_pidfd_getfd, pfd, rfd, 0);
    if (lfd < 0)
        FATAL("pidfd_getfd");
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&t[i], NULL, answerer, NULL);
    pid_t flooder = fork();
    if (flooder == 0) {
        uint64_t x = 1;
        for (;;)
            kill(kids[rnd_below(&x, NC)], SIGUSR1);
    }
    sleep((unsigned)secs);
    kill(flooder, SIGKILL);
    xwaitpid(flooder, NULL, 0);
    atomic_store(&N->stop, 1);
    xwaitpid(launcher, NULL, 0); /* the children's last calls are answered */
    atomic_store(&sstop, 1);
    long acc = atomic_load(&accepted), ok = atomic_load(&N->ok);
    printf("accepted=%ld refused=%ld child_ok=%ld child_eintr=%ld child_other=%ld lost=%ld\n", acc,
           (long)atomic_load(&refused), ok, (long)atomic_load(&N->eintr), (long)atomic_load(&N->other), acc - ok);
    fflush(stdout);
    _exit(0); /* the answerers may still block in RECV */
}
