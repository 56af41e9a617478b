package bpe

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"

	"glassbox/internal/fixtures"
)

// vocabCase is one llama.cpp tokenizer test: a text and its expected ids.
type vocabCase struct {
	text string
	ids  []int
}

// readVocabCases reads ggml-vocab-NAME.gguf.inp/.out.
func readVocabCases(t testing.TB, name string) []vocabCase {
	t.Helper()
	inp, err := os.ReadFile(fixtures.Path(t, "vocab", "ggml-vocab-"+name+".gguf.inp"))
	if err != nil {
		t.Fatal(err)
	}
	out, err := os.ReadFile(fixtures.Path(t, "vocab", "ggml-vocab-"+name+".gguf.out"))
	if err != nil {
		t.Fatal(err)
	}
	texts := strings.Split(string(inp), "\n__ggml_vocab_test__\n")
	if texts[len(texts)-1] == "" {
		texts = texts[:len(texts)-1]
	}
	lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	if len(lines) != len(texts) {
		t.Fatalf("%s: %d texts but %d id lines", name, len(texts), len(lines))
	}
	cases := make([]vocabCase, len(texts))
	for i, txt := range texts {
		var ids []int
		for _, f := range strings.Fields(lines[i]) {
			id, err := strconv.Atoi(f)
			if err != nil {
				t.Fatalf("%s.out line %d: %v", name, i+1, err)
			}
			ids = append(ids, id)
		}
		cases[i] = vocabCase{txt, ids}
	}
	return cases
}

// tokJSON is what the tests read from a tokenizer.json.
type tokJSON struct {
	vocab        map[string]int
	merges       [][2]string
	pre          json.RawMessage
	ignoreMerges bool
}

func readTokenizerJSON(t testing.TB, elem ...string) tokJSON {
	t.Helper()
	data, err := os.ReadFile(fixtures.Path(t, elem...))
	if err != nil {
		t.Fatal(err)
	}
	var f hfTokenizerFile
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	merges, err := ParseMerges(f.Model.Merges)
	if err != nil {
		t.Fatal(err)
	}
	return tokJSON{vocab: f.Model.Vocab, merges: merges, pre: f.PreTokenizer, ignoreMerges: f.Model.IgnoreMerges}
}

// ggufVocab reads tokenizer.ggml.tokens, .merges and .pre from a GGUF v2/v3
// file (a minimal reader for tests: the real one lives in glassbox/gguf).
type ggufVocab struct {
	tokens []string
	types  []int32
	merges []string
	pre    string
}

func readGGUFVocab(path string) (*ggufVocab, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<20)
	var hdr struct {
		Magic    [4]byte
		Version  uint32
		NTensors uint64
		NKV      uint64
	}
	if err := binary.Read(r, binary.LittleEndian, &hdr); err != nil {
		return nil, fmt.Errorf("%s: header: %w", path, err)
	}
	if string(hdr.Magic[:]) != "GGUF" || hdr.Version < 2 {
		return nil, fmt.Errorf("%s: not a GGUF v2+ file", path)
	}
	u32 := func() (uint32, error) {
		var v uint32
		err := binary.Read(r, binary.LittleEndian, &v)
		return v, err
	}
	u64 := func() (uint64, error) {
		var v uint64
		err := binary.Read(r, binary.LittleEndian, &v)
		return v, err
	}
	str := func() (string, error) {
		n, err := u64()
		if err != nil {
			return "", err
		}
		if n > 1<<30 {
			return "", fmt.Errorf("string length %d too large", n)
		}
		b := make([]byte, n)
		_, err = io.ReadFull(r, b)
		return string(b), err
	}
	sizes := map[uint32]int{0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
	var skip func(typ uint32) (any, error)
	skip = func(typ uint32) (any, error) {
		switch typ {
		case 8:
			return str()
		case 9:
			et, err := u32()
			if err != nil {
				return nil, err
			}
			n, err := u64()
			if err != nil {
				return nil, err
			}
			if et == 8 {
				out := make([]string, 0, n)
				for i := uint64(0); i < n; i++ {
					s, err := str()
					if err != nil {
						return nil, err
					}
					out = append(out, s)
				}
				return out, nil
			}
			if et == 5 {
				out := make([]int32, n)
				err := binary.Read(r, binary.LittleEndian, out)
				return out, err
			}
			for i := uint64(0); i < n; i++ {
				if _, err := skip(et); err != nil {
					return nil, err
				}
			}
			return nil, nil
		}
		sz, ok := sizes[typ]
		if !ok {
			return nil, fmt.Errorf("unknown value type %d", typ)
		}
		_, err := r.Discard(sz)
		return nil, err
	}
	v := &ggufVocab{}
	for i := uint64(0); i < hdr.NKV; i++ {
		key, err := str()
		if err != nil {
			return nil, fmt.Errorf("%s: key %d: %w", path, i, err)
		}
		typ, err := u32()
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", path, key, err)
		}
		val, err := skip(typ)
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", path, key, err)
		}
		switch key {
		case "tokenizer.ggml.tokens":
			v.tokens, _ = val.([]string)
		case "tokenizer.ggml.merges":
			v.merges, _ = val.([]string)
		case "tokenizer.ggml.token_type":
			v.types, _ = val.([]int32)
		case "tokenizer.ggml.pre":
			v.pre, _ = val.(string)
		}
	}
	return v, nil
}

// ggufModel builds a Model the way llama.cpp loads a GGUF BPE vocabulary.
func ggufModel(t testing.TB, name string, pre PreTokenizer, opts Options) (*Model, *ggufVocab) {
	t.Helper()
	gv, err := readGGUFVocab(fixtures.Path(t, "vocab", "ggml-vocab-"+name+".gguf"))
	if err != nil {
		t.Fatal(err)
	}
	vocab := make(map[string]int, len(gv.tokens))
	for i, tok := range gv.tokens {
		vocab[tok] = i // the last duplicate wins, as in llama.cpp
	}
	merges := make([][2]string, 0, len(gv.merges))
	for _, m := range gv.merges {
		// llama.cpp splits at the first space after the first byte
		if i := strings.IndexByte(m[min(1, len(m)):], ' '); i >= 0 {
			i += min(1, len(m))
			merges = append(merges, [2]string{m[:i], m[i+1:]})
		} else {
			merges = append(merges, [2]string{"", ""})
		}
	}
	if pre == nil {
		pre, err = PreTokenizerByName(gv.pre)
		if err != nil {
			t.Fatal(err)
		}
	}
	m, err := New(vocab, merges, pre, opts)
	if err != nil {
		t.Fatal(err)
	}
	return m, gv
}

func equalInts(a, b []int) bool {
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

// userDefined lists a GGUF vocabulary's user-defined tokens (type 4),
// longest first, as llama.cpp matches them in text even when special tokens
// are not parsed. Splitting them out is the core tokenizer's job; the tests
// emulate it to compare whole texts with llama.cpp.
func (gv *ggufVocab) userDefined() []string {
	var out []string
	for i, typ := range gv.types {
		if typ == 4 && i < len(gv.tokens) {
			out = append(out, gv.tokens[i])
		}
	}
	sort.SliceStable(out, func(a, b int) bool { return len(out[a]) > len(out[b]) })
	return out
}

// partitionModel encodes text after splitting out user-defined tokens.
type partitionModel struct {
	*Model
	user []string
	ids  map[string]int
}

func (p partitionModel) Encode(dst []int, text string) []int {
	type frag struct {
		text string
		tok  int
	}
	frags := []frag{{text, -1}}
	for _, u := range p.user {
		var next []frag
		for _, f := range frags {
			if f.tok >= 0 {
				next = append(next, f)
				continue
			}
			s := f.text
			for {
				i := strings.Index(s, u)
				if i < 0 {
					break
				}
				if i > 0 {
					next = append(next, frag{s[:i], -1})
				}
				next = append(next, frag{u, p.ids[u]})
				s = s[i+len(u):]
			}
			if s != "" {
				next = append(next, frag{s, -1})
			}
		}
		frags = next
	}
	for _, f := range frags {
		if f.tok >= 0 {
			dst = append(dst, f.tok)
		} else {
			dst = p.Model.Encode(dst, f.text)
		}
	}
	return dst
}

type encoder interface {
	Encode(dst []int, text string) []int
	PreTokenizer() PreTokenizer
}

// checkCases encodes every case and reports mismatches; it returns the
// number that matched.
func checkCases(t *testing.T, m encoder, cases []vocabCase) int {
	t.Helper()
	ok := 0
	for i, c := range cases {
		got := m.Encode(nil, c.text)
		if equalInts(got, c.ids) {
			ok++
			continue
		}
		var pieces []string
		if pre := m.PreTokenizer(); pre != nil {
			pieces = pre.Split(nil, c.text)
		}
		t.Errorf("case %d %q:\n got  %v\n want %v\n pieces %q", i, c.text, got, c.ids, pieces)
	}
	return ok
}
