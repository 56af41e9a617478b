package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"glassbox"
	"glassbox/train"
	"glassbox/train/rewards"
)

// alignOptions are the flags shared by train sft, reward and dpo.
type alignOptions struct {
	mf       modelFlags
	data     string
	out      string
	resume   bool
	quiet    bool
	export   string
	name     string
	cfg      train.FineTuneConfig
	weightDK float64
	// dpo, grpo
	ref string
	// grpo
	rewardSpec    string
	rewardTimeout time.Duration
	ptxData       string
	// sft, dpo: LoRA
	loraRank    int
	loraAlpha   float64
	loraTargets string
}

// registerLoRA registers the LoRA flags of sft and dpo.
func registerLoRA(cmd *cobra.Command, o *alignOptions) {
	f := cmd.Flags()
	f.IntVar(&o.loraRank, "lora-rank", 0, "train LoRA adapters of this rank over the frozen base, kept in its own weight type (0: train every weight)")
	f.Float64Var(&o.loraAlpha, "lora-alpha", 0, "LoRA alpha; the update is scaled by alpha/rank (0: 2×rank)")
	f.StringVar(&o.loraTargets, "lora-targets", "all-linear", "weights that get adapters: all-linear, or a list of attn_q, attn_k, attn_v, attn_output, ffn_gate, ffn_up, ffn_down (PEFT's q_proj … down_proj also accepted)")
}

// registerAlign registers the flags common to the fine-tuning methods with
// the method's defaults.
func registerAlign(cmd *cobra.Command, o *alignOptions, method string, lr float64, export bool) {
	f := cmd.Flags()
	f.StringVarP(&o.mf.model, "model", "m", "", modelHelp+"; the starting weights (llama architecture, any weight type)")
	registerThreads(cmd, &o.mf.threads, "goroutines (0 = all cores); the weights depend only on this and the settings")
	f.StringVar(&o.data, "data", "", "dataset (JSONL; see docs/alignment.md for the shapes)")
	f.StringVarP(&o.out, "out", "o", method+"-out", "output directory (config.json, checkpoint.bin, loss.csv, loss.svg, the exported model)")
	f.BoolVar(&o.resume, "resume", false, "continue from OUT/checkpoint.bin")
	f.BoolVarP(&o.quiet, "quiet", "q", false, "no progress bar and no log lines")
	if export {
		f.StringVar(&o.export, "export", "f32", "GGUF types exported at the end (comma-separated: f32, f16, q8_0; empty: none)")
		f.StringVar(&o.name, "name", "", "general.name of the exported model (default: the base model's name + \"-"+method+"\")")
	}
	f.IntVar(&o.cfg.Steps, "steps", 0, "optimizer steps (0: --epochs passes over the training split)")
	f.IntVar(&o.cfg.Epochs, "epochs", 1, "passes over the training split when --steps is 0")
	f.IntVar(&o.cfg.Batch, "batch", 8, "examples (sequences or pairs) per step")
	f.Float64Var(&o.cfg.Optim.LR, "lr", lr, "peak learning rate (AdamW)")
	f.Float64Var(&o.cfg.Optim.MinLR, "min-lr", 0, "learning rate at the end of the cosine decay")
	f.IntVar(&o.cfg.Optim.WarmupSteps, "warmup", 0, "linear warm-up steps")
	f.Float64Var(&o.weightDK, "weight-decay", 0, "AdamW decoupled weight decay (matrices)")
	f.IntVar(&o.cfg.EvalEvery, "eval-every", 0, "evaluate on the validation split every N steps (0: only at the end)")
	f.IntVar(&o.cfg.CheckpointEvery, "checkpoint-every", 50, "checkpoint every N steps (and at the end)")
	f.Uint64Var(&o.cfg.Seed, "seed", 1, "seed of the batch order (and of the reward head)")
	f.IntVar(&o.cfg.ValPermille, "val-permille", 100, "share (‰) of examples held out for validation, by the hash of their tokens")
	f.IntVar(&o.cfg.MaxLength, "max-length", 0, "longest sequence in tokens (0: the model's context, at most 1024); longer ones are an error unless --truncate")
	f.BoolVar(&o.cfg.Truncate, "truncate", false, "cut sequences longer than --max-length (counted and reported) instead of failing")
}

func newTrainSFTCmd() *cobra.Command {
	var o alignOptions
	cmd := &cobra.Command{
		Use:   "sft -m MODEL --data FILE.jsonl [--out DIR]",
		Short: "Supervised fine-tuning of a GGUF model on text, prompt/completion or chat data",
		Long: `sft fine-tunes a llama-architecture GGUF model on a JSONL dataset whose lines are
{"text": ...}, {"prompt": ..., "completion": ...} or {"messages": [{"role", "content"}, ...]}
(rendered with the model's chat template). The loss covers the completions and the
assistant messages (--completion-only=false: every token); mean_token_accuracy is
reported next to it, on the training batches and on the validation split.
The run is reproducible: the same model, data, flags and thread count give
bit-identical weights, also across --resume.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runAlign(cmd, &o) },
	}
	registerAlign(cmd, &o, "sft", 1e-4, true)
	o.cfg.Method = "sft"
	cmd.Flags().BoolVar(&o.cfg.Packing, "packing", false, "pack several examples into each --max-length row")
	cmd.Flags().BoolVar(&o.cfg.CompletionOnly, "completion-only", true, "loss on completions / assistant messages only")
	registerLoRA(cmd, &o)
	return cmd
}

func newTrainRewardCmd() *cobra.Command {
	var o alignOptions
	cmd := &cobra.Command{
		Use:   "reward -m MODEL --data PREFS.jsonl [--out DIR]",
		Short: "Train a reward model (Bradley–Terry) on preference pairs",
		Long: `reward puts a scalar head on a model (last token's hidden state → linear → score)
and trains it and the model on preference pairs {"prompt", "chosen", "rejected"}
(or unpaired {"prompt", "completion", "label"}, paired per prompt) with the
Bradley–Terry loss −log σ(r_chosen − r_rejected). It reports the accuracy (share
of pairs where r_chosen > r_rejected) and the mean margin on the held-out pairs.
The reward model (weights and head) is OUT/checkpoint.bin.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runAlign(cmd, &o) },
	}
	registerAlign(cmd, &o, "reward", 1e-4, false)
	o.cfg.Method = "reward"
	return cmd
}

func newTrainDPOCmd() *cobra.Command {
	var o alignOptions
	cmd := &cobra.Command{
		Use:   "dpo -m MODEL [--ref MODEL] --data PREFS.jsonl [--beta 0.1] [--loss sigmoid|ipo]",
		Short: "Direct preference optimisation against a frozen reference model",
		Long: `dpo trains the policy (-m) on preference pairs {"prompt", "chosen", "rejected"}
(or unpaired {"prompt", "completion", "label"}, paired per prompt) against a
frozen reference: --ref, by default the policy's starting weights. A pair may carry
precomputed reference log-probabilities "ref_chosen_logps" and "ref_rejected_logps"
(summed over the completion's tokens; averaged per token for --loss ipo).
It reports TRL's metrics: rewards/chosen, rewards/rejected (β·(log π − log π_ref)),
rewards/accuracies, rewards/margins, logps/chosen and logps/rejected.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runAlign(cmd, &o) },
	}
	registerAlign(cmd, &o, "dpo", 1e-5, true)
	o.cfg.Method = "dpo"
	cmd.Flags().StringVar(&o.ref, "ref", "", "reference model (default: the policy's starting weights)")
	cmd.Flags().Float64Var(&o.cfg.Beta, "beta", 0.1, "β: strength of the tie to the reference")
	cmd.Flags().StringVar(&o.cfg.Loss, "loss", "sigmoid", "loss: sigmoid (DPO) or ipo")
	registerLoRA(cmd, &o)
	return cmd
}

func newTrainGRPOCmd() *cobra.Command {
	var o alignOptions
	cmd := &cobra.Command{
		Use:   "grpo -m MODEL --data PROMPTS.jsonl [--reward parse=1,typecheck=1] [--group 8]",
		Short: "Reinforcement learning with group relative policy optimisation (GRPO) and Go code rewards",
		Long: `grpo trains the policy (-m) on prompts alone ({"prompt": ...} or {"messages": [...]}
JSONL lines, with optional "tests" (Go test code) and "file" (Go context: package,
imports, declarations)). Every step takes --batch prompts, samples --group
completions of each with the inference engine from the current weights, scores
them with the --reward functions (weighted sum), and trains on the advantage of
each completion within its group, (r − mean)/(std + 1e-4), with the clipped
objective (--epsilon) and, with --kl-beta > 0, the k3 estimate of the KL
divergence to a frozen reference (--ref, default: the starting weights).

Rewards (NAME=WEIGHT, comma-separated): parse (prompt + completion, with the
brackets still open closed, is a Go file go/parser accepts), typecheck (and
go/types finds no error the prompt alone does not have), vet (go vet passes),
test (the record's tests pass in a sandboxed go test; records without tests
are left out of it), cmd:COMMAND (the record as one JSON line on stdin
{"prompt","completion","file","tests"}, a number on stdout).
Each step logs TRL's GRPOTrainer metrics; the validation prompts are
completed greedily and scored with the same rewards.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runAlign(cmd, &o) },
	}
	registerAlign(cmd, &o, "grpo", 1e-5, true)
	o.cfg.Method = "grpo"
	f := cmd.Flags()
	f.StringVar(&o.ref, "ref", "", "reference model of the KL term (default: the policy's starting weights)")
	f.StringVar(&o.rewardSpec, "reward", "parse=1,typecheck=1", "reward functions and weights: parse, typecheck, vet, test, cmd:COMMAND")
	f.DurationVar(&o.rewardTimeout, "reward-timeout", 10*time.Second, "time limit of one command reward, go vet or go test run")
	f.IntVar(&o.cfg.Group, "group", 8, "completions sampled per prompt (G)")
	f.Float64Var(&o.cfg.Temperature, "temperature", 1, "sampling temperature")
	f.IntVar(&o.cfg.TopK, "top-k", 0, "sample among the K most likely tokens (0: all)")
	f.IntVar(&o.cfg.MaxCompletion, "max-completion-length", 64, "longest completion in tokens")
	f.IntVar(&o.cfg.StopLines, "stop-lines", 0, "end a completion after this many lines (0: at EOS or the length limit); the newline ending a prompt's unfinished last line does not count")
	f.Float64Var(&o.cfg.Clip, "epsilon", 0.2, "ε of the clipped ratio (PPO's clip range)")
	f.Float64Var(&o.cfg.KLBeta, "kl-beta", 0, "β of the KL term to the reference (0: none, as TRL's default)")
	f.IntVar(&o.cfg.Iterations, "iterations", 1, "optimizer updates per sampled batch (TRL's num_iterations)")
	f.Float64Var(&o.cfg.PtxCoef, "ptx-coef", 0, "γ of the pretraining mix (InstructGPT's PPO-ptx): adds γ × the next-token loss of --ptx-data windows to every update (0: none)")
	f.StringVar(&o.ptxData, "ptx-data", "", "pretraining text of the mix: JSONL {\"text\": ...} records, concatenated and cut into --max-length windows")
	f.IntVar(&o.cfg.PtxBatch, "ptx-batch", 8, "windows of pretraining text per update (with --ptx-coef)")
	return cmd
}

// rewardFuncs adapts a reward set to the trainer's reward functions.
func rewardFuncs(s *rewards.Set) []train.RewardFunc {
	out := make([]train.RewardFunc, len(s.Rewards))
	for i, r := range s.Rewards {
		fn := r.Fn
		out[i] = train.RewardFunc{Name: r.Name, Weight: r.Weight, Score: func(ctx context.Context, in train.RewardInput) (float64, error) {
			return fn(ctx, rewards.Input{Prompt: in.Prompt, Completion: in.Completion, Suffix: in.Suffix, File: in.File, Tests: in.Tests})
		}}
	}
	return out
}

// openRef loads --ref as a training model.
func openRef(ctx context.Context, o *alignOptions) (*train.Model[float32], string, error) {
	rm, err := (&modelFlags{model: o.ref}).openModel(ctx, &glassbox.Options{Threads: o.mf.threads})
	if err != nil {
		return nil, "", fmt.Errorf("--ref: %w", err)
	}
	defer rm.Close()
	sum, err := modelSHA256(rm, o.ref)
	if err != nil {
		return nil, "", err
	}
	ref, err := train.FromEngine(rm.Engine())
	if err != nil {
		return nil, "", fmt.Errorf("--ref: %w", err)
	}
	return ref, sum, nil
}

// modelSHA256 is the SHA-256 of the file behind an opened model.
func modelSHA256(m *glassbox.Model, flag string) (string, error) {
	if e, ok := embeddedModel(flag); ok {
		return e.SHA256, nil
	}
	data, err := os.ReadFile(m.Path())
	if err != nil {
		return "", err
	}
	s := sha256.Sum256(data)
	return hex.EncodeToString(s[:]), nil
}

// sdkEncoder implements train.Encoder with the SDK's tokenizer and chat template.
type sdkEncoder struct {
	ctx context.Context
	m   *glassbox.Model
}

func (e sdkEncoder) Encode(text string, special bool) []int {
	return e.m.Encode(text, glassbox.GenerateOptions{NoBOS: true, ParseSpecial: special})
}

func (e sdkEncoder) BOS() (int, bool) {
	t := e.m.Tokenizer()
	return t.BOS(), t.AddBOSDefault()
}

func (e sdkEncoder) EOS() int { return e.m.Tokenizer().EOS() }

func (e sdkEncoder) Piece(id int) string { return e.m.Tokenizer().Piece(id) }

func (e sdkEncoder) RenderChat(msgs []train.Message, gen bool) (string, error) {
	if !e.m.HasChatTemplate() {
		return "", fmt.Errorf("%w (%s): conversational records need one; use the prompt/completion or text shape", train.ErrNoTemplate, e.m.Name())
	}
	ms := make([]glassbox.Message, len(msgs))
	for i, m := range msgs {
		ms[i] = glassbox.Message{Role: m.Role, Content: m.Content}
	}
	return e.m.RenderConversation(e.ctx, ms, gen)
}

func runAlign(cmd *cobra.Command, o *alignOptions) error {
	ctx := cmd.Context()
	c := o.cfg
	c.Optim = train.Optim{LR: o.cfg.Optim.LR, MinLR: o.cfg.Optim.MinLR, WarmupSteps: o.cfg.Optim.WarmupSteps,
		Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: o.weightDK, ClipNorm: 1}
	if o.data == "" {
		return fmt.Errorf("no dataset: give --data FILE.jsonl")
	}
	formats := splitList(o.export)
	if o.loraRank != 0 {
		targets, err := train.ParseLoRATargets(o.loraTargets)
		if err != nil {
			return fmt.Errorf("--lora-targets: %w", err)
		}
		alpha := o.loraAlpha
		if alpha == 0 {
			alpha = 2 * float64(o.loraRank)
		}
		c.LoRA = &train.LoRAConfig{Rank: o.loraRank, Alpha: alpha, Targets: targets}
		if err := c.LoRA.Validate(); err != nil {
			return err
		}
		if !cmd.Flags().Changed("export") {
			formats = nil // the adapter alone
		}
		for _, f := range formats {
			if f != "f32" && f != "f16" {
				return fmt.Errorf("--export %s: a LoRA run exports the adapter, and merged models in f32 or f16 (glassbox export --merge-lora can requantize to the base type)", f)
			}
		}
	}
	data, err := os.ReadFile(o.data)
	if err != nil {
		return err
	}
	ds := sha256.Sum256(data)
	c.DataSHA256 = hex.EncodeToString(ds[:])
	m, err := o.mf.openModel(ctx, &glassbox.Options{Threads: o.mf.threads})
	if err != nil {
		return err
	}
	defer m.Close()
	if c.BaseSHA256, err = modelSHA256(m, o.mf.model); err != nil {
		return err
	}
	if c.MaxLength == 0 {
		c.MaxLength = min(m.Config().ContextLength, 1024)
	}
	stderr := cmd.ErrOrStderr()
	logf := func(format string, args ...any) {
		if !o.quiet {
			fmt.Fprintf(stderr, time.Now().UTC().Format("15:04:05 ")+format+"\n", args...)
		}
	}
	var tm *train.Model[float32]
	if c.LoRA != nil {
		tm, err = train.NewLoRA(m.Engine(), *c.LoRA, c.Seed)
	} else {
		tm, err = train.FromEngine(m.Engine())
	}
	if err != nil {
		return err
	}
	enc := sdkEncoder{ctx, m}
	var ft *train.FineTuner
	var rep train.DataReport
	switch c.Method {
	case "sft":
		recs, err := train.ReadSFT(bytes.NewReader(data))
		if err != nil {
			return fmt.Errorf("%s: %w", o.data, err)
		}
		if ft, rep, err = train.NewSFT(c, tm, recs, enc); err != nil {
			return fmt.Errorf("%s: %w", o.data, err)
		}
	case "grpo":
		recs, err := train.ReadGRPO(bytes.NewReader(data))
		if err != nil {
			return fmt.Errorf("%s: %w", o.data, err)
		}
		set, err := rewards.ParseSpec(o.rewardSpec, rewards.Options{Timeout: o.rewardTimeout})
		if err != nil {
			return fmt.Errorf("--reward: %w", err)
		}
		defer set.Close()
		c.Rewards = o.rewardSpec
		var ptxTexts []string
		switch {
		case c.PtxCoef == 0 && o.ptxData != "":
			return fmt.Errorf("--ptx-data needs --ptx-coef > 0")
		case c.PtxCoef == 0:
			c.PtxBatch = 0
		case o.ptxData == "":
			return fmt.Errorf("--ptx-coef needs --ptx-data FILE.jsonl (pretraining text as {\"text\": ...} lines)")
		default:
			raw, err := os.ReadFile(o.ptxData)
			if err != nil {
				return fmt.Errorf("--ptx-data: %w", err)
			}
			if ptxTexts, err = train.ReadPretrainingText(bytes.NewReader(raw)); err != nil {
				return fmt.Errorf("%s: %w", o.ptxData, err)
			}
			ps := sha256.Sum256(raw)
			c.PtxSHA256 = hex.EncodeToString(ps[:])
		}
		var ref *train.Model[float32]
		if o.ref != "" && c.KLBeta > 0 {
			if ref, c.RefSHA256, err = openRef(ctx, o); err != nil {
				return err
			}
		}
		tok := m.Tokenizer()
		if ft, rep, err = train.NewGRPO(ctx, c, tm, ref, recs, enc, tok.Decode, rewardFuncs(set)); err != nil {
			return fmt.Errorf("%s: %w", o.data, err)
		}
		if ptxTexts != nil {
			pr, err := ft.SetPretrainingMix(ptxTexts, enc)
			if err != nil {
				return fmt.Errorf("%s: %w", o.ptxData, err)
			}
			logf("pretraining mix: γ %g, %d windows a step; %s, %s: %s of %d tokens for training, %d for validation; data sha256 %s",
				c.PtxCoef, c.PtxBatch, plural(pr.Texts, "text"), plural(pr.Tokens, "token"), plural(pr.Train, "window"), c.MaxLength+1, pr.Val, c.PtxSHA256)
		}
	case "reward", "dpo":
		recs, err := train.ReadPreferences(bytes.NewReader(data))
		if err != nil {
			return fmt.Errorf("%s: %w", o.data, err)
		}
		if c.Method == "reward" {
			ft, rep, err = train.NewReward(c, tm, recs, enc)
		} else {
			var ref *train.Model[float32]
			if o.ref != "" {
				rm, rerr := (&modelFlags{model: o.ref}).openModel(ctx, &glassbox.Options{Threads: o.mf.threads})
				if rerr != nil {
					return fmt.Errorf("--ref: %w", rerr)
				}
				defer rm.Close()
				if c.RefSHA256, err = modelSHA256(rm, o.ref); err != nil {
					return err
				}
				if ref, err = train.FromEngine(rm.Engine()); err != nil {
					return fmt.Errorf("--ref: %w", err)
				}
			}
			logf("computing the reference log-probabilities")
			ft, rep, err = train.NewDPO(c, tm, ref, recs, enc, o.mf.threads)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", o.data, err)
		}
	}
	ft.Threads = o.mf.threads
	unit := "example"
	switch c.Method {
	case "reward", "dpo":
		unit = "pair"
	case "grpo":
		unit = "prompt"
	}
	if c.Method == "grpo" {
		logf("data: %s, %s for training (%s), %s for validation; data sha256 %s",
			plural(rep.Records, "record"), plural(rep.Train, unit), plural(rep.Tokens, "prompt token"), plural(rep.Val, unit), c.DataSHA256)
	} else {
		logf("data: %s, %s for training (%s, %s in the loss), %s for validation; data sha256 %s",
			plural(rep.Records, "record"), plural(rep.Train, unit), plural(rep.Tokens, "token"), plural(rep.TrainedTokens, "token"),
			plural(rep.Val, unit), c.DataSHA256)
	}
	if rep.Truncated > 0 {
		logf("truncated %s to --max-length %d", plural(rep.Truncated, "sequence"), c.MaxLength)
	}
	if c.LoRA != nil {
		logf("model: %s (frozen, %s), LoRA rank %d alpha %g (scale %g) on %s: %d trained parameters; %s of %d %ss",
			m.Name(), m.Config().FileType, c.LoRA.Rank, c.LoRA.Alpha, c.LoRA.Scale(), strings.Join(c.LoRA.Targets, ","), tm.NumParams(), plural(ft.TotalSteps(), "step"), c.Batch, unit)
	} else {
		logf("model: %s, %d parameters; %s of %d %ss", m.Name(), tm.NumParams(), plural(ft.TotalSteps(), "step"), c.Batch, unit)
	}
	opts := train.FineTuneOptions{OutDir: o.out, Resume: o.resume}
	if !o.quiet {
		opts.Log = stderr
		if isTerminal(stderr) {
			opts.Progress = stderr
		}
	}
	start := time.Now()
	if err := train.RunFineTune(ctx, ft, opts); err != nil {
		if ft.Step() > 0 {
			return fmt.Errorf("%w (checkpoint at step %d in %s; continue with --resume)", err, ft.Step(), o.out)
		}
		return err
	}
	w := cmd.OutOrStdout()
	printAlignSummary(w, c.Method, ft, time.Since(start), o.out)
	name := o.name
	if name == "" {
		name = strings.TrimSuffix(strings.TrimSuffix(m.Name(), ".gguf"), ".f32") + "-" + c.Method
	}
	if c.LoRA != nil {
		// WithLoRA, inside, takes over closing the engine's mapping: the
		// SDK model closes the file itself (a GGUF base, which merging needs)
		sums, err := train.ExportLoRA(o.out, name, tm, m.Engine(), m.GGUF(), formats)
		if err != nil {
			return err
		}
		printSums(w, sums)
		return nil
	}
	if len(formats) == 0 {
		return nil
	}
	sums, err := train.ExportFineTunedAll(o.out, name, tm, m.GGUF(), formats)
	if err != nil {
		return err
	}
	printSums(w, sums)
	return nil
}

// printAlignSummary writes the last step's training metrics and the final
// validation metrics.
func printAlignSummary(w io.Writer, method string, ft *train.FineTuner, took time.Duration, dir string) {
	if len(ft.Curve) == 0 {
		fmt.Fprintf(w, "%s: no step run\n", method)
		return
	}
	last := ft.Curve[len(ft.Curve)-1]
	fmt.Fprintf(w, "%s: %s in %s; curves in %s\n", method, plural(last.Step, "step"), took.Round(time.Millisecond), filepath.Join(dir, "loss.csv"))
	fmt.Fprintf(w, "  last step:  %s\n", train.FormatMetrics(last.Train))
	if ft.Initial != nil {
		fmt.Fprintf(w, "  validation: %s (step 0, starting weights)\n", train.FormatMetrics(ft.Initial))
	}
	for i := len(ft.Curve) - 1; i >= 0; i-- {
		if p := ft.Curve[i]; p.Val != nil {
			fmt.Fprintf(w, "  validation: %s (step %d)\n", train.FormatMetrics(p.Val), p.Step)
			break
		}
	}
}
