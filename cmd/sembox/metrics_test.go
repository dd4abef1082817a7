package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sembox/sembox/abi"
	"github.com/sembox/sembox/internal/control"
	"github.com/sembox/sembox/sem"
)

func TestParseMetricsAddr(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"9464", "127.0.0.1:9464"},
		{":9464", "127.0.0.1:9464"},
		{"127.0.0.1:0", "127.0.0.1:0"},
		{"localhost:9464", "localhost:9464"},
		{"[::1]:9464", "[::1]:9464"},
		{"0.0.0.0:9464", "0.0.0.0:9464"}, // explicit: allowed
		{"10.1.2.3:80", "10.1.2.3:80"},
		{"", ""},
		{"example.com:9464", ""}, // a name: could be anything
		{":http", ""},
		{":65536", ""},
		{"9464:", ""},
		{"1.2.3.4", ""},
	} {
		got, err := parseMetricsAddr(tc.in)
		if (err != nil) != (tc.want == "") || got != tc.want {
			t.Errorf("parseMetricsAddr(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

// TestParseRunArgsMetrics: --metrics binds at once (a bad address is a
// usage error before the program runs) and may be given once.
func TestParseRunArgsMetrics(t *testing.T) {
	defer func() {
		if metricsListener != nil {
			metricsListener.Close()
			metricsListener = nil
		}
	}()
	if _, err := parseRunArgs([]string{"--metrics", "example.com:1", "p"}); err == nil {
		t.Fatal("a host name was accepted")
	}
	o, err := parseRunArgs([]string{"--metrics=127.0.0.1:0", "--ns", "x", "p"})
	if err != nil || metricsListener == nil || o.ns != "x" {
		t.Fatalf("parse: %v %+v", err, o)
	}
	if metricsSocket(o) != filepath.Join(control.NamespaceDir(), "x.sock") {
		t.Errorf("metrics socket %s", metricsSocket(o))
	}
	if _, err := parseRunArgs([]string{"--metrics=127.0.0.1:0", "p"}); err == nil {
		t.Error("--metrics twice was accepted")
	}
}

// monoClock is a sem.Clock and sem.MonoClock that the test moves.
type monoClock struct{ mono atomic.Int64 }

func (c *monoClock) Now() int64       { return 1_000_000 }
func (c *monoClock) Monotonic() int64 { return c.mono.Load() }

// scriptedNamespace runs a small workload on a fake clock: set 0 (key
// 0x51, 2 semaphores) has 3 calls performed at once, 1 failed, a wait
// completed after 3 µs, one interrupted after 1 ms, one timed out after
// 40 ms, and a call waiting now on semaphore 1 (pid 33); set 1 had a
// wait of 5 µs ended by its removal.
func scriptedNamespace(t *testing.T) *sem.Namespace {
	clk := &monoClock{}
	ns := sem.NewNamespace(clk)
	tk := &sem.Task{PID: 10, Cred: &sem.Cred{CapIPCOwner: true, CapSysAdmin: true}, Undo: new(sem.UndoList)}
	task := func(pid int32) *sem.Task { c := *tk; c.PID = pid; return &c }
	a, _ := ns.Semget(tk, 0x51, 2, abi.IPC_CREAT|0o600)
	b, _ := ns.Semget(tk, abi.IPC_PRIVATE, 1, 0o600)
	op := func(tk *sem.Task, id int32, num uint16, o int16, flg int16, w *sem.Waiter) (bool, sem.Errno) {
		return ns.Semtimedop(tk, id, []abi.Sembuf{{SemNum: num, SemOp: o, SemFlg: flg}}, nil, w)
	}
	must := func(blocked bool, err sem.Errno, wantBlocked bool, wantErr sem.Errno) {
		t.Helper()
		if blocked != wantBlocked || err != wantErr {
			t.Fatalf("semop: %v %v, want %v %v", blocked, err, wantBlocked, wantErr)
		}
	}
	done := func(*sem.Waiter) {}
	b1, e := op(tk, a, 0, 1, 0, nil)
	must(b1, e, false, 0)
	b1, e = op(tk, a, 0, -1, 0, nil)
	must(b1, e, false, 0)
	b1, e = op(tk, a, 0, -1, abi.IPC_NOWAIT, nil)
	must(b1, e, false, sem.EAGAIN)
	w1, w2, w3, w4, w5 := &sem.Waiter{Done: done}, &sem.Waiter{Done: done}, &sem.Waiter{Done: done}, &sem.Waiter{Done: done}, &sem.Waiter{Done: done}
	clk.mono.Store(1000)
	b1, e = op(task(31), a, 0, -1, 0, w1)
	must(b1, e, true, 0)
	clk.mono.Store(4000)
	b1, e = op(tk, a, 0, 1, 0, nil) // w1 completes after 3 µs
	must(b1, e, false, 0)
	b1, e = op(task(32), a, 0, -1, 0, w2)
	must(b1, e, true, 0)
	clk.mono.Store(1_004_000)
	ns.Cancel(w2, sem.EINTR)
	b1, e = op(task(32), a, 0, -1, 0, w3)
	must(b1, e, true, 0)
	clk.mono.Store(41_004_000)
	ns.Cancel(w3, sem.EAGAIN)
	b1, e = op(task(33), a, 1, -1, 0, w4)
	must(b1, e, true, 0)
	b1, e = op(task(34), b, 0, -1, 0, w5)
	must(b1, e, true, 0)
	clk.mono.Store(41_009_000)
	if e := ns.Remove(tk, b); e != 0 {
		t.Fatal(e)
	}
	clk.mono.Store(42_004_000)
	return ns
}

// wantScripted are the samples scriptedNamespace must give (histogram
// buckets only where they matter).
var wantScripted = map[string]float64{
	`sembox_semop_calls_total{key="0x00000051",outcome="performed",semid="0"}`:    3,
	`sembox_semop_calls_total{key="0x00000051",outcome="failed",semid="0"}`:       1,
	`sembox_semop_calls_total{key="0x00000051",outcome="blocked",semid="0"}`:      4,
	`sembox_semop_wait_ends_total{key="0x00000051",result="completed",semid="0"}`: 1,
	`sembox_semop_wait_ends_total{key="0x00000051",result="eintr",semid="0"}`:     1,
	`sembox_semop_wait_ends_total{key="0x00000051",result="eagain",semid="0"}`:    1,
	`sembox_semop_wait_ends_total{key="0x00000051",result="eidrm",semid="0"}`:     0,
	`sembox_semop_wait_ends_total{key="0x00000051",result="other",semid="0"}`:     0,
	`sembox_semop_wait_seconds_bucket{key="0x00000051",le="2e-06",semid="0"}`:     0,
	`sembox_semop_wait_seconds_bucket{key="0x00000051",le="4e-06",semid="0"}`:     1,
	`sembox_semop_wait_seconds_bucket{key="0x00000051",le="0.001024",semid="0"}`:  2,
	`sembox_semop_wait_seconds_bucket{key="0x00000051",le="0.032768",semid="0"}`:  2,
	`sembox_semop_wait_seconds_bucket{key="0x00000051",le="0.065536",semid="0"}`:  3,
	`sembox_semop_wait_seconds_bucket{key="0x00000051",le="+Inf",semid="0"}`:      3,
	`sembox_semop_wait_seconds_sum{key="0x00000051",semid="0"}`:                   0.041003,
	`sembox_semop_wait_seconds_count{key="0x00000051",semid="0"}`:                 3,
	`sembox_semop_waiters{key="0x00000051",semid="0"}`:                            1,
	`sembox_sem_operations_total{key="0x00000051",semid="0",semnum="0"}`:          4,
	`sembox_sem_blocked_total{key="0x00000051",semid="0",semnum="0"}`:             3,
	`sembox_sem_blocked_total{key="0x00000051",semid="0",semnum="1"}`:             1,
	`sembox_sem_wait_seconds_total{key="0x00000051",semid="0",semnum="0"}`:        0.041003,
	`sembox_sem_waiters{key="0x00000051",semid="0",semnum="0"}`:                   0,
	`sembox_sem_waiters{key="0x00000051",semid="0",semnum="1"}`:                   1,
	`sembox_sets`:               1,
	`sembox_removed_sets_total`: 1,
	`sembox_namespace_semop_calls_total{outcome="blocked"}`:  5,
	`sembox_namespace_semop_wait_ends_total{result="eidrm"}`: 1,
	`sembox_namespace_semop_wait_seconds_bucket{le="8e-06"}`: 2,
	`sembox_namespace_semop_wait_seconds_count`:              4,
	`sembox_namespace_semop_wait_seconds_sum`:                0.041008,
}

func checkSamples(t *testing.T, got map[string]float64, want map[string]float64) {
	t.Helper()
	for k, v := range want {
		g, ok := got[k]
		if !ok {
			t.Errorf("no sample %s", k)
		} else if math.Abs(g-v) > 1e-12 {
			t.Errorf("%s = %v, want %v", k, g, v)
		}
	}
}

// TestWriteMetrics checks the exposition of a scripted workload: valid
// text format 0.0.4 and every value exact.
func TestWriteMetrics(t *testing.T) {
	var b bytes.Buffer
	if err := writeMetrics(&b, control.StatsOf(scriptedNamespace(t).Stats())); err != nil {
		t.Fatal(err)
	}
	got, err := parsePromText(&b)
	if err != nil {
		t.Fatalf("%v\n%s", err, b.String())
	}
	checkSamples(t, got, wantScripted)
}

// TestMetricsServed scrapes /metrics over HTTP from a namespace served on
// a control socket, as `sembox run --metrics` does.
func TestMetricsServed(t *testing.T) {
	ns := scriptedNamespace(t)
	sock := filepath.Join(t.TempDir(), "ns.sock")
	cl, err := control.ListenPath(sock, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	go control.Serve(cl, &control.Backend{Namespace: ns})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: metricsHandler(func() string { return sock })}
	go srv.Serve(ln)
	defer srv.Close()
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Get("http://" + ln.Addr().String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != metricsContentType {
		t.Fatalf("status %d, content type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	got, err := parsePromText(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	checkSamples(t, got, wantScripted)

	for path, code := range map[string]int{"/nothing": 404, "/": 200} {
		r, err := client.Get("http://" + ln.Addr().String() + path)
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		if r.StatusCode != code {
			t.Errorf("GET %s: %d, want %d", path, r.StatusCode, code)
		}
	}
	r, err := client.Post("http://"+ln.Addr().String()+"/metrics", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /metrics: %d", r.StatusCode)
	}
	// No sandbox behind the socket: 503, not a broken exposition.
	cl.Close()
	r, err = client.Get("http://" + ln.Addr().String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("without a sandbox: %d, want 503", r.StatusCode)
	}
}

// TestPrintStats checks the table of `sembox stat` for the scripted
// workload.
func TestPrintStats(t *testing.T) {
	var b bytes.Buffer
	printStats(&b, control.StatsOf(scriptedNamespace(t).Stats()))
	text := b.String()
	for _, want := range []string{
		"semid      key             calls    blocked      p50      p99      max   EINTR  EAGAIN   EIDRM  waiters",
		"0          0x00000051          8          4   1.02ms   40.0ms   40.0ms       1       1       0  1: 33",
		"removed    (1 sets)            1          1   5.00us   5.00us   5.00us       0       0       1  -",
		"0          0                 4          3     41.0ms   40.0ms       1       1       0  -",
		"0          1                 0          1          0        0       0       0       0  1: 33",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("no line %q in\n%s", want, text)
		}
	}
}

// The text exposition format, version 0.0.4, as its specification
// states it, to check writeMetrics's output independently of it.
var (
	promName  = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*$`)
	promLabel = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)
)

// parsePromText parses an exposition and checks the format's rules:
// HELP and TYPE at most once per family and before its samples, a
// family's samples together, valid names and label syntax (escapes
// included), float values, no duplicate series, and for histograms
// buckets by increasing le with cumulative counts, a +Inf bucket equal to
// _count, and a _sum. It returns every sample by its series, labels
// sorted: name{a="x",b="y"}.
func parsePromText(r io.Reader) (map[string]float64, error) {
	samples := map[string]float64{}
	types := map[string]string{}
	helps := map[string]bool{}
	done := map[string]bool{} // families whose samples have ended
	current := ""
	type hist struct {
		les    []float64
		counts []float64
		sum    bool
		count  float64
		hasCnt bool
	}
	hists := map[string]*hist{} // by family and labels without le
	sc := bufio.NewScanner(r)
	line := 0
	for sc.Scan() {
		line++
		l := sc.Text()
		fail := func(format string, a ...any) (map[string]float64, error) {
			return nil, fmt.Errorf("line %d %q: %s", line, l, fmt.Sprintf(format, a...))
		}
		if strings.TrimSpace(l) == "" {
			continue
		}
		if strings.HasPrefix(l, "#") {
			f := strings.Fields(l)
			if len(f) >= 3 && (f[1] == "HELP" || f[1] == "TYPE") {
				name := f[2]
				if !promName.MatchString(name) {
					return fail("bad metric name")
				}
				if done[name] || familyHasSamples(samples, name) {
					return fail("%s after the family's samples", f[1])
				}
				if f[1] == "HELP" {
					if helps[name] {
						return fail("second HELP")
					}
					helps[name] = true
				} else {
					if types[name] != "" {
						return fail("second TYPE")
					}
					if len(f) != 4 || !slices.Contains([]string{"counter", "gauge", "histogram", "summary", "untyped"}, f[3]) {
						return fail("bad TYPE")
					}
					types[name] = f[3]
				}
				if current != name && current != "" {
					done[current] = true
				}
				current = name
			}
			continue
		}
		name, labels, rest, err := parseSample(l)
		if err != nil {
			return fail("%v", err)
		}
		family := name
		for _, suf := range []string{"_bucket", "_sum", "_count"} {
			if base, ok := strings.CutSuffix(name, suf); ok && types[base] == "histogram" {
				family = base
			}
		}
		if done[family] {
			return fail("family %s is not together", family)
		}
		if current != family {
			if current != "" {
				done[current] = true
			}
			current = family
		}
		f := strings.Fields(rest)
		if len(f) < 1 || len(f) > 2 {
			return fail("want a value and an optional timestamp")
		}
		v, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			return fail("bad value")
		}
		if len(f) == 2 {
			if _, err := strconv.ParseInt(f[1], 10, 64); err != nil {
				return fail("bad timestamp")
			}
		}
		keys := make([]string, 0, len(labels))
		for k := range labels {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var series, other strings.Builder
		series.WriteString(name)
		for i, k := range keys {
			sep := ","
			if i == 0 {
				sep = "{"
			}
			fmt.Fprintf(&series, "%s%s=%q", sep, k, labels[k])
			if k != "le" {
				fmt.Fprintf(&other, "%s=%q,", k, labels[k])
			}
		}
		if len(keys) > 0 {
			series.WriteString("}")
		}
		if _, dup := samples[series.String()]; dup {
			return fail("duplicate series")
		}
		samples[series.String()] = v
		if types[family] == "histogram" {
			key := family + "{" + other.String()
			h := hists[key]
			if h == nil {
				h = &hist{}
				hists[key] = h
			}
			switch name {
			case family + "_bucket":
				le, err := strconv.ParseFloat(labels["le"], 64)
				if err != nil {
					return fail("bad le")
				}
				if n := len(h.les); n > 0 && (le <= h.les[n-1] || v < h.counts[n-1]) {
					return fail("buckets not increasing")
				}
				h.les, h.counts = append(h.les, le), append(h.counts, v)
			case family + "_sum":
				h.sum = true
			case family + "_count":
				h.count, h.hasCnt = v, true
			}
		} else if types[family] == "counter" && v < 0 {
			return fail("negative counter")
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	for key, h := range hists {
		n := len(h.les)
		if n == 0 || !math.IsInf(h.les[n-1], 1) || !h.sum || !h.hasCnt || h.counts[n-1] != h.count {
			return nil, fmt.Errorf("histogram %s: needs a +Inf bucket equal to _count, and _sum", key)
		}
	}
	return samples, nil
}

func familyHasSamples(samples map[string]float64, name string) bool {
	for k := range samples {
		for _, suf := range []string{"", "_bucket", "_sum", "_count"} {
			if k == name+suf || strings.HasPrefix(k, name+suf+"{") {
				return true
			}
		}
	}
	return false
}

// parseSample splits a sample line into its name, labels and the rest.
func parseSample(l string) (string, map[string]string, string, error) {
	i := strings.IndexAny(l, "{ \t")
	if i < 0 {
		return "", nil, "", fmt.Errorf("no value")
	}
	name := l[:i]
	if !promName.MatchString(name) {
		return "", nil, "", fmt.Errorf("bad metric name %q", name)
	}
	labels := map[string]string{}
	rest := l[i:]
	if rest[0] != '{' {
		return name, labels, rest, nil
	}
	rest = rest[1:]
	for {
		rest = strings.TrimLeft(rest, " ")
		if strings.HasPrefix(rest, "}") {
			return name, labels, rest[1:], nil
		}
		eq := strings.IndexByte(rest, '=')
		if eq < 0 {
			return "", nil, "", fmt.Errorf("no '=' in labels")
		}
		ln := strings.TrimSpace(rest[:eq])
		if !promLabel.MatchString(ln) || strings.HasPrefix(ln, "__") {
			return "", nil, "", fmt.Errorf("bad label name %q", ln)
		}
		if _, dup := labels[ln]; dup {
			return "", nil, "", fmt.Errorf("label %q twice", ln)
		}
		rest = strings.TrimLeft(rest[eq+1:], " ")
		if !strings.HasPrefix(rest, `"`) {
			return "", nil, "", fmt.Errorf("label value not quoted")
		}
		var v strings.Builder
		j := 1
		for ; j < len(rest) && rest[j] != '"'; j++ {
			if rest[j] == '\\' {
				if j+1 >= len(rest) {
					return "", nil, "", fmt.Errorf("bad escape")
				}
				j++
				switch rest[j] {
				case '\\':
					v.WriteByte('\\')
				case '"':
					v.WriteByte('"')
				case 'n':
					v.WriteByte('\n')
				default:
					return "", nil, "", fmt.Errorf("bad escape \\%c", rest[j])
				}
				continue
			}
			v.WriteByte(rest[j])
		}
		if j >= len(rest) {
			return "", nil, "", fmt.Errorf("unterminated label value")
		}
		labels[ln] = v.String()
		rest = strings.TrimLeft(rest[j+1:], " ")
		if strings.HasPrefix(rest, ",") {
			rest = rest[1:]
		} else if !strings.HasPrefix(rest, "}") {
			return "", nil, "", fmt.Errorf("want ',' or '}' after a label")
		}
	}
}

// TestParsePromTextRejects makes sure the checker above can fail.
func TestParsePromTextRejects(t *testing.T) {
	for _, bad := range []string{
		"# TYPE x counter\nx 1\n# TYPE y gauge\ny 1\nx 2\n", // family split
		"x{a=\"1\"} 1\nx{a=\"1\"} 2\n",                      // duplicate
		"x{a=1} 1\n",                                        // unquoted
		"x{a=\"\\q\"} 1\n",                                  // bad escape
		"# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n", // decreasing
		"# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_sum 1\nh_count 1\n",                          // no +Inf
		"# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 1\n",                       // +Inf != count
		"1x 1\n",                   // bad name
		"x one\n",                  // bad value
		"# TYPE x counter\nx -1\n", // negative counter
	} {
		if _, err := parsePromText(strings.NewReader(bad)); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}
