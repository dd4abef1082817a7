// Package semscript is a differential checker for the engine (package
// sem): the same sequence of System V semaphore calls, run through the
// engine and through the host kernel in a fresh IPC namespace, must give
// the same return values, errnos, ids and values.
//
// # The language
//
// A script is text, one call per line. A '#' starts a comment that runs to
// the end of the line; blank lines are ignored. Words are separated by
// spaces or tabs. Every call runs in one process, whose identity starts as
// euid 0, egid 0, no supplementary groups.
//
//	semget KEY NSEMS FLAGS
//	semop  ID OPS [timeout=T]
//	semctl ID SEMNUM CMD [ARG...]
//	as     EUID EGID [GROUP...]
//	cycle  N
//
// Numbers are decimal, 0x-prefixed hexadecimal or 0-prefixed octal, with an
// optional sign, and must fit in 64 bits. Each is then converted to the C
// type of its field exactly as a C cast would (so semget's nsems
// 2147483648 is -2147483648, a sem_op of 40000 is -25536, a key of
// 0x100000001 is 1). KEY, FLAGS, an operation's flags and CMD are
// expressions: numbers and names joined by '|' (bitwise or). The names are
// IPC_PRIVATE, IPC_CREAT, IPC_EXCL, IPC_NOWAIT, SEM_UNDO, IPC_64 and the
// fourteen commands IPC_RMID, IPC_SET, IPC_STAT, IPC_INFO, GETPID, GETVAL,
// GETALL, GETNCNT, GETZCNT, SETVAL, SETALL, SEM_STAT, SEM_INFO and
// SEM_STAT_ANY. Any other number is a valid command too (99,
// IPC_STAT|IPC_64): the kernel is expected to reject it.
//
// ID is an id operand:
//
//	123, -1, 0x7fffffff   a raw id (negative, stale, huge ids are fine)
//	$N                    the result of semget call number N (from 0), or
//	                      -1 if that call failed; N < 0 counts back from
//	                      the latest semget ($-1 is the latest)
//	@N                    the index of that id: its value & 0x7fff, as
//	                      SEM_STAT takes
//	$N+K, $N-K, @N+K ...  plus or minus a number ($0+32768 is the id the
//	                      same index gets one sequence number later)
//
// OPS is a comma-separated list of operations SEM_NUM:SEM_OP:SEM_FLG, each
// optionally followed by *COUNT to repeat it (0:1:0*501 is 501 operations),
// or "-" for no operation at all (nsops 0), or !N for nsops N (0 to
// 4294967295) with an unreadable sops pointer. The timeout is
//
//	timeout=none          NULL, as is leaving it out
//	timeout=bad           an unreadable pointer
//	timeout=SEC.FRAC      a decimal number of seconds, FRAC of 1 to 9
//	                      digits: 0.001 is { 0, 1000000 }, -1.5 is
//	                      { -1, 500000000 }
//	timeout=SEC/NSEC      the raw tv_sec and tv_nsec, for invalid values
//	                      such as 0/1000000000 or 0/-1
//
// A single process cannot be woken by anyone else, so a call that blocks
// ends by itself: with a timeout shorter than the watchdog (0.5 s) it
// fails with EAGAIN when the timeout expires; otherwise the watchdog
// interrupts it with a signal and it fails with EINTR after 0.5 s. Scripts
// should block only with short timeouts (0.001 s or less) and never use
// timeouts close to 0.5 s.
//
// semctl takes an argument depending on CMD (compared as a number):
//
//	SETVAL VALUE          the unsigned long argument; the kernel uses its
//	                      low 32 bits as the int value
//	SETALL V1 V2 ...      the array, as unsigned shorts; semaphores past
//	                      the listed values are set to 0
//	IPC_SET UID GID MODE  the three fields of the semid64_ds passed
//	other commands        no argument (a pointer to a zeroed buffer is
//	                      passed)
//	bad                   (any command but SETVAL) a pointer that can be
//	                      neither read nor written, so that EFAULT and its
//	                      place among the other errors are compared
//
// A bad pointer is the address 8, which Linux never maps (it is below
// mmap_min_addr).
//
// "as" switches the effective identity: the native executor, as root,
// calls setgroups, setegid and seteuid; the engine executor gives the calls
// that follow a sem.Cred with those ids, FSGID equal to EGID, and
// CAP_IPC_OWNER and CAP_SYS_ADMIN exactly when EUID is 0, as the kernel
// drops and restores the effective capabilities when the effective uid
// leaves and returns to 0. EUID, EGID and groups must be in 0..4294967294.
//
// "cycle N" creates a private set of one semaphore with mode 0600 and
// removes it, N times, and prints the id of the last set (or the first
// failure). It exists to walk the id allocator far, up to the wrap of the
// sequence numbers, without millions of lines; it does not count as a
// semget for $N.
//
// Undo at exit is not covered (the process never exits during a script),
// but SEM_UNDO adjustments are: their ERANGE limits and their clearing by
// SETVAL and SETALL are visible through later semop calls.
//
// # Output
//
// Each call prints one line: the call's words joined by single spaces, an
// arrow, the return value and the errno name (OK on success), then any
// values:
//
//	semget IPC_PRIVATE 3 IPC_CREAT|0600 → 0 OK
//	semop $0 0:-1:0 timeout=0.001 → -1 EAGAIN
//	semctl $0 0 IPC_STAT → 0 OK key=0 uid=0 gid=0 cuid=0 cgid=0 mode=0600 seq=0 nsems=3 otime=0 ctime=T
//	semctl 0 0 SEM_INFO → 0 OK semmap=1024000000 semmni=32000 ... semusz=1 semvmx=32767 semaem=3
//	semctl $0 0 GETALL → 0 OK vals=1,0*2
//	semctl $0 0 GETPID → P OK
//
// IPC_STAT, SEM_STAT and SEM_STAT_ANY print key, uid, gid, cuid, cgid,
// mode (octal), seq, nsems, and otime and ctime as 0 or T (nonzero).
// IPC_INFO and SEM_INFO print all ten seminfo fields. GETALL prints the
// values, a run of k equal values v as v*k. GETPID prints the caller's own
// pid as P, since it differs between the executors. Ids are printed raw,
// so that id allocation (seq<<15 | index, cyclic reuse) is compared too.
//
// # Executors
//
// The native executor, c/semexec.c, reads a script on stdin and runs it
// with raw syscall(2) (SYS_semget, SYS_semtimedop — also for calls without
// a timeout, with NULL — and SYS_semctl), so that no libc translation
// interferes; run it with `unshare --ipc` as root (BuildNative, RunNative).
// RunEngine runs a parsed script through a fresh sem.Namespace, entered by
// one of two fronts: FrontDirect, the executor's own model of the kernel's
// entry code (ksys_semctl's dispatch: negative id first, then the command;
// the copy order of ksys_semtimedop) calling the engine's methods, and
// FrontSemsys, package semsys (sembox's system-call surface) over a
// simulated address space laid out like the C executor's buffers. A call
// that blocks is queued on a sem.Waiter and at once cancelled with EAGAIN
// or EINTR, as the watchdog rule above says.
//
// Generate makes random scripts from a seed, and Minimize shrinks a
// mismatching script (MinimizeMulti a multi-process one).
//
// A Checker compares the kernel with any command prefix (a "wrapper",
// such as `sembox run --` or `runsc do`): Run(mode, seed) runs one random
// script of either kind through the same C executor natively and behind
// the wrapper, each in a fresh IPC namespace, and returns a Result with
// both outputs, the first differing line, the minimised script, and a
// readable Report. The sembox tests and `sembox conform` use it. The
// executors are compiled from the embedded sources on first use
// (CachedExecutors; see executors.go for why not prebuilt binaries).
//
// # Tests
//
// The tests build the C executor once per test binary into a temporary
// directory, then run hand-written scripts, each named for the rule it
// checks, and -semscript.seeds random ones (200 by default, from
// -semscript.seed, at most -semscript.calls calls each), natively and
// through both fronts, and report the first mismatching line of each, with
// a minimal script (-semscript.minimize). -semscript.script=FILE compares
// one script file; -semscript.show logs the kernel's output;
// -semscript.long adds the sequence-number wrap-around (about a minute).
// The tests that need the kernel skip if gcc is missing or unshare --ipc
// fails (not root).
//
// TestMultiUnderSembox runs -semscript.multi-seeds random multi-process
// scripts (see MultiScript; 200 by default, from -semscript.seed, at most
// -semscript.multi-calls lines each, made by GenerateMulti): up to six
// worker processes forked by a conductor, c/multiexec.c, that does one
// thing at a time and waits for all its effects (a queued semop shows as
// a rise of the sets' GETNCNT+GETZCNT, the blocked calls a line ends as
// their drop, reported sorted by worker), so that the kernel's output is
// deterministic. One script in four starts with "sync state": the
// conductor then takes a semop as queued when the worker is seen asleep
// in it (/proc/PID/syscall and /proc/PID/stat state S, as test suites
// synchronise) and checks that with a single count, and some of its
// blocking semops end with "now", followed at once by a removal, a
// wake-up, a count or a signal that may reach sembox before the blocked
// call itself. Each script runs natively twice (the two outputs must
// agree), under `sembox run` and through RunEngineMulti (the engine with
// one simulated process per worker, which GenerateMulti follows to know
// who is blocked), outputs compared line by line. TestMultiCases holds
// hand-written scripts; -semscript.multi-script=FILE compares one file.
package semscript
