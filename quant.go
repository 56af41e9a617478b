package glassbox

import (
	"fmt"
	"slices"
	"strings"

	"glassbox/model"
	"glassbox/tensor"
)

// Architectures returns the GGUF architectures (general.architecture) the
// engine runs.
func Architectures() []string { return slices.Clone(model.Architectures) }

// QuantBitsPerWeight returns the bits one weight takes in a quantization,
// from the GGML type table: a tensor type ("Q4_K", "Q8_0", "F16") or a
// llama.cpp file type naming a mixture ("Q4_K_M", "Q5_K_S", "Q3_K_L"), which
// is read as its base type (Q4_K for Q4_K_M; the _S/_M/_L mixtures keep a
// few tensors at a larger type, so a file is a few percent larger than
// bits × parameters). base is the type the bits are those of.
func QuantBitsPerWeight(quant string) (bits float64, base TensorType, err error) {
	name := strings.ToUpper(strings.TrimSpace(quant))
	t, perr := tensor.ParseType(name)
	if perr != nil {
		for _, suffix := range []string{"_XL", "_S", "_M", "_L"} {
			if b, ok := strings.CutSuffix(name, suffix); ok {
				if t, perr = tensor.ParseType(b); perr == nil {
					break
				}
			}
		}
	}
	if perr != nil || t.BlockSize() == 0 {
		return 0, 0, fmt.Errorf("unknown quantization %q: want a GGML type or llama.cpp file type such as Q4_K_M, Q8_0 or F16", quant)
	}
	return float64(t.TypeSize()) * 8 / float64(t.BlockSize()), t, nil
}
