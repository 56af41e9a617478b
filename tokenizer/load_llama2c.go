package tokenizer

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"
)

// LoadLlama2C reads a llama2.c tokenizer.bin: an int32 max_token_length, then per
// token a float32 score, an int32 byte length and the bytes. vocabSize <= 0 reads
// tokens until the end of the file. Ids 0, 1, 2 are <unk>, <s>, </s>; the pieces
// keep llama2.c's form (a space, not '▁'), and encoding behaves like run.c's
// encode, which adds a dummy space prefix.
func LoadLlama2C(path string, vocabSize int) (*Tokenizer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	t, err := ParseLlama2C(data, vocabSize)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %s: %w", path, err)
	}
	return t, nil
}

// ParseLlama2C parses the bytes of a llama2.c tokenizer.bin (see LoadLlama2C).
func ParseLlama2C(data []byte, vocabSize int) (*Tokenizer, error) {
	if len(data) < 4 {
		return nil, fmt.Errorf("llama2.c tokenizer: file is %d bytes, expected at least the 4-byte max_token_length header", len(data))
	}
	maxLen := int32(binary.LittleEndian.Uint32(data))
	if maxLen <= 0 || maxLen > 1<<16 {
		return nil, fmt.Errorf("llama2.c tokenizer: max_token_length %d is not a plausible token length (expected 1..65536)", maxLen)
	}
	t := newTokenizer(ModelSPM)
	t.spaceSym = " "
	t.runC = true
	t.addSpacePrefix, t.addBOS = true, true
	t.unk, t.bos, t.eos = 0, 1, 2
	off := 4
	for i := 0; vocabSize <= 0 || i < vocabSize; i++ {
		if vocabSize <= 0 && off == len(data) {
			break
		}
		if len(data)-off < 8 {
			return nil, fmt.Errorf("llama2.c tokenizer: token %d at byte %d: file ends inside the score/length header (%d bytes left, expected 8)", i, off, len(data)-off)
		}
		score := math.Float32frombits(binary.LittleEndian.Uint32(data[off:]))
		n := int32(binary.LittleEndian.Uint32(data[off+4:]))
		off += 8
		if n < 0 || n > maxLen {
			return nil, fmt.Errorf("llama2.c tokenizer: token %d at byte %d: length %d outside 0..max_token_length %d", i, off-4, n, maxLen)
		}
		if len(data)-off < int(n) {
			return nil, fmt.Errorf("llama2.c tokenizer: token %d at byte %d: %d bytes announced, only %d left", i, off, n, len(data)-off)
		}
		t.pieces = append(t.pieces, string(data[off:off+int(n)]))
		t.scores = append(t.scores, score)
		off += int(n)
	}
	if len(t.pieces) < 3 {
		return nil, fmt.Errorf("llama2.c tokenizer: %d tokens, expected at least <unk>, <s>, </s>", len(t.pieces))
	}
	t.types = make([]TokenType, len(t.pieces))
	for id, p := range t.pieces {
		switch {
		case id == 0:
			t.types[id] = TypeUnknown
		case id == 1 || id == 2:
			t.types[id] = TypeControl
		case id >= 3 && id < 3+256:
			if b, ok := parseByteToken(p); ok && int(b) == id-3 {
				t.types[id] = TypeByte
			} else {
				t.types[id] = TypeNormal
			}
		default:
			t.types[id] = TypeNormal
		}
	}
	if err := t.finish(); err != nil {
		return nil, err
	}
	return t, nil
}
