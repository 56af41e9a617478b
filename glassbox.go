// Package glassbox is the Go SDK of the glassbox engine: open a GGUF or
// llama2.c model, generate text with a streaming callback, chat with the
// model's own template, embed text, dissect a generation. The server and the
// glassbox command are built on this package, never on the engine's layers
// (the import rule of docs/ARCHITECTURE.md).
//
// An application needs only this import for ordinary use: the engine's types
// it handles — tokens, requests, results, sampler parameters, the model's
// configuration and tokenizer, trace options and events — are named here as
// aliases (Token, Request, SamplerParams, Config, Tokenizer, TraceOptions,
// TraceEvent …), the same types as in the engine's packages, and ModelInfo
// describes a model as the server's model page and the traces' meta event do.
//
//	m, err := glassbox.Open("model.gguf", nil)
//	if err != nil { … }
//	defer m.Close()
//	res, err := m.Generate(ctx, "Once upon a time", glassbox.GenerateOptions{MaxTokens: 64})
//	fmt.Println(res.Text)
package glassbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"glassbox/chat"
	"glassbox/gguf"
	"glassbox/infer"
	"glassbox/model"
	"glassbox/tensor"
	"glassbox/tokenizer"
	"glassbox/trace"
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
	// KeyCacheType, when Q8_0 or Q4_0, stores the keys in that type
	// (llama.cpp's --cache-type-k q8_0 / q4_0), the values staying in F16
	// (F32 with KVCacheF32): the key half of the cache shrinks to 34/64
	// (Q8_0) or 18/64 (Q4_0) of its F16 size. The queries are converted to
	// Q8_0 for the dot products, as llama.cpp does without flash attention.
	// The zero value keeps the keys in the values' type; others are refused.
	KeyCacheType TensorType
	// ValueCacheType, when Q8_0 or Q4_0, stores the values in that type
	// (llama.cpp's --cache-type-v q8_0 / q4_0): each value row rotated by a
	// 64-point Walsh-Hadamard transform and quantized as llama.cpp does. It
	// needs flash attention (FlashAttention auto or on; off is refused, as
	// llama.cpp refuses it); the keys then stay F16 unless KeyCacheType is
	// set. The zero value keeps the values in F16 (F32 with KVCacheF32).
	ValueCacheType TensorType
	// FlashAttention chooses how attention runs (llama.cpp's -fa): the
	// softmax path (off) or flash attention, an online softmax over the
	// cache with llama.cpp's -fa on numbers (on). The zero value, auto,
	// turns it on only when a quantized value cache needs it: on this
	// project's CPU kernels the softmax path is the faster one (see
	// docs/performance.md, "Long context").
	FlashAttention FlashAttention
	// KVPool, when set, is the memory budget the KV caches of the model's
	// sessions (NewSession, Batcher.NewSession) share, with the sessions of
	// every other model given the same pool: see KVPool. Without it each
	// session's cache still grows in pages as its sequence does.
	KVPool *KVPool
	// Batch is the number of prompt tokens processed per step (default 64).
	Batch int
	// ChatTemplate, when set, is the Jinja chat template to use instead of
	// the one the model file carries (llama-server's --chat-template-file).
	ChatTemplate string
	// FallbackChatTemplate, when set, is the chat template of a model file
	// that carries none (ChatTemplate, when set, wins over both).
	FallbackChatTemplate string
	// LoRA lists adapters in llama.cpp's GGUF LoRA format applied to the
	// weights, in order (llama.cpp's --lora and --lora-scaled): every
	// product with an adapted weight W becomes W·x + s·(alpha/rank)·B·(A·x).
	LoRA []LoRAAdapter
}

// LoRAAdapter is a LoRA adapter file and its scale s (0 is taken as 1,
// llama.cpp's --lora; another value is --lora-scaled FILE s).
type LoRAAdapter struct {
	Path  string
	Scale float32
}

// ErrClosed is returned (wrapped) by a Model's methods that read the weights,
// and by its sessions, once Close has begun.
var ErrClosed = errors.New("the model is closed")

// Model is an opened model with its tokenizer and, for chat models, its chat
// template. Its methods are safe for concurrent use; generations run one at a time.
//
// The weights are memory-mapped: Close unmaps them only once every generation,
// embedding and other use that reads them has ended (see Acquire), so that no
// goroutine can read unmapped memory.
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
	session *Session

	life lifecycle
	id   modelID // the file's SHA-256, computed on first use (state.go)
}

// lifecycle counts the uses of a model's weights so that Close unmaps them
// only when no goroutine can still read them.
type lifecycle struct {
	mu      sync.Mutex
	cond    *sync.Cond // signalled when users drops to 0 and when Close ends
	users   int        // uses in progress (Acquire not yet released)
	closing bool       // Close has begun: no new use is admitted
	closed  bool       // the weights are released
	err     error      // what releasing them returned
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
			if model.IsNotLlama2C(err) {
				return nil, neitherFormatError(path, err)
			}
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
			return nil, fmt.Errorf("load %s: %w", path, err)
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
		return err // the tokenizer package's errors say "tokenizer: …"
	}
	if src, ok := f.String("tokenizer.chat_template"); ok && src != "" && m.opts.ChatTemplate == "" {
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
	if len(m.opts.LoRA) > 0 {
		if err := m.applyLoRA(); err != nil {
			m.Close()
			return fmt.Errorf("load %s: %w", m.path, err)
		}
	}
	src := m.opts.ChatTemplate
	if src == "" && m.template == nil {
		src = m.opts.FallbackChatTemplate
	}
	if src != "" {
		t, err := chat.Parse(src)
		if err != nil {
			m.Close()
			return fmt.Errorf("load %s: the chat template given: %w", m.path, err)
		}
		m.template, m.tmplSrc = t, src
	}
	if m.tok.VocabSize() > m.model.Config.VocabSize {
		m.Close()
		return fmt.Errorf("load %s: the tokenizer has %d tokens but the model only %d embeddings", m.path, m.tok.VocabSize(), m.model.Config.VocabSize)
	}
	if m.opts.Context <= 0 {
		m.opts.Context = min(m.model.Config.ContextLength, 4096)
	}
	if err := m.model.CheckStateOptions(m.stateOptions()); err != nil {
		m.Close()
		return fmt.Errorf("load %s: %w", m.path, err)
	}
	// a context too large for the memory is refused now, not at the first generation
	if err := m.model.CheckStateMemory(m.stateOptions()); err != nil {
		m.Close()
		return err
	}
	return nil
}

// applyLoRA reads the adapters of Options.LoRA and applies them to the
// weights.
func (m *Model) applyLoRA() error {
	for _, a := range m.opts.LoRA {
		f, err := gguf.Open(a.Path)
		if err != nil {
			return fmt.Errorf("LoRA adapter: %w", err)
		}
		ad, err := model.ReadLoRA(f) // copies the values
		f.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", a.Path, err)
		}
		if ad.Name == "" {
			ad.Name = strings.TrimSuffix(filepath.Base(a.Path), filepath.Ext(a.Path))
		}
		s := a.Scale
		if s == 0 {
			s = 1
		}
		tuned, err := m.model.WithLoRA([]model.AppliedLoRA{{Adapter: ad, Scale: s}})
		if err != nil {
			return fmt.Errorf("%s: %w", a.Path, err)
		}
		m.model = tuned
	}
	return nil
}

// LoRAInfo describes an adapter applied to a model: its name, scale, alpha
// and the number of weights it adapts.
type LoRAInfo = trace.LoRA

// LoRA returns the adapters applied to the weights (Options.LoRA), in order.
func (m *Model) LoRA() []LoRAInfo {
	var out []LoRAInfo
	for _, a := range m.model.LoRA {
		out = append(out, LoRAInfo{Name: a.Adapter.Name, Scale: a.Scale, Alpha: a.Adapter.Alpha, Weights: len(a.Adapter.Weights)})
	}
	return out
}

// WriteMerged writes the model with its LoRA adapters (Options.LoRA)
// folded into the weights, W + scale·(alpha/rank)·B·A, as a new GGUF file
// carrying the model's metadata, general.name set to name (when not
// empty). typ is "f32" (every matrix in F32: the merged weights are
// exact), "f16" (every matrix in F16) or "base" (each merged weight
// requantized to its own type, every other tensor copied: only for the
// types glassbox quantizes, F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0).
// It returns the number of merged weights.
func (m *Model) WriteMerged(w io.Writer, typ, name string) (int, error) {
	release, err := m.Acquire()
	if err != nil {
		return 0, err
	}
	defer release()
	if m.file == nil {
		return 0, fmt.Errorf("%s is not a GGUF file: merging writes the base's GGUF tensors", m.path)
	}
	return model.WriteMerged(w, m.file, m.model, model.MergeType(typ), name)
}

// stateOptions are the settings of the model's generation sessions.
func (m *Model) stateOptions() model.StateOptions {
	key := m.opts.KeyCacheType
	if key == 0 && tensor.KVQuantSupported(m.opts.ValueCacheType) {
		key = tensor.F16 // llama.cpp's default -ctk f16 beside quantized values
	}
	kv := m.KVCacheType()
	if v := m.opts.ValueCacheType; v != 0 && v != tensor.F16 && !tensor.KVQuantSupported(v) {
		kv = v // refused by the engine with the types it supports
	}
	return model.StateOptions{Context: m.opts.Context, Batch: m.opts.Batch, KVType: kv, KeyType: key, FlashAttn: m.FlashAttn()}
}

// sessionOptions are stateOptions with the pool of Options.KVPool: the
// caches of sessions draw from it (a draft model's, a scorer's or an
// embedding's do not).
func (m *Model) sessionOptions() model.StateOptions {
	opt := m.stateOptions()
	opt.Pool = m.opts.KVPool
	return opt
}

// KVPool is a memory budget shared by the KV caches of sessions
// (Options.KVPool; model.KVPool): a session's cache grows in pages of 256
// positions as its sequence does; when a page would pass the budget, the
// cache of the idle session used the longest ago is evicted (its next
// request processes its whole prompt: Session.Evicted), or, every session
// holding memory being busy, the request waits for one to finish; a cache
// that could never fit, or a wait no one would end, fails with an error
// wrapping ErrKVBudget that says the budget and what was needed.
type KVPool = model.KVPool

// ErrKVBudget is wrapped by the error of a generation whose KV cache cannot
// grow within its KVPool's budget.
var ErrKVBudget = model.ErrKVBudget

// NewKVPool returns a pool of budget bytes for Options.KVPool (0: no limit,
// the pool only counts the bytes in use).
func NewKVPool(budget int64) (*KVPool, error) { return model.NewKVPool(budget) }

// hasGGUFMagic reports whether path is a GGUF file (gguf.IsFile), with the
// error of a file too short to be any model.
func hasGGUFMagic(path string) (bool, error) {
	ok, err := gguf.IsFile(path)
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return false, fmt.Errorf("open %s: file too short to be a model (%v)", path, errors.Unwrap(err))
	}
	return ok, err
}

// neitherFormatError explains that path is neither a GGUF file nor a llama2.c
// checkpoint, with what its first bytes hold.
func neitherFormatError(path string, err error) error {
	var nl *model.NotLlama2CError
	errors.As(err, &nl)
	start := []byte{}
	if f, err := os.Open(path); err == nil {
		start = make([]byte, 48)
		n, _ := io.ReadFull(f, start)
		start = start[:n]
		f.Close()
	}
	found := fmt.Sprintf("it starts with %q", start[:min(len(start), 4)])
	if looksLikeText(start) {
		found = fmt.Sprintf("it looks like text: %q", start)
	}
	return fmt.Errorf("%s is neither a GGUF file (those start with the magic \"GGUF\"; %s) nor a llama2.c checkpoint (%s)", path, found, nl.Detail)
}

// looksLikeText reports whether b (the start of a file) is UTF-8 text without
// control characters other than tabs and line breaks.
func looksLikeText(b []byte) bool {
	for i := 0; i < 3 && len(b) > 0 && !utf8.Valid(b); i++ {
		b = b[:len(b)-1] // a character cut by the end of the sample
	}
	if len(b) == 0 || !utf8.Valid(b) {
		return false
	}
	for _, c := range b {
		if c < 0x20 && c != '\t' && c != '\n' && c != '\r' || c == 0x7f {
			return false
		}
	}
	return true
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

// Acquire marks the model's weights as in use until release is called:
// Close waits for every release before it unmaps them. Generations, sessions
// and Embed acquire the model themselves; call Acquire around any direct use
// of Engine or of the GGUF file's tensor data that may overlap a Close. It
// fails with ErrClosed once Close has begun. release may be called more than
// once; only the first call counts.
func (m *Model) Acquire() (release func(), err error) {
	l := &m.life
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closing {
		return nil, fmt.Errorf("%s: %w", m.Name(), ErrClosed)
	}
	l.users++
	var once sync.Once
	return func() {
		once.Do(func() {
			l.mu.Lock()
			defer l.mu.Unlock()
			if l.users--; l.users == 0 && l.cond != nil {
				l.cond.Broadcast()
			}
		})
	}, nil
}

// Close releases the model's memory mappings. New generations, sessions'
// generations, embeddings and Acquire calls fail with ErrClosed from the
// moment Close is called; those already running are waited for (cancel their
// contexts to make them end sooner), so the weights are never unmapped under
// a goroutine that reads them. Calling Close again waits for the first call
// and returns its result.
func (m *Model) Close() error {
	l := &m.life
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.cond == nil {
		l.cond = sync.NewCond(&l.mu)
	}
	if l.closing {
		for !l.closed {
			l.cond.Wait()
		}
		return l.err
	}
	l.closing = true
	for l.users > 0 {
		l.cond.Wait()
	}
	var errs []error
	if m.model != nil {
		errs = append(errs, m.model.Close())
	}
	if m.file != nil {
		errs = append(errs, m.file.Close())
	}
	l.err = errors.Join(errs...)
	l.closed = true
	l.cond.Broadcast()
	return l.err
}

// Config returns the model's hyper-parameters.
func (m *Model) Config() Config { return m.model.Config }

// Tokenizer returns the model's tokenizer.
func (m *Model) Tokenizer() *Tokenizer { return m.tok }

// Engine returns the underlying transformer (for tracing and tools). Its
// weights are unmapped by Close: hold Acquire while using them.
func (m *Model) Engine() *model.Model { return m.model }

// GGUF returns the model's GGUF file, or nil for a llama2.c checkpoint. Its
// tensor data is unmapped by Close: hold Acquire while reading it.
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

// FlashAttention is Options.FlashAttention: auto, on or off (llama.cpp's
// -fa auto|on|off).
type FlashAttention int

// The settings of Options.FlashAttention.
const (
	FlashAttnAuto FlashAttention = iota // on when a quantized value cache needs it
	FlashAttnOn                         // always flash attention
	FlashAttnOff                        // always the softmax path
)

// String returns "auto", "on" or "off".
func (f FlashAttention) String() string {
	switch f {
	case FlashAttnOn:
		return "on"
	case FlashAttnOff:
		return "off"
	case FlashAttnAuto:
		return "auto"
	}
	return fmt.Sprintf("FlashAttention(%d)", int(f))
}

// ParseFlashAttention reads llama.cpp's -fa values: on, off, auto (also
// 1/0, true/false, enabled/disabled).
func ParseFlashAttention(s string) (FlashAttention, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "auto", "":
		return FlashAttnAuto, nil
	case "on", "1", "true", "enabled":
		return FlashAttnOn, nil
	case "off", "0", "false", "disabled":
		return FlashAttnOff, nil
	}
	return 0, fmt.Errorf("flash attention %q: want on, off or auto", s)
}

// FlashAttn reports whether the model's sessions run flash attention:
// Options.FlashAttention on, or auto with a quantized value cache.
func (m *Model) FlashAttn() bool {
	switch m.opts.FlashAttention {
	case FlashAttnOn:
		return true
	case FlashAttnAuto:
		return tensor.KVQuantSupported(m.opts.ValueCacheType)
	}
	return false
}

// The quantized key-cache types of Options.KeyCacheType (llama.cpp's
// --cache-type-k q8_0 and q4_0), also those of Options.ValueCacheType.
const (
	KeyCacheQ8_0 TensorType = tensor.Q8_0
	KeyCacheQ4_0 TensorType = tensor.Q4_0
)

// KeyCacheType returns the element type of the key cache: KVCacheType, or
// Q8_0 / Q4_0 with Options.KeyCacheType, or F16 beside quantized values.
func (m *Model) KeyCacheType() TensorType {
	if tensor.KVQuantSupported(m.opts.KeyCacheType) {
		return m.opts.KeyCacheType
	}
	if tensor.KVQuantSupported(m.opts.ValueCacheType) {
		return tensor.F16
	}
	return m.KVCacheType()
}

// KVCacheType returns the element type of the KV cache's values (F16, F32,
// or Q8_0 / Q4_0 with Options.ValueCacheType), and of its keys unless
// KeyCacheType differs.
func (m *Model) KVCacheType() TensorType {
	if tensor.KVQuantSupported(m.opts.ValueCacheType) {
		return m.opts.ValueCacheType
	}
	if m.opts.KVCacheF32 {
		return tensor.F32
	}
	return tensor.F16
}

// ContextSize returns the number of positions available to a generation.
func (m *Model) ContextSize() int { return m.opts.Context }

// Batch returns the number of prompt tokens processed together (Options.Batch,
// 64 by default).
func (m *Model) Batch() int {
	if m.opts.Batch <= 0 {
		return 64
	}
	return m.opts.Batch
}

// KVCacheBytes returns the size in bytes of a session's key/value cache:
// layers × context × (key width + value width) × bytes per element (2 for the
// default F16 cache, 4 with KVCacheF32), quantized keys counting their
// blocks' bytes.
func (m *Model) KVCacheBytes() int64 {
	return m.model.Config.KVCacheBytesTypes(m.opts.Context, m.KeyCacheType(), m.KVCacheType())
}

// KVPage returns the step in which a session's KV cache grows: the
// positions of a page (256 unless the context is smaller; the whole context
// with flash attention) and the bytes of one page of every layer's keys and
// values. A session's cache of n positions holds ceil(n / positions) pages.
func (m *Model) KVPage() (positions int, bytes int64) {
	return m.model.Config.KVPage(m.sessionOptions())
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
	Sampler   SamplerParams // sampling settings (with LogitBias); the zero value, LogitBias aside, is greedy decoding
	Stop      []string      // stop strings
	LogProbs  int           // record log-probabilities of the chosen and top LogProbs tokens
	IgnoreEOS bool          // continue past end-of-generation tokens
	// NoBOS suppresses the beginning-of-sequence token that the vocabulary
	// would otherwise add.
	NoBOS bool
	// ParseSpecial makes special-token strings in the prompt (such as
	// <|im_start|>) encode as their single ids.
	ParseSpecial bool
	// Special renders generated control tokens (other than
	// end-of-generation ones) as their text, as a reply parser reading
	// markers like [TOOL_CALLS] needs.
	Special bool
	// OnToken receives each generated token as it is produced; an error stops
	// the generation.
	OnToken func(Token) error
	// Trace, when set, dissects the generation: its Emit function receives the
	// trace events (see TraceEvent). ModelName and PromptText default to the
	// model file's name and the prompt.
	Trace *Tracing
	// Grammar, when not empty, constrains the output to a GBNF grammar (as
	// llama.cpp writes it; see docs/grammar.md): only tokens that continue a
	// valid text are sampled, and the generation ends only where the text is
	// complete. JSONSchemaGrammar turns a JSON Schema into one. A grammar
	// that does not parse is an error before anything runs (CheckGrammar
	// tells in advance).
	Grammar string
	// Speculative, when set, decodes speculatively with a draft model or by
	// prompt lookup (see Speculative): greedy output is unchanged and
	// sampled output distributed as without it; Result.Speculative counts
	// the drafted and accepted tokens. Ignored with a Grammar.
	Speculative *Speculative
}

// Speculative configures speculative decoding (infer.Speculation; llama.cpp's
// --model-draft, --draft-max, --draft-min, --draft-p-min).
type Speculative struct {
	// Draft is a smaller model sharing the tokenizer (an error says where
	// the vocabularies differ otherwise); nil with Lookup.
	Draft *Model
	// Lookup drafts by prompt lookup, without a second model: the tokens
	// that followed the latest earlier occurrence of the last NGramMax …
	// NGramMin tokens (defaults 3 and 2).
	Lookup             bool
	NGramMin, NGramMax int
	// Max is the number of tokens drafted per round at most (default 8),
	// Min the number below which a round decodes plainly, PMin the draft
	// model's probability below which it stops drafting (0: never).
	Max, Min int
	PMin     float64
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
	release, err := m.Acquire()
	if err != nil {
		return nil, err
	}
	defer release()
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
	spec, err := m.session.Speculation(opts.Speculative)
	if err != nil {
		return nil, err
	}
	return m.session.Generate(ctx, infer.Request{
		Prompt: ids, MaxTokens: opts.MaxTokens, Stop: opts.Stop, Sampler: opts.Sampler,
		LogProbs: opts.LogProbs, IgnoreEOS: opts.IgnoreEOS, OnToken: opts.OnToken, Trace: opts.Trace, Special: opts.Special,
		Grammar: opts.Grammar, Speculative: spec,
	})
}

// Message is one chat message.
type Message = chat.Message

// RenderChat applies the model's chat template to messages, ending with the
// assistant's turn. It is RenderChatContext without a context.
func (m *Model) RenderChat(msgs []Message) (string, error) {
	return m.RenderChatContext(context.Background(), msgs)
}

// RenderChatContext applies the model's chat template to messages, ending
// with the assistant's turn. The template is untrusted input: it runs under
// chat's default limits (one it exceeds gives a *chat.LimitError naming it)
// and is stopped when ctx is done.
func (m *Model) RenderChatContext(ctx context.Context, msgs []Message) (string, error) {
	return m.RenderConversation(ctx, msgs, true)
}

// RenderConversation applies the model's chat template to messages, opening
// the assistant's turn when addGenerationPrompt is set; without it, a
// complete conversation renders as it would be read back (the shape of
// fine-tuning data). The template runs under the limits of RenderChatContext.
func (m *Model) RenderConversation(ctx context.Context, msgs []Message, addGenerationPrompt bool) (string, error) {
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
	return m.template.RenderContext(ctx, msgs, chat.Options{AddGenerationPrompt: addGenerationPrompt, BOSToken: bos, EOSToken: eos})
}

// Chat renders the conversation with the model's chat template and generates
// the assistant's reply. Special tokens in the rendered text are parsed; the
// BOS token is not added twice when the template writes it.
func (m *Model) Chat(ctx context.Context, msgs []Message, opts GenerateOptions) (*Result, error) {
	text, err := m.RenderChatContext(ctx, msgs)
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

// Session is an independent generation sequence of a model with its own KV
// cache (see infer.Session): a following request that extends the same tokens
// only processes the new ones. Each generation holds the model (see Acquire),
// so Close waits for it; after Close, Generate fails with ErrClosed. A
// Session is not safe for concurrent use.
type Session struct {
	m *Model
	s *infer.Session
	// the draft model's session of speculative decoding, made on first use
	draftOf *Model
	draft   *infer.Session
}

// Speculation returns the engine's settings for speculative decoding with
// sp on this session (nil for nil): a draft model gets a session of its own
// beside this one, kept from one generation to the next so that its cache
// follows the same tokens. A draft model whose vocabulary differs from the
// model's is an error naming the first token where they part.
func (s *Session) Speculation(sp *Speculative) (*infer.Speculation, error) {
	if sp == nil {
		return nil, nil
	}
	out := &infer.Speculation{Lookup: sp.Lookup, NGramMin: sp.NGramMin, NGramMax: sp.NGramMax, Max: sp.Max, Min: sp.Min, PMin: sp.PMin}
	if sp.Draft == nil {
		return out, nil
	}
	if s.draftOf != sp.Draft {
		if err := infer.CheckDraft(s.m.tok, sp.Draft.tok, s.m.model, sp.Draft.model); err != nil {
			return nil, err
		}
		opt := sp.Draft.stateOptions()
		opt.Context = s.Context()
		d, err := infer.NewSession(sp.Draft.model, sp.Draft.tok, opt)
		if err != nil {
			return nil, fmt.Errorf("draft model: %w", err)
		}
		s.draftOf, s.draft = sp.Draft, d
	}
	out.Draft = s.draft
	return out, nil
}

// NewSession creates an independent generation session (its own KV cache)
// with the model's context and cache settings, for callers that run several
// sequences at once, such as a server with parallel slots.
func (m *Model) NewSession() (*Session, error) {
	release, err := m.Acquire()
	if err != nil {
		return nil, err
	}
	defer release()
	s, err := infer.NewSession(m.model, m.tok, m.sessionOptions())
	if err != nil {
		return nil, err
	}
	return &Session{m: m, s: s}, nil
}

// Batcher runs the generations of several sessions of a model together
// (continuous batching, see infer.Batcher): their decode steps go through
// the model as one batched forward pass, together with chunks of
// Options.Batch tokens of the prompts of several sessions. Each generation is exactly
// what its session would generate alone.
type Batcher struct {
	m *Model
	b *infer.Batcher
}

// NewBatcher starts a batcher for up to n sessions decoding together. Close
// stops it.
func (m *Model) NewBatcher(n int) (*Batcher, error) {
	b, err := infer.NewBatcher(m.model, n)
	if err != nil {
		return nil, err
	}
	return &Batcher{m: m, b: b}, nil
}

// NewSession creates a session (its own KV cache, as Model.NewSession)
// whose forward passes run on the batcher.
func (b *Batcher) NewSession() (*Session, error) {
	release, err := b.m.Acquire()
	if err != nil {
		return nil, err
	}
	defer release()
	s, err := b.b.NewSession(b.m.tok, b.m.sessionOptions())
	if err != nil {
		return nil, err
	}
	return &Session{m: b.m, s: s}, nil
}

// Stats returns the number of batched decode steps run so far and the number
// of sequence steps they held (their ratio is the mean batch size).
func (b *Batcher) Stats() (steps, rows int) { return b.b.Stats() }

// DefaultBatchTokens is the number of tokens one forward pass of a Batcher
// holds unless SetTokens says otherwise (llama.cpp's n_batch default).
const DefaultBatchTokens = infer.DefaultBatchTokens

// SetTokens sets the most tokens one forward pass of the batcher holds
// (llama.cpp's n_batch): the decode tokens of every session generating, and
// prompt chunks (Options.Batch tokens each) of as many sessions as fit,
// oldest first (default DefaultBatchTokens).
func (b *Batcher) SetTokens(n int) error { return b.b.SetTokens(n) }

// PromptStats returns the number of forward passes that processed prompt
// chunks and the number of chunks they held (their ratio is the mean number
// of prompts processed together).
func (b *Batcher) PromptStats() (passes, chunks int) { return b.b.PromptStats() }

// Close stops the batcher; generations of its sessions still running fail.
func (b *Batcher) Close() { b.b.Close() }

// Generate runs one generation on the session's cache (see infer.Session.Generate).
// It fails with ErrClosed once the model's Close has begun. A traced
// generation's meta event describes the model by its ModelInfo.
func (s *Session) Generate(ctx context.Context, req Request) (*Result, error) {
	release, err := s.m.Acquire()
	if err != nil {
		return nil, err
	}
	defer release()
	if req.Speculative != nil && req.Speculative.Draft != nil && req.Speculative.Draft == s.draft {
		// the draft model's weights are in use too
		rd, err := s.draftOf.Acquire()
		if err != nil {
			return nil, fmt.Errorf("draft model: %w", err)
		}
		defer rd()
	}
	req.Trace = s.m.withInfo(req.Trace)
	return s.s.Generate(ctx, req)
}

// Reset forgets the tokens the session's cache holds.
func (s *Session) Reset() { s.s.Reset() }

// Evicted reports whether the session's cached tokens were evicted by its
// KVPool since its last generation. It is safe to call from any goroutine.
func (s *Session) Evicted() bool { return s.s.Evicted() }

// CacheBytes returns the bytes of KV cache pages the session holds. It is
// safe to call from any goroutine.
func (s *Session) CacheBytes() int64 { return s.s.CacheBytes() }

// Free forgets the cached tokens and returns the session's KV cache pages
// (to its KVPool, if any). The session stays usable. It must not run
// concurrently with a generation of the session.
func (s *Session) Free() { s.s.Free() }

// Context returns the number of positions the session holds.
func (s *Session) Context() int { return s.s.Context() }

// Embed returns a sentence embedding of text: the mean of the model's final
// (normalised) hidden states over its tokens, BOS included when the
// vocabulary adds it (see EmbedIDs). It runs in its own cache.
func (m *Model) Embed(text string) ([]float32, error) {
	return m.EmbedIDs(m.tok.Encode(text, tokenizer.EncodeOptions{AddBOS: m.tok.AddBOSDefault()}))
}

// EmbedIDs returns the sentence embedding of tokens: the mean of the model's
// final (normalised) hidden states over them, processed Options.Batch at a
// time in a cache of their own, so that it neither waits for nor disturbs
// generations. More tokens than the context holds is an error wrapping
// ErrContext; no tokens, or an id outside the vocabulary, is an error too.
func (m *Model) EmbedIDs(ids []int) ([]float32, error) {
	release, err := m.Acquire()
	if err != nil {
		return nil, err
	}
	defer release()
	if len(ids) > m.opts.Context {
		return nil, fmt.Errorf("%w: the input has %d tokens and the context holds %d (%d too many)", infer.ErrContext, len(ids), m.opts.Context, len(ids)-m.opts.Context)
	}
	st, err := m.model.NewState(model.StateOptions{Context: max(len(ids), 1), Batch: m.opts.Batch})
	if err != nil {
		return nil, err
	}
	return m.model.Embed(st, ids)
}
