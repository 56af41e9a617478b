package main

import (
	"strings"
	"testing"

	"glassbox/internal/fixtures"
	"glassbox/internal/sysmem"
)

// TestContextBeyondMemory checks that every command that loads a model
// refuses a --ctx whose KV cache does not fit in the available memory, with
// the bytes needed and available, instead of dying in the allocator.
func TestContextBeyondMemory(t *testing.T) {
	defer sysmem.Pretend(sysmem.Memory{Bytes: 256 << 20, Source: "test"})()
	model := fixtures.Path(t, "gguf", "stories260K-f32.gguf")
	for _, c := range []struct {
		name string
		run  func(args ...string) error
	}{
		{"run", func(a ...string) error { _, _, err := execute(t, newRunCmd(), "", append(a, "Once")...); return err }},
		{"chat", func(a ...string) error { _, _, err := execute(t, newChatCmd(), "hello\n", a...); return err }},
		{"dissect", func(a ...string) error {
			_, _, err := execute(t, newDissectCmd(), "", append(a, "Once")...)
			return err
		}},
		{"explain", func(a ...string) error {
			_, _, err := execute(t, newExplainCmd(), "", append(a, "Once")...)
			return err
		}},
	} {
		for _, model := range []string{model, ""} { // a file, and the embedded model
			args := []string{"--ctx", "4194304"}
			if model != "" {
				args = append(args, "-m", model)
			}
			err := c.run(args...)
			if err == nil {
				t.Fatalf("%s %v: no error", c.name, args)
			}
			for _, want := range []string{"not enough memory", "4194304 tokens", "268435456 bytes", "KV cache", "--ctx"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("%s %v: error %q lacks %q", c.name, args, err, want)
				}
			}
		}
	}
}
