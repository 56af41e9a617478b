package trace

import (
	"encoding/json"
	"slices"
	"testing"
	"unicode/utf8"
)

func TestText(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want string
	}{
		{"empty", nil, ""},
		{"leading space kept", []byte(" saw"), " saw"},
		{"new line", []byte("\n"), "\n"},
		{"whole character", []byte("é"), "é"},
		{"first byte of a character", []byte{0xE2}, "<0xE2>"},
		{"two of three bytes", []byte{0xE2, 0x96}, "<0xE2><0x96>"},
		{"text then a partial character", []byte("a\xC3"), "a<0xC3>"},
		{"continuation byte then text", []byte("\xA9b"), "<0xA9>b"},
		{"a real replacement character", []byte("\uFFFD"), "\uFFFD"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Text(tt.in)
			if got != tt.want {
				t.Errorf("Text(%q) = %q, want %q", tt.in, got, tt.want)
			}
			if !utf8.ValidString(got) {
				t.Errorf("Text(%q) = %q is not valid UTF-8", tt.in, got)
			}
		})
	}
}

func TestInts(t *testing.T) {
	if got := Ints([]byte{0, 0x20, 0xFF}); !slices.Equal(got, []int{0, 32, 255}) {
		t.Errorf("Ints = %v", got)
	}
	// no bytes is an empty array, not null, in JSON
	b, err := json.Marshal(Candidate{Bytes: Ints(nil)})
	if err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if arr, ok := back["bytes"].([]any); !ok || len(arr) != 0 {
		t.Errorf("no bytes encode as %s, want an empty array", b)
	}
}
