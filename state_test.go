package glassbox_test

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"glassbox"
	"glassbox/internal/fixtures"
	"glassbox/models"
)

// stateHeaderBytes is the size of a state file's fixed header.
const stateHeaderBytes = 8 + 4 + 32 + 8*4

// stateCases are the cache layouts a state is saved and restored in.
var stateCases = []struct {
	name, file string
	opts       glassbox.Options
}{
	{"f16", "stories260K-f32.gguf", glassbox.Options{Context: 96, Threads: 1}},
	{"f32", "stories260K-f32.gguf", glassbox.Options{Context: 96, Threads: 1, KVCacheF32: true}},
	// quantized keys need heads of 32 or more
	{"q8_0 keys", "random-llama-d256-Q4_0.gguf", glassbox.Options{Context: 96, Threads: 1, KeyCacheType: glassbox.KeyCacheQ8_0}},
	{"q4_0 keys, f32 values", "random-llama-d256-Q4_0.gguf", glassbox.Options{Context: 96, Threads: 1, KeyCacheType: glassbox.KeyCacheQ4_0, KVCacheF32: true}},
}

func newSession(t *testing.T, m *glassbox.Model) *glassbox.Session {
	t.Helper()
	s, err := m.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestSessionStateRoundTrip: a state saved after a generation and restored
// into a new session (of the same model opened again, as after a restart)
// lets a continuation reuse every saved token, and the continuation is the
// one an unsaved session gives.
func TestSessionStateRoundTrip(t *testing.T) {
	for _, c := range stateCases {
		t.Run(c.name, func(t *testing.T) {
			path := fixtures.Path(t, "gguf", c.file)
			m, err := glassbox.Open(path, &c.opts)
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			ctx := context.Background()
			prompt := m.Encode("Once upon a time", glassbox.GenerateOptions{})
			orig := newSession(t, m)
			first, err := orig.Generate(ctx, glassbox.Request{Prompt: prompt, MaxTokens: 12})
			if err != nil {
				t.Fatal(err)
			}
			held := orig.Tokens()
			var buf bytes.Buffer
			n, err := orig.SaveState(&buf)
			if err != nil || n != len(held) || n < len(prompt)+10 {
				t.Fatalf("saved %d tokens (%v), the cache holds %d", n, err, len(held))
			}
			// the continuation: the conversation so far and more text
			next := append(append(slices.Clone(first.PromptIDs), first.IDs...), m.Encode(" and then", glassbox.GenerateOptions{NoBOS: true})...)
			want, err := orig.Generate(ctx, glassbox.Request{Prompt: next, MaxTokens: 16})
			if err != nil {
				t.Fatal(err)
			}

			m2, err := glassbox.Open(path, &c.opts)
			if err != nil {
				t.Fatal(err)
			}
			defer m2.Close()
			restored := newSession(t, m2)
			got, err := restored.LoadState(bytes.NewReader(buf.Bytes()))
			if err != nil || got != n || !slices.Equal(restored.Tokens(), held) {
				t.Fatalf("restored %d tokens (%v), want %d", got, err, n)
			}
			res, err := restored.Generate(ctx, glassbox.Request{Prompt: next, MaxTokens: 16})
			if err != nil {
				t.Fatal(err)
			}
			if res.Timings.CachedTokens != n {
				t.Errorf("the continuation reused %d tokens, want the %d restored", res.Timings.CachedTokens, n)
			}
			if !slices.Equal(res.IDs, want.IDs) || res.Text != want.Text {
				t.Errorf("restored continuation %q, unsaved %q", res.Text, want.Text)
			}
		})
	}
}

// TestSessionStateMismatch: another model's state, another cache type, a
// state longer than the context, and damaged files are clear errors that
// leave the session usable.
func TestSessionStateMismatch(t *testing.T) {
	path := fixtures.Path(t, "gguf", "stories260K-f32.gguf")
	m, err := glassbox.Open(path, &glassbox.Options{Context: 96, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	ctx := context.Background()
	s := newSession(t, m)
	if _, err := s.Generate(ctx, glassbox.Request{Prompt: m.Encode("Once upon a time", glassbox.GenerateOptions{}), MaxTokens: 40}); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	n, err := s.SaveState(&buf)
	if err != nil {
		t.Fatal(err)
	}
	state := buf.Bytes()

	other, err := glassbox.OpenBytes(models.DefaultName, models.Default, &glassbox.Options{Context: 96, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	f32, err := glassbox.Open(path, &glassbox.Options{Context: 96, Threads: 1, KVCacheF32: true})
	if err != nil {
		t.Fatal(err)
	}
	defer f32.Close()
	small, err := glassbox.Open(path, &glassbox.Options{Context: n - 1, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer small.Close()
	for _, c := range []struct {
		name string
		m    *glassbox.Model
		want string
	}{
		{"another model", other, "saved from another model"},
		{"another cache type", f32, "F16 key and F16 value cache, this session has F32 keys and F32 values"},
		{"a smaller context", small, "this session's context holds"},
	} {
		sess := newSession(t, c.m)
		_, err := sess.LoadState(bytes.NewReader(state))
		if !errors.Is(err, glassbox.ErrStateMismatch) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want ErrStateMismatch with %q", c.name, err, c.want)
		}
	}
	fresh := func() *glassbox.Session { return newSession(t, m) }
	for _, c := range []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "header is cut short"},
		{"not a state", []byte(strings.Repeat("GGUF", 40)), "not a glassbox session state"},
		{"version", append(append([]byte("GBXSTATE"), 9, 0, 0, 0), state[12:]...), "version 9 is not supported"},
		{"truncated tokens", state[:stateHeaderBytes+2], "tokens are cut short"},
		{"truncated cache", state[:len(state)-7], "read KV"},
		{"trailing bytes", append(slices.Clone(state), 0), "bytes follow the cache"},
	} {
		sess := fresh()
		if _, err := sess.LoadState(bytes.NewReader(c.data)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
		// the session still generates, from scratch
		res, err := sess.Generate(ctx, glassbox.Request{Prompt: m.Encode("Once", glassbox.GenerateOptions{}), MaxTokens: 2})
		if err != nil || res.Timings.CachedTokens != 0 {
			t.Errorf("%s: then %v, %d cached", c.name, err, res.Timings.CachedTokens)
		}
	}
	// every cut of the file fails cleanly
	for cut := 0; cut < len(state); cut += 97 {
		if _, err := fresh().LoadState(bytes.NewReader(state[:cut])); err == nil {
			t.Fatalf("a state cut at %d of %d bytes loaded", cut, len(state))
		}
	}
}

// FuzzLoadState: whatever the bytes, LoadState returns an error or a state
// whose tokens are in the vocabulary, and never panics.
func FuzzLoadState(f *testing.F) {
	m, err := glassbox.Open(fixtures.Path(f, "gguf", "stories260K-f32.gguf"), &glassbox.Options{Context: 16, Threads: 1})
	if err != nil {
		f.Fatal(err)
	}
	defer m.Close()
	s, err := m.NewSession()
	if err != nil {
		f.Fatal(err)
	}
	if _, err := s.Generate(context.Background(), glassbox.Request{Prompt: m.Encode("Once", glassbox.GenerateOptions{}), MaxTokens: 3}); err != nil {
		f.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := s.SaveState(&buf); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	f.Add(buf.Bytes()[:90])
	f.Add([]byte("GBXSTATE"))
	vocab := m.Tokenizer().VocabSize()
	f.Fuzz(func(t *testing.T, data []byte) {
		n, err := s.LoadState(bytes.NewReader(data))
		if err != nil {
			return
		}
		toks := s.Tokens()
		if n != len(toks) || n > 16 {
			t.Fatalf("%d tokens restored, the session holds %d", n, len(toks))
		}
		for _, id := range toks {
			if id < 0 || id >= vocab {
				t.Fatalf("token %d outside the vocabulary", id)
			}
		}
	})
}
