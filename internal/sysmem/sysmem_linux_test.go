//go:build linux

package sysmem

import (
	"os"
	"path/filepath"
	"testing"
)

func TestMemAvailable(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, text string
		want       uint64
		ok         bool
	}{
		{"present", "MemTotal:       32000000 kB\nMemFree:         1000000 kB\nMemAvailable:   24170812 kB\n", 24170812 * 1024, true},
		{"absent", "MemTotal:       32000000 kB\nMemFree:         1000000 kB\n", 0, false},
		{"garbled", "MemAvailable:   lots kB\n", 0, false},
		{"empty value", "MemAvailable:\n", 0, false},
	} {
		p := filepath.Join(dir, tc.name)
		if err := os.WriteFile(p, []byte(tc.text), 0o644); err != nil {
			t.Fatal(err)
		}
		m, ok := memAvailable(p)
		if ok != tc.ok || m.Bytes != tc.want {
			t.Errorf("%s: got %d, %v; want %d, %v", tc.name, m.Bytes, ok, tc.want, tc.ok)
		}
	}
	if _, ok := memAvailable(filepath.Join(dir, "missing")); ok {
		t.Error("a missing file gave a figure")
	}
}

func TestCgroupRoom(t *testing.T) {
	write := func(dir, name, s string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	v2 := t.TempDir()
	write(v2, "memory.max", "1073741824\n")
	write(v2, "memory.current", "73741824\n")
	if room, ok := cgroupRoom(v2); !ok || room != 1000000000 {
		t.Errorf("v2 limit: %d, %v; want 1000000000, true", room, ok)
	}
	unlimited := t.TempDir()
	write(unlimited, "memory.max", "max\n")
	write(unlimited, "memory.current", "73741824\n")
	if room, ok := cgroupRoom(unlimited); ok {
		t.Errorf("v2 without a limit gave %d", room)
	}
	v1 := t.TempDir()
	write(v1, "memory/memory.limit_in_bytes", "2000\n")
	write(v1, "memory/memory.usage_in_bytes", "3000\n")
	if room, ok := cgroupRoom(v1); !ok || room != 0 {
		t.Errorf("v1 over the limit: %d, %v; want 0, true", room, ok)
	}
	v1none := t.TempDir()
	write(v1none, "memory/memory.limit_in_bytes", "9223372036854771712\n")
	write(v1none, "memory/memory.usage_in_bytes", "3000\n")
	if room, ok := cgroupRoom(v1none); ok {
		t.Errorf("v1 without a limit gave %d", room)
	}
}

func TestAvailable(t *testing.T) {
	m, ok := Available()
	if !ok || m.Bytes == 0 || m.Source == "" {
		t.Fatalf("Available() = %+v, %v on Linux", m, ok)
	}
}

func TestPretend(t *testing.T) {
	restore := Pretend(Memory{Bytes: 1234, Source: "test"})
	if m, ok := Available(); !ok || m.Bytes != 1234 || m.Source != "test" {
		t.Errorf("while pretending: %+v, %v", m, ok)
	}
	restore()
	if m, ok := Available(); !ok || m.Bytes == 1234 {
		t.Errorf("after restore: %+v, %v", m, ok)
	}
}
