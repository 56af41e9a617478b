package main

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"glassbox/catalog"
	"glassbox/eval"
)

// loadLeaderboard builds the leaderboard of the records in the default
// store, the license and openness class of the models it lists taken from
// the catalog.
func loadLeaderboard() (*eval.Leaderboard, error) {
	recs, err := eval.List("", "")
	if err != nil {
		return nil, err
	}
	cat, err := catalog.Load()
	if err != nil {
		return nil, err
	}
	return eval.NewLeaderboard(recs, eval.LeaderboardOptions{Catalog: cat}), nil
}

func newLeaderboardCmd() *cobra.Command {
	var sortBy string
	var reverse, asJSON bool
	cmd := &cobra.Command{
		Use:   "leaderboard [--sort COLUMN] [--reverse] [--json]",
		Short: "Every model evaluated or benchmarked on this machine, side by side",
		Long: `leaderboard shows every model you have evaluated (glassbox eval) or benchmarked (glassbox
bench), locally or through an endpoint, from the records in the store's evals/ folder: its
latest quality score in each evaluation (one column per evaluation and data file: perplexity
at a context, HumanEval pass@1, multiple-choice accuracy …), its latest speed (prompt and
generation tokens/s, time to first token), peak RAM, file size, context length, license and
openness class. ↑ marks a column where higher is better, ↓ one where lower is.

License and openness (open-weights, or open-source: training data, code and recipe published)
come from the catalog (glassbox catalog) when the model is one of its entries, recognised by
the repository it was pulled from, its file name or its GGUF general.name; otherwise the
license is the file's GGUF general.license and the openness is unknown (-).

--sort ranks the models by a column, best first (--reverse: worst first); models without a
value come last. COLUMN is model, source, size, params, ctx, license, openness, pp, tg, ttft,
ram, or a score column's name as the header shows it (a unique prefix is enough).
glassbox serve shows the same table, with plots, in the page's Leaderboard tab.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			lb, err := loadLeaderboard()
			if err != nil {
				return err
			}
			if sortBy != "" {
				if err := lb.Sort(sortBy, reverse); err != nil {
					return &usageError{cmd: cmd, err: fmt.Errorf("--sort: %s", strings.TrimPrefix(err.Error(), "eval: ")), flag: true}
				}
			} else if reverse {
				return &usageError{cmd: cmd, err: fmt.Errorf("--reverse needs --sort COLUMN"), flag: true}
			}
			w := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(w)
				enc.SetIndent("", "  ")
				return enc.Encode(lb)
			}
			if len(lb.Rows) == 0 {
				fmt.Fprintln(w, "no records yet: run glassbox eval or glassbox bench on a model first")
				return nil
			}
			return lb.WriteTable(w)
		},
	}
	cmd.Flags().StringVar(&sortBy, "sort", "", "column to rank the models by, best first")
	cmd.Flags().BoolVar(&reverse, "reverse", false, "with --sort: worst first")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the leaderboard as JSON")
	return cmd
}
