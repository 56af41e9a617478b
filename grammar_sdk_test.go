package glassbox_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"glassbox"
	"glassbox/internal/fixtures"
	"glassbox/models"
)

// grammarModels are the models constrained generation is tested on: a
// SentencePiece vocabulary (stories260K, 512 tokens) and a byte-level BPE one
// (the embedded default model, 2,048 tokens).
func grammarModels(t *testing.T) map[string]*glassbox.Model {
	t.Helper()
	out := map[string]*glassbox.Model{}
	def, err := glassbox.OpenBytes(models.DefaultName, models.Default, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { def.Close() })
	out["bpe"] = def
	spm, err := glassbox.Open(fixtures.Path(t, "gguf", "stories260K-f32.gguf"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { spm.Close() })
	out["spm"] = spm
	return out
}

func readTestGrammar(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("grammar", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// arithmeticValid is an independent recursive-descent check of
// grammar/testdata/arithmetic.gbnf's language.
func arithmeticValid(s string) bool {
	p := 0
	space := func() {
		if p < len(s) && s[p] == ' ' {
			p++
		}
	}
	var expr func() bool
	factor := func() bool {
		if p < len(s) && s[p] == '-' {
			p++
		}
		switch {
		case p < len(s) && s[p] >= '0' && s[p] <= '9':
			for p < len(s) && s[p] >= '0' && s[p] <= '9' {
				p++
			}
			return true
		case p < len(s) && s[p] >= 'a' && s[p] <= 'z':
			p++
			for p < len(s) && (s[p] >= 'a' && s[p] <= 'z' || s[p] >= '0' && s[p] <= '9' || s[p] == '_') {
				p++
			}
			return true
		case p < len(s) && s[p] == '(':
			p++
			space()
			if !expr() {
				return false
			}
			space()
			if p >= len(s) || s[p] != ')' {
				return false
			}
			p++
			return true
		}
		return false
	}
	binary := func(operand func() bool, ops string) func() bool {
		return func() bool {
			if !operand() {
				return false
			}
			for {
				save := p
				space()
				if p < len(s) && strings.IndexByte(ops, s[p]) >= 0 {
					p++
					space()
					if !operand() {
						return false
					}
					continue
				}
				p = save
				return true
			}
		}
	}
	term := binary(factor, "*/")
	expr = binary(term, "+-")
	return expr() && p == len(s)
}

var (
	listLine  = regexp.MustCompile(`^- [a-zA-Z]{1,10}[,.!?]?( [a-zA-Z]{1,10}[,.!?]?){0,5}$`)
	chessMove = `(([a-h]x)?[a-h][1-8](=[QRBN])?|[KQRBN][a-h]?[1-8]?x?[a-h][1-8]|O-O(-O)?)[+#]?`
	chessLine = regexp.MustCompile(`^1\. ` + chessMove + ` ` + chessMove + `( [2-9]\. ` + chessMove + ` ` + chessMove + `)?$`)
)

func listValid(s string) bool {
	if !strings.HasSuffix(s, "\n") {
		return false
	}
	lines := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
	if len(lines) < 1 || len(lines) > 4 {
		return false
	}
	for _, l := range lines {
		if !listLine.MatchString(l) {
			return false
		}
	}
	return true
}

// TestGrammarSampling samples 200 outputs per grammar and model at
// temperature 1 with different seeds and checks every one with a validator
// that does not use the grammar engine.
func TestGrammarSampling(t *testing.T) {
	if testing.Short() {
		t.Skip("samples 1,600 constrained generations")
	}
	tests := []struct {
		file   string
		prompt string
		valid  func(string) bool
	}{
		{"json-small.gbnf", "Once upon a time", func(s string) bool { return json.Valid([]byte(s)) }},
		{"arithmetic.gbnf", "Once upon a time", arithmeticValid},
		{"list.gbnf", "Lily had a list:", listValid},
		{"chess.gbnf", "The game began", chessLine.MatchString},
	}
	ms := grammarModels(t)
	for _, tt := range tests {
		src := readTestGrammar(t, tt.file)
		for _, name := range []string{"spm", "bpe"} {
			m := ms[name]
			t.Run(tt.file+"/"+name, func(t *testing.T) {
				lengths := 0
				for seed := range 200 {
					p := glassbox.SamplerParams{Temperature: 1, TopP: 1, RepeatPenalty: 1, Seed: uint64(seed)}
					if seed%2 == 1 {
						p = glassbox.DefaultSamplerParams()
						p.Temperature, p.Seed = 1, uint64(seed)
					}
					res, err := m.Generate(context.Background(), tt.prompt, glassbox.GenerateOptions{MaxTokens: 400, Sampler: p, Grammar: src})
					if err != nil {
						t.Fatalf("seed %d: %v", seed, err)
					}
					if res.FinishReason != glassbox.FinishStop {
						lengths++
						continue
					}
					if !tt.valid(res.Text) {
						t.Errorf("seed %d: invalid output %q", seed, res.Text)
					}
				}
				if lengths > 0 {
					t.Errorf("%d of 200 generations hit the token limit before the grammar completed", lengths)
				}
			})
		}
	}
}

func ExampleGenerateOptions_grammar() {
	m, err := glassbox.OpenBytes(models.DefaultName, models.Default, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer m.Close()
	res, err := m.Generate(context.Background(), "func main() {", glassbox.GenerateOptions{
		MaxTokens: 32,
		Grammar:   `root ::= " // " ("yes" | "no")`,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%q %s\n", res.Text, res.FinishReason)
	// Output: " // no" stop
}
