package semscript

import (
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/sembox/sembox/sem"
)

// GenerateMulti returns a random multi-process script of at most maxCalls
// lines (plus the removals that end it), determined by seed. It uses 2 to
// MaxProcs workers and 1 to 3 sets of 1 to 4 semaphores at a time: P, V
// and wait-for-zero operations, several per call, on repeated semaphores,
// with SEM_UNDO and IPC_NOWAIT; SETVAL and SETALL while others wait;
// GETVAL, GETALL, GETNCNT, GETZCNT, GETPID, IPC_STAT, SEM_STAT and
// SEM_INFO; IPC_RMID of sets with waiters; exits of workers holding
// SEM_UNDO adjustments; signals to blocked workers; short timeouts;
// occasionally bad arguments, identity changes and lines for busy or
// absent workers.
//
// The generator follows the script through the engine (RunEngineMulti's
// model) to know who is blocked. At most three workers, and never all of
// them, are blocked at once: when that many are, a call that may wait
// gets IPC_NOWAIT or a short timeout. The script ends by removing every
// set, which ends every wait with EIDRM, so the executors do not need the
// removals of their end of script.
//
// One seed in four (seed%4 == 1) makes a script that starts with "sync
// state" (now and then switching to "sync count" and back) and has, from
// time to time, a semop that blocks marked "now", followed at once by an
// action that may reach sembox before the blocked call itself (atOnce).
// The other seeds' scripts do not depend on this.
func GenerateMulti(seed uint64, maxCalls int) string {
	g := &mgen{r: rand.New(rand.NewPCG(seed, seed^0x6d756c7469)), m: newMultiModel(FrontDirect)}
	g.nprocs = 2 + g.r.IntN(MaxProcs-1)
	g.maxBlocked = min(3, g.nprocs-1)
	n := max(4, maxCalls/2+g.r.IntN(maxCalls/2+1))
	if g.stateSync = seed%4 == 1; g.stateSync {
		g.emit("sync state")
	}
	for range 1 + g.r.IntN(3) {
		g.emit(g.semget(g.idle()))
	}
	for g.lines < n {
		if n-g.lines >= 4 && g.chance(0.03) && g.holderExits() {
			continue
		}
		if g.stateSync {
			if n-g.lines >= 4 && g.chance(0.12) && g.atOnce() {
				continue
			}
			if g.chance(0.02) {
				g.countSync = !g.countSync
				g.emit(map[bool]string{false: "sync state", true: "sync count"}[g.countSync])
				continue
			}
		}
		g.emit(g.step())
	}
	g.end()
	return g.b.String()
}

// mgen is the state of one GenerateMulti run.
type mgen struct {
	r          *rand.Rand
	m          *multiModel // the script so far, run through the engine
	b          strings.Builder
	lines      int
	nprocs     int // workers used: 0..nprocs-1
	maxBlocked int
	stateSync  bool // a "sync state" script, with atOnce lines
	countSync  bool // switched back to "sync count" for now
}

func (g *mgen) chance(p float64) bool { return g.r.Float64() < p }

func (g *mgen) pick(xs ...string) string { return xs[g.r.IntN(len(xs))] }

// emit appends a line to the script and runs it through the model.
func (g *mgen) emit(line string) {
	st, err := parseStep(strings.Fields(line), len(g.m.semgets))
	if err != nil {
		panic(fmt.Sprintf("GenerateMulti made a bad line %q: %v", line, err))
	}
	g.m.step(&st)
	g.b.WriteString(line)
	g.b.WriteByte('\n')
	g.lines++
}

func (g *mgen) blocked() []int {
	var b []int
	for i := range g.nprocs {
		if p := &g.m.procs[i]; p.alive && p.blocked {
			b = append(b, i)
		}
	}
	return b
}

// idle returns a random worker that is not blocked (it may have to be
// started).
func (g *mgen) idle() int {
	var ok []int
	for i := range g.nprocs {
		if p := &g.m.procs[i]; !p.alive || !p.blocked {
			ok = append(ok, i)
		}
	}
	return ok[g.r.IntN(len(ok))]
}

// liveSet is a set alive in the model and the semget number that names it.
type liveSet struct {
	info   sem.SetInfo
	semget int
}

func (g *mgen) live() []liveSet {
	var sets []liveSet
	for _, info := range g.m.ns.Snapshot(true) {
		k := -1
		for i, id := range g.m.semgets {
			if id == int64(info.ID) {
				k = i
			}
		}
		if k >= 0 {
			sets = append(sets, liveSet{info, k})
		}
	}
	return sets
}

// set returns an id operand and the number of semaphores of the set it
// names (0 for a bad operand), preferring sets with waiters if wait.
func (g *mgen) set(wait bool) (string, int) {
	sets := g.live()
	if len(sets) == 0 || g.chance(0.04) {
		if len(g.m.semgets) > 0 && g.chance(0.6) {
			// Probably a removed set, or a semget that failed.
			k := g.r.IntN(len(g.m.semgets))
			return g.pick(fmt.Sprintf("$%d", k), fmt.Sprintf("$%d+32768", k)), 0
		}
		return g.pick("-1", "12345", "0"), 0
	}
	s := sets[g.r.IntN(len(sets))]
	if wait {
		for _, t := range sets {
			if waiters(t.info) > 0 && g.chance(0.7) {
				s = t
			}
		}
	}
	return fmt.Sprintf("$%d", s.semget), len(s.info.Vals)
}

// info returns the model's view of the set id names ("$K"), or nil.
func (g *mgen) info(id string) *sem.SetInfo {
	var k int
	if _, err := fmt.Sscanf(id, "$%d", &k); err != nil || strings.ContainsAny(id[1:], "+-") {
		return nil
	}
	for _, s := range g.live() {
		if s.semget == k {
			return &s.info
		}
	}
	return nil
}

func waiters(info sem.SetInfo) int {
	n := 0
	for i := range info.Ncnt {
		n += int(info.Ncnt[i] + info.Zcnt[i])
	}
	return n
}

// step returns the next line.
func (g *mgen) step() string {
	blocked := g.blocked()
	live := g.live()
	if p := g.idle(); g.m.procs[p].alive && g.m.procs[p].run.cred.EUID != 0 && g.chance(0.2) {
		return fmt.Sprintf("p %d as 0 0", p)
	}
	if len(blocked) > 0 && g.chance(0.3) {
		if _, _, wakes := g.exits(); len(wakes) > 0 {
			return fmt.Sprintf("exit %d", wakes[g.r.IntN(len(wakes))])
		}
	}
	switch x := g.r.IntN(100); {
	case len(live) == 0 || x < 5:
		return g.semget(g.idle())
	case x < 10 && len(blocked) > 0:
		return fmt.Sprintf("signal %d", blocked[g.r.IntN(len(blocked))])
	case x < 11:
		return fmt.Sprintf("signal %d", g.r.IntN(g.nprocs)) // idle, absent or blocked
	case x < 17:
		return g.exit()
	case x < 18:
		return fmt.Sprintf("exit %d", g.r.IntN(g.nprocs)) // perhaps absent or busy
	case x < 19:
		return g.as()
	case x < 20 && len(blocked) > 0:
		// A call for a blocked worker: "busy".
		return fmt.Sprintf("p %d semctl $%d 0 GETVAL", blocked[0], live[0].semget)
	case x < 62:
		return g.semop(g.idle(), len(blocked) < g.maxBlocked)
	default:
		return g.semctl(g.idle(), len(blocked))
	}
}

var (
	multiKeys  = []string{"IPC_PRIVATE", "IPC_PRIVATE", "IPC_PRIVATE", "1", "2", "0x1234"}
	multiModes = []string{"0600", "0600", "0666", "0640", "0400"}
)

func (g *mgen) semget(p int) string {
	key := g.pick(multiKeys...)
	nsems := 1 + g.r.IntN(4)
	flags := "IPC_CREAT|" + g.pick(multiModes...)
	full := len(g.live()) >= 3
	if full {
		// No new set: an existing one, or ENOENT.
		key = g.pick("1", "2", "0x1234")
		flags = g.pick("0600", "0")
	}
	switch x := g.r.IntN(100); {
	case x < 4:
		nsems = g.pick2(0, -1, 32001) // EINVAL for a new set; 0 is fine for an old one
	case x < 8 && key != "IPC_PRIVATE" && !full:
		flags = "IPC_CREAT|IPC_EXCL|0600" // EEXIST if the key is taken
	case x < 10 && key != "IPC_PRIVATE":
		flags = "0600" // ENOENT if the key is free
	}
	return fmt.Sprintf("p %d semget %s %d %s", p, key, nsems, flags)
}

func (g *mgen) pick2(xs ...int) int { return xs[g.r.IntN(len(xs))] }

// semop returns a semop by worker p; if !canBlock it must not stay
// blocked.
func (g *mgen) semop(p int, canBlock bool) string {
	waker := g.chance(0.4)
	id, n := g.set(waker)
	info := g.info(id)
	type op struct {
		num, op int
		flg     string
	}
	count := 1
	switch x := g.r.IntN(100); {
	case x < 30:
		count = 2
	case x < 42:
		count = 3
	}
	var ops []op
	for i := range count {
		num := g.r.IntN(max(n, 1))
		if i > 0 && g.chance(0.25) {
			num = ops[g.r.IntN(i)].num
		}
		o := g.pick2(-1, -1, -1, 1, 1, 1, 0, 0, -2, 2, 2, 3, -3)
		if waker && info != nil && num < len(info.Vals) {
			// Mostly what the waiters of this semaphore wait for.
			switch {
			case info.Ncnt[num] > 0:
				o = g.pick2(1, 1, 2, 3)
			case info.Zcnt[num] > 0 && info.Vals[num] > 0:
				o = -int(info.Vals[num])
			}
		}
		flg := g.pick("0", "0", "0", "SEM_UNDO", "SEM_UNDO", "SEM_UNDO", "IPC_NOWAIT", "IPC_NOWAIT|SEM_UNDO")
		ops = append(ops, op{num, o, flg})
	}
	bad := ""
	switch x := g.r.IntN(100); {
	case x < 2:
		ops[g.r.IntN(count)].num = max(n, 1) + g.r.IntN(2) // EFBIG
	case x < 4:
		ops[g.r.IntN(count)].op = g.pick2(32767, 32000, -32768) // ERANGE, or a long wait
	case x < 5:
		bad = g.pick("-", "!1") // nsops 0, or a bad pointer
	}
	mayBlock := false
	for _, o := range ops {
		if o.op <= 0 && !strings.Contains(o.flg, "IPC_NOWAIT") {
			mayBlock = true
		}
	}
	timeout := ""
	short := []string{"timeout=0.001", "timeout=0.000001", "timeout=0.0", "timeout=0/200000"}
	switch x := g.r.IntN(100); {
	case mayBlock && !canBlock:
		if g.chance(0.5) {
			timeout = g.pick(short...)
		} else {
			for i := range ops {
				if ops[i].op <= 0 && !strings.Contains(ops[i].flg, "IPC_NOWAIT") {
					ops[i].flg = strings.TrimPrefix(strings.TrimPrefix(ops[i].flg+"|IPC_NOWAIT", "0|"), "|")
				}
			}
		}
	case x < 12:
		timeout = g.pick(short...)
	case x < 15:
		timeout = g.pick("timeout=0/-1", "timeout=-1.0", "timeout=0/1000000000", "timeout=bad")
	case x < 18:
		timeout = "timeout=none" // may stay blocked
		if g.chance(0.7) {
			timeout = g.pick(genHugeTimeouts...) // never expires
		}
	}
	words := make([]string, len(ops))
	for i, o := range ops {
		words[i] = fmt.Sprintf("%d:%d:%s", o.num, o.op, o.flg)
	}
	list := strings.Join(words, ",")
	if bad != "" {
		list = bad
	}
	s := fmt.Sprintf("p %d semop %s %s", p, id, list)
	if timeout != "" {
		s += " " + timeout
	}
	return s
}

var multiCmds = []string{
	"SETVAL", "SETVAL", "SETVAL", "SETVAL", "SETALL", "SETALL",
	"GETVAL", "GETVAL", "GETALL", "GETALL", "GETALL", "GETNCNT", "GETNCNT", "GETZCNT", "GETZCNT",
	"GETPID", "GETPID", "GETPID", "IPC_STAT", "SEM_STAT", "SEM_INFO", "IPC_RMID", "IPC_SET", "99",
}

// semctl returns a semctl by worker p; nblocked workers wait.
func (g *mgen) semctl(p int, nblocked int) string {
	cmd := g.pick(multiCmds...)
	if cmd == "IPC_RMID" && nblocked == 0 && g.chance(0.5) {
		cmd = "GETALL" // remove mostly sets with waiters
	}
	id, n := g.set(cmd == "SETVAL" || cmd == "SETALL" || cmd == "IPC_RMID")
	semnum := 0
	if n > 0 {
		semnum = g.r.IntN(n)
	}
	if g.chance(0.03) {
		semnum = g.pick2(-1, n, 65536) // EINVAL for the commands that use it
	}
	switch cmd {
	case "SEM_STAT":
		if id[0] == '$' {
			id = "@" + id[1:]
		}
	case "SEM_INFO":
		id = "0"
	}
	s := fmt.Sprintf("p %d semctl %s %d %s", p, id, semnum, cmd)
	switch cmd {
	case "SETVAL":
		v := g.pick2(0, 0, 1, 1, 1, 2, 2, 3, 4)
		if g.chance(0.04) {
			v = g.pick2(32767, 32768, -1)
		}
		s += fmt.Sprintf(" %d", v)
	case "SETALL":
		bad := -1
		if g.chance(0.04) {
			bad = g.r.IntN(max(n, 1)) // ERANGE: 40000 > SEMVMX
		}
		for i := range n {
			v := g.pick2(0, 0, 1, 1, 1, 2, 3)
			if i == bad {
				v = 40000
			}
			s += fmt.Sprintf(" %d", v)
		}
	case "IPC_SET":
		s += " 0 0 " + g.pick(multiModes...)
	}
	return s
}

// as returns an identity change of an idle worker: mostly back to root
// for one that is not.
func (g *mgen) as() string {
	p := g.idle()
	if q := &g.m.procs[p]; q.alive && q.run.cred.EUID != 0 && g.chance(0.7) {
		return fmt.Sprintf("p %d as 0 0", p)
	}
	return fmt.Sprintf("p %d %s", p, g.pick("as 1000 1000", "as 0 0", "as 65534 65534 1000", "as 0 1000"))
}

// holderExits emits a lock holder's exit: worker A takes a semaphore
// with SEM_UNDO (P, or V for a wait-for-zero), B waits for it, A exits
// and its undo lets B go. It reports false, emitting nothing, if two idle
// workers or room for one more blocked worker are missing.
func (g *mgen) holderExits() bool {
	sets := g.live()
	var idle []int
	for i := range g.nprocs {
		if p := &g.m.procs[i]; !p.alive || !p.blocked && p.run.cred.EUID == 0 {
			idle = append(idle, i)
		}
	}
	if len(sets) == 0 || len(idle) < 2 || len(g.blocked()) >= g.maxBlocked {
		return false
	}
	s := sets[g.r.IntN(len(sets))]
	num := g.r.IntN(len(s.info.Vals))
	// Two different workers: b is drawn from all but the last, and
	// replaced by the last if it is a.
	a := idle[g.r.IntN(len(idle))]
	b := idle[g.r.IntN(len(idle)-1)]
	if b == a {
		b = idle[len(idle)-1]
	}
	id := fmt.Sprintf("$%d", s.semget)
	if g.chance(0.6) {
		g.emit(fmt.Sprintf("p %d semctl %s %d SETVAL 1", a, id, num))
		g.emit(fmt.Sprintf("p %d semop %s %d:-1:SEM_UNDO", a, id, num))
		g.emit(fmt.Sprintf("p %d semop %s %d:-1:0", b, id, num))
	} else {
		g.emit(fmt.Sprintf("p %d semctl %s %d SETVAL 0", a, id, num))
		g.emit(fmt.Sprintf("p %d semop %s %d:1:SEM_UNDO", a, id, num))
		g.emit(fmt.Sprintf("p %d semop %s %d:0:0", b, id, num))
	}
	g.emit(fmt.Sprintf("exit %d", a))
	return true
}

// exit returns an exit of an idle worker, preferring one that holds
// SEM_UNDO adjustments.
func (g *mgen) exit() string {
	running, undo, wakes := g.exits()
	switch {
	case len(wakes) > 0 && g.chance(0.8):
		return fmt.Sprintf("exit %d", wakes[g.r.IntN(len(wakes))])
	case len(undo) > 0 && g.chance(0.8):
		return fmt.Sprintf("exit %d", undo[g.r.IntN(len(undo))])
	case len(running) > 0:
		return fmt.Sprintf("exit %d", running[g.r.IntN(len(running))])
	}
	return fmt.Sprintf("exit %d", g.idle())
}

// exits returns the idle workers that are running, those of them holding
// SEM_UNDO adjustments, and those whose adjustments may let a waiter go.
func (g *mgen) exits() (running, undo, wakes []int) {
	sets := g.live()
	for i := range g.nprocs {
		p := &g.m.procs[i]
		if !p.alive || p.blocked {
			continue
		}
		running = append(running, i)
		has, helps := false, false
		for _, s := range sets {
			for k, a := range g.m.ns.Adjustments(p.run.task.Undo, s.info.ID) {
				has = has || a != 0
				// An undo that may let a waiter go.
				helps = helps || a > 0 && s.info.Ncnt[k] > 0 || a < 0 && s.info.Zcnt[k] > 0
			}
		}
		if has {
			undo = append(undo, i)
		}
		if helps {
			wakes = append(wakes, i)
		}
	}
	return running, undo, wakes
}

// end removes every live set, by idle workers with root's identity.
func (g *mgen) end() {
	for _, s := range g.live() {
		p := g.idle()
		if q := &g.m.procs[p]; q.alive && q.run.cred.EUID != 0 {
			g.emit(fmt.Sprintf("p %d as 0 0", p))
		}
		g.emit(fmt.Sprintf("p %d semctl $%d 0 IPC_RMID", p, s.semget))
	}
}

// atOnce emits, in a "sync state" script, a semop by worker A that
// blocks, marked "now" (the conductor goes on as soon as A is seen asleep
// in it), and at once one of: worker B removes the set (A: EIDRM),
// B makes a V or brings the value to zero (A and the other waiters of
// the semaphore compete: wake order), B counts the waiters, or A gets a
// signal (EINTR). Each may reach sembox before A's call: sembox must
// still perform them in the order the calls were made. A and B are
// often new processes, whose first call is the slowest for sembox to
// prepare; A is a new process for an idle worker after an exit too. A
// and B are root. It reports false, emitting nothing, if there is no set
// or no room for one more blocked worker.
func (g *mgen) atOnce() bool {
	if len(g.live()) == 0 || len(g.blocked()) >= g.maxBlocked {
		return false
	}
	var absent, idle []int // idle: running, not blocked, root
	for i := range g.nprocs {
		switch p := &g.m.procs[i]; {
		case !p.alive:
			absent = append(absent, i)
		case !p.blocked && p.run.cred.EUID == 0:
			idle = append(idle, i)
		}
	}
	if len(absent)+len(idle) < 2 {
		return false
	}
	var a int
	switch {
	case len(absent) > 0 && g.chance(0.6):
		a = absent[g.r.IntN(len(absent))]
	case len(idle) > 0 && g.chance(0.4):
		a = idle[g.r.IntN(len(idle))]
		g.emit(fmt.Sprintf("exit %d", a)) // its undo may wake others
	default:
		all := append(append([]int(nil), absent...), idle...)
		a = all[g.r.IntN(len(all))]
	}
	// B: another root worker that is not blocked, or none.
	b := -1
	var bs []int
	for i := range g.nprocs {
		p := &g.m.procs[i]
		if i != a && (!p.alive || !p.blocked && p.run.cred.EUID == 0) {
			bs = append(bs, i)
		}
	}
	if len(bs) > 0 {
		b = bs[g.r.IntN(len(bs))]
	}

	// A set and semaphore, preferably with waiters.
	sets := g.live()
	s := sets[g.r.IntN(len(sets))]
	for _, t := range sets {
		if waiters(t.info) > 0 && g.chance(0.6) {
			s = t
		}
	}
	num := g.r.IntN(len(s.info.Vals))
	for k := range s.info.Vals {
		if s.info.Ncnt[k]+s.info.Zcnt[k] > 0 && g.chance(0.5) {
			num = k
		}
	}
	val := int(s.info.Vals[num])
	zero := val > 0 && g.chance(0.3)
	need := min(val+1+g.r.IntN(2), 32768) // A's P: more than there is
	op := fmt.Sprintf("%d:%d:%s", num, -need, g.pick("0", "0", "SEM_UNDO"))
	if zero {
		op = fmt.Sprintf("%d:0:0", num) // waits for zero
	}
	if other := g.r.IntN(len(s.info.Vals)); other != num && s.info.Vals[other] < 30000 && g.chance(0.25) {
		// Not done while A waits.
		op = fmt.Sprintf("%d:1:%s,%s", other, g.pick("0", "SEM_UNDO"), op)
	}
	line := fmt.Sprintf("p %d semop $%d %s", a, s.semget, op)
	if g.chance(0.2) {
		line += " " + g.pick(genHugeTimeouts...) // asleep with a timer: still S
	}
	g.emit(line + " now")
	if p := &g.m.procs[a]; !p.alive || !p.blocked {
		panic(fmt.Sprintf("GenerateMulti: %q does not block", line))
	}

	id := fmt.Sprintf("$%d", s.semget)
	switch x := g.r.IntN(100); {
	case b < 0 || x < 25:
		g.emit(fmt.Sprintf("signal %d", a))
	case x < 55:
		g.emit(fmt.Sprintf("p %d semctl %s 0 IPC_RMID", b, id))
	case x < 90:
		// A V, or a P down to zero for a wait for zero: enough for A,
		// more, or less; earlier waiters of the semaphore compete.
		v := g.pick2(need-val, need-val, need-val+1, 1, 2)
		if zero {
			v = -val
		}
		flg := g.pick("0", "0", "SEM_UNDO", "IPC_NOWAIT")
		g.emit(fmt.Sprintf("p %d semop %s %d:%d:%s", b, id, num, v, flg))
	default:
		cmd := g.pick("GETNCNT", "GETZCNT", "GETVAL", "GETALL")
		g.emit(fmt.Sprintf("p %d semctl %s %d %s", b, id, num, cmd))
	}
	return true
}
