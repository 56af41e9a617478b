package server

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"glassbox"
)

// InfillRequest is the body of llama.cpp's POST /infill, as llama.vim and
// llama.vscode send it: the code before and after the cursor, the text of
// the cursor's line before it (prompt), other files as extra context, and the
// limits of an editor's completion.
type InfillRequest struct {
	Model       string        `json:"model"`
	InputPrefix string        `json:"input_prefix"`
	InputSuffix string        `json:"input_suffix"`
	InputExtra  []InfillChunk `json:"input_extra"`
	Prompt      string        `json:"prompt"`
	SamplingFields
	NPredict *int     `json:"n_predict"`
	Stop     StopList `json:"stop"`
	Stream   bool     `json:"stream"`
	NProbs   *int     `json:"n_probs"`
	// NIndent ends the completion at the first new line indented less than
	// this many spaces or tabs, the line cut after its indentation (llama.cpp).
	NIndent int `json:"n_indent"`
	// TMaxPromptMS is accepted for llama.vim; the prompt is always processed
	// whole (its cost is in timings.prompt_ms).
	TMaxPromptMS int `json:"t_max_prompt_ms"`
	// TMaxPredictMS ends the completion once this many milliseconds have
	// passed since the first token and a new line has been generated.
	TMaxPredictMS int `json:"t_max_predict_ms"`
	// ResponseFields keeps only these fields of the answer; a path a/b
	// lifts field b of object a to the top level under the name "a/b".
	ResponseFields []string `json:"response_fields"`
}

// InfillChunk is one extra file of input_extra.
type InfillChunk struct {
	Filename string  `json:"filename"`
	Text     *string `json:"text"`
}

func (r *InfillRequest) validate() (genParams, error) {
	var g genParams
	var err error
	if g.sampler, g.seeded, err = r.SamplingFields.params(); err != nil {
		return g, err
	}
	if _, err = r.SamplingFields.speculative(nil); err != nil {
		return g, err
	}
	g.fields = &r.SamplingFields
	g.ignoreEOS, g.bias = r.IgnoreEOS, r.LogitBias
	g.noCache = r.CachePrompt != nil && !*r.CachePrompt
	if g.grammar, err = r.SamplingFields.grammar(); err != nil {
		return g, err
	}
	if r.NPredict != nil {
		if *r.NPredict < -1 {
			return g, badRequest("n_predict", "invalid value for 'n_predict': expected -1 (no limit), 0 (a warm-up call that only fills the cache) or an integer >= 1, got %d", *r.NPredict)
		}
		g.maxTokens = max(*r.NPredict, 0)
	}
	if len(r.Stop) > maxStops {
		return g, badRequest("stop", "invalid value for 'stop': at most %d stop strings, got %d", maxStops, len(r.Stop))
	}
	g.stop, g.n, g.stream = r.Stop, 1, r.Stream
	if r.NProbs != nil {
		if *r.NProbs < 0 || *r.NProbs > maxTopProbs {
			return g, badRequest("n_probs", "invalid value for 'n_probs': expected an integer between 0 and %d, got %d", maxTopProbs, *r.NProbs)
		}
		g.logprobs, g.topProbs = *r.NProbs > 0, *r.NProbs
	}
	for i, c := range r.InputExtra {
		if c.Text == nil {
			return g, badRequest("input_extra", "invalid value for 'input_extra': chunk %d has no text: expected {\"filename\": string, \"text\": string}", i)
		}
	}
	for _, f := range []struct {
		name string
		v    int
	}{{"n_indent", r.NIndent}, {"t_max_prompt_ms", r.TMaxPromptMS}, {"t_max_predict_ms", r.TMaxPredictMS}} {
		if f.v < 0 {
			return g, badRequest(f.name, "invalid value for '%s': expected an integer >= 0 (0: off), got %d", f.name, f.v)
		}
	}
	for _, f := range r.ResponseFields {
		if f == "" || strings.HasPrefix(f, "/") || strings.HasSuffix(f, "/") || strings.Contains(f, "//") {
			return g, badRequest("response_fields", "invalid value for 'response_fields': %q is not a field name or a path such as timings/prompt_ms", f)
		}
	}
	return g, nil
}

// infillPrompt lays out an /infill request as llama.cpp's format_infill
// does: the extra chunks first (after <|repo_name|>myproject when the model
// has that token, each as <|file_sep|>FILENAME then its text, or after a
// "--- snippet ---" line without <|file_sep|>, then <|file_sep|>filename for
// the current file), then [BOS] FIM_PRE prefix+prompt FIM_SUF suffix FIM_MID.
// The prefix keeps at most 3/4 of a batch of tokens (its end), the suffix
// the rest of the batch (its start), and the extra context what is left of
// the context (of a slot) after a batch and twice n_predict (its end). truncated says
// whether anything was cut.
func infillPrompt(e *entry, req *InfillRequest, nPredict int) (ids []int, truncated bool, err error) {
	tok := e.model.Tokenizer()
	pre, suf, mid, ok := tok.FIM()
	if !ok {
		return nil, false, badRequest("input_prefix", "the model %s has no fill-in-the-middle tokens (tokenizer.ggml.fim_pre_token_id, fim_suf_token_id and fim_mid_token_id in its GGUF file): it cannot complete code between a prefix and a suffix; use a code model trained for FIM", e.name)
	}
	enc := func(text string) []int { return tok.Encode(text, noSpecial) }
	rep, sep := tok.FIMRepo(), tok.FIMSep()
	var extra []int
	if rep >= 0 {
		extra = append(append(extra, rep), enc("myproject\n")...)
	}
	for _, c := range req.InputExtra {
		if sep >= 0 {
			name := c.Filename
			if name == "" {
				name = "tmp"
			}
			extra = append(append(extra, sep), enc(name+"\n")...)
		} else {
			extra = append(extra, enc("\n\n--- snippet ---\n\n")...)
		}
		extra = append(extra, enc(*c.Text)...)
	}
	if sep >= 0 {
		extra = append(append(extra, sep), enc("filename\n")...)
	}
	prefix, suffix, prompt := enc(req.InputPrefix), enc(req.InputSuffix), enc(req.Prompt)
	ctx := e.slotPositions()
	batch := min(e.model.Batch(), ctx)
	nPre := min(len(prefix), 3*(batch/4))
	nSuf := min(len(suffix), max(0, batch/4-(2+len(prompt))))
	nExtra := min(max(0, ctx-batch-2*nPredict), len(extra))
	truncated = nPre < len(prefix) || nSuf < len(suffix) || nExtra < len(extra)
	if len(extra) > 0 && nExtra == 0 {
		truncated = true
	}
	ids = append(ids, extra[len(extra)-nExtra:]...)
	if tok.AddBOSDefault() && tok.BOS() >= 0 {
		ids = append(ids, tok.BOS())
	}
	ids = append(ids, pre)
	ids = append(ids, prefix[len(prefix)-nPre:]...)
	ids = append(ids, prompt...)
	ids = append(ids, suf)
	ids = append(ids, suffix[:nSuf]...)
	ids = append(ids, mid)
	return ids, truncated, nil
}

// indentCut follows the text of a completion for n_indent and
// t_max_predict_ms: it says where the text must end.
type indentCut struct {
	nIndent    int
	maxPredict time.Duration
	first      time.Time
	text       strings.Builder
	lastNL     int              // the start of the line after the last new line seen, 0 if none
	now        func() time.Time // the clock (time.Now when nil)
}

func (c *indentCut) clock() time.Time {
	if c.now != nil {
		return c.now()
	}
	return time.Now()
}

// add takes the next token's text and returns the part of it to keep and
// whether the completion ends there.
func (c *indentCut) add(piece string) (keep string, stop bool) {
	if c.first.IsZero() {
		c.first = c.clock()
	}
	start := c.text.Len()
	c.text.WriteString(piece)
	s := c.text.String()
	if c.nIndent > 0 {
		for c.lastNL > 0 || strings.IndexByte(s, '\n') >= 0 {
			if c.lastNL > 0 {
				pos, n := c.lastNL, 0
				for pos < len(s) && (s[pos] == ' ' || s[pos] == '\t') {
					pos++
					n++
				}
				if pos < len(s) && n < c.nIndent {
					return s[start:max(pos, start)], true
				}
			}
			i := strings.IndexByte(s[c.lastNL:], '\n')
			if i < 0 {
				break
			}
			c.lastNL += i + 1
		}
	}
	if c.maxPredict > 0 && c.clock().Sub(c.first) > c.maxPredict && strings.IndexByte(s, '\n') >= 0 {
		return piece, true
	}
	return piece, false
}

// selectFields applies response_fields to an answer.
func selectFields(v any, fields []string) (any, error) {
	if len(fields) == 0 {
		return v, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var all map[string]any
	if err := json.Unmarshal(b, &all); err != nil {
		return nil, err
	}
	out := map[string]any{}
	for _, f := range fields {
		var cur any = all
		found := true
		for _, part := range strings.Split(f, "/") {
			m, ok := cur.(map[string]any)
			if !ok {
				found = false
				break
			}
			if cur, ok = m[part]; !ok {
				found = false
				break
			}
		}
		if found {
			out[f] = cur
		}
	}
	return out, nil
}

// llamaProb is an entry of llama.cpp's completion_probabilities.
type llamaProb struct {
	ID          int            `json:"id"`
	Token       string         `json:"token"`
	Bytes       []int          `json:"bytes"`
	Logprob     float64        `json:"logprob"`
	TopLogprobs []llamaTopProb `json:"top_logprobs"`
}

type llamaTopProb struct {
	ID      int     `json:"id"`
	Token   string  `json:"token"`
	Bytes   []int   `json:"bytes"`
	Logprob float64 `json:"logprob"`
}

type llamaTimings struct {
	PromptN             int     `json:"prompt_n"`
	PromptMS            float64 `json:"prompt_ms"`
	PromptPerTokenMS    float64 `json:"prompt_per_token_ms"`
	PromptPerSecond     float64 `json:"prompt_per_second"`
	PredictedN          int     `json:"predicted_n"`
	PredictedMS         float64 `json:"predicted_ms"`
	PredictedPerSecond  float64 `json:"predicted_per_second"`
	PredictedPerTokenMS float64 `json:"predicted_per_token_ms"`
	// DraftN and DraftNAccepted (llama.cpp's draft_n, draft_n_accepted):
	// the tokens speculative decoding drafted and kept, present only when
	// it ran
	DraftN         int `json:"draft_n,omitempty"`
	DraftNAccepted int `json:"draft_n_accepted,omitempty"`
}

// llamaCompletion is the response (and the stream event) of llama.cpp's completion endpoints.
type llamaCompletion struct {
	Index           int           `json:"index"`
	Content         string        `json:"content"`
	Tokens          []int         `json:"tokens"`
	IDSlot          int           `json:"id_slot"`
	Stop            bool          `json:"stop"`
	Model           string        `json:"model,omitempty"`
	TokensPredicted int           `json:"tokens_predicted,omitempty"`
	TokensEvaluated int           `json:"tokens_evaluated,omitempty"`
	TokensCached    int           `json:"tokens_cached"`
	Truncated       bool          `json:"truncated,omitempty"`
	StopType        string        `json:"stop_type,omitempty"`
	StoppingWord    string        `json:"stopping_word,omitempty"`
	Timings         *llamaTimings `json:"timings,omitempty"`
	Probs           []llamaProb   `json:"completion_probabilities,omitempty"`
}

func (e *entry) llamaProb(t glassbox.Token, top int) llamaProb {
	text, b := e.tokenText(t.Prev, t.ID)
	p := llamaProb{ID: t.ID, Token: text, Bytes: b, Logprob: safeLogProb(t.LogProb), TopLogprobs: []llamaTopProb{}}
	for _, c := range t.Top[:min(top, len(t.Top))] {
		ct, cb := e.tokenText(t.Prev, c.ID)
		p.TopLogprobs = append(p.TopLogprobs, llamaTopProb{ID: c.ID, Token: ct, Bytes: cb, Logprob: safeLogProb(c.LogProb)})
	}
	return p
}

func (s *Server) infill(w http.ResponseWriter, r *http.Request) error {
	start := time.Now()
	var req InfillRequest
	g, e, err := s.beginGeneration(r, &req)
	if err != nil {
		return err
	}
	warmup := req.NPredict != nil && *req.NPredict == 0
	ids, truncated, err := infillPrompt(e, &req, g.maxTokens)
	if err != nil {
		return err
	}
	if err := contextError(e, len(ids)); err != nil {
		err.(*APIError).Param = "input_prefix"
		return err
	}
	if err := s.slotFit(e, len(ids), g.maxTokens); err != nil {
		return err
	}
	return s.llamaGenerate(w, r, e, &g, ids, llamaJob{warmup: warmup, truncated: truncated, fields: req.ResponseFields, slot: -1,
		cut: &indentCut{nIndent: req.NIndent, maxPredict: time.Duration(req.TMaxPredictMS) * time.Millisecond}}, start)
}

// llamaJob is what llama.cpp's completion routes (/completion, /infill) add
// to a generation: a warm-up (n_predict 0), whether the prompt was cut, the
// fields to answer, the slot asked for (-1: any) and the n_indent and
// t_max_predict_ms cut.
type llamaJob struct {
	warmup, truncated bool
	fields            []string
	slot              int
	cut               *indentCut
}

// llamaGenerate runs a generation and answers it in llama.cpp's shape: one
// JSON object, or SSE events of the pieces and a last one with the totals.
func (s *Server) llamaGenerate(w http.ResponseWriter, r *http.Request, e *entry, gp *genParams, ids []int, job llamaJob, start time.Time) error {
	g := *gp
	warmup, truncated, cut := job.warmup, job.truncated, job.cut
	sl, err := s.acquireSlot(r.Context(), e, g.slotKey(ids), job.slot)
	if err != nil {
		return err
	}
	defer e.pool.release(sl)
	st := streamIf(g.stream && !warmup, w)
	sent := 0
	var kept strings.Builder
	stopped := false
	res, err := s.run(r.Context(), e, sl, genJob{ids, g.seedFor(0)}, &g, start, func(t glassbox.Token) error {
		if warmup {
			return errLimit // the prompt is in the cache: nothing to generate
		}
		if e.isEOG(t.ID) {
			if st == nil || !g.logprobs {
				return nil
			}
		}
		piece, stop := cut.add(t.Text)
		kept.WriteString(piece)
		if st != nil && (piece != "" || g.logprobs) {
			ev := llamaCompletion{Content: piece, Tokens: []int{t.ID}, IDSlot: sl.id}
			if g.logprobs {
				ev.Probs = []llamaProb{e.llamaProb(t, g.topProbs)}
			}
			sent += len(piece)
			out, err := selectFields(ev, job.fields)
			if err != nil {
				return err
			}
			if err := st.send(out); err != nil {
				return err
			}
		}
		if stop {
			stopped = true
			return errLimit
		}
		return nil
	})
	if err != nil {
		return st.failed(r.Context(), err)
	}
	text := res.Text
	if stopped {
		text = kept.String()
	}
	gen := res.IDs
	if warmup {
		text, gen = "", nil
	}
	noteTokens(r.Context(), e.name, len(ids), len(gen))
	tm := res.Timings
	out := llamaCompletion{Content: text, Tokens: gen, IDSlot: sl.id, Stop: true, Model: e.name, Truncated: truncated,
		TokensPredicted: len(gen), TokensEvaluated: len(ids), TokensCached: tm.CachedTokens, StoppingWord: res.StopString,
		Timings: &llamaTimings{PromptN: tm.PromptTokens, PromptMS: ms(tm.PromptDuration), PromptPerSecond: tm.PromptPerSecond(),
			PredictedN: len(gen), PredictedMS: ms(tm.GenDuration), PredictedPerSecond: tm.GenPerSecond(),
			DraftN: res.Speculative.Drafted, DraftNAccepted: res.Speculative.Accepted}}
	if tm.PromptTokens > 0 {
		out.Timings.PromptPerTokenMS = ms(tm.PromptDuration) / float64(tm.PromptTokens)
	}
	if len(gen) > 0 {
		out.Timings.PredictedPerTokenMS = ms(tm.GenDuration) / float64(len(gen))
	}
	if warmup {
		out.Timings.PredictedMS, out.Timings.PredictedPerSecond = 0, 0
	}
	switch {
	case res.StopString != "":
		out.StopType = "word"
	case res.FinishReason == glassbox.FinishStop:
		out.StopType = "eos"
	case warmup:
		out.StopType = "none"
	default:
		out.StopType = "limit"
	}
	if out.Tokens == nil {
		out.Tokens = []int{}
	}
	if st != nil {
		out.Content = text[min(sent, len(text)):]
		out.Tokens = []int{}
		v, err := selectFields(out, job.fields)
		if err != nil {
			return err
		}
		return st.send(v)
	}
	if g.logprobs {
		for _, t := range res.Tokens {
			out.Probs = append(out.Probs, e.llamaProb(t, g.topProbs))
		}
	}
	v, err := selectFields(out, job.fields)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

func ms(d time.Duration) float64 { return d.Seconds() * 1000 }

// TokenizeRequest is the body of POST /tokenize.
type TokenizeRequest struct {
	Model        string  `json:"model"`
	Content      *string `json:"content"` // required; "" is valid
	AddSpecial   bool    `json:"add_special"`
	ParseSpecial *bool   `json:"parse_special"`
	WithPieces   bool    `json:"with_pieces"`
}

// tokenPiece is a token with its text: a string when the bytes are valid
// UTF-8, otherwise the array of bytes (as llama.cpp answers).
type tokenPiece struct {
	ID    int `json:"id"`
	Piece any `json:"piece"`
}

func (s *Server) tokenize(w http.ResponseWriter, r *http.Request) error {
	var req TokenizeRequest
	if err := decodeJSON(r.Body, &req); err != nil {
		return err
	}
	if req.Content == nil {
		return badRequest("content", "'content' is required: expected the text to tokenize (a string, possibly empty)")
	}
	e, err := s.lookup(r.Context(), req.Model)
	if err != nil {
		return err
	}
	tok := e.model.Tokenizer()
	parse := req.ParseSpecial == nil || *req.ParseSpecial
	ids := tok.Encode(*req.Content, glassbox.EncodeOptions{AddBOS: req.AddSpecial && tok.AddBOSDefault(), AddEOS: req.AddSpecial && tok.AddEOSDefault(), ParseSpecial: parse})
	if !req.WithPieces {
		if ids == nil {
			ids = []int{}
		}
		writeJSON(w, http.StatusOK, map[string]any{"tokens": ids})
		return nil
	}
	out := make([]tokenPiece, len(ids))
	for i, id := range ids {
		b := tok.TokenBytes(id)
		if utf8.Valid(b) {
			out[i] = tokenPiece{ID: id, Piece: string(b)}
		} else {
			ints := make([]int, len(b))
			for k, c := range b {
				ints[k] = int(c)
			}
			out[i] = tokenPiece{ID: id, Piece: ints}
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"tokens": out})
	return nil
}

// DetokenizeRequest is the body of POST /detokenize.
type DetokenizeRequest struct {
	Model  string `json:"model"`
	Tokens []int  `json:"tokens"` // required; [] is valid
}

func (s *Server) detokenize(w http.ResponseWriter, r *http.Request) error {
	var req DetokenizeRequest
	if err := decodeJSON(r.Body, &req); err != nil {
		return err
	}
	if req.Tokens == nil {
		return badRequest("tokens", "'tokens' is required: expected an array of token ids (possibly empty)")
	}
	e, err := s.lookup(r.Context(), req.Model)
	if err != nil {
		return err
	}
	if err := checkIDs(e, req.Tokens, "tokens"); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]string{"content": e.model.Tokenizer().Decode(req.Tokens)})
	return nil
}

type embeddingObject struct {
	Object    string `json:"object"`
	Index     int    `json:"index"`
	Embedding any    `json:"embedding"` // []float32, or a base64 string
}

func (s *Server) embeddings(w http.ResponseWriter, r *http.Request) error {
	var req EmbeddingRequest
	if err := decodeJSON(r.Body, &req); err != nil {
		return err
	}
	if err := req.validate(); err != nil {
		return err
	}
	e, err := s.lookup(r.Context(), req.Model)
	if err != nil {
		return err
	}
	inputs := make([][]int, len(req.Input))
	total := 0
	for i, in := range req.Input {
		ids := in.IDs
		if ids == nil {
			ids = e.model.Encode(in.Text, glassbox.GenerateOptions{})
		} else if err := checkIDs(e, ids, "input"); err != nil {
			return err
		}
		if c := e.model.ContextSize(); len(ids) > c {
			return &APIError{Status: http.StatusBadRequest, Type: "invalid_request_error", Param: "input", Code: "context_length_exceeded",
				Message: "input " + strconv.Itoa(i) + " has " + strconv.Itoa(len(ids)) + " tokens but the context of model " + e.name + " holds " + strconv.Itoa(c) + ": " + strconv.Itoa(len(ids)-c) + " tokens too many"}
		}
		inputs[i] = ids
		total += len(ids)
	}
	// An embedding takes a slot like a generation, so that the CPU is shared fairly.
	sl, err := s.acquire(r.Context(), e, nil)
	if err != nil {
		return err
	}
	defer e.pool.release(sl)
	data := make([]embeddingObject, len(inputs))
	for i, ids := range inputs {
		if err := r.Context().Err(); err != nil {
			return err
		}
		v, err := e.model.EmbedIDs(ids)
		if err != nil {
			return err
		}
		normalize(v)
		data[i] = embeddingObject{Object: "embedding", Index: i, Embedding: v}
		if req.EncodingFormat == "base64" {
			b := make([]byte, 4*len(v))
			for k, x := range v {
				binary.LittleEndian.PutUint32(b[4*k:], math.Float32bits(x))
			}
			data[i].Embedding = base64.StdEncoding.EncodeToString(b)
		}
	}
	noteTokens(r.Context(), e.name, total, 0)
	writeJSON(w, http.StatusOK, map[string]any{"object": "list", "data": data, "model": e.name,
		"usage": map[string]int{"prompt_tokens": total, "total_tokens": total}})
	return nil
}

// normalize scales v to unit Euclidean length, as OpenAI's embeddings are.
func normalize(v []float32) {
	var ss float64
	for _, x := range v {
		ss += float64(x) * float64(x)
	}
	if ss == 0 {
		return
	}
	inv := 1 / math.Sqrt(ss)
	for i, x := range v {
		v[i] = float32(float64(x) * inv)
	}
}
