package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"glassbox/gguf"
	"glassbox/internal/fixtures"
	"glassbox/model"
)

// storiesSFT writes n prompt/completion records in the style of the
// stories260K adapter's data (model/testdata/lora/README.md).
func storiesSFT(t *testing.T, n int) string {
	t.Helper()
	names := []string{"Lily", "Tom", "Sue", "Ben", "Max"}
	animals := []string{"cat", "dog", "bird", "frog"}
	var b strings.Builder
	for i := 0; i < n; i++ {
		nm, a := names[i%len(names)], animals[(i/len(names))%len(animals)]
		line, _ := json.Marshal(map[string]string{
			"prompt":     fmt.Sprintf("Once upon a time, there was a %s named %s.", a, nm),
			"completion": fmt.Sprintf(" %s the %s liked to sing songs all day.", nm, a),
		})
		b.Write(append(line, '\n'))
	}
	p := filepath.Join(t.TempDir(), "stories.jsonl")
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestTrainSFTLoRACommand trains LoRA adapters on a fixture through the
// CLI: the adapter file in llama.cpp's format with the targets asked for, the
// LoRA settings in config.json, a resume of the finished run that changes
// nothing, and a merged F16 model when --export asks for one.
func TestTrainSFTLoRACommand(t *testing.T) {
	base := fixtures.Path(t, "gguf", "stories260K-h192-Q8_0.gguf")
	data := storiesSFT(t, 40)
	dir := t.TempDir()
	args := []string{"sft", "-m", base, "--data", data, "--out", dir, "--steps", "4", "--batch", "4", "--lr", "3e-3",
		"--lora-rank", "2", "--lora-targets", "q_proj,v_proj,down_proj", "-q", "--name", "st", "--threads", "1"}
	out, err := runTrainCLI(t, args...)
	if err != nil {
		t.Fatal(err)
	}
	adapter := filepath.Join(dir, "st.lora.gguf")
	if !strings.Contains(out, adapter) {
		t.Errorf("summary does not name the adapter:\n%s", out)
	}
	f, err := gguf.Open(adapter)
	if err != nil {
		t.Fatal(err)
	}
	ad, err := model.ReadLoRA(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	if ad.Alpha != 4 || ad.Arch != "llama" || ad.Name != "st" || len(ad.Weights) != 3*5 {
		t.Fatalf("adapter alpha %g arch %s name %q with %d weights", ad.Alpha, ad.Arch, ad.Name, len(ad.Weights))
	}
	for _, n := range ad.Names() {
		if !strings.HasSuffix(n, ".attn_q.weight") && !strings.HasSuffix(n, ".attn_v.weight") && !strings.HasSuffix(n, ".ffn_down.weight") {
			t.Errorf("unexpected adapted weight %s", n)
		}
	}
	cfg, _ := os.ReadFile(filepath.Join(dir, "config.json"))
	if !strings.Contains(string(cfg), `"lora": {`) || !strings.Contains(string(cfg), `"ffn_down"`) {
		t.Errorf("config.json lacks the LoRA settings:\n%s", cfg)
	}
	first, _ := os.ReadFile(adapter)
	if _, err := runTrainCLI(t, append(args, "--resume")...); err != nil {
		t.Fatal(err)
	}
	if again, _ := os.ReadFile(adapter); string(again) != string(first) {
		t.Error("resuming a finished run changed the adapter")
	}
	// another rank refuses the checkpoint
	bad := append([]string(nil), args...)
	for i := range bad {
		if bad[i] == "--lora-rank" {
			bad[i+1] = "4"
		}
	}
	if _, err := runTrainCLI(t, append(bad, "--resume")...); err == nil || !strings.Contains(err.Error(), "different settings") {
		t.Errorf("a checkpoint of rank 2 resumed at rank 4: %v", err)
	}
	if _, err := runTrainCLI(t, append(args[:len(args):len(args)], "--out", t.TempDir(), "--export", "f16")...); err != nil {
		t.Fatal(err)
	}
}

func TestTrainLoRAErrors(t *testing.T) {
	base := fixtures.Path(t, "gguf", "stories260K-f32.gguf")
	data := storiesSFT(t, 10)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--lora-targets", "attn_q,wq"}, `unknown LoRA target "wq"`},
		{[]string{"--lora-alpha", "-1"}, "alpha must be positive"},
		{[]string{"--export", "q8_0"}, "a LoRA run exports the adapter"},
	} {
		args := append([]string{"sft", "-m", base, "--data", data, "--out", t.TempDir(), "--steps", "1", "--lora-rank", "2", "-q"}, c.args...)
		if _, err := runTrainCLI(t, args...); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want %q", c.args, err, c.want)
		}
	}
	if _, err := runTrainCLI(t, "reward", "-m", base, "--data", data, "--lora-rank", "2"); err == nil || !strings.Contains(err.Error(), "unknown flag: --lora-rank") {
		t.Errorf("reward --lora-rank: %v", err)
	}
}

// TestRunLoRA runs the fixture with the committed adapter (checked against
// llama.cpp in model/lora_llamacpp_test.go): greedy text that follows the
// adapter's training data, --lora-scaled 0.5 in between, the merged model
// (export --merge-lora) giving the same text as base + adapter, and errors
// for bad adapter arguments.
func TestRunLoRA(t *testing.T) {
	base := fixtures.Path(t, "gguf", "stories260K-f32.gguf")
	adapter := filepath.Join("..", "..", "model", "testdata", "lora", "stories260K-f32.lora.gguf")
	prompt := "Once upon a time, there was a blue frog named Anna."
	run := func(args ...string) string {
		t.Helper()
		out, _, err := execute(t, newRunCmd(), "", append(append([]string{"--temperature", "0", "-n", "24"}, args...), prompt)...)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	plain := run("-m", base)
	tuned := run("-m", base, "--lora", adapter)
	half := run("-m", base, "--lora-scaled", adapter+":0.5")
	t.Logf("base: %q\nadapter: %q\nscale 0.5: %q", plain, tuned, half)
	if !strings.Contains(tuned, "Anna the frog liked to sing songs") || strings.Contains(plain, "liked to sing songs") || half == tuned || half == plain {
		t.Fatalf("base %q, with the adapter %q, at scale 0.5 %q", plain, tuned, half)
	}
	merged := filepath.Join(t.TempDir(), "merged.gguf")
	out, _, err := execute(t, newExportCmd(), "", "-m", base, "--merge-lora", adapter, "-o", merged)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "into 35 weights") {
		t.Errorf("export: %s", out)
	}
	if got := run("-m", merged); got != tuned {
		t.Errorf("merged model: %q, base + adapter: %q", got, tuned)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--lora-scaled", adapter}, "expected FILE:SCALE"},
		{[]string{"--lora-scaled", adapter + ":x"}, "is not a number"},
		{[]string{"--lora", filepath.Join(t.TempDir(), "none.gguf")}, "no such file"},
		{[]string{"--lora", base}, "is this a model rather than an adapter?"},
		{[]string{"--lora", filepath.Join("..", "..", "model", "testdata", "lora", "stories260K-h192-Q8_0.lora.gguf")}, "is for a 64×192 weight"},
	} {
		_, _, err := execute(t, newRunCmd(), "", append(append([]string{"-m", base, "-n", "1"}, c.args...), prompt)...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want %q", c.args, err, c.want)
		}
	}
	if _, _, err := execute(t, newExportCmd(), "", "-m", base, "-o", merged); err == nil || !strings.Contains(err.Error(), "needs an adapter") {
		t.Errorf("export without an adapter: %v", err)
	}
}

// TestServeLoRA: glassbox serve --lora answers /v1/completions with the
// adapted model's greedy text (that of run --lora) and its model page lists
// the adapter.
func TestServeLoRA(t *testing.T) {
	base := fixtures.Path(t, "gguf", "stories260K-f32.gguf")
	adapter := filepath.Join("..", "..", "model", "testdata", "lora", "stories260K-f32.lora.gguf")
	prompt := "Once upon a time, there was a blue frog named Anna."
	want, _, err := execute(t, newRunCmd(), "", "-m", base, "--lora", adapter, "--temperature", "0", "-n", "12", prompt)
	if err != nil {
		t.Fatal(err)
	}
	srv := startServe(t, "-m", "tiny="+base, "--lora", adapter, "--addr", "127.0.0.1:0", "--ctx", "128")
	body, _ := json.Marshal(map[string]any{"model": "tiny", "prompt": prompt, "max_tokens": 12, "temperature": 0})
	resp, err := http.Post(srv.base+"/v1/completions", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out struct {
		Choices []struct {
			Text string `json:"text"`
		} `json:"choices"`
	}
	if err := json.Unmarshal(raw, &out); err != nil || resp.StatusCode != http.StatusOK || len(out.Choices) != 1 {
		t.Fatalf("/v1/completions: %s: %s (%v)", resp.Status, raw, err)
	}
	if got := out.Choices[0].Text; got != strings.TrimSuffix(want, "\n") {
		t.Fatalf("serve --lora: %q, run --lora: %q", got, want)
	}
	page, err := http.Get(srv.base + "/glassbox/models/tiny")
	if err != nil {
		t.Fatal(err)
	}
	defer page.Body.Close()
	b, _ := io.ReadAll(page.Body)
	if !strings.Contains(string(b), `"lora":[{"name":"stories260K-f32-stories-lora","scale":1`) {
		t.Fatalf("model page without the adapter: %s", b)
	}
}
