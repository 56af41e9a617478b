package chat

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"glassbox/internal/fixtures"
)

// goldenCase is one entry of testdata/cases.json; testdata/gen_golden.cjs
// rendered each with @huggingface/jinja into testdata/golden/<name>.txt (or
// .err when the template raised).
type goldenCase struct {
	Name                string         `json:"name"`
	Template            string         `json:"template"`
	Messages            []Message      `json:"messages"`
	AddGenerationPrompt bool           `json:"add_generation_prompt"`
	Extra               map[string]any `json:"extra"`
	Now                 string         `json:"now"`
	Tools               []Tool         `json:"tools"`
}

// loadFixtureTemplate reads a fixture tokenizer_config.json.
func loadFixtureTemplate(t *testing.T, model string) (*Template, Options) {
	t.Helper()
	data, err := os.ReadFile(fixtures.Path(t, "vocab", "tokenizer-json", model, "tokenizer_config.json"))
	if err != nil {
		t.Fatal(err)
	}
	tmpl, opt, err := FromTokenizerConfig(data)
	if err != nil {
		t.Fatalf("%s: %v", model, err)
	}
	return tmpl, opt
}

func TestGoldenRenders(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("testdata", "cases.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cases []goldenCase
	if err := json.Unmarshal(raw, &cases); err != nil {
		t.Fatalf("testdata/cases.json: %v", err)
	}
	if len(cases) < 20 {
		t.Fatalf("only %d cases in testdata/cases.json", len(cases))
	}
	for _, tc := range cases {
		t.Run(tc.Name, func(t *testing.T) {
			var tmpl *Template
			var opt Options
			switch tc.Template {
			case "llama3", "qwen3":
				tmpl, opt = loadFixtureTemplate(t, tc.Template)
			case "gptoss":
				tmpl = harmonyTemplate(t)
			case "dated":
				_, opt = loadFixtureTemplate(t, "llama3")
				src, err := os.ReadFile(filepath.Join("testdata", "dated.jinja"))
				if err != nil {
					t.Fatal(err)
				}
				if tmpl, err = Parse(string(src)); err != nil {
					t.Fatal(err)
				}
			default:
				t.Fatalf("unknown template %q", tc.Template)
			}
			opt.AddGenerationPrompt = tc.AddGenerationPrompt
			opt.Extra = tc.Extra
			opt.Tools = tc.Tools
			if tc.Now != "" {
				now, err := time.Parse(time.RFC3339, tc.Now)
				if err != nil {
					t.Fatal(err)
				}
				opt.Now = now
			}
			got, err := tmpl.Render(tc.Messages, opt)
			base := filepath.Join("testdata", "golden", tc.Name)
			if wantErr, rerr := os.ReadFile(base + ".err"); rerr == nil {
				var raised *RaiseError
				if !errors.As(err, &raised) || raised.Message != string(wantErr) {
					t.Fatalf("got output %q, error %v; want the template to raise %q", got, err, wantErr)
				}
				return
			}
			want, err2 := os.ReadFile(base + ".txt")
			if err2 != nil {
				t.Fatalf("no golden file: %v", err2)
			}
			if err != nil {
				t.Fatalf("Render: %v", err)
			}
			if got != string(want) {
				t.Errorf("render differs from @huggingface/jinja at byte %d:\ngot:  %q\nwant: %q", firstDiff(got, string(want)), got, want)
			}
		})
	}
}

func firstDiff(a, b string) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

func TestFixtureTokens(t *testing.T) {
	tests := []struct{ model, bos, eos, contains string }{
		{"llama3", "<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>"},
		{"qwen3", "", "<|im_end|>", "<|im_start|>"},
	}
	for _, tc := range tests {
		t.Run(tc.model, func(t *testing.T) {
			tmpl, opt := loadFixtureTemplate(t, tc.model)
			if opt.BOSToken != tc.bos || opt.EOSToken != tc.eos || opt.AddGenerationPrompt {
				t.Errorf("options %+v, want bos %q eos %q", opt, tc.bos, tc.eos)
			}
			if !strings.Contains(tmpl.Source(), tc.contains) {
				t.Errorf("template source lacks %q", tc.contains)
			}
		})
	}
}

// harmonyTemplate parses testdata/harmony.jinja, a harmony-format template
// written for these tests with the constructs gpt-oss's own template uses
// (a recursive macro over the tools' JSON schemas, namespace(), tojson,
// strftime_now, raise_exception).
func harmonyTemplate(t *testing.T) *Template {
	t.Helper()
	src, err := os.ReadFile(filepath.Join("testdata", "harmony.jinja"))
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := Parse(string(src))
	if err != nil {
		t.Fatal(err)
	}
	return tmpl
}

// harmonyDate is the date of the harmony renders of harmony_test.go.
var harmonyDate = time.Date(2025, 8, 5, 10, 0, 0, 0, time.UTC)
