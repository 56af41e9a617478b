package glassbox_test

import (
	"errors"
	"strconv"
	"strings"
	"testing"

	"glassbox"
	"glassbox/internal/fixtures"
	"glassbox/internal/sysmem"
	"glassbox/models"
)

// TestKVCacheBytes checks the SDK's KV-cache size: layers × context ×
// (key + value width) × bytes per element.
func TestKVCacheBytes(t *testing.T) {
	for _, tc := range []struct {
		opts *glassbox.Options
		want int64
	}{
		// stories260K: 5 layers, 4 KV heads of 8, context 128 in this file
		{nil, 5 * 128 * (32 + 32) * 2},
		{&glassbox.Options{KVCacheF32: true}, 5 * 128 * (32 + 32) * 4},
		{&glassbox.Options{Context: 100}, 5 * 100 * (32 + 32) * 2},
	} {
		m := open(t, tc.opts, "gguf", "stories260K-f32.gguf")
		if got := m.KVCacheBytes(); got != tc.want {
			t.Errorf("%+v: KVCacheBytes %d, want %d", tc.opts, got, tc.want)
		}
		if s := m.SessionBytes(); s <= tc.want {
			t.Errorf("%+v: SessionBytes %d is not more than the KV cache %d", tc.opts, s, tc.want)
		}
	}
}

// TestOpenRefusesContextBeyondMemory checks that a context whose cache does
// not fit in the available memory is refused when the model is opened, with
// the bytes needed and available, instead of crashing in the allocator.
func TestOpenRefusesContextBeyondMemory(t *testing.T) {
	const avail = 64 << 20
	defer sysmem.Pretend(sysmem.Memory{Bytes: avail, Source: "test"})()
	path := fixtures.Path(t, "gguf", "stories260K-f32.gguf")
	for _, open := range []struct {
		name string
		fn   func(opts *glassbox.Options) (*glassbox.Model, error)
	}{
		{"Open", func(o *glassbox.Options) (*glassbox.Model, error) { return glassbox.Open(path, o) }},
		{"OpenBytes", func(o *glassbox.Options) (*glassbox.Model, error) {
			return glassbox.OpenBytes(models.DefaultName, models.Default, o)
		}},
	} {
		// the largest accepted context: a cache of several GiB for these models
		m, err := open.fn(&glassbox.Options{Context: 1 << 22})
		if !errors.Is(err, glassbox.ErrMemory) {
			if m != nil {
				m.Close()
			}
			t.Fatalf("%s: error %v, want ErrMemory", open.name, err)
		}
		for _, want := range []string{"4194304 tokens", strconv.Itoa(avail) + " bytes", "KV cache"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%s: error %q lacks %q", open.name, err, want)
			}
		}
		// what fits opens
		m, err = open.fn(&glassbox.Options{Context: 256})
		if err != nil {
			t.Fatalf("%s: context 256 with %d bytes: %v", open.name, avail, err)
		}
		m.Close()
	}
}
