package bpe

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"iter"
	"slices"
	"strconv"
)

// TrainOptions configures Train.
type TrainOptions struct {
	// VocabSize is the target size: special tokens + 256 bytes + merges.
	VocabSize int
	// MinFrequency stops training when the best pair occurs fewer times
	// (values below 1 mean 1).
	MinFrequency int
	// Pre splits the training texts; nil means the GPT-2 pre-tokenizer.
	Pre PreTokenizer
	// SpecialTokens get the first ids, in order, and are written as added
	// special tokens.
	SpecialTokens []string
}

// Trained is the result of Train.
type Trained struct {
	// Vocab maps tokens in GPT-2 byte-level form to ids.
	Vocab map[string]int
	// Merges are the learned merges in rank order, in GPT-2 form.
	Merges [][2]string
	// SpecialTokens are the special tokens (ids 0..len-1).
	SpecialTokens []string
	// PreTokenizer is the tokenizer.json form of the pre-tokenizer used.
	PreTokenizer json.RawMessage
}

// jsonDescriber is a PreTokenizer that can describe itself as tokenizer.json.
type jsonDescriber interface{ TokenizerJSON() json.RawMessage }

type trainWord struct {
	syms []int32
	freq int64
}

type pairCount struct {
	pair  uint64
	count int64
}

// Train learns byte-level BPE merges from texts: pre-token frequencies are
// counted, words start as bytes, and the most frequent adjacent pair is merged
// until VocabSize is reached (ties: the pair whose left token's bytes, then
// right token's bytes, sort first). Pair counts are updated incrementally from
// the words a merge touches. The result does not depend on map order.
func Train(texts iter.Seq[string], opts TrainOptions) (*Trained, error) {
	pre := opts.Pre
	if pre == nil {
		var err error
		if pre, err = PreTokenizerByName("gpt-2"); err != nil {
			return nil, err
		}
	}
	var preJSON json.RawMessage
	if d, ok := pre.(jsonDescriber); ok {
		preJSON = d.TokenizerJSON()
	}
	base := len(opts.SpecialTokens) + 256
	if opts.VocabSize < base {
		return nil, fmt.Errorf("bpe: train: vocab size %d is below %d (special tokens + 256 bytes)", opts.VocabSize, base)
	}
	minFreq := int64(max(opts.MinFrequency, 1))

	// Count pre-tokens.
	counts := map[string]int64{}
	var pieces []string
	for text := range texts {
		pieces = pre.Split(pieces[:0], text)
		for _, p := range pieces {
			counts[p]++
		}
	}
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	words := make([]trainWord, len(keys))
	for i, k := range keys {
		syms := make([]int32, len(k))
		for j := 0; j < len(k); j++ {
			syms[j] = int32(k[j])
		}
		words[i] = trainWord{syms: syms, freq: counts[k]}
	}

	// Symbols 0..255 are bytes; merged symbols follow.
	symBytes := make([][]byte, 256)
	for b := range symBytes {
		symBytes[b] = []byte{byte(b)}
	}
	pairOf := func(a, b int32) uint64 { return uint64(uint32(a))<<32 | uint64(uint32(b)) }
	pairCounts := map[uint64]int64{}
	where := map[uint64][]int32{}
	for wi, w := range words {
		for j := 0; j+1 < len(w.syms); j++ {
			p := pairOf(w.syms[j], w.syms[j+1])
			pairCounts[p] += w.freq
			where[p] = append(where[p], int32(wi))
		}
	}
	better := func(a, b pairCount) bool {
		if a.count != b.count {
			return a.count > b.count
		}
		la, lb := symBytes[a.pair>>32], symBytes[b.pair>>32]
		if c := bytes.Compare(la, lb); c != 0 {
			return c < 0
		}
		return bytes.Compare(symBytes[uint32(a.pair)], symBytes[uint32(b.pair)]) < 0
	}
	var h []pairCount
	push := func(pc pairCount) {
		h = append(h, pc)
		for i := len(h) - 1; i > 0; {
			p := (i - 1) / 2
			if !better(h[i], h[p]) {
				break
			}
			h[i], h[p] = h[p], h[i]
			i = p
		}
	}
	pop := func() pairCount {
		top := h[0]
		h[0] = h[len(h)-1]
		h = h[:len(h)-1]
		for i := 0; ; {
			l := 2*i + 1
			if l >= len(h) {
				break
			}
			c := l
			if r := l + 1; r < len(h) && better(h[r], h[l]) {
				c = r
			}
			if !better(h[c], h[i]) {
				break
			}
			h[i], h[c] = h[c], h[i]
			i = c
		}
		return top
	}
	// Initial heap in a deterministic order.
	initial := make([]uint64, 0, len(pairCounts))
	for p := range pairCounts {
		initial = append(initial, p)
	}
	slices.Sort(initial)
	for _, p := range initial {
		push(pairCount{p, pairCounts[p]})
	}

	var merges [][2]int32
	delta := map[uint64]int64{}
	var changed []uint64
	for base+len(merges) < opts.VocabSize && len(h) > 0 {
		top := pop()
		cur := pairCounts[top.pair]
		if cur != top.count {
			if cur > 0 {
				push(pairCount{top.pair, cur})
			}
			continue
		}
		if cur < minFreq {
			break
		}
		a, b := int32(top.pair>>32), int32(uint32(top.pair))
		ns := int32(len(symBytes))
		symBytes = append(symBytes, append(append([]byte(nil), symBytes[a]...), symBytes[b]...))
		merges = append(merges, [2]int32{a, b})

		ws := where[top.pair]
		slices.Sort(ws)
		ws = slices.Compact(ws)
		delete(where, top.pair)
		clear(delta)
		for _, wi := range ws {
			w := &words[wi]
			syms := w.syms
			found := false
			for j := 0; j+1 < len(syms); j++ {
				if syms[j] == a && syms[j+1] == b {
					found = true
					break
				}
			}
			if !found {
				continue
			}
			for j := 0; j+1 < len(syms); j++ {
				delta[pairOf(syms[j], syms[j+1])] -= w.freq
			}
			out := syms[:0]
			for j := 0; j < len(syms); j++ {
				if j+1 < len(syms) && syms[j] == a && syms[j+1] == b {
					out = append(out, ns)
					j++
					continue
				}
				out = append(out, syms[j])
			}
			w.syms = out
			for j := 0; j+1 < len(out); j++ {
				p := pairOf(out[j], out[j+1])
				delta[p] += w.freq
				if out[j] == ns || out[j+1] == ns {
					where[p] = append(where[p], wi)
				}
			}
		}
		changed = changed[:0]
		for p, d := range delta {
			if d != 0 {
				changed = append(changed, p)
			}
		}
		slices.Sort(changed)
		for _, p := range changed {
			c := pairCounts[p] + delta[p]
			if c <= 0 {
				delete(pairCounts, p)
				continue
			}
			pairCounts[p] = c
			if delta[p] > 0 {
				push(pairCount{p, c})
			}
		}
	}

	t := &Trained{
		Vocab:         make(map[string]int, base+len(merges)),
		SpecialTokens: append([]string(nil), opts.SpecialTokens...),
		PreTokenizer:  preJSON,
	}
	for i, s := range opts.SpecialTokens {
		if _, dup := t.Vocab[s]; dup {
			return nil, fmt.Errorf("bpe: train: special token %q given twice", s)
		}
		t.Vocab[s] = i
	}
	for i, sb := range symBytes {
		tok := BytesToUnicode(sb)
		if _, clash := t.Vocab[tok]; clash {
			return nil, fmt.Errorf("bpe: train: special token %q clashes with a byte-level token", tok)
		}
		t.Vocab[tok] = len(opts.SpecialTokens) + i
	}
	for _, m := range merges {
		t.Merges = append(t.Merges, [2]string{BytesToUnicode(symBytes[m[0]]), BytesToUnicode(symBytes[m[1]])})
	}
	return t, nil
}

// Model builds an encoding Model from the trained vocabulary.
func (t *Trained) Model() (*Model, error) {
	var pre PreTokenizer
	if t.PreTokenizer != nil {
		var err error
		if pre, err = PreTokenizerFromJSON(t.PreTokenizer); err != nil {
			return nil, err
		}
	}
	return New(t.Vocab, t.Merges, pre, Options{Unk: -1})
}

// WriteTokenizerJSON writes a Hugging Face compatible tokenizer.json: a BPE
// model (vocabulary in id order, merges as pairs), the pre-tokenizer, a
// ByteLevel decoder and the special tokens as added tokens. The output is
// byte-identical for identical Trained values.
func (t *Trained) WriteTokenizerJSON(w io.Writer) error {
	if t.PreTokenizer == nil {
		return fmt.Errorf("bpe: writing tokenizer.json: the pre-tokenizer has no tokenizer.json form")
	}
	byID := make([]string, 0, len(t.Vocab))
	for tok := range t.Vocab {
		byID = append(byID, tok)
	}
	slices.SortFunc(byID, func(a, b string) int { return t.Vocab[a] - t.Vocab[b] })
	var buf bytes.Buffer
	str := func(s string) {
		b, _ := json.Marshal(s)
		buf.Write(b)
	}
	buf.WriteString("{\n  \"version\": \"1.0\",\n  \"truncation\": null,\n  \"padding\": null,\n  \"added_tokens\": [")
	for i, s := range t.SpecialTokens {
		if i > 0 {
			buf.WriteString(",")
		}
		buf.WriteString("\n    {\"id\": " + strconv.Itoa(t.Vocab[s]) + ", \"content\": ")
		str(s)
		buf.WriteString(", \"single_word\": false, \"lstrip\": false, \"rstrip\": false, \"normalized\": false, \"special\": true}")
	}
	if len(t.SpecialTokens) > 0 {
		buf.WriteString("\n  ")
	}
	buf.WriteString("],\n  \"normalizer\": null,\n  \"pre_tokenizer\": ")
	var pre bytes.Buffer
	if err := json.Compact(&pre, t.PreTokenizer); err != nil {
		return fmt.Errorf("bpe: writing tokenizer.json: pre-tokenizer: %w", err)
	}
	buf.Write(pre.Bytes())
	buf.WriteString(",\n  \"post_processor\": null,\n")
	buf.WriteString("  \"decoder\": {\"type\": \"ByteLevel\", \"add_prefix_space\": true, \"trim_offsets\": true, \"use_regex\": true},\n")
	buf.WriteString("  \"model\": {\n    \"type\": \"BPE\",\n    \"dropout\": null,\n    \"unk_token\": null,\n    \"continuing_subword_prefix\": null,\n    \"end_of_word_suffix\": null,\n    \"fuse_unk\": false,\n    \"byte_fallback\": false,\n    \"ignore_merges\": false,\n    \"vocab\": {")
	for i, tok := range byID {
		if i > 0 {
			buf.WriteString(",")
		}
		buf.WriteString("\n      ")
		str(tok)
		buf.WriteString(": " + strconv.Itoa(t.Vocab[tok]))
	}
	buf.WriteString("\n    },\n    \"merges\": [")
	for i, m := range t.Merges {
		if i > 0 {
			buf.WriteString(",")
		}
		buf.WriteString("\n      [")
		str(m[0])
		buf.WriteString(", ")
		str(m[1])
		buf.WriteString("]")
	}
	buf.WriteString("\n    ]\n  }\n}\n")
	_, err := w.Write(buf.Bytes())
	return err
}
