package corpus

// Queue is a first-in, first-out list of strings.
type Queue struct {
	items []string
	head  int
}

// Push adds v at the back of the queue.
func (q *Queue) Push(v string) {
	q.items = append(q.items, v)
}

// Pop removes and returns the front value; ok is false when the queue is empty.
func (q *Queue) Pop() (v string, ok bool) {
	if q.head == len(q.items) {
		return "", false
	}
	v = q.items[q.head]
	q.head++
	if q.head == len(q.items) {
		q.items = q.items[:0]
		q.head = 0
	}
	return v, true
}

// Len returns the number of values in the queue.
func (q *Queue) Len() int {
	return len(q.items) - q.head
}
