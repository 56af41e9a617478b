package choose

import (
	"cmp"
	"fmt"
	"math"
	"strconv"
	"strings"

	"glassbox"
	"glassbox/catalog"
)

// The memory model. A glassbox process running a model holds: the weights
// (the GGUF file, mapped: every page a generation reads becomes resident),
// the KV cache (F16 by default: 2 bytes per element, keys and values for
// every layer and position), and a fixed overhead: the Go runtime, the
// program and its buffers (RuntimeOverheadBytes) plus the tokenizer's tables,
// which grow with the vocabulary (VocabBytesPerToken each). Both constants
// come from the peak RSS of `glassbox run` on the test fixtures with their
// context filled: once the weights, the KV cache and the vocabulary term are
// taken away, 22.1 MiB remain for stories260K (512-token vocabulary) and
// 19.8 MiB for llama-2-tiny-random (32,000 tokens, whose tables take about
// 200 bytes per entry), and 22.2 to 23.7 MiB for the random-llama-d256 files
// (wider activation buffers; Q4_0, Q8_0, Q4_K and Q6_K rows are repacked at
// load); 22 MiB
// is in between (remeasured when the binary grew by gpt-oss, speculative
// decoding and batched prompts). The program's part grows with the binary (the pages of code
// and tables it touches): remeasure when a dependency is added. The
// activation buffers of a forward pass (batches of 64 tokens) are left in
// the overhead. TestRAMEstimateMeasured (cmd/glassbox) checks the estimate
// against measured peaks, tiny and 400M-parameter models alike.
const (
	// RuntimeOverheadBytes is the resident memory of the Go runtime and the
	// glassbox program itself.
	RuntimeOverheadBytes = 22 << 20
	// VocabBytesPerToken is the tokenizer's memory per vocabulary entry.
	VocabBytesPerToken = 200
	// KVBytesPerElement is the size of one KV cache element: F16, the
	// default cache type (--kv-f32 doubles it).
	KVBytesPerElement = 2
)

// Assumptions for models whose hyper-parameters the catalog does not give.
const (
	// AssumedKVBytesPerToken is the KV cache per position assumed when the
	// layers or heads are unknown: Llama 3.1 8B's (2 × 32 layers × 8 KV heads
	// × 128 × 2 bytes = 128 KiB), more than any smaller model of the catalog
	// needs.
	AssumedKVBytesPerToken = 2 * 32 * 8 * 128 * KVBytesPerElement
	// AssumedVocab is the vocabulary assumed when it is unknown: the largest
	// of the catalog (Gemma 3's 262,144).
	AssumedVocab = 262144
)

// Shape is what the memory and speed estimates need to know of a model. A
// zero field is unknown.
type Shape struct {
	// Params is the number of parameters.
	Params int64
	// WeightBytes is the size of the weights when known (a local file);
	// otherwise Params × the quantization's bits per weight is used.
	WeightBytes int64
	// Quant is the quantization: a llama.cpp file type (Q4_K_M) or GGML type.
	Quant string
	// Layers, KVHeads and HeadDim size the KV cache; Vocab the tokenizer.
	Layers, KVHeads, HeadDim, Vocab int
}

// RAM is an estimate of a model's peak resident memory, term by term, each
// term with how it was computed.
type RAM struct {
	// Weights is the weights' bytes, WeightsHow how they were counted.
	Weights    int64  `json:"weights_bytes"`
	WeightsHow string `json:"weights_how"`
	// KV is the KV cache's bytes for the context, KVHow the formula.
	KV    int64  `json:"kv_cache_bytes"`
	KVHow string `json:"kv_cache_how"`
	// Overhead is the runtime and tokenizer, OverheadHow the formula.
	Overhead    int64  `json:"overhead_bytes"`
	OverheadHow string `json:"overhead_how"`
	// Total is the estimate: Weights + KV + Overhead.
	Total int64 `json:"total_bytes"`
	// Assumed lists what was assumed for lack of a fact.
	Assumed []string `json:"assumed,omitempty"`
}

// Formula writes the estimate as one line: "RAM ≈ weights 770 MiB (…) + KV
// cache 128 MiB (…) + overhead 40 MiB (…) = 938 MiB".
func (r RAM) Formula() string {
	return fmt.Sprintf("weights %s (%s) + KV cache %s (%s) + overhead %s (%s) = %s",
		FormatBytes(r.Weights), r.WeightsHow, FormatBytes(r.KV), r.KVHow, FormatBytes(r.Overhead), r.OverheadHow, FormatBytes(r.Total))
}

// EstimateRAM estimates the peak resident memory of glassbox running a
// model of shape s with a context of ctx tokens (the whole context used):
// weights + KV cache (2 × layers × ctx × KV heads × head dim × 2 bytes) +
// overhead (RuntimeOverheadBytes + VocabBytesPerToken × vocabulary).
func EstimateRAM(s Shape, ctx int) (RAM, error) { return EstimateRAMKeys(s, ctx, "") }

// EstimateRAMKeys is EstimateRAM with the keys of the KV cache in type keys:
// "" or F16 (2 bytes an element), Q8_0 (34 bytes per block of 32) or Q4_0
// (18 bytes per block of 32); the values stay F16.
func EstimateRAMKeys(s Shape, ctx int, keys string) (RAM, error) {
	return EstimateRAMCache(s, ctx, keys, "")
}

// cacheBytes returns the bytes per element of a KV cache type as a fraction
// (F16: 2/1, Q8_0: 34/32, Q4_0: 18/32); what names the half for the error.
func cacheBytes(typ, what string) (num, den int64, err error) {
	switch strings.ToUpper(typ) {
	case "", "F16":
		return KVBytesPerElement, 1, nil
	case "Q8_0":
		return 34, 32, nil
	case "Q4_0":
		return 18, 32, nil
	}
	return 0, 0, fmt.Errorf("choose: %s cache type %q is not supported: want F16, Q8_0 or Q4_0", what, typ)
}

// EstimateRAMCache is EstimateRAM with the keys of the KV cache in type keys
// and the values in type values, each "" or F16, Q8_0 or Q4_0 (quantized
// values run with flash attention, glassbox's --cache-type-v).
func EstimateRAMCache(s Shape, ctx int, keys, values string) (RAM, error) {
	kNum, kDen, err := cacheBytes(keys, "key")
	if err != nil {
		return RAM{}, err
	}
	vNum, vDen, err := cacheBytes(values, "value")
	if err != nil {
		return RAM{}, err
	}
	if ctx < 1 {
		return RAM{}, fmt.Errorf("choose: the context must be at least 1 token, got %d", ctx)
	}
	var r RAM
	switch {
	case s.WeightBytes > 0:
		r.Weights = s.WeightBytes
		r.WeightsHow = "the file's size"
	case s.Params > 0:
		bits, base, err := glassbox.QuantBitsPerWeight(s.Quant)
		if err != nil {
			return RAM{}, err
		}
		r.Weights = int64(math.Ceil(float64(s.Params) * bits / 8))
		how := fmt.Sprintf("%s parameters × %.4g bits (%s", catalog.FormatCount(s.Params), bits, base)
		if !strings.EqualFold(s.Quant, base.String()) {
			how += fmt.Sprintf(", the base type of %s", strings.ToUpper(s.Quant))
		}
		r.WeightsHow = how + ") / 8"
	default:
		return RAM{}, fmt.Errorf("choose: neither the size of the weights nor the number of parameters is known")
	}
	switch {
	case s.Layers > 0 && s.KVHeads > 0 && s.HeadDim > 0 && kDen > 1 && vDen == 1:
		elems := int64(s.Layers) * int64(ctx) * int64(s.KVHeads) * int64(s.HeadDim)
		r.KV = elems*kNum/kDen + elems*KVBytesPerElement
		r.KVHow = fmt.Sprintf("%d layers × %d ctx × %d KV heads × %d head dim × (%d/%d bytes of %s keys + %d bytes of F16 values)",
			s.Layers, ctx, s.KVHeads, s.HeadDim, kNum, kDen, strings.ToUpper(keys), KVBytesPerElement)
	case s.Layers > 0 && s.KVHeads > 0 && s.HeadDim > 0 && vDen > 1:
		elems := int64(s.Layers) * int64(ctx) * int64(s.KVHeads) * int64(s.HeadDim)
		r.KV = elems*kNum/kDen + elems*vNum/vDen
		r.KVHow = fmt.Sprintf("%d layers × %d ctx × %d KV heads × %d head dim × (%d/%d bytes of %s keys + %d/%d bytes of %s values)",
			s.Layers, ctx, s.KVHeads, s.HeadDim, kNum, kDen, cmp.Or(strings.ToUpper(keys), "F16"), vNum, vDen, strings.ToUpper(values))
	case s.Layers > 0 && s.KVHeads > 0 && s.HeadDim > 0:
		r.KV = 2 * int64(s.Layers) * int64(ctx) * int64(s.KVHeads) * int64(s.HeadDim) * KVBytesPerElement
		r.KVHow = fmt.Sprintf("2 × %d layers × %d ctx × %d KV heads × %d head dim × %d bytes", s.Layers, ctx, s.KVHeads, s.HeadDim, KVBytesPerElement)
	default:
		// the assumed F16 cache, each half scaled by its type's bytes
		perToken := AssumedKVBytesPerToken*kNum/(2*kDen*KVBytesPerElement) + AssumedKVBytesPerToken*vNum/(2*vDen*KVBytesPerElement)
		r.KV = int64(ctx) * perToken
		r.KVHow = fmt.Sprintf("%d ctx × %s per token", ctx, FormatBytes(perToken))
		r.Assumed = append(r.Assumed, fmt.Sprintf("layers/KV heads unknown: KV cache of %s per token assumed (Llama 3.1 8B's)", FormatBytes(AssumedKVBytesPerToken)))
	}
	vocab := s.Vocab
	if vocab <= 0 {
		vocab = AssumedVocab
		r.Assumed = append(r.Assumed, fmt.Sprintf("vocabulary unknown: %d entries assumed", AssumedVocab))
	}
	r.Overhead = RuntimeOverheadBytes + int64(vocab)*VocabBytesPerToken
	r.OverheadHow = fmt.Sprintf("%s runtime + %d B × %d vocabulary", FormatBytes(RuntimeOverheadBytes), VocabBytesPerToken, vocab)
	r.Total = r.Weights + r.KV + r.Overhead
	return r, nil
}

// Speed is an estimate (or a measurement) of generation speed.
type Speed struct {
	// TPS is the generation speed in tokens per second.
	TPS float64 `json:"tokens_per_s"`
	// Measured is true for a speed glassbox bench measured on this machine.
	Measured bool `json:"measured"`
	// How says how the figure was obtained.
	How string `json:"how"`
}

// Machine is what this machine measured, for the speed estimates.
type Machine struct {
	// Bandwidth is the memory read bandwidth in bytes per second
	// (bench.MemoryBandwidth).
	Bandwidth float64 `json:"bandwidth_bytes_per_s"`
	// Throughput returns the bytes of weights per second the engine's
	// matrix-vector product processes for a quantization
	// (bench.MatVecThroughput); nil or an error leaves the bandwidth alone.
	Throughput func(quant string) (float64, error) `json:"-"`
	// Calibration multiplies the estimates: the median ratio of measured to
	// estimated generation speed over this machine's bench records (0 or 1:
	// none), CalibrationRuns how many records it comes from.
	Calibration     float64 `json:"calibration,omitempty"`
	CalibrationRuns int     `json:"calibration_runs,omitempty"`
}

// rate returns the bytes of weights per second this machine processes for
// quant, and how it was measured: the matrix-vector throughput when it was
// measured (it streams a matrix far larger than the caches, so it already
// includes the memory's limit), else the memory bandwidth.
func (m *Machine) rate(quant string) (float64, string) {
	if m.Throughput != nil && quant != "" {
		if t, err := m.Throughput(quant); err == nil && t > 0 {
			_, base, _ := glassbox.QuantBitsPerWeight(quant)
			return t, fmt.Sprintf("%s matrix-vector product %s/s", base, FormatBytes(int64(t)))
		}
	}
	return m.Bandwidth, fmt.Sprintf("memory bandwidth %s/s", FormatBytes(int64(m.Bandwidth)))
}

// EstimateSpeed estimates the generation speed of a model whose weights take
// weightBytes in quantization quant: generating a token reads every weight
// once, so tg ≈ the machine's rate for those weights ÷ weightBytes (an upper
// bound: attention, norms and sampling add to the time), times the
// calibration from this machine's bench records when there are some.
func (m *Machine) EstimateSpeed(weightBytes int64, quant string) Speed {
	rate, how := m.rate(quant)
	if weightBytes <= 0 || rate <= 0 {
		return Speed{How: "unknown: no bandwidth measured"}
	}
	tps := rate / float64(weightBytes)
	how = fmt.Sprintf("estimate: %s ÷ %s of weights", how, FormatBytes(weightBytes))
	if m.Calibration > 0 && m.Calibration != 1 {
		tps *= m.Calibration
		how += fmt.Sprintf(" × %.2f (measured/estimated over %d bench runs here)", m.Calibration, m.CalibrationRuns)
	}
	if weightBytes < MinCalibrationBytes {
		how += "; the weights fit in the CPU caches, so per-token work, not memory, bounds the speed: glassbox bench measures it"
	}
	return Speed{TPS: tps, How: how}
}

// FormatBytes writes a byte count in binary units: "812 MiB", "4.6 GiB".
func FormatBytes(n int64) string {
	f := float64(n)
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", f/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", f/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", f/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// ParseBytes parses a memory size: a number with an optional unit, K, M, G
// or T (powers of 1024, as RAM is sold: 8G is 8 GiB), with or without "iB"
// or "B": "8G", "512MiB", "1.5GB", "1073741824".
func ParseBytes(s string) (int64, error) {
	t := strings.TrimSpace(s)
	u := strings.ToUpper(t)
	mult := 1.0
	for _, unit := range []struct {
		suffix string
		mult   float64
	}{{"TIB", 1 << 40}, {"GIB", 1 << 30}, {"MIB", 1 << 20}, {"KIB", 1 << 10}, {"TB", 1 << 40}, {"GB", 1 << 30}, {"MB", 1 << 20}, {"KB", 1 << 10},
		{"T", 1 << 40}, {"G", 1 << 30}, {"M", 1 << 20}, {"K", 1 << 10}, {"B", 1}} {
		if strings.HasSuffix(u, unit.suffix) {
			mult, t = unit.mult, strings.TrimSpace(t[:len(t)-len(unit.suffix)])
			break
		}
	}
	if !isNumber(t) {
		return 0, fmt.Errorf("%q is not a memory size such as 8G, 512M or 1.5GiB", s)
	}
	v, err := strconv.ParseFloat(t, 64)
	if err != nil || v <= 0 || v*mult > 1<<62 {
		return 0, fmt.Errorf("%q is not a memory size such as 8G, 512M or 1.5GiB", s)
	}
	return int64(v * mult), nil
}

// isNumber reports whether s is a plain decimal number: digits, at most one
// point.
func isNumber(s string) bool {
	digits, dot := 0, false
	for _, c := range s {
		switch {
		case c >= '0' && c <= '9':
			digits++
		case c == '.' && !dot:
			dot = true
		default:
			return false
		}
	}
	return digits > 0
}
