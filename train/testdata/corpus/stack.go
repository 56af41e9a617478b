package corpus

// Stack is a last-in, first-out list of integers.
type Stack struct {
	items []int
}

// Push adds v on top of the stack.
func (s *Stack) Push(v int) {
	s.items = append(s.items, v)
}

// Pop removes and returns the top value; ok is false when the stack is empty.
func (s *Stack) Pop() (v int, ok bool) {
	if len(s.items) == 0 {
		return 0, false
	}
	v = s.items[len(s.items)-1]
	s.items = s.items[:len(s.items)-1]
	return v, true
}

// Len returns the number of values on the stack.
func (s *Stack) Len() int {
	return len(s.items)
}
