package main

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"glassbox/models"
	"glassbox/store"
)

// listEntry is one row of glassbox list.
type listEntry struct {
	Name         string     `json:"name"`
	Size         int64      `json:"size"`
	Quant        string     `json:"quant"`
	Architecture string     `json:"architecture"`
	Parameters   uint64     `json:"parameters"`
	Pulled       *time.Time `json:"pulled,omitempty"`
	Path         string     `json:"path,omitempty"`
	// Embedded marks a model embedded in the binary (no file, no pull);
	// Default the one commands use without -m.
	Embedded bool   `json:"embedded,omitempty"`
	Default  bool   `json:"default,omitempty"`
	Error    string `json:"error,omitempty"`
}

// embeddedEntries are the rows of the models embedded in the binary.
func embeddedEntries() []listEntry {
	var rows []listEntry
	for _, e := range models.Embedded() {
		r := listEntry{Name: e.Name, Size: int64(len(e.Data)), Embedded: true, Default: e.Default}
		if info, err := store.InspectBytes(e.Data); err == nil {
			r.Quant, r.Architecture, r.Parameters = info.Quant, info.Architecture, info.Parameters
		} else {
			r.Error = err.Error()
		}
		rows = append(rows, r)
	}
	return rows
}

func newListCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List the models: those embedded in glassbox, then those of the local store",
		Long: `List the models -m accepts by name: the models embedded in the binary (no download;
glassbox-go-1m is the default, used without -m), then those of the local store (glassbox pull).`,
		Args: exactArgs(0, "no argument"),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := store.Open("")
			if err != nil {
				return err
			}
			ms, err := s.List()
			if err != nil {
				return err
			}
			rows := embeddedEntries()
			for _, m := range ms {
				e := listEntry{Name: m.Name, Size: m.Size, Pulled: &m.Pulled}
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
			tw := tabwriter.NewWriter(out, 0, 0, 3, ' ', 0)
			fmt.Fprintln(tw, "NAME\tSIZE\tQUANT\tARCHITECTURE\tPARAMETERS\tPULLED")
			for _, e := range rows {
				pulled := "embedded"
				if e.Default {
					pulled = "embedded (default)"
				}
				if e.Pulled != nil {
					pulled = e.Pulled.Local().Format(time.DateTime)
				}
				if e.Error != "" {
					fmt.Fprintf(tw, "%s\t%s\t-\t-\t-\t%s (broken: %s)\n", e.Name, store.FormatBytes(e.Size), pulled, e.Error)
					continue
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", e.Name, store.FormatBytes(e.Size), e.Quant, e.Architecture,
					store.FormatCount(e.Parameters), pulled)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			if len(ms) == 0 {
				_, err := fmt.Fprintf(out, "\nThe store (%s) is empty. Download a model with glassbox pull hf.co/OWNER/REPO[:QUANT],\n"+
					"such as: glassbox pull hf.co/Qwen/Qwen3-0.6B-GGUF:Q8_0\n", s.Root)
				return err
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the models as JSON")
	return cmd
}
