// Package mcpserver is `glassbox mcp`: a Model Context Protocol server that
// gives agents and MCP clients one model's generation, tokenizer, embeddings
// and dissection. It is built on the official Go SDK
// (github.com/modelcontextprotocol/go-sdk), which negotiates the protocol
// revision with the client (up to 2026-07-28, the stateless revision).
//
// Tools: generate, tokenize, dissect (a trace summary: the prompt's tokens,
// each generated token's top candidates, the most focused attention heads and
// the logit lens, with the terminal report of `glassbox dissect` as text),
// embed and logit_lens (what each layer would predict at a position of the
// prompt). Every dissection is kept as a resource, glassbox://trace/{id}, its
// events as JSON Lines (docs/trace-schema.md), listed by resources/list and
// read by resources/read; the most recent Config.MaxTraces are kept.
//
// Transports: Run serves stdio (newline-delimited JSON-RPC), Handler serves
// Streamable HTTP.
package mcpserver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"glassbox"
	"glassbox/explain"
)

// DefaultMaxTraces is the number of dissections kept as resources by default.
const DefaultMaxTraces = 64

// Limits of the tools' arguments.
const (
	MaxGenerateTokens = 1024 // generate's max_tokens
	MaxDissectTokens  = 32   // dissect's max_tokens
	MaxTop            = 20   // candidates per list
)

// TraceURIPrefix starts the URI of every trace resource: glassbox://trace/{id}.
const TraceURIPrefix = "glassbox://trace/"

// TraceMIMEType is the MIME type of a trace resource: one JSON event per line.
const TraceMIMEType = "application/jsonl"

// Config configures a Server.
type Config struct {
	// Model is the model the tools run (required).
	Model *glassbox.Model
	// Version is reported to clients as the server's version (default "dev").
	Version string
	// MaxTraces is the number of dissections kept as resources (default
	// DefaultMaxTraces); older ones are removed from the list.
	MaxTraces int
	// Logger receives the SDK's log (default: discard).
	Logger *slog.Logger
}

// Server is an MCP server over one model.
type Server struct {
	cfg Config
	srv *mcp.Server

	mu     sync.Mutex
	next   int
	traces map[string][]byte // id → JSON Lines
	order  []string          // ids, oldest first
}

// New creates the server and registers its tools and resources.
func New(cfg Config) (*Server, error) {
	if cfg.Model == nil {
		return nil, errors.New("mcpserver: Config.Model is required")
	}
	if cfg.Version == "" {
		cfg.Version = "dev"
	}
	if cfg.MaxTraces <= 0 {
		cfg.MaxTraces = DefaultMaxTraces
	}
	s := &Server{cfg: cfg, traces: map[string][]byte{}}
	s.srv = mcp.NewServer(&mcp.Implementation{Name: "glassbox", Title: "glassbox", Version: cfg.Version}, &mcp.ServerOptions{
		Logger: cfg.Logger,
		Instructions: "glassbox runs the model " + cfg.Model.Name() + " on this machine and shows what happens inside it. " +
			"Use generate to continue a prompt, tokenize to see its tokens, dissect to see why each token was chosen " +
			"(the trace is kept as a glassbox://trace/{id} resource), logit_lens to see what each layer predicts, embed for a sentence vector.",
	})
	s.register()
	return s, nil
}

// MCP returns the underlying SDK server (to add tools or connect other transports).
func (s *Server) MCP() *mcp.Server { return s.srv }

// Run serves one client over stdin and stdout until the client disconnects
// or ctx is done.
func (s *Server) Run(ctx context.Context) error {
	return s.srv.Run(ctx, &mcp.StdioTransport{})
}

// Handler serves the Streamable HTTP transport (POST for requests, GET for
// the server's event stream, DELETE to end a session). The SDK refuses
// requests whose Host is not local when the listener is (DNS rebinding).
func (s *Server) Handler() http.Handler {
	return mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s.srv }, &mcp.StreamableHTTPOptions{Logger: s.cfg.Logger})
}

// GenerateInput are the arguments of the generate tool.
type GenerateInput struct {
	Prompt      string   `json:"prompt" jsonschema:"the text to continue (chat models: the user's message, unless raw)"`
	MaxTokens   int      `json:"max_tokens,omitempty" jsonschema:"tokens to generate, 1 to 1024 (default 64)"`
	Temperature float64  `json:"temperature,omitempty" jsonschema:"sampling temperature, 0 (default) for greedy decoding"`
	Seed        int64    `json:"seed,omitempty" jsonschema:"random seed when temperature > 0 (default 0)"`
	Stop        []string `json:"stop,omitempty" jsonschema:"stop strings"`
	Raw         bool     `json:"raw,omitempty" jsonschema:"use the prompt as it is, without the model's chat template"`
}

// GenerateOutput is the result of the generate tool.
type GenerateOutput struct {
	Text            string `json:"text" jsonschema:"the generated text"`
	FinishReason    string `json:"finish_reason" jsonschema:"stop (end of text or a stop string) or length (max_tokens or the context)"`
	PromptTokens    int    `json:"prompt_tokens"`
	GeneratedTokens int    `json:"generated_tokens"`
}

// TokenizeInput are the arguments of the tokenize tool.
type TokenizeInput struct {
	Text         string `json:"text" jsonschema:"the text to tokenize"`
	AddBOS       bool   `json:"add_bos,omitempty" jsonschema:"add the beginning-of-sequence token when the vocabulary uses one"`
	ParseSpecial bool   `json:"parse_special,omitempty" jsonschema:"encode special-token strings such as <|endoftext|> as their single ids"`
}

// TokenOut is one token: its id and its text (bytes that are not whole UTF-8
// characters are written <0xNN>).
type TokenOut struct {
	ID   int    `json:"id"`
	Text string `json:"text"`
}

// TokenizeOutput is the result of the tokenize tool.
type TokenizeOutput struct {
	Count  int        `json:"count"`
	Tokens []TokenOut `json:"tokens"`
}

// DissectInput are the arguments of the dissect tool.
type DissectInput struct {
	Prompt      string  `json:"prompt" jsonschema:"the text to continue (chat models: the user's message, unless raw)"`
	MaxTokens   int     `json:"max_tokens,omitempty" jsonschema:"tokens to generate and dissect, 1 to 32 (default 4)"`
	Temperature float64 `json:"temperature,omitempty" jsonschema:"sampling temperature, 0 (default) for greedy decoding"`
	Seed        int64   `json:"seed,omitempty" jsonschema:"random seed when temperature > 0"`
	Top         int     `json:"top,omitempty" jsonschema:"candidates per list, 1 to 20 (default 5)"`
	Raw         bool    `json:"raw,omitempty" jsonschema:"use the prompt as it is, without the model's chat template"`
}

// Candidate is a possible next token with its probability.
type Candidate struct {
	ID   int     `json:"id"`
	Text string  `json:"text"`
	Prob float64 `json:"prob"`
}

// Attended is a position an attention head looked at.
type Attended struct {
	Position int     `json:"position"`
	Text     string  `json:"text"`
	Weight   float64 `json:"weight"`
}

// HeadHighlight is one of the most focused attention heads of a step.
type HeadHighlight struct {
	Layer   int        `json:"layer"`
	Head    int        `json:"head"`
	Entropy float64    `json:"entropy" jsonschema:"entropy of the head's weights in nats (low: focused)"`
	Top     []Attended `json:"top"`
}

// LensLayer is the top prediction after one layer (the logit lens).
type LensLayer struct {
	Layer int         `json:"layer"`
	Top   []Candidate `json:"top"`
}

// StepSummary is one dissected token.
type StepSummary struct {
	Index      int             `json:"index"`
	Position   int             `json:"position" jsonschema:"the position whose output predicted the token"`
	Token      TokenOut        `json:"token"`
	Prob       float64         `json:"prob" jsonschema:"the token's probability before sampling"`
	Entropy    float64         `json:"entropy" jsonschema:"of the next-token distribution, in nats"`
	Candidates []Candidate     `json:"candidates"`
	Attention  []HeadHighlight `json:"attention" jsonschema:"the three most focused heads (lowest entropy)"`
	LogitLens  []LensLayer     `json:"logit_lens"`
}

// DissectOutput is the result of the dissect tool.
type DissectOutput struct {
	TraceID      string        `json:"trace_id"`
	TraceURI     string        `json:"trace_uri" jsonschema:"the resource holding the whole trace as JSON Lines"`
	Text         string        `json:"text"`
	FinishReason string        `json:"finish_reason"`
	PromptTokens []TokenOut    `json:"prompt_tokens"`
	Steps        []StepSummary `json:"steps"`
}

// EmbedInput are the arguments of the embed tool.
type EmbedInput struct {
	Text string `json:"text" jsonschema:"the text to embed"`
}

// EmbedOutput is the result of the embed tool.
type EmbedOutput struct {
	Dimensions int       `json:"dimensions"`
	Tokens     int       `json:"tokens"`
	Embedding  []float64 `json:"embedding" jsonschema:"the mean of the final hidden states, scaled to unit length"`
}

// LogitLensInput are the arguments of the logit_lens tool.
type LogitLensInput struct {
	Prompt   string `json:"prompt" jsonschema:"the text, used as it is (no chat template)"`
	Position *int   `json:"position,omitempty" jsonschema:"token position to look at, from 0 (the first token, BOS included); negative counts from the end; default the last"`
	Top      int    `json:"top,omitempty" jsonschema:"tokens per layer, 1 to 20 (default 3)"`
}

// LogitLensOutput is the result of the logit_lens tool.
type LogitLensOutput struct {
	Position int         `json:"position"`
	Token    TokenOut    `json:"token" jsonschema:"the token at that position"`
	Tokens   int         `json:"tokens" jsonschema:"tokens in the prompt"`
	Layers   []LensLayer `json:"layers" jsonschema:"what the model would predict if it stopped after each layer"`
	Final    []Candidate `json:"final" jsonschema:"the model's actual next-token prediction"`
}

func (s *Server) register() {
	ro := &mcp.ToolAnnotations{ReadOnlyHint: true, OpenWorldHint: new(false)}
	mcp.AddTool(s.srv, &mcp.Tool{Name: "generate", Title: "Generate text", Annotations: ro,
		Description: "Continue a prompt with the local model " + s.cfg.Model.Name() + "."}, s.generate)
	mcp.AddTool(s.srv, &mcp.Tool{Name: "tokenize", Title: "Tokenize", Annotations: ro,
		Description: "Split text into the model's tokens (ids and texts)."}, s.tokenize)
	mcp.AddTool(s.srv, &mcp.Tool{Name: "dissect", Title: "Dissect a generation", Annotations: ro,
		Description: "Generate a few tokens and show why each was chosen: the top candidates, the most focused attention heads and the logit lens. The whole trace is kept as a glassbox://trace/{id} resource."}, s.dissect)
	mcp.AddTool(s.srv, &mcp.Tool{Name: "embed", Title: "Embed text", Annotations: ro,
		Description: "A sentence embedding of the text: the mean of the model's final hidden states, unit length."}, s.embed)
	mcp.AddTool(s.srv, &mcp.Tool{Name: "logit_lens", Title: "Logit lens", Annotations: ro,
		Description: "What the model would predict after each of its layers, at one position of the prompt."}, s.logitLens)
	s.srv.AddResourceTemplate(&mcp.ResourceTemplate{Name: "trace", Title: "Dissection trace", URITemplate: TraceURIPrefix + "{id}",
		MIMEType: TraceMIMEType, Description: "The events of one dissection (dissect tool), one JSON object per line (docs/trace-schema.md)."}, s.readTrace)
}

// sampler returns greedy decoding for temperature 0, otherwise llama.cpp's
// defaults with the temperature and seed.
func sampler(temperature float64, seed int64) (glassbox.SamplerParams, error) {
	if temperature < 0 || temperature > 10 || math.IsNaN(temperature) {
		return glassbox.SamplerParams{}, fmt.Errorf("temperature must be between 0 and 10, got %v", temperature)
	}
	if temperature == 0 {
		return glassbox.SamplerParams{}, nil
	}
	if seed < 0 {
		return glassbox.SamplerParams{}, fmt.Errorf("seed must be >= 0, got %d", seed)
	}
	p := glassbox.DefaultSamplerParams()
	p.Temperature, p.Seed = float32(temperature), uint64(seed)
	return p, p.Validate()
}

// prompt tokenizes a prompt as `glassbox run` does: chat models get it as the
// user's message in their template unless raw.
func (s *Server) prompt(ctx context.Context, text string, raw bool) ([]int, string, error) {
	m := s.cfg.Model
	if m.HasChatTemplate() && !raw {
		r, err := m.RenderChatContext(ctx, []glassbox.Message{{Role: "user", Content: text}})
		if err != nil {
			return nil, "", err
		}
		return m.EncodeChat(r, glassbox.GenerateOptions{}), r, nil
	}
	return m.Encode(text, glassbox.GenerateOptions{}), text, nil
}

func (s *Server) generate(ctx context.Context, _ *mcp.CallToolRequest, in GenerateInput) (*mcp.CallToolResult, GenerateOutput, error) {
	var out GenerateOutput
	n := in.MaxTokens
	if n == 0 {
		n = 64
	}
	if n < 1 || n > MaxGenerateTokens {
		return nil, out, fmt.Errorf("max_tokens must be between 1 and %d, got %d", MaxGenerateTokens, in.MaxTokens)
	}
	p, err := sampler(in.Temperature, in.Seed)
	if err != nil {
		return nil, out, err
	}
	ids, _, err := s.prompt(ctx, in.Prompt, in.Raw)
	if err != nil {
		return nil, out, err
	}
	res, err := s.cfg.Model.GenerateIDs(ctx, ids, glassbox.GenerateOptions{MaxTokens: n, Sampler: p, Stop: in.Stop})
	if err != nil {
		return nil, out, err
	}
	out = GenerateOutput{Text: res.Text, FinishReason: res.FinishReason, PromptTokens: len(ids), GeneratedTokens: len(res.IDs)}
	return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: res.Text}}}, out, nil
}

func (s *Server) tokenize(_ context.Context, _ *mcp.CallToolRequest, in TokenizeInput) (*mcp.CallToolResult, TokenizeOutput, error) {
	tok := s.cfg.Model.Tokenizer()
	ids := tok.Encode(in.Text, glassbox.EncodeOptions{AddBOS: in.AddBOS && tok.AddBOSDefault(), ParseSpecial: in.ParseSpecial})
	out := TokenizeOutput{Count: len(ids), Tokens: make([]TokenOut, len(ids))}
	var b strings.Builder
	for i, id := range ids {
		out.Tokens[i] = TokenOut{ID: id, Text: glassbox.TokenText(tok.TokenBytes(id))}
		fmt.Fprintf(&b, "%d\t%q\n", id, out.Tokens[i].Text)
	}
	return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: strconv.Itoa(len(ids)) + " tokens\n" + b.String()}}}, out, nil
}

func top(k, def int) (int, error) {
	if k == 0 {
		return def, nil
	}
	if k < 1 || k > MaxTop {
		return 0, fmt.Errorf("top must be between 1 and %d, got %d", MaxTop, k)
	}
	return k, nil
}

func (s *Server) dissect(ctx context.Context, _ *mcp.CallToolRequest, in DissectInput) (*mcp.CallToolResult, DissectOutput, error) {
	var out DissectOutput
	n := in.MaxTokens
	if n == 0 {
		n = 4
	}
	if n < 1 || n > MaxDissectTokens {
		return nil, out, fmt.Errorf("max_tokens must be between 1 and %d, got %d", MaxDissectTokens, in.MaxTokens)
	}
	k, err := top(in.Top, 5)
	if err != nil {
		return nil, out, err
	}
	p, err := sampler(in.Temperature, in.Seed)
	if err != nil {
		return nil, out, err
	}
	ids, text, err := s.prompt(ctx, in.Prompt, in.Raw)
	if err != nil {
		return nil, out, err
	}
	events, res, err := s.trace(ctx, ids, text, n, p, glassbox.TraceOptions{Top: k, Attention: true, LogitLens: true, Embeddings: true}, false)
	if err != nil {
		return nil, out, err
	}
	t, err := explain.Collect(events)
	if err != nil {
		return nil, out, err
	}
	id, err := s.keep(events)
	if err != nil {
		return nil, out, err
	}
	out = DissectOutput{TraceID: id, TraceURI: TraceURIPrefix + id, Text: res.Text, FinishReason: res.FinishReason,
		PromptTokens: []TokenOut{}, Steps: []StepSummary{}}
	for _, tk := range t.Tokenization.Tokens {
		out.PromptTokens = append(out.PromptTokens, TokenOut{ID: tk.ID, Text: tk.Text})
	}
	for _, st := range t.Steps {
		out.Steps = append(out.Steps, summarize(st))
	}
	var report bytes.Buffer
	if err := explain.Report(&report, t, explain.ReportOptions{}); err != nil {
		return nil, out, err
	}
	link := &mcp.ResourceLink{URI: out.TraceURI, Name: "trace " + id, MIMEType: TraceMIMEType, Description: "the whole trace as JSON Lines"}
	return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: report.String()}, link}}, out, nil
}

// summarize keeps what a reader of a step needs: the chosen token, the
// candidates, the three most focused heads and the logit lens.
func summarize(st glassbox.TraceStep) StepSummary {
	sum := StepSummary{Index: st.Index, Position: st.Position, Token: TokenOut{ID: st.Token.ID, Text: st.Token.Text},
		Prob: float64(st.Sampling.RawProb), Entropy: float64(st.Prediction.Entropy), Candidates: []Candidate{}, Attention: []HeadHighlight{}, LogitLens: []LensLayer{}}
	for _, c := range st.Prediction.Top {
		sum.Candidates = append(sum.Candidates, Candidate{ID: c.ID, Text: c.Text, Prob: float64(c.Prob)})
	}
	heads := append([]glassbox.TraceHeadAttention(nil), st.Attention...)
	sort.SliceStable(heads, func(a, b int) bool { return heads[a].Entropy < heads[b].Entropy })
	for _, h := range heads[:min(3, len(heads))] {
		hl := HeadHighlight{Layer: h.Layer, Head: h.Head, Entropy: float64(h.Entropy), Top: []Attended{}}
		for _, a := range h.Top[:min(3, len(h.Top))] {
			hl.Top = append(hl.Top, Attended{Position: a.Position, Text: a.Token.Text, Weight: float64(a.Weight)})
		}
		sum.Attention = append(sum.Attention, hl)
	}
	sum.LogitLens = lens(st.LogitLens)
	return sum
}

func lens(layers []glassbox.TraceLensLayer) []LensLayer {
	out := []LensLayer{}
	for _, l := range layers {
		ll := LensLayer{Layer: l.Layer, Top: []Candidate{}}
		for _, c := range l.Top {
			ll.Top = append(ll.Top, Candidate{ID: c.ID, Text: c.Text, Prob: float64(c.Prob)})
		}
		out = append(out, ll)
	}
	return out
}

// trace runs one traced generation of ids and returns its events.
func (s *Server) trace(ctx context.Context, ids []int, text string, n int, p glassbox.SamplerParams, opts glassbox.TraceOptions, ignoreEOS bool) ([]glassbox.TraceEvent, *glassbox.Result, error) {
	var events []glassbox.TraceEvent
	res, err := s.cfg.Model.GenerateIDs(ctx, ids, glassbox.GenerateOptions{MaxTokens: n, Sampler: p, IgnoreEOS: ignoreEOS,
		Trace: &glassbox.Tracing{Options: opts, PromptText: text, Emit: func(ev glassbox.TraceEvent) error {
			events = append(events, ev)
			return nil
		}}})
	return events, res, err
}

// keep stores a trace as a resource and returns its id, removing the oldest
// beyond MaxTraces.
func (s *Server) keep(events []glassbox.TraceEvent) (string, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	for _, ev := range events {
		if err := enc.Encode(ev); err != nil {
			return "", err
		}
	}
	s.mu.Lock()
	s.next++
	id := strconv.Itoa(s.next)
	s.traces[id] = b.Bytes()
	s.order = append(s.order, id)
	var drop []string
	for len(s.order) > s.cfg.MaxTraces {
		drop = append(drop, TraceURIPrefix+s.order[0])
		delete(s.traces, s.order[0])
		s.order = s.order[1:]
	}
	size := int64(b.Len())
	s.mu.Unlock()
	if len(drop) > 0 {
		s.srv.RemoveResources(drop...)
	}
	s.srv.AddResource(&mcp.Resource{URI: TraceURIPrefix + id, Name: "trace " + id, Title: "Dissection trace " + id,
		MIMEType: TraceMIMEType, Size: size, Description: "a dissection by the dissect tool, one JSON event per line"}, s.readTrace)
	return id, nil
}

func (s *Server) readTrace(_ context.Context, req *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
	uri := req.Params.URI
	id, ok := strings.CutPrefix(uri, TraceURIPrefix)
	s.mu.Lock()
	b, found := s.traces[id]
	s.mu.Unlock()
	if !ok || !found {
		return nil, mcp.ResourceNotFoundError(uri)
	}
	return &mcp.ReadResourceResult{Contents: []*mcp.ResourceContents{{URI: uri, MIMEType: TraceMIMEType, Text: string(b)}}}, nil
}

func (s *Server) embed(_ context.Context, _ *mcp.CallToolRequest, in EmbedInput) (*mcp.CallToolResult, EmbedOutput, error) {
	var out EmbedOutput
	m := s.cfg.Model
	ids := m.Encode(in.Text, glassbox.GenerateOptions{})
	v, err := m.EmbedIDs(ids)
	if err != nil {
		return nil, out, err
	}
	var ss float64
	for _, x := range v {
		ss += float64(x) * float64(x)
	}
	out = EmbedOutput{Dimensions: len(v), Tokens: len(ids), Embedding: make([]float64, len(v))}
	for i, x := range v {
		out.Embedding[i] = float64(x)
		if ss > 0 {
			out.Embedding[i] /= math.Sqrt(ss)
		}
	}
	return nil, out, nil
}

func (s *Server) logitLens(ctx context.Context, _ *mcp.CallToolRequest, in LogitLensInput) (*mcp.CallToolResult, LogitLensOutput, error) {
	var out LogitLensOutput
	k, err := top(in.Top, 3)
	if err != nil {
		return nil, out, err
	}
	ids := s.cfg.Model.Encode(in.Prompt, glassbox.GenerateOptions{})
	if len(ids) == 0 {
		return nil, out, errors.New("prompt gives no tokens: expected some text")
	}
	pos := len(ids) - 1
	if in.Position != nil {
		pos = *in.Position
		if pos < 0 {
			pos += len(ids)
		}
		if pos < 0 || pos >= len(ids) {
			return nil, out, fmt.Errorf("position %d is outside the prompt's %d tokens (0 to %d, or -1 to -%d from the end)", *in.Position, len(ids), len(ids)-1, len(ids))
		}
	}
	// The residual stream at pos depends on the tokens up to pos only, so
	// the prefix predicts exactly what the whole prompt would there.
	events, _, err := s.trace(ctx, ids[:pos+1], "", 1, glassbox.SamplerParams{}, glassbox.TraceOptions{Top: k, LogitLens: true}, true)
	if err != nil {
		return nil, out, err
	}
	for _, ev := range events {
		if ev.Type != glassbox.TraceTypeStep || ev.Step == nil {
			continue
		}
		st := ev.Step
		out = LogitLensOutput{Position: st.Position, Token: TokenOut{ID: st.Input.ID, Text: st.Input.Text}, Tokens: len(ids), Layers: lens(st.LogitLens), Final: []Candidate{}}
		for _, c := range st.Prediction.Top {
			out.Final = append(out.Final, Candidate{ID: c.ID, Text: c.Text, Prob: float64(c.Prob)})
		}
		var b strings.Builder
		fmt.Fprintf(&b, "position %d [%s]: top token after each layer\n", out.Position, explain.Show(out.Token.Text))
		for _, l := range out.Layers {
			fmt.Fprintf(&b, "L%d", l.Layer)
			for _, c := range l.Top {
				fmt.Fprintf(&b, "  [%s] %s", explain.Show(c.Text), explain.Pct(float32(c.Prob)))
			}
			b.WriteString("\n")
		}
		b.WriteString("final")
		for _, c := range out.Final {
			fmt.Fprintf(&b, "  [%s] %s", explain.Show(c.Text), explain.Pct(float32(c.Prob)))
		}
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: b.String()}}}, out, nil
	}
	return nil, out, errors.New("the trace has no step: the model generated nothing at that position")
}
