package train

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"glassbox/gguf"
	"glassbox/model"
	"glassbox/tensor"
	"glassbox/tokenizer/bpe"
)

// TrainedFromTokenizerJSON rebuilds the Trained form (vocabulary, merges,
// special tokens, pre-tokenizer) of a tokenizer.json written by
// Trained.WriteTokenizerJSON, for exporting without retraining.
func TrainedFromTokenizerJSON(data []byte) (*bpe.Trained, error) {
	var doc struct {
		AddedTokens []struct {
			ID      int    `json:"id"`
			Content string `json:"content"`
		} `json:"added_tokens"`
		PreTokenizer json.RawMessage `json:"pre_tokenizer"`
		Model        struct {
			Type   string          `json:"type"`
			Vocab  map[string]int  `json:"vocab"`
			Merges json.RawMessage `json:"merges"`
		} `json:"model"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("train: bad tokenizer.json: %w", err)
	}
	if doc.Model.Type != "BPE" {
		return nil, fmt.Errorf("train: tokenizer.json model type %q, expected BPE", doc.Model.Type)
	}
	if len(doc.Model.Vocab) == 0 {
		return nil, fmt.Errorf("train: tokenizer.json has no model.vocab")
	}
	merges, err := bpe.ParseMerges(doc.Model.Merges)
	if err != nil {
		return nil, err
	}
	tr := &bpe.Trained{Vocab: doc.Model.Vocab, Merges: merges, PreTokenizer: doc.PreTokenizer}
	for i, a := range doc.AddedTokens {
		if a.ID != i {
			return nil, fmt.Errorf("train: added token %q has id %d, expected the special tokens first (id %d)", a.Content, a.ID, i)
		}
		tr.SpecialTokens = append(tr.SpecialTokens, a.Content)
		if _, ok := tr.Vocab[a.Content]; !ok {
			tr.Vocab[a.Content] = a.ID
		}
	}
	return tr, nil
}

// ModelFromCheckpoint loads the weights of a checkpoint made with recipe r.
func ModelFromCheckpoint(path string, r Recipe) (*Model[float32], int, error) {
	m, err := NewModel[float32](r.Model, NewRNG(r.Seed, 0))
	if err != nil {
		return nil, 0, err
	}
	t := &Trainer{Recipe: r, Model: m, adam: newAdamState(m)}
	if err := t.LoadCheckpoint(path); err != nil {
		return nil, 0, err
	}
	return m, t.Step(), nil
}

// ExportFormats are the names accepted by ExportAll.
var ExportFormats = []string{"f32", "f16", "q8_0", "safetensors"}

// ExportAll writes, into dir, model-<name>.<type>.gguf for each GGUF type
// in formats and, for "safetensors", model.safetensors with config.json
// (tokenizer.json is already in dir). It returns the written paths and SHA-256 sums.
func ExportAll(dir string, m *Model[float32], r Recipe, tok *bpe.Trained, formats []string) (map[string]string, error) {
	eot := tok.Vocab[r.Tokenizer.EndOfText]
	info := ExportInfo{Name: r.Name, License: "BSD-3-Clause", Tokenizer: tok, PreTokenizer: r.Tokenizer.PreTokenizer, EOT: eot}
	sums := map[string]string{}
	write := func(name string, data []byte) error {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			return fmt.Errorf("train: %w", err)
		}
		s := sha256.Sum256(data)
		sums[p] = hex.EncodeToString(s[:])
		return nil
	}
	for _, f := range formats {
		var buf bytes.Buffer
		switch f {
		case "safetensors":
			if err := ExportSafetensors(&buf, m); err != nil {
				return nil, err
			}
			if err := write("model.safetensors", buf.Bytes()); err != nil {
				return nil, err
			}
			if err := write("config.json", HFConfig(m.Config, eot)); err != nil {
				return nil, err
			}
		case "f32", "f16", "q8_0":
			typ, err := tensor.ParseType(strings.ToUpper(f))
			if err != nil {
				return nil, err
			}
			if err := ExportGGUF(&buf, m, info, typ); err != nil {
				return nil, err
			}
			if err := write(fmt.Sprintf("%s.%s.gguf", r.Name, f), buf.Bytes()); err != nil {
				return nil, err
			}
		default:
			return nil, fmt.Errorf("train: unknown export format %q (known: %s)", f, strings.Join(ExportFormats, ", "))
		}
	}
	return sums, nil
}

// EvalReport is the evaluation of a trained model written to eval.json.
type EvalReport struct {
	Model           string           `json:"model"`
	ModelSHA256     string           `json:"model_sha256"`
	HeldOutFiles    int              `json:"held_out_files"`
	HeldOutTokens   int              `json:"held_out_tokens_scored"`
	HeldOutBytes    int              `json:"held_out_bytes_scored"`
	HeldOutLoss     float64          `json:"held_out_loss_nats_per_token"`
	Perplexity      float64          `json:"held_out_perplexity"`
	BitsPerByte     float64          `json:"held_out_bits_per_byte"`
	Completion      CompletionScore  `json:"completion"`
	ExactMatchRate  float64          `json:"completion_exact_match_rate"`
	ParseRate       float64          `json:"completion_parse_rate"`
	CompletionCases []CompletionCase `json:"cases"`
}

// Evaluate measures the model exported at ggufPath (with the float32
// training weights m for the perplexity): held-out perplexity over seqs
// windows and the completion suite of n cases.
func Evaluate(r Recipe, m *Model[float32], ggufPath string, tok *bpe.Trained, seqs, n, threads int) (*EvalReport, error) {
	c, err := LoadCorpus(r.Data)
	if err != nil {
		return nil, err
	}
	_, held := c.Split()
	enc, err := tok.Model()
	if err != nil {
		return nil, err
	}
	eot := tok.Vocab[r.Tokenizer.EndOfText]
	stream, err := TokenStream(enc, held, eot)
	if err != nil {
		return nil, err
	}
	rep := &EvalReport{Model: filepath.Base(ggufPath), HeldOutFiles: len(held)}
	loss, toks, nbytes, err := HeldOutLoss(m, stream, seqs, threads, enc, eot)
	if err != nil {
		return nil, err
	}
	rep.HeldOutLoss, rep.HeldOutTokens, rep.HeldOutBytes = loss, toks, nbytes
	rep.Perplexity = exp(loss)
	rep.BitsPerByte = loss * float64(toks) / float64(nbytes) / ln2
	data, err := os.ReadFile(ggufPath)
	if err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	s := sha256.Sum256(data)
	rep.ModelSHA256 = hex.EncodeToString(s[:])
	f, err := gguf.Parse(data)
	if err != nil {
		return nil, err
	}
	gm, err := model.LoadGGUF(f)
	if err != nil {
		return nil, err
	}
	const maxTokens = 64
	cases, err := CompletionCases(held, n, enc, r.Model.Context-maxTokens-1)
	if err != nil {
		return nil, err
	}
	sc, err := RunCompletions(gm, enc, eot, cases, maxTokens)
	if err != nil {
		return nil, err
	}
	rep.Completion = sc
	if sc.Cases > 0 {
		rep.ExactMatchRate = float64(sc.Exact) / float64(sc.Cases)
		rep.ParseRate = float64(sc.Parses) / float64(sc.Cases)
	}
	rep.CompletionCases = cases
	return rep, nil
}
