package clients

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestPHPSysvsem runs testdata/php.sh: PHP's sem_get/sem_acquire (blocking
// and non-blocking)/sem_release/sem_remove, max_acquire 2, auto_release of
// a semaphore held by a php process that exits, and N concurrent php
// processes contending on a counter in a file.
func TestPHPSysvsem(t *testing.T) {
	need(t, "php-cli")
	if out, err := exec.Command("php", "-m").Output(); err != nil || !strings.Contains(string(out), "\nsysvsem\n") {
		t.Fatalf("Debian's php-cli has no sysvsem extension (`php -m`: %v):\n%s", err, out)
	}
	const n, m = 4, 100
	script := filepath.Join(env.testdata, "php.sh")
	dir := t.TempDir()
	trace := filepath.Join(dir, "trace")

	nat := native(60*time.Second, dir, "sh", script, fmt.Sprint(n), fmt.Sprint(m), filepath.Join(dir, "counter.native"))
	mustNative(t, nat)
	sb := sandboxed(60*time.Second, dir, trace, "sh", script, fmt.Sprint(n), fmt.Sprint(m), filepath.Join(dir, "counter.sembox"))
	mustSembox(t, sb, nat)
	sameLines(t, "PHP output", nat.Stdout, sb.Stdout)
	sameLines(t, "PHP stderr", nat.Stderr, sb.Stderr)

	wantLines(t, "sembox", sb.Stdout,
		"sem_get=true",
		"acquire=true",
		"acquire_nowait_taken=false",
		"release=true",
		"release_not_held=false",
		"acquire_nowait_free=true",
		"max2 acquire1=true acquire2=true acquire3=false",
		"remove_max2=true",
		"holder acquire=true",
		"after_holder acquire_nowait=true",
		fmt.Sprintf("workers=%d failed=0 counter=%d expected=%d", n, n*m, n*m),
		"remove=true",
		"acquire_after_remove=false",
		"sets_left=0")

	ts := readTrace(t, trace)
	t.Logf("trace: %v", ts)
	if ts.semops() < 2*n*m || len(ts.created) != 2 || len(ts.rmids) != 2 {
		t.Errorf("trace does not show PHP's calls served by sembox: %v", ts)
	}
}
