package infer_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"glassbox"
	"glassbox/infer"
	"glassbox/internal/fixtures"
	"glassbox/trace"
)

// TestGenerateStopsWithPartialResult: a generation that ends with an error
// after it began (a cancelled context, a failing OnToken callback or trace
// Emit) returns the result so far, whose Text is the text of its tokens.
func TestGenerateStopsWithPartialResult(t *testing.T) {
	m, err := glassbox.Open(fixtures.Path(t, "llama2c", "stories260K.bin"), &glassbox.Options{Context: 128})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	failure := errors.New("client went away")
	tests := []struct {
		name string
		// opts returns the options of a generation that fails after n tokens,
		// and the error it should fail with
		opts func(n int) (context.Context, glassbox.GenerateOptions, error)
	}{
		{"context cancelled", func(n int) (context.Context, glassbox.GenerateOptions, error) {
			ctx, cancel := context.WithCancel(context.Background())
			seen := 0
			return ctx, glassbox.GenerateOptions{OnToken: func(infer.Token) error {
				if seen++; seen == n {
					cancel()
				}
				return nil
			}}, context.Canceled
		}},
		{"OnToken fails", func(n int) (context.Context, glassbox.GenerateOptions, error) {
			seen := 0
			return context.Background(), glassbox.GenerateOptions{OnToken: func(infer.Token) error {
				if seen++; seen == n {
					return failure
				}
				return nil
			}}, failure
		}},
		{"trace Emit fails", func(n int) (context.Context, glassbox.GenerateOptions, error) {
			steps := 0
			return context.Background(), glassbox.GenerateOptions{Trace: &infer.Tracing{Options: trace.Options{Top: 1}, Emit: func(ev trace.Event) error {
				if ev.Type == trace.TypeStep {
					if steps++; steps == n {
						return failure
					}
				}
				return nil
			}}}, failure
		}},
	}
	const n = 6
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, opts, want := tt.opts(n)
			opts.MaxTokens = 20
			res, err := m.Generate(ctx, "Once upon a time", opts)
			if !errors.Is(err, want) {
				t.Fatalf("error %v, want %v", err, want)
			}
			if res == nil || len(res.IDs) != n || len(res.Tokens) != n {
				t.Fatalf("result %+v, want %d tokens", res, n)
			}
			var text strings.Builder
			for _, tk := range res.Tokens {
				text.WriteString(tk.Text)
			}
			if res.Text == "" || res.Text != text.String() {
				t.Errorf("Text %q, the tokens' text %q", res.Text, text.String())
			}
		})
	}
}
