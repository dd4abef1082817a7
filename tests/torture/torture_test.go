// Package torture stresses sembox with C programs run natively (the
// kernel, in a fresh IPC namespace) and under `sembox run`: SIGKILL and
// signal storms, hostile arguments, isolation and permissions, resource
// exhaustion and the death of the supervisor. See README.md.
package torture

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sembox/sembox/internal/testrun"
)

// TestKillStorm: workers take a SEM_UNDO lock and are SIGKILLed at random,
// holders included. The C program checks the invariants (never two
// holders, GETVAL never above 1, no stall, final value 1); here the counts
// are logged and compared.
func TestKillStorm(t *testing.T) {
	need(t)
	p := prog(t, "killstorm")
	kills, workers, reap := pick(300, 1500), pick(12, 16), pick(100, 300)
	args := []string{strconv.Itoa(kills), strconv.Itoa(workers), strconv.Itoa(reap)}
	timeout := pick(3*time.Minute, 10*time.Minute)

	nat := native(timeout, p, args...)
	logRun(t, "native", nat)
	checkClean(t, "native", nat)
	sb := sandboxed(timeout, nil, p, args...)
	logRun(t, "sembox", sb)
	checkClean(t, "sembox", sb)

	for label, r := range map[string]result{"native": nat, "sembox": sb} {
		m := kv(r.Stdout)
		if num(t, m, "killed_holding") == 0 {
			t.Errorf("%s: no holder was killed: the storm tested nothing", label)
		}
		if num(t, m, "final_value") != 1 {
			t.Errorf("%s: final value %s", label, m["final_value"])
		}
	}
	nm, sm := kv(nat.Stdout), kv(sb.Stdout)
	if n := num(t, nm, "reap_undo_pending_at_reap"); n != 0 {
		t.Errorf("native: the kernel applied a killed holder's undo after waitpid returned (%v times): test problem", n)
	}
	if n := num(t, sm, "reap_undo_pending_at_reap"); n > 0 {
		t.Errorf("in %v of %v trials a SIGKILLed holder's SEM_UNDO was not yet applied when its parent's "+
			"waitpid returned (kernel: never); lag p50 %sus max %sus", n, sm["reap_trials"],
			sm["reap_undo_lag_p50_us"], sm["reap_undo_lag_max_us"])
	}
}

// TestSignalStorm: waiters flooded with signals; conservation of the
// semaphore values and EINTR as the only error are checked in C.
func TestSignalStorm(t *testing.T) {
	need(t)
	p := prog(t, "sigstorm")
	n := pick(10000, 100000)
	timeout := pick(3*time.Minute, 15*time.Minute)
	nat := native(timeout, p, strconv.Itoa(n))
	logRun(t, "native", nat)
	checkClean(t, "native", nat)
	sb := sandboxed(timeout, nil, p, strconv.Itoa(n))
	logRun(t, "sembox", sb)
	checkStorm(t, "sembox", sb, killableOff())

	nm, sm := kv(nat.Stdout), kv(sb.Stdout)
	for label, m := range map[string]map[string]string{"native": nm, "sembox": sm} {
		if num(t, m, "signals") < float64(n) {
			t.Errorf("%s: only %s signals sent", label, m["signals"])
		}
		if num(t, m, "total_eintr") == 0 {
			t.Errorf("%s: no call was interrupted: the storm tested nothing", label)
		}
	}
	if v := num(t, nm, "nonblocking_v_eintr"); v != 0 {
		t.Errorf("native: %v V operations returned EINTR: test problem", v)
	}
	if v := num(t, sm, "nonblocking_v_eintr"); v > 0 {
		deviation(t, "D2: %v V operations (which never sleep) returned EINTR under sembox (kernel: 0); "+
			"conservation held, so none of them was performed", v)
	}
}

// TestSignalLatency: signal-to-EINTR latency of one blocked waiter, and
// the SIGSTOP/SIGCONT and multi-threaded cases.
func TestSignalLatency(t *testing.T) {
	need(t)
	p := prog(t, "siglat")
	args := []string{strconv.Itoa(pick(200, 1000)), strconv.Itoa(pick(20, 100)), strconv.Itoa(pick(30, 100))}
	timeout := pick(3*time.Minute, 15*time.Minute)
	nat := native(timeout, p, args...)
	logRun(t, "native", nat)
	checkClean(t, "native", nat)
	sb := sandboxed(timeout, nil, p, args...)
	logRun(t, "sembox", sb)
	checkClean(t, "sembox", sb)

	nm, sm := kv(nat.Stdout), kv(sb.Stdout)
	t.Logf("signal-to-EINTR latency (us):   %8s %8s %8s %8s", "p50", "p90", "p99", "max")
	for _, k := range []string{"lat", "lat_fresh", "lat_parked"} {
		for _, x := range []struct {
			label string
			m     map[string]string
		}{{"native", nm}, {"sembox", sm}} {
			t.Logf("  %-7s %-11s n=%-5s %8s %8s %8s %8s", x.label, k, x.m[k+"_n"], x.m[k+"_p50_us"],
				x.m[k+"_p90_us"], x.m[k+"_p99_us"], x.m[k+"_max_us"])
		}
	}
	if num(t, nm, "stopcont_eintr") != num(t, nm, "stopcont_trials") {
		t.Logf("native: SIGSTOP+SIGCONT interrupted only %s of %s waits", nm["stopcont_eintr"], nm["stopcont_trials"])
	}
	if s, n := num(t, sm, "stopcont_eintr"), num(t, nm, "stopcont_eintr"); s < n {
		deviation(t, "D4: SIGSTOP at once followed by SIGCONT interrupted %v of %s blocked semops under sembox, "+
			"%v natively", s, sm["stopcont_trials"], n)
	}
	ne := num(t, nm, "mt_eintr1") + 2*num(t, nm, "mt_eintr2")
	se := num(t, sm, "mt_eintr1") + 2*num(t, sm, "mt_eintr2")
	// Linux gives the signal to the main thread unless that thread blocks
	// it at that instant (glibc blocks every signal inside pthread_create),
	// so a rare EINTR is legitimate; the supervisor before B5 was fixed
	// interrupted the waiting threads in 20% of the trials.
	msg := fmt.Sprintf("one process-directed signal to a process whose two other threads wait in semop "+
		"(the main thread takes it): %v EINTRs in %s trials under sembox, %v natively", se, sm["mt_trials"], ne)
	switch trials := num(t, sm, "mt_trials"); {
	case se > ne+trials/10:
		t.Error(msg)
	case se > ne:
		t.Log("note: " + msg)
	}
}

// TestEINTRProbe: calls that never return EINTR on Linux (semop V,
// GETVAL, semget, setresuid, open; and exit_group, which must end every
// thread), made while signals keep arriving.
func TestEINTRProbe(t *testing.T) {
	need(t)
	p := prog(t, "eintrprobe")
	args := []string{strconv.Itoa(pick(10000, 100000)), strconv.Itoa(pick(60, 400))}
	timeout := pick(3*time.Minute, 15*time.Minute)
	nat := native(timeout, p, args...)
	logRun(t, "native", nat)
	checkClean(t, "native", nat)
	sb := sandboxed(timeout, nil, p, args...)
	logRun(t, "sembox", sb)
	checkClean(t, "sembox", sb)
	nm, sm := kv(nat.Stdout), kv(sb.Stdout)
	for _, k := range []string{"semop_v", "semctl_getval", "semget", "setresuid", "open"} {
		if v := num(t, nm, k+".eintr"); v != 0 {
			t.Errorf("native: %s returned EINTR %v times: test problem", k, v)
		}
		if v := num(t, nm, k+".other_errors") + num(t, sm, k+".other_errors"); v != 0 {
			t.Errorf("%s failed with an error other than EINTR (native+sembox: %v)", k, v)
		}
		if v := num(t, sm, k+".eintr"); v > 0 {
			deviation(t, "D2: %s returned EINTR %v times in %s calls under sembox (kernel: never)", k, v, sm[k+".calls"])
		}
	}
	if v := num(t, nm, "exit_survived"); v != 0 {
		t.Errorf("native: %v processes survived exit(0): test problem", v)
	}
	if v := num(t, sm, "exit_survived"); v > 0 {
		t.Errorf("%v of %s two-threaded processes were still running 1 s after their main thread "+
			"called exit(0) (was exit_group trapped and interrupted?)", v, sm["exit_trials"])
	}
}

// TestHostile: random raw semaphore system calls with hostile arguments;
// sembox (with and without --trace) must answer exactly as the kernel.
func TestHostile(t *testing.T) {
	need(t)
	p := prog(t, "hostile")
	seeds := pick([]int{1, 2, 0x5eed}, []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 0x5eed})
	calls := strconv.Itoa(pick(20000, 200000))
	timeout := pick(2*time.Minute, 10*time.Minute)
	for _, seed := range seeds {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			s := strconv.Itoa(seed)
			nat := native(timeout, p, s, calls)
			checkClean(t, "native", nat)
			trace := filepath.Join(t.TempDir(), "trace")
			for _, flags := range [][]string{nil, {"--trace=" + trace}} {
				sb := sandboxed(timeout, flags, p, s, calls)
				label := "sembox run " + strings.Join(flags, " ")
				checkClean(t, label, sb)
				nl, sl := lines(nat.Stdout), lines(sb.Stdout)
				if nat.Stdout != sb.Stdout {
					t.Errorf("%s differs from the kernel (%d vs %d lines):\n%s", label, len(nl), len(sl), firstDiff(nl, sl, 10))
				} else {
					t.Logf("seed %d, %s: %d calls identical to the kernel (%v vs %v natively)", seed, label,
						len(nl)-1, sb.Dur.Round(time.Millisecond), nat.Dur.Round(time.Millisecond))
				}
			}
			if fi, err := os.Stat(trace); err == nil {
				t.Logf("trace: %d bytes", fi.Size())
			}
			// A histogram of outcomes, to see what the run covered.
			hist := map[string]int{}
			for _, l := range lines(nat.Stdout) {
				f := strings.Fields(l)
				if len(f) < 4 {
					continue
				}
				out := f[3]
				if out == "-1" && len(f) > 4 {
					out = f[4]
				} else {
					out = "ok"
				}
				hist[strings.SplitN(f[1], "(", 2)[0]+" "+out]++
			}
			var b strings.Builder
			for _, k := range sortedKeys(map[string]string(toStrings(hist))) {
				fmt.Fprintf(&b, " %s:%d", k, hist[k])
			}
			t.Logf("outcomes:%s", b.String())
		})
	}
}

func toStrings(m map[string]int) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		out[k] = strconv.Itoa(v)
	}
	return out
}

// TestIsolation: a native program and two sandboxes, in one kernel IPC
// namespace, create sets with the same keys and must not see each other;
// permission checks must match the kernel's.
func TestIsolation(t *testing.T) {
	need(t)
	p := prog(t, "isol")
	dir := t.TempDir()
	os.Chmod(dir, 0o777)
	parts := "host:1 sbA:2 sbB:3"
	q := func(s string) string { return "'" + s + "'" }
	script := fmt.Sprintf(`(%[1]s host 1 %[3]s %[4]s >%[3]s/host.out 2>&1; echo $? >%[3]s/host.rc) &
(%[2]s run -- %[1]s sbA 2 %[3]s %[4]s >%[3]s/sbA.out 2>&1; echo $? >%[3]s/sbA.rc) &
(%[2]s run -- %[1]s sbB 3 %[3]s %[4]s >%[3]s/sbB.out 2>&1; echo $? >%[3]s/sbB.rc) &
wait`, q(p), q(E.sembox), q(dir), parts)
	r := run(2*time.Minute, "unshare", "--ipc", "sh", "-c", script)
	if r.TimedOut || r.Exit != 0 {
		t.Fatalf("orchestration: %s\n%s%s", status(r), r.Stdout, r.Stderr)
	}
	perms := map[string][]string{}
	for _, name := range []string{"host", "sbA", "sbB"} {
		out, _ := os.ReadFile(filepath.Join(dir, name+".out"))
		rc, _ := os.ReadFile(filepath.Join(dir, name+".rc"))
		res := result{Argv: []string{name}, Stdout: string(out), Exit: -1}
		if n, err := strconv.Atoi(strings.TrimSpace(string(rc))); err == nil {
			res.Exit = n
		}
		logRun(t, name, res)
		checkClean(t, name, res)
		for _, l := range lines(string(out)) {
			if strings.HasPrefix(l, "perm ") {
				via := strings.Fields(l)[1]
				perms[via] = append(perms[via], name+": "+l)
			}
		}
	}
	for via, ls := range perms {
		if len(ls) != 3 {
			t.Errorf("%s: %d participants reported, want 3:\n  %s", via, len(ls), strings.Join(ls, "\n  "))
			continue
		}
		hostLine := strings.TrimPrefix(ls[0], "host: ")
		for _, l := range ls[1:] {
			name, line, _ := strings.Cut(l, ": ")
			if line == hostLine {
				continue
			}
			msg := fmt.Sprintf("permission check %s differs from the kernel:\n    kernel: %s\n    %s: %s", via, hostLine, name, line)
			t.Error(msg)
		}
	}
}

// TestExhaustionLimits: SEMMNI, SEMMNS, SEMMSL and SEMOPM reached with the
// same results, call by call, as the kernel.
func TestExhaustionLimits(t *testing.T) {
	need(t)
	p := prog(t, "exhaust")
	for _, lim := range []string{"250 32000 32 128", "250 1000 32 128"} {
		t.Run(strings.ReplaceAll(lim, " ", "_"), func(t *testing.T) {
			nat := run(time.Minute, "unshare", "--ipc", "sh", "-c",
				fmt.Sprintf("echo %s > /proc/sys/kernel/sem && exec '%s' limits", lim, p))
			logRun(t, "native", nat)
			checkClean(t, "native", nat)
			sb := sandboxed(time.Minute, []string{"--limits", lim}, p, "limits")
			checkClean(t, "sembox", sb)
			if nat.Stdout != sb.Stdout {
				t.Errorf("sembox differs from the kernel:\n%s", firstDiff(lines(nat.Stdout), lines(sb.Stdout), 20))
			}
			if !strings.Contains(nat.Stdout, "then ENOSPC") {
				t.Errorf("native run never reached ENOSPC")
			}
		})
	}
}

// TestExhaustionWaiters: thousands of parked waiters in many processes and
// threads; IPC_RMID must end every wait with EIDRM. The supervisor's RSS
// and CPU time are logged.
func TestExhaustionWaiters(t *testing.T) {
	need(t)
	p := prog(t, "exhaust")
	procs, threads := pick(40, 100), pick(50, 100)
	args := []string{"waiters", strconv.Itoa(procs), strconv.Itoa(threads)}
	timeout := pick(3*time.Minute, 10*time.Minute)
	nat := native(timeout, p, args...)
	logRun(t, "native", nat)
	checkClean(t, "native", nat)
	sb := sandboxed(timeout, nil, p, append(args, "rss")...)
	logRun(t, "sembox", sb)
	checkClean(t, "sembox", sb)
	sm := kv(sb.Stdout)
	total := float64(procs * threads)
	if num(t, sm, "after_rmid.eidrm") != total {
		t.Errorf("sembox: %s of %v waiters got EIDRM", sm["after_rmid.eidrm"], total)
	}
	t.Logf("supervisor VmRSS: before %s kB, %v parked %s kB, after %s kB; CPU while %v waiters sat idle for 1 s: %v ms",
		sm["supervisor_before.vmrss_kb"], total, sm["supervisor_parked.vmrss_kb"], sm["supervisor_after_1s.vmrss_kb"],
		total, num(t, sm, "supervisor_parked_plus_1s.cpu_ms")-num(t, sm, "supervisor_parked.cpu_ms"))
}

// TestSupervisorDeath: the sembox process is SIGKILLed under a busy
// sandbox. Its processes must not go on with the host's semaphores.
func TestSupervisorDeath(t *testing.T) {
	need(t)
	dir := t.TempDir()
	r := run(2*time.Minute, "unshare", "--ipc", prog(t, "deathobs"), dir, E.sembox, prog(t, "deathsb"))
	logRun(t, "observer", r)
	checkClean(t, "observer", r)
	m := kv(r.Stdout)
	for _, g := range []string{"g1", "g2"} {
		if !strings.Contains(r.Stdout, "report "+g+" first_failure=ENOSYS") {
			t.Errorf("%s: its semaphore call did not fail with ENOSYS after the supervisor died", g)
		}
	}
	if strings.Contains(r.Stdout, "(HOST SET!)") {
		t.Errorf("a sandbox process found the host's set after the supervisor died")
	}
	if v := num(t, m, "survivors_alive_after_3s"); v > 0 {
		t.Errorf("%v sandbox process(es) could not exit after the supervisor died (is exit_group trapped?)", v)
	}
	if strings.Contains(r.Stdout, "open=ENOSYS") {
		t.Logf("note: after the supervisor's death, open/openat and execve and set*id fail with ENOSYS in the survivors (they are trapped)")
	}
}

// TestStateWait (issue 8): a child blocks in semtimedop (2 s timeout) on a
// semaphore at 0; its parent waits until /proc/CHILD/stat shows it in
// state S, as test suites synchronise (LTP's TST_PROCESS_STATE_WAIT), then
// removes the set (the child must get EIDRM) or sends it a signal whose
// handler signal(3) installed with SA_RESTART (it must get EINTR: semop is
// never restarted). Run with one busy loop per CPU beside it (started and
// killed by the C program). In the fresh variant the child's semtimedop is
// its first semaphore call (under sembox: a thread the supervisor meets for
// the first time); in the known variant it makes a GETVAL first.
func TestStateWait(t *testing.T) {
	need(t)
	p := prog(t, "statewait")
	rounds := pick(200, 1000)
	hogs := runtime.NumCPU()
	timeout := pick(3*time.Minute, 6*time.Minute)
	for _, variant := range []string{"fresh", "known"} {
		t.Run(variant, func(t *testing.T) {
			// MAXWRONG 5: a wrong result after the signal costs the 2 s timeout.
			args := []string{strconv.Itoa(rounds), "both", strconv.Itoa(hogs), variant, "5"}
			nat := native(timeout, p, args...)
			logRun(t, "native", nat)
			checkClean(t, "native", nat)
			nm := kv(nat.Stdout)
			if w := num(t, nm, "wrong"); w != 0 {
				t.Errorf("native: %v wrong results: the test's synchronisation is flawed", w)
			}
			if d := num(t, nm, "rounds_done"); d != float64(rounds) {
				t.Errorf("native: %v of %d rounds done", d, rounds)
			}
			sb := sandboxed(timeout, nil, p, args...)
			logRun(t, "sembox", sb)
			checkClean(t, "sembox", sb)
			sm := kv(sb.Stdout)
			if w := num(t, sm, "wrong"); w > 0 {
				t.Errorf("sembox: %v wrong results in %s rounds (kernel: 0 in %s): after IPC_RMID %s EINVAL "+
					"and %s other in %s rounds (want EIDRM); after the signal %s EAGAIN at the timeout and "+
					"%s other in %s rounds (want EINTR)", w, sm["rounds_done"], nm["rounds_done"],
					sm["rmid.einval"], sm["rmid.other"], sm["rmid.rounds"],
					sm["signal.eagain"], sm["signal.other"], sm["signal.rounds"])
			}
		})
	}
}

// TestTerminalStop: a stop and a continue sent from outside to the whole
// process group, sembox included, as a terminal's Ctrl-Z and the shell's
// fg send them, end a semop blocked in the group with EINTR in Linux.
// Under sembox the supervisor is stopped too, and the SIGCONT takes the
// pending stop back before it can look (D4, from outside).
func TestTerminalStop(t *testing.T) {
	need(t)
	p := prog(t, "tstp")
	got := map[string]string{}
	for _, side := range []struct {
		label string
		argv  []string
	}{
		{"native", []string{"unshare", "--ipc", p}},
		{"sembox", []string{"unshare", "--ipc", E.sembox, "run", "--", p}},
	} {
		got[side.label] = stopAndContinue(t, side.argv)
		t.Logf("%s: %s", side.label, got[side.label])
	}
	if got["native"] != "rc=-1 errno=EINTR" {
		t.Logf("note: natively the stopped and continued semop gave %q, not EINTR", got["native"])
	}
	if got["sembox"] != got["native"] {
		deviation(t, "D4: SIGTSTP then SIGCONT to the whole process group, 200 ms apart: the blocked semop gave %q "+
			"under sembox, %q natively", got["sembox"], got["native"])
	}
}

// stopAndContinue runs tstp (argv) in a process group of its own, sends
// the group SIGTSTP once its child waits and SIGCONT 200 ms later, and
// returns the line tstp prints about the child's semop.
func stopAndContinue(t *testing.T, argv []string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := testrun.Command(ctx, E.dir, argv...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	if !sc.Scan() || sc.Text() != "ready" {
		cmd.Wait()
		t.Fatalf("%s: no \"ready\" (stderr: %s)", strings.Join(argv, " "), stderr.String())
	}
	pgid := cmd.Process.Pid
	syscall.Kill(-pgid, syscall.SIGTSTP)
	time.Sleep(200 * time.Millisecond)
	syscall.Kill(-pgid, syscall.SIGCONT)
	line := ""
	if sc.Scan() {
		line = sc.Text()
	}
	var r testrun.Result
	testrun.Finish(ctx, cmd, cmd.Wait(), &r)
	if !r.OK() {
		t.Fatalf("%s: %s (stderr: %s)", strings.Join(argv, " "), r.Status(), stderr.String())
	}
	return line
}
