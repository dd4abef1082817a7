package supervisor

import "golang.org/x/sys/unix"

// sysAlarm is alarm(2), which arm64 does not have.
const sysAlarm = unix.SYS_ALARM

// TimerSyscalls are the calls that arm a timer whose expiry signals the
// caller's process (see timers.go).
var TimerSyscalls = []int{unix.SYS_ALARM, unix.SYS_SETITIMER, unix.SYS_TIMER_SETTIME}
