package tokenizer

import (
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"

	"glassbox/internal/fixtures"
)

// vocabCase is one llama.cpp tokenizer test text and its reference ids.
type vocabCase struct {
	text string
	want []int
}

const vocabSep = "\n__ggml_vocab_test__\n"

// readVocabCases reads vocab/<name>.inp and .out: every text is followed by the
// separator (the file ends with one), and .out holds one line of ids per text.
func readVocabCases(t testing.TB, name string) []vocabCase {
	t.Helper()
	inp, err := os.ReadFile(fixtures.Path(t, "vocab", name+".inp"))
	if err != nil {
		t.Fatal(err)
	}
	out, err := os.ReadFile(fixtures.Path(t, "vocab", name+".out"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(inp)
	if !strings.HasSuffix(s, vocabSep) {
		t.Fatalf("%s.inp does not end with the separator", name)
	}
	texts := strings.Split(strings.TrimSuffix(s, vocabSep), vocabSep)
	lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	if len(texts) != len(lines) {
		t.Fatalf("%s: %d texts but %d lines of ids", name, len(texts), len(lines))
	}
	cases := make([]vocabCase, len(texts))
	for i, text := range texts {
		cases[i].text = text
		cases[i].want = []int{}
		for _, f := range strings.Fields(lines[i]) {
			id, err := strconv.Atoi(f)
			if err != nil {
				t.Fatalf("%s.out line %d: %v", name, i+1, err)
			}
			cases[i].want = append(cases[i].want, id)
		}
	}
	return cases
}

// vocabFixtures pairs every .inp/.out set with the tokenizer it was made with.
var vocabFixtures = []struct {
	name string   // vocab/<name>.inp
	file []string // tokenizer file below the fixtures folder
}{
	{"ggml-vocab-llama-spm.gguf", []string{"vocab", "ggml-vocab-llama-spm.gguf"}},
	{"ggml-vocab-phi-3.gguf", []string{"vocab", "ggml-vocab-phi-3.gguf"}},
	{"ggml-vocab-bert-bge.gguf", []string{"vocab", "ggml-vocab-bert-bge.gguf"}},
	{"ggml-vocab-gpt-2.gguf", []string{"vocab", "ggml-vocab-gpt-2.gguf"}},
	{"ggml-vocab-starcoder.gguf", []string{"vocab", "ggml-vocab-starcoder.gguf"}},
	{"ggml-vocab-falcon.gguf", []string{"vocab", "ggml-vocab-falcon.gguf"}},
	{"ggml-vocab-mpt.gguf", []string{"vocab", "ggml-vocab-mpt.gguf"}},
	{"ggml-vocab-refact.gguf", []string{"vocab", "ggml-vocab-refact.gguf"}},
	{"ggml-vocab-deepseek-coder.gguf", []string{"vocab", "ggml-vocab-deepseek-coder.gguf"}},
	{"ggml-vocab-deepseek-llm.gguf", []string{"vocab", "ggml-vocab-deepseek-llm.gguf"}},
	{"ggml-vocab-llama-bpe.gguf", []string{"vocab", "tokenizer-json", "llama3", "tokenizer.json"}},
	{"ggml-vocab-qwen2.gguf", []string{"vocab", "tokenizer-json", "qwen3", "tokenizer.json"}},
	{"ggml-vocab-deepseek-r1-qwen.gguf", []string{"vocab", "tokenizer-json", "qwen3", "tokenizer.json"}},
}

var (
	tokCacheMu sync.Mutex
	tokCache   = map[string]*Tokenizer{}
)

// loadFixture loads (once per test binary) the tokenizer at a fixture path.
func loadFixture(t testing.TB, elem ...string) *Tokenizer {
	t.Helper()
	path := fixtures.Path(t, elem...)
	tokCacheMu.Lock()
	defer tokCacheMu.Unlock()
	if tk, ok := tokCache[path]; ok {
		return tk
	}
	tk, err := LoadFile(path)
	if err != nil {
		t.Fatalf("LoadFile(%s): %v", path, err)
	}
	tokCache[path] = tk
	return tk
}

func equalIDs(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestVocabFixtures(t *testing.T) {
	for _, vf := range vocabFixtures {
		t.Run(vf.name, func(t *testing.T) {
			cases := readVocabCases(t, vf.name)
			tk := loadFixture(t, vf.file...)
			pass := 0
			for i, c := range cases {
				got := tk.Encode(c.text, EncodeOptions{})
				if equalIDs(got, c.want) {
					pass++
					continue
				}
				t.Errorf("text %d %q:\n got %v\nwant %v", i, c.text, got, c.want)
			}
			t.Logf("%s: %d/%d texts reproduce exactly", vf.name, pass, len(cases))
		})
	}
}
