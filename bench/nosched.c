/* nosched.so: LD_PRELOAD shim for running rt-tests' svsematest under
 * gVisor's runsc. svsematest's main thread asks for SCHED_FIFO before it
 * starts its (SCHED_OTHER, priority 0) measuring threads; gVisor refuses
 * real-time policies (EINVAL) and svsematest then exits. This shim makes
 * sched_setscheduler() succeed without changing anything, so the measuring
 * threads run as they do natively with priority 0. Used by bench/run.sh
 * only under runsc. */
#include <sched.h>
#include <sys/types.h>

int sched_setscheduler(pid_t pid, int policy, const struct sched_param *param) {
	(void)pid;
	(void)policy;
	(void)param;
	return 0;
}
