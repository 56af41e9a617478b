package server

import (
	"bytes"
	"encoding/json"

	"net/http"
	"time"

	"glassbox"
)

// LlamaCompletionRequest is the body of llama.cpp's native POST /completion
// (and /completions): a prompt as text, token ids, or text and ids mixed;
// the sampling fields; n_predict, stream, stop, n_probs, cache_prompt,
// id_slot, n_indent, t_max_predict_ms and response_fields as llama-server
// reads them.
type LlamaCompletionRequest struct {
	Model  string          `json:"model"`
	Prompt json.RawMessage `json:"prompt"`
	SamplingFields
	NPredict       *int     `json:"n_predict"`
	Stop           StopList `json:"stop"`
	Stream         bool     `json:"stream"`
	NProbs         *int     `json:"n_probs"`
	IDSlot         *int     `json:"id_slot"`
	NIndent        int      `json:"n_indent"`
	TMaxPredictMS  int      `json:"t_max_predict_ms"`
	ResponseFields []string `json:"response_fields"`
}

func (*LlamaCompletionRequest) api() int            { return apiInfill }
func (r *LlamaCompletionRequest) modelName() string { return r.Model }

// validate checks the fields it shares with /infill as /infill does, then id_slot.
func (r *LlamaCompletionRequest) validate() (genParams, error) {
	in := InfillRequest{SamplingFields: r.SamplingFields, NPredict: r.NPredict, Stop: r.Stop, Stream: r.Stream, NProbs: r.NProbs,
		NIndent: r.NIndent, TMaxPredictMS: r.TMaxPredictMS, ResponseFields: r.ResponseFields}
	g, err := in.validate()
	if err != nil {
		return g, err
	}
	if r.IDSlot != nil && *r.IDSlot < -1 {
		return g, badRequest("id_slot", "invalid value for 'id_slot': expected -1 (any slot) or a slot number >= 0, got %d", *r.IDSlot)
	}
	return g, nil
}

// llamaPrompt tokenizes the prompt of /completion as llama-server does: a
// string with the model's BOS and special tokens parsed; an array of token
// ids as given; an array mixing strings and ids concatenated, a string
// first with the BOS, every other element as it is. An array of strings alone is
// several prompts, which this route does not take.
func llamaPrompt(e *entry, raw json.RawMessage) ([]int, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return nil, badRequest("prompt", "'prompt' is required: a string, an array of token ids, or an array of strings and token ids")
	}
	parse := glassbox.GenerateOptions{ParseSpecial: true}
	var text string
	if err := json.Unmarshal(raw, &text); err == nil {
		ids := e.model.Encode(text, parse)
		if len(ids) == 0 {
			return nil, badRequest("prompt", "invalid value for 'prompt': the prompt has no tokens (an empty string and no BOS token)")
		}
		return ids, nil
	}
	var parts []json.RawMessage
	if err := json.Unmarshal(raw, &parts); err != nil {
		return nil, badRequest("prompt", "invalid value for 'prompt': expected a string, an array of token ids, or an array of strings and token ids, got %s", shorten(raw))
	}
	var ids []int
	strs, nums, first := 0, 0, true
	for i, p := range parts {
		var s string
		if err := json.Unmarshal(p, &s); err == nil {
			strs++
			opts := parse
			opts.NoBOS = !first
			first = false
			ids = append(ids, e.model.Encode(s, opts)...)
			continue
		}
		var id int
		if err := json.Unmarshal(p, &id); err != nil {
			return nil, badRequest("prompt", "invalid value for 'prompt': element %d is %s: expected a string or an integer token id (one prompt per request)", i, shorten(p))
		}
		nums++
		first = false // an id first: no BOS added later
		ids = append(ids, id)
	}
	if strs > 1 && nums == 0 {
		return nil, badRequest("prompt", "invalid value for 'prompt': an array of %d strings is several prompts: send one per request (or use /v1/completions, which answers several)", strs)
	}
	if len(ids) == 0 {
		return nil, badRequest("prompt", "invalid value for 'prompt': the prompt has no tokens")
	}
	if err := checkIDs(e, ids, "prompt"); err != nil {
		return nil, err
	}
	return ids, nil
}

// llamaCompletion answers POST /completion: llama-server's own completion
// route, in its shape (content, tokens, id_slot, stop, stop_type,
// tokens_cached, timings, completion_probabilities; SSE events of the pieces
// with stream).
func (s *Server) llamaCompletion(w http.ResponseWriter, r *http.Request) error {
	start := time.Now()
	var req LlamaCompletionRequest
	g, e, err := s.beginGeneration(r, &req)
	if err != nil {
		return err
	}
	ids, err := llamaPrompt(e, req.Prompt)
	if err != nil {
		return err
	}
	if err := contextError(e, len(ids)); err != nil {
		err.(*APIError).Param = "prompt"
		return err
	}
	if err := s.slotFit(e, len(ids), g.maxTokens); err != nil {
		return err
	}
	slot := -1
	if req.IDSlot != nil {
		slot = *req.IDSlot
	}
	if slot >= len(e.pool.all) {
		return badRequest("id_slot", "invalid value for 'id_slot': model %s has slots 0 to %d, got %d (-1: any)", e.name, len(e.pool.all)-1, slot)
	}
	warmup := req.NPredict != nil && *req.NPredict == 0
	return s.llamaGenerate(w, r, e, &g, ids, llamaJob{warmup: warmup, fields: req.ResponseFields, slot: slot,
		cut: &indentCut{nIndent: req.NIndent, maxPredict: time.Duration(req.TMaxPredictMS) * time.Millisecond}}, start)
}
