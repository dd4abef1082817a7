// probe is run inside a sandbox by the launch tests. Its arguments are
// commands, executed in order; each prints one "key=value" line.
//
//   semget          semget(IPC_PRIVATE, 1, 0600): "semget=RET errno=E"
//   int80           ipc(SEMGET) through int $0x80, the i386 entry point:
//                   "int80=RET" (RET is the raw result, -errno on failure)
//                   or "int80=unavailable" if the kernel has no int $0x80
//   argv0           the program's argv[0]: "argv0=NAME"
//   getppid         getppid(): "getppid=RET"
//   fds             the open file descriptors: "fds=0,1,2"
//   nnp             the NoNewPrivs line of /proc/self/status: "nnp=N"
//   loop-semget N   N semget calls: "ns_per_call=T fails=F"
//   loop-getppid N  N getppid calls (never trapped): same output
//   read-stdin      wait until standard input reaches EOF: "stdin=eof"
//   fork-semget     fork; the child waits for EOF on standard input, then
//                   does "semget" and exits; the parent prints
//                   "forked=PID" and goes on
//   pause           sleep until killed
//   exit N          exit with status N
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <dirent.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static sigjmp_buf segv_jmp;

static void on_segv(int sig) {
	(void)sig;
	siglongjmp(segv_jmp, 1);
}

static void do_semget(void) {
	errno = 0;
	long r = semget(IPC_PRIVATE, 1, 0600);
	printf("semget=%ld errno=%d\n", r, r < 0 ? errno : 0);
}

static void do_int80(void) {
#if defined(__x86_64__)
	struct sigaction sa, old;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_segv;
	sigaction(SIGSEGV, &sa, &old);
	if (sigsetjmp(segv_jmp, 1)) {
		// Kernels without IA32 emulation (or with it disabled) turn
		// int $0x80 into a general protection fault.
		printf("int80=unavailable\n");
	} else {
		// i386 ipc(SEMGET, IPC_PRIVATE, 1, 0600, 0): eax=117 ebx=call
		// ecx=first edx=second esi=third edi=ptr. int $0x80 from 64-bit
		// code clobbers r8-r11.
		long r;
		__asm__ volatile("int $0x80"
		                 : "=a"(r)
		                 : "a"(117L), "b"(2L), "c"((long)IPC_PRIVATE), "d"(1L), "S"(0600L), "D"(0L)
		                 : "memory", "r8", "r9", "r10", "r11");
		printf("int80=%ld\n", r);
	}
	sigaction(SIGSEGV, &old, NULL);
#else
	printf("int80=unavailable\n");
#endif
}

static void do_nnp(void) {
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	int v = -1;
	while (f && fgets(line, sizeof line, f))
		if (sscanf(line, "NoNewPrivs: %d", &v) == 1)
			break;
	if (f)
		fclose(f);
	printf("nnp=%d\n", v);
}

static void do_fds(void) {
	DIR *d = opendir("/proc/self/fd");
	int fds[64], n = 0, self = d ? dirfd(d) : -1;
	struct dirent *e;
	while (d && (e = readdir(d)) && n < 64)
		if (e->d_name[0] != '.' && atoi(e->d_name) != self)
			fds[n++] = atoi(e->d_name);
	if (d)
		closedir(d);
	for (int i = 1; i < n; i++) // insertion sort: readdir order is arbitrary
		for (int j = i; j > 0 && fds[j - 1] > fds[j]; j--) {
			int t = fds[j];
			fds[j] = fds[j - 1];
			fds[j - 1] = t;
		}
	printf("fds=");
	for (int i = 0; i < n; i++)
		printf(i ? ",%d" : "%d", fds[i]);
	printf("\n");
}

static double now_ns(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static void do_loop(long nr, long n) {
	long fails = 0;
	double t0 = now_ns();
	for (long i = 0; i < n; i++)
		if (nr == SYS_semget ? syscall(SYS_semget, IPC_PRIVATE, 1, 0600) < 0 : syscall(nr) < 0)
			fails++;
	double t1 = now_ns();
	printf("ns_per_call=%.1f fails=%ld\n", (t1 - t0) / n, fails);
}

static void read_stdin(void) {
	char buf[256];
	while (read(0, buf, sizeof buf) > 0)
		;
}

int main(int argc, char **argv) {
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (int i = 1; i < argc; i++) {
		const char *c = argv[i];
		if (!strcmp(c, "semget")) {
			do_semget();
		} else if (!strcmp(c, "int80")) {
			do_int80();
		} else if (!strcmp(c, "argv0")) {
			printf("argv0=%s\n", argv[0]);
		} else if (!strcmp(c, "getppid")) {
			printf("getppid=%ld\n", (long)syscall(SYS_getppid));
		} else if (!strcmp(c, "fds")) {
			do_fds();
		} else if (!strcmp(c, "nnp")) {
			do_nnp();
		} else if (!strcmp(c, "loop-semget") && i + 1 < argc) {
			do_loop(SYS_semget, atol(argv[++i]));
		} else if (!strcmp(c, "loop-getppid") && i + 1 < argc) {
			do_loop(SYS_getppid, atol(argv[++i]));
		} else if (!strcmp(c, "read-stdin")) {
			read_stdin();
			printf("stdin=eof\n");
		} else if (!strcmp(c, "fork-semget")) {
			fflush(stdout);
			pid_t pid = fork();
			if (pid == 0) {
				read_stdin();
				do_semget();
				_exit(0);
			}
			printf("forked=%d\n", (int)pid);
		} else if (!strcmp(c, "pause")) {
			for (;;)
				pause();
		} else if (!strcmp(c, "exit") && i + 1 < argc) {
			return atoi(argv[++i]);
		} else {
			fprintf(stderr, "probe: bad command %s\n", c);
			return 2;
		}
	}
	return 0;
}
