package clients

import (
	"fmt"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"
)

var (
	ipcKey  = regexp.MustCompile(`0x[0-9a-f]{8}`)
	ipcDate = regexp.MustCompile(`(Mon|Tue|Wed|Thu|Fri|Sat|Sun) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [ 0-9]\d \d\d:\d\d:\d\d \d{4}`)
)

// normaliseIPCS replaces the keys ipcmk chose at random by K1, K2... in
// order of first appearance, and the dates (ctime) by DATE. It checks that
// the keys are distinct and not IPC_PRIVATE and that each date is now.
func normaliseIPCS(t *testing.T, label, out string, start time.Time) (string, int) {
	t.Helper()
	keys := map[string]string{}
	out = ipcKey.ReplaceAllStringFunc(out, func(k string) string {
		if k == "0x00000000" {
			t.Errorf("%s: ipcmk made a set with key IPC_PRIVATE", label)
		}
		if _, ok := keys[k]; !ok {
			keys[k] = fmt.Sprintf("K%d", len(keys)+1)
		}
		return keys[k] + strings.Repeat(" ", len(k)-len(keys[k]))
	})
	out = ipcDate.ReplaceAllStringFunc(out, func(d string) string {
		tm, err := time.ParseInLocation("Mon Jan _2 15:04:05 2006", d, time.Local)
		if err != nil {
			t.Errorf("%s: date %q: %v", label, d, err)
		} else if tm.Before(start.Add(-2*time.Second)) || tm.After(time.Now().Add(2*time.Second)) {
			t.Errorf("%s: ctime %q is not the time of the run (%v .. %v)", label, d, start, time.Now())
		}
		return "DATE"
	})
	return out, len(keys)
}

// TestUtilLinux runs ipcmk, ipcs (-s, -s -i, -l, -s -l, -s -c, -s -p,
// -s -t, -s -u, -s -b), lsipc (-s with every column, -s -i as text and
// JSON, a missing id, -g) and ipcrm (-s ID, -S KEY, errors, --all=sem) in
// one script, natively and inside one sandbox, and compares the outputs
// line by line. ipcs and lsipc read /proc/sysvipc/sem and
// /proc/sys/kernel/sem, which sembox serves inside the sandbox.
func TestUtilLinux(t *testing.T) {
	need(t, "util-linux")
	script := filepath.Join(env.testdata, "utillinux.sh")
	dir := t.TempDir()
	trace := filepath.Join(dir, "trace")

	start := time.Now().Truncate(time.Second)
	nat := native(30*time.Second, dir, "sh", script)
	mustNative(t, nat)
	sb := sandboxed(30*time.Second, dir, trace, "sh", script)
	mustSembox(t, sb, nat)

	nOut, nKeys := normaliseIPCS(t, "native", nat.Stdout, start)
	sOut, sKeys := normaliseIPCS(t, "sembox", sb.Stdout, start)
	if nKeys != 5 || sKeys != 5 {
		t.Errorf("want 5 distinct keys from 5 ipcmk calls, native had %d, sembox %d", nKeys, sKeys)
	}
	sameLines(t, "util-linux output (keys and dates normalised)", nOut, sOut)
	sameLines(t, "util-linux stderr", nat.Stderr, sb.Stderr)

	// What the script must show, whatever the kernel says.
	wantLines(t, "sembox", sOut,
		"Semaphore id: 0", "Semaphore id: 3", "Semaphore id: 4",
		"K1         0          root       644        3",
		"K3         2          root       640        5",
		"Semaphore Array semid=2", "mode=0640, access_perms=0640", "nsems = 5",
		"max ops per semop call = 500",
		"used arrays = 4", "allocated semaphores = 11",
		"ipcrm: invalid id (0)", "ipcrm: invalid key (K2        )",
		"ipcs: id 1 not found",
		"Semaphores:                         5",
		`         "nsems": "2"`,
		"lsipc: id 9 not found",
		"SEMMNI      4                32000",
		"used arrays = 0", "allocated semaphores = 0")
	if strings.Count(sOut, "rc=0") != 5 || strings.Count(sOut, "rc=1") != 2 {
		t.Errorf("sembox: want exit statuses 0,0,0,1,1,0,0 (lsipc -i, ipcrm, ipcrm, ipcrm, ipcrm, ipcs -i, ipcrm --all) in:\n%s", sOut)
	}

	// The calls were served by sembox: 5 sets made, all 5 removed.
	ts := readTrace(t, trace)
	t.Logf("trace: %v", ts)
	if len(ts.created) != 5 || ts.ctl["IPC_RMID"] < 5 || ts.ctl["GETVAL"] == 0 || ts.ctl["SEM_STAT"] == 0 {
		t.Errorf("trace does not show ipcmk/ipcs/ipcrm served by sembox: %v", ts)
	}
	var made, removed []string
	for id := range ts.created {
		made = append(made, id)
	}
	for id := range ts.rmids {
		removed = append(removed, id)
	}
	sort.Strings(made)
	sort.Strings(removed)
	if strings.Join(made, ",") != strings.Join(removed, ",") {
		t.Errorf("trace: sets made %v, removed %v", made, removed)
	}
}
