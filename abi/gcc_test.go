package abi

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// cLayout compiles and runs testdata/layout.c and returns its "kind name"
// -> value lines. The test is skipped without gcc or off linux/amd64.
func cLayout(t *testing.T) map[string]string {
	t.Helper()
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		t.Skip("the layouts are those of linux/amd64")
	}
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		t.Skip("no gcc")
	}
	bin := filepath.Join(t.TempDir(), "layout")
	if out, err := exec.Command(gcc, "-Wall", "-Werror", "-o", bin, filepath.Join("testdata", "layout.c")).CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v\n%s", err, out)
	}
	out, err := exec.Command(bin).Output()
	if err != nil {
		t.Fatalf("running layout: %v", err)
	}
	m := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 3 {
			t.Fatalf("bad line %q", sc.Text())
		}
		m[f[0]+" "+strings.Join(f[1:len(f)-1], " ")] = f[len(f)-1]
	}
	return m
}

func cInt(t *testing.T, m map[string]string, key string) int64 {
	t.Helper()
	s, ok := m[key]
	if !ok {
		t.Fatalf("layout.c printed no %q", key)
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatalf("%s: %v", key, err)
	}
	return v
}

// TestLayoutMatchesC checks every size, offset and field width the
// Marshal/Unmarshal methods rely on against gcc's view of the kernel's
// UAPI headers.
func TestLayoutMatchesC(t *testing.T) {
	m := cLayout(t)
	tests := []struct {
		key  string
		want int64
	}{
		{"sizeof sembuf", SembufSize},
		{"offsetof sembuf.sem_num", 0},
		{"fieldsize sembuf.sem_num", 2},
		{"offsetof sembuf.sem_op", 2},
		{"fieldsize sembuf.sem_op", 2},
		{"offsetof sembuf.sem_flg", 4},
		{"fieldsize sembuf.sem_flg", 2},

		{"sizeof __kernel_timespec", TimespecSize},
		{"offsetof __kernel_timespec.tv_sec", 0},
		{"fieldsize __kernel_timespec.tv_sec", 8},
		{"offsetof __kernel_timespec.tv_nsec", 8},
		{"fieldsize __kernel_timespec.tv_nsec", 8},

		{"sizeof ipc64_perm", offOtime},
		{"sizeof semid64_ds", SemidDSSize},
		{"offsetof semid64_ds.sem_perm.key", offPermKey},
		{"fieldsize semid64_ds.sem_perm.key", 4},
		{"offsetof semid64_ds.sem_perm.uid", offPermUID},
		{"fieldsize semid64_ds.sem_perm.uid", 4},
		{"offsetof semid64_ds.sem_perm.gid", offPermGID},
		{"fieldsize semid64_ds.sem_perm.gid", 4},
		{"offsetof semid64_ds.sem_perm.cuid", offPermCUID},
		{"fieldsize semid64_ds.sem_perm.cuid", 4},
		{"offsetof semid64_ds.sem_perm.cgid", offPermCGID},
		{"fieldsize semid64_ds.sem_perm.cgid", 4},
		{"offsetof semid64_ds.sem_perm.mode", offPermMode},
		{"fieldsize semid64_ds.sem_perm.mode", 4},
		{"offsetof semid64_ds.sem_perm.seq", offPermSeq},
		{"fieldsize semid64_ds.sem_perm.seq", 2},
		{"offsetof semid64_ds.sem_otime", offOtime},
		{"fieldsize semid64_ds.sem_otime", 8},
		{"offsetof semid64_ds.sem_ctime", offCtime},
		{"fieldsize semid64_ds.sem_ctime", 8},
		{"offsetof semid64_ds.sem_nsems", offNsems},
		{"fieldsize semid64_ds.sem_nsems", 8},

		{"sizeof seminfo", SeminfoSize},
	}
	for i, f := range []string{"semmap", "semmni", "semmns", "semmnu", "semmsl", "semopm", "semume", "semusz", "semvmx", "semaem"} {
		tests = append(tests, struct {
			key  string
			want int64
		}{"offsetof seminfo." + f, int64(4 * i)})
	}
	for _, tc := range tests {
		t.Run(tc.key, func(t *testing.T) {
			if got := cInt(t, m, tc.key); got != tc.want {
				t.Errorf("C says %d, Go assumes %d", got, tc.want)
			}
		})
	}
}

// TestConstsMatchC checks the constants against the kernel's UAPI headers.
func TestConstsMatchC(t *testing.T) {
	m := cLayout(t)
	tests := []struct {
		c    string
		want int64
	}{
		{"IPC_PRIVATE", IPC_PRIVATE}, {"IPC_CREAT", IPC_CREAT}, {"IPC_EXCL", IPC_EXCL},
		{"IPC_NOWAIT", IPC_NOWAIT}, {"SEM_UNDO", SEM_UNDO}, {"IPC_64", IPC_64},
		{"S_IRWXU | S_IRWXG | S_IRWXO", S_IRWXUGO},
		{"S_IRUSR | S_IRGRP | S_IROTH", S_IRUGO},
		{"S_IWUSR | S_IWGRP | S_IWOTH", S_IWUGO},
		{"IPC_RMID", IPC_RMID}, {"IPC_SET", IPC_SET}, {"IPC_STAT", IPC_STAT}, {"IPC_INFO", IPC_INFO},
		{"GETPID", GETPID}, {"GETVAL", GETVAL}, {"GETALL", GETALL}, {"GETNCNT", GETNCNT},
		{"GETZCNT", GETZCNT}, {"SETVAL", SETVAL}, {"SETALL", SETALL}, {"SEM_STAT", SEM_STAT},
		{"SEM_INFO", SEM_INFO}, {"SEM_STAT_ANY", SEM_STAT_ANY},
		{"SEMMNI", SEMMNI}, {"SEMMSL", SEMMSL}, {"SEMMNS", SEMMNS}, {"SEMOPM", SEMOPM},
		{"SEMVMX", SEMVMX}, {"SEMAEM", SEMAEM}, {"SEMUME", SEMUME}, {"SEMMNU", SEMMNU},
		{"SEMMAP", SEMMAP}, {"SEMUSZ", SEMUSZ},
	}
	for _, tc := range tests {
		t.Run(tc.c, func(t *testing.T) {
			if got := cInt(t, m, "const "+tc.c); got != tc.want {
				t.Errorf("C says %d, Go has %d", got, tc.want)
			}
		})
	}
}

// TestMarshalMatchesC decodes structures that C filled in, and checks that
// encoding the same values gives C's bytes exactly (padding included).
func TestMarshalMatchesC(t *testing.T) {
	m := cLayout(t)
	cBytes := func(name string) []byte {
		b, err := hex.DecodeString(m["bytes "+name])
		if err != nil || len(b) == 0 {
			t.Fatalf("bytes %s: %q %v", name, m["bytes "+name], err)
		}
		return b
	}
	t.Run("sembuf", func(t *testing.T) {
		c := cBytes("sembuf")
		want := Sembuf{SemNum: 0xfedc, SemOp: -2, SemFlg: IPC_NOWAIT | SEM_UNDO}
		var got Sembuf
		got.Unmarshal(c)
		if got != want {
			t.Errorf("Unmarshal(C) = %+v, want %+v", got, want)
		}
		b := make([]byte, SembufSize)
		want.Marshal(b)
		if !bytes.Equal(b, c) {
			t.Errorf("Marshal = %x, C has %x", b, c)
		}
	})
	t.Run("timespec", func(t *testing.T) {
		c := cBytes("timespec")
		want := Timespec{Sec: -5, Nsec: 999999999}
		var got Timespec
		got.Unmarshal(c)
		if got != want {
			t.Errorf("Unmarshal(C) = %+v, want %+v", got, want)
		}
		b := make([]byte, TimespecSize)
		want.Marshal(b)
		if !bytes.Equal(b, c) {
			t.Errorf("Marshal = %x, C has %x", b, c)
		}
	})
	t.Run("semid64_ds", func(t *testing.T) {
		c := cBytes("semid64_ds")
		want := SemidDS{
			Perm:  IPCPerm{Key: -1234567, UID: 4000000001, GID: 4000000002, CUID: 4000000003, CGID: 4000000004, Mode: 0o640, Seq: 0xbeef},
			Otime: -2, Ctime: 0x123456789abcdef, Nsems: 0xfedcba9876543210,
		}
		var got SemidDS
		got.Unmarshal(c)
		if got != want {
			t.Errorf("Unmarshal(C) = %+v, want %+v", got, want)
		}
		b := bytes.Repeat([]byte{0xaa}, SemidDSSize) // Marshal must clear padding
		want.Marshal(b)
		if !bytes.Equal(b, c) {
			t.Errorf("Marshal = %x\n          C has %x", b, c)
		}
	})
	t.Run("seminfo", func(t *testing.T) {
		c := cBytes("seminfo")
		want := Seminfo{Semmap: 1, Semmni: -2, Semmns: 3, Semmnu: 4, Semmsl: 0x7fffffff, Semopm: 6, Semume: 7, Semusz: 8, Semvmx: -9, Semaem: 10}
		var got Seminfo
		got.Unmarshal(c)
		if got != want {
			t.Errorf("Unmarshal(C) = %+v, want %+v", got, want)
		}
		b := make([]byte, SeminfoSize)
		want.Marshal(b)
		if !bytes.Equal(b, c) {
			t.Errorf("Marshal = %x, C has %x", b, c)
		}
	})
}
