package main

import (
	"io"
	"os"
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

// TestContextBeyondTraining checks the warning on stderr when --ctx is
// larger than the context the model was trained on, and its absence otherwise.
func TestContextBeyondTraining(t *testing.T) {
	model := fixtures.Path(t, "gguf", "stories260K-f32.gguf") // trained on 128
	for _, tc := range []struct {
		ctx  string
		warn bool
	}{{"256", true}, {"128", false}, {"64", false}, {"0", false}} {
		stderr := captureStderr(t, func() {
			if _, _, err := execute(t, newRunCmd(), "", "-m", model, "--ctx", tc.ctx, "-n", "2", "Once"); err != nil {
				t.Fatal(err)
			}
		})
		want := "glassbox: warning: --ctx 256 is beyond the 128 tokens stories260K-f32 was trained on"
		if got := strings.Contains(stderr, want); got != tc.warn {
			t.Errorf("--ctx %s: stderr %q, want the warning: %v", tc.ctx, stderr, tc.warn)
		}
	}
}

// captureStderr returns what fn writes to os.Stderr.
func captureStderr(t *testing.T, fn func()) string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	old := os.Stderr
	os.Stderr = w
	done := make(chan string)
	go func() {
		b, _ := io.ReadAll(r)
		done <- string(b)
	}()
	func() {
		defer func() {
			os.Stderr = old
			w.Close()
		}()
		fn()
	}()
	return <-done
}
