/*
 * hostile: random raw semget/semop/semtimedop/semctl system calls with
 * random arguments and pointers, from a fixed seed. One line per call
 * (call number, syscall, return value or errno, and a digest of what a
 * successful call wrote): the output is deterministic, so a run under
 * sembox must print exactly what the kernel prints.
 *
 * usage: hostile SEED CALLS
 *
 * Pointers: NULL, a PROT_NONE page, a read-only page (EFAULT for outputs),
 * a valid buffer, a buffer straddling the end of a mapping, misaligned,
 * kernel-half and non-canonical addresses, -1. Integers: negative and huge
 * values, garbage in the upper 32 bits of int arguments, nsops above
 * SEMOPM, invalid and IPC_64-flagged semctl commands. Nothing blocks:
 * every operation has IPC_NOWAIT unless the call is a semtimedop with a
 * valid timeout of at most 1 ms. GETPID results equal to our pid print as
 * SELF; times print only as "set or not".
 */
#include "torture.h"

#define PG 4096
#define RWSZ (24 * PG) /* holds GETALL of the largest set (2 * 32000 bytes) */
static uint64_t R;
/* The buffers a pointer argument may point into. A semtimedop's timeout
 * has its own set, so that filling the sops cannot overwrite it (a
 * timeout rewritten with sops bytes could block for hours). */
struct bufs {
    unsigned char *rw;    /* RWSZ bytes read-write */
    unsigned char *ro;    /* 1 page, read-only except while we fill it */
    unsigned char *strad; /* 1 page RW followed by a PROT_NONE page */
};
static struct bufs args_bufs, timeout_bufs;
static unsigned char *none; /* PROT_NONE page */
static int ids[256];
static int nids;

enum { P_NULL, P_NONE, P_RO, P_RW, P_STRADDLE, P_MISALIGNED, P_KERNEL, P_NONCANON, P_MINUS1, P_LOW, NPK };

static uint64_t r(uint64_t n) { return rnd_below(&R, n); }

/* Picks a pointer kind, fills the buffer behind it with len bytes from
 * fill (if it has somewhere to put them) and returns the address. For
 * outputs, fill is NULL and the buffer is set to a pattern. */
static uint64_t pick_ptr_in(struct bufs *b, size_t len, const void *fill, int *kind_out, int bias_valid) {
    unsigned char *rw = b->rw, *ro = b->ro, *strad = b->strad;
    int k = (int)r(NPK);
    if (bias_valid && r(100) < 55)
        k = P_RW;
    *kind_out = k;
    unsigned char *p = NULL;
    switch (k) {
    case P_NULL:      return 0;
    case P_NONE:      return (uint64_t)(uintptr_t)none + r(PG);
    case P_KERNEL:    return 0xffff888000000000ULL + r(1 << 20) * 8;
    case P_NONCANON:  return 0x0000800000000000ULL + r(1 << 20);
    case P_MINUS1:    return ~0ULL - r(8);
    case P_LOW:       return 0x1000 + r(0x10000);
    case P_RO:
        if (mprotect(ro, PG, PROT_READ | PROT_WRITE) < 0)
            FATAL("mprotect");
        memset(ro, 0x5a, PG);
        if (fill && len <= PG)
            memcpy(ro, fill, len);
        if (mprotect(ro, PG, PROT_READ) < 0)
            FATAL("mprotect");
        return (uint64_t)(uintptr_t)ro;
    case P_STRADDLE: {
        /* Only the first 0..len-1 bytes (at most a page) are mapped. */
        size_t prefix = (size_t)r(len < PG ? len : PG);
        p = strad + PG - prefix;
        if (prefix > 0) {
            memset(p, 0x5a, prefix);
            if (fill)
                memcpy(p, fill, prefix);
        }
        return (uint64_t)(uintptr_t)p;
    }
    case P_MISALIGNED:
        p = rw + 1 + r(7);
        break;
    default:
        p = rw;
        break;
    }
    memset(rw, 0x5a, RWSZ);
    if (fill && len <= RWSZ - 8)
        memcpy(p, fill, len);
    return (uint64_t)(uintptr_t)p;
}

static uint64_t pick_ptr(size_t len, const void *fill, int *kind_out, int bias_valid) {
    return pick_ptr_in(&args_bufs, len, fill, kind_out, bias_valid);
}

static int valid_out(int kind) { return kind == P_RW || kind == P_MISALIGNED; }

static uint64_t pick_semid(void) {
    uint64_t c = r(100);
    if (nids > 0 && c < 60)
        return (uint64_t)(uint32_t)ids[r((uint64_t)nids)];
    if (nids > 0 && c < 68)
        return 0xdeadbeef00000000ULL | (uint32_t)ids[r((uint64_t)nids)]; /* upper bits ignored */
    if (nids > 0 && c < 74)
        return (uint64_t)(uint32_t)(ids[r((uint64_t)nids)] + 32768); /* other sequence number */
    switch (c % 6) {
    case 0: return (uint64_t)-1;
    case 1: return 0x80000000u;
    case 2: return 0;
    case 3: return r(8);
    case 4: return (uint64_t)(uint32_t)rnd_next(&R);
    default: return rnd_next(&R);
    }
}

static void remember(int id) {
    if (nids < (int)(sizeof ids / sizeof ids[0]))
        ids[nids++] = id;
    else
        ids[r((uint64_t)nids)] = id;
}

static uint64_t fnv(const void *p, size_t n, uint64_t h) {
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 0x100000001b3ULL;
    return h;
}

static int live_sets; /* sets created minus sets removed, as we saw them */

static void do_semget(int i) {
    static const int nsem_choices[] = { 0, 1, 2, 3, 4, 8, 250, 32000, 32001, -1 };
    uint64_t key, nsems, flg;
    uint64_t c = r(10);
    key = c < 4 ? 0 : c < 8 ? 1 + r(6) : c < 9 ? (uint64_t)(uint32_t)rnd_next(&R) : (uint64_t)-1;
    if (r(10) == 0)
        key |= 0xabcd000000000000ULL;
    int nsidx = (int)r(10);
    if (nsidx >= 6 && r(4) != 0)
        nsidx = (int)r(6); /* big sets are rare */
    if (live_sets > 48)
        nsidx = (int)r(3); /* and small when many are alive */
    nsems = (uint64_t)(uint32_t)nsem_choices[nsidx];
    if (r(20) == 0)
        nsems = rnd_next(&R);
    c = r(10);
    flg = c < 5 ? (IPC_CREAT | 0600) : c < 7 ? (IPC_CREAT | IPC_EXCL | 0640) : c < 8 ? 0 : c < 9 ? 0777 : rnd_next(&R);
    long ret = syscall(SYS_semget, key, nsems, flg, rnd_next(&R), rnd_next(&R), rnd_next(&R));
    int e = errno;
    if (ret >= 0) {
        remember((int)ret);
        live_sets++;
        printf("%d semget = %ld\n", i, ret);
    } else {
        printf("%d semget = -1 %s\n", i, en(e));
    }
}

static void fill_sops(struct sembuf *s, int n, int nowait) {
    for (int j = 0; j < n; j++) {
        uint64_t c = r(20);
        s[j].sem_num = c < 17 ? (unsigned short)r(4) : c < 19 ? (unsigned short)(4 + r(300)) : (unsigned short)rnd_next(&R);
        c = r(20);
        static const short big[] = { 32767, -32768, -32767, 16384, -16384, 30000 };
        s[j].sem_op = c < 17 ? (short)((int)r(5) - 2) : big[r(6)];
        short f = (short)(r(3) == 0 ? SEM_UNDO : 0);
        if (r(10) == 0)
            f = (short)(f | (short)(rnd_next(&R) & 0xf7ff));
        if (nowait)
            f = (short)(f | IPC_NOWAIT);
        s[j].sem_flg = f;
    }
}

static void do_semop(int i, int timed) {
    static const uint64_t nsops_choices[] = { 0, 1, 1, 1, 2, 2, 3, 5, 10, 32, 500, 501, 1000,
                                              0x100000001ULL, 0xffffffffULL, 0xffffffff00000002ULL };
    uint64_t nsops = nsops_choices[r(sizeof nsops_choices / sizeof nsops_choices[0])];
    uint32_t n32 = (uint32_t)nsops;
    int real_n = n32 <= 600 ? (int)n32 : 0;
    uint64_t to = 0;
    int tkind = -1, nowait = 1;
    struct timespec ts;
    if (timed) {
        uint64_t c = r(10);
        if (c < 2) {
            to = 0; /* NULL: like semop */
        } else if (c < 6) {
            ts.tv_sec = 0;
            ts.tv_nsec = (long)(100000 + r(900000)); /* at most 1 ms: may wait */
            nowait = r(2);
            to = pick_ptr_in(&timeout_bufs, sizeof ts, &ts, &tkind, 1);
        } else if (c < 8) {
            static const struct timespec badts[] = { { 0, 1000000000L }, { -1, 0 }, { 0, -1 }, { 0, 0 },
                                                     { 1000000, 0 }, { 0x7fffffffffffffffL, 999999999L } };
            ts = badts[r(6)];
            to = pick_ptr_in(&timeout_bufs, sizeof ts, &ts, &tkind, 1);
        } else {
            ts.tv_sec = 0;
            ts.tv_nsec = 500000;
            to = pick_ptr_in(&timeout_bufs, sizeof ts, &ts, &tkind, 0);
        }
        if (tkind != P_RW && tkind != P_RO && tkind != P_MISALIGNED)
            nowait = 1; /* the timeout may not be read as we wrote it */
    }
    static struct sembuf sops[600];
    fill_sops(sops, real_n ? real_n : 1, nowait);
    int kind;
    uint64_t sp = pick_ptr((size_t)(real_n ? real_n : 1) * sizeof(struct sembuf), sops, &kind, 1);
    long ret;
    if (timed)
        ret = syscall(SYS_semtimedop, pick_semid(), sp, nsops, to, rnd_next(&R), rnd_next(&R));
    else
        ret = syscall(SYS_semop, pick_semid(), sp, nsops, rnd_next(&R), rnd_next(&R), rnd_next(&R));
    int e = errno;
    printf("%d %s = %ld%s%s\n", i, timed ? "semtimedop" : "semop", ret, ret < 0 ? " " : "", ret < 0 ? en(e) : "");
}

static void do_semctl(int i) {
    static const int cmds[] = { IPC_RMID, IPC_SET, IPC_STAT, IPC_INFO, SEM_INFO, SEM_STAT, SEM_STAT_ANY,
                                GETPID, GETVAL, GETALL, GETNCNT, GETZCNT, SETVAL, SETALL };
    uint64_t c = r(100);
    int cmd;
    uint64_t cmdarg;
    if (c < 85) {
        cmd = cmds[r(sizeof cmds / sizeof cmds[0])];
        cmdarg = (uint64_t)(uint32_t)cmd;
        if (r(10) == 0)
            cmdarg |= 0x5555000000000000ULL;
    } else if (c < 90) {
        cmd = cmds[r(sizeof cmds / sizeof cmds[0])] | 0x100; /* IPC_64 */
        cmdarg = (uint32_t)cmd;
    } else {
        cmd = (int)rnd_next(&R);
        cmdarg = (uint32_t)cmd;
    }
    uint64_t semid;
    if ((cmd == SEM_STAT || cmd == SEM_STAT_ANY || cmd == IPC_INFO || cmd == SEM_INFO) && r(3))
        semid = r(70); /* an index */
    else
        semid = pick_semid();
    if (cmd == IPC_RMID && r(3))
        semid = pick_semid(); /* removals happen, but less than other commands */
    uint64_t semnum = r(10) < 8 ? r(4) : (r(2) ? (uint64_t)-1 : rnd_next(&R));
    uint64_t arg = 0;
    int kind = -1;
    size_t outlen = 0;
    switch (cmd) {
    case SETVAL: {
        static const int64_t vals[] = { 0, 1, 2, 5, 32767, 32768, -1, 65536 };
        arg = (uint64_t)vals[r(8)];
        if (r(8) == 0)
            arg |= 0x7777000000000000ULL; /* int: upper bits ignored */
        break;
    }
    case SETALL: {
        static unsigned short v[32001];
        for (int j = 0; j < 300; j++)
            v[j] = (unsigned short)(r(10) < 9 ? r(6) : rnd_next(&R));
        arg = pick_ptr(r(2) ? 8 : 600, v, &kind, 1);
        break;
    }
    case IPC_SET: {
        struct semid_ds ds;
        memset(&ds, 0, sizeof ds);
        ds.sem_perm.uid = r(4) ? 0 : (uid_t)rnd_next(&R);
        ds.sem_perm.gid = r(4) ? 0 : (gid_t)rnd_next(&R);
        ds.sem_perm.mode = (unsigned short)(r(2) ? 0600 : rnd_next(&R));
        arg = pick_ptr(sizeof ds, &ds, &kind, 1);
        break;
    }
    case IPC_STAT: case SEM_STAT: case SEM_STAT_ANY:
        outlen = sizeof(struct semid_ds);
        arg = pick_ptr(outlen, NULL, &kind, 1);
        break;
    case IPC_INFO: case SEM_INFO:
        outlen = sizeof(struct seminfo);
        arg = pick_ptr(outlen, NULL, &kind, 1);
        break;
    case GETALL:
        outlen = 2 * 32000;
        arg = pick_ptr(outlen, NULL, &kind, 1);
        break;
    default:
        arg = rnd_next(&R);
        break;
    }
    long ret = syscall(SYS_semctl, semid, semnum, cmdarg, arg, rnd_next(&R), rnd_next(&R));
    int e = errno;
    if (ret < 0) {
        printf("%d semctl(%d) = -1 %s\n", i, cmd, en(e));
        return;
    }
    if (cmd == IPC_RMID)
        live_sets--;
    if (cmd == GETPID && ret == getpid()) {
        printf("%d semctl(%d) = SELF\n", i, cmd);
        return;
    }
    uint64_t h = 0;
    if (valid_out(kind)) {
        unsigned char *p = (unsigned char *)(uintptr_t)arg;
        if (cmd == IPC_STAT || cmd == SEM_STAT || cmd == SEM_STAT_ANY) {
            struct semid_ds ds;
            memcpy(&ds, p, sizeof ds);
            struct {
                long key, uid, gid, cuid, cgid, mode, seq, nsems, otime_set, ctime_set;
            } d = { ds.sem_perm.__key, ds.sem_perm.uid, ds.sem_perm.gid, ds.sem_perm.cuid, ds.sem_perm.cgid,
                    ds.sem_perm.mode, ds.sem_perm.__seq, (long)ds.sem_nsems, ds.sem_otime != 0, ds.sem_ctime != 0 };
            h = fnv(&d, sizeof d, 0xcbf29ce484222325ULL);
        } else if (cmd == IPC_INFO || cmd == SEM_INFO) {
            h = fnv(p, sizeof(struct seminfo), 0xcbf29ce484222325ULL);
        } else if (cmd == GETALL) {
            h = fnv(p, outlen, 0xcbf29ce484222325ULL);
        }
    }
    if (h)
        printf("%d semctl(%d) = %ld out=%016llx\n", i, cmd, ret, (unsigned long long)h);
    else
        printf("%d semctl(%d) = %ld\n", i, cmd, ret);
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: hostile SEED CALLS\n");
        return 2;
    }
    R = strtoull(argv[1], NULL, 0) << 1 | 1; /* never 0 (xorshift stays at 0), distinct per seed */
    int calls = atoi(argv[2]);
    t_setup(60 + calls / 500);
    /* stdout is a pipe or file: full buffering is fine and much faster. */
    setvbuf(stdout, NULL, _IOFBF, 1 << 16);
    for (int i = 0; i < 2; i++) {
        struct bufs *b = i ? &timeout_bufs : &args_bufs;
        b->rw = mmap(NULL, RWSZ, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        b->ro = mmap(NULL, PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        b->strad = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (b->rw == MAP_FAILED || b->ro == MAP_FAILED || b->strad == MAP_FAILED)
            FATAL("mmap");
        if (mprotect(b->strad + PG, PG, PROT_NONE) < 0)
            FATAL("mprotect");
    }
    none = mmap(NULL, PG, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (none == MAP_FAILED)
        FATAL("mmap");
    for (int i = 0; i < calls; i++) {
        uint64_t c = r(100);
        if (c < 22)
            do_semget(i);
        else if (c < 50)
            do_semop(i, 0);
        else if (c < 70)
            do_semop(i, 1);
        else
            do_semctl(i);
    }
    printf("hostile_calls=%d seed=%s\n", calls, argv[1]);
    fflush(stdout);
    return 0;
}
