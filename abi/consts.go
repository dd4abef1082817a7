package abi

// Flags of semget(2) and of sembuf.SemFlg, from <linux/ipc.h> and <linux/sem.h>.
const (
	IPC_PRIVATE = 0      // key that always creates a new set
	IPC_CREAT   = 0o1000 // create the set if the key does not exist
	IPC_EXCL    = 0o2000 // with IPC_CREAT: fail with EEXIST if the key exists
	IPC_NOWAIT  = 0o4000 // sembuf.SemFlg: fail with EAGAIN instead of waiting
	SEM_UNDO    = 0x1000 // sembuf.SemFlg: undo the operation when the process exits
	IPC_64      = 0x0100 // "new" ABI flag some libcs OR into semctl commands
	S_IRWXUGO   = 0o777  // permission bits of a set's mode
	S_IRUGO     = 0o444  // read permission for owner, group and others
	S_IWUGO     = 0o222  // write (alter) permission for owner, group and others
)

// Commands of semctl(2), from <linux/ipc.h> and <linux/sem.h>.
const (
	IPC_RMID     = 0
	IPC_SET      = 1
	IPC_STAT     = 2
	IPC_INFO     = 3
	GETPID       = 11
	GETVAL       = 12
	GETALL       = 13
	GETNCNT      = 14
	GETZCNT      = 15
	SETVAL       = 16
	SETALL       = 17
	SEM_STAT     = 18
	SEM_INFO     = 19
	SEM_STAT_ANY = 20
)

// Compile-time limits of <linux/sem.h> and ipc/util.h. The run-time limits
// SEMMSL, SEMMNS, SEMOPM and SEMMNI live in the namespace; these are fixed.
const (
	SEMMNI           = 32000           // default maximum number of sets
	SEMMSL           = 32000           // default maximum semaphores per set
	SEMMNS           = SEMMNI * SEMMSL // default maximum semaphores in all sets
	SEMOPM           = 500             // default maximum operations per semop call
	SEMVMX           = 32767           // maximum semaphore value
	SEMAEM           = SEMVMX          // maximum adjust-on-exit value
	SEMUME           = SEMOPM          // seminfo.semume
	SEMMNU           = SEMMNS          // seminfo.semmnu
	SEMMAP           = SEMMNS          // seminfo.semmap
	SEMUSZ           = 20              // seminfo.semusz for IPC_INFO
	IPCMNI           = 32768           // number of ids per IPC type (ipcmni_extend off)
	IPCMNI_SEQ_SHIFT = 15              // ids are seq<<15 | index
	IPCMNI_IDX_MASK  = IPCMNI - 1
	IPCID_SEQ_MAX    = 0x7fffffff >> IPCMNI_SEQ_SHIFT // sequence numbers wrap here
	IPC_MIN_CYCLE    = 64                             // RADIX_TREE_MAP_SIZE: smallest id recycling window
)
