package sem_test

import (
	"strings"
	"testing"

	"github.com/sembox/sembox/abi"
	"github.com/sembox/sembox/sem"
)

// TestProcSysvipcSem compares /proc/sysvipc/sem with the text Linux 6.18
// printed for the same calls in a fresh namespace (unshare --ipc); the
// fake clock is set to the time the kernel printed.
func TestProcSysvipcSem(t *testing.T) {
	ns, clk := newNS()
	root := rootTask(1)
	clk.Set(1795709073)
	a, _ := ns.Semget(root, 0x1234, 3, abi.IPC_CREAT|0o640)
	b := mustGet(t, ns, root, 1, 0o600)
	c, _ := ns.Semget(root, -5, 250, abi.IPC_CREAT|0o777)
	mustOp(t, ns, root, b, sb(0, 1, 0))
	ns.Remove(root, a)
	if a, _ = ns.Semget(root, 0x1234, 3, abi.IPC_CREAT|0o640); a != 3 || b != 1 || c != 2 {
		t.Fatalf("ids %d %d %d, want 3 1 2", a, b, c)
	}
	var got strings.Builder
	if err := ns.WriteProcSysvipcSem(&got); err != nil {
		t.Fatal(err)
	}
	want := "       key      semid perms      nsems   uid   gid  cuid  cgid      otime      ctime\n" +
		"         0          1   600          1     0     0     0     0 1795709073 1795709073\n" +
		"        -5          2   777        250     0     0     0     0          0 1795709073\n" +
		"      4660          3   640          3     0     0     0     0          0 1795709073\n"
	if got.String() != want {
		t.Errorf("/proc/sysvipc/sem:\n%s\nwant:\n%s", got.String(), want)
	}
}

// TestProcSysvipcSemWideFields: large uids and negative keys use the
// kernel's %5u and %10d fields, which grow and never truncate (line
// checked on Linux 6.18).
func TestProcSysvipcSemWideFields(t *testing.T) {
	ns, clk := newNS()
	clk.Set(42)
	tk := userTask(1, 4294967294, 65534)
	if _, err := ns.Semget(tk, -2147483648, 1, abi.IPC_CREAT|0o1); err != 0 {
		t.Fatal(err)
	}
	var got strings.Builder
	ns.WriteProcSysvipcSem(&got)
	want := "-2147483648          0     1          1 4294967294 65534 4294967294 65534          0         42\n"
	if lines := strings.SplitAfter(got.String(), "\n"); len(lines) < 2 || lines[1] != want {
		t.Errorf("line = %q, want %q", got.String(), want)
	}
}

func TestProcSysKernelSemRead(t *testing.T) {
	ns, _ := newNS()
	if got, want := ns.ProcSysKernelSem(), "32000\t1024000000\t500\t32000\n"; got != want {
		t.Errorf("/proc/sys/kernel/sem = %q, want %q", got, want)
	}
	ns.SetLimits(sem.Limits{SEMMSL: -1, SEMMNS: 2, SEMOPM: 3, SEMMNI: 4})
	if got, want := ns.ProcSysKernelSem(), "-1\t2\t3\t4\n"; got != want {
		t.Errorf("/proc/sys/kernel/sem = %q, want %q", got, want)
	}
}

// TestProcSysKernelSemWrite compares writes to /proc/sys/kernel/sem with
// what Linux 6.18 does (one write(2) of the text in a fresh namespace,
// starting from the defaults 32000 1024000000 500 32000). proc_dointvec
// parses numbers in base 0 (0x10 is 16, 010 is 8), stores each value as
// soon as it is parsed (a bad later field fails with EINVAL but keeps the
// earlier ones), rejects "+", and fails a write of only white space with
// EINVAL.
func TestProcSysKernelSemWrite(t *testing.T) {
	def := sem.Limits{SEMMSL: 32000, SEMMNS: 1024000000, SEMOPM: 500, SEMMNI: 32000}
	tests := []struct {
		name string
		text string
		err  sem.Errno
		want sem.Limits
	}{
		{"an empty write changes nothing", "", 0, def},
		{"one value replaces SEMMSL only", "250", 0, sem.Limits{250, 1024000000, 500, 32000}},
		{"two values", "251 252", 0, sem.Limits{251, 252, 500, 32000}},
		{"four values", "1 2 3 4", 0, sem.Limits{1, 2, 3, 4}},
		{"tabs and newlines separate values", "7\t8\n9 10\n", 0, sem.Limits{7, 8, 9, 10}},
		{"a trailing space is fine", "13 ", 0, sem.Limits{13, 1024000000, 500, 32000}},
		{"values beyond the fourth are ignored", "11 12 13 14 15", 0, sem.Limits{11, 12, 13, 14}},
		{"SEMMNI may be IPCMNI", "1 2 3 32768", 0, sem.Limits{1, 2, 3, 32768}},
		{"ERANGE for SEMMNI above IPCMNI keeps the old SEMMNI only", "1 2 3 32769", sem.ERANGE, sem.Limits{1, 2, 3, 32000}},
		{"ERANGE for a negative SEMMNI", "-5 -6 -7 -8", sem.ERANGE, sem.Limits{-5, -6, -7, 32000}},
		{"the most negative int is accepted", "-2147483648", 0, sem.Limits{-2147483648, 1024000000, 500, 32000}},
		{"EINVAL above INT_MAX", "2147483648", sem.EINVAL, def},
		{"EINVAL for a non-number", "abc", sem.EINVAL, def},
		{"EINVAL for a number followed by garbage", "12abc", sem.EINVAL, def},
		{"EINVAL for a newline only", "\n", sem.EINVAL, def},
		{"EINVAL for blanks only", "   ", sem.EINVAL, def},
		{"EINVAL for a plus sign", "+5", sem.EINVAL, def},
		{"numbers are parsed in base 0", "0x10 010 3 4", 0, sem.Limits{16, 8, 3, 4}},
		{"a bad later field keeps the earlier values", "5 6 7 abc", sem.EINVAL, sem.Limits{5, 6, 7, 32000}},
		// The rows below were checked against Linux 6.18.
		{"a number of 20 characters is fine", "00000000000000000001 2 3 4", 0, sem.Limits{1, 2, 3, 4}},
		{"EINVAL for a number of 21 characters", "000000000000000000001 2 3 4", sem.EINVAL, def},
		{"EINVAL for a later number of 21 characters", "1 000000000000000000002 3 4", sem.EINVAL, sem.Limits{1, 1024000000, 500, 32000}},
		{"the minus sign counts in the 21 characters", "-00000000000000000001 2", sem.EINVAL, def},
		{"a negative number of 20 characters is fine", "-0000000000000000001 2", 0, sem.Limits{-1, 2, 500, 32000}},
		{"EINVAL for a number past 64 bits", "99999999999999999999", sem.EINVAL, def},
		{"EINVAL for hex past INT_MAX", "0xffffffff", sem.EINVAL, def},
		{"the most negative int in hex", "-0x80000000 1", 0, sem.Limits{-2147483648, 1, 500, 32000}},
		{"EINVAL below the most negative int in hex", "-0x80000001 1", sem.EINVAL, def},
		{"0X is hex too", "0X1f 1", 0, sem.Limits{31, 1, 500, 32000}},
		{"EINVAL for 0x without a hex digit", "0x 1", sem.EINVAL, def},
		{"EINVAL for 0x and a non-hex digit", "0xg", sem.EINVAL, def},
		{"EINVAL for an octal number with an 8", "08 1", sem.EINVAL, def},
		{"EINVAL for a lone minus", "-", sem.EINVAL, def},
		{"EINVAL for a carriage return after a number", "1\r2 3 4", sem.EINVAL, def},
		{"EINVAL for a vertical tab after a number", "1\v2 3 4", sem.EINVAL, def},
		{"EINVAL for a NUL after a number", "1\x002", sem.EINVAL, def},
		{"EINVAL for a no-break space after a number", "1\xa02", sem.EINVAL, def},
		{"any white space may come before a number", "\v\f\r1 \xa02", 0, sem.Limits{1, 2, 500, 32000}},
		{"only the first 4095 bytes are read", strings.Repeat(" ", 4092) + "12345", 0, sem.Limits{123, 1024000000, 500, 32000}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ns, _ := newNS()
			if err := ns.WriteProcSysKernelSem(tc.text); err != tc.err {
				t.Errorf("write %q = %s, want %s", tc.text, errName(err), errName(tc.err))
			}
			if got := ns.Limits(); got != tc.want {
				t.Errorf("after write %q: %+v, want %+v", tc.text, got, tc.want)
			}
		})
	}
}

// TestSnapshot checks the administrative view against the semctl values.
func TestSnapshot(t *testing.T) {
	s := newScenario(t, 3, 0)
	s.block("A", sb(0, -5, 0))
	s.block("Z", sb(0, 0, 0))
	s.block("M", sb(1, -1, 0), sb(0, -1, 0))
	other := mustGet(t, s.ns, s.task("setup"), 1, 0o644)
	snap := s.ns.Snapshot(true)
	if len(snap) != 2 || snap[0].ID != s.id || snap[1].ID != other {
		t.Fatalf("Snapshot ids: %+v", snap)
	}
	si := snap[0]
	if si.DS != stat(t, s.ns, s.id) {
		t.Errorf("Snapshot DS = %+v, want %+v", si.DS, stat(t, s.ns, s.id))
	}
	if want := []uint16{3, 0}; !slicesEqual(si.Vals, want) {
		t.Errorf("Vals = %v, want %v", si.Vals, want)
	}
	if want := []int32{s.pid("setup"), s.pid("setup")}; !slicesEqual(si.Pids, want) {
		t.Errorf("Pids = %v, want %v", si.Pids, want)
	}
	if want := []int32{1, 1}; !slicesEqual(si.Ncnt, want) {
		t.Errorf("Ncnt = %v, want %v", si.Ncnt, want)
	}
	if want := []int32{1, 0}; !slicesEqual(si.Zcnt, want) {
		t.Errorf("Zcnt = %v, want %v", si.Zcnt, want)
	}
	if brief := s.ns.Snapshot(false); len(brief) != 2 || brief[0].Vals != nil || brief[1].DS.Perm.Mode != 0o644 {
		t.Errorf("Snapshot(false) = %+v", brief)
	}
}

func slicesEqual[T comparable](a, b []T) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
