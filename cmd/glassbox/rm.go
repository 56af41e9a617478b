package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"glassbox/store"
)

func newRmCmd() *cobra.Command {
	var prune bool
	var olderThan time.Duration
	cmd := &cobra.Command{
		Use:   "rm NAME... | rm --prune",
		Short: "Remove models from the local store",
		Long: `rm removes models from the local store: their manifests, and their files when no
other model uses them. NAME is as glassbox list prints it (the hf.co/ prefix may be left out).

--prune removes what no model uses: files without a manifest (left by a pull that failed
or was rejected), unfinished merges, and partial downloads that no running pull is writing
and that were last written more than --older-than ago (younger ones are kept so that the
next pull resumes them; --older-than 0 removes them all). It says what it removed and how
much space that freed.`,
		Example: `  glassbox rm hf.co/bartowski/Llama-3.2-1B-Instruct-GGUF:Q4_K_M
  glassbox rm --prune`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 && !prune {
				return errors.New("rm needs the name of a model to remove (see glassbox list), or --prune")
			}
			if olderThan < 0 {
				return fmt.Errorf("--older-than must not be negative, got %s", olderThan)
			}
			s, err := store.Open("")
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			for _, name := range args {
				m, err := s.Remove(name)
				if err != nil {
					return err
				}
				fmt.Fprintf(out, "deleted %s\n", m.Name)
			}
			if !prune {
				return nil
			}
			rep, err := s.Prune(store.PruneOptions{PartialAge: olderThan})
			if rep != nil {
				for _, f := range rep.Removed {
					fmt.Fprintf(out, "removed %s (%s): %s\n", f.Path, store.FormatBytes(f.Size), f.Reason)
				}
				for _, f := range rep.Kept {
					fmt.Fprintf(out, "kept %s (%s): %s\n", f.Path, store.FormatBytes(f.Size), f.Reason)
				}
				switch n := len(rep.Removed); n {
				case 0:
					fmt.Fprintln(out, "nothing to prune")
				case 1:
					fmt.Fprintf(out, "pruned 1 file, freed %s\n", store.FormatBytes(rep.Freed))
				default:
					fmt.Fprintf(out, "pruned %d files, freed %s\n", n, store.FormatBytes(rep.Freed))
				}
			}
			return err
		},
	}
	cmd.Flags().BoolVar(&prune, "prune", false, "also remove files no model uses (see above)")
	cmd.Flags().DurationVar(&olderThan, "older-than", store.DefaultPartialAge, "with --prune, remove partial downloads last written longer ago than this")
	return cmd
}
