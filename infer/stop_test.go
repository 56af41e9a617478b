package infer

import (
	"strings"
	"testing"
)

// TestStopper feeds text piece by piece and checks what is emitted, held back
// and cut, for stop strings that arrive whole, split across pieces, or never.
func TestStopper(t *testing.T) {
	tests := []struct {
		name     string
		stops    []string
		pieces   []string
		emitted  []string // what each feed returns
		stopped  string
		leftover string // pending text after the last feed
	}{
		{"no stops", nil, []string{"a", "b"}, []string{"a", "b"}, "", ""},
		{"whole stop", []string{"END"}, []string{"ab", "cEND", "x"}, []string{"ab", "c"}, "END", ""},
		{"split stop", []string{"END"}, []string{"abE", "N", "Dzz"}, []string{"ab", "", ""}, "END", ""},
		{"false start", []string{"END"}, []string{"abE", "Nx"}, []string{"ab", "ENx"}, "", ""},
		{"held at the end", []string{"END"}, []string{"abEN"}, []string{"ab"}, "", "EN"},
		{"earliest of two", []string{"cd", "b"}, []string{"abcd"}, []string{"a"}, "b", ""},
		{"empty stop ignored", []string{""}, []string{"ab"}, []string{"ab"}, "", ""},
		{"utf-8 stop", []string{"fin."}, []string{"c'est la fi", "n."}, []string{"c'est la ", ""}, "fin.", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := newStopper(tt.stops)
			var pending strings.Builder
			var got []string
			stopped := ""
			for _, p := range tt.pieces {
				pending.WriteString(p)
				emit, s := st.feed(&pending, false)
				got = append(got, emit)
				if s != "" {
					stopped = s
					break
				}
			}
			if strings.Join(got, "|") != strings.Join(tt.emitted, "|") || stopped != tt.stopped {
				t.Errorf("emitted %q stopped %q, want %q stopped %q", got, stopped, tt.emitted, tt.stopped)
			}
			if stopped == "" && pending.String() != tt.leftover {
				t.Errorf("pending %q, want %q", pending.String(), tt.leftover)
			}
		})
	}
}

func TestStopperFinal(t *testing.T) {
	st := newStopper([]string{"END"})
	var pending strings.Builder
	pending.WriteString("abEN")
	if emit, s := st.feed(&pending, true); emit != "abEN" || s != "" || pending.Len() != 0 {
		t.Errorf("final feed emitted %q stopped %q pending %q", emit, s, pending.String())
	}
}
