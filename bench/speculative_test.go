package bench

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"glassbox"
)

// TestRunSpeculative measures prompt lookup on the embedded model: a plain
// and a speculative row per thread count, the speculative one counting its
// drafts and its speed-up, the summary line under the table, and a CPU
// profile of the runs.
func TestRunSpeculative(t *testing.T) {
	m := openEmbedded(t)
	prompt := "func add(a, b int) int {\n\treturn a + b\n}\n\nfunc add(a, b int) int {\n"
	var profile bytes.Buffer
	rs, err := RunSpeculative(context.Background(), m, SpecOptions{Prompt: prompt, Gen: 24, Threads: []int{1}, Repetitions: 1,
		Spec: &glassbox.Speculative{Lookup: true}, CPUProfile: &profile})
	if err != nil {
		t.Fatal(err)
	}
	if profile.Len() == 0 {
		t.Error("no CPU profile written")
	}
	if len(rs) != 2 || rs[0].Test != "tg24" || rs[1].Test != "tg24+lookup" {
		t.Fatalf("rows %+v", rs)
	}
	sp := rs[1]
	if sp.Drafted == 0 || sp.Rounds == 0 || sp.Accepted > sp.Drafted || sp.SpeedUp <= 0 || rs[0].TokensPerS <= 0 {
		t.Errorf("speculative row %+v", sp)
	}
	var b bytes.Buffer
	if err := WriteTable(&b, rs); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "tg24+lookup, 1 threads, prompt lookup:") {
		t.Errorf("table:\n%s", b.String())
	}
	if _, err := RunSpeculative(context.Background(), m, SpecOptions{Prompt: prompt, Gen: 4, Repetitions: 1}); err == nil {
		t.Error("no drafter: no error")
	}
}
