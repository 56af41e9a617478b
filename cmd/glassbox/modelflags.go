package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"glassbox"
	"glassbox/models"
	"glassbox/store"
)

// modelFlags are the flags of every command that loads a model.
type modelFlags struct {
	kvPool    *glassbox.KVPool // the sessions' KV cache budget (serve --kv-budget)
	model     string
	tokenizer string
	threads   int
	ctx       int
	kvF32     bool
	// cacheK and cacheV are --cache-type-k and --cache-type-v ("" = F16),
	// flashAttn --flash-attn (on, off, auto).
	cacheK, cacheV, flashAttn string
	// ubatch is the prompt tokens per forward step (0: the default; serve's --ubatch).
	ubatch int
	// chatTemplateFile is a Jinja chat template replacing the model's.
	chatTemplateFile string
	// fallbackTemplate is the chat template of a model that carries none
	// (set by the command, not a flag).
	fallbackTemplate string
	// lora and loraScaled are --lora FILE[,FILE] and --lora-scaled
	// FILE:SCALE[,FILE:SCALE] (llama.cpp's flags), each repeatable.
	lora, loraScaled []string
}

func (f *modelFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVarP(&f.model, "model", "m", "", modelHelp)
	cmd.Flags().StringVar(&f.tokenizer, "tokenizer", "", "tokenizer file (GGUF, tokenizer.json or llama2.c tokenizer.bin); GGUF models carry their own")
	f.registerRuntime(cmd, "")
}

// registerRuntime registers the flags of how a model runs — -t/--threads,
// -c/--ctx and --kv-f32 — for a command that names its models itself
// (serve). per says what a context and a KV cache belong to when it is not
// the command's one generation ("slot": each generation slot has its own).
func (f *modelFlags) registerRuntime(cmd *cobra.Command, per string) {
	ctxHelp, kvHelp := "context size in tokens (0 = the model's, at most 4096)", "keep the KV cache in F32 instead of F16"
	if per != "" {
		ctxHelp = "context size in tokens per " + per + " (0 = the model's, at most 4096)"
		kvHelp = "keep the KV caches in F32 instead of F16"
	}
	registerThreads(cmd, &f.threads, "worker threads for matrix products (0 = all cores)")
	registerCtx(cmd, &f.ctx, ctxHelp)
	cmd.Flags().BoolVar(&f.kvF32, "kv-f32", false, kvHelp)
	registerCacheTypes(cmd, &f.cacheK, &f.cacheV, &f.flashAttn)
	tmplHelp := "Jinja chat template file to use instead of the model's (as llama-server's flag)"
	if per != "" {
		tmplHelp = "Jinja chat template file to use instead of each model's (as llama-server's flag)"
	}
	cmd.Flags().StringVar(&f.chatTemplateFile, "chat-template-file", "", tmplHelp)
	loraHelp := "LoRA adapter (llama.cpp's GGUF adapter format) applied with scale 1; repeatable or comma-separated"
	if per != "" {
		loraHelp += "; applied to every model served"
	}
	cmd.Flags().StringArrayVar(&f.lora, "lora", nil, loraHelp)
	cmd.Flags().StringArrayVar(&f.loraScaled, "lora-scaled", nil, "LoRA adapter with a scale, FILE:SCALE; repeatable or comma-separated")
}

// loraAdapters parses --lora and --lora-scaled (the --lora ones first).
func (f *modelFlags) loraAdapters() ([]glassbox.LoRAAdapter, error) {
	var out []glassbox.LoRAAdapter
	for _, v := range f.lora {
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p == "" {
				return nil, fmt.Errorf("--lora %q: empty file name", v)
			}
			out = append(out, glassbox.LoRAAdapter{Path: p, Scale: 1})
		}
	}
	for _, v := range f.loraScaled {
		for _, p := range strings.Split(v, ",") {
			i := strings.LastIndex(p, ":")
			if i <= 0 {
				return nil, fmt.Errorf("--lora-scaled %q: expected FILE:SCALE", p)
			}
			s, err := strconv.ParseFloat(strings.TrimSpace(p[i+1:]), 32)
			if err != nil || math.IsNaN(s) || math.IsInf(s, 0) {
				return nil, fmt.Errorf("--lora-scaled %q: the scale %q is not a number", p, p[i+1:])
			}
			if s == 0 {
				continue // llama.cpp loads it with scale 0: no effect
			}
			out = append(out, glassbox.LoRAAdapter{Path: strings.TrimSpace(p[:i]), Scale: float32(s)})
		}
	}
	return out, nil
}

// open resolves -m (a file, a store name, or hf.co/… pulled first) and opens
// it. A --ctx the memory cannot hold is refused; one beyond the context the
// model was trained for gets a warning on stderr.
func (f *modelFlags) open(ctx context.Context) (*glassbox.Model, error) {
	opts := &glassbox.Options{Tokenizer: f.tokenizer, Threads: f.threads, Context: f.ctx, KVCacheF32: f.kvF32, FallbackChatTemplate: f.fallbackTemplate, Batch: f.ubatch, KVPool: f.kvPool}
	var err error
	if opts.FlashAttention, err = glassbox.ParseFlashAttention(f.flashAttn); err != nil {
		return nil, fmt.Errorf("--flash-attn: %w", err)
	}
	if opts.KeyCacheType, opts.ValueCacheType, opts.KVCacheF32, err = parseCacheTypes(f.cacheK, f.cacheV, f.kvF32, opts.FlashAttention); err != nil {
		return nil, err
	}
	if f.threads < 0 {
		return nil, fmt.Errorf("--threads must be positive, got %d", f.threads)
	}
	if opts.LoRA, err = f.loraAdapters(); err != nil {
		return nil, err
	}
	if f.ctx < 0 {
		return nil, fmt.Errorf("--ctx must be positive, got %d", f.ctx)
	}
	if f.chatTemplateFile != "" {
		src, err := os.ReadFile(f.chatTemplateFile)
		if err != nil {
			return nil, fmt.Errorf("--chat-template-file: %w", err)
		}
		if len(strings.TrimSpace(string(src))) == 0 {
			return nil, fmt.Errorf("--chat-template-file %s is empty: expected a Jinja chat template", f.chatTemplateFile)
		}
		opts.ChatTemplate = string(src)
	}
	m, err := f.openModel(ctx, opts)
	if errors.Is(err, glassbox.ErrMemory) {
		return nil, fmt.Errorf("%w (--ctx)", err)
	}
	if err != nil {
		return nil, err
	}
	if trained := m.Config().ContextLength; f.ctx > trained {
		fmt.Fprintf(os.Stderr, "glassbox: warning: --ctx %d is beyond the %d tokens %s was trained on: expect its output to degrade past position %d\n",
			f.ctx, trained, m.Name(), trained)
	}
	return m, nil
}

// openModel opens the model -m names, or the embedded one.
func (f *modelFlags) openModel(ctx context.Context, opts *glassbox.Options) (*glassbox.Model, error) {
	if e, ok := embeddedModel(f.model); ok {
		// a model embedded in the binary (without -m, the default one)
		return glassbox.OpenBytes(e.File, e.Data, opts)
	}
	path, err := resolveModel(ctx, f.model)
	if err != nil {
		return nil, err
	}
	return glassbox.Open(path, opts)
}

// modelHelp is the help of every -m flag.
const modelHelp = "model: GGUF file, llama2.c .bin, embedded model (glassbox-go-1m, glassbox-go-1m-grpo), store name (glassbox list) or hf.co/OWNER/REPO[:QUANT] (default: the embedded Go-code model glassbox-go-1m)"

// embeddedModel returns the model embedded in the binary that a -m value
// names: "" is the default one, a name of one (models.Lookup:
// glassbox-go-1m-grpo, its file name…) is that one unless a file of that
// name exists, which wins.
func embeddedModel(name string) (models.Model, bool) {
	if name != "" {
		if _, err := os.Stat(name); err == nil {
			return models.Model{}, false
		}
	}
	return models.Lookup(name)
}

// resolveModel returns the file a -m value names: the file itself, the copy
// of an embedded model in the user cache directory, a model of the store, or
// an hf.co/… reference (pulled first, with progress on stderr). The empty
// name, the default embedded model, is the caller's to handle.
func resolveModel(ctx context.Context, name string) (string, error) {
	if e, ok := embeddedModel(name); ok && name != "" {
		return e.Path()
	}
	return store.ResolveModel(ctx, name, store.ResolveOptions{
		Pull: store.PullOptions{Progress: newProgress(os.Stderr)},
	})
}

// samplingFlags are the sampling flags shared by run, chat and dissect.
type samplingFlags struct {
	temperature      float32
	topK             int
	topP             float32
	minP             float32
	repeatPenalty    float32
	repeatLastN      int
	presencePenalty  float32
	frequencyPenalty float32
	seed             int64
}

// registerWith registers the sampling flags with the given defaults.
func (f *samplingFlags) registerWith(cmd *cobra.Command, d glassbox.SamplerParams) {
	cmd.Flags().Float32Var(&f.temperature, "temperature", d.Temperature, "sampling temperature (0 = greedy)")
	cmd.Flags().IntVar(&f.topK, "top-k", d.TopK, "keep the K most likely tokens (0 = off)")
	cmd.Flags().Float32Var(&f.topP, "top-p", d.TopP, "keep the smallest set of tokens whose probability reaches P (1 = off)")
	cmd.Flags().Float32Var(&f.minP, "min-p", d.MinP, "drop tokens less likely than P times the most likely (0 = off)")
	cmd.Flags().Float32Var(&f.repeatPenalty, "repeat-penalty", d.RepeatPenalty, "penalise repeated tokens (1 = off)")
	cmd.Flags().IntVar(&f.repeatLastN, "repeat-last-n", d.RepeatLastN, "tokens of history the penalties look at (-1 = all)")
	cmd.Flags().Float32Var(&f.presencePenalty, "presence-penalty", 0, "subtract from the logits of tokens already present")
	cmd.Flags().Float32Var(&f.frequencyPenalty, "frequency-penalty", 0, "subtract from the logits in proportion to how often a token appeared")
	cmd.Flags().Int64Var(&f.seed, "seed", -1, "random seed (-1 = a new one each run, printed with --verbose)")
}

func (f *samplingFlags) params() (glassbox.SamplerParams, error) {
	seed := uint64(f.seed)
	if f.seed < 0 {
		seed = rand.Uint64() >> 1
	}
	p := glassbox.SamplerParams{
		Temperature: f.temperature, TopK: f.topK, TopP: f.topP, MinP: f.minP,
		RepeatPenalty: f.repeatPenalty, RepeatLastN: f.repeatLastN,
		PresencePenalty: f.presencePenalty, FrequencyPenalty: f.frequencyPenalty, Seed: seed,
	}
	if err := p.Validate(); err != nil {
		return p, err
	}
	return p, nil
}

// buildPrompt tokenizes a prompt as run does: chat models get it as a user
// message in their template unless raw. It returns the ids and the text the
// model sees.
func buildPrompt(m *glassbox.Model, prompt string, raw bool, opts glassbox.GenerateOptions) ([]int, string, error) {
	if m.HasChatTemplate() && !raw {
		text, err := m.RenderChat([]glassbox.Message{{Role: "user", Content: prompt}})
		if err != nil {
			return nil, "", err
		}
		return m.EncodeChat(text, opts), text, nil
	}
	return m.Encode(prompt, opts), prompt, nil
}

// promptArg returns the prompt from the arguments, or from stdin when there are none.
func promptArg(cmd *cobra.Command, args []string) (string, error) {
	if len(args) > 0 {
		return strings.Join(args, " "), nil
	}
	b, err := io.ReadAll(cmd.InOrStdin())
	if err != nil {
		return "", fmt.Errorf("read prompt from stdin: %w", err)
	}
	if len(b) == 0 {
		return "", errors.New("no prompt: pass it as an argument or on stdin")
	}
	return string(b), nil
}

// registerCacheTypes registers --cache-type-k, --cache-type-v and
// --flash-attn, llama.cpp's flags (its -ctk/-ctv/-fa) for the element types
// of the KV cache and the attention kernel.
func registerCacheTypes(cmd *cobra.Command, k, v, fa *string) {
	cmd.Flags().StringVar(k, "cache-type-k", "", "KV cache type of the keys: f16 (default), f32, q8_0 or q4_0 (as llama.cpp's -ctk; q8_0 and q4_0 shrink the key half of the cache to 53% and 28%)")
	cmd.Flags().StringVar(v, "cache-type-v", "", "KV cache type of the values: f16 (default), f32, or with flash attention q8_0 or q4_0 (as llama.cpp's -ctv)")
	cmd.Flags().StringVar(fa, "flash-attn", "auto", "flash attention: on, off or auto (as llama.cpp's -fa; auto: on only for a quantized V cache, which needs it)")
}

// parseCacheTypes turns --cache-type-k, --cache-type-v and --kv-f32 into the
// key type (Options.KeyCacheType: Q8_0, Q4_0 or zero for the values' type),
// the quantized value type (Options.ValueCacheType, or zero) and whether the
// values are F32, with an error naming what is supported; quantized values
// need flash attention (fa not off).
func parseCacheTypes(k, v string, kvF32 bool, fa glassbox.FlashAttention) (key, val glassbox.TensorType, f32 bool, err error) {
	switch strings.ToLower(v) {
	case "":
		f32 = kvF32
	case "f16":
		if kvF32 {
			return 0, 0, false, errors.New("--kv-f32 and --cache-type-v f16 contradict each other")
		}
	case "f32":
		f32 = true
	case "q8_0", "q4_0":
		if fa == glassbox.FlashAttnOff {
			return 0, 0, false, fmt.Errorf("--cache-type-v %s needs flash attention (as in llama.cpp): drop --flash-attn off, or quantize only the keys with --cache-type-k", v)
		}
		if kvF32 {
			return 0, 0, false, fmt.Errorf("--kv-f32 and --cache-type-v %s contradict each other", v)
		}
		val = glassbox.KeyCacheQ8_0
		if strings.ToLower(v) == "q4_0" {
			val = glassbox.KeyCacheQ4_0
		}
	case "q4_1", "q5_0", "q5_1", "iq4_nl", "bf16":
		return 0, 0, false, fmt.Errorf("--cache-type-v %s is not supported: want f16, f32, q8_0 or q4_0", v)
	default:
		return 0, 0, false, fmt.Errorf("--cache-type-v %q: want f16, f32, q8_0 or q4_0", v)
	}
	if val != 0 {
		switch strings.ToLower(k) {
		case "", "f16":
			return 0, val, false, nil
		case "f32":
			return 0, 0, false, fmt.Errorf("--cache-type-k f32 with %s values is not supported: keys beside quantized values are f16, q8_0 or q4_0", v)
		}
	}
	switch strings.ToLower(k) {
	case "":
	case "f16", "f32":
		if (strings.ToLower(k) == "f32") != f32 {
			return 0, 0, false, fmt.Errorf("--cache-type-k %s with %s values is not supported: float keys take the values' type (set both, or --kv-f32)", k, map[bool]string{true: "f32", false: "f16"}[f32])
		}
	case "q8_0":
		key = glassbox.KeyCacheQ8_0
	case "q4_0":
		key = glassbox.KeyCacheQ4_0
	default:
		return 0, 0, false, fmt.Errorf("--cache-type-k %q is not supported: want f16, f32, q8_0 or q4_0", k)
	}
	return key, val, f32, nil
}
