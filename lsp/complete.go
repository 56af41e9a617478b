package lsp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode"

	"glassbox"
)

// Prompt is the token layout of one completion.
type Prompt struct {
	IDs []int
	FIM bool // laid out with FIM tokens (false: the prefix alone)
}

// BuildPrompt lays out prefix and suffix for model: [BOS] FIM_PRE prefix
// FIM_SUF suffix FIM_MID when the model has FIM tokens (as llama.cpp's
// /infill does), the prefix alone otherwise. The tokens fit the context with
// room for nPredict: the prefix loses its oldest tokens first, the suffix
// (at most a quarter of the room) its last ones.
func BuildPrompt(m *glassbox.Model, prefix, suffix string, nPredict int) (Prompt, error) {
	tok := m.Tokenizer()
	room := m.ContextSize() - nPredict
	if room < 8 {
		return Prompt{}, fmt.Errorf("n_predict %d leaves no room for a prompt in the %d-token context", nPredict, m.ContextSize())
	}
	var head []int
	if tok.AddBOSDefault() && tok.BOS() >= 0 {
		head = append(head, tok.BOS())
	}
	enc := func(s string) []int { return tok.Encode(s, glassbox.EncodeOptions{}) }
	pre, suf, mid, ok := tok.FIM()
	if !ok {
		p := enc(prefix)
		if n := room - len(head); len(p) > n {
			p = p[len(p)-n:]
		}
		return Prompt{IDs: append(head, p...)}, nil
	}
	room -= len(head) + 3
	s := enc(suffix)
	if n := room / 4; len(s) > n {
		s = s[:n]
	}
	p := enc(prefix)
	if n := room - len(s); len(p) > n {
		p = p[len(p)-n:]
	}
	ids := append(head, pre)
	ids = append(ids, p...)
	ids = append(ids, suf)
	ids = append(ids, s...)
	ids = append(ids, mid)
	return Prompt{IDs: ids, FIM: true}, nil
}

type completionParams struct {
	TextDocument struct {
		URI string `json:"uri"`
	} `json:"textDocument"`
	Position Position `json:"position"`
}

// CompletionItem is an item of textDocument/completion.
type CompletionItem struct {
	Label      string    `json:"label"`
	Kind       int       `json:"kind"`
	Detail     string    `json:"detail"`
	FilterText string    `json:"filterText"`
	InsertText string    `json:"insertText"`
	TextEdit   *TextEdit `json:"textEdit"`
	Doc        string    `json:"documentation,omitempty"`
}

// TextEdit replaces Range with NewText.
type TextEdit struct {
	Range   Range  `json:"range"`
	NewText string `json:"newText"`
}

// InlineCompletionItem is an item of textDocument/inlineCompletion.
type InlineCompletionItem struct {
	InsertText string `json:"insertText"`
	Range      Range  `json:"range"`
}

func (s *Server) complete(ctx context.Context, m *Message) {
	var p completionParams
	if err := json.Unmarshal(m.Params, &p); err != nil {
		s.reply(m.ID, nil, invalidParams(m.Method, err))
		return
	}
	s.mu.Lock()
	text, ok := s.docs[p.TextDocument.URI]
	model, st := s.model, s.settings
	s.mu.Unlock()
	if !ok {
		s.reply(m.ID, nil, &ResponseError{Code: CodeInvalidParams, Message: m.Method + ": " + p.TextDocument.URI + " is not open (send textDocument/didOpen first)"})
		return
	}
	at, err := offset(text, p.Position)
	if err != nil {
		s.reply(m.ID, nil, invalidParams(m.Method, err))
		return
	}
	prefix, suffix := window(text, at, st.MaxPrefixLines, st.MaxSuffixLines)
	prompt, err := BuildPrompt(model, prefix, suffix, st.NPredict)
	if err != nil {
		s.reply(m.ID, nil, &ResponseError{Code: CodeRequestFailed, Message: err.Error()})
		return
	}
	cctx, cancel := context.WithCancel(ctx)
	key := string(m.ID)
	s.mu.Lock()
	s.running[key] = cancel
	s.mu.Unlock()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer func() {
			s.mu.Lock()
			delete(s.running, key)
			s.mu.Unlock()
			cancel()
		}()
		var sp glassbox.SamplerParams
		if st.Temperature > 0 {
			sp = glassbox.DefaultSamplerParams()
			sp.Temperature = float32(st.Temperature)
		}
		res, err := model.GenerateIDs(cctx, prompt.IDs, glassbox.GenerateOptions{MaxTokens: st.NPredict, Sampler: sp})
		if err != nil {
			if errors.Is(err, context.Canceled) {
				s.reply(m.ID, nil, &ResponseError{Code: CodeRequestCancelled, Message: "the request was cancelled"})
				return
			}
			s.reply(m.ID, nil, &ResponseError{Code: CodeRequestFailed, Message: err.Error()})
			return
		}
		completion := trimCompletion(res.Text, suffix)
		cur := p.Position
		if m.Method == "textDocument/inlineCompletion" {
			items := []InlineCompletionItem{}
			if strings.TrimSpace(completion) != "" {
				items = append(items, InlineCompletionItem{InsertText: completion, Range: Range{Start: cur, End: cur}})
			}
			s.reply(m.ID, map[string]any{"items": items}, nil)
			return
		}
		items := []CompletionItem{}
		if item, ok := completionItem(prefix, completion, cur, prompt.FIM); ok {
			items = append(items, item)
		}
		s.reply(m.ID, map[string]any{"isIncomplete": true, "items": items}, nil)
	}()
}

// trimCompletion drops trailing white space and, when the completion ends
// by repeating the start of the suffix, that repetition.
func trimCompletion(text, suffix string) string {
	text = strings.TrimRightFunc(text, unicode.IsSpace)
	if first := strings.TrimSpace(strings.SplitN(suffix, "\n", 2)[0]); first != "" {
		if i := strings.LastIndex(text, first); i >= 0 && strings.TrimSpace(text[i+len(first):]) == "" && i > 0 {
			text = strings.TrimRightFunc(text[:i], unicode.IsSpace)
		}
	}
	return text
}

// completionItem makes the item of a completion: the word being typed at
// the cursor followed by the completion's first non-empty line, replacing
// that word (so that clients filtering by it keep the item).
func completionItem(prefix, completion string, cur Position, fim bool) (CompletionItem, bool) {
	line := completion
	if i := strings.IndexByte(completion, '\n'); i >= 0 {
		if strings.TrimSpace(completion[:i]) != "" {
			line = completion[:i]
		} else {
			// the completion starts on the next line: keep the break and that line
			rest := completion[i+1:]
			if j := strings.IndexByte(rest, '\n'); j >= 0 {
				rest = rest[:j]
			}
			line = completion[:i+1] + rest
		}
	}
	line = strings.TrimRightFunc(line, unicode.IsSpace)
	if strings.TrimSpace(line) == "" {
		return CompletionItem{}, false
	}
	lastLine := prefix[strings.LastIndexByte(prefix, '\n')+1:]
	word := lastLine[len(strings.TrimRightFunc(lastLine, isWordRune)):]
	start := Position{Line: cur.Line, Character: cur.Character - utf16Len(word)}
	detail := "glassbox: fill-in-the-middle"
	if !fim {
		detail = "glassbox: prefix completion (the model has no FIM tokens)"
	}
	label := strings.TrimSpace(word + line)
	return CompletionItem{Label: label, Kind: 1, Detail: detail, FilterText: word + strings.TrimLeft(line, "\n"), InsertText: word + line,
		TextEdit: &TextEdit{Range: Range{Start: start, End: cur}, NewText: word + line}, Doc: completion}, true
}

func isWordRune(r rune) bool { return r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) }
