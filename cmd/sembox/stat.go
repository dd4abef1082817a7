package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sembox/sembox/internal/control"
)

const statUsage = `Usage: sembox stat [--sandbox PID | --ns NAME|PATH] [--json] [--watch[=INTERVAL]]
Show what the semop calls of your running sandboxes and shared namespaces
(all of them, or the one chosen) did since each set was created: calls,
calls that blocked, how long they waited (p50/p99 are upper bounds from a
histogram whose buckets double), how the waits ended, the calls waiting
now and their pids, then the hottest semaphores (most operations first,
then most time waited). --json prints everything; --watch refreshes
every INTERVAL (default 1s) until interrupted.
`

// statReport is what `sembox stat --json` prints for each namespace.
type statReport struct {
	Sandbox control.Sandbox `json:"sandbox"`
	Stats   *control.Stats  `json:"stats"`
}

// hottestShown is how many semaphores the table lists per namespace.
const hottestShown = 10

// stat implements `sembox stat`.
func stat(args []string, out io.Writer) int {
	var t adminTarget
	asJSON := false
	var watch time.Duration
	for i := 0; i < len(args); i++ {
		a := args[i]
		name, val, hasVal := strings.Cut(a, "=")
		switch name {
		case "--json":
			asJSON = true
		case "--watch", "-w":
			watch = time.Second
			if hasVal {
				d, err := time.ParseDuration(val)
				if err != nil {
					// A bare number is seconds, as for watch(1).
					f, ferr := strconv.ParseFloat(val, 64)
					if ferr != nil {
						fmt.Fprintf(os.Stderr, "sembox stat: bad interval %q\n", val)
						return 2
					}
					d = time.Duration(f * float64(time.Second))
				}
				if d < 100*time.Millisecond {
					fmt.Fprintf(os.Stderr, "sembox stat: interval %q: at least 0.1s\n", val)
					return 2
				}
				watch = d
			}
		case "--ns", "--sandbox":
			if !hasVal {
				if i+1 >= len(args) {
					fmt.Fprintf(os.Stderr, "sembox stat: %s needs a value\n", a)
					return 2
				}
				val = args[i+1]
				i++
			}
			if name == "--ns" {
				t.ns = val
				break
			}
			n, err := strconv.Atoi(val)
			if err != nil || n <= 0 {
				fmt.Fprintf(os.Stderr, "sembox stat: bad pid %q\n", val)
				return 2
			}
			t.sandbox = n
		case "-h", "--help":
			fmt.Fprint(out, statUsage)
			return 0
		default:
			fmt.Fprintf(os.Stderr, "sembox stat: unknown option %q\n%s", a, statUsage)
			return 2
		}
	}
	if watch == 0 {
		return statOnce(&t, asJSON, out)
	}
	ctx, stop := signal.NotifyContext(context.Background(), unix.SIGINT, unix.SIGTERM)
	defer stop()
	return statWatch(ctx, &t, asJSON, watch, out, strings.Join(append([]string{"sembox", "stat"}, args...), " "))
}

// statWatch shows the statistics every interval, clearing the screen
// first as watch(1) does, until ctx is done.
func statWatch(ctx context.Context, t *adminTarget, asJSON bool, interval time.Duration, out io.Writer, title string) int {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		fmt.Fprintf(out, "\x1b[H\x1b[2J")
		fmt.Fprintf(out, "Every %v: %s    %s\n", interval, title, time.Now().Format("Mon Jan _2 15:04:05 2006"))
		statOnce(t, asJSON, out)
		select {
		case <-ctx.Done():
			return 0
		case <-tick.C:
		}
	}
}

// statOnce asks every selected namespace for its statistics and prints
// them; the exit status is 1 if one could not be asked.
func statOnce(t *adminTarget, asJSON bool, out io.Writer) int {
	socks, err := t.sockets()
	if err != nil {
		fmt.Fprintf(os.Stderr, "sembox stat: %v\n", err)
		return 1
	}
	if len(socks) == 0 && !asJSON {
		fmt.Fprintln(os.Stderr, "sembox stat: no sandbox or shared namespace of yours is running")
	}
	all := []statReport{} // [] rather than null in --json
	status := 0
	for _, a := range control.AskEach(socks, control.Request{Op: "stat"}) {
		sock, r, err := a.Path, a.Resp, a.Err
		if err == nil && r.Stats == nil {
			err = fmt.Errorf("no statistics (is the server an older sembox?)")
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "sembox stat: %s: %v\n", sock, err)
			status = 1
			continue
		}
		if r.Sandbox.Command == nil {
			r.Sandbox.Command = []string{}
		}
		all = append(all, statReport{Sandbox: r.Sandbox, Stats: r.Stats})
	}
	if asJSON {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "   ")
		enc.Encode(map[string]any{"sandboxes": all})
		return status
	}
	for i := range all {
		fmt.Fprintf(out, "\n=== %s\n", describe(&control.Response{Sandbox: all[i].Sandbox}))
		printStats(out, all[i].Stats)
	}
	return status
}

// printStats prints one namespace's statistics as two tables: the sets,
// then its hottest semaphores.
func printStats(out io.Writer, st *control.Stats) {
	fmt.Fprintf(out, "\n------ Semaphore Statistics --------\n")
	fmt.Fprintf(out, "%-10s %-10s %10s %10s %8s %8s %8s %7s %7s %7s  %s\n",
		"semid", "key", "calls", "blocked", "p50", "p99", "max", "EINTR", "EAGAIN", "EIDRM", "waiters")
	row := func(id, key string, c *control.Counters, waiters string) {
		fmt.Fprintf(out, "%-10s %-10s %10d %10d %8s %8s %8s %7d %7d %7d  %s\n",
			id, key, c.Calls, c.Blocked, dur(c.Wait.P50Ns), dur(c.Wait.P99Ns), dur(c.Wait.MaxNs),
			c.Ends.EINTR, c.Ends.EAGAIN, c.Ends.EIDRM, waiters)
	}
	for i := range st.Sets {
		s := &st.Sets[i]
		pids := make([]int32, 0, len(s.Waiters))
		for _, w := range s.Waiters {
			pids = append(pids, w.PID)
		}
		row(strconv.Itoa(int(s.ID)), keyLabel(s.Key), &s.Counters, waitersText(pids))
	}
	if st.RemovedSets > 0 {
		row("removed", fmt.Sprintf("(%d sets)", st.RemovedSets), &st.Removed, "-")
	}

	type hot struct {
		id int32
		control.SemStats
	}
	var sems []hot
	for i := range st.Sets {
		for _, m := range st.Sets[i].Sems {
			sems = append(sems, hot{st.Sets[i].ID, m})
		}
	}
	slices.SortStableFunc(sems, func(a, b hot) int {
		switch {
		case a.Ops != b.Ops:
			return cmpDesc(a.Ops, b.Ops)
		case a.WaitSumNs != b.WaitSumNs:
			return cmpDesc(a.WaitSumNs, b.WaitSumNs)
		case a.id != b.id:
			return int(a.id - b.id)
		}
		return a.Num - b.Num
	})
	fmt.Fprintf(out, "\n------ Hottest Semaphores (by operations, then time waited) --------\n")
	fmt.Fprintf(out, "%-10s %-8s %10s %10s %10s %8s %7s %7s %7s  %s\n",
		"semid", "semnum", "ops", "blocked", "waited", "max", "EINTR", "EAGAIN", "EIDRM", "waiters")
	if len(sems) == 0 {
		fmt.Fprintln(out, "(no semop calls yet)")
	}
	for i, m := range sems {
		if i == hottestShown {
			fmt.Fprintf(out, "(%d more; --json shows all)\n", len(sems)-hottestShown)
			break
		}
		fmt.Fprintf(out, "%-10d %-8d %10d %10d %10s %8s %7d %7d %7d  %s\n",
			m.id, m.Num, m.Ops, m.Blocked, dur(m.WaitSumNs), dur(m.WaitMaxNs),
			m.Ends.EINTR, m.Ends.EAGAIN, m.Ends.EIDRM, waitersText(m.Pids))
	}
	fmt.Fprintln(out)
}

func cmpDesc(a, b uint64) int {
	if a > b {
		return -1
	}
	return 1
}

// waitersText shows waiters as "N: pid pid ..." (the first 8 pids).
func waitersText(pids []int32) string {
	if len(pids) == 0 {
		return "-"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d:", len(pids))
	for i, p := range pids {
		if i == 8 {
			b.WriteString(" ...")
			break
		}
		fmt.Fprintf(&b, " %d", p)
	}
	return b.String()
}

// dur formats nanoseconds with three significant digits.
func dur(ns uint64) string {
	f := float64(ns)
	switch {
	case ns == 0:
		return "0"
	case ns < 1000:
		return fmt.Sprintf("%dns", ns)
	case f < 1e6:
		return digits3(f/1e3) + "us"
	case f < 1e9:
		return digits3(f/1e6) + "ms"
	}
	return digits3(f/1e9) + "s"
}

// digits3 formats v (at least 1) with three significant digits, or as
// an integer from 100 up.
func digits3(v float64) string {
	switch {
	case v >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case v >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	return strconv.FormatFloat(v, 'f', 2, 64)
}
