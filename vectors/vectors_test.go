package vectors

import (
	"errors"
	"math"
	"testing"
)

// toy is a vocabulary laid out so that the answers are known: king − man +
// woman lands on queen, and "car" is the odd one out among the people.
func toy(t *testing.T) *Vectors {
	t.Helper()
	words := []string{"king", "queen", "man", "woman", "car", "prince"}
	data := []float32{
		1, 1, 0, // king: royal + male
		1, 0, 1, // queen: royal + female
		0, 1, 0, // man
		0, 0, 1, // woman
		-1, 0.1, 0.1, // car
		0.9, 1, 0.1, // prince
	}
	v, err := New(words, 3, data)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestNewErrors(t *testing.T) {
	tests := []struct {
		words []string
		dim   int
		data  []float32
	}{
		{[]string{"a"}, 0, nil},
		{[]string{"a", "b"}, 2, []float32{1, 2, 3}},
		{[]string{"a", "a"}, 1, []float32{1, 2}},
		{[]string{""}, 1, []float32{1}},
	}
	for _, tt := range tests {
		if _, err := New(tt.words, tt.dim, tt.data); err == nil {
			t.Errorf("New(%q, %d, %v): no error", tt.words, tt.dim, tt.data)
		}
	}
}

func TestQueries(t *testing.T) {
	v := toy(t)
	for _, mul := range []bool{false, true} {
		got, err := v.Analogy("man", "king", "woman", 1, 0, mul)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || got[0].Word != "queen" {
			t.Errorf("man:king::woman:? (mul %v) = %v, want queen", mul, got)
		}
	}
	near, err := v.Similar(Query{Positive: []string{"king"}, N: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(near) != 2 || near[0].Word != "prince" || near[0].Cosine < near[1].Cosine {
		t.Errorf("nearest to king: %v, want prince first, by decreasing cosine", near)
	}
	want := (0.9 + 1) / (math.Sqrt(2) * math.Sqrt(0.81+1+0.01))
	if math.Abs(near[0].Cosine-want) > 1e-6 {
		t.Errorf("cos(king, prince) = %v, want %v", near[0].Cosine, want)
	}
	// restricted to the first three words, prince (row 5) cannot be found
	near, _ = v.Similar(Query{Positive: []string{"king"}, N: 5, Restrict: 3})
	if len(near) != 2 || near[0].Word == "prince" {
		t.Errorf("restricted to 3 words: %v", near)
	}
	if odd, err := v.DoesntMatch([]string{"king", "queen", "man", "car"}); err != nil || odd != "car" {
		t.Errorf("odd one out: %q, %v; want car", odd, err)
	}
	if d, err := v.Distance("man", "woman"); err != nil || math.Abs(d-1) > 1e-9 {
		t.Errorf("distance(man, woman) = %v, %v; want 1", d, err)
	}
	if _, err := v.Similar(Query{Positive: []string{"nope"}}); !errors.Is(err, ErrUnknownWord) {
		t.Errorf("unknown word: %v", err)
	}
	if _, err := v.Similar(Query{}); err == nil {
		t.Error("empty query: no error")
	}
	if _, err := v.DoesntMatch([]string{"king"}); err == nil {
		t.Error("odd one out of one word: no error")
	}
}
