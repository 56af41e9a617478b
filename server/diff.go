package server

import (
	"context"
	"errors"
	"net/http"

	"glassbox"
	"glassbox/eval"
)

// DiffRequest is the body of POST /glassbox/diff: compare two served models
// that share a tokenizer, token by token, on a continuation of the prompt.
type DiffRequest struct {
	// Base and Tuned name served models.
	Base  string `json:"base"`
	Tuned string `json:"tuned"`
	// Prompt is continued by the generator, "tuned" (default) or "base".
	Prompt    string `json:"prompt"`
	Generator string `json:"generator"`
	// MaxTokens is the number of tokens generated at most (default 32, at most 512).
	MaxTokens *int `json:"max_tokens"`
	// Raw gives the prompt as is; otherwise a generator with a chat
	// template gets it as a user message.
	Raw bool `json:"raw"`
	// Top is the number of alternatives per model and token (default 5, at most 20).
	Top *int `json:"top"`
	// Sampling: greedy unless a temperature is given.
	Temperature *float32 `json:"temperature"`
	TopK        *int     `json:"top_k"`
	TopP        *float32 `json:"top_p"`
	MinP        *float32 `json:"min_p"`
	Seed        *int64   `json:"seed"`
}

// maxDiffTokens bounds a diff's generation.
const maxDiffTokens = 512

// diff is POST /glassbox/diff: eval.Diff of two served models, as JSON.
func (s *Server) diff(w http.ResponseWriter, r *http.Request) error {
	var req DiffRequest
	if err := decodeJSON(r.Body, &req); err != nil {
		return err
	}
	if s.draining.Load() {
		return shuttingDown()
	}
	n, top, params, err := req.validate()
	if err != nil {
		return err
	}
	base, err := s.lookupField(r.Context(), "base", req.Base)
	if err != nil {
		return err
	}
	tuned, err := s.lookupField(r.Context(), "tuned", req.Tuned)
	if err != nil {
		return err
	}
	if err := eval.SameTokenizer(base.model, tuned.model); err != nil {
		return &APIError{Status: http.StatusBadRequest, Type: "invalid_request_error", Param: "tuned", Code: "tokenizer_mismatch", Message: err.Error()}
	}
	gen := tuned
	if req.Generator == eval.DiffBase {
		gen = base
	}
	res, err := eval.Diff(r.Context(), base.model, tuned.model, req.Prompt, eval.DiffOptions{
		Generator: req.Generator, MaxTokens: n, Sampler: params, Chat: gen.model.HasChatTemplate() && !req.Raw, Top: top,
	})
	switch {
	case errors.Is(err, glassbox.ErrClosed):
		return shuttingDown()
	case errors.Is(err, glassbox.ErrContext):
		return &APIError{Status: http.StatusBadRequest, Type: "invalid_request_error", Param: "prompt", Code: "context_length_exceeded", Message: err.Error()}
	case err != nil:
		return err
	}
	res.Base, res.Tuned = base.name, tuned.name
	writeJSON(w, http.StatusOK, res)
	return nil
}

// validate checks the fields of a diff request and returns the number of
// tokens, of alternatives and the sampling (greedy unless a temperature is
// given).
func (req *DiffRequest) validate() (n, top int, params glassbox.SamplerParams, err error) {
	switch {
	case req.Base == "":
		return 0, 0, params, badRequest("base", "'base' is required: the name of a served model")
	case req.Tuned == "":
		return 0, 0, params, badRequest("tuned", "'tuned' is required: the name of a served model")
	case req.Prompt == "":
		return 0, 0, params, badRequest("prompt", "'prompt' is required")
	case req.Generator != "" && req.Generator != eval.DiffTuned && req.Generator != eval.DiffBase:
		return 0, 0, params, badRequest("generator", "invalid value for 'generator': expected \"tuned\" or \"base\", got %q", req.Generator)
	}
	n = 32
	if req.MaxTokens != nil {
		if *req.MaxTokens < 1 || *req.MaxTokens > maxDiffTokens {
			return 0, 0, params, badRequest("max_tokens", "invalid value for 'max_tokens': expected an integer between 1 and %d, got %d", maxDiffTokens, *req.MaxTokens)
		}
		n = *req.MaxTokens
	}
	top = 5
	if req.Top != nil {
		if *req.Top < 1 || *req.Top > 20 {
			return 0, 0, params, badRequest("top", "invalid value for 'top': expected an integer between 1 and 20, got %d", *req.Top)
		}
		top = *req.Top
	}
	sf := SamplingFields{Temperature: req.Temperature, TopK: req.TopK, TopP: req.TopP, MinP: req.MinP, Seed: req.Seed}
	if sf.Temperature == nil {
		zero := float32(0)
		sf.Temperature = &zero
	}
	params, _, err = sf.params()
	return n, top, params, err
}

// lookupField finds a served model a request field names.
func (s *Server) lookupField(ctx context.Context, field, name string) (*entry, error) {
	e, err := s.lookup(ctx, name)
	var ae *APIError
	if errors.As(err, &ae) {
		ae.Param = field
	}
	return e, err
}
