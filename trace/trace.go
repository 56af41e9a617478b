// Package trace defines the dissection record of a generation: for every
// generated token, what really happened inside the model — tokenization,
// embeddings, attention, the residual stream seen through the logit lens, the
// prediction and the sampler's decisions — taken from the engine's own numbers.
//
// A trace is a stream of Events, written as JSON Lines by `glassbox dissect
// --json` and as server-sent events by the server; the web page reads the same
// schema. Version is bumped on any incompatible change. docs/trace-schema.md
// documents every field.
package trace

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Version is the schema version written in the "meta" event. Fields added
// without changing the meaning of existing ones (such as the tokens' text)
// keep the version. Version 2 added the mixture-of-experts records (Meta's
// Experts and ExpertsUsed, Step's Experts); a version 2 trace of a dense
// model is a version 1 trace, and readers of version 1 can ignore the new
// fields.
const Version = 2

// Event types, in the order they appear in a trace.
const (
	TypeMeta         = "meta"         // once, first: the model
	TypeTokenization = "tokenization" // once: the prompt's tokens
	TypeEmbeddings   = "embeddings"   // once: the prompt tokens' embeddings
	TypeStep         = "step"         // once per generated token
	TypeDone         = "done"         // once, last: the outcome
)

// Event is one record of a trace; Type says which field is set.
type Event struct {
	Type         string        `json:"type"`
	Meta         *Meta         `json:"meta,omitempty"`
	Tokenization *Tokenization `json:"tokenization,omitempty"`
	Embeddings   []Embedding   `json:"embeddings,omitempty"`
	Step         *Step         `json:"step,omitempty"`
	Done         *Done         `json:"done,omitempty"`
}

// Meta describes the model that produced the trace.
type Meta struct {
	Version       int    `json:"version"`
	Model         string `json:"model"`
	Arch          string `json:"arch"`
	Params        int64  `json:"params"`        // distinct parameters: a stored copy of the embedding as output matrix and zero padding not counted
	ParamsStored  int64  `json:"params_stored"` // parameters as the file stores them
	Layers        int    `json:"layers"`
	Heads         int    `json:"heads"`
	KVHeads       int    `json:"kv_heads"`
	Dim           int    `json:"dim"`
	HiddenDim     int    `json:"hidden_dim"`
	HeadDim       int    `json:"head_dim"`
	Vocab         int    `json:"vocab"`
	ContextLength int    `json:"context_length"`
	Context       int    `json:"context"` // positions available in this run
	QuantType     string `json:"quant_type"`
	Tokenizer     string `json:"tokenizer"` // llama (SentencePiece), gpt2 (byte-level BPE) or bert: how pieces spell text
	KVCache       string `json:"kv_cache"`  // F32 or F16
	// KVCacheK is the type of the keys when they are quantized (Q8_0 or
	// Q4_0); empty when they are in KVCache's type.
	KVCacheK string `json:"kv_cache_k,omitempty"`
	// LoRA lists the adapters applied to the weights (their updates are
	// part of every product the records show).
	LoRA []LoRA `json:"lora,omitempty"`
	// TracedLayers and TracedHeads list what attention and logit-lens records cover.
	TracedLayers []int `json:"traced_layers"`
	TracedHeads  []int `json:"traced_heads"`
	// Experts and ExpertsUsed are the experts of each mixture-of-experts
	// layer and how many the router picks per token (version 2; absent for
	// dense models, whose HiddenDim is the feed-forward width: for a
	// mixture of experts it is one expert's).
	Experts     int `json:"experts,omitempty"`
	ExpertsUsed int `json:"experts_used,omitempty"`
	// AttnSoftcap and FinalSoftcap are the model's soft-capping of the
	// attention scores and of the final logits (each value x replaced by
	// cap·tanh(x/cap); gemma2, and gemma3 when its file sets them), absent
	// for models that do not cap.
	AttnSoftcap  float32 `json:"attn_softcap,omitempty"`
	FinalSoftcap float32 `json:"final_softcap,omitempty"`
}

// ExpertChoice is what the router of one mixture-of-experts layer did at
// the traced position (version 2).
type ExpertChoice struct {
	Layer int `json:"layer"`
	// IDs are the experts picked, highest probability first: the order the
	// engine summed their outputs in.
	IDs []int `json:"ids"`
	// Weights multiplied the picked experts' outputs (the probabilities
	// divided by their sum when the model normalizes them).
	Weights []float32 `json:"weights"`
	// Probs are the router's probabilities (softmax of its scores over all
	// the experts) of the picked experts, before any normalization.
	Probs []float32 `json:"probs"`
	// Entropy is that of the router's distribution over all the experts,
	// in nats.
	Entropy float32 `json:"entropy"`
}

// LoRA is an adapter applied to a model: its name (general.name, or its
// file's name), the user's scale, alpha, and how many weights it adapts.
type LoRA struct {
	Name    string  `json:"name"`
	Scale   float32 `json:"scale"`
	Alpha   float32 `json:"alpha"`
	Weights int     `json:"weights"`
}

// Token is one token with its text.
type Token struct {
	ID      int    `json:"id"`
	Piece   string `json:"piece"`   // the vocabulary entry
	Bytes   []int  `json:"bytes"`   // the bytes it decodes to (JSON arrays of numbers, since pieces may be partial UTF-8)
	Text    string `json:"text"`    // Bytes for display (see Text)
	Special bool   `json:"special"` // control or user-defined token
}

// Tokenization is the prompt as the model saw it.
type Tokenization struct {
	Text   string  `json:"text"` // the prompt after the chat template
	Tokens []Token `json:"tokens"`
}

// Neighbor is a token whose embedding is close to another's.
type Neighbor struct {
	ID     int     `json:"id"`
	Piece  string  `json:"piece"`
	Bytes  []int   `json:"bytes"` // as in Token
	Text   string  `json:"text"`  // as in Token
	Cosine float32 `json:"cosine"`
}

// Embedding describes the input vector of one token.
type Embedding struct {
	Position  int        `json:"position"`
	Token     Token      `json:"token"`
	Norm      float32    `json:"norm"`      // Euclidean norm of the embedding row
	First     []float32  `json:"first"`     // its first dimensions
	Neighbors []Neighbor `json:"neighbors"` // nearest other tokens by cosine over the whole table, full dimension
}

// Attended is one position a head attended to.
type Attended struct {
	Position int     `json:"position"`
	Token    Token   `json:"token"`
	Weight   float32 `json:"weight"`
}

// HeadAttention is one head's attention from the traced position.
type HeadAttention struct {
	Layer   int       `json:"layer"`
	Head    int       `json:"head"`
	KVHead  int       `json:"kv_head"` // the key/value head it reads (grouped-query attention)
	Weights []float32 `json:"weights"` // over positions 0..position, as used by the engine (sums to 1, less Sink)
	// Window is the number of positions a sliding-window layer attends to
	// (the current one included; the positions before weigh exactly 0),
	// absent for a layer that attends to the whole context.
	Window int `json:"window,omitempty"`
	// Sink is the share of the softmax the head's learned sink logit took
	// (gpt-oss's attention sinks, which have no value): the weights sum to
	// 1 - Sink. Absent for models without sinks.
	Sink float32 `json:"sink,omitempty"`
	// ScoresUncapped and Scores are, for a model with attention
	// soft-capping (Meta.AttnSoftcap) run without flash attention, the
	// head's query·key products over positions 0..position before the
	// capping and after it (Scores = cap·tanh(ScoresUncapped/cap): the
	// softmax's input, the queries being pre-scaled); positions before a
	// sliding window hold 0. Absent otherwise.
	ScoresUncapped []float32  `json:"scores_uncapped,omitempty"`
	Scores         []float32  `json:"scores,omitempty"`
	Top            []Attended `json:"top"`     // the most attended positions
	Entropy        float32    `json:"entropy"` // of the weights, in nats
}

// Candidate is a possible next token.
type Candidate struct {
	ID    int     `json:"id"`
	Piece string  `json:"piece"`
	Bytes []int   `json:"bytes"` // as in Token
	Text  string  `json:"text"`  // as in Token
	Logit float32 `json:"logit"`
	Prob  float32 `json:"prob"`
	// LogitUncapped is, in a prediction of a model with final
	// soft-capping (Meta.FinalSoftcap), the logit as the output projection
	// computed it, before the engine capped it to Logit; absent otherwise.
	LogitUncapped *float32 `json:"logit_uncapped,omitempty"`
}

// LensLayer is what the model would predict if it stopped after a layer: the
// final norm and output projection applied to that layer's residual stream.
type LensLayer struct {
	Layer int         `json:"layer"`
	Top   []Candidate `json:"top"`
}

// Prediction is the next-token distribution of the raw logits.
type Prediction struct {
	Top     []Candidate `json:"top"`
	Entropy float32     `json:"entropy"` // in nats
	// Chosen is, for a model with final soft-capping, the chosen token as
	// a candidate of the raw logits, its logit before and after capping;
	// absent for models that do not cap.
	Chosen *Candidate `json:"chosen,omitempty"`
}

// SamplerStep is one stage of the sampler chain as applied.
type SamplerStep struct {
	Name string      `json:"name"` // logit_bias, penalties, grammar, top_k, top_p, min_p, temperature, dist, greedy
	Kept int         `json:"kept"` // candidates surviving the step
	Top  []Candidate `json:"top"`  // the best survivors with renormalised probabilities
}

// Sampling is the decoding decision.
type Sampling struct {
	Steps      []SamplerStep `json:"steps"`
	Draw       float64       `json:"draw"` // the uniform number drawn, -1 for greedy
	ChosenRank int           `json:"chosen_rank"`
	ChosenProb float32       `json:"chosen_prob"` // after the chain
	RawProb    float32       `json:"raw_prob"`    // before it (softmax of the raw logits)
	// Grammar is set when a grammar constrained the step.
	Grammar *GrammarCheck `json:"grammar,omitempty"`
}

// GrammarCheck is what a grammar did to one step: the chain's "grammar"
// stage (in Steps) keeps the allowed candidates; this lists the rejected ones.
type GrammarCheck struct {
	// Checked is the number of candidates the grammar examined: with greedy
	// or top-k sampling, only the best ones until enough were allowed.
	Checked int `json:"checked"`
	// Removed lists, best first, the rejected candidates that ranked before
	// the last allowed one kept, with their probabilities before the grammar.
	Removed []Candidate `json:"removed"`
}

// Step is the dissection of one generated token.
type Step struct {
	Index     int             `json:"index"`    // 0 for the first generated token
	Position  int             `json:"position"` // the position whose output predicted it
	Input     Token           `json:"input"`    // the token at that position
	Attention []HeadAttention `json:"attention,omitempty"`
	LogitLens []LensLayer     `json:"logit_lens,omitempty"`
	// Experts holds, per traced mixture-of-experts layer, the router's
	// choice (version 2; absent for dense models).
	Experts    []ExpertChoice `json:"experts,omitempty"`
	Prediction Prediction     `json:"prediction"`
	Sampling   Sampling       `json:"sampling"`
	// Draft is set when speculative decoding drafted this step's token:
	// what was proposed and whether it was kept (absent otherwise).
	Draft *Draft `json:"draft,omitempty"`
	Token Token  `json:"token"` // the chosen token
	Text  string `json:"text"`  // output text this token completed (may be empty mid-character)
}

// Draft is speculative decoding's record of one step: a drafter proposed
// a token for it and the model's distribution decided (accept with
// probability min(1, target_prob/draft_prob); on rejection the step's
// token was drawn from the residual max(0, p − q)).
type Draft struct {
	Source   string `json:"source"` // "model" (a draft model) or "lookup" (prompt lookup)
	Round    int    `json:"round"`  // the verification pass, from 1: the steps of one round were verified together
	Proposed Token  `json:"proposed"`
	Accepted bool   `json:"accepted"` // the step's token is the proposed one
	// TargetProb is p(proposed) after the sampler chain; DraftProb is
	// q(proposed), the draft's probability (1 for a lookup draft).
	TargetProb float32 `json:"target_prob"`
	DraftProb  float32 `json:"draft_prob"`
	// Draw is the uniform number of the acceptance test, -1 when none was
	// needed (target_prob ≥ draft_prob accepts, target_prob = 0 rejects).
	Draw float64 `json:"draw"`
}

// Done closes a trace.
type Done struct {
	FinishReason string  `json:"finish_reason"`
	Text         string  `json:"text"`
	PromptTokens int     `json:"prompt_tokens"`
	GenTokens    int     `json:"generated_tokens"`
	PromptPerSec float64 `json:"prompt_tokens_per_second"`
	GenPerSec    float64 `json:"generated_tokens_per_second"`
	// Drafted and Accepted count speculative decoding's drafted tokens and
	// those kept (absent without speculative decoding).
	Drafted  int `json:"drafted,omitempty"`
	Accepted int `json:"accepted,omitempty"`
}

// Options selects what a trace records, so that long contexts and big models
// stay cheap.
type Options struct {
	Layers     []int // layers traced for attention and the logit lens (nil: all)
	Heads      []int // heads traced for attention (nil: all)
	Top        int   // candidates per list (default 5)
	Attention  bool  // record attention weights
	LogitLens  bool  // record the logit lens
	Embeddings bool  // record prompt embeddings and their neighbours
	EmbedFirst int   // leading dimensions of each embedding to include (default 8)
}

// All returns options recording everything, with k candidates per list.
func All(k int) Options {
	return Options{Top: k, Attention: true, LogitLens: true, Embeddings: true}
}

// Text renders the bytes of one token, taken on its own, for display: valid
// UTF-8 is kept as it is (spaces, new lines and all: escaping them is the
// renderer's choice), and each byte that does not belong to a complete UTF-8
// character — a token holding part of a character — is written <0xNN>, as
// SentencePiece names byte tokens, so that the result is valid UTF-8 and no
// byte is hidden. A SentencePiece token keeps its leading space ("▁saw" is
// " saw"): a token's text does not depend on what precedes it, so that two
// different tokens never look alike; the step's Text is where the output
// reads as text, without the space where the text begins.
func Text(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	var s strings.Builder
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		if r == utf8.RuneError && n <= 1 {
			fmt.Fprintf(&s, "<0x%02X>", b[0])
			b = b[1:]
			continue
		}
		s.Write(b[:n])
		b = b[n:]
	}
	return s.String()
}

// Ints returns bytes as the numbers a trace stores (never nil, so that JSON
// writes an array).
func Ints(b []byte) []int {
	out := make([]int, len(b))
	for i, c := range b {
		out[i] = int(c)
	}
	return out
}
