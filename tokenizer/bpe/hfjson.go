package bpe

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"unicode"
)

// hfPreTok is the union of the Hugging Face pre_tokenizer objects handled.
type hfPreTok struct {
	Type          string            `json:"type"`
	PreTokenizers []json.RawMessage `json:"pretokenizers"`
	Pattern       *struct {
		Regex  *string `json:"Regex"`
		String *string `json:"String"`
	} `json:"pattern"`
	Behavior         string  `json:"behavior"`
	Invert           bool    `json:"invert"`
	AddPrefixSpace   *bool   `json:"add_prefix_space"`
	UseRegex         *bool   `json:"use_regex"`
	IndividualDigits bool    `json:"individual_digits"`
	Replacement      *string `json:"replacement"`
	PrependScheme    string  `json:"prepend_scheme"`
	Split            *bool   `json:"split"`
	Delimiter        string  `json:"delimiter"`
}

// PreTokenizerFromJSON builds the pre-tokenizer described by a Hugging Face
// tokenizer.json "pre_tokenizer" object: Sequence, Split (Regex or String
// pattern, any behavior, invert), ByteLevel, Digits, Metaspace, Whitespace,
// WhitespaceSplit, Punctuation, BertPreTokenizer and CharDelimiterSplit.
// JSON null gives a nil PreTokenizer (the whole text is one piece). Other
// kinds are an error naming them.
func PreTokenizerFromJSON(raw json.RawMessage) (PreTokenizer, error) {
	if len(bytes.TrimSpace(raw)) == 0 || string(bytes.TrimSpace(raw)) == "null" {
		return nil, nil
	}
	var stages []stage
	if err := compileHF(raw, &stages, "pre_tokenizer"); err != nil {
		return nil, err
	}
	return &Pipeline{name: "tokenizer.json", stages: stages, desc: append(json.RawMessage(nil), raw...)}, nil
}

// addRule appends a split rule, joining it to a preceding split stage.
func addRule(stages *[]stage, r splitRule) {
	if n := len(*stages); n > 0 {
		if st, ok := (*stages)[n-1].(*splitStage); ok {
			st.rules = append(st.rules, r)
			return
		}
	}
	*stages = append(*stages, &splitStage{rules: []splitRule{r}})
}

func parseBehavior(s, where string) (behavior, error) {
	switch s {
	case "Isolated", "":
		return isolated, nil
	case "Removed":
		return removed, nil
	case "MergedWithPrevious":
		return mergedWithPrevious, nil
	case "MergedWithNext":
		return mergedWithNext, nil
	case "Contiguous":
		return contiguous, nil
	}
	return 0, fmt.Errorf("bpe: %s: unknown split behavior %q (want Isolated, Removed, MergedWithPrevious, MergedWithNext or Contiguous)", where, s)
}

func isHFPunct(r rune) bool {
	return (r < 128 && unicode.IsPrint(r) && !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != ' ') || unicode.IsPunct(r)
}

func compileHF(raw json.RawMessage, stages *[]stage, where string) error {
	var p hfPreTok
	if err := json.Unmarshal(raw, &p); err != nil {
		return fmt.Errorf("bpe: %s: want a pre-tokenizer object: %w", where, err)
	}
	where = where + " (" + p.Type + ")"
	switch p.Type {
	case "Sequence":
		for i, sub := range p.PreTokenizers {
			if err := compileHF(sub, stages, fmt.Sprintf("%s.pretokenizers[%d]", where, i)); err != nil {
				return err
			}
		}
	case "Split":
		b, err := parseBehavior(p.Behavior, where)
		if err != nil {
			return err
		}
		switch {
		case p.Pattern != nil && p.Pattern.Regex != nil:
			var st step
			if b == isolated {
				st = nativeStep(*p.Pattern.Regex)
			}
			if st == nil {
				if st, err = compileStep(*p.Pattern.Regex, false); err != nil {
					return fmt.Errorf("bpe: %s: %w", where, err)
				}
				if _, native := st.(regexStep); !native {
					// a hand-written step reports every piece as a match;
					// behaviors other than Isolated need the regex's view
					re, err := compileRegexp2(*p.Pattern.Regex)
					if err != nil {
						return fmt.Errorf("bpe: %s: %w", where, err)
					}
					st = re
				}
			}
			addRule(stages, splitRule{step: st, behavior: b, invert: p.Invert})
		case p.Pattern != nil && p.Pattern.String != nil:
			addRule(stages, splitRule{step: literalStep{lit: []rune(*p.Pattern.String)}, behavior: b, invert: p.Invert})
		default:
			return fmt.Errorf("bpe: %s: want a pattern {\"Regex\": ...} or {\"String\": ...}", where)
		}
	case "ByteLevel":
		if p.AddPrefixSpace != nil && *p.AddPrefixSpace {
			*stages = append(*stages, prefixSpaceStage{})
		}
		if p.UseRegex == nil || *p.UseRegex {
			addRule(stages, splitRule{step: gpt2Step{}})
		}
	case "Digits":
		st := predStep{pred: func(r rune, _ cflags) bool { return r >= '0' && r <= '9' }}
		b := contiguous
		if p.IndividualDigits {
			b = isolated
		}
		addRule(stages, splitRule{step: st, behavior: b})
	case "Metaspace":
		repl := "▁"
		if p.Replacement != nil {
			repl = *p.Replacement
		}
		if repl == "" {
			return fmt.Errorf("bpe: %s: empty replacement", where)
		}
		scheme := p.PrependScheme
		if scheme == "" {
			scheme = "always"
			if p.AddPrefixSpace != nil && !*p.AddPrefixSpace {
				scheme = "never"
			}
		}
		if scheme != "always" && scheme != "first" && scheme != "never" {
			return fmt.Errorf("bpe: %s: unknown prepend_scheme %q (want always, first or never)", where, scheme)
		}
		*stages = append(*stages, metaspaceStage{repl: repl, prepend: scheme, split: p.Split == nil || *p.Split})
	case "Whitespace":
		re, err := compileRegexp2(`\w+|[^\w\s]+`)
		if err != nil {
			return err
		}
		addRule(stages, splitRule{step: re, behavior: removed, invert: true})
	case "WhitespaceSplit":
		addRule(stages, splitRule{step: predStep{pred: func(_ rune, f cflags) bool { return f&fSpace != 0 }}, behavior: removed})
	case "Punctuation":
		b, err := parseBehavior(p.Behavior, where)
		if err != nil {
			return err
		}
		addRule(stages, splitRule{step: predStep{pred: func(r rune, _ cflags) bool { return isHFPunct(r) }}, behavior: b})
	case "BertPreTokenizer":
		addRule(stages, splitRule{step: predStep{pred: func(_ rune, f cflags) bool { return f&fSpace != 0 }}, behavior: removed})
		addRule(stages, splitRule{step: predStep{pred: func(r rune, _ cflags) bool { return isHFPunct(r) }}, behavior: isolated})
	case "CharDelimiterSplit":
		d := []rune(p.Delimiter)
		if len(d) != 1 {
			return fmt.Errorf("bpe: %s: delimiter %q must be one character", where, p.Delimiter)
		}
		addRule(stages, splitRule{step: predStep{pred: func(r rune, _ cflags) bool { return r == d[0] }}, behavior: removed})
	default:
		return fmt.Errorf("bpe: %s: unsupported pre-tokenizer type %q (supported: Sequence, Split, ByteLevel, Digits, Metaspace, Whitespace, WhitespaceSplit, Punctuation, BertPreTokenizer, CharDelimiterSplit)", where, p.Type)
	}
	return nil
}

func compileRegexp2(pattern string) (regexStep, error) {
	st, err := compileStep("(?:"+pattern+")", false)
	if err != nil {
		return regexStep{}, err
	}
	return st.(regexStep), nil
}

// hfTokenizerFile is the part of tokenizer.json FromTokenizerJSON reads.
type hfTokenizerFile struct {
	AddedTokens []struct {
		ID      int    `json:"id"`
		Content string `json:"content"`
		Special bool   `json:"special"`
	} `json:"added_tokens"`
	PreTokenizer json.RawMessage `json:"pre_tokenizer"`
	Model        struct {
		Type         string          `json:"type"`
		Vocab        map[string]int  `json:"vocab"`
		Merges       json.RawMessage `json:"merges"`
		IgnoreMerges bool            `json:"ignore_merges"`
		ByteFallback bool            `json:"byte_fallback"`
		UnkToken     *string         `json:"unk_token"`
	} `json:"model"`
}

// ParseMerges reads tokenizer.json merges: either "a b" strings or
// ["a", "b"] pairs.
func ParseMerges(raw json.RawMessage) ([][2]string, error) {
	if len(bytes.TrimSpace(raw)) == 0 || string(bytes.TrimSpace(raw)) == "null" {
		return nil, nil
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, fmt.Errorf("bpe: merges: want a JSON array: %w", err)
	}
	out := make([][2]string, 0, len(items))
	for i, it := range items {
		var s string
		if err := json.Unmarshal(it, &s); err == nil {
			a, b, ok := strings.Cut(s, " ")
			if !ok || a == "" || b == "" {
				return nil, fmt.Errorf("bpe: merges[%d] = %q: want two tokens separated by one space", i, s)
			}
			out = append(out, [2]string{a, b})
			continue
		}
		var pair []string
		if err := json.Unmarshal(it, &pair); err != nil || len(pair) != 2 {
			return nil, fmt.Errorf("bpe: merges[%d] = %s: want \"a b\" or [\"a\", \"b\"]", i, it)
		}
		out = append(out, [2]string{pair[0], pair[1]})
	}
	return out, nil
}

// FromTokenizerJSON builds a Model from a Hugging Face tokenizer.json of model
// type BPE: vocabulary, merges, ignore_merges, byte_fallback, unk_token and
// pre_tokenizer. Added tokens are only looked up as part of the vocabulary;
// splitting special tokens out of text is the caller's job.
func FromTokenizerJSON(data []byte) (*Model, error) {
	var f hfTokenizerFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("bpe: tokenizer.json: %w", err)
	}
	if f.Model.Type != "" && f.Model.Type != "BPE" {
		return nil, fmt.Errorf("bpe: tokenizer.json: model type %q, want BPE", f.Model.Type)
	}
	merges, err := ParseMerges(f.Model.Merges)
	if err != nil {
		return nil, fmt.Errorf("bpe: tokenizer.json: %w", err)
	}
	pre, err := PreTokenizerFromJSON(f.PreTokenizer)
	if err != nil {
		return nil, fmt.Errorf("bpe: tokenizer.json: %w", err)
	}
	vocab := make(map[string]int, len(f.Model.Vocab)+len(f.AddedTokens))
	for k, v := range f.Model.Vocab {
		vocab[k] = v
	}
	for _, t := range f.AddedTokens {
		if _, ok := vocab[t.Content]; !ok {
			vocab[t.Content] = t.ID
		}
	}
	opts := Options{IgnoreMerges: f.Model.IgnoreMerges, ByteFallback: f.Model.ByteFallback, Unk: -1}
	if f.Model.UnkToken != nil {
		if id, ok := vocab[*f.Model.UnkToken]; ok {
			opts.Unk = id
		}
	}
	return New(vocab, merges, pre, opts)
}
