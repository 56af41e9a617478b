package main

import (
	"fmt"
	"glassbox/choose"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"glassbox"
	"glassbox/catalog"
)

// catalogFlags are the catalog filters glassbox catalog and glassbox choose
// share.
type catalogFlags struct {
	task       string
	license    string
	openSource bool
}

func (f *catalogFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.task, "task", "", "keep models suiting this task: "+strings.Join(catalog.Tasks, ", "))
	cmd.Flags().StringVar(&f.license, "license", "", "keep models under a permissive license (permissive) or this license id (apache-2.0, mit, llama3.2 …)")
	cmd.Flags().BoolVar(&f.openSource, "open-source", false, "keep open-source models (training data, code and recipe published), not only open weights")
}

// filter turns the flags into a catalog filter.
func (f *catalogFlags) filter() catalog.Filter {
	out := catalog.Filter{Task: f.task, OpenSource: f.openSource}
	if strings.EqualFold(f.license, "permissive") {
		out.Permissive = true
	} else {
		out.License = f.license
	}
	return out
}

func newCatalogCmd() *cobra.Command {
	var cf catalogFlags
	var maxParams string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "catalog [ID]",
		Short: "List the catalog of public open models, with the source of every fact",
		Long: `catalog lists the public open models glassbox knows of: parameters, context length,
architecture (and whether glassbox runs it), license, openness class (open weights, or open
source: training data, code and recipe published, as the Model Openness Framework puts it),
the tasks its publisher says it suits, and Hugging Face repositories publishing it as GGUF
(glassbox pull hf.co/REPO:QUANT downloads one). Every fact comes with the URL of its source
(--json, or one model by its ID); a fact without a source is left out, never guessed.`,
		Example: `  glassbox catalog --task code --license permissive
  glassbox catalog --open-source --max-params 2B
  glassbox catalog qwen3-0.6b`,
		Args: maxArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := catalog.Load()
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if len(args) == 1 {
				m := c.ByID(args[0])
				if m == nil {
					return fmt.Errorf("%q is not in the catalog: glassbox catalog lists the ids", args[0])
				}
				if asJSON {
					return writeJSON(out, m)
				}
				return writeCatalogModel(out, m)
			}
			f := cf.filter()
			if maxParams != "" {
				if f.MaxParams, err = catalog.ParseCount(maxParams); err != nil {
					return fmt.Errorf("--max-params: %w", err)
				}
			}
			ms, err := c.Select(f)
			if err != nil {
				return err
			}
			if asJSON {
				if ms == nil {
					ms = []catalog.Model{}
				}
				return writeJSON(out, ms)
			}
			if len(ms) == 0 {
				_, err := fmt.Fprintln(out, "No model of the catalog passes these filters.")
				return err
			}
			return writeCatalogTable(out, ms)
		},
	}
	cf.register(cmd)
	cmd.Flags().StringVar(&maxParams, "max-params", "", "keep models of at most this many parameters (3B, 500M …)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the models as JSON, every fact with its source")
	return cmd
}

// writeCatalogTable writes one row per model.
func writeCatalogTable(w io.Writer, ms []catalog.Model) error {
	archs := glassbox.Architectures()
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tPARAMS\tCONTEXT\tARCH\tLICENSE\tOPENNESS\tTASKS\tGGUF")
	for i := range ms {
		m := &ms[i]
		params, ctx, arch, lic, open, gguf := "-", "-", "-", "-", "-", "-"
		if m.Params != nil {
			params = catalog.FormatCount(m.Params.Value)
		}
		if m.ContextLength != nil {
			ctx = fmt.Sprint(m.ContextLength.Value)
		}
		if m.Architecture != nil {
			arch = m.Architecture.Value
			if !runsIn(archs, arch) {
				arch += " (not run by glassbox)"
			}
		}
		if l, ok := m.LicenseInfo(); ok {
			lic = l.ID
			if l.Permissive {
				lic += " (permissive)"
			}
		}
		if m.Openness != nil {
			open = m.Openness.Value
		}
		if len(m.GGUF) > 0 {
			gguf = m.GGUF[0].Repo
			if len(m.GGUF) > 1 {
				gguf += fmt.Sprintf(" (+%d)", len(m.GGUF)-1)
			}
		}
		tasks := strings.Join(m.TaskNames(), ",")
		if tasks == "" {
			tasks = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", m.ID, params, ctx, arch, lic, open, tasks, gguf)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintln(w, "\nEvery fact has a source: glassbox catalog ID shows them, --json lists them all.")
	return err
}

// runsIn reports whether glassbox runs a config.json model_type (Mistral's
// converts to GGUF llama).
func runsIn(archs []string, modelType string) bool {
	return slices.Contains(archs, choose.GGUFArchitecture(modelType))
}

// writeCatalogModel writes every fact of m with its source.
func writeCatalogModel(w io.Writer, m *catalog.Model) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "%s\t%s (https://huggingface.co/%s)\n", m.ID, m.Name, m.Repo)
	str := func(name string, f *catalog.Fact[string], note string) {
		if f == nil {
			fmt.Fprintf(tw, "  %s\tunknown (no source)\t\n", name)
			return
		}
		fmt.Fprintf(tw, "  %s\t%s%s\t%s\n", name, f.Value, note, f.Source)
	}
	num := func(name string, f *catalog.Fact[int]) {
		if f == nil {
			fmt.Fprintf(tw, "  %s\tunknown (no source)\t\n", name)
			return
		}
		fmt.Fprintf(tw, "  %s\t%d\t%s\n", name, f.Value, f.Source)
	}
	note := ""
	if m.Architecture != nil && !runsIn(glassbox.Architectures(), m.Architecture.Value) {
		note = " (glassbox does not run it)"
	}
	str("architecture", m.Architecture, note)
	if m.Params != nil {
		fmt.Fprintf(tw, "  parameters\t%s\t%s\n", catalog.FormatCount(m.Params.Value), m.Params.Source)
	} else {
		fmt.Fprintf(tw, "  parameters\tunknown (no source)\t\n")
	}
	num("context length", m.ContextLength)
	num("layers", m.Layers)
	num("attention heads", m.Heads)
	num("KV heads", m.KVHeads)
	num("head dim", m.HeadDim)
	num("vocabulary", m.Vocab)
	note = ""
	if l, ok := m.LicenseInfo(); ok {
		note = " (" + l.Name + ", not permissive)"
		if l.Permissive {
			note = " (" + l.Name + ", permissive)"
		}
	}
	str("license", m.License, note)
	str("openness", m.Openness, "")
	for _, t := range m.Tasks {
		fmt.Fprintf(tw, "  task\t%s\t%s\n", t.Value, t.Source)
	}
	for _, g := range m.GGUF {
		fmt.Fprintf(tw, "  GGUF\tglassbox pull hf.co/%s:Q4_K_M\t%s\n", g.Repo, g.Source)
	}
	return tw.Flush()
}
