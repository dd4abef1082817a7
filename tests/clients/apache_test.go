package clients

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

const apacheConf = `ServerRoot "{{ROOT}}"
ServerName 127.0.0.1
Listen 127.0.0.1:{{PORT1}}
Listen 127.0.0.1:{{PORT2}}
LoadModule mpm_prefork_module /usr/lib/apache2/modules/mod_mpm_prefork.so
LoadModule authz_core_module /usr/lib/apache2/modules/mod_authz_core.so
User www-data
Group www-data
# Every mutex, the prefork accept mutex included, is a System V semaphore.
Mutex sysvsem default
PidFile "{{ROOT}}/logs/httpd.pid"
ErrorLog "{{ROOT}}/logs/error.log"
LogLevel info
DocumentRoot "{{ROOT}}/htdocs"
StartServers 4
MinSpareServers 4
MaxSpareServers 8
MaxRequestWorkers 16
<Directory "{{ROOT}}/htdocs">
  Require all granted
</Directory>
`

// freePort returns a loopback TCP port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// apacheRoot lays out a ServerRoot of our own (config, docroot, logs, pid)
// in a 0755 temp dir, so the www-data children can read the docroot.
func apacheRoot(t *testing.T, page []byte) (root, conf string) {
	t.Helper()
	root = tempDir(t, "sembox-apache-")
	for _, d := range []string{"htdocs", "logs"} {
		if err := os.Mkdir(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(root, "htdocs", "index.html"), page, 0o644); err != nil {
		t.Fatal(err)
	}
	p1, p2 := freePort(t), freePort(t)
	for p2 == p1 {
		p2 = freePort(t)
	}
	text := strings.NewReplacer("{{ROOT}}", root, "{{PORT1}}", fmt.Sprint(p1), "{{PORT2}}", fmt.Sprint(p2)).Replace(apacheConf)
	conf = filepath.Join(root, "httpd.conf")
	if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	// Whatever happens, no apache2 of ours outlives the test.
	t.Cleanup(func() {
		for _, pid := range processesWith(conf) {
			t.Logf("killing leftover apache2 process %d", pid)
			syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	return root, conf
}

// processesWith lists the pids whose command line contains s.
func processesWith(s string) []int {
	var pids []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmd, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && bytes.Contains(cmd, []byte(s)) && !bytes.HasPrefix(cmd, []byte("unshare")) {
			pids = append(pids, pid)
		}
	}
	return pids
}

type abResult struct {
	complete, failed, non2xx, docLen int
	rps                              float64
}

var (
	abComplete = regexp.MustCompile(`Complete requests:\s+(\d+)`)
	abFailed   = regexp.MustCompile(`Failed requests:\s+(\d+)`)
	abNon2xx   = regexp.MustCompile(`Non-2xx responses:\s+(\d+)`)
	abDocLen   = regexp.MustCompile(`Document Length:\s+(\d+) bytes`)
	abRPS      = regexp.MustCompile(`Requests per second:\s+([0-9.]+)`)
	logBad     = regexp.MustCompile(`(?m)^.*:(emerg|alert|crit|error)\].*$`)
)

func parseAB(out string) (abResult, error) {
	var r abResult
	num := func(re *regexp.Regexp, dst *int, required bool) error {
		m := re.FindStringSubmatch(out)
		if m == nil {
			if required {
				return fmt.Errorf("no %q in ab's output", re.String())
			}
			return nil
		}
		*dst, _ = strconv.Atoi(m[1])
		return nil
	}
	for _, e := range []error{
		num(abComplete, &r.complete, true), num(abFailed, &r.failed, true),
		num(abNon2xx, &r.non2xx, false), num(abDocLen, &r.docLen, true),
	} {
		if e != nil {
			return r, e
		}
	}
	if m := abRPS.FindStringSubmatch(out); m != nil {
		r.rps, _ = strconv.ParseFloat(m[1], 64)
	}
	return r, nil
}

// TestApacheSysvsemMutex runs apache2 (mpm_prefork, 4+ children, two
// loopback listeners so that prefork serialises accept() with its mutex,
// `Mutex sysvsem default`) with its own ServerRoot, loads it with
// `ab -n 2000 -c 8`, stops it with `apache2 -k stop`, and checks: zero
// failed requests, the page served intact, no error in the error log, no
// set left after the stop, sembox gone with the last apache process, and
// semop calls in the trace (the accept mutex really was a sembox set).
func TestApacheSysvsemMutex(t *testing.T) {
	need(t, "apache2", "apache2-utils", "procps")
	const requests, concurrency = 2000, 8
	page := bytes.Repeat([]byte("sembox serves System V semaphores outside the kernel.\n"), 80)
	script := filepath.Join(env.testdata, "apache.sh")

	type outcome struct {
		res   result
		ab    abResult
		root  string
		conf  string
		trace string
	}
	start := func(sandbox bool) outcome {
		root, conf := apacheRoot(t, page)
		port := regexp.MustCompile(`Listen 127\.0\.0\.1:(\d+)`).FindStringSubmatch(mustRead(t, conf))[1]
		args := []string{"sh", script, conf, filepath.Join(root, "logs", "httpd.pid"),
			"http://127.0.0.1:" + port + "/index.html", fmt.Sprint(requests), fmt.Sprint(concurrency)}
		o := outcome{root: root, conf: conf}
		if sandbox {
			o.trace = filepath.Join(root, "trace")
			o.res = sandboxed(120*time.Second, root, o.trace, args...)
		} else {
			o.res = native(120*time.Second, root, args...)
		}
		return o
	}
	check := func(label string, o outcome) []string {
		var bad []string
		out := o.res.Stdout
		if !o.res.OK() {
			bad = append(bad, "script: "+o.res.Status())
		}
		ab, err := parseAB(out)
		if err != nil {
			bad = append(bad, err.Error())
		}
		if ab.complete != requests || ab.failed != 0 || ab.non2xx != 0 || ab.docLen != len(page) {
			bad = append(bad, fmt.Sprintf("ab: %d complete, %d failed, %d non-2xx, document length %d (want %d, 0, 0, %d)",
				ab.complete, ab.failed, ab.non2xx, ab.docLen, requests, len(page)))
		}
		for _, want := range []string{"ab_rc=0", "sets_while_running=1", "apache=stopped", "sets_after_stop=0"} {
			if !strings.Contains(out, want+"\n") {
				bad = append(bad, "missing "+want)
			}
		}
		if n, _ := strconv.Atoi(field(out, "children")); n < 4 {
			bad = append(bad, fmt.Sprintf("want at least 4 prefork children, saw %q", field(out, "children")))
		}
		if log := mustRead(t, filepath.Join(o.root, "logs", "error.log")); logBad.MatchString(log) {
			bad = append(bad, "error log:\n"+strings.Join(logBad.FindAllString(log, -1), "\n"))
		}
		if left := processesWith(o.conf); len(left) > 0 {
			bad = append(bad, fmt.Sprintf("apache2 processes still running after the run: %v", left))
		}
		t.Logf("%s: %s in %v; %d requests, %d failed, %.0f requests/s, children=%s",
			label, o.res.Status(), o.res.Dur.Round(time.Millisecond), ab.complete, ab.failed, ab.rps, field(out, "children"))
		return bad
	}

	nat := start(false)
	if bad := check("native", nat); len(bad) > 0 {
		t.Fatalf("native run failed (a test or machine problem, not sembox):\n%s\n%s",
			strings.Join(bad, "\n"), describe("native", nat.res))
	}
	sb := start(true)
	if bad := check("sembox", sb); len(bad) > 0 {
		t.Fatalf("SEMBOX BUG: apache2 fails under sembox but passes natively:\n%s\n%s\nerror log:\n%s",
			strings.Join(bad, "\n"), describe("sembox", sb.res), mustRead(t, filepath.Join(sb.root, "logs", "error.log")))
	}

	ts := readTrace(t, sb.trace)
	t.Logf("trace: %v", ts)
	if ts.semops() == 0 {
		t.Fatalf("apache2 made no semop call under sembox: the accept mutex was not a sembox set: %v", ts)
	}
	// Every set made (by the configuration check and by the server) was
	// removed, and the children (www-data) used the set the parent gave
	// them with IPC_SET.
	if len(ts.created) == 0 || len(ts.rmids) != len(ts.created) || ts.ctl["IPC_SET"] == 0 {
		t.Errorf("trace: sets made %v, removed %v, IPC_SET %d: %v", ts.created, ts.rmids, ts.ctl["IPC_SET"], ts)
	}
	if ts.semops() < requests {
		t.Errorf("want at least one accept-mutex semop per request (%d), got %d", requests, ts.semops())
	}
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
