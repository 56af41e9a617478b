package mmap

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func TestPages(t *testing.T) {
	const ps = 4096
	m := &Map{Data: make([]byte, 5*ps), Mapped: true}
	for _, c := range []struct {
		name   string
		b      []byte
		lo, hi int
		ok     bool
	}{
		{"whole", m.Data, 0, 5 * ps, true},
		{"aligned", m.Data[ps : 3*ps], ps, 3 * ps, true},
		{"unaligned ends", m.Data[100 : 3*ps+7], ps, 3 * ps, true},
		{"inside one page", m.Data[ps+1 : 2*ps-1], 0, 0, false},
		{"empty", m.Data[ps:ps], 0, 0, false},
		{"outside", make([]byte, 3*ps), 0, 0, false},
	} {
		lo, hi, ok := m.pages(c.b, ps)
		if ok != c.ok || (ok && (lo != c.lo || hi != c.hi)) {
			t.Errorf("%s: pages = [%d, %d) %v, want [%d, %d) %v", c.name, lo, hi, ok, c.lo, c.hi, c.ok)
		}
	}
	if _, _, ok := (&Map{Data: m.Data}).pages(m.Data, ps); ok {
		t.Error("a heap copy (not mapped) has pages to release")
	}
}

// TestReleaseKeepsData checks that released pages read back the file's bytes.
func TestReleaseKeepsData(t *testing.T) {
	want := make([]byte, 5*os.Getpagesize()+123)
	for i := range want {
		want[i] = byte(i * 7)
	}
	path := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(path, want, 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if !bytes.Equal(m.Data, want) {
		t.Fatal("mapped data differs from the file")
	}
	if err := m.Release(m.Data[10 : len(m.Data)-10]); err != nil {
		t.Fatal(err)
	}
	if err := m.Release(make([]byte, 10)); err != nil {
		t.Fatalf("releasing bytes outside the mapping: %v", err)
	}
	if !bytes.Equal(m.Data, want) {
		t.Fatal("data differs from the file after Release")
	}
}
