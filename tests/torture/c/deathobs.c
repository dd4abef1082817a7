/*
 * deathobs: kills a sandbox's supervisor and watches what follows, from
 * the kernel IPC namespace that the supervisor ran in.
 *
 * usage: deathobs DIR SEMBOX DEATHSB
 *
 * It becomes a child subreaper (so the sandbox's orphans come to it),
 * creates a "host marker" set with the sandbox's key KDEATH (3
 * semaphores, value 42), runs SEMBOX run -- DEATHSB DIR, waits for
 * DIR/ready, SIGKILLs the sembox process, and then:
 *   - the sandbox's root process must die of SIGKILL (PR_SET_PDEATHSIG);
 *   - the surviving children report (DIR/g*.txt) what their calls return:
 *     no call may reach the kernel's semaphores (the marker set must not
 *     be found, changed, or joined by new sets);
 *   - prints which processes are still alive 3 s later (a multi-threaded
 *     survivor whose exit_group fails lives on) and kills them.
 */
#include "torture.h"

#define KDEATH 0x0DEAD

static char *dir;

static int read_int_file(const char *name) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    int v = -1;
    if (fscanf(f, "%d", &v) != 1)
        v = -1;
    fclose(f);
    return v;
}

static int cat_file(const char *name) {
    char path[4096], buf[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    while (fgets(buf, sizeof buf, f))
        printf("report %s", buf);
    fclose(f);
    return 1;
}

static int exists(const char *name) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return access(path, F_OK) == 0;
}

static const char *wdesc(int st) {
    static char buf[64];
    if (WIFEXITED(st))
        snprintf(buf, sizeof buf, "exit %d", WEXITSTATUS(st));
    else if (WIFSIGNALED(st))
        snprintf(buf, sizeof buf, "killed by signal %d", WTERMSIG(st));
    else
        snprintf(buf, sizeof buf, "status %#x", st);
    return buf;
}

#define NAMES 4
static const char *names[NAMES] = { "root", "g1", "g2", "g3" };
static int pids[NAMES], statuses[NAMES], reaped[NAMES];

/* Whether pid is gone (reaped by us or by someone else). */
static int gone(int i) {
    return reaped[i] || (pids[i] > 0 && kill(pids[i], 0) < 0 && errno == ESRCH);
}

/* Reap whatever has exited. */
static void reap_some(void) {
    int st;
    pid_t p;
    while ((p = xwaitpid(-1, &st, WNOHANG)) > 0) {
        for (int i = 0; i < NAMES; i++)
            if (pids[i] == p) {
                reaped[i] = 1;
                statuses[i] = st;
            }
    }
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: deathobs DIR SEMBOX DEATHSB\n");
        return 2;
    }
    dir = argv[1];
    t_setup(90);
    if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0)
        FATAL("PR_SET_CHILD_SUBREAPER");
    int marker = xsemget(KDEATH, 3, IPC_CREAT | IPC_EXCL | 0600);
    xsetval(marker, 0, 42);

    fflush(stdout);
    pid_t sb = fork();
    if (sb < 0)
        FATAL("fork");
    if (sb == 0) {
        execl(argv[2], argv[2], "run", "--", argv[3], dir, (char *)NULL);
        _exit(127);
    }
    long long t0 = now_ns();
    while (!exists("ready")) {
        int st;
        if (xwaitpid(sb, &st, WNOHANG) == sb)
            FATAL("sembox ended before the sandbox was ready: %s", wdesc(st));
        if (now_ns() - t0 > 30000000000LL)
            FATAL("sandbox not ready after 30 s");
        msleep(5);
    }
    for (int i = 0; i < NAMES; i++) {
        char f[32];
        snprintf(f, sizeof f, "%s.pid", names[i]);
        pids[i] = read_int_file(f);
    }
    printf("sandbox ready: sembox=%d root=%d g1=%d g2=%d g3=%d\n", (int)sb, pids[0], pids[1], pids[2], pids[3]);
    kill(sb, SIGKILL);
    int st;
    xwaitpid(sb, &st, 0);
    printf("sembox: %s\n", wdesc(st));

    /* Reports and exits, for up to 5 s. */
    t0 = now_ns();
    for (;;) {
        reap_some();
        int all = exists("g1.txt") && exists("g2.txt") && exists("g3.txt") && gone(0) && gone(1) && gone(2);
        if (all || now_ns() - t0 > 5000000000LL)
            break;
        msleep(5);
    }
    msleep(3000);
    reap_some();
    for (int i = 0; i < NAMES; i++) {
        char f[32];
        snprintf(f, sizeof f, "%s.txt", names[i]);
        if (!cat_file(f))
            printf("report %s: none\n", names[i]);
    }
    int alive = 0;
    for (int i = 0; i < NAMES; i++) {
        if (reaped[i]) {
            printf("process %s: %s\n", names[i], wdesc(statuses[i]));
            continue;
        }
        if (gone(i)) {
            /* The dying sembox can still reap a child that died first
             * (its wait4 reaps zombies before it looks at its own
             * SIGKILL): the status is lost, the process is gone. */
            printf("process %s: gone, reaped by the dying supervisor\n", names[i]);
            continue;
        }
        alive++;
        printf("process %s: STILL ALIVE 3 s after its last report\n", names[i]);
        dump_task("alive", pids[i]);
        kill(pids[i], SIGKILL);
        xwaitpid(pids[i], &st, 0);
    }
    printf("survivors_alive_after_3s=%d\n", alive);
    if (!gone(0) || (reaped[0] && (!WIFSIGNALED(statuses[0]) || WTERMSIG(statuses[0]) != SIGKILL)))
        ANOMALY("the sandbox's root process did not die of SIGKILL (PR_SET_PDEATHSIG)");
    if (exists("root.txt"))
        ANOMALY("the sandbox's root process outlived its supervisor long enough to report");

    /* The kernel namespace: only the marker, untouched. */
    struct seminfo si;
    int maxidx = semctl(0, 0, SEM_INFO, (union semun){ .__buf = &si });
    int nsets = 0;
    for (int i = 0; i <= maxidx; i++) {
        struct semid_ds ds;
        int id = semctl(i, 0, SEM_STAT_ANY, (union semun){ .buf = &ds });
        if (id < 0)
            continue;
        nsets++;
        if (id != marker)
            ANOMALY("kernel namespace has a new set: id %d key %#x nsems %lu", id, ds.sem_perm.__key,
                    (unsigned long)ds.sem_nsems);
    }
    int v = semctl(marker, 0, GETVAL);
    int ncnt = semctl(marker, 0, GETNCNT) + semctl(marker, 1, GETNCNT);
    printf("host: sets=%d marker_value=%d marker_waiters=%d\n", nsets, v, ncnt);
    if (v != 42 || ncnt != 0)
        ANOMALY("the host marker set was used: value %d (want 42), waiters %d", v, ncnt);
    semctl(marker, 0, IPC_RMID);
    return t_exit_code();
}
