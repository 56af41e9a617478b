//go:build ignore

// grpo_go builds the GRPO prompts of the embedded model's alignment run and
// scores a model on held-out prompts (docs/alignment.md, "Aligning the
// embedded model for Go").
//
//	go run docs/alignment/grpo_go.go prompts DIR      # DIR/train.jsonl, DIR/heldout.jsonl, DIR/heldout.txt, DIR/ptx.jsonl
//	go run docs/alignment/grpo_go.go score MODEL.gguf DIR/heldout.jsonl
//
// Prompts are the completion suite's (train.CompletionCases): the first 3
// lines of a function, from the training files of models/recipe.json for
// training and from its held-out files for the measurement; "file" holds
// the package clause and imports of the function's file.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"

	"glassbox"
	"glassbox/models"
	"glassbox/train"
	"glassbox/train/rewards"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "grpo_go:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	switch {
	case len(args) == 2 && args[0] == "prompts":
		return prompts(args[1])
	case len(args) == 3 && args[0] == "score":
		return score(args[1], args[2])
	case len(args) == 3 && args[0] == "export":
		return export(args[1], args[2])
	}
	return fmt.Errorf("usage: grpo_go prompts DIR | grpo_go score MODEL.gguf PROMPTS.jsonl | grpo_go export RUN_DIR PROMPTS.jsonl")
}

type record struct {
	Prompt string `json:"prompt"`
	File   string `json:"file"`
	Suffix string `json:"suffix"`
	Source string `json:"source"` // file:line of the target line
	Target string `json:"target"`
}

// header returns the package clause and the import declarations of a file.
func header(path string) (string, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, path, src, parser.ImportsOnly)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	b.WriteString("package " + f.Name.Name + "\n")
	for _, d := range f.Decls {
		if g, ok := d.(*ast.GenDecl); ok && g.Tok == token.IMPORT {
			b.WriteString("\n")
			b.Write(src[fset.Position(g.Pos()).Offset:fset.Position(g.End()).Offset])
			b.WriteString("\n")
		}
	}
	return b.String(), nil
}

func prompts(dir string) error {
	r, err := train.LoadRecipe("models/recipe.json")
	if err != nil {
		return err
	}
	c, err := train.LoadCorpus(r.Data)
	if err != nil {
		return err
	}
	trainFiles, held := c.Split()
	tokJSON, err := os.ReadFile("models/tokenizer.json")
	if err != nil {
		return err
	}
	tr, err := train.TrainedFromTokenizerJSON(tokJSON)
	if err != nil {
		return err
	}
	enc, err := tr.Model()
	if err != nil {
		return err
	}
	for i := range trainFiles {
		trainFiles[i].HeldOut = true // CompletionCases reads the files marked held out
	}
	const maxPrompt = 256 - 64 - 1
	sets := []struct {
		name  string
		files []train.File
		n     int
	}{{"train", trainFiles, 1000}, {"heldout", held, 200}}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	abs := map[string]string{}
	for _, f := range c.Files {
		abs[f.Path] = f.Abs
	}
	for _, s := range sets {
		cases, err := train.CompletionCases(s.files, s.n, enc, maxPrompt)
		if err != nil {
			return err
		}
		var b bytes.Buffer
		for _, k := range cases {
			h, err := header(abs[k.File])
			if err != nil {
				return err
			}
			fl := strings.Split(k.Func, "\n")
			suffix := strings.Join(fl[train.CompletionPromptLines+1:], "\n") + "\n"
			line, _ := json.Marshal(record{Prompt: k.Prompt, File: h, Suffix: suffix, Source: fmt.Sprintf("%s:%d", k.File, k.Line), Target: k.Target})
			b.Write(append(line, '\n'))
		}
		if err := os.WriteFile(filepath.Join(dir, s.name+".jsonl"), b.Bytes(), 0o644); err != nil {
			return err
		}
		fmt.Printf("%s: %d prompts\n", s.name, len(cases))
	}
	// The pretraining mix (--ptx-data): every 40th training file in manifest
	// order, one {"text"} record each; training files only, never held-out ones.
	var ptx bytes.Buffer
	nptx := 0
	for i, f := range trainFiles {
		if i%40 != 0 {
			continue
		}
		src, err := os.ReadFile(f.Abs)
		if err != nil {
			return err
		}
		line, _ := json.Marshal(map[string]string{"text": string(src), "source": f.Path})
		ptx.Write(append(line, '\n'))
		nptx++
	}
	if err := os.WriteFile(filepath.Join(dir, "ptx.jsonl"), ptx.Bytes(), 0o644); err != nil {
		return err
	}
	fmt.Printf("ptx: %d training files\n", nptx)
	// The held-out text for the perplexity: the held-out files, in manifest
	// order, up to 200 KB.
	var text bytes.Buffer
	for _, f := range held {
		src, err := os.ReadFile(f.Abs)
		if err != nil {
			return err
		}
		text.Write(src)
		if text.Len() > 200_000 {
			break
		}
	}
	return os.WriteFile(filepath.Join(dir, "heldout.txt"), text.Bytes(), 0o644)
}

type encoder struct{ m *glassbox.Model }

func (e encoder) Encode(text string, special bool) []int {
	return e.m.Encode(text, glassbox.GenerateOptions{NoBOS: true, ParseSpecial: special})
}
func (e encoder) BOS() (int, bool)    { t := e.m.Tokenizer(); return t.BOS(), t.AddBOSDefault() }
func (e encoder) EOS() int            { return e.m.Tokenizer().EOS() }
func (e encoder) Piece(id int) string { return e.m.Tokenizer().Piece(id) }
func (e encoder) RenderChat([]train.Message, bool) (string, error) {
	return "", train.ErrNoTemplate
}

// score completes every prompt greedily (one line, as the GRPO run samples)
// and prints the share that parses and that type-checks.
func score(modelPath, data string) error {
	var m *glassbox.Model
	var err error
	if modelPath == "default" {
		m, err = glassbox.OpenBytes("glassbox-go-1m.f32.gguf", models.Default, nil)
	} else {
		m, err = glassbox.Open(modelPath, nil)
	}
	if err != nil {
		return err
	}
	defer m.Close()
	tm, err := train.FromEngine(m.Engine())
	if err != nil {
		return err
	}
	raw, err := os.ReadFile(data)
	if err != nil {
		return err
	}
	recs, err := train.ReadGRPO(bytes.NewReader(raw))
	if err != nil {
		return err
	}
	c := train.FineTuneConfig{Method: "grpo", Optim: train.Optim{LR: 1, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8}, Steps: 1, Batch: 1,
		MaxLength: 256, Group: 2, MaxCompletion: 64, StopLines: 1, Clip: 0.2, Iterations: 1}
	texts, err := train.GRPOCompletions(tm, c, recs, encoder{m}, m.Tokenizer().Decode, 0)
	if err != nil {
		return err
	}
	ck := rewards.NewChecker()
	ctx := context.Background()
	var parse, typed int
	w := bufio.NewWriter(os.Stdout)
	defer w.Flush()
	for i, r := range recs {
		in := rewards.Input{Prompt: r.Prompt.Text, Completion: texts[i], File: r.File, Suffix: r.Suffix}
		p, _ := ck.Parse(ctx, in)
		t, _ := ck.TypeCheck(ctx, in)
		parse += int(p)
		typed += int(t)
		fmt.Fprintf(w, "%d\t%.0f\t%.0f\t%q\n", i+1, p, t, texts[i])
	}
	n := len(recs)
	fmt.Fprintf(w, "# %s on %s: %d prompts, parse %d (%.1f %%), parse and type-check %d (%.1f %%)\n",
		filepath.Base(modelPath), data, n, parse, 100*float64(parse)/float64(n), typed, 100*float64(typed)/float64(n))
	return nil
}

// export writes the weights of RUN_DIR/checkpoint.bin (a grpo run of the
// embedded model on PROMPTS.jsonl, the run's --data) as
// RUN_DIR/glassbox-go-1m-grpo-stepN.f32.gguf, to measure a run before its end.
func export(dir, data string) error {
	var c train.FineTuneConfig
	raw, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		return err
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		return err
	}
	m, err := glassbox.OpenBytes("glassbox-go-1m.f32.gguf", models.Default, nil)
	if err != nil {
		return err
	}
	defer m.Close()
	tm, err := train.FromEngine(m.Engine())
	if err != nil {
		return err
	}
	if raw, err = os.ReadFile(data); err != nil {
		return err
	}
	recs, err := train.ReadGRPO(bytes.NewReader(raw))
	if err != nil {
		return err
	}
	none := []train.RewardFunc{{Name: "none", Weight: 1, Score: func(context.Context, train.RewardInput) (float64, error) { return 0, nil }}}
	ft, _, err := train.NewGRPO(context.Background(), c, tm, nil, recs, encoder{m}, m.Tokenizer().Decode, none)
	if err != nil {
		return err
	}
	ck, err := os.ReadFile(filepath.Join(dir, "checkpoint.bin"))
	if err != nil {
		return err
	}
	if err := ft.ReadCheckpoint(bytes.NewReader(ck)); err != nil {
		return err
	}
	sums, err := train.ExportFineTunedAll(dir, fmt.Sprintf("glassbox-go-1m-grpo-step%d", ft.Step()), tm, m.GGUF(), []string{"f32"})
	for p, s := range sums {
		fmt.Println(s, p)
	}
	return err
}
