/*
 * isol: isolation and permissions. Three participants run at once in the
 * same kernel IPC namespace: "host" natively and two sembox sandboxes.
 *
 * usage: isol NAME TAG DIR NAMES...      (NAMES: every participant, with its tag: host:1 sbA:2 sbB:3)
 *
 * Each participant creates, with the same keys as the others, KEY1 (TAG
 * semaphores, value TAG*100) and KEY2 (mode 0600, value TAG) with
 * IPC_CREAT|IPC_EXCL (EEXIST would mean it sees another's set), and
 * KEYOWN+TAG, a key only it uses. It publishes its ids in DIR/ready.NAME
 * and waits for the others; then, with every set alive:
 *   - its keys lead to its own sets and values;
 *   - the others' own keys are ENOENT;
 *   - the others' ids, used here, are EINVAL or name one of its own sets
 *     (same number, other meaning: checked by key and value);
 *   - SEM_INFO/SEM_STAT_ANY list exactly its own three keys;
 *   - permissions: a child as nobody gets EACCES on the 0600 set (semget
 *     with a mode, GETVAL, semop, IPC_STAT) and EPERM on IPC_RMID;
 *   - a child that drops to nobody through the i386 setresuid32 (int $0x80)
 *     after having used the set as root must get EACCES too (skipped where
 *     the kernel runs no i386 code);
 *   - a root child that enters a new user namespace (unshare) has no
 *     capability over the IPC namespace's objects any more: a set that
 *     uid 1000 created with mode 0600 gives it EACCES (whether or not it
 *     used the set before entering the user namespace);
 *   - sandboxes only: i386 ipc(SEMGET) and semget through int $0x80, and
 *     an x32 semget, must fail (ENOSYS) and create nothing anywhere.
 * Then it writes DIR/done.NAME, waits for every done file, and the host
 * checks that the kernel namespace holds only its own sets.
 * Lines "perm ..." are compared across participants by the driver.
 */
#include "torture.h"
#include <grp.h>

#define KEY1   0x15010
#define KEY2   0x15020
#define KEYOWN 0x15100
#define KEYESC 0x15E00
#define KEY3   0x15030 /* created by uid 1000, mode 0600 */

static const char *me;
static int tag;
static char *dir;

static long int80(long nr, long a, long b, long c) {
    long ret;
    __asm__ volatile("int $0x80" : "=a"(ret) : "a"(nr), "b"(a), "c"(b), "d"(c) : "memory", "r8", "r9", "r10", "r11");
    return ret;
}

/* Whether this kernel runs int $0x80 (i386 system calls) at all. */
static int i386_available(void) {
    fflush(stdout);
    pid_t p = fork();
    if (p < 0)
        FATAL("fork");
    if (p == 0)
        _exit(int80(20 /* getpid */, 0, 0, 0) == getpid() ? 0 : 1);
    int st;
    xwaitpid(p, &st, 0);
    return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

static void write_file(const char *name, const char *text) {
    char path[4096], tmp[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f)
        FATAL("fopen %s", tmp);
    fputs(text, f);
    fclose(f);
    if (rename(tmp, path) < 0)
        FATAL("rename");
}

static int read_file(const char *name, char *buf, size_t n) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t got = fread(buf, 1, n - 1, f);
    buf[got] = 0;
    fclose(f);
    return 1;
}

static void wait_file(const char *name) {
    char buf[256];
    long long t0 = now_ns();
    while (!read_file(name, buf, sizeof buf)) {
        if (now_ns() - t0 > 30000000000LL)
            FATAL("%s: waited 30 s for %s", me, name);
        msleep(5);
    }
}

/* Keys of every set visible here. */
static int list_keys(int *keys, int max) {
    struct seminfo si;
    int maxidx = semctl(0, 0, SEM_INFO, (union semun){ .__buf = &si });
    if (maxidx < 0)
        FATAL("SEM_INFO");
    int n = 0;
    for (int i = 0; i <= maxidx; i++) {
        struct semid_ds ds;
        if (semctl(i, 0, SEM_STAT_ANY, (union semun){ .buf = &ds }) >= 0 && n < max)
            keys[n++] = ds.sem_perm.__key;
    }
    return n;
}

/* fresh: the child's first semaphore call comes after unshare, so a
 * supervisor reads its identity only then. */
static void userns_child(int id3, int fresh) {
    fflush(stdout);
    pid_t p = fork();
    if (p < 0)
        FATAL("fork");
    if (p == 0) {
        char out[256];
        int o;
        if (fresh) {
            o = snprintf(out, sizeof out, "perm via=unshare-userns-first");
        } else {
            int v = semctl(id3, 0, GETVAL);
            o = snprintf(out, sizeof out, "perm via=unshare-userns root_getval=%s", v == tag ? "OK" : en(errno));
        }
        if (unshare(CLONE_NEWUSER) < 0) {
            printf("%s unshare=%s\n", out, en(errno));
            _exit(0);
        }
        int r = semctl(id3, 0, GETVAL);
        o += snprintf(out + o, sizeof out - o, " getval=%s", r >= 0 ? "OK" : en(errno));
        struct sembuf op = { 0, 1, IPC_NOWAIT };
        r = semop(id3, &op, 1);
        o += snprintf(out + o, sizeof out - o, " semop=%s", r >= 0 ? "OK" : en(errno));
        r = semctl(id3, 0, IPC_RMID);
        o += snprintf(out + o, sizeof out - o, " ipc_rmid=%s", r >= 0 ? "OK" : en(errno));
        printf("%s\n", out);
        _exit(0);
    }
    int st;
    xwaitpid(p, &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        ANOMALY("%s: userns child ended with status %#x", me, st);
}

/* Creates KEY3 as uid 1000 with mode 0600 and value tag. */
static int create_key3(void) {
    fflush(stdout);
    pid_t p = fork();
    if (p < 0)
        FATAL("fork");
    if (p == 0) {
        if (setresgid(1000, 1000, 1000) < 0 || setresuid(1000, 1000, 1000) < 0)
            FATAL("setresuid 1000");
        int id = xsemget(KEY3, 1, IPC_CREAT | IPC_EXCL | 0600);
        xsetval(id, 0, tag);
        _exit(0);
    }
    int st;
    xwaitpid(p, &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        FATAL("create_key3 child status %#x", st);
    return xsemget(KEY3, 0, 0);
}

static void perm_child(int id2, int via32) {
    fflush(stdout);
    pid_t p = fork();
    if (p < 0)
        FATAL("fork");
    if (p == 0) {
        char out[512];
        int o = 0;
        if (via32) {
            /* Use the set as root first, so that a supervisor has seen
             * (and may cache) this process's identity. */
            int v = semctl(id2, 0, GETVAL);
            o += snprintf(out + o, sizeof out - o, "perm via=i386-setresuid32 root_getval=%s", v == tag ? "OK" : en(errno));
            long r1 = int80(210 /* setresgid32 */, 65534, 65534, 65534);
            long r2 = int80(208 /* setresuid32 */, 65534, 65534, 65534);
            if (r1 != 0 || r2 != 0 || geteuid() != 65534) {
                printf("perm via=i386-setresuid32 setup_failed r1=%ld r2=%ld euid=%d\n", r1, r2, (int)geteuid());
                _exit(0);
            }
        } else {
            if (setgroups(0, NULL) < 0 || setresgid(65534, 65534, 65534) < 0 || setresuid(65534, 65534, 65534) < 0)
                FATAL("drop to nobody");
            o += snprintf(out + o, sizeof out - o, "perm via=setresuid");
        }
        int r = semget(KEY2, 0, 0600);
        o += snprintf(out + o, sizeof out - o, " semget0600=%s", r >= 0 ? "OK" : en(errno));
        r = semget(KEY2, 0, 0);
        o += snprintf(out + o, sizeof out - o, " semget0=%s", r >= 0 ? "OK" : en(errno));
        r = semctl(id2, 0, GETVAL);
        o += snprintf(out + o, sizeof out - o, " getval=%s", r >= 0 ? "OK" : en(errno));
        struct sembuf op = { 0, 1, IPC_NOWAIT };
        r = semop(id2, &op, 1);
        o += snprintf(out + o, sizeof out - o, " semop=%s", r >= 0 ? "OK" : en(errno));
        struct semid_ds ds;
        r = semctl(id2, 0, IPC_STAT, (union semun){ .buf = &ds });
        o += snprintf(out + o, sizeof out - o, " ipc_stat=%s", r >= 0 ? "OK" : en(errno));
        r = semctl(id2, 0, IPC_RMID);
        o += snprintf(out + o, sizeof out - o, " ipc_rmid=%s", r >= 0 ? "OK" : en(errno));
        printf("%s\n", out);
        _exit(0);
    }
    int st;
    xwaitpid(p, &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        ANOMALY("%s: permission child ended with status %#x", me, st);
}

int main(int argc, char **argv) {
    if (argc < 5) {
        fprintf(stderr, "usage: isol NAME TAG DIR NAME:TAG...\n");
        return 2;
    }
    me = argv[1];
    tag = atoi(argv[2]);
    dir = argv[3];
    int sandboxed = strcmp(me, "host") != 0;
    t_setup(90);

    int id1 = semget(KEY1, tag, IPC_CREAT | IPC_EXCL | 0600);
    if (id1 < 0)
        ANOMALY("%s: semget(KEY1, IPC_CREAT|IPC_EXCL) = %s: another participant's set is visible", me, en(errno));
    int id2 = semget(KEY2, 1, IPC_CREAT | IPC_EXCL | 0600);
    if (id2 < 0)
        ANOMALY("%s: semget(KEY2, IPC_CREAT|IPC_EXCL) = %s: another participant's set is visible", me, en(errno));
    int idown = xsemget(KEYOWN + tag, 1, IPC_CREAT | IPC_EXCL | 0600);
    if (id1 < 0 || id2 < 0)
        return t_exit_code();
    xsetval(id1, 0, tag * 100);
    xsetval(id2, 0, tag);
    printf("%s: ids key1=%d key2=%d own=%d\n", me, id1, id2, idown);

    int id3 = create_key3();
    int have_i386 = i386_available();
    printf("%s: i386 system calls %s on this kernel\n", me, have_i386 ? "available" : "unavailable");
    if (sandboxed && !have_i386) {
        long r3 = syscall(0x40000000 | 64 /* x32 semget */, KEYESC + 32 + tag, 1, IPC_CREAT | 0600);
        int e3 = r3 < 0 ? errno : 0;
        printf("%s: escape x32_semget=%s\n", me, r3 < 0 ? en(e3) : "CREATED");
        if (r3 >= 0)
            ANOMALY("%s: an x32 semget went through", me);
    }
    /* 32-bit escapes, before the others look at the kernel namespace. */
    if (sandboxed && have_i386) {
        long r = int80(117 /* ipc */, 2 /* SEMGET */, KEYESC + tag, 1 | ((long)(IPC_CREAT | 0600) << 32));
        long r2 = int80(393 /* semget */, KEYESC + 16 + tag, 1, IPC_CREAT | 0600);
        long r3 = syscall(0x40000000 | 64 /* x32 semget */, KEYESC + 32 + tag, 1, IPC_CREAT | 0600);
        int e3 = r3 < 0 ? errno : 0;
        printf("%s: escape i386_ipc_semget=%s i386_semget=%s x32_semget=%s\n", me,
               r < 0 ? en((int)-r) : "CREATED", r2 < 0 ? en((int)-r2) : "CREATED", r3 < 0 ? en(e3) : "CREATED");
        if (r >= 0 || r2 >= 0 || r3 >= 0)
            ANOMALY("%s: a 32-bit semget went through (ipc=%ld semget=%ld x32=%ld)", me, r, r2, r3);
    }

    char text[256];
    snprintf(text, sizeof text, "%d %d %d\n", id1, id2, idown);
    char name[300];
    snprintf(name, sizeof name, "ready.%s", me);
    write_file(name, text);

    int nothers = 0;
    for (int i = 4; i < argc; i++) {
        char pname[64];
        int ptag;
        if (sscanf(argv[i], "%63[^:]:%d", pname, &ptag) != 2)
            FATAL("bad participant %s", argv[i]);
        if (strcmp(pname, me) == 0)
            continue;
        nothers++;
        snprintf(name, sizeof name, "ready.%s", pname);
        wait_file(name);
        char buf[256];
        read_file(name, buf, sizeof buf);
        int o1, o2, oown;
        if (sscanf(buf, "%d %d %d", &o1, &o2, &oown) != 3)
            FATAL("bad ready file of %s", pname);
        int r = semget(KEYOWN + ptag, 0, 0);
        int e = errno;
        printf("%s: others' key of %s: semget=%s\n", me, pname, r >= 0 ? "FOUND" : en(e));
        if (r >= 0 || e != ENOENT)
            ANOMALY("%s sees %s's own key (semget=%d %s)", me, pname, r, en(e));
        int theirs[3] = { o1, o2, oown };
        for (int j = 0; j < 3; j++) {
            int v = semctl(theirs[j], 0, GETVAL);
            e = errno;
            struct semid_ds ds;
            int s = semctl(theirs[j], 0, IPC_STAT, (union semun){ .buf = &ds });
            const char *meaning;
            if (v < 0 && e == EINVAL) {
                meaning = "absent";
            } else if (s >= 0 && theirs[j] == id1 && ds.sem_perm.__key == KEY1 && v == tag * 100) {
                meaning = "own-key1";
            } else if (s >= 0 && theirs[j] == id2 && ds.sem_perm.__key == KEY2 && v == tag) {
                meaning = "own-key2";
            } else if (s >= 0 && theirs[j] == idown && ds.sem_perm.__key == KEYOWN + tag) {
                meaning = "own-key-own";
            } else {
                meaning = "FOREIGN";
                ANOMALY("%s: id %d of %s: GETVAL=%d (%s) key=%#x: not absent and not one of ours", me,
                        theirs[j], pname, v, en(e), s >= 0 ? ds.sem_perm.__key : -1);
            }
            printf("%s: id %d of %s here: %s\n", me, theirs[j], pname, meaning);
        }
    }

    /* Our own keys, values and the full list. */
    if (semget(KEY1, 0, 0) != id1 || getval(id1, 0) != tag * 100 || semget(KEY2, 0, 0) != id2 ||
        getval(id2, 0) != tag)
        ANOMALY("%s: own sets changed: key1 -> %d val %d, key2 -> %d val %d", me, semget(KEY1, 0, 0),
                getval(id1, 0), semget(KEY2, 0, 0), getval(id2, 0));
    struct semid_ds ds;
    if (semctl(id1, 0, IPC_STAT, (union semun){ .buf = &ds }) < 0 || (int)ds.sem_nsems != tag)
        ANOMALY("%s: own KEY1 set has %d semaphores, want %d", me, (int)ds.sem_nsems, tag);
    int keys[64];
    int nk = list_keys(keys, 64);
    int ok = 1;
    for (int i = 0; i < nk; i++)
        ok &= keys[i] == KEY1 || keys[i] == KEY2 || keys[i] == KEY3 || keys[i] == KEYOWN + tag;
    ok &= nk == 4;
    printf("%s: sets visible=%d (want 4, own keys only: %s)\n", me, nk, ok ? "yes" : "NO");
    if (!ok)
        for (int i = 0; i < nk; i++)
            ANOMALY("%s: visible set with key %#x", me, keys[i]);

    perm_child(id2, 0);
    if (have_i386)
        perm_child(id2, 1);
    else
        printf("perm via=i386-setresuid32 skipped (no i386 system calls)\n");
    userns_child(id3, 1);
    userns_child(id3, 0);

    snprintf(name, sizeof name, "done.%s", me);
    write_file(name, "done\n");
    for (int i = 4; i < argc; i++) {
        char pname[64];
        int ptag;
        sscanf(argv[i], "%63[^:]:%d", pname, &ptag);
        snprintf(name, sizeof name, "done.%s", pname);
        wait_file(name);
    }
    if (!sandboxed) {
        /* The sandboxes' 32-bit attempts must not have reached the kernel. */
        nk = list_keys(keys, 64);
        int bad = 0;
        for (int i = 0; i < nk; i++)
            if (keys[i] != KEY1 && keys[i] != KEY2 && keys[i] != KEY3 && keys[i] != KEYOWN + tag) {
                bad++;
                ANOMALY("host: kernel namespace has a set with key %#x", keys[i]);
            }
        printf("%s: kernel sets after the sandboxes' checks=%d foreign=%d\n", me, nk, bad);
    }
    semctl(id1, 0, IPC_RMID);
    semctl(id2, 0, IPC_RMID);
    semctl(idown, 0, IPC_RMID);
    semctl(id3, 0, IPC_RMID);
    printf("%s: others=%d done\n", me, nothers);
    return t_exit_code();
}
