package launch

import (
	"errors"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/sembox/sembox/internal/seccomp"
)

// roundTrips is how many system calls the probe makes per measurement.
const roundTrips = 200000

// costMode is one way of running the probe's system call loop.
type costMode struct {
	name       string
	loop       string // probe command: loop-semget or loop-getppid
	sandboxed  bool
	syncWakeUp bool
}

var costModes = []costMode{
	{name: "native-getppid", loop: "loop-getppid"},
	{name: "sandboxed-getppid", loop: "loop-getppid", sandboxed: true},
	{name: "trapped-semget", loop: "loop-semget", sandboxed: true},
	{name: "trapped-semget-syncwakeup", loop: "loop-semget", sandboxed: true, syncWakeUp: true},
}

// measure runs the probe's loop of n calls in mode m, served by serve on a
// goroutine locked to its thread, and returns the cost per call as the
// probe timed it.
func measure(t testing.TB, m costMode, n int) float64 {
	probe := needProbe(t)
	args := []string{"probe", m.loop, strconv.Itoa(n)}
	var out string
	if !m.sandboxed {
		b, err := exec.Command(probe, args[1:]...).Output()
		if err != nil {
			t.Fatal(err)
		}
		out = string(b)
	} else {
		outR, outW := pipe(t)
		stdout := readAll(outR)
		sb, err := Start(Config{Path: probe, Args: args, Stdout: outW})
		outW.Close()
		if err != nil {
			t.Fatal(err)
		}
		if m.syncWakeUp {
			if err := seccomp.SetSyncWakeUp(sb.Listener); errors.Is(err, errors.ErrUnsupported) {
				t.Skip(err)
			} else if err != nil {
				t.Fatal(err)
			}
		}
		served := make(chan error, 1)
		go func() { served <- serve(sb.Listener, answer4242) }()
		if _, err := sb.Wait(); err != nil {
			t.Fatal(err)
		}
		if err := <-served; err != nil {
			t.Fatal(err)
		}
		closeFD(sb.Listener)
		out = <-stdout
	}
	var ns float64
	var fails int
	for _, f := range strings.Fields(out) {
		if v, ok := strings.CutPrefix(f, "ns_per_call="); ok {
			ns, _ = strconv.ParseFloat(v, 64)
		}
		if v, ok := strings.CutPrefix(f, "fails="); ok {
			fails, _ = strconv.Atoi(v)
		}
	}
	if ns == 0 || fails != 0 {
		t.Fatalf("probe said %q", out)
	}
	return ns
}

// BenchmarkRoundTrip measures the bare cost of a trapped semget answered
// by a Go supervisor, with and without SetSyncWakeUp, against an untrapped
// call inside and outside the sandbox. Each iteration is a loop of
// roundTrips calls timed by the probe itself; the result is reported as
// ns/call. Run it with -bench RoundTrip -benchtime 1x.
func BenchmarkRoundTrip(b *testing.B) {
	for _, m := range costModes {
		b.Run(m.name, func(b *testing.B) {
			var total float64
			for i := 0; i < b.N; i++ {
				total += measure(b, m, roundTrips)
			}
			b.ReportMetric(total/float64(b.N), "ns/call")
			b.Logf("%s: %.0f ns per call", m.name, total/float64(b.N))
		})
	}
}

// TestRoundTripLoop runs every benchmark mode briefly, so that the
// benchmark's code paths are tested too.
func TestRoundTripLoop(t *testing.T) {
	for _, m := range costModes {
		t.Run(m.name, func(t *testing.T) {
			t.Logf("%.0f ns per call", measure(t, m, 2000))
		})
	}
}
