/*
 * sem_test.c - basic System V semaphore test suite (seed section 1, §1.0-1.5).
 *
 * One binary plays both roles:
 *
 *   parent:  ./sem_test
 *            runs the five tests in order and prints one PASS/FAIL line per
 *            test followed by "N passed, N failed"; exits non-zero on failure.
 *
 *   child:   <prog_name> <TEST_* id> <args...>
 *            spawned by the parent (posix_spawn of /proc/self/exe) to check
 *            the cross-process half of a test; exits 0 on success.
 *
 * Child argv protocol (argc counts argv[0]):
 *
 *   TEST_GET_SEMID_BY_KEY (0): prog 0 <key> <expected semid> <expected value>  argc 5
 *   TEST_PROCESS_SYNC     (1): prog 1 <semid> <initial value>                  argc 4
 *   TEST_OPERATE_DESTOYED (3): prog 3 <key> <removed semid> <initial value>    argc 5
 *
 * The seed runs the child as "/bin/sem"; here the program locates itself
 * through /proc/self/exe at startup and stores the path in prog_name.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

/* ------------------------------------------------------------------------ */
/* Macros from the seed                                                      */
/* ------------------------------------------------------------------------ */

#define S_IRWUSER       (S_IRUSR | S_IWUSR)   /* semaphore set permissions */
#define SEM_SET_SIZE    1                     /* one semaphore per set      */
#define SEM_INIT_VAL    1                     /* default initial value      */
#define SUCCESS         1
#define FAIL            (-1)
#define ARG_BUF_SZ      64                    /* size of one child argument */

/* Test identifiers, passed from parent to child as argv[1]. */
#define TEST_GET_SEMID_BY_KEY   0
#define TEST_PROCESS_SYNC       1
#define TEST_IMMEDIATELY_RMSEM  2
#define TEST_OPERATE_DESTOYED   3
#define TEST_NO_RMSEM           4

/* Length of the child's argv for each test that spawns a child. */
#define TEST_GET_SEMID_BY_KEY_ARGC  5
#define TEST_PROCESS_SYNC_ARGC      4
#define TEST_OPERATE_DESTOYED_ARGC  5

#define INFO(fmt, ...)   do { \
    printf("\t\t[SEM TEST] [file: %s, line: %d, func: %s] " fmt, \
    __FILE__, __LINE__, __func__, ##__VA_ARGS__); \
} while (0)

/* Path of this executable; the child program the parent spawns. */
static char prog_name[PATH_MAX];

/* glibc leaves the definition of the semctl() argument to the caller. */
union semun {
    int              val;
    struct semid_ds *buf;
    unsigned short  *array;
};

/* ------------------------------------------------------------------------ */
/* Helpers                                                                   */
/* ------------------------------------------------------------------------ */

/* A random key that is never IPC_PRIVATE (rand() is seeded in main). */
static key_t random_key(void) {
    key_t key;

    do {
        key = (key_t)rand();
    } while (key == IPC_PRIVATE);
    return key;
}

static int sem_setval(int semid, int val) {
    union semun arg = { .val = val };

    return semctl(semid, 0, SETVAL, arg);
}

static int sem_getval(int semid) {
    return semctl(semid, 0, GETVAL);
}

/* Remove a set on a failure path; errors are only logged. */
static void sem_remove(int semid) {
    if (semctl(semid, 0, IPC_RMID) < 0) {
        INFO("semctl(%d, IPC_RMID) failed: %s\n", semid, strerror(errno));
    }
}

/*
 * Spawn prog_name with child_argv (NULL-terminated, argv[1] = TEST_* id),
 * wait for it and require a normal exit with status 0.
 */
static int execute_in_child(char **const child_argv) {
    pid_t child_pid;
    int status, ret;

    fflush(stdout);   /* keep the parent's log ahead of the child's */

    ret = posix_spawn(&child_pid, prog_name, NULL, NULL, child_argv, environ);
    if (ret != 0) {
        INFO("posix_spawn(%s) failed: %s\n", prog_name, strerror(ret));
        return FAIL;
    }

    do {
        ret = waitpid(child_pid, &status, 0);
    } while (ret < 0 && errno == EINTR);
    if (ret < 0) {
        INFO("waitpid(%d) failed: %s\n", (int)child_pid, strerror(errno));
        return FAIL;
    }

    if (WIFSIGNALED(status)) {
        INFO("child %d killed by signal %d\n", (int)child_pid, WTERMSIG(status));
        return FAIL;
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        INFO("child %d exited with status %d\n", (int)child_pid, WEXITSTATUS(status));
        return FAIL;
    }
    return SUCCESS;
}

/* ------------------------------------------------------------------------ */
/* Parent-side tests                                                         */
/* ------------------------------------------------------------------------ */

/*
 * §1.1 Create and look up a set by key:
 *   1. semget(key) of a key with no set            -> ENOENT
 *   2. semget(key, IPC_CREAT|IPC_EXCL)             -> new semid; SETVAL 1
 *   3. semget(key) again in the same process       -> same semid, GETVAL 1
 *   4. semget(key, IPC_CREAT|IPC_EXCL) again       -> EEXIST
 *   5. a child does semget(key)                    -> same semid, GETVAL 1
 */
static int test_semget_semid_from_key(void) {
    char args[TEST_GET_SEMID_BY_KEY_ARGC][ARG_BUF_SZ];
    char *child_argv[TEST_GET_SEMID_BY_KEY_ARGC + 1];
    key_t key = random_key();
    int semid, ret, val;

    INFO("key: %d\n", key);

    /* 1. No set exists for this key yet. */
    ret = semget(key, SEM_SET_SIZE, S_IRWUSER);
    if (ret != -1 || errno != ENOENT) {
        INFO("semget(no set): expected ENOENT, got ret=%d errno=%d\n", ret, errno);
        if (ret >= 0) {
            sem_remove(ret);
        }
        return FAIL;
    }

    /* 2. Create it and give the semaphore its initial value. */
    semid = semget(key, SEM_SET_SIZE, IPC_CREAT | IPC_EXCL | S_IRWUSER);
    if (semid < 0) {
        INFO("semget(IPC_CREAT|IPC_EXCL) failed: %s\n", strerror(errno));
        return FAIL;
    }
    INFO("created semid: %d\n", semid);
    if (sem_setval(semid, SEM_INIT_VAL) < 0) {
        INFO("semctl(SETVAL) failed: %s\n", strerror(errno));
        goto fail;
    }

    /* 3. The same key yields the same set, holding the value just set. */
    ret = semget(key, SEM_SET_SIZE, S_IRWUSER);
    if (ret != semid) {
        INFO("semget(existing): expected semid %d, got %d (errno=%d)\n", semid, ret, errno);
        goto fail;
    }
    val = sem_getval(semid);
    if (val != SEM_INIT_VAL) {
        INFO("semctl(GETVAL): expected %d, got %d\n", SEM_INIT_VAL, val);
        goto fail;
    }

    /* 4. Exclusive creation of an existing key must fail. */
    ret = semget(key, SEM_SET_SIZE, IPC_CREAT | IPC_EXCL | S_IRWUSER);
    if (ret != -1 || errno != EEXIST) {
        INFO("semget(IPC_EXCL again): expected EEXIST, got ret=%d errno=%d\n", ret, errno);
        goto fail;
    }

    /* 5. Another process finds the same set through the key. */
    snprintf(args[1], ARG_BUF_SZ, "%d", TEST_GET_SEMID_BY_KEY);
    snprintf(args[2], ARG_BUF_SZ, "%d", key);
    snprintf(args[3], ARG_BUF_SZ, "%d", semid);
    snprintf(args[4], ARG_BUF_SZ, "%d", SEM_INIT_VAL);
    child_argv[0] = prog_name;
    for (int i = 1; i < TEST_GET_SEMID_BY_KEY_ARGC; i++) {
        child_argv[i] = args[i];
    }
    child_argv[TEST_GET_SEMID_BY_KEY_ARGC] = NULL;
    if (execute_in_child(child_argv) != SUCCESS) {
        INFO("child (TEST_GET_SEMID_BY_KEY) failed\n");
        goto fail;
    }

    if (semctl(semid, 0, IPC_RMID) < 0) {
        INFO("semctl(IPC_RMID) failed: %s\n", strerror(errno));
        return FAIL;
    }
    return SUCCESS;

fail:
    sem_remove(semid);
    return FAIL;
}

/*
 * §1.2 Synchronisation across processes: the parent creates an IPC_PRIVATE
 * set with value 1 and does P (1 -> 0); a child does V (0 -> 1); the parent
 * then sees the value back at 1.
 */
static int test_process_sync(void) {
    char args[TEST_PROCESS_SYNC_ARGC][ARG_BUF_SZ];
    char *child_argv[TEST_PROCESS_SYNC_ARGC + 1];
    struct sembuf p_op = { .sem_num = 0, .sem_op = -1, .sem_flg = 0 };
    int semid, val;

    semid = semget(IPC_PRIVATE, SEM_SET_SIZE, IPC_CREAT | IPC_EXCL | S_IRWUSER);
    if (semid < 0) {
        INFO("semget(IPC_PRIVATE) failed: %s\n", strerror(errno));
        return FAIL;
    }
    if (sem_setval(semid, SEM_INIT_VAL) < 0) {
        INFO("semctl(SETVAL) failed: %s\n", strerror(errno));
        goto fail;
    }

    /* Parent: P, 1 -> 0. */
    if (semop(semid, &p_op, 1) < 0) {
        INFO("semop(P) failed: %s\n", strerror(errno));
        goto fail;
    }
    val = sem_getval(semid);
    if (val != 0) {
        INFO("after P: expected 0, got %d\n", val);
        goto fail;
    }

    /* Child: V, 0 -> 1. */
    snprintf(args[1], ARG_BUF_SZ, "%d", TEST_PROCESS_SYNC);
    snprintf(args[2], ARG_BUF_SZ, "%d", semid);
    snprintf(args[3], ARG_BUF_SZ, "%d", SEM_INIT_VAL);
    child_argv[0] = prog_name;
    for (int i = 1; i < TEST_PROCESS_SYNC_ARGC; i++) {
        child_argv[i] = args[i];
    }
    child_argv[TEST_PROCESS_SYNC_ARGC] = NULL;
    if (execute_in_child(child_argv) != SUCCESS) {
        INFO("child (TEST_PROCESS_SYNC) failed\n");
        goto fail;
    }

    /* Parent sees the child's V. */
    val = sem_getval(semid);
    if (val != SEM_INIT_VAL) {
        INFO("after child's V: expected %d, got %d\n", SEM_INIT_VAL, val);
        goto fail;
    }

    if (semctl(semid, 0, IPC_RMID) < 0) {
        INFO("semctl(IPC_RMID) failed: %s\n", strerror(errno));
        return FAIL;
    }
    return SUCCESS;

fail:
    sem_remove(semid);
    return FAIL;
}

/*
 * §1.3 A set removed right after creation is gone: IPC_STAT on its id fails
 * with EINVAL, both with a NULL buffer and with a real buffer.
 */
static int test_immediately_rmsem(void) {
    struct semid_ds ds;
    union semun null_arg = { .buf = NULL };
    union semun buf_arg = { .buf = &ds };
    int semid, ret;

    semid = semget(IPC_PRIVATE, SEM_SET_SIZE, IPC_CREAT | IPC_EXCL | S_IRWUSER);
    if (semid < 0) {
        INFO("semget(IPC_PRIVATE) failed: %s\n", strerror(errno));
        return FAIL;
    }
    if (semctl(semid, 0, IPC_RMID) < 0) {
        INFO("semctl(IPC_RMID) failed: %s\n", strerror(errno));
        return FAIL;
    }

    ret = semctl(semid, 0, IPC_STAT, null_arg);
    if (ret != -1 || errno != EINVAL) {
        INFO("IPC_STAT(NULL buf) on removed id: expected EINVAL, got ret=%d errno=%d\n",
             ret, errno);
        return FAIL;
    }

    ret = semctl(semid, 0, IPC_STAT, buf_arg);
    if (ret != -1 || errno != EINVAL) {
        INFO("IPC_STAT(buf) on removed id: expected EINVAL, got ret=%d errno=%d\n",
             ret, errno);
        return FAIL;
    }
    return SUCCESS;
}

/*
 * §1.4 Operating on a destroyed set from another process: the parent creates
 * a keyed set, sets its value and removes it; a child then gets ENOENT from
 * semget() on the old key and EINVAL from semop() (P) on the old id.
 */
static int test_operate_destroyed_sem(void) {
    char args[TEST_OPERATE_DESTOYED_ARGC][ARG_BUF_SZ];
    char *child_argv[TEST_OPERATE_DESTOYED_ARGC + 1];
    key_t key = random_key();
    int semid;

    INFO("key: %d\n", key);

    semid = semget(key, SEM_SET_SIZE, IPC_CREAT | IPC_EXCL | S_IRWUSER);
    if (semid < 0) {
        INFO("semget(IPC_CREAT|IPC_EXCL) failed: %s\n", strerror(errno));
        return FAIL;
    }
    if (sem_setval(semid, SEM_INIT_VAL) < 0) {
        INFO("semctl(SETVAL) failed: %s\n", strerror(errno));
        sem_remove(semid);
        return FAIL;
    }
    if (semctl(semid, 0, IPC_RMID) < 0) {
        INFO("semctl(IPC_RMID) failed: %s\n", strerror(errno));
        return FAIL;
    }

    snprintf(args[1], ARG_BUF_SZ, "%d", TEST_OPERATE_DESTOYED);
    snprintf(args[2], ARG_BUF_SZ, "%d", key);
    snprintf(args[3], ARG_BUF_SZ, "%d", semid);
    snprintf(args[4], ARG_BUF_SZ, "%d", SEM_INIT_VAL);
    child_argv[0] = prog_name;
    for (int i = 1; i < TEST_OPERATE_DESTOYED_ARGC; i++) {
        child_argv[i] = args[i];
    }
    child_argv[TEST_OPERATE_DESTOYED_ARGC] = NULL;
    if (execute_in_child(child_argv) != SUCCESS) {
        INFO("child (TEST_OPERATE_DESTOYED) failed\n");
        return FAIL;
    }
    return SUCCESS;
}

/*
 * §1.5 Leave a set behind: create an IPC_PRIVATE set and set its value, but
 * never IPC_RMID it. Must run last. Natively the set outlives the process
 * (visible with `ipcs -s`); a sandbox supervisor is expected to reclaim it.
 */
static int test_no_rmsem(void) {
    int semid, val;

    semid = semget(IPC_PRIVATE, SEM_SET_SIZE, IPC_CREAT | IPC_EXCL | S_IRWUSER);
    if (semid < 0) {
        INFO("semget(IPC_PRIVATE) failed: %s\n", strerror(errno));
        return FAIL;
    }
    if (sem_setval(semid, SEM_INIT_VAL) < 0) {
        INFO("semctl(SETVAL) failed: %s\n", strerror(errno));
        return FAIL;
    }
    val = sem_getval(semid);
    if (val != SEM_INIT_VAL) {
        INFO("semctl(GETVAL): expected %d, got %d\n", SEM_INIT_VAL, val);
        return FAIL;
    }
    INFO("semid %d left in place for the system to reclaim\n", semid);
    return SUCCESS;
}

/* ------------------------------------------------------------------------ */
/* Child-side checks                                                         */
/* ------------------------------------------------------------------------ */

/* TEST_GET_SEMID_BY_KEY: semget(key) gives the parent's semid and value. */
static int child_test_get_semid_by_key(int argc, char *argv[]) {
    key_t key;
    int expected_semid, expected_val, semid, val;

    if (argc != TEST_GET_SEMID_BY_KEY_ARGC) {
        INFO("invalid argc: expected %d, got %d\n", TEST_GET_SEMID_BY_KEY_ARGC, argc);
        return FAIL;
    }
    key = atoi(argv[2]);
    expected_semid = atoi(argv[3]);
    expected_val = atoi(argv[4]);

    semid = semget(key, SEM_SET_SIZE, S_IRWUSER);
    if (semid != expected_semid) {
        INFO("semget(%d): expected semid %d, got %d (errno=%d)\n",
             key, expected_semid, semid, errno);
        return FAIL;
    }
    val = sem_getval(semid);
    if (val != expected_val) {
        INFO("semctl(GETVAL): expected %d, got %d\n", expected_val, val);
        return FAIL;
    }
    return SUCCESS;
}

/* TEST_PROCESS_SYNC: V on the parent's set, 0 -> 1. */
static int child_test_process_sync(int argc, char *argv[]) {
    struct sembuf v_op = { .sem_num = 0, .sem_op = 1, .sem_flg = 0 };
    int semid, expected_val, val;

    if (argc != TEST_PROCESS_SYNC_ARGC) {
        INFO("invalid argc: expected %d, got %d\n", TEST_PROCESS_SYNC_ARGC, argc);
        return FAIL;
    }
    semid = atoi(argv[2]);
    expected_val = atoi(argv[3]);

    if (semop(semid, &v_op, 1) < 0) {
        INFO("semop(V) on semid %d failed: %s\n", semid, strerror(errno));
        return FAIL;
    }
    val = sem_getval(semid);
    if (val != expected_val) {
        INFO("after V: expected %d, got %d\n", expected_val, val);
        return FAIL;
    }
    return SUCCESS;
}

/* TEST_OPERATE_DESTOYED: old key -> ENOENT, P on old semid -> EINVAL. */
static int child_test_operate_destroyed_sem(int argc, char *argv[]) {
    struct sembuf p_op = { .sem_num = 0, .sem_op = -1, .sem_flg = 0 };
    key_t key;
    int semid, init_val, ret;

    if (argc != TEST_OPERATE_DESTOYED_ARGC) {
        INFO("invalid argc: expected %d, got %d\n", TEST_OPERATE_DESTOYED_ARGC, argc);
        return FAIL;
    }
    key = atoi(argv[2]);
    semid = atoi(argv[3]);
    init_val = atoi(argv[4]);
    INFO("removed set: key=%d semid=%d (had value %d)\n", key, semid, init_val);

    ret = semget(key, SEM_SET_SIZE, S_IRWUSER);
    if (ret != -1 || errno != ENOENT) {
        INFO("semget(old key): expected ENOENT, got ret=%d errno=%d\n", ret, errno);
        return FAIL;
    }

    ret = semop(semid, &p_op, 1);
    if (ret != -1 || errno != EINVAL) {
        INFO("semop(P) on old semid: expected EINVAL, got ret=%d errno=%d\n", ret, errno);
        return FAIL;
    }
    return SUCCESS;
}

/* Child entry: argv[1] is the TEST_* identifier. Exit status 0 = passed. */
static int child_main(int argc, char *argv[]) {
    char *end;
    long test = strtol(argv[1], &end, 10);
    int ret;

    if (*argv[1] == '\0' || *end != '\0') {
        INFO("invalid test identifier: \"%s\"\n", argv[1]);
        return EXIT_FAILURE;
    }

    switch (test) {
    case TEST_GET_SEMID_BY_KEY:
        ret = child_test_get_semid_by_key(argc, argv);
        break;
    case TEST_PROCESS_SYNC:
        ret = child_test_process_sync(argc, argv);
        break;
    case TEST_OPERATE_DESTOYED:
        ret = child_test_operate_destroyed_sem(argc, argv);
        break;
    default:
        INFO("no child part for test identifier %ld\n", test);
        ret = FAIL;
        break;
    }
    return ret == SUCCESS ? EXIT_SUCCESS : EXIT_FAILURE;
}

/* ------------------------------------------------------------------------ */
/* Parent entry                                                              */
/* ------------------------------------------------------------------------ */

static const struct {
    const char *name;
    int (*func)(void);
} tests[] = {
    { "test_semget_semid_from_key", test_semget_semid_from_key },
    { "test_process_sync",          test_process_sync },
    { "test_immediately_rmsem",     test_immediately_rmsem },
    { "test_operate_destroyed_sem", test_operate_destroyed_sem },
    { "test_no_rmsem",              test_no_rmsem },   /* must stay last */
};

int main(int argc, char *argv[]) {
    ssize_t len;
    int passed = 0, failed = 0;

    /* Line-buffer so parent and child logs interleave in order. */
    setvbuf(stdout, NULL, _IOLBF, 0);

    len = readlink("/proc/self/exe", prog_name, sizeof(prog_name) - 1);
    if (len < 0 || (size_t)len >= sizeof(prog_name) - 1) {
        fprintf(stderr, "cannot resolve /proc/self/exe: %s\n",
                len < 0 ? strerror(errno) : "path too long");
        return EXIT_FAILURE;
    }
    prog_name[len] = '\0';

    if (argc > 1) {
        return child_main(argc, argv);
    }

    srand((unsigned int)time(NULL) ^ ((unsigned int)getpid() << 16));

    for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++) {
        if (tests[i].func() == SUCCESS) {
            printf("PASS: %s\n", tests[i].name);
            passed++;
        } else {
            printf("FAIL: %s\n", tests[i].name);
            failed++;
        }
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
