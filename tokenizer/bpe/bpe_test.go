package bpe

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	"glassbox/internal/fixtures"
)

func TestBytesToUnicode(t *testing.T) {
	tests := []struct {
		in   []byte
		want string
	}{
		{[]byte(" "), "Ġ"},
		{[]byte("\n"), "Ċ"},
		{[]byte("Hello world"), "HelloĠworld"},
		{[]byte{0}, "Ā"},
		{[]byte{0xAD}, "Ń"},
		{[]byte{0xA0}, "ł"},
		{[]byte{0xFF}, "ÿ"},
		{[]byte("é"), "Ã©"},
	}
	for _, tc := range tests {
		if got := BytesToUnicode(tc.in); got != tc.want {
			t.Errorf("BytesToUnicode(%q) = %q, want %q", tc.in, got, tc.want)
		}
		back, err := UnicodeToBytes(tc.want)
		if err != nil || !bytes.Equal(back, tc.in) {
			t.Errorf("UnicodeToBytes(%q) = %q, %v; want %q", tc.want, back, err, tc.in)
		}
	}
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	u := BytesToUnicode(all)
	if n := len([]rune(u)); n != 256 {
		t.Fatalf("256 bytes gave %d characters", n)
	}
	back, err := UnicodeToBytes(u)
	if err != nil || !bytes.Equal(back, all) {
		t.Fatalf("round trip of all bytes failed: %v", err)
	}
	for _, bad := range []string{" ", "a b", "\u0144", "日", "\xff"} {
		if _, err := UnicodeToBytes(bad); err == nil {
			t.Errorf("UnicodeToBytes(%q) succeeded, want an error", bad)
		}
	}
}

// tinyModel: a hand-made vocabulary whose merges can be followed by hand.
func tinyModel(t *testing.T, opts Options) *Model {
	t.Helper()
	vocab := map[string]int{}
	for b := 0; b < 256; b++ {
		vocab[BytesToUnicode([]byte{byte(b)})] = b
	}
	merges := [][2]string{{"a", "b"}, {"ab", "c"}, {"b", "c"}, {"a", "a"}, {"Ġ", "ab"}, {"x", "y"}}
	next := 256
	for _, m := range merges {
		if m[0]+m[1] == "xy" {
			continue // a merge whose result is not a token
		}
		vocab[m[0]+m[1]] = next
		next++
	}
	vocab["<0x78>"] = next // byte fallback token for 'x'
	vocab["<0x79>"] = next + 1
	m, err := New(vocab, merges, nil, opts)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestMergeOrder(t *testing.T) {
	m := tinyModel(t, Options{Unk: -1})
	id := func(raw string) int {
		i, ok := m.Token(raw)
		if !ok {
			t.Fatalf("token %q missing", raw)
		}
		return i
	}
	tests := []struct {
		in   string
		want []int
	}{
		{"abc", []int{id("abc")}},           // ab (rank 0) before bc (rank 2), then ab+c
		{"bc", []int{id("bc")}},             // only bc applies
		{"aaa", []int{id("aa"), 'a'}},       // leftmost pair first on ties
		{"aaaa", []int{id("aa"), id("aa")}}, // two merges of the same rank
		// Ġ a b c: ab (rank 0), then ab+c (1) before Ġ+ab (4) could apply
		{" abc", []int{' ', id("abc")}},
		{"zz", []int{'z', 'z'}}, // no merge
		{"", nil},
	}
	for _, tc := range tests {
		got := m.Encode(nil, tc.in)
		if !equalInts(got, tc.want) {
			t.Errorf("Encode(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
	// long pieces take the heap path: it must agree with the scan path
	long := strings.Repeat("abcaab", 20)
	short := m.Encode(nil, "abcaab")
	var want []int
	for range 20 {
		want = append(want, short...)
	}
	if got := m.EncodePiece(nil, long); !equalInts(got, want) {
		t.Errorf("long piece: got %v, want %v", got, want)
	}
}

func TestFallback(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		want []int
	}{
		{"bytes", Options{Unk: -1}, []int{'x', 'y'}},
		{"byte-fallback", Options{ByteFallback: true, Unk: -1}, nil},
	}
	for _, tc := range tests {
		m := tinyModel(t, tc.opts)
		want := tc.want
		if want == nil {
			a, _ := m.Token("<0x78>")
			b, _ := m.Token("<0x79>")
			want = []int{a, b}
		}
		if got := m.Encode(nil, "xy"); !equalInts(got, want) {
			t.Errorf("%s: Encode(xy) = %v, want %v", tc.name, got, want)
		}
	}
}

func TestIgnoreMerges(t *testing.T) {
	vocab := map[string]int{"a": 0, "b": 1, "c": 2, "ab": 3, "abc": 4, "bc": 5}
	merges := [][2]string{{"b", "c"}, {"a", "b"}, {"ab", "c"}}
	for _, tc := range []struct {
		ignore bool
		want   []int
	}{{false, []int{0, 5}}, {true, []int{4}}} {
		m, err := New(vocab, merges, nil, Options{IgnoreMerges: tc.ignore, Unk: -1})
		if err != nil {
			t.Fatal(err)
		}
		if got := m.Encode(nil, "abc"); !equalInts(got, tc.want) {
			t.Errorf("IgnoreMerges=%v: got %v, want %v", tc.ignore, got, tc.want)
		}
	}
}

func TestNewErrors(t *testing.T) {
	if _, err := New(nil, nil, nil, Options{}); err == nil {
		t.Error("empty vocabulary accepted")
	}
	if _, err := New(map[string]int{"a": -3}, nil, nil, Options{}); err == nil {
		t.Error("negative id accepted")
	}
}

func TestDecode(t *testing.T) {
	m := tinyModel(t, Options{Unk: -1})
	for _, s := range []string{"abc aab", "héllo\n", "\x00\xff"} {
		got, err := m.Decode(nil, m.Encode(nil, s))
		if err != nil || string(got) != s {
			t.Errorf("Decode(Encode(%q)) = %q, %v", s, got, err)
		}
	}
	if _, err := m.Decode(nil, []int{1 << 20}); err == nil {
		t.Error("unknown id decoded")
	}
}

func TestPreTokenizerByName(t *testing.T) {
	tests := []struct {
		name, in string
		want     []string
	}{
		{"gpt-2", "Hello world's  end 123", []string{"Hello", " world", "'s", " ", " end", " 123"}},
		{"llama3", "I'VE 12345 words\n\n  x", []string{"I", "'VE", " ", "123", "45", " words", "\n\n", " ", " x"}},
		{"qwen2", "ab 12", []string{"ab", " ", "1", "2"}},
		{"starcoder", "x 12", []string{"x", " ", "1", "2"}},
		{"falcon", "a+b 1234", []string{"a", "+", "b", " ", "123", "4"}},
		{"deepseek-coder", "Hi, 42!", []string{"Hi", ",", " ", "4", "2", "!"}},
	}
	for _, tc := range tests {
		p, err := PreTokenizerByName(tc.name)
		if err != nil {
			t.Fatal(err)
		}
		got := p.Split(nil, tc.in)
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: Split(%q) = %q, want %q", tc.name, tc.in, got, tc.want)
		}
		if strings.Join(got, "") != tc.in {
			t.Errorf("%s: pieces do not cover the text", tc.name)
		}
	}
	if _, err := PreTokenizerByName("no-such-pre"); err == nil || !strings.Contains(err.Error(), "llama3") {
		t.Errorf("unknown name: err = %v, want one listing the known names", err)
	}
	for _, n := range PreTokenizerNames() {
		if _, err := PreTokenizerByName(n); err != nil {
			t.Errorf("%s: %v", n, err)
		}
	}
}

func TestPreTokenizerFromJSON(t *testing.T) {
	tests := []struct {
		json, in string
		want     []string
	}{
		{`null`, "a b", nil},
		{`{"type":"ByteLevel","add_prefix_space":true,"use_regex":true}`, "Hi there", []string{" Hi", " there"}},
		{`{"type":"Digits","individual_digits":true}`, "a12b", []string{"a", "1", "2", "b"}},
		{`{"type":"Digits","individual_digits":false}`, "a12b3", []string{"a", "12", "b", "3"}},
		{`{"type":"WhitespaceSplit"}`, " a  b\tc ", []string{"a", "b", "c"}},
		{`{"type":"Whitespace"}`, "Hi, you!", []string{"Hi", ",", "you", "!"}},
		{`{"type":"Punctuation","behavior":"Isolated"}`, "a,b", []string{"a", ",", "b"}},
		{`{"type":"BertPreTokenizer"}`, "Hi, you", []string{"Hi", ",", "you"}},
		{`{"type":"CharDelimiterSplit","delimiter":"-"}`, "a-b--c", []string{"a", "b", "c"}},
		{`{"type":"Split","pattern":{"String":"-"},"behavior":"Removed","invert":false}`, "a-b", []string{"a", "b"}},
		{`{"type":"Split","pattern":{"String":"-"},"behavior":"MergedWithPrevious","invert":false}`, "a-b-", []string{"a-", "b-"}},
		{`{"type":"Split","pattern":{"String":"-"},"behavior":"MergedWithNext","invert":false}`, "a-b-", []string{"a", "-b", "-"}},
		{`{"type":"Split","pattern":{"Regex":"\\d"},"behavior":"Contiguous","invert":false}`, "a12b", []string{"a", "12", "b"}},
		{`{"type":"Split","pattern":{"Regex":"\\d+"},"behavior":"Removed","invert":true}`, "a12b3", []string{"12", "3"}},
		{`{"type":"Metaspace","replacement":"▁","prepend_scheme":"always","split":true}`, "Hey you", []string{"▁Hey", "▁you"}},
		{`{"type":"Metaspace","replacement":"▁","prepend_scheme":"never","split":false}`, "Hey you", []string{"Hey▁you"}},
		{`{"type":"Sequence","pretokenizers":[{"type":"Split","pattern":{"Regex":"\\p{N}{1,3}"},"behavior":"Isolated","invert":false},{"type":"ByteLevel","add_prefix_space":false,"use_regex":false}]}`, "a12345", []string{"a", "123", "45"}},
	}
	for _, tc := range tests {
		p, err := PreTokenizerFromJSON(json.RawMessage(tc.json))
		if err != nil {
			t.Errorf("%s: %v", tc.json, err)
			continue
		}
		if p == nil {
			if tc.want != nil {
				t.Errorf("%s: nil pre-tokenizer", tc.json)
			}
			continue
		}
		if got := p.Split(nil, tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("%s: Split(%q) = %q, want %q", tc.json, tc.in, got, tc.want)
		}
	}
	for _, bad := range []string{`{"type":"UnicodeScripts"}`, `{"type":"Split","behavior":"Isolated"}`, `{"type":"Split","pattern":{"Regex":"("}}`, `[1,2]`, `{"type":"Split","pattern":{"String":"x"},"behavior":"Sideways"}`} {
		if _, err := PreTokenizerFromJSON(json.RawMessage(bad)); err == nil {
			t.Errorf("%s: accepted, want an error", bad)
		}
	}
}

// TestNativeMatchesRegexp2 checks the hand-written splitters against regexp2
// running the same patterns, on fixture texts and random text.
func TestNativeMatchesRegexp2(t *testing.T) {
	var texts []string
	for _, name := range []string{"llama-bpe", "gpt-2"} {
		for _, c := range readVocabCases(t, name) {
			texts = append(texts, c.text)
		}
	}
	alphabet := []rune("aZé 1٣\n\r\t'sStTrRevlLmd.,!?-ö\u00a0\u3000日本😀\u200d\u0301\u2028¼ⅫIİſ_$")
	rng := rand.New(rand.NewPCG(1, 2))
	for range 3000 {
		n := rng.IntN(24)
		r := make([]rune, n)
		for i := range r {
			r[i] = alphabet[rng.IntN(len(alphabet))]
		}
		texts = append(texts, string(r))
	}
	if data, err := os.ReadFile(fixtures.Path(t, "text", "tinyshakespeare.txt")); err == nil {
		texts = append(texts, string(data[:20000]))
	}
	for _, pat := range []string{patGPT2, patGPT2 + `|\s+`, patLlama3, patQwen2, patLlama3Adapted, `\p{N}`, `\p{N}+`} {
		native := nativeStep(pat)
		re, err := compileRegexp2(pat)
		if err != nil {
			t.Fatal(err)
		}
		pn := &Pipeline{stages: []stage{&splitStage{rules: []splitRule{{step: native}}}}}
		pr := &Pipeline{stages: []stage{&splitStage{rules: []splitRule{{step: re}}}}}
		bad := 0
		for _, s := range texts {
			a, b := pn.Split(nil, s), pr.Split(nil, s)
			if !slices.Equal(a, b) {
				bad++
				if bad <= 3 {
					t.Errorf("pattern %q on %q:\n native %q\n regexp2 %q", pat, s, a, b)
				}
			}
		}
	}
}

func FuzzNativeSplit(f *testing.F) {
	for _, s := range []string{"Hello world", "  x\n\n y", "I'm 12345", "a\u00a0b\u3000 c"} {
		f.Add(s)
	}
	steps := []struct {
		native step
		re     regexStep
	}{}
	for _, pat := range []string{patGPT2, patLlama3, patQwen2} {
		re, err := compileRegexp2(pat)
		if err != nil {
			f.Fatal(err)
		}
		steps = append(steps, struct {
			native step
			re     regexStep
		}{nativeStep(pat), re})
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, st := range steps {
			a := (&Pipeline{stages: []stage{&splitStage{rules: []splitRule{{step: st.native}}}}}).Split(nil, s)
			b := (&Pipeline{stages: []stage{&splitStage{rules: []splitRule{{step: st.re}}}}}).Split(nil, s)
			if !reflect.DeepEqual(a, b) {
				t.Fatalf("%q: native %q, regexp2 %q", s, a, b)
			}
			if strings.Join(a, "") != s {
				t.Fatalf("%q: pieces do not cover the text", s)
			}
		}
	})
}

// TestChunkedSplit checks that splitting long text chunk by chunk (as Encode
// does) gives the pieces of the whole text.
func TestChunkedSplit(t *testing.T) {
	data, err := os.ReadFile(fixtures.Path(t, "text", "war-and-peace.txt"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(data[:600_000]) + " tail  \n\n  x'S 12345\n"
	for _, name := range []string{"llama3", "qwen2", "gpt-2", "starcoder"} {
		pre, err := PreTokenizerByName(name)
		if err != nil {
			t.Fatal(err)
		}
		p := pre.(*Pipeline)
		whole := p.Split(nil, text)
		var chunked []string
		rest := text
		n := 0
		for len(rest) > 0 {
			c := rest[:p.chunkEnd(rest, 1<<14)]
			rest = rest[len(c):]
			chunked = p.Split(chunked, c)
			n++
		}
		if n < 10 {
			t.Errorf("%s: only %d chunks", name, n)
		}
		if !slices.Equal(whole, chunked) {
			t.Errorf("%s: chunked split differs from the whole-text split", name)
		}
	}
}
