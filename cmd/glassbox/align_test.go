package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"glassbox"
	"glassbox/gguf"
	"glassbox/internal/fixtures"
)

// goPairs writes n lines of Go preference data (and the SFT view of it):
// the chosen completion returns the operation the comment names, the
// rejected one another operation.
func goAlignData(t *testing.T, n int) (sft, prefs string) {
	t.Helper()
	dir := t.TempDir()
	ops := []struct{ name, op string }{{"Sum", "+"}, {"Difference", "-"}, {"Product", "*"}}
	var s, p strings.Builder
	for i := 0; i < n; i++ {
		o, bad := ops[i%3], ops[(i+1)%3]
		prompt := fmt.Sprintf("// F%d returns the %s of a and b.\nfunc F%d(a, b int) int {\n", i, strings.ToLower(o.name), i)
		good := fmt.Sprintf("\treturn a %s b\n}\n", o.op)
		rej := fmt.Sprintf("\treturn a %s b\n}\n", bad.op)
		line, _ := json.Marshal(map[string]string{"prompt": prompt, "completion": good})
		s.Write(append(line, '\n'))
		line, _ = json.Marshal(map[string]string{"prompt": prompt, "chosen": good, "rejected": rej})
		p.Write(append(line, '\n'))
	}
	sft, prefs = filepath.Join(dir, "sft.jsonl"), filepath.Join(dir, "prefs.jsonl")
	if err := os.WriteFile(sft, []byte(s.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(prefs, []byte(p.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return sft, prefs
}

// TestTrainSFTCommand fine-tunes the embedded model through the CLI: the run's
// files, the summary with mean_token_accuracy, a resume that has nothing left
// to do, and an exported GGUF that opens with the same tokenizer.
func TestTrainSFTCommand(t *testing.T) {
	sft, _ := goAlignData(t, 24)
	dir := t.TempDir()
	args := []string{"sft", "--data", sft, "--out", dir, "--steps", "3", "--batch", "4", "--lr", "1e-4", "-q", "--name", "tuned"}
	out, err := runTrainCLI(t, args...)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"config.json", "checkpoint.bin", "loss.csv", "loss.svg", "tuned.f32.gguf"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("missing output %s: %v", f, err)
		}
	}
	if !strings.HasPrefix(out, "sft: 3 steps in ") || !strings.Contains(out, "mean_token_accuracy") || !strings.Contains(out, "validation: loss ") {
		t.Errorf("summary:\n%s", out)
	}
	csv, _ := os.ReadFile(filepath.Join(dir, "loss.csv"))
	if lines := strings.Split(strings.TrimSpace(string(csv)), "\n"); len(lines) != 4 || !strings.HasPrefix(lines[0], "step,lr,grad_norm,loss,mean_token_accuracy,num_tokens,eval_loss,") {
		t.Errorf("loss.csv:\n%s", csv)
	}
	first, _ := os.ReadFile(filepath.Join(dir, "tuned.f32.gguf"))
	out, err = runTrainCLI(t, append(args, "--resume")...)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := os.ReadFile(filepath.Join(dir, "tuned.f32.gguf"))
	if string(first) != string(again) {
		t.Error("resuming a finished run changed the exported model")
	}
	m, err := glassbox.Open(filepath.Join(dir, "tuned.f32.gguf"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if name, _ := m.GGUF().String("general.name"); name != "tuned" {
		t.Errorf("general.name %q", name)
	}
	res, err := m.Generate(context.Background(), "func F100(a, b int) int {\n", glassbox.GenerateOptions{MaxTokens: 8})
	if err != nil || len(res.Tokens) == 0 {
		t.Fatalf("generation with the fine-tuned model: %v", err)
	}
}

// TestTrainRewardAndDPOCommands runs both preference methods for a few steps
// and checks that TRL's metrics are reported.
func TestTrainRewardAndDPOCommands(t *testing.T) {
	_, prefs := goAlignData(t, 24)
	out, err := runTrainCLI(t, "reward", "--data", prefs, "--out", t.TempDir(), "--steps", "2", "--batch", "4", "-q")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{"accuracy", "margin", "validation: loss"} {
		if !strings.Contains(out, m) {
			t.Errorf("reward summary lacks %q:\n%s", m, out)
		}
	}
	dir := t.TempDir()
	out, err = runTrainCLI(t, "dpo", "--data", prefs, "--out", dir, "--steps", "2", "--batch", "4", "--beta", "0.2", "--loss", "ipo", "-q", "--export", "")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{"rewards/chosen", "rewards/rejected", "rewards/accuracies", "rewards/margins", "logps/chosen", "logps/rejected"} {
		if !strings.Contains(out, m) {
			t.Errorf("dpo summary lacks %q:\n%s", m, out)
		}
	}
	cfg, _ := os.ReadFile(filepath.Join(dir, "config.json"))
	if !strings.Contains(string(cfg), `"loss": "ipo"`) || !strings.Contains(string(cfg), `"beta": 0.2`) {
		t.Errorf("config.json:\n%s", cfg)
	}
}

// TestTrainAlignErrors: bad datasets and settings give errors naming the
// file, the line and the field.
func TestTrainAlignErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, data string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := `{"prompt": "func f() {\n", "completion": "}\n"}` + "\n"
	long := `{"prompt": "` + strings.Repeat("x := 1\\n", 40) + `", "completion": "}\n"}` + "\n"
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"malformed line", []string{"sft", "--data", write("bad.jsonl", good+"{\"prompt\": \n")}, "bad.jsonl: line 2: not a JSON object"},
		{"missing field", []string{"sft", "--data", write("miss.jsonl", good+good+`{"prompt": "p"}`+"\n")}, `miss.jsonl: line 3: field "completion": missing`},
		{"no template", []string{"sft", "--data", write("chat.jsonl", `{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}`+"\n")}, `chat.jsonl: line 1: field "messages": the model has no chat template`},
		{"too long", []string{"sft", "--max-length", "32", "--data", write("long.jsonl", good+long)}, "1 examples are longer than --max-length 32: line 2"},
		{"beyond context", []string{"sft", "--max-length", "4096", "--data", write("ok.jsonl", good)}, "exceeds the model's context 256"},
		{"preference field", []string{"dpo", "--data", write("pref.jsonl", `{"prompt": "p", "chosen": "a"}`+"\n")}, `pref.jsonl: line 1: field "rejected": missing`},
		{"dpo loss", []string{"dpo", "--loss", "hinge", "--data", write("p2.jsonl", `{"prompt": "p", "chosen": "a", "rejected": "b"}`+"\n")}, `DPO loss "hinge"`},
		{"no data", []string{"reward"}, "no dataset"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := runTrainCLI(t, append(tc.args, "-q", "--out", t.TempDir())...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
	// --truncate cuts and reports instead.
	if _, err := runTrainCLI(t, "sft", "--max-length", "32", "--truncate", "--steps", "1", "--val-permille", "0", "--export", "", "-q", "--out", t.TempDir(), "--data", filepath.Join(dir, "long.jsonl")); err != nil {
		t.Fatal(err)
	}
}

// TestTrainSFTChatTemplate fine-tunes a fixture model (stories260K, SPM
// vocabulary) given a chat template on conversations, and checks that the
// exported model keeps the template.
func TestTrainSFTChatTemplate(t *testing.T) {
	dir := t.TempDir()
	base := filepath.Join(dir, "chat.gguf")
	tmpl := "{% for m in messages %}<|{{ m.role }}|>{{ m.content }}\n{% endfor %}{% if add_generation_prompt %}<|assistant|>{% endif %}"
	if err := gguf.Rewrite(fixtures.Path(t, "gguf", "stories260K-f32.gguf"), base, map[string]any{"tokenizer.chat_template": tmpl}); err != nil {
		t.Fatal(err)
	}
	var data strings.Builder
	for i := 0; i < 12; i++ {
		line, _ := json.Marshal(map[string]any{"messages": []map[string]string{
			{"role": "user", "content": fmt.Sprintf("Tell me about cat %d.", i)},
			{"role": "assistant", "content": "The cat sat on the mat."},
		}})
		data.Write(append(line, '\n'))
	}
	p := filepath.Join(dir, "chat.jsonl")
	if err := os.WriteFile(p, []byte(data.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "run")
	res, err := runTrainCLI(t, "sft", "-m", base, "--data", p, "--out", out, "--steps", "3", "--batch", "4", "--lr", "1e-3", "-q", "--name", "chat-sft")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(res, "mean_token_accuracy") {
		t.Errorf("summary:\n%s", res)
	}
	m, err := glassbox.Open(filepath.Join(out, "chat-sft.f32.gguf"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if m.ChatTemplate() != tmpl {
		t.Errorf("exported template %q", m.ChatTemplate())
	}
}
