package semscript

import (
	_ "embed"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/sembox/sembox/abi"
	"github.com/sembox/sembox/sem"
)

// MaxProcs is the number of worker processes a multi-process script may
// name: 0 to MaxProcs-1.
const MaxProcs = 6

// StepKind is the verb of a line of a multi-process script.
type StepKind int

// The four verbs of a multi-process script.
const (
	StepCall   StepKind = iota // p N CALL: worker N makes a call
	StepExit                   // exit N: worker N exits
	StepSignal                 // signal N: worker N gets SIGUSR1
	StepSync                   // sync count|state: how the conductor confirms a queued semop
)

// Step is one line of a multi-process script.
type Step struct {
	// Line is the text of the step as the executors echo it: its words
	// joined by single spaces, without the comment.
	Line   string
	LineNo int
	Kind   StepKind
	Proc   int  // the worker number
	Call   Call // StepCall: the call; its Line is the whole step's
	// Now is set for a semop line ending with the word "now": the
	// conductor goes on as soon as the worker is seen asleep in the call.
	Now bool
	// State is set for "sync state" (StepSync).
	State bool
}

// MultiScript is a parsed multi-process script: calls made by up to
// MaxProcs worker processes, children of one conductor that does one
// thing at a time. Its lines are
//
//	p N CALL...   worker N (0 to MaxProcs-1, started when first named, as
//	              root with no undo list) makes CALL: a semget, semop,
//	              semctl, as or cycle line of the single-process language
//	exit N        worker N exits (its SEM_UNDO adjustments are applied);
//	              a later "p N" starts a new process
//	signal N      worker N gets SIGUSR1, whose handler is installed
//	              without SA_RESTART: a blocked semop fails with EINTR
//	sync count    (the default) and
//	sync state    how the conductor tells, from the next line on, that
//	              a semop is queued (below); no output
//
// A semop line may end with the word "now" (part of its echo, not of the
// call): "p 1 semop $0 0:-1:0 now".
//
// $N counts the semget calls of all workers, in script order. A semop
// that must wait stays blocked (the worker takes no other line) until a
// later line ends it, unless its timeout has tv_sec 0: it then times out
// with EAGAIN before the next line. Blocked calls ended by a line are
// reported after it.
//
// The conductor (c/multiexec.c) waits until a semop line has had all its
// effects. Under "sync count" it takes the call as queued when the sum of
// GETNCNT and GETZCNT over every set rises by one (two counts in a row
// agreeing). Under "sync state", as test suites do (LTP's
// TST_PROCESS_STATE_WAIT), it waits until the worker is seen asleep in
// the call (its /proc/PID/syscall names semtimedop and then its
// /proc/PID/stat state is S, with still no result) and then counts the
// waiters exactly once: on Linux a task asleep in semop is queued, so the
// count has risen by one. Under sembox a trapped call sleeps in S before
// sembox has received it, and the count, made of later calls, must still
// see it queued. If the count has not risen by one, a result that comes
// within a second is printed as usual (a call seen asleep before sembox
// received it may not block at all); otherwise the line prints "not
// queued" (below), and the worker is taken as blocked. A semop ending with "now" is taken as queued as soon as it is
// seen asleep, without a count, so that the next line acts at once: a
// removal, a wake-up or a signal that may reach sembox before the call
// itself. Use "now" only on calls that block: one that does not may
// still be seen asleep under sembox, before it is received. "now" has no
// effect on a semop with a short timeout (tv_sec 0), which is waited for
// to its end.
//
// The output has the single-process format, each result line echoing its
// whole line ("p 1 semop $0 0:-1:0 → 0 OK"), and also
//
//	p 1 semop $0 0:-1:0 → blocks       the call is queued
//	p 1 ... → not queued: 0 waiters, 0 before
//	                                   "sync state": asleep in semop but
//	                                   not counted (never on Linux)
//	  p 1 semop $0 0:-1:0 → -1 EIDRM   a blocked call that this line
//	                                   ended, sorted by worker number
//	exit 2 → status 0                  worker 2 was reaped
//	p 1 ... → busy, exit 1 → busy      a line for a blocked worker (not
//	                                   made; a semget counts as failed)
//	exit 3 → none, signal 3 → none     worker 3 has no process
//	end → 2 blocked                    calls still blocked at the end:
//	                                   every set is removed, and their
//	                                   EIDRM results follow
//
// GETPID prints a pid as the worker process it belongs to: P2 for worker
// 2's first process, P2.1 for its second, P? for another; 0 stays 0.
type MultiScript struct {
	Steps []Step
}

// ParseMulti parses a multi-process script. It accepts exactly what the C
// executor accepts.
func ParseMulti(text string) (*MultiScript, error) {
	s := &MultiScript{}
	nsemget := 0
	for i, words := range scriptLines(text) {
		st, err := parseStep(words, nsemget)
		if err != nil {
			return nil, &ParseError{Line: i + 1, Msg: err.Error()}
		}
		st.LineNo, st.Call.LineNo = i+1, i+1
		if st.Kind == StepCall && st.Call.Kind == KindSemget {
			if nsemget >= maxSemgets {
				return nil, &ParseError{Line: i + 1, Msg: "too many semget calls"}
			}
			nsemget++
		}
		s.Steps = append(s.Steps, st)
	}
	return s, nil
}

// parseStep parses the words of one line; nsemget is the number of semget
// calls before it.
func parseStep(w []string, nsemget int) (Step, error) {
	st := Step{Line: strings.Join(w, " ")}
	switch w[0] {
	case "p":
		st.Kind = StepCall
		if len(w) < 3 {
			return st, errors.New("usage: p N CALL...")
		}
	case "sync":
		st.Kind = StepSync
		if len(w) != 2 || w[1] != "count" && w[1] != "state" {
			return st, errors.New("usage: sync count|state")
		}
		st.State = w[1] == "state"
		return st, nil
	case "exit", "signal":
		st.Kind = StepExit
		if w[0] == "signal" {
			st.Kind = StepSignal
		}
		if len(w) != 2 {
			return st, fmt.Errorf("usage: %s N", w[0])
		}
	default:
		return st, fmt.Errorf("unknown call %s", w[0])
	}
	n, err := parseNumber(w[1], "worker")
	if err != nil {
		return st, err
	}
	if n < 0 || n >= MaxProcs {
		return st, fmt.Errorf("bad worker %s (0 to %d)", w[1], MaxProcs-1)
	}
	st.Proc = int(n)
	if st.Kind == StepCall {
		call := w[2:]
		if call[0] == "semop" && len(call) > 1 && call[len(call)-1] == "now" {
			st.Now, call = true, call[:len(call)-1]
		}
		if st.Call, err = parseCall(call, nsemget); err != nil {
			return st, err
		}
		st.Call.Line = st.Line
	}
	return st, nil
}

// Text renders s as a script, one step per line.
func (s *MultiScript) Text() string {
	var b strings.Builder
	for i := range s.Steps {
		b.WriteString(s.Steps[i].Line)
		b.WriteByte('\n')
	}
	return b.String()
}

// shortTimeout reports whether c has a readable timeout with tv_sec 0: the
// executors wait for such a call to its end instead of leaving it blocked.
func shortTimeout(c *Call) bool {
	return c.Timeout != nil && !c.TimeoutBad && c.Timeout.Sec == 0
}

// The engine executor of multi-process scripts.

// multiPIDBase is the pid of the engine executor's first worker process.
const multiPIDBase = 100000

// RunEngineMulti runs s through a fresh sem.Namespace entered through
// front, with one simulated process per worker, and returns its output in
// the format of the C executor (c/multiexec.c).
func RunEngineMulti(s *MultiScript, front Front) string {
	m := newMultiModel(front)
	for i := range s.Steps {
		m.step(&s.Steps[i])
	}
	m.finish()
	return m.out.String()
}

// multiModel is the state of a multi-process engine execution.
type multiModel struct {
	front   Front
	ns      *sem.Namespace
	procs   [MaxProcs]multiProc
	semgets []int64          // result of each semget call: the id, or -1
	names   map[int32]string // pid of every process so far → its name
	reports []report         // blocked calls ended by the current step
	out     strings.Builder
}

// multiProc is one worker number.
type multiProc struct {
	alive   bool
	started int        // processes this number has had
	run     *engineRun // the current process: its task and identity
	blocked bool
	call    *Call // the call it is blocked in
	w       *sem.Waiter
}

// report is the result line of a call that was blocked.
type report struct {
	proc int
	line string
}

func newMultiModel(front Front) *multiModel {
	return &multiModel{front: front, ns: sem.NewNamespace(sem.SystemClock{}), names: map[int32]string{}}
}

func (m *multiModel) printf(format string, args ...any) {
	fmt.Fprintf(&m.out, format, args...)
	m.out.WriteByte('\n')
}

// spawn starts a new process for worker n, as root with no undo list.
func (m *multiModel) spawn(n int) {
	p := &m.procs[n]
	gen := p.started
	p.started++
	pid := int32(multiPIDBase + gen*MaxProcs + n)
	name := fmt.Sprintf("P%d", n)
	if gen > 0 {
		name = fmt.Sprintf("P%d.%d", n, gen)
	}
	m.names[pid] = name
	r := &engineRun{front: m.front, ns: m.ns}
	r.cred = sem.Cred{CapIPCOwner: true, CapSysAdmin: true}
	r.task = sem.Task{PID: pid, Cred: &r.cred, Undo: &sem.UndoList{}}
	*p = multiProc{alive: true, started: p.started, run: r}
}

// ended records the end of worker n's blocked call.
func (m *multiModel) ended(n int, err sem.Errno) {
	p := &m.procs[n]
	ret := "0"
	if err != 0 {
		ret = "-1"
	}
	m.reports = append(m.reports, report{n, "  " + resultLine(p.call.Line, ret, err, "")})
	p.blocked, p.call, p.w = false, nil, nil
}

// settle prints the calls the step ended, sorted by worker.
func (m *multiModel) settle() {
	slices.SortStableFunc(m.reports, func(a, b report) int { return a.proc - b.proc })
	for _, r := range m.reports {
		m.out.WriteString(r.line)
		m.out.WriteByte('\n')
	}
	m.reports = m.reports[:0]
}

func (m *multiModel) step(st *Step) {
	n := st.Proc
	p := &m.procs[n]
	switch st.Kind {
	case StepSync:
		return // how the C executor waits; nothing to the engine
	case StepExit:
		switch {
		case !p.alive:
			m.printf("%s %s none", st.Line, Arrow)
			return
		case p.blocked:
			m.printf("%s %s busy", st.Line, Arrow)
			return
		}
		m.ns.ExitUndo(p.run.task.Undo, p.run.task.PID)
		p.alive = false
		m.printf("%s %s status 0", st.Line, Arrow)
	case StepSignal:
		if !p.alive {
			m.printf("%s %s none", st.Line, Arrow)
			return
		}
		m.printf("%s", st.Line)
		if p.blocked && m.ns.Cancel(p.w, sem.EINTR) {
			m.ended(n, sem.EINTR)
		}
	default:
		if p.alive && p.blocked {
			if st.Call.Kind == KindSemget {
				m.semgets = append(m.semgets, -1)
			}
			m.printf("%s %s busy", st.Line, Arrow)
			return
		}
		if !p.alive {
			m.spawn(n)
		}
		if m.call(n, &st.Call) {
			m.printf("%s %s blocks", st.Line, Arrow)
		}
	}
	m.settle()
}

// call makes worker n's call c, printing its result, and reports whether
// it blocked.
func (m *multiModel) call(n int, c *Call) (blocked bool) {
	p := &m.procs[n]
	r := p.run
	r.semgets = m.semgets
	switch c.Kind {
	case KindSemop:
		w := &sem.Waiter{Done: func(w *sem.Waiter) { m.ended(n, w.Err) }}
		blocked, err := r.semopStart(c, w)
		if blocked && !shortTimeout(c) {
			p.blocked, p.call, p.w = true, c, w
			return true
		}
		if blocked {
			// Nothing else runs until the timeout expires.
			if m.ns.Cancel(w, sem.EAGAIN) {
				err = sem.EAGAIN
			} else {
				err = w.Err
			}
		}
		ret := "0"
		if err != 0 {
			ret = "-1"
		}
		m.printf("%s", resultLine(c.Line, ret, err, ""))
	case KindSemctl:
		ret, err, extra := r.semctl(c)
		if err != 0 {
			ret, extra = -1, ""
		}
		retStr := strconv.FormatInt(ret, 10)
		if int32(c.Cmd) == abi.GETPID && ret > 0 {
			if retStr = m.names[int32(ret)]; retStr == "" {
				retStr = "P?"
			}
		}
		m.printf("%s", resultLine(c.Line, retStr, err, extra))
	default:
		m.printf("%s", r.run(c))
		m.semgets = r.semgets
	}
	return false
}

// finish ends the waits left at the end of the script: every set is
// removed, as the C executor does.
func (m *multiModel) finish() {
	nb := 0
	for i := range m.procs {
		if m.procs[i].alive && m.procs[i].blocked {
			nb++
		}
	}
	if nb == 0 {
		return
	}
	m.printf("end %s %d blocked", Arrow, nb)
	cred := sem.Cred{CapIPCOwner: true, CapSysAdmin: true}
	root := &sem.Task{PID: 1, Cred: &cred}
	for _, s := range m.ns.Snapshot(false) {
		m.ns.Remove(root, s.ID)
	}
	m.settle()
}

// The native executor of multi-process scripts.

// multiSource is the multi-process native executor (c/multiexec.c); it
// includes c/semexec.c.
//
//go:embed c/multiexec.c
var multiSource []byte

// BuildMulti compiles the multi-process native executor into dir with
// gcc -O2 -Wall -Werror and returns the path of the binary.
func BuildMulti(dir string) (string, error) {
	return compileExecutor(dir, "gcc", strictFlags, "multiexec")
}

// ErrMultiRun is returned with the output when the multi-process executor
// gave up (exit status 1): an expected result did not come, or the waiter
// counts made no sense. Its last output line says why.
var ErrMultiRun = errors.New("multi-process executor gave up")

// RunMulti runs script through the multi-process executor: the command
// line args (the executor, perhaps behind `sembox run --`) in a fresh IPC
// namespace (unshare --ipc), and returns its output.
func RunMulti(script string, args ...string) (string, error) {
	out, status, err := runExecutor(script, args...)
	switch {
	case err == nil:
		return out, nil
	case status == 1:
		return out, ErrMultiRun
	case status == 2:
		return out, fmt.Errorf("%w: %v", ErrScript, err)
	default:
		return out, fmt.Errorf("multi-process executor: %v", err)
	}
}
