package semscript

import (
	"fmt"
	"math/rand/v2"
	"strings"
)

// Generate returns a random script of at most maxCalls calls, determined by
// seed. The scripts mix good and bad arguments of every call: sets created
// with private and reused keys, nsems 0 and beyond SEMMSL, modes 0600,
// 0640, 0666, 0400 and others under the identities root, 1000, 1001 and
// 65534; semop with bad ids, bad and repeated sem_num, huge sem_op,
// IPC_NOWAIT, SEM_UNDO, E2BIG-sized calls and bad timeouts; all 14 semctl
// commands and unknown ones, with values beyond SEMVMX and negative,
// IPC_SET to other owners and IPC_RMID by non-owners, and timeouts at the
// edges of the kernel's time arithmetic (genHugeTimeouts). Limits are
// never changed. A generated call rarely blocks for longer than a short
// timeout: an operation that may wait either has IPC_NOWAIT or runs with
// a timeout of at most 1 ms, except that one script in ten may have one
// such call with a huge timeout, which the watchdog ends after 0.5 s.
func Generate(seed uint64, maxCalls int) string {
	g := &gen{r: rand.New(rand.NewPCG(seed, seed^0x5eb0c5))}
	if seed%10 == 0 {
		g.hugeBlocks = 1
	}
	n := maxCalls/4 + g.r.IntN(maxCalls-maxCalls/4+1)
	var b strings.Builder
	for i := 0; i < n; {
		var calls []string
		if g.chance(0.006) {
			calls = g.burst(n - i)
		} else {
			calls = []string{g.call()}
		}
		for _, c := range calls {
			b.WriteString(c)
			b.WriteByte('\n')
		}
		i += len(calls)
	}
	return b.String()
}

type gen struct {
	r     *rand.Rand
	sets  []int  // nsems asked by each semget call so far
	alive []bool // whether each semget call probably made a set still alive
	big   int    // semget calls with a large nsems so far
	// hugeBlocks is how many more calls that may wait can get a huge
	// timeout (each costs the watchdog's 0.5 s if it blocks).
	hugeBlocks int
}

func (g *gen) pick(xs ...string) string { return xs[g.r.IntN(len(xs))] }

func (g *gen) chance(p float64) bool { return g.r.Float64() < p }

func (g *gen) call() string {
	switch x := g.r.IntN(100); {
	case x < 14 || len(g.sets) == 0 && x < 60:
		return g.semget()
	case x < 48:
		return g.semop()
	case x < 92:
		return g.semctl()
	default:
		return g.as()
	}
}

// burst returns at most room calls that create or remove many sets, so
// that more than 64 sets are alive and the id window grows and wraps.
func (g *gen) burst(room int) []string {
	k := min(room, 5+g.r.IntN(60))
	var calls []string
	if g.chance(0.6) || len(g.sets) == 0 {
		for range k {
			g.sets = append(g.sets, 1)
			g.alive = append(g.alive, true)
			calls = append(calls, "semget IPC_PRIVATE 1 0600")
		}
		return calls
	}
	for range k {
		i := g.r.IntN(len(g.sets))
		g.alive[i] = false
		calls = append(calls, fmt.Sprintf("semctl $%d 0 IPC_RMID", i))
	}
	return calls
}

var (
	genModes = []string{"0600", "0640", "0666", "0400", "0660", "0644", "0", "0777", "0200", "0444", "0606"}
	genKeys  = []string{"1", "2", "3", "0x1234", "-1", "0x7fffffff", "-2147483648", "0x100000001"}
)

func (g *gen) semget() string {
	key := "IPC_PRIVATE"
	if g.chance(0.55) {
		key = g.pick(genKeys...)
	}
	nsems := 1 + g.r.IntN(4)
	switch x := g.r.IntN(100); {
	case x < 5:
		nsems = 0
	case x < 8:
		nsems = -1
	case x < 10 && g.big < 2:
		nsems = 32000
		g.big++
	case x < 13:
		nsems = 32001
	case x < 16:
		nsems = 64 + g.r.IntN(3)
	case x < 17:
		nsems = 1 << 31 // wraps to -2147483648 as an int
	}
	mode := g.pick(genModes...)
	var flags string
	switch x := g.r.IntN(100); {
	case x < 55:
		flags = "IPC_CREAT|" + mode
	case x < 75:
		flags = "IPC_CREAT|IPC_EXCL|" + mode
	case x < 92:
		flags = mode
	case x < 95:
		flags = "IPC_EXCL|" + mode
	default:
		flags = g.pick("IPC_CREAT|IPC_NOWAIT|"+mode, "IPC_CREAT|0100000|"+mode, "-1", "IPC_CREAT|SEM_UNDO|"+mode)
	}
	g.sets = append(g.sets, nsems)
	g.alive = append(g.alive, nsems >= 1 && nsems <= 32000 && (key == "IPC_PRIVATE" || strings.HasPrefix(flags, "IPC_CREAT|")))
	return fmt.Sprintf("semget %s %d %s", key, nsems, flags)
}

// ref returns an id operand and the nsems of the set it most likely names
// (0 if unknown).
func (g *gen) ref(stat bool) (string, int) {
	if len(g.sets) == 0 || g.chance(0.06) {
		return g.pick("0", "1", "-1", "32768", "0x7fffffff", "-2147483648", "32767", "65536", "5"), 0
	}
	k := len(g.sets) - 1 - g.r.IntN(min(3, len(g.sets)))
	if g.chance(0.4) {
		k = g.r.IntN(len(g.sets))
	}
	if g.chance(0.7) {
		// Prefer a set that is probably alive.
		var alive []int
		for i, a := range g.alive {
			if a {
				alive = append(alive, i)
			}
		}
		if len(alive) > 0 {
			k = alive[len(alive)-1-g.r.IntN(min(4, len(alive)))]
			if g.chance(0.3) {
				k = alive[g.r.IntN(len(alive))]
			}
		}
	}
	n := max(g.sets[k], 0)
	if stat && g.chance(0.6) {
		return fmt.Sprintf("@%d", k), n
	}
	switch x := g.r.IntN(100); {
	case x < 86:
		return fmt.Sprintf("$%d", k), n
	case x < 91:
		return fmt.Sprintf("$%d+32768", k), n
	case x < 94:
		return fmt.Sprintf("$%d-32768", k), n
	case x < 97:
		return fmt.Sprintf("@%d", k), n
	default:
		return fmt.Sprintf("$%d+1", k), 0
	}
}

// semnum returns a semaphore number for a set of n semaphores, mostly
// valid.
func (g *gen) semnum(n int) int {
	if n > 0 && g.chance(0.88) {
		if n > 8 && g.chance(0.5) {
			return n - 1 - g.r.IntN(2)
		}
		return g.r.IntN(min(n, 8))
	}
	return []int{-1, n, n + 1, 65535, 65536, 64, 32000, -2147483648}[g.r.IntN(8)]
}

var genSemOps = []int{-1, 1, 0, -2, 2, 3, -3, -1, 1, 0, 1, 32767, -32768, 40000, -40000, 100, -100, 32766}

func (g *gen) semop() string {
	id, n := g.ref(false)
	type sop struct {
		num, op int
		flg     string
	}
	var ops []sop
	count := 1
	switch x := g.r.IntN(100); {
	case x < 58:
		count = 1
	case x < 85:
		count = 2 + g.r.IntN(2)
	case x < 89:
		count = 4 + g.r.IntN(4)
	}
	for i := range count {
		num := g.semnum(n)
		if num < 0 {
			num &= 0xffff
		}
		if i > 0 && g.chance(0.3) {
			num = ops[g.r.IntN(i)].num // the same semaphore twice
		}
		if i > 0 && g.chance(0.05) {
			num = ops[i-1].num + 64 // the kernel's dupsop mask aliases these
		}
		op := genSemOps[g.r.IntN(len(genSemOps))]
		flg := g.pick("0", "IPC_NOWAIT", "SEM_UNDO", "IPC_NOWAIT|SEM_UNDO", "0", "IPC_NOWAIT")
		if g.chance(0.02) {
			flg = g.pick("-1", "0x8000", "0x1800")
		}
		ops = append(ops, sop{num, op, flg})
	}
	var words []string
	mayBlock := false
	for _, o := range ops {
		words = append(words, fmt.Sprintf("%d:%d:%s", o.num, o.op, o.flg))
		if int16(o.op) <= 0 && !strings.Contains(o.flg, "IPC_NOWAIT") && o.flg != "-1" && o.flg != "0x1800" {
			mayBlock = true
		}
	}
	list := strings.Join(words, ",")
	switch x := g.r.IntN(100); {
	case x < 2:
		list = "-"
		mayBlock = false
	case x < 4:
		list = fmt.Sprintf("0:1:IPC_NOWAIT*%d", 500+g.r.IntN(2)) // SEMOPM and one more
		mayBlock = false
	case x < 5:
		list = fmt.Sprintf("%s,0:0:IPC_NOWAIT*499", list)
	case x < 7:
		list = g.pick("!1", "!0", "!501", "!2", "!4294967295") // a bad pointer
		mayBlock = false
	}
	var timeout string
	safe := []string{"timeout=0.0", "timeout=0.000001", "timeout=0.000001", "timeout=0.001", "timeout=0/1"}
	switch x := g.r.IntN(100); {
	case x < 2:
		timeout = "timeout=bad"
	case x < 10:
		timeout = g.pick(genInvalidTimeouts...)
	case !mayBlock && x < 38:
		timeout = ""
	case !mayBlock && x < 41:
		timeout = "timeout=none"
	case !mayBlock && x < 53:
		timeout = g.pick(genHugeTimeouts...)
	case mayBlock && x >= 95 && g.hugeBlocks > 0:
		g.hugeBlocks--
		timeout = g.pick(genHugeTimeouts...)
	default:
		timeout = g.pick(safe...)
	}
	s := fmt.Sprintf("semop %s %s", id, list)
	if timeout != "" {
		s += " " + timeout
	}
	return s
}

var (
	// genHugeTimeouts are valid timeouts at the edges of the kernel's
	// time arithmetic: 2^33 s, the largest below KTIME_SEC_MAX
	// (9223372036 s, where timespec64_to_ktime saturates to KTIME_MAX),
	// KTIME_SEC_MAX and just past it, 2^62 s and INT64_MAX s. Added to the
	// current time they saturate (ktime_add_safe): none ever expires.
	genHugeTimeouts = []string{
		"timeout=100000.0",
		"timeout=8589934592/0", "timeout=8589934592/999999999",
		"timeout=9223372035/999999999",
		"timeout=9223372036/0", "timeout=9223372036/999999999",
		"timeout=9223372037/0", "timeout=9223372037/999999999",
		"timeout=4611686018427387904/0", "timeout=4611686018427387904/999999999",
		"timeout=9223372036854775807/0", "timeout=9223372036854775807/999999999",
	}
	// genInvalidTimeouts fail with EINVAL: a negative part, or tv_nsec of
	// 10^9 or more, also with a huge tv_sec.
	genInvalidTimeouts = []string{
		"timeout=-1.0", "timeout=0/-1", "timeout=0/1000000000", "timeout=-1/999999999",
		"timeout=0/-9223372036854775808", "timeout=9223372036854775807/1000000000",
		"timeout=9223372036/1000000000", "timeout=8589934592/1000000000",
		"timeout=9223372036854775807/-1", "timeout=-9223372036854775808/0",
	}
)

var (
	genCmds = []string{
		"GETVAL", "GETVAL", "GETALL", "GETALL", "SETVAL", "SETVAL", "SETVAL", "SETALL", "SETALL",
		"IPC_STAT", "IPC_STAT", "GETPID", "GETNCNT", "GETZCNT", "SEM_STAT", "SEM_STAT_ANY",
		"IPC_INFO", "SEM_INFO", "IPC_SET", "IPC_SET", "IPC_RMID", "IPC_RMID",
	}
	genBadCmds = []string{"99", "-1", "IPC_STAT|IPC_64", "GETVAL|IPC_64", "21", "10", "4", "0x10000"}
	genIDs     = []string{"0", "1000", "65534", "1001", "2000"}
)

func (g *gen) semctl() string {
	cmd := g.pick(genCmds...)
	if g.chance(0.04) {
		cmd = g.pick(genBadCmds...)
	}
	stat := cmd == "SEM_STAT" || cmd == "SEM_STAT_ANY"
	var id string
	n := 0
	if (cmd == "IPC_INFO" || cmd == "SEM_INFO") && g.chance(0.7) {
		id = g.pick("0", "0", "-1", "12345")
	} else {
		id, n = g.ref(stat)
	}
	if cmd == "IPC_RMID" && strings.HasPrefix(id, "$") && !strings.ContainsAny(id[1:], "+-") {
		var k int
		fmt.Sscanf(id[1:], "%d", &k)
		g.alive[k] = false
	}
	semnum := 0
	switch cmd {
	case "GETVAL", "GETPID", "GETNCNT", "GETZCNT", "SETVAL":
		semnum = g.semnum(n)
	default:
		if g.chance(0.1) {
			semnum = g.semnum(n)
		}
	}
	s := fmt.Sprintf("semctl %s %d %s", id, semnum, cmd)
	if cmd != "SETVAL" && g.chance(0.03) {
		return s + " bad" // a bad argument pointer
	}
	switch cmd {
	case "SETVAL":
		v := []string{"0", "1", "2", "3", "5", "100", "32767", "0", "1"}[g.r.IntN(9)]
		if g.chance(0.15) {
			v = g.pick("32768", "-1", "65536", "4294967297", "4294967296", "4294999999", "-2147483648", "0x7fffffff")
		}
		s += " " + v
	case "SETALL":
		k := n
		if g.chance(0.15) || k == 0 {
			k = g.r.IntN(5)
		}
		k = min(k, 70) // a big set gets its first values, the rest are 0
		for i := range k {
			v := []string{"0", "1", "2", "3", "0", "1", "32767"}[g.r.IntN(7)]
			if g.chance(0.04) || (i == k-1 && g.chance(0.05)) {
				v = g.pick("32768", "65535", "-1", "65536", "-32769")
			}
			s += " " + v
		}
	case "IPC_SET":
		uid, gid := g.pick(genIDs...), g.pick(genIDs...)
		if g.chance(0.06) {
			uid = g.pick("-1", "4294967295")
		}
		if g.chance(0.06) {
			gid = g.pick("-1", "4294967295")
		}
		mode := g.pick(genModes...)
		if g.chance(0.1) {
			mode = g.pick("01777", "0100600", "-1", "07000")
		}
		s += fmt.Sprintf(" %s %s %s", uid, gid, mode)
	}
	return s
}

var genIdentities = []string{
	"0 0", "0 0", "1000 1000", "1000 1000", "65534 65534", "1000 1000 65534",
	"1001 1000", "2000 2000 1000", "0 1000", "1001 1001 2000 65534",
}

func (g *gen) as() string {
	return "as " + g.pick(genIdentities...)
}
