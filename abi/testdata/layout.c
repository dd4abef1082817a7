/*
 * layout.c prints the x86_64 layout of the System V semaphore structures
 * and constants as the C compiler sees them in the kernel's UAPI headers,
 * as "name value" lines, and hex dumps of structures filled with known
 * values. abi's tests compile and run it (see gcc_test.go).
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <linux/sem.h>
#include <linux/time_types.h>

#define SIZE(t) printf("sizeof %s %zu\n", #t, sizeof(struct t))
#define OFF(t, f) printf("offsetof %s.%s %zu\n", #t, #f, offsetof(struct t, f))
#define FSIZE(t, f) printf("fieldsize %s.%s %zu\n", #t, #f, sizeof(((struct t *)0)->f))
#define CONST(c) printf("const %s %lld\n", #c, (long long)(c))

static void dump(const char *name, const void *p, size_t n)
{
	const unsigned char *b = p;
	printf("bytes %s ", name);
	for (size_t i = 0; i < n; i++)
		printf("%02x", b[i]);
	printf("\n");
}

int main(void)
{
	SIZE(sembuf);
	OFF(sembuf, sem_num); FSIZE(sembuf, sem_num);
	OFF(sembuf, sem_op); FSIZE(sembuf, sem_op);
	OFF(sembuf, sem_flg); FSIZE(sembuf, sem_flg);

	SIZE(__kernel_timespec);
	OFF(__kernel_timespec, tv_sec); FSIZE(__kernel_timespec, tv_sec);
	OFF(__kernel_timespec, tv_nsec); FSIZE(__kernel_timespec, tv_nsec);

	SIZE(ipc64_perm);
	SIZE(semid64_ds);
	OFF(semid64_ds, sem_perm.key); FSIZE(semid64_ds, sem_perm.key);
	OFF(semid64_ds, sem_perm.uid); FSIZE(semid64_ds, sem_perm.uid);
	OFF(semid64_ds, sem_perm.gid); FSIZE(semid64_ds, sem_perm.gid);
	OFF(semid64_ds, sem_perm.cuid); FSIZE(semid64_ds, sem_perm.cuid);
	OFF(semid64_ds, sem_perm.cgid); FSIZE(semid64_ds, sem_perm.cgid);
	OFF(semid64_ds, sem_perm.mode); FSIZE(semid64_ds, sem_perm.mode);
	OFF(semid64_ds, sem_perm.seq); FSIZE(semid64_ds, sem_perm.seq);
	OFF(semid64_ds, sem_otime); FSIZE(semid64_ds, sem_otime);
	OFF(semid64_ds, sem_ctime); FSIZE(semid64_ds, sem_ctime);
	OFF(semid64_ds, sem_nsems); FSIZE(semid64_ds, sem_nsems);

	SIZE(seminfo);
	OFF(seminfo, semmap); OFF(seminfo, semmni); OFF(seminfo, semmns);
	OFF(seminfo, semmnu); OFF(seminfo, semmsl); OFF(seminfo, semopm);
	OFF(seminfo, semume); OFF(seminfo, semusz); OFF(seminfo, semvmx);
	OFF(seminfo, semaem);

	CONST(IPC_PRIVATE); CONST(IPC_CREAT); CONST(IPC_EXCL); CONST(IPC_NOWAIT);
	CONST(SEM_UNDO); CONST(IPC_64);
	CONST(S_IRWXU | S_IRWXG | S_IRWXO);
	CONST(S_IRUSR | S_IRGRP | S_IROTH);
	CONST(S_IWUSR | S_IWGRP | S_IWOTH);
	CONST(IPC_RMID); CONST(IPC_SET); CONST(IPC_STAT); CONST(IPC_INFO);
	CONST(GETPID); CONST(GETVAL); CONST(GETALL); CONST(GETNCNT); CONST(GETZCNT);
	CONST(SETVAL); CONST(SETALL); CONST(SEM_STAT); CONST(SEM_INFO); CONST(SEM_STAT_ANY);
	CONST(SEMMNI); CONST(SEMMSL); CONST(SEMMNS); CONST(SEMOPM); CONST(SEMVMX);
	CONST(SEMAEM); CONST(SEMUME); CONST(SEMMNU); CONST(SEMMAP); CONST(SEMUSZ);

	struct sembuf sb = { .sem_num = 0xfedc, .sem_op = -2, .sem_flg = IPC_NOWAIT | SEM_UNDO };
	dump("sembuf", &sb, sizeof sb);

	struct __kernel_timespec ts = { .tv_sec = -5, .tv_nsec = 999999999 };
	dump("timespec", &ts, sizeof ts);

	struct semid64_ds ds;
	memset(&ds, 0, sizeof ds);
	ds.sem_perm.key = -1234567;
	ds.sem_perm.uid = 4000000001u;
	ds.sem_perm.gid = 4000000002u;
	ds.sem_perm.cuid = 4000000003u;
	ds.sem_perm.cgid = 4000000004u;
	ds.sem_perm.mode = 0640;
	ds.sem_perm.seq = 0xbeef;
	ds.sem_otime = -2;
	ds.sem_ctime = 0x123456789abcdefLL;
	ds.sem_nsems = 0xfedcba9876543210ULL;
	dump("semid64_ds", &ds, sizeof ds);

	struct seminfo si = { 1, -2, 3, 4, 0x7fffffff, 6, 7, 8, -9, 10 };
	dump("seminfo", &si, sizeof si);
	return 0;
}
