// Package glassbox is the Go SDK of the glassbox engine: open a GGUF or
// llama2.c model, generate text with a streaming callback, chat with the
// model's own template. The command-line tool is built on this package alone.
//
//	m, err := glassbox.Open("model.gguf", nil)
//	if err != nil { … }
//	defer m.Close()
//	res, err := m.Generate(ctx, "Once upon a time", glassbox.GenerateOptions{MaxTokens: 64})
//	fmt.Println(res.Text)
package glassbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"glassbox/chat"
	"glassbox/gguf"
	"glassbox/infer"
	"glassbox/model"
	"glassbox/sample"
	"glassbox/tensor"
	"glassbox/tokenizer"
)

// ErrMemory is wrapped by the error Open, OpenBytes and NewSession return
// when a session's KV cache and buffers would need more memory than the
// system has available; the message says how much is needed and available.
var ErrMemory = model.ErrMemory

// Options configures how a model is opened.
type Options struct {
	// Tokenizer is a tokenizer file (GGUF, tokenizer.json or llama2.c
	// tokenizer.bin). Required for llama2.c checkpoints unless a tokenizer sits
	// beside the checkpoint (tok<vocab>.bin or tokenizer.bin); GGUF files carry
	// their own.
	Tokenizer string
	// Context is the number of positions of the KV cache (default: the model's
	// training context, at most 4096). A context whose cache would not fit in
	// the available memory is refused with an error wrapping ErrMemory.
	Context int
	// Threads is the number of worker threads for the matrix products
	// (default: all cores).
	Threads int
	// KVCacheF32 keeps the KV cache in F32 instead of F16.
	KVCacheF32 bool
	// Batch is the number of prompt tokens processed per step (default 64).
	Batch int
}

// Model is an opened model with its tokenizer and, for chat models, its chat
// template. Its methods are safe for concurrent use; generations run one at a time.
type Model struct {
	path     string
	file     *gguf.File
	model    *model.Model
	tok      *tokenizer.Tokenizer
	template *chat.Template
	tmplSrc  string
	loadTime time.Duration
	opts     Options

	mu      sync.Mutex
	session *infer.Session
}

// Open loads a model file: a GGUF file (any supported architecture and quant
// type) or a llama2.c checkpoint. Weights are memory-mapped, not copied.
func Open(path string, opts *Options) (*Model, error) {
	t0 := time.Now()
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Threads > 0 {
		tensor.SetThreads(o.Threads)
	}
	m := &Model{path: path, opts: o}
	isGGUF, err := hasGGUFMagic(path)
	if err != nil {
		return nil, err
	}
	if isGGUF {
		f, err := gguf.Open(path)
		if err != nil {
			return nil, err
		}
		if err := m.loadGGUF(f); err != nil {
			return nil, fmt.Errorf("load %s: %w", path, err)
		}
	} else {
		if m.model, err = model.LoadLlama2C(path); err != nil {
			return nil, err
		}
		tp := o.Tokenizer
		if tp == "" {
			tp = findLlama2CTokenizer(path, m.model.Config.VocabSize)
			if tp == "" {
				m.model.Close()
				return nil, fmt.Errorf("load %s: a llama2.c checkpoint needs a tokenizer file: pass one (tok%d.bin or tokenizer.bin), none sits beside the checkpoint", path, m.model.Config.VocabSize)
			}
		}
		if m.tok, err = tokenizer.LoadLlama2C(tp, m.model.Config.VocabSize); err != nil {
			m.model.Close()
			return nil, fmt.Errorf("load tokenizer %s: %w", tp, err)
		}
	}
	if err := m.finishOpen(); err != nil {
		return nil, err
	}
	m.loadTime = time.Since(t0)
	return m, nil
}

// OpenBytes opens a GGUF model held in memory (such as one embedded in the
// binary with go:embed). data is used in place and must not change while the
// model is open; name is what Name reports.
func OpenBytes(name string, data []byte, opts *Options) (*Model, error) {
	t0 := time.Now()
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Threads > 0 {
		tensor.SetThreads(o.Threads)
	}
	f, err := gguf.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", name, err)
	}
	m := &Model{path: name, opts: o}
	if err := m.loadGGUF(f); err != nil {
		return nil, fmt.Errorf("load %s: %w", name, err)
	}
	if err := m.finishOpen(); err != nil {
		return nil, err
	}
	m.loadTime = time.Since(t0)
	return m, nil
}

// loadGGUF binds a GGUF file's weights, tokenizer and chat template. On
// error the file is closed.
func (m *Model) loadGGUF(f *gguf.File) (err error) {
	m.file = f
	defer func() {
		if err != nil {
			f.Close()
		}
	}()
	if m.model, err = model.LoadGGUF(f); err != nil {
		return err
	}
	if m.opts.Tokenizer != "" {
		m.tok, err = tokenizer.LoadFile(m.opts.Tokenizer)
	} else {
		m.tok, err = tokenizer.FromGGUF(f)
	}
	if err != nil {
		return fmt.Errorf("tokenizer: %w", err)
	}
	if src, ok := f.String("tokenizer.chat_template"); ok && src != "" {
		m.tmplSrc = src
		if m.template, err = chat.Parse(src); err != nil {
			return fmt.Errorf("chat template: %w", err)
		}
	}
	return nil
}

// finishOpen checks the tokenizer against the model, sets the context and
// checks that a session's KV cache fits in the available memory.
func (m *Model) finishOpen() error {
	if m.tok.VocabSize() > m.model.Config.VocabSize {
		m.Close()
		return fmt.Errorf("load %s: the tokenizer has %d tokens but the model only %d embeddings", m.path, m.tok.VocabSize(), m.model.Config.VocabSize)
	}
	if m.opts.Context <= 0 {
		m.opts.Context = min(m.model.Config.ContextLength, 4096)
	}
	// a context too large for the memory is refused now, not at the first generation
	if err := m.model.CheckStateMemory(m.stateOptions()); err != nil {
		m.Close()
		return err
	}
	return nil
}

// stateOptions are the settings of the model's generation sessions.
func (m *Model) stateOptions() model.StateOptions {
	return model.StateOptions{Context: m.opts.Context, Batch: m.opts.Batch, KVType: m.KVCacheType()}
}

func hasGGUFMagic(path string) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	var magic [4]byte
	if _, err := io.ReadFull(f, magic[:]); err != nil {
		return false, fmt.Errorf("open %s: file too short to be a model (%v)", path, err)
	}
	return bytes.Equal(magic[:], []byte("GGUF")), nil
}

// findLlama2CTokenizer looks for tok<vocab>.bin, then tokenizer.bin, beside a
// llama2.c checkpoint.
func findLlama2CTokenizer(path string, vocab int) string {
	dir := filepath.Dir(path)
	for _, name := range []string{fmt.Sprintf("tok%d.bin", vocab), "tokenizer.bin"} {
		p := filepath.Join(dir, name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p
		}
	}
	return ""
}

// Close releases the model's memory mappings.
func (m *Model) Close() error {
	var errs []error
	if m.model != nil {
		errs = append(errs, m.model.Close())
	}
	if m.file != nil {
		errs = append(errs, m.file.Close())
	}
	return errors.Join(errs...)
}

// Config returns the model's hyper-parameters.
func (m *Model) Config() model.Config { return m.model.Config }

// Tokenizer returns the model's tokenizer.
func (m *Model) Tokenizer() *tokenizer.Tokenizer { return m.tok }

// Engine returns the underlying transformer (for tracing and tools).
func (m *Model) Engine() *model.Model { return m.model }

// GGUF returns the model's GGUF file, or nil for a llama2.c checkpoint.
func (m *Model) GGUF() *gguf.File { return m.file }

// Name returns the model's name: its file name without the extension.
func (m *Model) Name() string {
	base := filepath.Base(m.path)
	return strings.TrimSuffix(base, filepath.Ext(base))
}

// Path returns the file the model was opened from.
func (m *Model) Path() string { return m.path }

// LoadDuration returns how long Open took.
func (m *Model) LoadDuration() time.Duration { return m.loadTime }

// KVCacheType returns the element type of the KV cache (F16 or F32).
func (m *Model) KVCacheType() tensor.Type {
	if m.opts.KVCacheF32 {
		return tensor.F32
	}
	return tensor.F16
}

// ContextSize returns the number of positions available to a generation.
func (m *Model) ContextSize() int { return m.opts.Context }

// KVCacheBytes returns the size in bytes of a session's key/value cache:
// layers × context × (key width + value width) × bytes per element (2 for the
// default F16 cache, 4 with KVCacheF32).
func (m *Model) KVCacheBytes() int64 {
	return m.model.Config.KVCacheBytes(m.opts.Context, m.KVCacheType())
}

// SessionBytes returns the memory a session allocates: its KV cache plus the
// activation buffers and attention scratch of the forward pass.
func (m *Model) SessionBytes() int64 {
	_, total := m.model.StateBytes(m.stateOptions())
	return total
}

// HasChatTemplate reports whether the model carries a chat template.
func (m *Model) HasChatTemplate() bool { return m.template != nil }

// ChatTemplate returns the source of the model's chat template ("" if none).
func (m *Model) ChatTemplate() string { return m.tmplSrc }

// GenerateOptions configures one generation.
type GenerateOptions struct {
	MaxTokens int           // generated tokens at most (<= 0: until the context is full)
	Sampler   sample.Params // sampling settings; the zero value is greedy decoding
	Stop      []string      // stop strings
	LogProbs  int           // record log-probabilities of the chosen and top LogProbs tokens
	IgnoreEOS bool          // continue past end-of-generation tokens
	// NoBOS suppresses the beginning-of-sequence token that the vocabulary
	// would otherwise add.
	NoBOS bool
	// ParseSpecial makes special-token strings in the prompt (such as
	// <|im_start|>) encode as their single ids.
	ParseSpecial bool
	// OnToken receives each generated token as it is produced; an error stops
	// the generation.
	OnToken func(infer.Token) error
	// Trace, when set, dissects the generation: its Emit function receives the
	// trace events (see package trace). ModelName and PromptText default to the
	// model file's name and the prompt.
	Trace *infer.Tracing
}

// Result is a finished generation.
type Result = infer.Result

// Encode tokenizes a prompt as Generate does.
func (m *Model) Encode(prompt string, opts GenerateOptions) []int {
	return m.tok.Encode(prompt, tokenizer.EncodeOptions{AddBOS: m.tok.AddBOSDefault() && !opts.NoBOS, ParseSpecial: opts.ParseSpecial})
}

// Generate continues a prompt.
func (m *Model) Generate(ctx context.Context, prompt string, opts GenerateOptions) (*Result, error) {
	if opts.Trace != nil && opts.Trace.PromptText == "" {
		t := *opts.Trace
		t.PromptText = prompt
		opts.Trace = &t
	}
	return m.GenerateIDs(ctx, m.Encode(prompt, opts), opts)
}

// GenerateIDs continues a tokenized prompt.
func (m *Model) GenerateIDs(ctx context.Context, ids []int, opts GenerateOptions) (*Result, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.session == nil {
		s, err := m.NewSession()
		if err != nil {
			return nil, err
		}
		m.session = s
	}
	if opts.Trace != nil {
		t := *opts.Trace
		if t.ModelName == "" {
			t.ModelName = m.Name()
		}
		if t.PromptText == "" {
			t.PromptText = m.tok.Decode(ids)
		}
		opts.Trace = &t
	}
	return m.session.Generate(ctx, infer.Request{
		Prompt: ids, MaxTokens: opts.MaxTokens, Stop: opts.Stop, Sampler: opts.Sampler,
		LogProbs: opts.LogProbs, IgnoreEOS: opts.IgnoreEOS, OnToken: opts.OnToken, Trace: opts.Trace,
	})
}

// Message is one chat message.
type Message = chat.Message

// RenderChat applies the model's chat template to messages, ending with the
// assistant's turn.
func (m *Model) RenderChat(msgs []Message) (string, error) {
	if m.template == nil {
		return "", errors.New("this model has no chat template (tokenizer.chat_template): use a raw prompt")
	}
	bos, eos := "", ""
	if id := m.tok.BOS(); id >= 0 {
		bos = m.tok.Piece(id)
	}
	if id := m.tok.EOS(); id >= 0 {
		eos = m.tok.Piece(id)
	}
	return m.template.Render(msgs, chat.Options{AddGenerationPrompt: true, BOSToken: bos, EOSToken: eos})
}

// Chat renders the conversation with the model's chat template and generates
// the assistant's reply. Special tokens in the rendered text are parsed; the
// BOS token is not added twice when the template writes it.
func (m *Model) Chat(ctx context.Context, msgs []Message, opts GenerateOptions) (*Result, error) {
	text, err := m.RenderChat(msgs)
	if err != nil {
		return nil, err
	}
	if opts.Trace != nil && opts.Trace.PromptText == "" {
		t := *opts.Trace
		t.PromptText = text
		opts.Trace = &t
	}
	return m.GenerateIDs(ctx, m.EncodeChat(text, opts), opts)
}

// EncodeChat tokenizes a rendered chat prompt: special tokens parsed, and BOS
// added only when the vocabulary wants it and the template did not write it.
func (m *Model) EncodeChat(rendered string, opts GenerateOptions) []int {
	addBOS := m.tok.AddBOSDefault() && !opts.NoBOS
	if id := m.tok.BOS(); id >= 0 && strings.HasPrefix(rendered, m.tok.Piece(id)) {
		addBOS = false
	}
	return m.tok.Encode(rendered, tokenizer.EncodeOptions{AddBOS: addBOS, ParseSpecial: true})
}

// NewSession creates an independent generation session (its own KV cache)
// with the model's context and cache settings, for callers that run several
// sequences at once, such as a server with parallel slots.
func (m *Model) NewSession() (*infer.Session, error) {
	return infer.NewSession(m.model, m.tok, model.StateOptions{Context: m.opts.Context, Batch: m.opts.Batch, KVType: m.KVCacheType()})
}

// Embed returns a sentence embedding of text: the mean of the model's final
// (normalised) hidden states over its tokens. It runs in its own cache.
func (m *Model) Embed(text string) ([]float32, error) {
	ids := m.tok.Encode(text, tokenizer.EncodeOptions{AddBOS: m.tok.AddBOSDefault()})
	if len(ids) > m.opts.Context {
		return nil, fmt.Errorf("%w: the text has %d tokens and the context holds %d (%d too many)", infer.ErrContext, len(ids), m.opts.Context, len(ids)-m.opts.Context)
	}
	st, err := m.model.NewState(model.StateOptions{Context: max(len(ids), 1), Batch: m.opts.Batch})
	if err != nil {
		return nil, err
	}
	return m.model.Embed(st, ids)
}
