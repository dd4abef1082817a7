package supervisor

import (
	"os"
	"slices"
	"testing"
)

const sampleStatus = `Name:	cat
Umask:	0022
State:	R (running)
Tgid:	7674
Ngid:	0
Pid:	7675
PPid:	7669
Uid:	1000	1001	1002	1003
Gid:	2000	2001	2002	2003
Groups:	4 24 27 
NStgid:	7674	12	1
NSpid:	7675	13	2
SigPnd:	0000000000000200
ShdPnd:	0000000000000001
SigBlk:	0000000000000001
CapEff:	0000000000208000
`

func TestParseTaskStatus(t *testing.T) {
	var st taskStatus
	parseTaskStatus([]byte(sampleStatus), &st)
	if st.tgid != 7674 || st.ppid != 7669 {
		t.Errorf("tgid %d ppid %d", st.tgid, st.ppid)
	}
	c := st.cred
	if c.EUID != 1001 || c.EGID != 2001 || c.FSGID != 2003 || !slices.Equal(c.Groups, []uint32{4, 24, 27}) {
		t.Errorf("cred %+v", c)
	}
	if !c.CapIPCOwner || !c.CapSysAdmin {
		t.Errorf("capabilities %+v", c)
	}
	if !slices.Equal(st.nspid, []int32{7674, 12, 1}) {
		t.Errorf("NStgid %v", st.nspid)
	}
	// SIGUSR1 (bit 9) is pending for the thread and not blocked; the
	// group's SIGHUP (bit 0) is blocked.
	if !st.pendingUnblocked() {
		t.Error("pending unblocked signal not seen")
	}
	st.sigBlk |= 0x200
	if st.pendingUnblocked() {
		t.Error("blocked signals counted as pending")
	}
}

func TestReadOwnStatus(t *testing.T) {
	var st taskStatus
	if err := readTaskStatus(int32(os.Getpid()), make([]byte, 4096), &st); err != nil {
		t.Fatal(err)
	}
	if st.tgid != int32(os.Getpid()) || st.cred.EUID != uint32(os.Geteuid()) || !st.hasSignal {
		t.Fatalf("%+v", st)
	}
}

func FuzzParseTaskStatus(f *testing.F) {
	f.Add([]byte(sampleStatus))
	f.Add([]byte("Uid:\nGid:\t1\nGroups:\t\t\nSigPnd:\tzz\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		var st taskStatus
		parseTaskStatus(b, &st)
	})
}
