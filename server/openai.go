package server

import (
	"context"
	"errors"
	"math"
	"net/http"
	"strconv"
	"time"

	"glassbox"
)

// noSpecial tokenizes client text without BOS and without parsing special tokens.
var noSpecial = glassbox.EncodeOptions{}

// Response shapes of the OpenAI API.

type chatLogprobs struct {
	Content []chatLogprob `json:"content"`
	Refusal []chatLogprob `json:"refusal"`
}

type chatLogprob struct {
	Token       string           `json:"token"`
	Logprob     float64          `json:"logprob"`
	Bytes       []int            `json:"bytes"`
	TopLogprobs []chatTopLogprob `json:"top_logprobs"`
}

type chatTopLogprob struct {
	Token   string  `json:"token"`
	Logprob float64 `json:"logprob"`
	Bytes   []int   `json:"bytes"`
}

type chatMessageOut struct {
	Role             string         `json:"role"`
	Content          *string        `json:"content"` // null in a reply made only of tool calls
	ReasoningContent string         `json:"reasoning_content,omitempty"`
	ToolCalls        []ChatToolCall `json:"tool_calls,omitempty"`
	Refusal          *string        `json:"refusal"`
}

// messageOut is the reply message of an assistant message.
func messageOut(m glassbox.Message) chatMessageOut {
	out := chatMessageOut{Role: "assistant", ReasoningContent: m.ReasoningContent}
	if m.Content != "" || len(m.ToolCalls) == 0 {
		c := m.Content
		out.Content = &c
	}
	for _, c := range m.ToolCalls {
		out.ToolCalls = append(out.ToolCalls, ChatToolCall{ID: c.ID, Type: "function", Function: ChatToolFunction{Name: c.Function.Name, Arguments: c.Function.Arguments}})
	}
	return out
}

type chatChoice struct {
	Index        int            `json:"index"`
	Message      chatMessageOut `json:"message"`
	Logprobs     *chatLogprobs  `json:"logprobs"`
	FinishReason string         `json:"finish_reason"`
}

type chatCompletion struct {
	ID                string       `json:"id"`
	Object            string       `json:"object"`
	Created           int64        `json:"created"`
	Model             string       `json:"model"`
	SystemFingerprint string       `json:"system_fingerprint"`
	Choices           []chatChoice `json:"choices"`
	Usage             usage        `json:"usage"`
}

type chatDelta struct {
	Role             string          `json:"role,omitempty"`
	Content          *string         `json:"content,omitempty"`
	ReasoningContent *string         `json:"reasoning_content,omitempty"`
	ToolCalls        []toolCallDelta `json:"tool_calls,omitempty"`
}

// toolCallDelta is a streamed piece of a tool call, as OpenAI streams them:
// the first of a call has its index, id, type, name and empty arguments,
// the next ones fragments of the arguments.
type toolCallDelta struct {
	Index    int               `json:"index"`
	ID       string            `json:"id,omitempty"`
	Type     string            `json:"type,omitempty"`
	Function toolFunctionDelta `json:"function"`
}

type toolFunctionDelta struct {
	Name      string `json:"name,omitempty"`
	Arguments string `json:"arguments"`
}

// chatDeltas turns a parsed piece of the reply into stream deltas: its
// reasoning, its content, then each tool call's (a call's first delta is
// its header with empty arguments, its arguments follow in their own).
func chatDeltas(d glassbox.ChatDelta) []chatDelta {
	var out []chatDelta
	if d.Reasoning != "" {
		r := d.Reasoning
		out = append(out, chatDelta{ReasoningContent: &r})
	}
	if d.Content != "" {
		c := d.Content
		out = append(out, chatDelta{Content: &c})
	}
	for _, c := range d.ToolCalls {
		if c.Name != "" {
			out = append(out, chatDelta{ToolCalls: []toolCallDelta{{Index: c.Index, ID: c.ID, Type: "function", Function: toolFunctionDelta{Name: c.Name}}}})
		}
		if c.Arguments != "" {
			out = append(out, chatDelta{ToolCalls: []toolCallDelta{{Index: c.Index, Function: toolFunctionDelta{Arguments: c.Arguments}}}})
		}
	}
	return out
}

type chatChunkChoice struct {
	Index        int           `json:"index"`
	Delta        chatDelta     `json:"delta"`
	Logprobs     *chatLogprobs `json:"logprobs"`
	FinishReason *string       `json:"finish_reason"`
}

type chatChunk struct {
	ID                string            `json:"id"`
	Object            string            `json:"object"`
	Created           int64             `json:"created"`
	Model             string            `json:"model"`
	SystemFingerprint string            `json:"system_fingerprint"`
	Choices           []chatChunkChoice `json:"choices"`
	Usage             *usage            `json:"usage,omitempty"`
}

// chatLogprob builds the logprobs entry of a generated token.
func (e *entry) chatLogprob(t glassbox.Token, top int) chatLogprob {
	text, b := e.tokenText(t.Prev, t.ID)
	lp := chatLogprob{Token: text, Logprob: safeLogProb(t.LogProb), Bytes: b, TopLogprobs: []chatTopLogprob{}}
	for _, c := range t.Top[:min(top, len(t.Top))] {
		ct, cb := e.tokenText(t.Prev, c.ID)
		lp.TopLogprobs = append(lp.TopLogprobs, chatTopLogprob{Token: ct, Logprob: safeLogProb(c.LogProb), Bytes: cb})
	}
	return lp
}

func (s *Server) chatCompletions(w http.ResponseWriter, r *http.Request) error {
	start := time.Now()
	var req ChatRequest
	g, e, err := s.beginGeneration(r, &req)
	if err != nil {
		return err
	}
	copts, err := req.chatOptions()
	if err != nil {
		return err
	}
	ids, p, err := s.chatPromptTools(r.Context(), e, req.Messages, copts)
	if err != nil {
		return err
	}
	g.special = p.Special
	if p.Grammar != "" {
		if g.grammar != "" {
			return badRequest("tool_choice", "a 'tool_choice' that forces a call constrains the reply to the call syntax: it cannot be combined with 'response_format', 'grammar' or 'json_schema'")
		}
		g.grammar = p.Grammar
	}
	if req.Glassbox != nil && req.Glassbox.Dissect {
		if g.n != 1 {
			return badRequest("n", "invalid value for 'n': a dissected reply has one choice")
		}
		return s.streamDissection(r.Context(), w, e, ids, p.Text, &g, req.Glassbox.Trace, start)
	}
	if err := contextError(e, len(ids)); err != nil {
		return err
	}
	if err := s.slotFit(e, len(ids), g.maxTokens); err != nil {
		return err
	}
	sl, err := s.acquire(r.Context(), e, g.slotKey(ids))
	if err != nil {
		return err
	}
	defer e.pool.release(sl)

	id, created := newID("chatcmpl-"), time.Now().Unix()
	if g.stream {
		return s.streamChat(r.Context(), w, e, sl, ids, p, &g, id, created, start)
	}
	out := chatCompletion{ID: id, Object: "chat.completion", Created: created, Model: e.name, SystemFingerprint: systemFingerprint}
	for i := range g.n {
		res, err := s.run(r.Context(), e, sl, genJob{ids, g.seedFor(i)}, &g, start, nil)
		if err != nil {
			return err
		}
		start = time.Time{}
		rd := p.NewReader()
		rd.Add(res.Text)
		_, msg, fr := rd.Finish(res.FinishReason)
		c := chatChoice{Index: i, Message: messageOut(msg), FinishReason: fr}
		if g.logprobs {
			c.Logprobs = &chatLogprobs{Content: []chatLogprob{}, Refusal: nil}
			for _, t := range res.Tokens {
				if !e.isEOG(t.ID) {
					c.Logprobs.Content = append(c.Logprobs.Content, e.chatLogprob(t, g.topProbs))
				}
			}
		}
		out.Choices = append(out.Choices, c)
		out.Usage.add(len(ids)*btoi(i == 0), len(res.IDs))
		out.Usage.cached(res.Timings.CachedTokens * btoi(i == 0))
		noteTokens(r.Context(), e.name, len(ids)*btoi(i == 0), len(res.IDs))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (s *Server) streamChat(ctx context.Context, w http.ResponseWriter, e *entry, sl *slot, ids []int, p *glassbox.ChatPrompt, g *genParams, id string, created int64, start time.Time) error {
	st := newSSE(w)
	chunk := func(c chatChunkChoice) chatChunk {
		return chatChunk{ID: id, Object: "chat.completion.chunk", Created: created, Model: e.name, SystemFingerprint: systemFingerprint, Choices: []chatChunkChoice{c}}
	}
	var u usage
	for i := range g.n {
		empty := ""
		if err := st.send(chunk(chatChunkChoice{Index: i, Delta: chatDelta{Role: "assistant", Content: &empty}})); err != nil {
			return err
		}
		rd := p.NewReader()
		// send writes the deltas of a parsed piece; logprobs go with the
		// first chunk (or alone, when the piece adds nothing yet)
		send := func(d glassbox.ChatDelta, lp *chatLogprobs) error {
			deltas := chatDeltas(d)
			if len(deltas) == 0 && lp != nil {
				deltas = []chatDelta{{}}
			}
			for k, delta := range deltas {
				c := chatChunkChoice{Index: i, Delta: delta}
				if k == 0 {
					c.Logprobs = lp
				}
				if err := st.send(chunk(c)); err != nil {
					return err
				}
			}
			return nil
		}
		sent := 0
		res, err := s.run(ctx, e, sl, genJob{ids, g.seedFor(i)}, g, start, func(t glassbox.Token) error {
			if e.isEOG(t.ID) || (t.Text == "" && !g.logprobs) {
				return nil
			}
			var lp *chatLogprobs
			if g.logprobs {
				lp = &chatLogprobs{Content: []chatLogprob{e.chatLogprob(t, g.topProbs)}}
			}
			sent += len(t.Text)
			return send(rd.Add(t.Text), lp)
		})
		if err != nil {
			return st.failed(ctx, err)
		}
		start = time.Time{}
		if rest := res.Text[min(sent, len(res.Text)):]; rest != "" {
			if err := send(rd.Add(rest), nil); err != nil {
				return err
			}
		}
		d, _, fr := rd.Finish(res.FinishReason)
		if err := send(d, nil); err != nil {
			return err
		}
		if err := st.send(chunk(chatChunkChoice{Index: i, FinishReason: &fr})); err != nil {
			return err
		}
		u.add(len(ids)*btoi(i == 0), len(res.IDs))
		u.cached(res.Timings.CachedTokens * btoi(i == 0))
		noteTokens(ctx, e.name, len(ids)*btoi(i == 0), len(res.IDs))
	}
	if g.usage {
		c := chunk(chatChunkChoice{})
		c.Choices = []chatChunkChoice{}
		c.Usage = &u
		if err := st.send(c); err != nil {
			return err
		}
	}
	return st.done()
}

// completionLogprobs is the logprobs object of the legacy completions API.
// completionLogprobs are the logprobs of a legacy completion; with echo
// they begin with the prompt's tokens, the first of which has no
// log-probability (null), as OpenAI and vLLM write it.
type completionLogprobs struct {
	Tokens        []string             `json:"tokens"`
	TokenLogprobs []*float64           `json:"token_logprobs"`
	TopLogprobs   []map[string]float64 `json:"top_logprobs"`
	TextOffset    []int                `json:"text_offset"`
}

func (l *completionLogprobs) add(e *entry, t glassbox.Token, top, offset int) {
	text, _ := e.tokenText(t.Prev, t.ID)
	l.Tokens = append(l.Tokens, text)
	lp := safeLogProb(t.LogProb)
	l.TokenLogprobs = append(l.TokenLogprobs, &lp)
	m := make(map[string]float64, top)
	for _, c := range t.Top[:min(top, len(t.Top))] {
		ct, _ := e.tokenText(t.Prev, c.ID)
		if _, dup := m[ct]; !dup { // two ids may print alike: keep the likelier
			m[ct] = safeLogProb(c.LogProb)
		}
	}
	l.TopLogprobs = append(l.TopLogprobs, m)
	l.TextOffset = append(l.TextOffset, offset)
}

func newCompletionLogprobs() *completionLogprobs {
	return &completionLogprobs{Tokens: []string{}, TokenLogprobs: []*float64{}, TopLogprobs: []map[string]float64{}, TextOffset: []int{}}
}

type completionChoice struct {
	Text         string              `json:"text"`
	Index        int                 `json:"index"`
	Logprobs     *completionLogprobs `json:"logprobs"`
	FinishReason *string             `json:"finish_reason"`
}

type completion struct {
	ID                string             `json:"id"`
	Object            string             `json:"object"`
	Created           int64              `json:"created"`
	Model             string             `json:"model"`
	SystemFingerprint string             `json:"system_fingerprint"`
	Choices           []completionChoice `json:"choices"`
	Usage             *usage             `json:"usage,omitempty"`
}

// completionPrompt is one tokenized prompt of a completion request.
type completionPrompt struct {
	ids  []int
	echo string // the prompt's text, for echo
}

func (s *Server) completionPrompts(e *entry, req *CompletionRequest) ([]completionPrompt, error) {
	out := make([]completionPrompt, len(req.Prompt))
	promptOnly := req.Echo && req.MaxTokens != nil && *req.MaxTokens == 0
	for i, p := range req.Prompt {
		switch {
		case req.Suffix != nil:
			if p.IDs != nil {
				return nil, badRequest("prompt", "'suffix' needs a text prompt (the code before the cursor), not token ids")
			}
			ids, err := fimPrompt(e, p.Text, *req.Suffix, "")
			if err != nil {
				return nil, err
			}
			out[i] = completionPrompt{ids: ids}
		case p.IDs != nil:
			if len(p.IDs) == 0 {
				return nil, badRequest("prompt", "invalid value for 'prompt': prompt %d is an empty array of tokens", i)
			}
			if err := checkIDs(e, p.IDs, "prompt"); err != nil {
				return nil, err
			}
			out[i] = completionPrompt{ids: p.IDs, echo: e.model.Tokenizer().Decode(p.IDs)}
		default:
			ids := e.model.Encode(p.Text, glassbox.GenerateOptions{})
			if len(ids) == 0 {
				return nil, badRequest("prompt", "invalid value for 'prompt': prompt %d has no tokens (an empty string and no BOS token)", i)
			}
			out[i] = completionPrompt{ids: ids, echo: p.Text}
		}
		if promptOnly && len(out[i].ids) <= e.model.ContextSize() {
			continue // scored, not continued: it may fill the context
		}
		if err := contextError(e, len(out[i].ids)); err != nil {
			err.(*APIError).Param = "prompt"
			return nil, err
		}
	}
	return out, nil
}

func (s *Server) completions(w http.ResponseWriter, r *http.Request) error {
	start := time.Now()
	var req CompletionRequest
	g, e, err := s.beginGeneration(r, &req)
	if err != nil {
		return err
	}
	prompts, err := s.completionPrompts(e, &req)
	if err != nil {
		return err
	}
	for _, p := range prompts {
		if g.promptOnly {
			break // scored, not continued: no slot's cache holds it
		}
		if err := s.slotFit(e, len(p.ids), g.maxTokens); err != nil {
			return err
		}
	}
	sl, err := s.acquire(r.Context(), e, g.slotKey(prompts[0].ids))
	if err != nil {
		return err
	}
	defer e.pool.release(sl)

	out := completion{ID: newID("cmpl-"), Object: "text_completion", Created: time.Now().Unix(), Model: e.name, SystemFingerprint: systemFingerprint, Choices: []completionChoice{}}
	var u usage
	st := streamIf(g.stream, w)
	send := func(c completionChoice) error {
		ch := out
		ch.Choices = []completionChoice{c}
		return st.send(ch)
	}
	for pi, p := range prompts {
		var promptLP *completionLogprobs // the prompt's, with echo and logprobs
		if req.Echo && g.logprobs {
			if promptLP, err = s.promptLogprobs(r.Context(), e, p, g.topProbs); err != nil {
				return st.failed(r.Context(), err)
			}
		}
		for j := range g.n {
			index := pi*g.n + j
			prefix := ""
			if req.Echo {
				prefix = p.echo
			}
			var lp *completionLogprobs
			if g.logprobs {
				lp = newCompletionLogprobs()
				if promptLP != nil {
					lp.append(promptLP)
				}
			}
			offset := len(prefix)
			if g.promptOnly {
				// the prompt scored, nothing generated
				fr := glassbox.FinishLength
				u.add(len(p.ids)*btoi(j == 0), 0)
				noteTokens(r.Context(), e.name, len(p.ids)*btoi(j == 0), 0)
				c := completionChoice{Text: prefix, Index: index, Logprobs: lp, FinishReason: &fr}
				if st != nil {
					if err := send(c); err != nil {
						return err
					}
					continue
				}
				out.Choices = append(out.Choices, c)
				continue
			}
			if st != nil && (prefix != "" || promptLP != nil) {
				var plp *completionLogprobs
				if promptLP != nil {
					plp = newCompletionLogprobs()
					plp.append(promptLP)
				}
				if err := send(completionChoice{Text: prefix, Index: index, Logprobs: plp}); err != nil {
					return err
				}
			}
			res, err := s.run(r.Context(), e, sl, genJob{p.ids, g.seedFor(index)}, &g, start, func(t glassbox.Token) error {
				if e.isEOG(t.ID) {
					return nil
				}
				var tl *completionLogprobs
				if lp != nil {
					tl = lp
					if st != nil {
						tl = newCompletionLogprobs()
					}
					tl.add(e, t, g.topProbs, offset)
				}
				offset += len(t.Text)
				if st == nil || (t.Text == "" && tl == nil) {
					return nil
				}
				return send(completionChoice{Text: t.Text, Index: index, Logprobs: tl})
			})
			if err != nil {
				return st.failed(r.Context(), err)
			}
			start = time.Time{}
			fr := res.FinishReason
			u.add(len(p.ids)*btoi(j == 0), len(res.IDs))
			u.cached(res.Timings.CachedTokens * btoi(j == 0))
			noteTokens(r.Context(), e.name, len(p.ids)*btoi(j == 0), len(res.IDs))
			if st != nil {
				streamed := offset - len(prefix)
				if err := send(completionChoice{Text: res.Text[min(streamed, len(res.Text)):], Index: index, FinishReason: &fr}); err != nil {
					return err
				}
				continue
			}
			out.Choices = append(out.Choices, completionChoice{Text: prefix + res.Text, Index: index, Logprobs: lp, FinishReason: &fr})
		}
	}
	if st != nil {
		if g.usage {
			ch := out
			ch.Usage = &u
			if err := st.send(ch); err != nil {
				return err
			}
		}
		return st.done()
	}
	out.Usage = &u
	writeJSON(w, http.StatusOK, out)
	return nil
}

// append adds o's entries after l's.
func (l *completionLogprobs) append(o *completionLogprobs) {
	l.Tokens = append(l.Tokens, o.Tokens...)
	l.TokenLogprobs = append(l.TokenLogprobs, o.TokenLogprobs...)
	l.TopLogprobs = append(l.TopLogprobs, o.TopLogprobs...)
	l.TextOffset = append(l.TextOffset, o.TextOffset...)
}

// promptLogprobs scores a prompt for echo with logprobs: each token's
// log-probability given the tokens before it (null for the first, which
// has none) and the top alternatives at its position, from one forward
// pass over the prompt with a KV cache of its own (the model's Scorer, the
// computation behind glassbox eval perplexity). Offsets are byte offsets
// in the echoed text.
func (s *Server) promptLogprobs(ctx context.Context, e *entry, p completionPrompt, top int) (*completionLogprobs, error) {
	sc, err := e.model.NewScorer(len(p.ids))
	if err != nil {
		if errors.Is(err, glassbox.ErrMemory) {
			return nil, &APIError{Status: http.StatusServiceUnavailable, Type: "server_error", Code: "out_of_memory",
				Message: "not enough memory to score the prompt's " + strconv.Itoa(len(p.ids)) + " tokens: " + err.Error()}
		}
		return nil, err
	}
	out := newCompletionLogprobs()
	offset := 0
	for i, id := range p.ids {
		prev := -1
		if i > 0 {
			prev = p.ids[i-1]
		}
		text, _ := e.tokenText(prev, id)
		if e.model.Tokenizer().IsSpecial(id) {
			text = e.model.Tokenizer().Piece(id) // BOS and other control tokens, as their piece
		}
		out.Tokens = append(out.Tokens, text)
		out.TextOffset = append(out.TextOffset, min(offset, len(p.echo)))
		if !e.model.Tokenizer().IsSpecial(id) {
			offset += len(text)
		}
	}
	out.TokenLogprobs = make([]*float64, len(p.ids))
	out.TopLogprobs = make([]map[string]float64, len(p.ids))
	// row i predicts token i+1
	err = sc.Rows(ctx, p.ids[:len(p.ids)-1], func(i int, row []float32) error {
		next := p.ids[i+1]
		lse := logSumExp(row)
		lp := safeLogProb64(float64(row[next]) - lse)
		out.TokenLogprobs[i+1] = &lp
		m := make(map[string]float64, top)
		for _, id := range topIDs(row, top) {
			ct, _ := e.tokenText(p.ids[i], id)
			if _, dup := m[ct]; !dup {
				m[ct] = safeLogProb64(float64(row[id]) - lse)
			}
		}
		out.TopLogprobs[i+1] = m
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// safeLogProb64 is safeLogProb without rounding to float32.
func safeLogProb64(x float64) float64 {
	if math.IsNaN(x) || x < -9999 {
		return -9999
	}
	return x
}

// logSumExp is log Σ exp(x), computed in float64.
func logSumExp(row []float32) float64 {
	mx := math.Inf(-1)
	for _, v := range row {
		mx = math.Max(mx, float64(v))
	}
	var sum float64
	for _, v := range row {
		sum += math.Exp(float64(v) - mx)
	}
	return mx + math.Log(sum)
}

// topIDs returns the ids of the k largest values of row, largest first
// (lowest id first on ties).
func topIDs(row []float32, k int) []int {
	k = min(k, len(row))
	out := make([]int, 0, k+1)
	for id, v := range row {
		if len(out) == k && (k == 0 || v <= row[out[k-1]]) {
			continue
		}
		j := len(out)
		out = append(out, id)
		for j > 0 && row[out[j-1]] < v {
			out[j] = out[j-1]
			j--
		}
		out[j] = id
		if len(out) > k {
			out = out[:k]
		}
	}
	return out
}

// fimPrompt builds a fill-in-the-middle prompt in llama.cpp's prefix-suffix-middle
// order: [BOS] FIM_PRE prefix FIM_SUF suffix FIM_MID middle.
func fimPrompt(e *entry, prefix, suffix, middle string) ([]int, error) {
	tok := e.model.Tokenizer()
	pre, suf, mid, ok := tok.FIM()
	if !ok {
		return nil, badRequest("suffix", "the model %s has no fill-in-the-middle tokens (tokenizer.ggml.fim_pre_token_id, fim_suf_token_id and fim_mid_token_id in its GGUF file): it cannot complete code between a prefix and a suffix; use a code model trained for FIM", e.name)
	}
	var ids []int
	if tok.AddBOSDefault() && tok.BOS() >= 0 {
		ids = append(ids, tok.BOS())
	}
	enc := func(text string) {
		if text != "" {
			ids = append(ids, tok.Encode(text, noSpecial)...)
		}
	}
	ids = append(ids, pre)
	enc(prefix)
	ids = append(ids, suf)
	enc(suffix)
	ids = append(ids, mid)
	enc(middle)
	return ids, nil
}
