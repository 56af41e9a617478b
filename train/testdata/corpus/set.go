package corpus

// Set is a set of strings.
type Set struct {
	m map[string]bool
}

// NewSet returns a set holding the given values.
func NewSet(values ...string) *Set {
	s := &Set{m: make(map[string]bool)}
	for _, v := range values {
		s.Add(v)
	}
	return s
}

// Add puts v in the set.
func (s *Set) Add(v string) {
	s.m[v] = true
}

// Has reports whether v is in the set.
func (s *Set) Has(v string) bool {
	return s.m[v]
}

// Len returns the number of values in the set.
func (s *Set) Len() int {
	return len(s.m)
}
