/*
 * perms: permission checks of semget/semop/semctl.
 *
 * Run as root: the parent creates keyed sets with various modes/owners and,
 * for each credential variant, a forked child changes its credentials and
 * tries every operation on every set, printing the errno of each:
 *   nobody            uid/gid 65534, no supplementary groups
 *   nobody+group0     uid/gid 65534, supplementary group 0
 *   nobody,fsgid=0    uid/gid 65534, no groups, but fsgid 0 (group checks
 *                     use the fs gid)
 *   root-noipccaps    uid 0 without CAP_IPC_OWNER and CAP_SYS_ADMIN
 * The sets are recreated (same keys) for every variant, since IPC_RMID may
 * succeed.
 *
 * Run unprivileged (euid != 0): the process is owner and creator of its sets
 * and checks the owner's view, including giving a set away with IPC_SET.
 */
#include "common.h"
#include <grp.h>
#include <linux/capability.h>
#include <sys/fsuid.h>

#ifndef SEM_STAT_ANY
#define SEM_STAT_ANY 20
#endif

struct setdef {
    const char *name;
    int mode;
    int uid, gid; /* applied with IPC_SET after creation when >= 0 */
};

static const struct setdef defs[] = {
    { "0600",               0600, -1, -1 },
    { "0640",               0640, -1, -1 },
    { "0604",               0604, -1, -1 },
    { "0602",               0602, -1, -1 },
    { "0606",               0606, -1, -1 },
    { "0000",               0000, -1, -1 },
    { "0600,uid=65534",     0600, 65534, -1 },
    { "0060,gid=65534",     0060, -1, 65534 },
    { "0000,uid=65534",     0000, 65534, -1 },
    { "0066,uid=65534",     0066, 65534, -1 },
};
#define NDEFS ((int)(sizeof defs / sizeof defs[0]))
#define KEYBASE 0x7e570000

static int ids[NDEFS];

static const char *r(int rc, int e) { return rc < 0 ? en(e) : "OK"; }

/* Try everything on set i; print one line. */
static void matrix(const char *who, const char *setname, int i, int id, int uid, int gid, int mode) {
    char line[1024];
    int n = 0, rc;
#define ADD(label, expr) do { errno = 0; rc = (expr); \
        n += snprintf(line + n, sizeof line - (size_t)n, " %s=%s", label, r(rc, errno)); } while (0)

    ADD("get0", semget(KEYBASE + i, 0, 0));
    ADD("get0400", semget(KEYBASE + i, 0, 0400));
    ADD("get0200", semget(KEYBASE + i, 0, 0200));
    ADD("get0600", semget(KEYBASE + i, 1, 0600));
    struct sembuf zero = sb(0, 0, IPC_NOWAIT);
    ADD("read", semop(id, &zero, 1));
    struct sembuf up = sb(0, 1, IPC_NOWAIT), down = sb(0, -1, IPC_NOWAIT);
    ADD("alter", semop(id, &up, 1));
    if (rc == 0)
        semop(id, &down, 1);
    struct sembuf down2 = sb(0, -1, IPC_NOWAIT);
    ADD("alterEAGAIN", semop(id, &down2, 1)); /* permission is checked first */
    struct semid_ds ds;
    ADD("stat", semctl(id, 0, IPC_STAT, (union semun){ .buf = &ds }));
    ADD("semstat", semctl(id & 0x7fff, 0, SEM_STAT, (union semun){ .buf = &ds }));
    if (rc >= 0)
        n += snprintf(line + n, sizeof line - (size_t)n, "(id_ok=%d)", rc == id);
    ADD("semstatany", semctl(id & 0x7fff, 0, SEM_STAT_ANY, (union semun){ .buf = &ds }));
    ADD("getval", semctl(id, 0, GETVAL));
    ADD("getpid", semctl(id, 0, GETPID));
    ADD("getncnt", semctl(id, 0, GETNCNT));
    unsigned short all[2];
    ADD("getall", semctl(id, 0, GETALL, (union semun){ .array = all }));
    ADD("setval", semctl(id, 0, SETVAL, (union semun){ .val = 0 }));
    unsigned short zeros[2] = { 0, 0 };
    ADD("setall", semctl(id, 0, SETALL, (union semun){ .array = zeros }));
    struct semid_ds set;
    memset(&set, 0, sizeof set);
    set.sem_perm.uid = (uid_t)uid;
    set.sem_perm.gid = (gid_t)gid;
    set.sem_perm.mode = (unsigned short)mode;
    ADD("ipcset", semctl(id, 0, IPC_SET, (union semun){ .buf = &set }));
    ADD("rmid", semctl(id, 0, IPC_RMID));
#undef ADD
    printf("%s %-15s%s\n", who, setname, line);
}

static void create_sets(void) {
    for (int i = 0; i < NDEFS; i++) {
        ids[i] = xsemget(KEYBASE + i, 2, IPC_CREAT | IPC_EXCL | defs[i].mode);
        if (defs[i].uid >= 0 || defs[i].gid >= 0) {
            struct semid_ds ds;
            if (semctl(ids[i], 0, IPC_STAT, (union semun){ .buf = &ds }) < 0)
                FATAL("IPC_STAT");
            if (defs[i].uid >= 0)
                ds.sem_perm.uid = (uid_t)defs[i].uid;
            if (defs[i].gid >= 0)
                ds.sem_perm.gid = (gid_t)defs[i].gid;
            if (semctl(ids[i], 0, IPC_SET, (union semun){ .buf = &ds }) < 0)
                FATAL("IPC_SET");
        }
    }
}

static void print_stat(const char *who, int id) {
    struct semid_ds ds;
    int rc = semctl(id, 0, IPC_STAT, (union semun){ .buf = &ds });
    if (rc < 0) {
        printf("%s semid=%d IPC_STAT %s\n", who, id, en(errno));
        return;
    }
    printf("%s semid=%d key=0x%x uid=%u gid=%u cuid=%u cgid=%u mode=0%o nsems=%lu otime_set=%d\n", who, id,
           (unsigned)ds.sem_perm.__key, ds.sem_perm.uid, ds.sem_perm.gid, ds.sem_perm.cuid, ds.sem_perm.cgid,
           ds.sem_perm.mode, (unsigned long)ds.sem_nsems, ds.sem_otime != 0);
}

static void drop_caps(void) {
    struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
    struct __user_cap_data_struct d[2];
    if (syscall(SYS_capget, &h, d) < 0)
        _exit(80);
    d[CAP_IPC_OWNER / 32].effective &= ~(1u << (CAP_IPC_OWNER % 32));
    d[CAP_SYS_ADMIN / 32].effective &= ~(1u << (CAP_SYS_ADMIN % 32));
    d[CAP_IPC_OWNER / 32].permitted &= ~(1u << (CAP_IPC_OWNER % 32));
    d[CAP_SYS_ADMIN / 32].permitted &= ~(1u << (CAP_SYS_ADMIN % 32));
    if (syscall(SYS_capset, &h, d) < 0)
        _exit(81);
}

static void become(int variant) {
    gid_t g0 = 0;
    switch (variant) {
    case 0: /* nobody */
        if (setgroups(0, NULL) < 0 || setresgid(65534, 65534, 65534) < 0 || setresuid(65534, 65534, 65534) < 0)
            _exit(70);
        break;
    case 1: /* nobody + supplementary group 0 */
        if (setgroups(1, &g0) < 0 || setresgid(65534, 65534, 65534) < 0 || setresuid(65534, 65534, 65534) < 0)
            _exit(71);
        break;
    case 2: /* nobody with fsgid 0 */
        if (setgroups(0, NULL) < 0 || setresgid(65534, 65534, 65534) < 0)
            _exit(72);
        setfsgid(0);
        if (setresuid(65534, 65534, 65534) < 0)
            _exit(73);
        if ((int)setfsgid((gid_t)-1) != 0)
            _exit(74);
        break;
    case 3:
        drop_caps();
        break;
    }
}

static const char *vnames[] = { "nobody", "nobody+group0", "nobody,fsgid=0", "root-noipccaps" };

static void root_mode(void) {
    printf("mode=root\n");
    create_sets();
    for (int i = 0; i < NDEFS; i++)
        print_stat("root:", ids[i]);
    for (int v = 0; v < 4; v++) {
        if (v > 0)
            create_sets();
        printf("variant %s: semids", vnames[v]);
        for (int i = 0; i < NDEFS; i++)
            printf(" %d", ids[i]);
        printf("\n");
        pid_t c = xfork();
        if (c == 0) {
            become(v);
            for (int i = 0; i < NDEFS; i++) {
                /* IPC_SET needs uid/gid/mode; use what root set up */
                int uid = defs[i].uid >= 0 ? defs[i].uid : 0;
                int gid = defs[i].gid >= 0 ? defs[i].gid : 0;
                matrix(vnames[v], defs[i].name, i, ids[i], uid, gid, defs[i].mode);
            }
            /* create a new set with the current credentials */
            int nid = semget(KEYBASE + 100 + v, 1, IPC_CREAT | 0640);
            if (nid < 0)
                printf("%s create: %s\n", vnames[v], en(errno));
            else
                print_stat("  own set:", nid);
            fflush(stdout);
            _exit(0);
        }
        int st = xwait(c);
        printf("variant %s: child %s\n", vnames[v], wstr(st));
        /* root (CAP_IPC_OWNER/CAP_SYS_ADMIN) removes what is left */
        int removed = 0, gone = 0;
        for (int i = 0; i < NDEFS; i++) {
            if (semctl(ids[i], 0, IPC_RMID) == 0)
                removed++;
            else if (errno == EINVAL || errno == EIDRM)
                gone++;
        }
        int nid = semget(KEYBASE + 100 + v, 0, 0);
        if (nid >= 0) {
            print_stat("root: child's set:", nid);
            semctl(nid, 0, IPC_RMID);
        }
        printf("variant %s: root removed %d, already gone %d\n", vnames[v], removed, gone);
    }
}

static void unprivileged_mode(void) {
    printf("mode=unprivileged uid_is_65534=%d gid_is_65534=%d\n", getuid() == 65534, getgid() == 65534);
    static const int modes[] = { 0000, 0400, 0200, 0600, 0060, 0006 };
    for (int i = 0; i < 6; i++) {
        int id = semget(KEYBASE + i, 2, IPC_CREAT | IPC_EXCL | modes[i]);
        if (id < 0) {
            printf("create 0%o: %s\n", modes[i], en(errno));
            continue;
        }
        print_stat("own:", id);
        char name[32];
        snprintf(name, sizeof name, "0%03o", modes[i]);
        matrix("owner", name, i, id, (int)getuid(), (int)getgid(), modes[i]);
    }
    /* give a set away: the creator keeps control */
    int id = xsemget(KEYBASE + 50, 1, IPC_CREAT | 0600);
    struct semid_ds ds;
    semctl(id, 0, IPC_STAT, (union semun){ .buf = &ds });
    ds.sem_perm.uid = 0;
    ds.sem_perm.gid = 0;
    ds.sem_perm.mode = 0666;
    errno = 0;
    int rc = semctl(id, 0, IPC_SET, (union semun){ .buf = &ds });
    printf("give away to uid 0: %s\n", r(rc, errno));
    print_stat("given:", id);
    errno = 0;
    rc = semctl(id, 0, GETVAL);
    printf("given getval(0666): %s\n", r(rc, errno));
    ds.sem_perm.mode = 0600;
    errno = 0;
    rc = semctl(id, 0, IPC_SET, (union semun){ .buf = &ds });
    printf("creator IPC_SET after give-away: %s\n", r(rc, errno));
    errno = 0;
    rc = semctl(id, 0, GETVAL);
    printf("creator getval(0600 owned by 0): %s\n", r(rc, errno));
    errno = 0;
    rc = semctl(id, 0, IPC_RMID);
    printf("creator IPC_RMID: %s\n", r(rc, errno));
    /* remaining sets */
    for (int i = 0; i < 6; i++) {
        int x = semget(KEYBASE + i, 0, 0);
        if (x >= 0)
            printf("left behind: 0%o\n", modes[i]);
    }
}

int main(void) {
    it_setup();
    if (geteuid() == 0)
        root_mode();
    else
        unprivileged_mode();
    return 0;
}
