package semscript

import (
	"strings"
)

// Text renders s as a script, one call per line, with every $N and @N
// written with its absolute semget number.
func (s *Script) Text() string {
	var b strings.Builder
	for i := range s.Calls {
		b.WriteString(s.Calls[i].Line)
		b.WriteByte('\n')
	}
	return b.String()
}

// setRef replaces c's id operand (and the word of Line that holds it).
func (c *Call) setRef(r Ref) {
	c.ID = r
	w := strings.Split(c.Line, " ")
	w[1] = r.String()
	c.Line = strings.Join(w, " ")
}

// without returns s without the calls in drop, renumbering the references
// to later semget calls, or nil if a kept call refers to a dropped semget.
func (s *Script) without(drop map[int]bool) *Script {
	newNum := make([]int, 0, len(s.Calls)) // old semget number -> new, -1 if dropped
	n := 0
	for i := range s.Calls {
		if s.Calls[i].Kind != KindSemget {
			continue
		}
		if drop[i] {
			newNum = append(newNum, -1)
		} else {
			newNum = append(newNum, n)
			n++
		}
	}
	out := &Script{}
	for i := range s.Calls {
		if drop[i] {
			continue
		}
		c := s.Calls[i]
		if (c.Kind == KindSemop || c.Kind == KindSemctl) && c.ID.Kind != RefLiteral {
			m := newNum[c.ID.Semget]
			if m < 0 {
				return nil
			}
			// Rewrite even an unchanged number: "$-1" would now count
			// from a different semget.
			r := c.ID
			r.Semget = m
			c.setRef(r)
		}
		out.Calls = append(out.Calls, c)
	}
	return out
}

// Minimize shrinks s while fails(s) stays true: it removes chunks of calls,
// halving the chunk size down to single calls, until no single call can be
// removed. A semget is removed only together with (or after) the calls that
// refer to it. fails(s) must be true for the argument.
func Minimize(s *Script, fails func(*Script) bool) *Script {
	for chunk := max(1, len(s.Calls)/2); ; {
		removed := false
		for start := 0; start < len(s.Calls); {
			drop := map[int]bool{}
			for i := start; i < start+chunk && i < len(s.Calls); i++ {
				drop[i] = true
			}
			if t := s.without(drop); t != nil && len(t.Calls) > 0 && fails(t) {
				s, removed = t, true
				continue // the same start now names the next calls
			}
			start += chunk
		}
		if chunk == 1 && !removed {
			return s
		}
		if !removed {
			chunk = max(1, chunk/2)
		}
	}
}

// without returns s without the steps in drop, renumbering the references
// to later semget calls, or nil if a kept step refers to a dropped semget
// or the result does not parse.
func (s *MultiScript) without(drop map[int]bool) *MultiScript {
	newNum := []int{} // old semget number -> new, -1 if dropped
	n := 0
	for i := range s.Steps {
		st := &s.Steps[i]
		if st.Kind != StepCall || st.Call.Kind != KindSemget {
			continue
		}
		if drop[i] {
			newNum = append(newNum, -1)
		} else {
			newNum = append(newNum, n)
			n++
		}
	}
	var b strings.Builder
	for i := range s.Steps {
		if drop[i] {
			continue
		}
		st := &s.Steps[i]
		line := st.Line
		if c := &st.Call; st.Kind == StepCall && (c.Kind == KindSemop || c.Kind == KindSemctl) && c.ID.Kind != RefLiteral {
			m := newNum[c.ID.Semget]
			if m < 0 {
				return nil
			}
			// "p N VERB ID ...": rewrite the id word, even unchanged.
			w := strings.Split(line, " ")
			r := c.ID
			r.Semget = m
			w[3] = r.String()
			line = strings.Join(w, " ")
		}
		b.WriteString(line)
		b.WriteByte('\n')
	}
	t, err := ParseMulti(b.String())
	if err != nil {
		return nil
	}
	return t
}

// MinimizeMulti is Minimize for a multi-process script: it removes chunks
// of steps while fails stays true.
func MinimizeMulti(s *MultiScript, fails func(*MultiScript) bool) *MultiScript {
	for chunk := max(1, len(s.Steps)/2); ; {
		removed := false
		for start := 0; start < len(s.Steps); {
			drop := map[int]bool{}
			for i := start; i < start+chunk && i < len(s.Steps); i++ {
				drop[i] = true
			}
			if t := s.without(drop); t != nil && len(t.Steps) > 0 && fails(t) {
				s, removed = t, true
				continue
			}
			start += chunk
		}
		if chunk == 1 && !removed {
			return s
		}
		if !removed {
			chunk = max(1, chunk/2)
		}
	}
}
