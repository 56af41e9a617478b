package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

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
	cmd := &cobra.Command{
		Use:   "show NAME|FILE",
		Short: "Show a model's metadata: architecture, parameters, context, quantization, license, chat template",
		Args:  exactArgs(1, "a model: a file, or a store name as glassbox list prints it"),
		RunE: func(cmd *cobra.Command, args []string) error {
			si, err := lookupLocal(args[0])
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

// lookupLocal finds a model by file path or store name, without downloading.
func lookupLocal(name string) (*showInfo, error) {
	si := &showInfo{}
	path := name
	if _, err := os.Stat(name); errors.Is(err, fs.ErrNotExist) {
		s, err := store.Open("")
		if err != nil {
			return nil, err
		}
		m, err := s.Lookup(name)
		if err != nil {
			return nil, err
		}
		if path, err = s.Path(m); err != nil {
			return nil, err
		}
		si.Model, si.Manifest = m.Name, m
	}
	info, err := store.Inspect(path)
	if err != nil {
		return nil, err
	}
	si.Info = info
	return si, nil
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
