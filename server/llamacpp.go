package server

import (
	"encoding/base64"
	"encoding/binary"
	"math"
	"net/http"
	"strconv"
	"time"
	"unicode/utf8"

	"glassbox"
)

// InfillRequest is the body of llama.cpp's POST /infill: the code before and
// after the cursor, and optionally the start of the middle (prompt).
type InfillRequest struct {
	Model       string `json:"model"`
	InputPrefix string `json:"input_prefix"`
	InputSuffix string `json:"input_suffix"`
	Prompt      string `json:"prompt"`
	SamplingFields
	NPredict *int     `json:"n_predict"`
	Stop     StopList `json:"stop"`
	Stream   bool     `json:"stream"`
	NProbs   *int     `json:"n_probs"`
}

func (r *InfillRequest) validate() (genParams, error) {
	var g genParams
	var err error
	if g.sampler, g.seeded, err = r.SamplingFields.params(); err != nil {
		return g, err
	}
	g.ignoreEOS, g.bias = r.IgnoreEOS, r.LogitBias
	if g.grammar, err = r.SamplingFields.grammar(); err != nil {
		return g, err
	}
	if r.NPredict != nil {
		if *r.NPredict == 0 || *r.NPredict < -1 {
			return g, badRequest("n_predict", "invalid value for 'n_predict': expected -1 (no limit) or an integer >= 1, got %d", *r.NPredict)
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
	return g, nil
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
	PromptPerSecond     float64 `json:"prompt_per_second"`
	PredictedN          int     `json:"predicted_n"`
	PredictedMS         float64 `json:"predicted_ms"`
	PredictedPerSecond  float64 `json:"predicted_per_second"`
	PredictedPerTokenMS float64 `json:"predicted_per_token_ms"`
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
	TokensCached    int           `json:"tokens_cached,omitempty"`
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
	ids, err := fimPrompt(e, req.InputPrefix, req.InputSuffix, req.Prompt)
	if err != nil {
		err.(*APIError).Param = "input_prefix"
		return err
	}
	if err := contextError(e, len(ids)); err != nil {
		err.(*APIError).Param = "input_prefix"
		return err
	}
	sl, err := s.acquire(r.Context(), e, ids)
	if err != nil {
		return err
	}
	defer e.pool.release(sl)
	st := streamIf(g.stream, w)
	sent := 0
	res, err := s.run(r.Context(), e, sl, genJob{ids, g.seedFor(0)}, &g, start, func(t glassbox.Token) error {
		if st == nil || (e.isEOG(t.ID) && !g.logprobs) {
			return nil
		}
		ev := llamaCompletion{Content: t.Text, Tokens: []int{t.ID}, IDSlot: sl.id}
		if g.logprobs {
			ev.Probs = []llamaProb{e.llamaProb(t, g.topProbs)}
		}
		sent += len(t.Text)
		return st.send(ev)
	})
	if err != nil {
		return st.failed(r.Context(), err)
	}
	noteTokens(r.Context(), e.name, len(ids), len(res.IDs))
	tm := res.Timings
	out := llamaCompletion{Content: res.Text, Tokens: res.IDs, IDSlot: sl.id, Stop: true, Model: e.name,
		TokensPredicted: len(res.IDs), TokensEvaluated: len(ids), TokensCached: tm.CachedTokens, StoppingWord: res.StopString,
		Timings: &llamaTimings{PromptN: tm.PromptTokens, PromptMS: ms(tm.PromptDuration), PromptPerSecond: tm.PromptPerSecond(),
			PredictedN: tm.GenTokens, PredictedMS: ms(tm.GenDuration), PredictedPerSecond: tm.GenPerSecond()}}
	if tm.GenTokens > 0 {
		out.Timings.PredictedPerTokenMS = ms(tm.GenDuration) / float64(tm.GenTokens)
	}
	switch {
	case res.StopString != "":
		out.StopType = "word"
	case res.FinishReason == glassbox.FinishStop:
		out.StopType = "eos"
	default:
		out.StopType = "limit"
	}
	if out.Tokens == nil {
		out.Tokens = []int{}
	}
	if st != nil {
		out.Content = res.Text[min(sent, len(res.Text)):]
		out.Tokens = []int{}
		return st.send(out)
	}
	if g.logprobs {
		for _, t := range res.Tokens {
			out.Probs = append(out.Probs, e.llamaProb(t, g.topProbs))
		}
	}
	writeJSON(w, http.StatusOK, out)
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
	e, err := s.lookup(req.Model)
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
	e, err := s.lookup(req.Model)
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
	e, err := s.lookup(req.Model)
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
