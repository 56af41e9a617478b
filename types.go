package glassbox

import (
	"glassbox/infer"
	"glassbox/model"
	"glassbox/sample"
	"glassbox/tensor"
	"glassbox/tokenizer"
	"glassbox/trace"
)

// The engine's types an application handles, named here so that ordinary use
// (generation, sampling, tokenization, tracing) needs this package alone.
// They are aliases, not copies: a glassbox.Token is an infer.Token, a
// glassbox.TraceEvent a trace.Event, and so on, so values pass between the
// SDK and the engine's packages without conversion, and their documentation
// is that of the package they come from.

// Generation.
type (
	// Request describes one generation of a Session (see infer.Request).
	Request = infer.Request
	// SpecStats counts speculative decoding's drafted and accepted tokens
	// (Result.Speculative).
	SpecStats = infer.SpecStats
	// Token is one generated token, streamed to GenerateOptions.OnToken and
	// listed in Result.Tokens (see infer.Token).
	Token = infer.Token
	// TokenLogProb is a token id with its log-probability (Token.Top).
	TokenLogProb = sample.TokenLogProb
	// Timings reports where a generation's time went (Result.Timings).
	Timings = infer.Timings
)

// Finish reasons of a Result, named as in the OpenAI API.
const (
	FinishStop   = infer.FinishStop   // an end-of-generation token or a stop string
	FinishLength = infer.FinishLength // the token limit or the end of the context
)

// ErrContext is wrapped by the error a generation or an embedding returns
// when its tokens do not fit the model's context.
var ErrContext = infer.ErrContext

// Sampling.
type (
	// SamplerParams configures the sampler chain of a generation (see
	// sample.Params): logit bias, penalties, top-k, top-p, min-p,
	// temperature and a seeded draw. Start from DefaultSamplerParams; the
	// zero value, LogitBias aside, is greedy decoding.
	SamplerParams = sample.Params
)

// SeedRandom is the SamplerParams.Seed value asking for a random seed.
const SeedRandom = sample.SeedRandom

// DefaultSamplerParams returns llama.cpp's default sampling parameters
// (temperature 0.8, top-k 40, top-p 0.95, min-p 0.05, a random seed).
func DefaultSamplerParams() SamplerParams { return sample.DefaultParams() }

// Model description and tokenization.
type (
	// Config is a model's hyper-parameters (Model.Config).
	Config = model.Config
	// Tokenizer is a model's vocabulary (Model.Tokenizer).
	Tokenizer = tokenizer.Tokenizer
	// EncodeOptions says how Tokenizer.Encode treats special tokens.
	EncodeOptions = tokenizer.EncodeOptions
	// TensorType is an element type of weights and of the KV cache
	// (Model.KVCacheType); its String method names it as GGML does.
	TensorType = tensor.Type
)

// Tracing: a generation with GenerateOptions.Trace (or Request.Trace) set
// emits the events of the dissection schema (docs/trace-schema.md) to
// Tracing.Emit, in this order: one meta, one tokenization, one embeddings
// (when TraceOptions.Embeddings), one step per generated token, one done.
type (
	// Tracing asks a generation to dissect itself: what to record, the names
	// the meta and tokenization events carry, and the function receiving the
	// events (see infer.Tracing).
	Tracing = infer.Tracing
	// TraceOptions selects what a trace records (layers, heads, candidates
	// per list, attention, logit lens, embeddings).
	TraceOptions = trace.Options
	// TraceEvent is one record of a trace; its Type says which field is set.
	TraceEvent = trace.Event
	// TraceMeta is the first event's description of the model.
	TraceMeta = trace.Meta
	// TraceTokenization is the prompt as the model saw it.
	TraceTokenization = trace.Tokenization
	// TraceEmbedding describes the input vector of one prompt token.
	TraceEmbedding = trace.Embedding
	// TraceStep is the dissection of one generated token.
	TraceStep = trace.Step
	// TraceDone closes a trace with the outcome of the generation.
	TraceDone = trace.Done
	// TraceHeadAttention is one head's attention at a step (TraceStep.Attention).
	TraceHeadAttention = trace.HeadAttention
	// TraceLensLayer is the logit lens after one layer (TraceStep.LogitLens).
	TraceLensLayer = trace.LensLayer
	// TraceCandidate is a possible next token with its logit and probability.
	TraceCandidate = trace.Candidate
)

// TokenText renders the bytes of a token for display as traces do: valid
// UTF-8 as it is, each byte of an incomplete character as <0xNN>.
func TokenText(b []byte) string { return trace.Text(b) }

// Trace event types (TraceEvent.Type), in the order they appear, and the
// schema version the meta event carries.
const (
	TraceTypeMeta         = trace.TypeMeta
	TraceTypeTokenization = trace.TypeTokenization
	TraceTypeEmbeddings   = trace.TypeEmbeddings
	TraceTypeStep         = trace.TypeStep
	TraceTypeDone         = trace.TypeDone
	TraceVersion          = trace.Version
)

// TraceAll returns trace options recording everything, with k candidates per
// list.
func TraceAll(k int) TraceOptions { return trace.All(k) }
