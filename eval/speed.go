package eval

import (
	"encoding/json"
	"fmt"
)

// KindBench is the kind of the records `glassbox bench` saves: a model's
// speed and memory on this machine (or through an endpoint), as Speed.
const KindBench = "bench"

// Speed is what a bench record measured, the results of a Record of kind
// KindBench. A zero field was not measured.
type Speed struct {
	// PromptTokens is the prompt size of the prompt-processing test (ppN).
	PromptTokens int `json:"prompt_tokens,omitempty"`
	// PromptTPS is the prompt-processing speed in tokens per second (mean
	// over the repetitions) and PromptStdDev its sample standard deviation.
	PromptTPS    float64 `json:"pp_tokens_per_s,omitempty"`
	PromptStdDev float64 `json:"pp_stddev,omitempty"`
	// GenTokens is the number of tokens of the generation test (tgN).
	GenTokens int `json:"gen_tokens,omitempty"`
	// GenTPS is the generation speed in tokens per second (mean over the
	// repetitions) and GenStdDev its sample standard deviation.
	GenTPS    float64 `json:"tg_tokens_per_s,omitempty"`
	GenStdDev float64 `json:"tg_stddev,omitempty"`
	// TTFTMS is the time to first token in milliseconds for a prompt of
	// PromptTokens tokens: locally, the time the prompt's prefill takes (its
	// last logits give the first token); through an endpoint, the time from
	// sending the request to the first streamed token.
	TTFTMS float64 `json:"ttft_ms,omitempty"`
	// Threads is the worker thread count of the figures above (the one with
	// the fastest generation when several were measured; 0 for an endpoint).
	Threads int `json:"threads,omitempty"`
	// PeakRSSBytes is the peak resident set size of the process that ran the
	// model (0 for an endpoint, where it cannot be seen).
	PeakRSSBytes int64 `json:"peak_rss_bytes,omitempty"`
	// LoadMS is how long opening the model took, in milliseconds.
	LoadMS float64 `json:"load_ms,omitempty"`
	// ContextLength is the model's training context (0: unknown).
	ContextLength int `json:"context_length,omitempty"`
	// Rows are the measurements the figures come from (each test at each
	// thread count, for a local run), as the bench command prints them.
	Rows []map[string]any `json:"rows,omitempty"`
}

// NewBenchRecord returns the record of a bench run of the model name (a file
// at path; "" for a model without a local file) that measured s.
func NewBenchRecord(name, path string, s Speed) (*Record, error) {
	r, err := NewRecord(KindBench, name, path)
	if err != nil {
		return nil, err
	}
	if err := r.SetSpeed(s); err != nil {
		return nil, err
	}
	return r, nil
}

// SetSpeed stores s as r's results.
func (r *Record) SetSpeed(s Speed) error {
	b, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("eval: encoding the speed: %w", err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return fmt.Errorf("eval: encoding the speed: %w", err)
	}
	r.Results = m
	return nil
}

// Speed decodes the results of a bench record; another kind is an error.
func (r *Record) Speed() (Speed, error) {
	if r.Kind != KindBench {
		return Speed{}, fmt.Errorf("eval: record %s is a %s record, not a bench record", r.ID, r.Kind)
	}
	b, err := json.Marshal(r.Results)
	if err != nil {
		return Speed{}, fmt.Errorf("eval: record %s: %w", r.ID, err)
	}
	var s Speed
	if err := json.Unmarshal(b, &s); err != nil {
		return Speed{}, fmt.Errorf("eval: record %s: its results are not a bench's: %w", r.ID, err)
	}
	return s, nil
}
