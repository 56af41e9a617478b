package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"glassbox"
	"glassbox/eval"
	"glassbox/internal/fixtures"
	"glassbox/models"
)

// cutSuffix is a held-out prompt (docs/alignment.md, "What run D changed")
// on which the aligned embedded model writes other text than the default one.
const cutSuffix = "func CutSuffix(s, suffix []byte) (before []byte, found bool) {\n\tif !HasSuffix(s, suffix) {\n\t\treturn s, false\n"

// greedyText is what an embedded model writes greedily after prompt,
// through the SDK.
func greedyText(t *testing.T, e models.Model, prompt string, n int) string {
	t.Helper()
	m, err := glassbox.OpenBytes(e.File, e.Data, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	res, err := m.Generate(context.Background(), prompt, glassbox.GenerateOptions{MaxTokens: n})
	if err != nil {
		t.Fatal(err)
	}
	return res.Text
}

// TestEmbeddedModelNames: -m accepts the embedded models' names (short,
// served, file; any case) in run, tokenize, show, eval records and diff,
// and a file of that name wins over the embedded model.
func TestEmbeddedModelNames(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	t.Setenv("GLASSBOX_HOME", t.TempDir())
	def, _ := models.Lookup("glassbox-go-1m")
	grpo, _ := models.Lookup("glassbox-go-1m-grpo")
	want := map[string]string{def.Name: greedyText(t, def, cutSuffix, 8), grpo.Name: greedyText(t, grpo, cutSuffix, 8)}
	if want[def.Name] == want[grpo.Name] {
		t.Fatalf("both embedded models write %q: the prompt tells nothing", want[def.Name])
	}
	for _, tc := range []struct {
		name string // -m; "" for none
		want models.Model
	}{
		{"", def},
		{"glassbox-go-1m", def},
		{"glassbox-go-1m.f32.gguf", def},
		{"glassbox-go-1m-grpo", grpo},
		{"glassbox-go-1m-grpo.f32", grpo},
		{"GLASSBOX-GO-1M-GRPO.f32.gguf", grpo},
	} {
		t.Run("m="+tc.name, func(t *testing.T) {
			args := []string{"--temperature", "0", "-n", "8", cutSuffix}
			if tc.name != "" {
				args = append([]string{"-m", tc.name}, args...)
			}
			out, _, err := execute(t, newRunCmd(), "", args...)
			if err != nil {
				t.Fatal(err)
			}
			// run ends the text with a newline when it has none
			if strings.TrimSuffix(out, "\n") != strings.TrimSuffix(want[tc.want.Name], "\n") {
				t.Errorf("run: %q, want %s's %q", out, tc.want.Name, want[tc.want.Name])
			}
			if out, _, err = execute(t, newTokenizeCmd(), "", "-m", tc.name, "func"); err != nil || strings.TrimSpace(out) == "" {
				t.Errorf("tokenize: %q, %v", out, err)
			}
			out, _, err = execute(t, newShowCmd(), "", "--json", tc.name)
			var sj showJSON
			if err != nil || json.Unmarshal([]byte(out), &sj) != nil {
				t.Fatalf("show: %q, %v", out, err)
			}
			if sj.Name != tc.want.File || sj.ModelName != tc.want.Name || sj.Size != int64(len(tc.want.Data)) || filepath.Base(sj.Path) != tc.want.SHA256+".gguf" {
				t.Errorf("show: %+v", sj)
			}
			mf := modelFlags{model: tc.name}
			m, err := mf.open(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			rec, err := newRecord(eval.KindBench, &mf, m)
			if err != nil || rec.Model.Name != tc.want.File || rec.Model.SHA256 != tc.want.SHA256 || rec.Model.Size != int64(len(tc.want.Data)) {
				t.Errorf("record: %+v, %v", rec.Model, err)
			}
			if sum, err := modelSHA256(m, tc.name); err != nil || sum != tc.want.SHA256 {
				t.Errorf("modelSHA256 = %s, %v", sum, err)
			}
		})
	}

	// a file named like an embedded model is that file
	dir := t.TempDir()
	data, err := os.ReadFile(fixtures.Path(t, "gguf", "stories260K-f32.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "glassbox-go-1m-grpo"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	out, _, err := execute(t, newShowCmd(), "", "--json", "glassbox-go-1m-grpo")
	var sj showJSON
	if err != nil || json.Unmarshal([]byte(out), &sj) != nil || sj.Path != "glassbox-go-1m-grpo" || sj.Size != int64(len(data)) {
		t.Errorf("show of a file named like an embedded model: %q, %v", out, err)
	}
	if _, _, err := execute(t, newRunCmd(), "", "-m", "glassbox-go-1m", "--temperature", "0", "-n", "2", "x"); err != nil {
		t.Errorf("the other embedded model: %v", err)
	}
}

// TestDiffEmbedded: glassbox diff -m glassbox-go-1m-grpo compares the
// aligned embedded model with the default one, and finds the shift of
// docs/alignment.md (a bare return after a function with named results).
func TestDiffEmbedded(t *testing.T) {
	out, _, err := execute(t, newDiffCmd(), "", "-m", "glassbox-go-1m-grpo", "-n", "8", "--json", cutSuffix)
	if err != nil {
		t.Fatal(err)
	}
	var d eval.DiffResult
	if err := json.Unmarshal([]byte(out), &d); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	grpo, _ := models.Lookup("glassbox-go-1m-grpo")
	if d.Base != "glassbox-go-1m.f32" || d.Tuned != "glassbox-go-1m-grpo.f32" || len(d.Tokens) != 8 || d.MeanKL <= 0 || d.ArgmaxDiffers == 0 {
		t.Errorf("diff: base %s, tuned %s, %d tokens, mean KL %g, argmax differs at %d", d.Base, d.Tuned, len(d.Tokens), d.MeanKL, d.ArgmaxDiffers)
	}
	if want := greedyText(t, grpo, cutSuffix, 8); d.Text != want {
		t.Errorf("diff text %q, want the aligned model's %q", d.Text, want)
	}
	// the same with both named
	out2, _, err := execute(t, newDiffCmd(), "", "-m", "glassbox-go-1m", "-m", "glassbox-go-1m-grpo", "-n", "8", "--json", cutSuffix)
	if err != nil || out2 != out {
		t.Errorf("diff -m glassbox-go-1m -m glassbox-go-1m-grpo differs from the single -m (%v)", err)
	}
}
