package supervisor

import "golang.org/x/sys/unix"

// sysAlarm is alarm(2), which arm64 does not have (glibc's alarm() calls
// setitimer there): a number no call has.
const sysAlarm = -1

// TimerSyscalls are the calls that arm a timer whose expiry signals the
// caller's process (see timers.go).
var TimerSyscalls = []int{unix.SYS_SETITIMER, unix.SYS_TIMER_SETTIME}
