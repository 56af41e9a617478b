package glassbox

import (
	"fmt"

	"glassbox/gguf"
	"glassbox/tokenizer"
)

// LoadTokenizer loads a vocabulary without a model: from a GGUF file (its
// tokenizer only, the weights are not loaded), a Hugging Face tokenizer.json
// (with the tokenizer_config.json beside it when present), a llama2.c
// tokenizer.bin, or a directory holding tokenizer.json or encoder.json +
// vocab.bpe. The format is told from the file's contents, not its name.
func LoadTokenizer(path string) (*Tokenizer, error) { return tokenizer.LoadFile(path) }

// ParseTokenizer reads the vocabulary of a GGUF file held in memory (such
// as a model embedded in the binary), without loading its weights.
func ParseTokenizer(name string, data []byte) (*Tokenizer, error) {
	f, err := gguf.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", name, err)
	}
	defer f.Close()
	return tokenizer.FromGGUF(f)
}
