package model_test

import (
	"bufio"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"glassbox/gguf"
	"glassbox/internal/synth"
	"glassbox/model"
	"glassbox/tensor"
)

// mappedRSS returns the resident bytes of this process's mappings of path
// (/proc/self/smaps).
func mappedRSS(t *testing.T, path string) int64 {
	t.Helper()
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Skipf("no /proc/self/smaps: %v", err)
	}
	defer f.Close()
	var rss int64
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) == 0 {
			continue
		}
		if strings.Contains(fs[0], "-") && !strings.HasSuffix(fs[0], ":") {
			in = fs[len(fs)-1] == path
			continue
		}
		if in && fs[0] == "Rss:" && len(fs) >= 2 {
			kb, _ := strconv.ParseInt(fs[1], 10, 64)
			rss += kb << 10
		}
	}
	return rss
}

// TestEmbeddingLookupsStayOutOfMemory checks that embedding lookups do not
// make the token embedding table of a mapped file resident: each page fault
// maps 64 KiB to 2 MiB around the row (the file is in the page cache, just
// written), so without ReleaseRows 400 random lookups leave most of an
// 8.7 MB Q8_0 table in the process's memory.
func TestEmbeddingLookupsStayOutOfMemory(t *testing.T) {
	sh := synth.Shape{Dim: 256, Hidden: 256, Layers: 1, Heads: 4, KVHeads: 2, Vocab: 32000, Context: 256}
	path := filepath.Join(t.TempDir(), "wide-vocab.gguf")
	out, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := synth.Write(out, sh, tensor.Q8_0, 7); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	f, err := gguf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, err := model.LoadGGUF(f)
	if err != nil {
		t.Fatal(err)
	}
	// the reference: the same file read into memory
	whole, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	rf, err := gguf.Parse(whole)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := model.LoadGGUF(rf)
	if err != nil {
		t.Fatal(err)
	}
	table := int64(len(m.TokenEmbedding.Data))
	before := mappedRSS(t, path)
	rng := rand.New(rand.NewPCG(1, 2))
	dst, want := make([]float32, sh.Dim), make([]float32, sh.Dim)
	for range 400 {
		id := rng.IntN(sh.Vocab)
		m.EmbeddingRow(id, dst)
		ref.EmbeddingRow(id, want)
		for i := range dst {
			if dst[i] != want[i] {
				t.Fatalf("token %d, element %d: lookup %v, row %v", id, i, dst[i], want[i])
			}
		}
	}
	after := mappedRSS(t, path)
	t.Logf("table %d KiB; file resident %d KiB before the lookups, %d KiB after", table>>10, before>>10, after>>10)
	if after-before > table/8 {
		t.Errorf("400 lookups left %d KiB of the %d KiB table resident, want at most an eighth", (after-before)>>10, table>>10)
	}
}
