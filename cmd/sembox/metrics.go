package main

// `sembox run --metrics ADDR`: the statistics of `sembox stat` served
// over HTTP at /metrics in the Prometheus text exposition format, version
// 0.0.4.
//
// Why not github.com/prometheus/client_golang: measured on this tree
// (v1.25.0, a trial `go get` plus the smallest real use, a registry with
// a counter, a gauge and a histogram vector served by promhttp), it adds
// 7 modules to go.mod (client_model, common, procfs, beorn7/perks,
// cespare/xxhash, munnerz/goautoneg, google.golang.org/protobuf; 34 in
// `go mod graph` against 1 today) and 44 non-standard packages to the
// binary, which grows by 3.4 MB (+30%) over the same binary serving a
// hand-written exposition with net/http. It would buy little: its model
// is instruments updated as events happen, while these numbers are a
// snapshot taken from the engine on each scrape, so we would write a
// Collector turning the snapshot into const metrics anyway and use the
// library only to print them. The 0.0.4 text format is small and
// stable; writeMetrics prints it and the test parses it back with the
// format's rules. The project's rule is "dependencies are chosen, not
// collected".
//
// The snapshot comes from the sandbox's control socket ("stat"), the
// same answer `sembox stat` prints, so --metrics works the same for an
// anonymous sandbox and for a member of a shared namespace (--ns), where
// the namespace lives in another process.

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/sembox/sembox/internal/control"
)

// metricsContentType is the exposition format's media type.
const metricsContentType = "text/plain; version=0.0.4; charset=utf-8"

// metricsListener is the --metrics listener of this process, if any.
var metricsListener net.Listener

// parseMetricsAddr resolves the argument of --metrics: "PORT" or ":PORT"
// is the loopback address 127.0.0.1:PORT; "HOST:PORT" binds HOST, which
// must be an IP address or "localhost" (a name could resolve to an
// address other than the one meant: an address other than loopback must
// be written out).
func parseMetricsAddr(arg string) (string, error) {
	if arg == "" {
		return "", errors.New("--metrics: empty address")
	}
	if _, err := strconv.ParseUint(arg, 10, 16); err == nil {
		arg = ":" + arg
	}
	host, port, err := net.SplitHostPort(arg)
	if err != nil {
		return "", fmt.Errorf("--metrics: bad address %q: want PORT, :PORT or HOST:PORT", arg)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return "", fmt.Errorf("--metrics: bad port %q", port)
	}
	switch {
	case host == "":
		host = "127.0.0.1"
	case host == "localhost":
	case net.ParseIP(host) == nil:
		return "", fmt.Errorf("--metrics: %q is not an IP address: give 127.0.0.1, ::1, or the address to listen on", host)
	}
	return net.JoinHostPort(host, port), nil
}

// startMetrics binds --metrics's address now, so that a bad or busy one
// is a usage error before the program starts, and serves /metrics from
// the control socket of the namespace o names (o.ns, read at each
// scrape, or this process's anonymous sandbox). With port 0 it tells on
// standard error which port it got.
func startMetrics(arg string, o *runOptions) error {
	if metricsListener != nil {
		return errors.New("--metrics given twice")
	}
	addr, err := parseMetricsAddr(arg)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("--metrics: %w", err)
	}
	if strings.HasSuffix(addr, ":0") {
		fmt.Fprintf(os.Stderr, "sembox: metrics at http://%s/metrics\n", ln.Addr())
	}
	metricsListener = ln
	srv := &http.Server{
		Handler:           metricsHandler(func() string { return metricsSocket(o) }),
		ReadHeaderTimeout: 10 * time.Second,
		WriteTimeout:      30 * time.Second,
	}
	go srv.Serve(ln)
	return nil
}

// metricsSocket returns the control socket of the namespace a run uses.
func metricsSocket(o *runOptions) string {
	if o.ns != "" {
		if t, err := control.ParseTarget(o.ns); err == nil {
			return t.Socket
		}
	}
	return filepath.Join(control.Dir(), strconv.Itoa(os.Getpid())+".sock")
}

// metricsHandler serves GET /metrics from the "stat" answer of the
// control socket socket() names.
func metricsHandler(socket func() string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/metrics", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		resp, err := control.AskPath(socket(), control.Request{Op: "stat"})
		if err == nil && resp.Stats == nil {
			err = errors.New("no statistics in the answer")
		}
		if err != nil {
			http.Error(w, "sembox: the sandbox's statistics are not available: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		var b bytes.Buffer
		writeMetrics(&b, resp.Stats)
		w.Header().Set("Content-Type", metricsContentType)
		w.Header().Set("Content-Length", strconv.Itoa(b.Len()))
		if r.Method == http.MethodGet {
			w.Write(b.Bytes())
		}
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprintln(w, "sembox: the semaphore statistics are at /metrics")
	})
	return mux
}

// metricWriter writes metric families: a family's HELP and TYPE lines,
// then its samples, which must all follow before the next family.
type metricWriter struct {
	w *bufio.Writer
}

func (m *metricWriter) family(name, typ, help string) {
	fmt.Fprintf(m.w, "# HELP %s %s\n# TYPE %s %s\n", name, escapeHelp(help), name, typ)
}

// sample writes one sample; labels are name, value pairs.
func (m *metricWriter) sample(name string, value string, labels ...string) {
	m.w.WriteString(name)
	if len(labels) > 0 {
		m.w.WriteByte('{')
		for i := 0; i+1 < len(labels); i += 2 {
			if i > 0 {
				m.w.WriteByte(',')
			}
			m.w.WriteString(labels[i])
			m.w.WriteString(`="`)
			m.w.WriteString(escapeLabel(labels[i+1]))
			m.w.WriteByte('"')
		}
		m.w.WriteByte('}')
	}
	m.w.WriteByte(' ')
	m.w.WriteString(value)
	m.w.WriteByte('\n')
}

// histogram writes the samples of a wait-time histogram (nanoseconds in,
// seconds out): cumulative buckets by le, +Inf last, then _sum and
// _count.
func (m *metricWriter) histogram(name string, bounds []int64, wait control.Wait, labels ...string) {
	var cum uint64
	for i, n := range wait.Buckets {
		cum += n
		le := "+Inf" // the last bucket's bound is -1
		if i < len(bounds) && bounds[i] >= 0 {
			le = seconds(uint64(bounds[i]))
		}
		m.sample(name+"_bucket", u64(cum), append(labels[:len(labels):len(labels)], "le", le)...)
	}
	m.sample(name+"_sum", seconds(wait.SumNs), labels...)
	m.sample(name+"_count", u64(wait.Count), labels...)
}

func u64(n uint64) string { return strconv.FormatUint(n, 10) }

// seconds formats nanoseconds as seconds, as short as exact.
func seconds(ns uint64) string { return strconv.FormatFloat(float64(ns)/1e9, 'g', -1, 64) }

func escapeHelp(s string) string {
	return strings.NewReplacer(`\`, `\\`, "\n", `\n`).Replace(s)
}

func escapeLabel(s string) string {
	return strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`).Replace(s)
}

// keyLabel formats a key as ipcs does.
func keyLabel(key int32) string { return fmt.Sprintf("0x%08x", uint32(key)) }

// writeMetrics writes st in the text exposition format 0.0.4. Per set
// (labels semid, key): calls by outcome, ends of waits by result, the
// wait-time histogram, waiters now; per semaphore with activity (labels
// semid, key, semnum): operations, blocked calls, time waited, waiters
// now; and the namespace's totals, removed sets included, which never
// decrease.
func writeMetrics(out io.Writer, st *control.Stats) error {
	m := &metricWriter{w: bufio.NewWriter(out)}
	setLabels := func(s *control.SetStats) []string {
		return []string{"semid", strconv.Itoa(int(s.ID)), "key", keyLabel(s.Key)}
	}
	outcomes := func(c *control.Counters) [][2]string {
		return [][2]string{{"performed", u64(c.PerformedAtOnce)}, {"failed", u64(c.FailedAtOnce)}, {"blocked", u64(c.Blocked)}}
	}
	ends := func(e control.Ends) [][2]string {
		return [][2]string{{"completed", u64(e.Completed)}, {"eintr", u64(e.EINTR)}, {"eagain", u64(e.EAGAIN)},
			{"eidrm", u64(e.EIDRM)}, {"other", u64(e.Other)}}
	}

	m.family("sembox_semop_calls_total", "counter",
		"semop and semtimedop calls on the set, by outcome: performed at once, failed at once (EAGAIN, ERANGE), blocked.")
	for i := range st.Sets {
		s := &st.Sets[i]
		for _, o := range outcomes(&s.Counters) {
			m.sample("sembox_semop_calls_total", o[1], append(setLabels(s), "outcome", o[0])...)
		}
	}
	m.family("sembox_semop_wait_ends_total", "counter",
		"Waits of blocked semop calls on the set that ended, by result: completed, eintr (signal), eagain (timeout), eidrm (set removed), other.")
	for i := range st.Sets {
		s := &st.Sets[i]
		for _, e := range ends(s.Ends) {
			m.sample("sembox_semop_wait_ends_total", e[1], append(setLabels(s), "result", e[0])...)
		}
	}
	m.family("sembox_semop_wait_seconds", "histogram", "How long blocked semop calls on the set waited (waits that ended).")
	for i := range st.Sets {
		s := &st.Sets[i]
		m.histogram("sembox_semop_wait_seconds", st.BucketBoundsNs, s.Wait, setLabels(s)...)
	}
	m.family("sembox_semop_waiters", "gauge", "semop calls waiting on the set now.")
	for i := range st.Sets {
		s := &st.Sets[i]
		m.sample("sembox_semop_waiters", strconv.Itoa(len(s.Waiters)), setLabels(s)...)
	}

	semFamily := func(name, typ, help string, value func(*control.SemStats) string) {
		m.family(name, typ, help)
		for i := range st.Sets {
			s := &st.Sets[i]
			for j := range s.Sems {
				sm := &s.Sems[j]
				m.sample(name, value(sm), append(setLabels(s), "semnum", strconv.Itoa(sm.Num))...)
			}
		}
	}
	semFamily("sembox_sem_operations_total", "counter", "Operations performed on the semaphore (each sembuf of a performed call).",
		func(sm *control.SemStats) string { return u64(sm.Ops) })
	semFamily("sembox_sem_blocked_total", "counter", "semop calls that blocked first on an operation on the semaphore.",
		func(sm *control.SemStats) string { return u64(sm.Blocked) })
	semFamily("sembox_sem_wait_seconds_total", "counter", "Time waited by the calls that blocked first on the semaphore (waits that ended).",
		func(sm *control.SemStats) string { return seconds(sm.WaitSumNs) })
	semFamily("sembox_sem_waiters", "gauge", "semop calls waiting on the semaphore now (GETNCNT + GETZCNT).",
		func(sm *control.SemStats) string { return strconv.Itoa(int(sm.Ncount + sm.Zcount)) })

	m.family("sembox_sets", "gauge", "Semaphore sets in the namespace.")
	m.sample("sembox_sets", strconv.Itoa(len(st.Sets)))
	m.family("sembox_removed_sets_total", "counter", "Removed sets that had semop calls.")
	m.sample("sembox_removed_sets_total", strconv.Itoa(st.RemovedSets))
	m.family("sembox_namespace_semop_calls_total", "counter", "semop and semtimedop calls on every set, removed ones included, by outcome.")
	for _, o := range outcomes(&st.Total) {
		m.sample("sembox_namespace_semop_calls_total", o[1], "outcome", o[0])
	}
	m.family("sembox_namespace_semop_wait_ends_total", "counter", "Waits of blocked semop calls on every set, removed ones included, by result.")
	for _, e := range ends(st.Total.Ends) {
		m.sample("sembox_namespace_semop_wait_ends_total", e[1], "result", e[0])
	}
	m.family("sembox_namespace_semop_wait_seconds", "histogram", "How long blocked semop calls on every set, removed ones included, waited.")
	m.histogram("sembox_namespace_semop_wait_seconds", st.BucketBoundsNs, st.Total.Wait)
	return m.w.Flush()
}
