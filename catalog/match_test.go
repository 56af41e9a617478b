package catalog

import (
	"strings"
	"testing"
)

func TestMatch(t *testing.T) {
	c, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		id   Identity
		want string // catalog id, "" for none
		how  string
	}{
		{"store name", Identity{Repo: "hf.co/bartowski/Llama-3.2-1B-Instruct-GGUF:Q4_K_M"}, "llama-3.2-1b-instruct", MatchRepo},
		{"repo id", Identity{Repo: "Qwen/Qwen2.5-0.5B-Instruct-GGUF"}, "qwen2.5-0.5b-instruct", MatchRepo},
		{"repo url, any case", Identity{Repo: "https://huggingface.co/qwen/qwen3-0.6b"}, "qwen3-0.6b", MatchRepo},
		{"publisher's repo", Identity{Repo: "HuggingFaceTB/SmolLM2-360M-Instruct"}, "smollm2-360m-instruct", MatchRepo},
		{"unknown uploader, known name", Identity{Repo: "someone/SmolLM2-135M-Instruct-GGUF"}, "smollm2-135m-instruct", MatchRepo},
		{"file name", Identity{Files: []string{"/models/Qwen2.5-Coder-1.5B-Instruct-Q4_K_M.gguf"}}, "qwen2.5-coder-1.5b-instruct", MatchFile},
		{"lower-case file, dot quant", Identity{Files: []string{"tinyllama-1.1b-chat-v1.0.Q8_0.gguf"}}, "tinyllama-1.1b-chat-v1.0", MatchFile},
		{"split file", Identity{Files: []string{"Qwen2.5-7B-Instruct-Q8_0-00001-of-00003.gguf"}}, "qwen2.5-7b-instruct", MatchFile},
		{"unsloth dynamic quant", Identity{Files: []string{"Qwen3-1.7B-UD-Q4_K_XL.gguf"}}, "qwen3-1.7b", MatchFile},
		{"bartowski's owner prefix", Identity{Files: []string{"microsoft_Phi-4-mini-instruct-IQ4_XS.gguf"}}, "phi-4-mini-instruct", MatchFile},
		{"meta prefix", Identity{Files: []string{"Meta-Llama-3.1-8B-Instruct-Q4_K_M.gguf"}}, "llama-3.1-8b-instruct", MatchFile},
		{"f16 file", Identity{Files: []string{"gemma-3-1b-it-f16.gguf"}}, "gemma-3-1b-it", MatchFile},
		{"endpoint model name", Identity{Files: []string{"qwen2.5-1.5b-instruct"}}, "qwen2.5-1.5b-instruct", MatchFile},
		{"general.name", Identity{Files: []string{"model.gguf"}, Names: []string{"Qwen2.5 0.5B Instruct"}}, "qwen2.5-0.5b-instruct", MatchGeneral},
		{"general.basename-size-finetune", Identity{Names: []string{"", "OLMo-2-0425-1B-Instruct"}}, "olmo-2-0425-1b-instruct", MatchGeneral},
		{"the repository wins over the file", Identity{Repo: "Qwen/Qwen3-4B-GGUF", Files: []string{"Qwen3-8B-Q4_K_M.gguf"}}, "qwen3-4b", MatchRepo},
		// no prefix matches: a base model is not its instruct version
		{"base model", Identity{Files: []string{"Qwen2.5-0.5B-Q4_K_M.gguf"}}, "", ""},
		{"fine-tune", Identity{Files: []string{"Qwen2.5-0.5B-Instruct-abliterated-Q4_K_M.gguf"}}, "", ""},
		{"other model", Identity{Repo: "hf.co/foo/bar", Files: []string{"glassbox-go-1m.f32.gguf"}, Names: []string{"glassbox-go-1m"}}, "", ""},
		{"not hugging face", Identity{Repo: "https://example.org/Qwen/Qwen3-0.6B"}, "", ""},
		{"nothing", Identity{}, "", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m, how := c.Match(tt.id)
			got := ""
			if m != nil {
				got = m.ID
			}
			if got != tt.want || how != tt.how {
				t.Errorf("Match(%+v) = %q by %q, want %q by %q", tt.id, got, how, tt.want, tt.how)
			}
		})
	}
}

// TestMatchAmbiguous: a name that two entries share matches neither.
func TestMatchAmbiguous(t *testing.T) {
	c := &Catalog{Models: []Model{
		{ID: "a-1b", Name: "Tiny 1B", Repo: "x/Tiny-1B"},
		{ID: "b-1b", Name: "Tiny 1B", Repo: "y/Other"},
	}}
	if m, _ := c.Match(Identity{Names: []string{"Tiny 1B"}}); m != nil {
		t.Errorf("ambiguous name matched %s", m.ID)
	}
	if m, _ := c.Match(Identity{Repo: "x/Tiny-1B"}); m == nil || m.ID != "a-1b" {
		t.Errorf("the repository should still decide: %v", m)
	}
}

func TestNormalizeName(t *testing.T) {
	for in, want := range map[string]string{
		"Qwen2.5-0.5B-Instruct-Q4_K_M.gguf": "qwen2.5-0.5b-instruct",
		"Qwen2.5 0.5B Instruct":             "qwen2.5-0.5b-instruct",
		"Qwen2.5-0.5B-Instruct-GGUF":        "qwen2.5-0.5b-instruct",
		"llama-3.2-1b-instruct.IQ3_XXS":     "llama-3.2-1b-instruct",
		"model-BF16-00002-of-00002.gguf":    "model",
		"Phi-3-mini-4k-instruct-q4.gguf":    "phi-3-mini-4k-instruct",
		"qwen3":                             "qwen3",
		"  __ ":                             "",
	} {
		if got := NormalizeName(in); got != want {
			t.Errorf("NormalizeName(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzMatch(f *testing.F) {
	c, err := Load()
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{"hf.co/Qwen/Qwen3-0.6B-GGUF:Q8_0", "https://huggingface.co/a/b", "x.gguf", "Qwen2.5 0.5B Instruct", "::", "http://[::1", "a/b/c:d"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if n := NormalizeName(s); strings.ContainsAny(n, "_ ") || strings.HasPrefix(n, "-") || strings.HasSuffix(n, "-") {
			t.Errorf("NormalizeName(%q) = %q", s, n)
		}
		if r := repoID(s); r != "" && strings.Count(r, "/") != 1 {
			t.Errorf("repoID(%q) = %q", s, r)
		}
		c.Match(Identity{Repo: s, Files: []string{s}, Names: []string{s}})
	})
}
