package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
)

func newExportCmd() *cobra.Command {
	var mf modelFlags
	var out, typ, name string
	cmd := &cobra.Command{
		Use:   "export -m MODEL --merge-lora ADAPTER.gguf [--type f32|f16|base] -o OUT.gguf",
		Short: "Write a new GGUF model with LoRA adapters merged into its weights",
		Long: `export --merge-lora folds LoRA adapters (llama.cpp's GGUF adapter format, as
glassbox train sft/dpo --lora-rank writes them) into the model's weights,
W + scale·(alpha/rank)·B·A, and writes the result as a new GGUF file with the
model's metadata (tokenizer, chat template, …): it then runs anywhere without
--lora. Several adapters add up; --lora-scaled FILE:SCALE gives one a scale.

--type f32 (default) writes every matrix in F32: the merged weights are exact.
--type f16 writes every matrix in F16 (one rounding of each value). --type base
keeps every tensor of the base as it is and requantizes each merged weight to
its own type: only for types glassbox quantizes (F32, F16, BF16, Q4_0, Q4_1,
Q5_0, Q5_1, Q8_0; not K-quants), and the requantization adds the type's
rounding error to the merged values.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if len(mf.lora)+len(mf.loraScaled) == 0 {
				return fmt.Errorf("export needs an adapter: --merge-lora FILE (or --lora-scaled FILE:SCALE)")
			}
			if out == "" {
				return fmt.Errorf("export needs an output file: -o OUT.gguf")
			}
			mt := strings.ToLower(typ)
			if mt != "f32" && mt != "f16" && mt != "base" {
				return fmt.Errorf("--type %q: expected f32, f16 or base", typ)
			}
			mf.ctx = 16 // no generation: the smallest cache
			m, err := mf.open(cmd.Context())
			if err != nil {
				return err
			}
			defer m.Close()
			if name == "" {
				name = strings.TrimSuffix(m.Name(), ".gguf") + "-lora"
			}
			tmp, err := os.CreateTemp(filepath.Dir(out), ".export-*")
			if err != nil {
				return err
			}
			defer os.Remove(tmp.Name())
			n, err := m.WriteMerged(tmp, mt, name)
			if cerr := tmp.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
			if err := os.Chmod(tmp.Name(), 0o644); err != nil {
				return err
			}
			if err := os.Rename(tmp.Name(), out); err != nil {
				return err
			}
			var names []string
			for _, a := range m.LoRA() {
				names = append(names, fmt.Sprintf("%s (scale %g)", a.Name, a.Scale))
			}
			sum, err := fileSHA256(out)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "merged %s into %d weights of %s (%s): %s\n%s  %s\n",
				strings.Join(names, ", "), n, m.Name(), mt, out, sum, out)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVarP(&mf.model, "model", "m", "", modelHelp)
	registerThreads(cmd, &mf.threads, "worker threads (0 = all cores)")
	f.StringArrayVar(&mf.lora, "merge-lora", nil, "LoRA adapter to merge with scale 1; repeatable or comma-separated")
	f.StringArrayVar(&mf.loraScaled, "lora-scaled", nil, "LoRA adapter to merge with a scale, FILE:SCALE; repeatable or comma-separated")
	f.StringVar(&typ, "type", "f32", "type of the matrices: f32, f16, or base (each merged weight requantized to its own type)")
	f.StringVarP(&out, "out", "o", "", "the merged GGUF file to write")
	f.StringVar(&name, "name", "", "general.name of the merged model (default: the base's name + \"-lora\")")
	return cmd
}

// fileSHA256 is the SHA-256 of a file, in hex.
func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
