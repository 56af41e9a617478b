package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"glassbox"
	"glassbox/vectors"
)

// newVectorsPlotCmd returns "vectors plot": an SVG of the 2-D projection of
// chosen words, or of a word and its nearest neighbours.
func newVectorsPlotCmd() *cobra.Command {
	var (
		vecPath, modelPath, neighbors, method, out, title string
		n, width, height                                  int
		perplexity                                        float64
	)
	cmd := &cobra.Command{
		Use:   "plot [--vectors FILE | -m MODEL] [--neighbors WORD] [-n 15] -o OUT.svg [WORD…]",
		Short: "Draw words on a plane (PCA or t-SNE) as an SVG picture",
		Long: `Project the vectors of the WORDs, or of a word and its nearest neighbours (--neighbors), onto
their first two principal components and write a labelled SVG picture. The axes are PC1 and PC2,
with the share of the words' variance each holds; both have the same scale. --method tsne lays
the words out with t-SNE instead: words near each other by cosine stay together, but distances
between groups mean little.

The vectors come from a word2vec file (--vectors, text or binary) or from a model's token
embedding table (-m; the embedded model when neither is given). A model's words are its
tokens: a word is looked up first as the token that starts a word ("▁word" for SentencePiece,
"Ġword" for byte-level BPE), then as a piece of its own ("word", as inside a longer word);
type the marker to ask for a given token.`,
		Example: `  glassbox vectors plot --vectors vec.bin --neighbors king -n 15 -o king.svg
  glassbox vectors plot --vectors vec.txt -o royals.svg king queen man woman prince princess
  glassbox vectors plot -m stories260K.gguf --neighbors he -n 15 -o he.svg`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return &usageError{cmd: cmd, err: errors.New("-o OUT.svg is required (- for standard output)"), flag: true}
			}
			if method != "pca" && method != "tsne" {
				return &usageError{cmd: cmd, err: fmt.Errorf("--method %q: expected pca or tsne", method), flag: true}
			}
			if neighbors == "" && len(args) < 2 {
				return &usageError{cmd: cmd, err: errors.New("give --neighbors WORD, or at least two WORDs to plot")}
			}
			if n < 1 || n > vectors.MaxProjectWords-1 {
				return &usageError{cmd: cmd, err: fmt.Errorf("-n %d: expected 1 to %d neighbours", n, vectors.MaxProjectWords-1), flag: true}
			}
			v, tokens, err := plotVectors(cmd.Context(), vecPath, modelPath)
			if err != nil {
				return err
			}
			word := func(w string) (string, error) {
				found := w
				if tokens {
					found = vectors.TokenWord(v, w)
				}
				if found == "" || v.Index(found) < 0 {
					if tokens {
						return "", fmt.Errorf("%q is not a token of the model, nor with a word-start marker (▁%s, Ġ%s)", w, w, w)
					}
					return "", fmt.Errorf("%q is not in the vocabulary of %s", w, vecPath)
				}
				return found, nil
			}
			var words []string
			highlight := ""
			if neighbors != "" {
				if highlight, err = word(neighbors); err != nil {
					return err
				}
				near, err := v.Similar(vectors.Query{Positive: []string{highlight}, N: n})
				if err != nil {
					return err
				}
				words = append(words, highlight)
				for _, nb := range near {
					words = append(words, nb.Word)
				}
				if title == "" {
					title = fmt.Sprintf("%q and its %d nearest neighbours (cosine)", neighbors, len(near))
				}
			}
			for _, a := range args {
				w, err := word(a)
				if err != nil {
					return err
				}
				words = append(words, w)
			}
			var p *vectors.Projection
			if method == "tsne" {
				p, err = v.TSNE(words, vectors.TSNEOptions{Perplexity: perplexity})
			} else {
				p, err = v.PCA(words)
			}
			if err != nil {
				return err
			}
			var w io.Writer = cmd.OutOrStdout()
			var f *os.File
			if out != "-" {
				if f, err = os.Create(out); err != nil {
					return err
				}
				w = f
			}
			err = vectors.PlotSVG(w, p, vectors.PlotOptions{Title: title, Highlight: highlight, Width: width, Height: height})
			if f != nil {
				if cerr := f.Close(); err == nil {
					err = cerr
				}
				if err != nil {
					os.Remove(out)
				}
			}
			return err
		},
	}
	cmd.Flags().StringVar(&vecPath, "vectors", "", "word vectors file (word2vec text or binary, detected by content)")
	cmd.Flags().StringVarP(&modelPath, "model", "m", "", "plot the token embedding table of this model: GGUF file, llama2.c .bin, store name (glassbox list) or hf.co/OWNER/REPO[:QUANT] (default: the embedded model)")
	cmd.Flags().StringVar(&neighbors, "neighbors", "", "plot this word and its nearest neighbours")
	cmd.Flags().IntVarP(&n, "n", "n", 15, "number of neighbours with --neighbors")
	cmd.Flags().StringVar(&method, "method", "pca", "projection: pca, or tsne (exact t-SNE from the PCA layout: neighbourhoods kept, no seed needed)")
	cmd.Flags().Float64Var(&perplexity, "perplexity", 30, "t-SNE perplexity: the neighbours each word keeps (lowered to (words-1)/3 for few words)")
	cmd.Flags().StringVarP(&out, "output", "o", "", "SVG file to write (- for standard output)")
	cmd.Flags().StringVar(&title, "title", "", "title above the plot (default: names the query of --neighbors)")
	cmd.Flags().IntVar(&width, "width", 800, "picture width in pixels")
	cmd.Flags().IntVar(&height, "height", 600, "picture height in pixels")
	return cmd
}

// plotVectors loads the vectors of --vectors, or the token embeddings of -m
// (the embedded model when neither is given); tokens says they are a model's.
func plotVectors(ctx context.Context, vecPath, modelPath string) (v *vectors.Vectors, tokens bool, err error) {
	if vecPath != "" && modelPath != "" {
		return nil, false, errors.New("give either --vectors FILE or -m MODEL, not both")
	}
	if vecPath != "" {
		v, err := vectors.ReadFile(vecPath)
		return v, false, err
	}
	var m *glassbox.Model
	if e, ok := embeddedModel(modelPath); ok {
		m, err = glassbox.OpenBytes(e.File, e.Data, nil)
	} else {
		var path string
		if path, err = resolveModel(ctx, modelPath); err != nil {
			return nil, false, err
		}
		m, err = glassbox.Open(path, nil)
	}
	if err != nil {
		return nil, false, err
	}
	defer m.Close()
	v, err = m.TokenEmbeddings()
	return v, true, err
}
