package semscript

import (
	"errors"
	"fmt"
	"iter"
	"strings"

	"github.com/sembox/sembox/abi"
)

// Limits of the language, the same in both executors.
const (
	maxSemgets = 100000 // semget calls in one script
	maxSops    = 65536  // operations in one semop call, after repetition
	maxGroups  = 64     // supplementary groups of "as"
	arrayLen   = 65536  // values a SETALL may list
	maxExpr    = 255    // length of a flag or command expression
	maxField   = 63     // length of a timeout field
)

// Kind is the verb of a call.
type Kind int

// The four verbs.
const (
	KindSemget Kind = iota
	KindSemop
	KindSemctl
	KindAs
	KindCycle
)

// RefKind says how an id reference is written.
type RefKind int

// The forms of an id reference.
const (
	RefLiteral RefKind = iota // a number
	RefID                     // $N: the result of semget call N
	RefIndex                  // @N: that result & 0x7fff
)

// Ref is an id operand. Its value is computed when the call runs, from the
// results of earlier semget calls in the same executor.
type Ref struct {
	Kind    RefKind
	Literal int64 // RefLiteral: the value
	Semget  int   // RefID, RefIndex: the absolute number of the semget call
	Add     int64 // RefID, RefIndex: added to the base
}

// Call is one line of a script.
type Call struct {
	// Line is the text of the call as both executors echo it: its words
	// joined by single spaces, without the comment.
	Line string
	// LineNo is the 1-based line number in the script text.
	LineNo int
	Kind   Kind

	// semget
	Key, Nsems, Flags int64

	// semop and semctl
	ID Ref

	// semop
	Sops       []abi.Sembuf
	SopsBad    bool          // "!N": nsops is Nsops, the pointer is bad
	Nsops      uint32        // with SopsBad
	Timeout    *abi.Timespec // nil: NULL (unless TimeoutBad)
	TimeoutBad bool          // "timeout=bad"

	// semctl
	SemNum, Cmd int64
	ArgBad      bool    // "bad": the argument is a bad pointer
	Val         int64   // SETVAL: the unsigned long argument
	Vals        []int64 // SETALL: the listed values (the rest are 0)
	UID, GID    int64   // IPC_SET
	Mode        int64   // IPC_SET

	// as
	EUID, EGID uint32
	Groups     []uint32

	// cycle
	Count int64
}

// Script is a parsed script.
type Script struct {
	Calls []Call
}

// Semgets returns the number of semget calls in s.
func (s *Script) Semgets() int {
	n := 0
	for i := range s.Calls {
		if s.Calls[i].Kind == KindSemget {
			n++
		}
	}
	return n
}

// ParseError is a syntax error in a script.
type ParseError struct {
	Line int
	Msg  string
}

func (e *ParseError) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Msg) }

var errSyntax = errors.New("syntax")

// scriptLines yields the words of each line of a script that has any,
// with its line number from 0: a '#' starts a comment, words are
// separated by spaces and tabs (the executors' rules).
func scriptLines(text string) iter.Seq2[int, []string] {
	return func(yield func(int, []string) bool) {
		for i, raw := range strings.Split(text, "\n") {
			raw, _, _ = strings.Cut(raw, "#")
			words := strings.FieldsFunc(raw, func(r rune) bool {
				return r == ' ' || r == '\t' || r == '\r' || r == '\n'
			})
			if len(words) > 0 && !yield(i, words) {
				return
			}
		}
	}
}

// Parse parses a script. It accepts exactly what the C executor accepts.
func Parse(text string) (*Script, error) {
	s := &Script{}
	nsemget := 0
	for i, words := range scriptLines(text) {
		c, err := parseCall(words, nsemget)
		if err != nil {
			return nil, &ParseError{Line: i + 1, Msg: err.Error()}
		}
		c.Line = strings.Join(words, " ")
		c.LineNo = i + 1
		if c.Kind == KindSemget {
			if nsemget >= maxSemgets {
				return nil, &ParseError{Line: i + 1, Msg: "too many semget calls"}
			}
			nsemget++
		}
		s.Calls = append(s.Calls, c)
	}
	return s, nil
}

// MustParse is Parse for scripts known to be valid.
func MustParse(text string) *Script {
	s, err := Parse(text)
	if err != nil {
		panic(err)
	}
	return s
}

func parseCall(w []string, nsemget int) (Call, error) {
	var c Call
	var err error
	switch w[0] {
	case "semget":
		c.Kind = KindSemget
		if len(w) != 4 {
			return c, errors.New("usage: semget KEY NSEMS FLAGS")
		}
		if c.Key, err = parseExpr(w[1], "key"); err != nil {
			return c, err
		}
		if c.Nsems, err = parseNumber(w[2], "nsems"); err != nil {
			return c, err
		}
		if c.Flags, err = parseExpr(w[3], "flags"); err != nil {
			return c, err
		}
	case "semop":
		c.Kind = KindSemop
		err = parseSemop(&c, w, nsemget)
	case "semctl":
		c.Kind = KindSemctl
		err = parseSemctl(&c, w, nsemget)
	case "as":
		c.Kind = KindAs
		err = parseAs(&c, w)
	case "cycle":
		c.Kind = KindCycle
		if len(w) != 2 {
			return c, errors.New("usage: cycle N")
		}
		if c.Count, err = parseNumber(w[1], "count"); err == nil && c.Count < 1 {
			err = fmt.Errorf("bad count %d", c.Count)
		}
	default:
		err = fmt.Errorf("unknown call %s", w[0])
	}
	return c, err
}

func parseSemop(c *Call, w []string, nsemget int) error {
	if len(w) != 3 && len(w) != 4 {
		return errors.New("usage: semop ID OPS [timeout=...]")
	}
	var err error
	if c.ID, err = parseRef(w[1], nsemget); err != nil {
		return err
	}
	if strings.HasPrefix(w[2], "!") {
		n, err := parseNumber(w[2][1:], "nsops")
		if err != nil {
			return err
		}
		if n < 0 || n > 0xffffffff {
			return fmt.Errorf("bad nsops %s", w[2])
		}
		c.SopsBad, c.Nsops = true, uint32(n)
	} else if w[2] != "-" {
		if w[2] == "" || strings.HasPrefix(w[2], ",") || strings.HasSuffix(w[2], ",") || strings.Contains(w[2], ",,") {
			return fmt.Errorf("bad operations %s", w[2])
		}
		for _, op := range strings.Split(w[2], ",") {
			num, rest, ok1 := strings.Cut(op, ":")
			sop, flg, ok2 := strings.Cut(rest, ":")
			if !ok1 || !ok2 {
				return fmt.Errorf("bad operation %s", op)
			}
			count := int64(1)
			if f, cnt, ok := strings.Cut(flg, "*"); ok {
				flg = f
				if count, err = parseNumber(cnt, "count"); err != nil {
					return err
				}
				if count < 1 {
					return fmt.Errorf("bad count %d", count)
				}
			}
			n, err := parseNumber(num, "sem_num")
			if err != nil {
				return err
			}
			o, err := parseNumber(sop, "sem_op")
			if err != nil {
				return err
			}
			f, err := parseExpr(flg, "sem_flg")
			if err != nil {
				return err
			}
			if count > int64(maxSops-len(c.Sops)) {
				return errors.New("too many operations")
			}
			for range count {
				c.Sops = append(c.Sops, abi.Sembuf{SemNum: uint16(n), SemOp: int16(o), SemFlg: int16(f)})
			}
		}
	}
	if len(w) == 4 {
		t, ok := strings.CutPrefix(w[3], "timeout=")
		if !ok {
			return fmt.Errorf("bad timeout %s", w[3])
		}
		bad := fmt.Errorf("bad timeout %s", w[3])
		switch {
		case t == "none":
		case t == "bad":
			c.TimeoutBad = true
		case strings.Contains(t, "/"):
			a, b, _ := strings.Cut(t, "/")
			if len(a) > maxField || len(b) > maxField {
				return bad
			}
			sec, err := parseNumber(a, "tv_sec")
			if err != nil {
				return err
			}
			nsec, err := parseNumber(b, "tv_nsec")
			if err != nil {
				return err
			}
			c.Timeout = &abi.Timespec{Sec: sec, Nsec: nsec}
		default:
			a, frac, ok := strings.Cut(t, ".")
			if !ok || len(a) > maxField {
				return bad
			}
			sec, ok := parseDec(a)
			if !ok || len(frac) == 0 || len(frac) > 9 {
				return bad
			}
			var nsec int64
			for _, ch := range frac {
				if ch < '0' || ch > '9' {
					return bad
				}
				nsec = nsec*10 + int64(ch-'0')
			}
			for range 9 - len(frac) {
				nsec *= 10
			}
			c.Timeout = &abi.Timespec{Sec: sec, Nsec: nsec}
		}
	}
	return nil
}

func parseSemctl(c *Call, w []string, nsemget int) error {
	if len(w) < 4 {
		return errors.New("usage: semctl ID SEMNUM CMD [ARG...]")
	}
	var err error
	if c.ID, err = parseRef(w[1], nsemget); err != nil {
		return err
	}
	if c.SemNum, err = parseNumber(w[2], "semnum"); err != nil {
		return err
	}
	if c.Cmd, err = parseExpr(w[3], "command"); err != nil {
		return err
	}
	args := w[4:]
	if len(args) == 1 && args[0] == "bad" && int32(c.Cmd) != abi.SETVAL {
		c.ArgBad = true
		return nil
	}
	switch int32(c.Cmd) {
	case abi.SETVAL:
		if len(args) != 1 {
			return errors.New("usage: semctl ID SEMNUM SETVAL VALUE")
		}
		c.Val, err = parseNumber(args[0], "value")
	case abi.SETALL:
		if len(args) > arrayLen {
			return errors.New("too many values")
		}
		c.Vals = make([]int64, len(args))
		for i, a := range args {
			if c.Vals[i], err = parseNumber(a, "value"); err != nil {
				return err
			}
		}
	case abi.IPC_SET:
		if len(args) != 3 {
			return errors.New("usage: semctl ID SEMNUM IPC_SET UID GID MODE")
		}
		if c.UID, err = parseNumber(args[0], "uid"); err != nil {
			return err
		}
		if c.GID, err = parseNumber(args[1], "gid"); err != nil {
			return err
		}
		c.Mode, err = parseNumber(args[2], "mode")
	default:
		if len(args) != 0 {
			return errors.New("this command takes no argument")
		}
	}
	return err
}

func parseAs(c *Call, w []string) error {
	if len(w) < 3 || len(w)-3 > maxGroups {
		return errors.New("usage: as EUID EGID [GROUP...]")
	}
	var ids []uint32
	for i, s := range w[1:] {
		v, err := parseNumber(s, "id")
		if err != nil {
			return err
		}
		if v < 0 || v >= 0xffffffff {
			if i < 2 {
				return errors.New("bad identity")
			}
			return fmt.Errorf("bad group %s", s)
		}
		ids = append(ids, uint32(v))
	}
	c.EUID, c.EGID, c.Groups = ids[0], ids[1], ids[2:]
	return nil
}

// parseRef parses an id reference; nsemget is the number of semget calls
// before this line.
func parseRef(s string, nsemget int) (Ref, error) {
	if s == "" || (s[0] != '$' && s[0] != '@') {
		v, err := parseNumber(s, "id")
		return Ref{Kind: RefLiteral, Literal: v}, err
	}
	r := Ref{Kind: RefID}
	if s[0] == '@' {
		r.Kind = RefIndex
	}
	p := s[1:]
	n := 0
	if strings.HasPrefix(p, "-") {
		n = 1
	}
	for n < len(p) && p[n] >= '0' && p[n] <= '9' {
		n++
	}
	bad := fmt.Errorf("bad id %s", s)
	if n == 0 || n > maxField || (n == 1 && p[0] == '-') {
		return r, bad
	}
	idx, ok := parseDec(p[:n])
	if !ok {
		return r, bad
	}
	if idx < 0 {
		idx += int64(nsemget)
	}
	if idx < 0 || idx >= int64(nsemget) {
		return r, fmt.Errorf("id %s names no earlier semget", s)
	}
	r.Semget = int(idx)
	if rest := p[n:]; rest != "" {
		if rest[0] != '+' && rest[0] != '-' {
			return r, bad
		}
		k, ok := parseNum(rest)
		if !ok {
			return r, bad
		}
		r.Add = k
	}
	return r, nil
}

// String renders r with an absolute semget number.
func (r Ref) String() string {
	var b string
	switch r.Kind {
	case RefLiteral:
		return fmt.Sprint(r.Literal)
	case RefID:
		b = fmt.Sprintf("$%d", r.Semget)
	default:
		b = fmt.Sprintf("@%d", r.Semget)
	}
	if r.Add > 0 {
		return fmt.Sprintf("%s+%d", b, r.Add)
	} else if r.Add < 0 {
		return fmt.Sprintf("%s%d", b, r.Add)
	}
	return b
}

// value computes r from the results of the semget calls so far.
func (r Ref) value(semgets []int64) int32 {
	if r.Kind == RefLiteral {
		return int32(r.Literal)
	}
	base := semgets[r.Semget]
	if r.Kind == RefIndex {
		base &= abi.IPCMNI_IDX_MASK
	}
	return int32(base + r.Add)
}

// names are the symbols a flag, key or command expression may use.
var names = map[string]int64{
	"IPC_PRIVATE":  abi.IPC_PRIVATE,
	"IPC_CREAT":    abi.IPC_CREAT,
	"IPC_EXCL":     abi.IPC_EXCL,
	"IPC_NOWAIT":   abi.IPC_NOWAIT,
	"SEM_UNDO":     abi.SEM_UNDO,
	"IPC_64":       abi.IPC_64,
	"IPC_RMID":     abi.IPC_RMID,
	"IPC_SET":      abi.IPC_SET,
	"IPC_STAT":     abi.IPC_STAT,
	"IPC_INFO":     abi.IPC_INFO,
	"GETPID":       abi.GETPID,
	"GETVAL":       abi.GETVAL,
	"GETALL":       abi.GETALL,
	"GETNCNT":      abi.GETNCNT,
	"GETZCNT":      abi.GETZCNT,
	"SETVAL":       abi.SETVAL,
	"SETALL":       abi.SETALL,
	"SEM_STAT":     abi.SEM_STAT,
	"SEM_INFO":     abi.SEM_INFO,
	"SEM_STAT_ANY": abi.SEM_STAT_ANY,
}

// parseExpr parses TERM('|'TERM)*, where a TERM is a number or a name.
func parseExpr(s, what string) (int64, error) {
	bad := fmt.Errorf("bad %s %s", what, s)
	if s == "" || len(s) > maxExpr || strings.HasPrefix(s, "|") || strings.HasSuffix(s, "|") || strings.Contains(s, "||") {
		return 0, bad
	}
	var acc int64
	for _, t := range strings.Split(s, "|") {
		v, ok := names[t]
		if !ok {
			if v, ok = parseNum(t); !ok {
				return 0, bad
			}
		}
		acc |= v
	}
	return acc, nil
}

func parseNumber(s, what string) (int64, error) {
	v, ok := parseNum(s)
	if !ok {
		return 0, fmt.Errorf("bad %s %s", what, s)
	}
	return v, nil
}

// parseNum parses [+-]?(0[xX]hex|0octal|decimal) into an int64, rejecting
// overflow, exactly as the C executor's parse_num.
func parseNum(s string) (int64, bool) {
	neg := false
	if s != "" && (s[0] == '+' || s[0] == '-') {
		neg = s[0] == '-'
		s = s[1:]
	}
	if s == "" {
		return 0, false
	}
	base := uint64(10)
	switch {
	case len(s) >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X'):
		base = 16
		s = s[2:]
		if s == "" {
			return 0, false
		}
	case s[0] == '0':
		base = 8
	}
	return accumulate(s, base, neg)
}

// parseDec parses [+-]?[0-9]+ as decimal (leading zeros allowed).
func parseDec(s string) (int64, bool) {
	neg := false
	if s != "" && (s[0] == '+' || s[0] == '-') {
		neg = s[0] == '-'
		s = s[1:]
	}
	if s == "" {
		return 0, false
	}
	return accumulate(s, 10, neg)
}

func accumulate(s string, base uint64, neg bool) (int64, bool) {
	lim := uint64(1<<63 - 1)
	if neg {
		lim = 1 << 63
	}
	var v uint64
	for i := 0; i < len(s); i++ {
		ch := s[i]
		var d uint64
		switch {
		case ch >= '0' && ch <= '9':
			d = uint64(ch - '0')
		case ch >= 'a' && ch <= 'f':
			d = uint64(ch-'a') + 10
		case ch >= 'A' && ch <= 'F':
			d = uint64(ch-'A') + 10
		default:
			return 0, false
		}
		if d >= base || v > (lim-d)/base {
			return 0, false
		}
		v = v*base + d
	}
	if neg {
		return int64(-v), true
	}
	return int64(v), true
}
