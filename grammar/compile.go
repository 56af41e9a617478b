package grammar

import (
	"slices"
	"strings"
)

// compile flattens the parsed rules into the element array the matcher walks
// and rejects left recursion.
func (p *parser) compile() (*Grammar, error) {
	g := &Grammar{src: p.src, names: make([]string, len(p.rules)), alts: make([][]int32, len(p.rules))}
	for id, r := range p.rules {
		g.names[id] = r.name
		for _, a := range r.alts {
			g.alts[id] = append(g.alts[id], int32(len(g.elems)))
			for _, it := range a {
				g.elems = append(g.elems, makeElem(it))
			}
			g.elems = append(g.elems, elem{kind: kindEnd})
		}
	}
	g.root = int32(p.index["root"])
	if err := p.checkLeftRecursion(); err != nil {
		return nil, err
	}
	return g, nil
}

func makeElem(it item) elem {
	switch it.kind {
	case kindRef:
		return elem{kind: kindRef, rule: int32(it.rule)}
	}
	e := elem{kind: kindChar, neg: it.neg, spans: mergeSpans(it.spans)}
	for c := rune(0); c < 128; c++ {
		if e.matchSlow(c) {
			e.ascii[c>>6] |= 1 << (c & 63)
		}
	}
	return e
}

// mergeSpans sorts spans and merges those that overlap or touch.
func mergeSpans(in []span) []span {
	s := slices.Clone(in)
	slices.SortFunc(s, func(a, b span) int { return int(a.lo) - int(b.lo) })
	out := s[:0]
	for _, x := range s {
		if n := len(out); n > 0 && x.lo <= out[n-1].hi+1 {
			out[n-1].hi = max(out[n-1].hi, x.hi)
			continue
		}
		out = append(out, x)
	}
	return out
}

// matchSlow reports whether the class matches r, from its spans.
func (e *elem) matchSlow(r rune) bool {
	i, _ := slices.BinarySearchFunc(e.spans, r, func(s span, r rune) int {
		switch {
		case s.hi < r:
			return -1
		case s.lo > r:
			return 1
		}
		return 0
	})
	in := i < len(e.spans) && e.spans[i].lo <= r && r <= e.spans[i].hi
	return in != e.neg
}

// match reports whether the class matches r.
func (e *elem) match(r rune) bool {
	if r < 128 {
		return e.ascii[r>>6]&(1<<(r&63)) != 0
	}
	return e.matchSlow(r)
}

// matchAny reports whether the class matches some character in [lo, hi].
func (e *elem) matchAny(lo, hi rune) bool {
	if !e.neg {
		for _, s := range e.spans {
			if s.lo <= hi && lo <= s.hi {
				return true
			}
		}
		return false
	}
	// negated: some character of [lo, hi] lies outside every span
	for _, s := range e.spans {
		if s.lo <= lo && hi <= s.hi {
			return false
		}
	}
	return true
}

// checkLeftRecursion finds a rule that can reach itself as the first element
// of one of its alternatives, through rules that can match the empty string.
func (p *parser) checkLeftRecursion() error {
	n := len(p.rules)
	nullable := make([]bool, n)
	for changed := true; changed; {
		changed = false
		for id, r := range p.rules {
			if nullable[id] {
				continue
			}
			for _, a := range r.alts {
				ok := true
				for _, it := range a {
					if it.kind != kindRef || !nullable[it.rule] {
						ok = false
						break
					}
				}
				if ok {
					nullable[id], changed = true, true
					break
				}
			}
		}
	}
	// left edges: the rules each rule may start with. An edge whose reference
	// ends its alternative (a tail) does not grow the parse stack, so a cycle
	// of tails (a ::= b, b ::= a | "x", or ("a"?)*) is harmless; a cycle
	// through any other edge grows the stack without consuming anything.
	type edge struct {
		to   int
		tail bool
	}
	left := make([][]edge, n)
	for id, r := range p.rules {
		for _, a := range r.alts {
			for k, it := range a {
				if it.kind != kindRef {
					break
				}
				left[id] = append(left[id], edge{it.rule, k == len(a)-1})
				if !nullable[it.rule] {
					break
				}
			}
		}
	}
	// strongly connected components (Tarjan)
	index, low, comp := make([]int, n), make([]int, n), make([]int, n)
	for i := range index {
		index[i] = -1
	}
	onStack := make([]bool, n)
	var stack []int
	next, ncomp := 0, 0
	var connect func(int)
	connect = func(u int) {
		index[u], low[u] = next, next
		next++
		stack = append(stack, u)
		onStack[u] = true
		for _, e := range left[u] {
			if index[e.to] < 0 {
				connect(e.to)
				low[u] = min(low[u], low[e.to])
			} else if onStack[e.to] {
				low[u] = min(low[u], index[e.to])
			}
		}
		if low[u] == index[u] {
			for {
				w := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				onStack[w] = false
				comp[w] = ncomp
				if w == u {
					break
				}
			}
			ncomp++
		}
	}
	for id := range p.rules {
		if index[id] < 0 {
			connect(id)
		}
	}
	for u := range p.rules {
		for _, e := range left[u] {
			if e.tail || comp[e.to] != comp[u] {
				continue
			}
			// a cycle u -> e.to -> ... -> u: find the way back for the message
			prev := map[int]int{e.to: -1}
			for queue := []int{e.to}; len(queue) > 0 && !hasKey(prev, u); {
				x := queue[0]
				queue = queue[1:]
				for _, f := range left[x] {
					if !hasKey(prev, f.to) && comp[f.to] == comp[u] {
						prev[f.to] = x
						queue = append(queue, f.to)
					}
				}
			}
			var back []int // u back to e.to
			for x := u; ; x = prev[x] {
				back = append(back, x)
				if x == e.to || prev[x] == -1 {
					break
				}
			}
			slices.Reverse(back)
			cyc := append([]int{u}, back...)
			var names []string
			for _, r := range cyc {
				name := p.userName(r)
				if len(names) == 0 || names[len(names)-1] != name {
					names = append(names, name)
				}
			}
			if len(names) == 1 {
				names = append(names, names[0])
			}
			return p.errAt(p.rules[p.userRule(u)].at, "left recursion: %s (a rule must consume a character before it can reach itself; rewrite x ::= x y | z as x ::= z y*)",
				strings.Join(names, " -> "))
		}
	}
	return nil
}

func hasKey(m map[int]int, k int) bool {
	_, ok := m[k]
	return ok
}

// userRule returns the rule the user wrote that a generated rule belongs to.
func (p *parser) userRule(id int) int {
	if o := p.rules[id].owner; o >= 0 {
		return o
	}
	return id
}

func (p *parser) userName(id int) string { return p.rules[p.userRule(id)].name }
