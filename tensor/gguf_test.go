package tensor

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"testing"

	"glassbox/internal/fixtures"
)

// ggufTensor is one entry of a GGUF tensor directory.
type ggufTensor struct {
	name string
	dims []uint64
	typ  Type
	data []byte
}

// readGGUFTensors is a minimal GGUF (v2/v3) reader for these tests only: it
// skips the metadata (keeping general.alignment) and slices each tensor's data.
func readGGUFTensors(path string) (map[string]ggufTensor, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	off := 0
	need := func(n int) error {
		if n < 0 || off+n > len(b) {
			return fmt.Errorf("%s: truncated at byte %d", path, off)
		}
		return nil
	}
	u32 := func() (uint32, error) {
		if err := need(4); err != nil {
			return 0, err
		}
		off += 4
		return binary.LittleEndian.Uint32(b[off-4:]), nil
	}
	u64 := func() (uint64, error) {
		if err := need(8); err != nil {
			return 0, err
		}
		off += 8
		return binary.LittleEndian.Uint64(b[off-8:]), nil
	}
	str := func() (string, error) {
		n, err := u64()
		if err != nil || n > uint64(len(b)) {
			return "", fmt.Errorf("%s: bad string at %d", path, off)
		}
		if err := need(int(n)); err != nil {
			return "", err
		}
		off += int(n)
		return string(b[off-int(n) : off]), nil
	}
	sizes := map[uint32]int{0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
	var skip func(vt uint32) error
	skip = func(vt uint32) error {
		switch vt {
		case 8:
			_, err := str()
			return err
		case 9:
			et, err := u32()
			if err != nil {
				return err
			}
			n, err := u64()
			if err != nil {
				return err
			}
			for i := uint64(0); i < n; i++ {
				if err := skip(et); err != nil {
					return err
				}
			}
			return nil
		}
		s, ok := sizes[vt]
		if !ok {
			return fmt.Errorf("%s: unknown value type %d", path, vt)
		}
		if err := need(s); err != nil {
			return err
		}
		off += s
		return nil
	}
	if magic, _ := u32(); magic != 0x46554747 {
		return nil, fmt.Errorf("%s: not GGUF", path)
	}
	if v, _ := u32(); v < 2 {
		return nil, fmt.Errorf("%s: GGUF version %d", path, v)
	}
	nt, _ := u64()
	nkv, err := u64()
	if err != nil {
		return nil, err
	}
	align := uint64(32)
	for i := uint64(0); i < nkv; i++ {
		key, err := str()
		if err != nil {
			return nil, err
		}
		vt, err := u32()
		if err != nil {
			return nil, err
		}
		if key == "general.alignment" && vt == 4 {
			a, _ := u32()
			align = uint64(a)
			continue
		}
		if err := skip(vt); err != nil {
			return nil, err
		}
	}
	type info struct {
		t      ggufTensor
		offset uint64
	}
	var infos []info
	for i := uint64(0); i < nt; i++ {
		name, err := str()
		if err != nil {
			return nil, err
		}
		nd, _ := u32()
		var in info
		in.t.name = name
		for d := uint32(0); d < nd; d++ {
			v, _ := u64()
			in.t.dims = append(in.t.dims, v)
		}
		ty, _ := u32()
		in.t.typ = Type(ty)
		in.offset, err = u64()
		if err != nil {
			return nil, err
		}
		infos = append(infos, in)
	}
	base := (uint64(off) + align - 1) / align * align
	out := map[string]ggufTensor{}
	for _, in := range infos {
		n := uint64(1)
		for _, d := range in.t.dims {
			n *= d
		}
		size, err := in.t.typ.RowBytes(int(n))
		if err != nil {
			return nil, fmt.Errorf("%s: tensor %s: %w", path, in.t.name, err)
		}
		start := base + in.offset
		if start+uint64(size) > uint64(len(b)) {
			return nil, fmt.Errorf("%s: tensor %s past end of file", path, in.t.name)
		}
		in.t.data = b[start : start+uint64(size)]
		out[in.t.name] = in.t
	}
	return out, nil
}

func (g ggufTensor) elements() int {
	n := 1
	for _, d := range g.dims {
		n *= int(d)
	}
	return n
}

// TestRealTensors dequantizes every tensor of the fixture models (real
// llama.cpp-quantized blocks of every K-quant type, Q8_0, Q4_0, Q5_0 and F16),
// compares Dequantize with the slow decoder, checks that the values match
// the same weights stored as F16 (every file was quantized from the same F32
// weights) within the quantization error, and that MatVec on the 2-D
// tensors equals a naive dequantize-and-dot.
func TestRealTensors(t *testing.T) {
	seen := map[Type]int{}
	files := []struct{ ref, file string }{
		{"random-llama-d256-F16", "random-llama-d256-Q8_0"},
		{"random-llama-d256-F16", "random-llama-d256-Q4_0"},
		{"random-llama-d256-F16", "random-llama-d256-Q4_K_M"},
		{"random-llama-d256-F16", "random-llama-d256-Q5_K_M"},
		{"random-llama-d256-F16", "random-llama-d256-Q6_K"},
		{"random-llama-d256-F16", "random-llama-d256-Q2_K"},
		{"stories260K-h192-f32", "stories260K-h192-Q4_K_M"},
		{"stories260K-h192-f32", "stories260K-h192-F16"},
	}
	for _, f := range files {
		file := f.file
		ref, err := readGGUFTensors(fixtures.Path(t, "gguf", f.ref+".gguf"))
		if err != nil {
			t.Fatal(err)
		}
		tensors, err := readGGUFTensors(fixtures.Path(t, "gguf", file+".gguf"))
		if err != nil {
			t.Fatal(err)
		}
		for name, tn := range tensors {
			if !Supported(tn.typ) {
				t.Fatalf("%s %s: type %s not supported", file, name, tn.typ)
			}
			seen[tn.typ]++
			n := tn.elements()
			got := make([]float32, n)
			if err := Dequantize(tn.typ, tn.data, got); err != nil {
				t.Fatalf("%s %s: %v", file, name, err)
			}
			if tn.typ != F32 {
				want := slowDequantize(tn.typ, tn.data, n)
				for i := range got {
					if !sameFloat(got[i], want[i]) {
						t.Fatalf("%s %s (%s) element %d: %g, slow decoder %g", file, name, tn.typ, i, got[i], want[i])
					}
				}
			}
			r, ok := ref[name]
			if !ok || r.elements() != n {
				t.Fatalf("%s: %s missing from the F16 reference", file, name)
			}
			orig := make([]float32, n)
			if err := Dequantize(r.typ, r.data, orig); err != nil {
				t.Fatal(err)
			}
			var errSq, sq float64
			for i := range got {
				if math.IsNaN(float64(got[i])) || math.IsInf(float64(got[i]), 0) {
					t.Fatalf("%s %s element %d is %g", file, name, i, got[i])
				}
				d := float64(got[i] - orig[i])
				errSq += d * d
				sq += float64(orig[i]) * float64(orig[i])
			}
			rel := math.Sqrt(errSq / sq)
			// Relative RMS quantization error of Gaussian weights per type.
			limit := map[Type]float64{F32: 1e-3, F16: 1e-3, Q8_0: 0.01, Q6_K: 0.03, Q5_0: 0.05, Q5_K: 0.05,
				Q4_0: 0.12, Q4_K: 0.1, Q3_K: 0.25, Q2_K: 0.45}[tn.typ]
			if rel > limit {
				t.Errorf("%s %s (%s): relative RMS error %.4f vs F16 weights > %.3f", file, name, tn.typ, rel, limit)
			}
			if len(tn.dims) == 2 && tn.typ != F32 {
				cols, rows := int(tn.dims[0]), int(tn.dims[1])
				m, err := NewMatrix(tn.typ, rows, cols, tn.data)
				if err != nil {
					t.Fatal(err)
				}
				x := make([]float32, cols)
				for i := range x {
					x[i] = float32(math.Sin(float64(i) * 0.37))
				}
				dst := make([]float32, rows)
				MatVec(dst, m, x)
				naive := naiveMatVec(t, m, x)
				for r := range dst {
					if math.Abs(float64(dst[r])-naive[r]) > 1e-4*(1+math.Abs(naive[r])) {
						t.Fatalf("%s %s row %d: MatVec %g, naive %g", file, name, r, dst[r], naive[r])
					}
				}
			}
		}
	}
	for _, typ := range []Type{F16, Q5_0, Q8_0, Q4_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K} {
		if seen[typ] == 0 {
			t.Errorf("no %s tensor found in the fixtures", typ)
		}
	}
	t.Logf("tensors checked per type: %v", seen)
}
