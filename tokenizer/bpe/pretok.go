package bpe

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/dlclark/regexp2"
)

// PreTokenizer splits raw text into the pieces that BPE encodes one by one.
type PreTokenizer interface {
	// Split appends the pieces of text to dst and returns it. Pieces are
	// normally substrings of text and together cover it.
	Split(dst []string, text string) []string
}

// behavior says what a split step does with its matches (Hugging Face
// SplitDelimiterBehavior).
type behavior uint8

const (
	isolated behavior = iota
	removed
	mergedWithPrevious
	mergedWithNext
	contiguous
)

// splitRule is one step with the behavior applied to its pieces.
type splitRule struct {
	step     step
	behavior behavior
	invert   bool
}

// stage transforms a list of pieces.
type stage interface {
	apply(sc *scratch, in []string, out []string) []string
}

// splitStage applies split rules in order to each input piece, each rule to
// every piece produced by the previous one.
type splitStage struct{ rules []splitRule }

func (st *splitStage) apply(sc *scratch, in []string, out []string) []string {
	for _, text := range in {
		out = st.split(sc, text, out)
	}
	return out
}

func (st *splitStage) split(sc *scratch, text string, out []string) []string {
	if text == "" {
		return out
	}
	sc.load(text)
	sc.spans = append(sc.spans[:0], span{0, int32(len(sc.runes))})
	for _, rule := range st.rules {
		sc.next = sc.next[:0]
		for _, sp := range sc.spans {
			sc.segs = rule.step.segments(sc, sp.lo, sp.hi, sc.segs[:0])
			sc.next = applyBehavior(sc.next, sp.lo, sc.segs, rule.behavior, rule.invert)
		}
		sc.spans, sc.next = sc.next, sc.spans
	}
	for _, sp := range sc.spans {
		out = append(out, sc.piece(sp))
	}
	return out
}

// applyBehavior turns the segments of the span starting at lo into spans.
func applyBehavior(dst []span, lo int32, segs []seg, b behavior, invert bool) []span {
	start := lo
	prevMatch := false
	for i, s := range segs {
		m := s.match != invert
		sp := span{start, s.end}
		start = s.end
		switch b {
		case isolated:
			dst = append(dst, sp)
		case removed:
			if !m {
				dst = append(dst, sp)
			}
		case mergedWithPrevious:
			if m && !prevMatch && i > 0 {
				dst[len(dst)-1].hi = sp.hi
			} else {
				dst = append(dst, sp)
			}
		case mergedWithNext:
			if m && i+1 < len(segs) && segs[i+1].match == invert {
				// the next piece is not a match: it absorbs this one
				start = sp.lo
				prevMatch = m
				continue
			}
			dst = append(dst, sp)
		case contiguous:
			if i > 0 && m == prevMatch {
				dst[len(dst)-1].hi = sp.hi
			} else {
				dst = append(dst, sp)
			}
		}
		prevMatch = m
	}
	return dst
}

// prefixSpaceStage prepends a space to every piece not starting with one
// (Hugging Face ByteLevel add_prefix_space).
type prefixSpaceStage struct{}

func (prefixSpaceStage) apply(_ *scratch, in []string, out []string) []string {
	for _, p := range in {
		if !strings.HasPrefix(p, " ") {
			p = " " + p
		}
		out = append(out, p)
	}
	return out
}

// metaspaceStage replaces spaces by a marker, optionally prepends it and
// optionally splits before each marker (Hugging Face Metaspace).
type metaspaceStage struct {
	repl    string
	prepend string // "always", "first" or "never"
	split   bool
}

func (m metaspaceStage) apply(_ *scratch, in []string, out []string) []string {
	for i, p := range in {
		p = strings.ReplaceAll(p, " ", m.repl)
		if (m.prepend == "always" || (m.prepend == "first" && i == 0)) && !strings.HasPrefix(p, m.repl) && p != "" {
			p = m.repl + p
		}
		if !m.split {
			out = append(out, p)
			continue
		}
		for {
			cut := strings.Index(p[min(len(p), 1):], m.repl)
			if cut < 0 {
				break
			}
			cut++
			out = append(out, p[:cut])
			p = p[cut:]
		}
		if p != "" {
			out = append(out, p)
		}
	}
	return out
}

// Pipeline is a PreTokenizer made of stages run in order. It is safe for
// concurrent use.
type Pipeline struct {
	name   string
	stages []stage
	desc   json.RawMessage // tokenizer.json form, when known
}

// TokenizerJSON returns the pre-tokenizer as a Hugging Face tokenizer.json
// "pre_tokenizer" object (the patterns llama.cpp uses, as Split steps).
func (p *Pipeline) TokenizerJSON() json.RawMessage { return p.desc }

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

// chunkEnd returns where the first chunk of text of about size bytes ends:
// a position where every pipeline of hand-written steps must cut (an ASCII
// letter followed by a newline), so splitting chunks one by one gives the
// pieces of the whole text. It returns len(text) when there is no such
// position or the pipeline is not made of hand-written steps only.
func (p *Pipeline) chunkEnd(text string, size int) int {
	if len(text) <= size || !p.chunkable() {
		return len(text)
	}
	for i := size; i < len(text); i++ {
		if text[i] == '\n' && isASCIILetter(text[i-1]) {
			return i
		}
	}
	return len(text)
}

func isASCIILetter(c byte) bool { return (c|0x20) >= 'a' && (c|0x20) <= 'z' }

func (p *Pipeline) chunkable() bool {
	if len(p.stages) != 1 {
		return false
	}
	st, ok := p.stages[0].(*splitStage)
	if !ok {
		return false
	}
	for _, r := range st.rules {
		switch r.step.(type) {
		case gpt2Step, llama3Step, classStep:
		default:
			return false
		}
		if r.behavior != isolated {
			return false
		}
	}
	return true
}

// Split implements PreTokenizer.
func (p *Pipeline) Split(dst []string, text string) []string {
	sc := scratchPool.Get().(*scratch)
	defer scratchPool.Put(sc)
	if len(p.stages) == 1 {
		if st, ok := p.stages[0].(*splitStage); ok {
			return st.split(sc, text, dst)
		}
	}
	cur := append(sc.strs[:0], text)
	for _, st := range p.stages {
		next := st.apply(sc, cur, sc.strs2[:0])
		sc.strs, sc.strs2 = next, cur
		cur = next
	}
	dst = append(dst, cur...)
	clear(sc.strs)
	clear(sc.strs2)
	return dst
}

// String names the pre-tokenizer.
func (p *Pipeline) String() string { return p.name }

// Patterns used by llama.cpp's pre-tokenizer types.
const (
	patGPT2   = `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)`
	patLlama3 = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
	patQwen2  = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
	// llama.cpp spells the case-insensitive contractions out.
	patLlama3Adapted = `(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
	patQwen2Adapted  = `(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
	patGPT4o         = `[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+`
	patTekken        = `[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+`
	patBloom         = " ?[^(\\s|.,!?\u2026\u3002\uFF0C\u3001\u0964\u06D4\u060C)]+"
	// DeepSeek LLM letters and punctuation, as listed by its tokenizer.
	patDeepseekLetters = "\\s?[A-Za-z\u00B5\u00C0-\u00D6\u00D8-\u00F6\u00F8-\u01BA\u01BC-\u01BF\u01C4-\u0293\u0295-\u02AF\u0370-\u0373\u0376\u0377\u037B-\u037D\u037F\u0386\u0388-\u038A\u038C\u038E-\u03A1\u03A3-\u03F5\u03F7-\u0481\u048A-\u052F\u0531-\u0556\u10A0-\u10C5\u13A0-\u13F5\u13F8-\u13FD\u1C90-\u1CBA\u1CBD-\u1CBF\u1D00-\u1D2B\u1D6B-\u1D77\u1D79-\u1D9A\u1E00-\u1F15\u1F18-\u1F1D\u1F20-\u1F45\u1F48-\u1F4D\u1F50-\u1F57\u1F59\u1F5B\u1F5D\u1F5F-\u1F7D\u1F80-\u1FB4\u1FB6-\u1FBC\u1FBE\u1FC2-\u1FC4\u1FC6-\u1FCC\u1FD0-\u1FD3\u1FD6-\u1FDB\u1FE0-\u1FEC\u1FF2-\u1FF4\u1FF6-\u1FFC\u2102\u2107\u210A-\u2113\u2115\u2119-\u211D\u2124\u2126\u2128\u212A-\u212D\u212F-\u2134\u2139\u213C-\u213F\u2145-\u2149\u214E\u2183\u2184\u2C00-\u2C7B\u2C7E-\u2CE4\u2CEB-\u2CEE\u2CF2\u2CF3\uA640-\uA66D\uA680-\uA69B\uA722-\uA76F\uA771-\uA787\uA78B-\uA78E\uAB70-\uABBF\uFB00-\uFB06\uFB13-\uFB17\uFF21-\uFF3A\uFF41-\uFF5A\U00010400-\U0001044F\U000104B0-\U000104D3\U000104D8-\U000104FB\U00010C80-\U00010CB2\U00010CC0-\U00010CF2\U000118A0-\U000118DF\U0001E900-\U0001E943]+"
	patDeepseekPunct   = "\\s?[!-/:-~\uFF01-\uFF0F\uFF1A-\uFF5E\u2018-\u201F\u3000-\u3002]+"
	patCJK             = "[\u4E00-\u9FA5\u0800-\u4E00\uAC00-\uD7FF]+"
)

// nativeStep returns a hand-written step for a pattern it matches exactly.
func nativeStep(pattern string) step {
	switch pattern {
	case patGPT2, patGPT2 + `|\s+`:
		return gpt2Step{}
	case patLlama3, patLlama3Adapted:
		return llama3Step{maxDigits: 3}
	case patQwen2, patQwen2Adapted:
		return llama3Step{maxDigits: 1}
	case `\p{N}`:
		return classStep{class: fNumber, single: true}
	case `\p{N}+`:
		return classStep{class: fNumber}
	}
	return nil
}

// compileStep builds the step for a pattern: a hand-written one when
// available, otherwise regexp2 (whose \s, \p{L}, \p{N} follow Go's Unicode
// tables, as llama.cpp's category tables do).
func compileStep(pattern string, wide bool) (step, error) {
	if s := nativeStep(pattern); s != nil {
		return s, nil
	}
	re, err := regexp2.Compile(pattern, regexp2.None)
	if err != nil {
		return nil, fmt.Errorf("bpe: compiling pre-tokenizer pattern %q: %w", pattern, err)
	}
	return regexStep{re: re, wide: wide}, nil
}

// llamaPatterns lists, per llama.cpp pre-tokenizer type, the patterns applied
// in sequence. A pattern prefixed with "w:" names no Unicode class; llama.cpp
// runs such patterns on text whose non-ASCII white space became U+000B.
var llamaPatterns = map[string][]string{
	"default": {`[\p{P}\$\+<=>\^~\|]+`, patGPT2, `\p{N}+`, `[0-9][0-9][0-9]`},
	"gpt2":    {patGPT2},
	"llama3":  {patLlama3Adapted},
	"qwen2":   {patQwen2Adapted},
	"deepseek-llm": {
		"w:[\r\n]",
		"w:" + patDeepseekLetters,
		"w:" + patDeepseekPunct,
		`w:\s+\z`,
		"w:" + patCJK,
		`\p{N}+`,
	},
	"deepseek-coder": {"w:[\r\n]", `\s?\p{L}+`, `\s?\p{P}+`, "w:" + patCJK, `\p{N}`},
	"deepseek-v3": {
		`\p{N}{1,3}`,
		"w:[\u4E00-\u9FA5\u3040-\u309F\u30A0-\u30FF]+",
		"[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\\r\\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| ?[\\p{P}[\\p{S}-[~]]]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
	},
	"falcon":    {`[\p{P}\$\+<=>\^~\|` + "`" + `]+`, patGPT2, `[0-9][0-9][0-9]`},
	"starcoder": {`\p{N}`, patGPT2},
	"chatglm4":  {patLlama3Adapted},
	"viking":    {"w:" + patBloom, `\p{N}`},
	"bloom":     {"w:" + patBloom},
	"tekken":    {patTekken},
	"gpt4o":     {patGPT4o},
	"chameleon": {
		"w:<sentinel:[0-9]+>",
		"w:(IMGIMG)((A|B|C|D|E|F|G|H|I){1,4})Z",
		"w:([\\t\\n]|    |  )",
		`\p{N}`,
		"[\\p{P}!-/:-@\\[-`{-~]",
		patGPT2,
	},
}

// llamaNames maps llama.cpp tokenizer.ggml.pre values to pattern lists.
var llamaNames = map[string]string{
	"": "default", "default": "default",
	"llama3": "llama3", "llama-v3": "llama3", "llama-bpe": "llama3", "falcon3": "llama3",
	"dbrx": "llama3", "smaug-bpe": "llama3",
	"deepseek-llm": "deepseek-llm", "deepseek-coder": "deepseek-coder", "deepseek-v3": "deepseek-v3",
	"falcon": "falcon",
	"mpt":    "gpt2", "gpt-2": "gpt2", "phi-2": "gpt2", "jina-es": "gpt2", "jina-de": "gpt2",
	"gigachat": "gpt2", "jina-v1-en": "gpt2", "jina-v2-es": "gpt2", "jina-v2-de": "gpt2",
	"jina-v2-code": "gpt2", "roberta-bpe": "gpt2", "olmo": "gpt2", "jais": "gpt2", "trillion": "gpt2",
	"starcoder": "starcoder", "refact": "starcoder", "command-r": "starcoder", "smollm": "starcoder",
	"codeshell": "starcoder", "exaone": "starcoder", "minerva-7b": "starcoder",
	"qwen2": "qwen2", "qwen2.5": "qwen2", "qwen-2.5": "qwen2", "deepseek-r1-qwen": "qwen2",
	"stablelm2": "qwen2", "megrez": "qwen2", "hunyuan": "qwen2",
	"poro-chat": "bloom", "bloom": "bloom", "gpt3-finnish": "bloom",
	"chatglm-bpe": "chatglm4", "viking": "viking", "tekken": "tekken",
	"chameleon": "chameleon", "gpt-4o": "gpt4o",
}

// PreTokenizerNames lists the tokenizer.ggml.pre values PreTokenizerByName
// accepts, sorted.
func PreTokenizerNames() []string {
	names := make([]string, 0, len(llamaNames))
	for n := range llamaNames {
		if n != "" {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names
}

var (
	byNameMu    sync.Mutex
	byNameCache = map[string]*Pipeline{}
)

// PreTokenizerByName returns the pre-tokenizer llama.cpp uses for a GGUF
// tokenizer.ggml.pre value ("" or "default" is llama.cpp's default BPE
// pre-tokenizer). Unknown names are an error listing the known ones.
func PreTokenizerByName(name string) (PreTokenizer, error) {
	kind, ok := llamaNames[name]
	if !ok {
		return nil, fmt.Errorf("bpe: unknown pre-tokenizer %q (tokenizer.ggml.pre); known: %s", name, strings.Join(PreTokenizerNames(), ", "))
	}
	byNameMu.Lock()
	defer byNameMu.Unlock()
	if p, ok := byNameCache[kind]; ok {
		return p, nil
	}
	var rules []splitRule
	for _, pat := range llamaPatterns[kind] {
		wide := strings.HasPrefix(pat, "w:")
		st, err := compileStep(strings.TrimPrefix(pat, "w:"), wide)
		if err != nil {
			return nil, err
		}
		rules = append(rules, splitRule{step: st})
	}
	p := &Pipeline{name: name, stages: []stage{&splitStage{rules: rules}}, desc: llamaJSON(kind)}
	byNameCache[kind] = p
	return p, nil
}

// llamaJSON describes a llama.cpp pattern list as tokenizer.json.
func llamaJSON(kind string) json.RawMessage {
	type pattern struct {
		Regex string `json:"Regex"`
	}
	type split struct {
		Type     string  `json:"type"`
		Pattern  pattern `json:"pattern"`
		Behavior string  `json:"behavior"`
		Invert   bool    `json:"invert"`
	}
	type byteLevel struct {
		Type           string `json:"type"`
		AddPrefixSpace bool   `json:"add_prefix_space"`
		TrimOffsets    bool   `json:"trim_offsets"`
		UseRegex       bool   `json:"use_regex"`
	}
	if kind == "gpt2" {
		b, _ := json.Marshal(byteLevel{"ByteLevel", false, true, true})
		return b
	}
	var seq []any
	for _, pat := range llamaPatterns[kind] {
		seq = append(seq, split{"Split", pattern{strings.TrimPrefix(pat, "w:")}, "Isolated", false})
	}
	seq = append(seq, byteLevel{"ByteLevel", false, true, false})
	b, _ := json.Marshal(struct {
		Type          string `json:"type"`
		PreTokenizers []any  `json:"pretokenizers"`
	}{"Sequence", seq})
	return b
}
