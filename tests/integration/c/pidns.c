/*
 * pidns: GETPID reports pids as seen from the caller's pid namespace.
 * A child A (outer namespace) unshares CLONE_NEWPID and forks B, which is
 * pid 1 of a new pid namespace. Needs root (CAP_SYS_ADMIN).
 */
#include "common.h"

static int semop1(int id, int num, int op, int flg) {
    struct sembuf s = sb((unsigned short)num, (short)op, (short)flg);
    return semop(id, &s, 1);
}

struct rep { int v[8]; };

int main(void) {
    it_setup();
    int id = xsemget(IPC_PRIVATE, 3, 0600);
    printf("semid=%d\n", id);
    pid_t me = getpid();
    int rp[2], ctl[2];
    xpipe(rp);
    xpipe(ctl);

    pid_t a = xfork();
    if (a == 0) {
        if (unshare(CLONE_NEWPID) < 0) {
            int e = errno;
            xwrite(rp[1], &e, sizeof e);
            _exit(1);
        }
        int zero = 0;
        xwrite(rp[1], &zero, sizeof zero);
        pid_t b = fork();
        if (b == 0) {
            /* B: pid 1 in the new namespace */
            struct rep r;
            memset(&r, 0, sizeof r);
            r.v[0] = getpid();
            r.v[1] = semop1(id, 0, 1, 0);
            r.v[2] = semctl(id, 0, GETPID); /* own op: as B sees itself */
            char x;
            xread(ctl[0], &x, 1);           /* main has operated on s1 */
            r.v[3] = semctl(id, 1, GETPID) == 0; /* main is not visible from here: 0 */
            r.v[4] = semop1(id, 2, -1, 0);  /* blocks until main's V */
            r.v[5] = semctl(id, 2, GETPID); /* B completed its own wait */
            xwrite(rp[1], &r, sizeof r);
            _exit(0);
        }
        xwrite(rp[1], &b, sizeof b); /* B's pid in the outer namespace */
        int st;
        while (waitpid(b, &st, 0) < 0 && errno == EINTR)
            ;
        _exit(WIFEXITED(st) ? WEXITSTATUS(st) : 100);
    }
    int e;
    xread(rp[0], &e, sizeof e);
    if (e) {
        printf("unshare(CLONE_NEWPID): %s\n", en(e));
        xwait(a);
        return 0;
    }
    pid_t b_outer;
    xread(rp[0], &b_outer, sizeof b_outer);
    wait_ctl(id, 0, GETVAL, 1, "B's V");
    printf("outer view after B's V: getpid_s0_is_B=%d getpid_s0_is_1=%d\n", semctl(id, 0, GETPID) == b_outer,
           semctl(id, 0, GETPID) == 1);
    semop1(id, 1, 1, 0);
    printf("outer view after own V: getpid_s1_is_me=%d\n", semctl(id, 1, GETPID) == me);
    xwrite(ctl[1], "x", 1);
    wait_ncnt(id, 2, 1);
    semop1(id, 2, 1, 0);
    struct rep r;
    xread(rp[0], &r, sizeof r);
    int st = xwait(a);
    printf("B: getpid()==1=%d V rc=%d GETPID(s0)==1=%d GETPID(s1 by outer)==0=%d P rc=%d GETPID(s2)==1=%d\n",
           r.v[0] == 1, r.v[1], r.v[2] == 1, r.v[3], r.v[4], r.v[5] == 1);
    printf("outer view after B's wait completed: getpid_s2_is_B=%d; A %s\n", semctl(id, 2, GETPID) == b_outer,
           wstr(st));
    printf("rmid rc=%d\n", semctl(id, 0, IPC_RMID));
    return 0;
}
