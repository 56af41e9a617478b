package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"glassbox"
	"glassbox/gguf"
)

// newTokenizeCmd returns the "tokenize" command: it prints the tokens of a text
// (an argument or standard input) with their ids, pieces and bytes.
func newTokenizeCmd() *cobra.Command {
	var (
		modelPath, tokPath         string
		noBOS, special, jsonOutput bool
	)
	cmd := &cobra.Command{
		Use:   "tokenize [TEXT]",
		Short: "Show how a text splits into tokens",
		Long: "Tokenize TEXT (or standard input) with the vocabulary of a GGUF model (-m) or a tokenizer file\n" +
			"(--tokenizer: GGUF, tokenizer.json, or llama2.c tokenizer.bin) and print each token's id, piece and bytes.",
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			tk, err := loadTokenizerForCmd(cmd.Context(), modelPath, tokPath)
			if err != nil {
				return err
			}
			var text string
			if len(args) == 1 {
				text = args[0]
			} else {
				b, err := io.ReadAll(cmd.InOrStdin())
				if err != nil {
					return fmt.Errorf("reading standard input: %w", err)
				}
				text = string(b)
			}
			ids := tk.Encode(text, glassbox.EncodeOptions{
				AddBOS:       tk.AddBOSDefault() && !noBOS,
				AddEOS:       tk.AddEOSDefault() && !noBOS,
				ParseSpecial: special,
			})
			if jsonOutput {
				return writeTokensJSON(cmd.OutOrStdout(), tk, ids)
			}
			return writeTokensTable(cmd.OutOrStdout(), tk, ids)
		},
	}
	cmd.Flags().StringVarP(&modelPath, "model", "m", "", "model whose vocabulary to use: GGUF file, llama2.c .bin, embedded model name, store name or hf.co/OWNER/REPO[:QUANT] (default: the embedded model)")
	cmd.Flags().StringVar(&tokPath, "tokenizer", "", "tokenizer file: GGUF, tokenizer.json (or its folder), or llama2.c tokenizer.bin")
	cmd.Flags().BoolVar(&noBOS, "no-bos", false, "do not add the BOS/EOS tokens the vocabulary asks for")
	cmd.Flags().BoolVar(&special, "special", false, "parse special-token strings such as <s> in the text")
	cmd.Flags().BoolVar(&jsonOutput, "json", false, `print [{"id":…,"piece":"…","bytes":[…]},…]`)
	return cmd
}

// loadTokenizerForCmd resolves the -m / --tokenizer flags to a tokenizer: a
// tokenizer file, a model (its vocabulary only when it is a GGUF file), or
// the embedded model; at most one of the two may be given.
func loadTokenizerForCmd(ctx context.Context, modelPath, tokPath string) (*glassbox.Tokenizer, error) {
	switch {
	case modelPath != "" && tokPath != "":
		return nil, fmt.Errorf("give either -m MODEL or --tokenizer FILE, not both")
	case tokPath != "":
		return glassbox.LoadTokenizer(tokPath)
	}
	if e, ok := embeddedModel(modelPath); ok {
		// an embedded model's vocabulary (without -m, the default one's)
		return glassbox.ParseTokenizer("embedded model "+e.Name, e.Data)
	}
	path, err := resolveModel(ctx, modelPath)
	if err != nil {
		return nil, err
	}
	if ok, _ := gguf.IsFile(path); ok {
		return glassbox.LoadTokenizer(path) // its vocabulary, without the weights
	}
	// a llama2.c checkpoint: its tokenizer sits beside it
	m, err := glassbox.Open(path, nil)
	if err != nil {
		return nil, err
	}
	defer m.Close()
	return m.Tokenizer(), nil
}

type tokenJSON struct {
	ID    int    `json:"id"`
	Piece string `json:"piece"`
	Bytes []int  `json:"bytes"`
}

func writeTokensJSON(w io.Writer, tk *glassbox.Tokenizer, ids []int) error {
	out := make([]tokenJSON, len(ids))
	for i, id := range ids {
		b := tk.TokenBytes(id)
		out[i] = tokenJSON{ID: id, Piece: tk.Piece(id), Bytes: make([]int, len(b))}
		for j, c := range b {
			out[i].Bytes[j] = int(c)
		}
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(out)
}

func writeTokensTable(w io.Writer, tk *glassbox.Tokenizer, ids []int) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tPIECE\tBYTES")
	for _, id := range ids {
		b := tk.TokenBytes(id)
		hex := make([]string, len(b))
		for i, c := range b {
			hex[i] = fmt.Sprintf("%02x", c)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\n", id, strconv.Quote(tk.Piece(id)), strings.Join(hex, " "))
	}
	return tw.Flush()
}
