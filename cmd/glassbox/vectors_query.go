package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"glassbox"
	"glassbox/vectors"
)

// vectorSource is where the vectors of a query come from: a word2vec file
// (--vectors) or a model's token embedding table (-m).
type vectorSource struct {
	file, model, tokenizer string
	limit                  int
	replaceUTF8            bool
	restrict               int
	jsonOutput             bool
}

func (s *vectorSource) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&s.file, "vectors", "", "word2vec file, text or binary (detected by content)")
	cmd.Flags().StringVarP(&s.model, "model", "m", "", "use this model's token embedding table instead: "+modelHelp[len("model: "):])
	cmd.Flags().StringVar(&s.tokenizer, "tokenizer", "", "tokenizer file for a model that has none (llama2.c .bin)")
	cmd.Flags().Var(newBoundedInt(&s.limit, 0, 0, math.MaxInt32, "a whole number of words, 0 (all) or more"), "limit", "read only the first N words of the file (0 = all)")
	cmd.Flags().BoolVar(&s.replaceUTF8, "replace-invalid-utf8", false, "replace bytes that are not UTF-8 in the file's words instead of failing (gensim's unicode_errors='replace')")
	cmd.Flags().BoolVar(&s.jsonOutput, "json", false, "print JSON")
}

func (s *vectorSource) registerRestrict(cmd *cobra.Command, def int, usage string) {
	cmd.Flags().Var(newBoundedInt(&s.restrict, def, 0, math.MaxInt32, "a whole number of words, 0 (all) or more"), "restrict-vocab", usage)
}

// load reads the vectors the flags name; tokens says they are a model's
// token table, whose words are the vocabulary pieces ("▁king").
func (s *vectorSource) load(cmd *cobra.Command) (v *vectors.Vectors, tokens bool, err error) {
	v, err = s.loadVectors(cmd)
	return v, err == nil && s.model != "", err
}

// words maps typed words to the table's: for a model, the token that stands
// for each (vectors.TokenWord: "king" is "▁king"); unknown words stay as typed
// so that the error names them.
func tokenWords(v *vectors.Vectors, tokens bool, words []string) []string {
	if !tokens {
		return words
	}
	out := make([]string, len(words))
	for i, w := range words {
		out[i] = w
		if t := vectors.TokenWord(v, w); t != "" {
			out[i] = t
		}
	}
	return out
}

// plainTokenNames renames a token table for the evaluations, whose files
// hold plain words: a word-start token ("▁king", "Ġking") is named without
// its marker unless another token already has that name, in which case it
// keeps its piece.
func plainTokenNames(v *vectors.Vectors) (*vectors.Vectors, error) {
	words := slices.Clone(v.Words)
	taken := make(map[string]bool, len(words))
	for _, w := range words {
		taken[w] = true
	}
	for i, w := range words {
		plain := strings.TrimPrefix(strings.TrimPrefix(w, "▁"), "Ġ")
		if plain != w && plain != "" && !taken[plain] {
			words[i], taken[plain] = plain, true
		}
	}
	return vectors.New(words, v.Dim, v.Data)
}

func (s *vectorSource) loadVectors(cmd *cobra.Command) (*vectors.Vectors, error) {
	switch {
	case s.file != "" && s.model != "":
		return nil, &usageError{cmd: cmd, err: errors.New("give --vectors FILE or -m MODEL, not both"), flag: true}
	case s.file != "":
		return vectors.ReadFileWith(s.file, vectors.ReadOptions{Limit: s.limit, ReplaceInvalidUTF8: s.replaceUTF8})
	case s.model != "":
		mf := &modelFlags{model: s.model, tokenizer: s.tokenizer}
		m, err := mf.openModel(cmd.Context(), &glassbox.Options{Tokenizer: s.tokenizer, Threads: 1})
		if err != nil {
			return nil, err
		}
		defer m.Close()
		v, err := m.TokenEmbeddings()
		if err != nil {
			return nil, err
		}
		if s.limit > 0 && s.limit < v.Len() {
			return vectors.New(v.Words[:s.limit], v.Dim, v.Data[:s.limit*v.Dim])
		}
		return v, nil
	}
	return nil, &usageError{cmd: cmd, err: fmt.Errorf("%s needs --vectors FILE or -m MODEL", subcommand(cmd)), flag: true}
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// printNeighbors prints neighbours as a table or JSON [{"word","cosine"}].
func printNeighbors(w io.Writer, nb []vectors.Neighbor, jsonOutput bool, score string) error {
	if jsonOutput {
		return writeJSON(w, nb)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "WORD\t%s\n", score)
	for _, n := range nb {
		fmt.Fprintf(tw, "%s\t%.4f\n", n.Word, n.Cosine)
	}
	return tw.Flush()
}

// printQuery runs a nearest-neighbour query and prints its answers, scored
// by cosine or, for 3CosMul, by its product.
func printQuery(cmd *cobra.Command, v *vectors.Vectors, src *vectorSource, q vectors.Query) error {
	nb, err := v.Similar(q)
	if err != nil {
		return err
	}
	score := "COSINE"
	if q.Mul {
		score = "3COSMUL"
	}
	return printNeighbors(cmd.OutOrStdout(), nb, src.jsonOutput, score)
}

func newVectorsQueryCmds() []*cobra.Command {
	return []*cobra.Command{newVectorsSimilarCmd(), newVectorsAnalogyCmd(), newVectorsDistanceCmd(), newVectorsDoesntMatchCmd(), newVectorsEvalCmd()}
}

func newVectorsSimilarCmd() *cobra.Command {
	var (
		src      vectorSource
		n        int
		negative []string
		mul      bool
	)
	cmd := &cobra.Command{
		Use:   "similar [flags] WORD...",
		Short: "Nearest neighbours of words by cosine similarity",
		Long: `Print the words nearest to WORD (to the sum of the WORDs' unit vectors minus the
--negative ones, as gensim's most_similar), best first, leaving the query's words out.`,
		Example: `  glassbox vectors similar --vectors vectors.bin king
  glassbox vectors similar --vectors vectors.bin --negative man king woman
  glassbox vectors similar -m stories260K.gguf --json time`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 && len(negative) == 0 {
				return fmt.Errorf("%s needs at least one WORD", subcommand(cmd))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			v, tokens, err := src.load(cmd)
			if err != nil {
				return err
			}
			return printQuery(cmd, v, &src, vectors.Query{Positive: tokenWords(v, tokens, args), Negative: tokenWords(v, tokens, negative), N: n, Restrict: src.restrict, Mul: mul})
		},
	}
	src.register(cmd)
	src.registerRestrict(cmd, 0, "search only the first N words of the vocabulary, the most frequent (0 = all)")
	cmd.Flags().VarP(newBoundedInt(&n, 10, 1, 1<<20, "a whole number from 1 to 1048576"), "top", "n", "how many neighbours to print")
	cmd.Flags().StringArrayVar(&negative, "negative", nil, "subtract this word's vector (repeatable)")
	cmd.Flags().BoolVar(&mul, "mul", false, "rank with 3CosMul (gensim's most_similar_cosmul) instead of the cosine")
	return cmd
}

func newVectorsAnalogyCmd() *cobra.Command {
	var (
		src vectorSource
		n   int
		mul bool
	)
	cmd := &cobra.Command{
		Use:   "analogy [flags] A B C",
		Short: `Answer "A is to B as C is to ?" (B − A + C)`,
		Long: `Answer "A is to B as C is to ?": the words nearest to B − A + C with 3CosAdd
(gensim's most_similar(positive=[B, C], negative=[A])) or, with --mul, 3CosMul
(most_similar_cosmul), leaving A, B and C out.`,
		Example: `  glassbox vectors analogy --vectors vectors.bin man king woman
  glassbox vectors analogy --vectors vectors.bin --mul -n 3 paris france rome`,
		Args: exactArgs(3, "three words: A B C"),
		RunE: func(cmd *cobra.Command, args []string) error {
			v, tokens, err := src.load(cmd)
			if err != nil {
				return err
			}
			args = tokenWords(v, tokens, args)
			// B − A + C, as Vectors.Analogy asks it
			return printQuery(cmd, v, &src, vectors.Query{Positive: args[1:3], Negative: args[:1], N: n, Restrict: src.restrict, Mul: mul})
		},
	}
	src.register(cmd)
	src.registerRestrict(cmd, 0, "search only the first N words of the vocabulary, the most frequent (0 = all)")
	cmd.Flags().VarP(newBoundedInt(&n, 10, 1, 1<<20, "a whole number from 1 to 1048576"), "top", "n", "how many answers to print")
	cmd.Flags().BoolVar(&mul, "mul", false, "rank with 3CosMul (Levy and Goldberg 2014) instead of 3CosAdd")
	return cmd
}

func newVectorsDistanceCmd() *cobra.Command {
	var src vectorSource
	cmd := &cobra.Command{
		Use:     "distance [flags] WORD1 WORD2",
		Short:   "Cosine similarity and distance (1 − similarity) of two words",
		Example: `  glassbox vectors distance --vectors vectors.bin king queen`,
		Args:    exactArgs(2, "two words"),
		RunE: func(cmd *cobra.Command, args []string) error {
			v, tokens, err := src.load(cmd)
			if err != nil {
				return err
			}
			args = tokenWords(v, tokens, args)
			sim, err := v.Similarity(args[0], args[1])
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if src.jsonOutput {
				return writeJSON(w, map[string]any{"word1": args[0], "word2": args[1], "similarity": sim, "distance": 1 - sim})
			}
			_, err = fmt.Fprintf(w, "similarity %.4f\ndistance   %.4f\n", sim, 1-sim)
			return err
		},
	}
	src.register(cmd)
	return cmd
}

func newVectorsDoesntMatchCmd() *cobra.Command {
	var src vectorSource
	cmd := &cobra.Command{
		Use:   "doesnt-match [flags] WORD WORD...",
		Short: "The odd one out: the word farthest from the mean of the others",
		Long: `Print the word whose cosine with the mean of all the words' unit vectors is
lowest (gensim's doesnt_match).`,
		Example: `  glassbox vectors doesnt-match --vectors vectors.bin breakfast cereal dinner lunch`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) < 2 {
				return fmt.Errorf("%s needs at least two words, got %d", subcommand(cmd), len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			v, tokens, err := src.load(cmd)
			if err != nil {
				return err
			}
			odd, err := v.DoesntMatch(tokenWords(v, tokens, args))
			if err != nil {
				return err
			}
			if src.jsonOutput {
				return writeJSON(cmd.OutOrStdout(), map[string]string{"word": odd})
			}
			_, err = fmt.Fprintln(cmd.OutOrStdout(), odd)
			return err
		},
	}
	src.register(cmd)
	return cmd
}

// evalOutput is the JSON of "vectors eval".
type evalOutput struct {
	Analogies  *vectors.AnalogyResult      `json:"analogies,omitempty"`
	Similarity []*vectors.SimilarityResult `json:"similarity,omitempty"`
}

func newVectorsEvalCmd() *cobra.Command {
	var (
		src           vectorSource
		analogies     string
		similarity    []string
		caseSensitive bool
	)
	cmd := &cobra.Command{
		Use:   "eval [flags]",
		Short: "Analogy accuracy and word-similarity correlations (gensim's evaluations)",
		Long: `Evaluate word vectors as gensim's evaluate_word_analogies and evaluate_word_pairs do.

--analogies reads the questions-words.txt format (": section" lines, then "a b c d"):
accuracy per section and in total over the questions whose four words are in the
first --restrict-vocab words; the others are counted as out of vocabulary (oov).
--similarity reads "word1<TAB>word2<TAB>score" lines ('#' comments; WordSim-353 and
the original SimLex-999 file work as they are): Pearson and Spearman correlations
with the cosine similarities, and the percentage of pairs out of vocabulary.
Words are compared upper-cased unless --case-sensitive.`,
		Example: `  glassbox vectors eval --vectors vectors.bin --analogies questions-words.txt \
      --similarity wordsim353.tsv --similarity simlex999.txt --json`,
		Args: maxArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			if analogies == "" && len(similarity) == 0 {
				return &usageError{cmd: cmd, err: errors.New("vectors eval needs --analogies FILE or --similarity FILE"), flag: true}
			}
			v, tokens, err := src.load(cmd)
			if err != nil {
				return err
			}
			if tokens {
				if v, err = plainTokenNames(v); err != nil {
					return err
				}
			}
			opt := vectors.EvalOptions{Restrict: src.restrict, CaseSensitive: caseSensitive}
			if src.restrict == 0 {
				opt.Restrict = math.MaxInt32
			}
			var out evalOutput
			if analogies != "" {
				f, err := os.Open(analogies)
				if err != nil {
					return err
				}
				out.Analogies, err = v.EvaluateAnalogies(f, opt)
				f.Close()
				if err != nil {
					return fmt.Errorf("%s: %w", analogies, err)
				}
			}
			for _, path := range similarity {
				f, err := os.Open(path)
				if err != nil {
					return err
				}
				r, err := v.EvaluateWordPairs(f, opt)
				f.Close()
				if err != nil {
					return fmt.Errorf("%s: %w", path, err)
				}
				r.File = path
				out.Similarity = append(out.Similarity, r)
			}
			w := cmd.OutOrStdout()
			if src.jsonOutput {
				return writeJSON(w, out)
			}
			return printEval(w, &out)
		},
	}
	src.register(cmd)
	src.registerRestrict(cmd, vectors.DefaultEvalRestrict, "evaluate on the first N words of the vocabulary, the most frequent (0 = all)")
	cmd.Flags().StringVar(&analogies, "analogies", "", "analogy questions in the questions-words.txt format")
	cmd.Flags().StringArrayVar(&similarity, "similarity", nil, "word-similarity set: word1<TAB>word2<TAB>score lines (repeatable)")
	cmd.Flags().BoolVar(&caseSensitive, "case-sensitive", false, "compare words as spelled instead of upper-cased")
	return cmd
}

func pct(s vectors.Score) string {
	if math.IsNaN(float64(s)) {
		return "n/a"
	}
	return fmt.Sprintf("%.1f%%", 100*float64(s))
}

func corr(s vectors.Score) string {
	if math.IsNaN(float64(s)) {
		return "n/a"
	}
	return fmt.Sprintf("%.4f", float64(s))
}

func printEval(w io.Writer, out *evalOutput) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	if a := out.Analogies; a != nil {
		fmt.Fprintln(tw, "SECTION\tACCURACY\tCORRECT\tTOTAL\tOOV")
		for _, s := range a.Sections {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\n", s.Name, pct(s.Accuracy), s.Correct, s.Total, s.OOV)
		}
		fmt.Fprintf(tw, "total\t%s\t%d\t%d\t%d\n", pct(a.Accuracy), a.Correct, a.Total, a.OOV)
		if len(out.Similarity) > 0 {
			fmt.Fprintln(tw)
		}
	}
	if len(out.Similarity) > 0 {
		fmt.Fprintln(tw, "SIMILARITY SET\tPEARSON\tSPEARMAN\tPAIRS\tOOV")
		for _, s := range out.Similarity {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%.1f%%\n", s.File, corr(s.Pearson), corr(s.Spearman), s.Pairs, float64(s.OOVRatio))
		}
	}
	return tw.Flush()
}
