package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"glassbox"
	"glassbox/gguf"
	"glassbox/store"
)

// showInfo is what glassbox show prints.
type showInfo struct {
	// Model is the store name, "" for a file given by path.
	Model string `json:"model,omitempty"`
	*store.Info
	Manifest *store.Manifest `json:"manifest,omitempty"`
}

func newShowCmd() *cobra.Command {
	var asJSON bool
	var modelName string
	cmd := &cobra.Command{
		Use:   "show [-m] [MODEL]",
		Short: "Show a model's metadata: architecture, parameters, context, quantization, license, chat template",
		Long: `show prints a model's metadata. The model is given as an argument or with -m, like every
command: a GGUF file, a llama2.c checkpoint, a store name (glassbox list) or hf.co/OWNER/REPO[:QUANT]
(pulled first); without one, the model embedded in the binary.`,
		Args: maxArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := modelName
			if len(args) == 1 {
				if name != "" && name != args[0] {
					return fmt.Errorf("two models given, -m %s and %s: show one at a time", name, args[0])
				}
				name = args[0]
			}
			si, err := lookupModel(cmd.Context(), name)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				enc.SetEscapeHTML(false)
				return enc.Encode(si.json())
			}
			printShow(out, si)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the metadata as JSON")
	cmd.Flags().StringVarP(&modelName, "model", "m", "", modelHelp)
	return cmd
}

// showJSON is what glassbox show --json prints: snake_case keys, the names
// of list --json where they mean the same thing.
type showJSON struct {
	Name            string          `json:"name,omitempty"` // store name; absent for a file given by path
	ModelName       string          `json:"model_name,omitempty"`
	Path            string          `json:"path"`
	Size            int64           `json:"size"`
	Architecture    string          `json:"architecture"`
	Quant           string          `json:"quant"`
	Parameters      uint64          `json:"parameters"`
	ContextLength   uint64          `json:"context_length"`
	EmbeddingLength uint64          `json:"embedding_length"`
	Layers          uint64          `json:"layers"`
	Heads           uint64          `json:"heads"`
	KVHeads         uint64          `json:"kv_heads"`
	VocabSize       int             `json:"vocab_size"`
	Tensors         int             `json:"tensors"`
	License         string          `json:"license,omitempty"`
	ChatTemplate    string          `json:"chat_template,omitempty"`
	Pulled          *time.Time      `json:"pulled,omitempty"`
	Manifest        *store.Manifest `json:"manifest,omitempty"`
}

func (si *showInfo) json() showJSON {
	j := showJSON{
		Name: si.Model, ModelName: si.Info.Name, Path: si.Path, Size: si.Size, Architecture: si.Architecture,
		Quant: si.Quant, Parameters: si.Parameters, ContextLength: si.ContextLength, EmbeddingLength: si.Embedding,
		Layers: si.Layers, Heads: si.Heads, KVHeads: si.KVHeads, VocabSize: si.VocabSize, Tensors: si.Tensors,
		License: si.License, ChatTemplate: si.ChatTemplate, Manifest: si.Manifest,
	}
	if si.Manifest != nil {
		j.Pulled = &si.Manifest.Pulled
	}
	return j
}

// lookupModel finds a model as -m does everywhere: a file, a store name, an
// hf.co reference (pulled first) or, for "", the embedded model.
func lookupModel(ctx context.Context, name string) (*showInfo, error) {
	si := &showInfo{}
	path := name
	e, embedded := embeddedModel(name)
	switch _, err := os.Stat(name); {
	case embedded:
		// an embedded model, through its copy in the user cache directory
		p, err := e.Path()
		if err != nil {
			return nil, err
		}
		path, si.Model = p, e.File
	case errors.Is(err, fs.ErrNotExist):
		if path, err = resolveModel(ctx, name); err != nil {
			return nil, err
		}
		if s, err := store.Open(""); err == nil {
			if m, err := s.Lookup(strings.TrimPrefix(name, "hf.co/")); err == nil {
				si.Model, si.Manifest = m.Name, m
			}
		}
	}
	info, err := inspectFile(path)
	if err != nil {
		return nil, err
	}
	si.Info = info
	return si, nil
}

// inspectFile reads the metadata of a GGUF file or a llama2.c checkpoint.
func inspectFile(path string) (*store.Info, error) {
	if ok, err := gguf.IsFile(path); err != nil || ok {
		return store.Inspect(path)
	}
	c, err := glassbox.ReadConfig(path) // a llama2.c checkpoint: its header
	if err != nil {
		return nil, err
	}
	info := &store.Info{
		Path: path, Architecture: c.Arch, Quant: "F32", Parameters: uint64(c.Params()),
		ContextLength: uint64(c.ContextLength), Embedding: uint64(c.Dim), Layers: uint64(c.Layers),
		Heads: uint64(c.Heads), KVHeads: uint64(c.KVHeads), VocabSize: c.VocabSize,
	}
	if st, err := os.Stat(path); err == nil {
		info.Size = st.Size()
	}
	return info, nil
}

func printShow(w interface{ Write([]byte) (int, error) }, si *showInfo) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(k string, v any) {
		switch x := v.(type) {
		case string:
			if x == "" {
				return
			}
		case uint64:
			if x == 0 {
				return
			}
		case int:
			if x == 0 {
				return
			}
		}
		fmt.Fprintf(tw, "  %s\t%v\n", k, v)
	}
	fmt.Fprintln(tw, "Model")
	row("name", si.Model)
	row("model name", si.Info.Name)
	row("file", si.Path)
	row("size", store.FormatBytes(si.Size))
	row("architecture", si.Architecture)
	row("parameters", fmt.Sprintf("%s (%d)", store.FormatCount(si.Parameters), si.Parameters))
	row("quantization", si.Quant)
	row("context length", si.ContextLength)
	row("embedding length", si.Embedding)
	row("layers", si.Layers)
	row("attention heads", si.Heads)
	row("key/value heads", si.KVHeads)
	row("vocabulary", si.VocabSize)
	row("tensors", si.Tensors)
	if m := si.Manifest; m != nil {
		row("source", m.Source.Endpoint+"/"+m.Source.Repo+" @ "+m.Source.Revision)
		row("pulled", m.Pulled.Local().Format("2006-01-02 15:04:05"))
		row("sha256", m.SHA256)
	}
	if si.License != "" {
		fmt.Fprintln(tw, "\nLicense")
		fmt.Fprintf(tw, "  %s\n", si.License)
	}
	tw.Flush()
	if si.ChatTemplate != "" {
		fmt.Fprintf(w, "\nChat template\n  %s\n", strings.ReplaceAll(strings.TrimSpace(si.ChatTemplate), "\n", "\n  "))
	}
}
