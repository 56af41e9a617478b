package main

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"glassbox/store"
)

// listEntry is one row of glassbox list.
type listEntry struct {
	Name         string    `json:"name"`
	Size         int64     `json:"size"`
	Quant        string    `json:"quant"`
	Architecture string    `json:"architecture"`
	Parameters   uint64    `json:"parameters"`
	Pulled       time.Time `json:"pulled"`
	Path         string    `json:"path"`
	Error        string    `json:"error,omitempty"`
}

func newListCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List the models of the local store",
		Args:    exactArgs(0, "no argument"),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := store.Open("")
			if err != nil {
				return err
			}
			ms, err := s.List()
			if err != nil {
				return err
			}
			rows := make([]listEntry, 0, len(ms))
			for _, m := range ms {
				e := listEntry{Name: m.Name, Size: m.Size, Pulled: m.Pulled}
				path, err := s.Path(m)
				if err == nil {
					e.Path = path
					var info *store.Info
					if info, err = store.Inspect(path); err == nil {
						e.Quant, e.Architecture, e.Parameters = info.Quant, info.Architecture, info.Parameters
					}
				}
				if err != nil {
					e.Error = err.Error()
				}
				rows = append(rows, e)
			}
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(rows)
			}
			if len(rows) == 0 {
				_, err := fmt.Fprintf(out, "The store (%s) is empty. Download a model with glassbox pull hf.co/OWNER/REPO[:QUANT],\n"+
					"such as: glassbox pull hf.co/Qwen/Qwen3-0.6B-GGUF:Q8_0\n"+
					"(Without -m, every command uses the small model embedded in glassbox.)\n", s.Root)
				return err
			}
			tw := tabwriter.NewWriter(out, 0, 0, 3, ' ', 0)
			fmt.Fprintln(tw, "NAME\tSIZE\tQUANT\tARCHITECTURE\tPARAMETERS\tPULLED")
			for _, e := range rows {
				if e.Error != "" {
					fmt.Fprintf(tw, "%s\t%s\t-\t-\t-\t%s (broken: %s)\n", e.Name, store.FormatBytes(e.Size), e.Pulled.Local().Format(time.DateTime), e.Error)
					continue
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", e.Name, store.FormatBytes(e.Size), e.Quant, e.Architecture,
					store.FormatCount(e.Parameters), e.Pulled.Local().Format(time.DateTime))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the models as JSON")
	return cmd
}
