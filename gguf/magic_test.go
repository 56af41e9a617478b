package gguf

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// TestMagic: HasMagic and IsFile agree on what starts a GGUF file, and a
// file too short for the magic is an error wrapping io.EOF or
// io.ErrUnexpectedEOF, not "another format".
func TestMagic(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct {
		name     string
		data     string
		want     bool
		tooShort bool
	}{
		{"gguf", "GGUF\x03\x00\x00\x00", true, false},
		{"exactly the magic", "GGUF", true, false},
		{"lower case", "gguf\x03\x00\x00\x00", false, false},
		{"llama2.c", "\x40\x00\x00\x00\xac\x00\x00\x00", false, false},
		{"json", `{"model": {}}`, false, false},
		{"three bytes", "GGU", false, true},
		{"empty", "", false, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := HasMagic([]byte(tt.data)); got != tt.want {
				t.Errorf("HasMagic(%q) = %v, want %v", tt.data, got, tt.want)
			}
			path := filepath.Join(dir, tt.name)
			if err := os.WriteFile(path, []byte(tt.data), 0o644); err != nil {
				t.Fatal(err)
			}
			got, err := IsFile(path)
			short := errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
			if short != tt.tooShort || (err != nil && !short) {
				t.Fatalf("IsFile(%q): error %v, want too short = %v", tt.data, err, tt.tooShort)
			}
			if got != tt.want {
				t.Errorf("IsFile(%q) = %v, want %v", tt.data, got, tt.want)
			}
		})
	}
	if _, err := IsFile(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("IsFile of a missing file: %v, want os.ErrNotExist", err)
	}
}
