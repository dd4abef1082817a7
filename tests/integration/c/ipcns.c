/*
 * ipcns: unshare(CLONE_NEWIPC) inside the program. The caller moves to a
 * new, empty IPC namespace (its old sets are gone from its view, ids start
 * again) and, since CLONE_NEWIPC implies CLONE_SYSVSEM, its SEM_UNDO
 * adjustments are applied at once. The old namespace does not see the new
 * one's sets. Needs root (CAP_SYS_ADMIN).
 */
#include "common.h"

static int semop1(int id, int num, int op, int flg) {
    struct sembuf s = sb((unsigned short)num, (short)op, (short)flg);
    return semop(id, &s, 1);
}

static int used_sets(void) {
    struct seminfo si;
    int rc = semctl(0, 0, SEM_INFO, (union semun){ .__buf = &si });
    return rc < 0 ? -errno : si.semusz;
}

int main(void) {
    it_setup();
    key_t key = 0x42;
    int k = xsemget(key, 1, IPC_CREAT | 0600);
    int p = xsemget(IPC_PRIVATE, 2, 0600);
    xsetval(k, 0, 5);
    printf("outer: keyed semid=%d private semid=%d used_sets=%d\n", k, p, used_sets());
    int rp[2], ctl[2];
    xpipe(rp);
    xpipe(ctl);
    pid_t c = xfork();
    if (c == 0) {
        int r[12];
        memset(r, 0, sizeof r);
        r[0] = semop1(k, 0, -1, SEM_UNDO);  /* 5 -> 4, adjustment +1 */
        r[1] = getval(k, 0);
        r[2] = unshare(CLONE_NEWIPC) == 0 ? 0 : errno;
        errno = 0;
        r[3] = semget(key, 0, 0) < 0 ? errno : 0;
        r[4] = semctl(p, 0, GETVAL) < 0 ? errno : 0;
        r[5] = used_sets();
        r[6] = semget(IPC_PRIVATE, 1, 0600);
        r[7] = semget(key, 1, IPC_CREAT | 0600);
        xsetval(r[7], 0, 9);
        r[8] = getval(r[7], 0);
        r[9] = used_sets();
        xwrite(rp[1], r, sizeof r);
        char x;
        xread(ctl[0], &x, 1);
        _exit(0);
    }
    int r[12];
    xread(rp[0], r, sizeof r);
    printf("child: P(undo) on keyed rc=%d val=%d; unshare(CLONE_NEWIPC)=%s\n", r[0], r[1], en(r[2]));
    printf("child in new ns: semget(key)=%s GETVAL(old private id)=%s used_sets=%d new private semid=%d "
           "new keyed semid=%d val=%d used_sets=%d\n", en(r[3]), en(r[4]), r[5], r[6], r[7], r[8], r[9]);
    printf("outer while child alive: keyed val=%d semget(key)==old=%d used_sets=%d\n", getval(k, 0),
           semget(key, 0, 0) == k, used_sets());
    xwrite(ctl[1], "x", 1);
    int st = xwait(c);
    printf("outer after child %s: keyed val=%d used_sets=%d\n", wstr(st), getval(k, 0), used_sets());

    /* A child whose first trapped call is the unshare (nothing tells
     * sembox of it before): its namespace is new all the same, and so is
     * that of the child it forks after. (LTP's sem_nstest: fork, then
     * unshare, then look the parent's key up.) */
    pid_t c2 = xfork();
    if (c2 == 0) {
        int r[5];
        r[0] = unshare(CLONE_NEWIPC) == 0 ? 0 : errno;
        r[1] = semget(key, 0, 0) < 0 ? errno : 0;
        int mine = semget(key + 1, 1, IPC_CREAT | IPC_EXCL | 0600);
        r[2] = mine < 0 ? errno : 0;
        pid_t g = xfork();
        if (g == 0)
            _exit(semget(key + 1, 0, 0) == mine && semget(key, 0, 0) < 0 && errno == ENOENT ? 0 : 1);
        int gst = xwait(g);
        r[3] = WIFEXITED(gst) ? WEXITSTATUS(gst) : -1;
        r[4] = used_sets();
        xwrite(rp[1], r, sizeof r);
        _exit(0);
    }
    int r2[5];
    xread(rp[0], r2, sizeof r2);
    printf("child unsharing first: unshare=%s semget(outer key)=%s made key+1=%s its child sees its set "
           "and not the outer one=%s used_sets=%d\n", en(r2[0]), en(r2[1]), en(r2[2]), r2[3] == 0 ? "yes" : "no",
           r2[4]);
    st = xwait(c2);
    int outer = semget(key + 1, 0, 0);
    printf("outer after that child %s: semget(key+1)=%s used_sets=%d\n", wstr(st), outer < 0 ? en(errno) : "found",
           used_sets());
    xrmid(k);
    xrmid(p);
    return 0;
}
