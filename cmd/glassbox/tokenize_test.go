package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"glassbox/internal/fixtures"
)

func runTokenize(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	cmd := newTokenizeCmd()
	var out bytes.Buffer
	cmd.SetArgs(args)
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetIn(strings.NewReader(stdin))
	err := cmd.Execute()
	return out.String(), err
}

func TestTokenizeCommand(t *testing.T) {
	gguf := fixtures.Path(t, "gguf", "stories260K-f32.gguf")
	bin := fixtures.Path(t, "llama2c", "tok512.bin")
	// ids from llama-server /tokenize (gguf/reference/server_stories260K-f32_tokenize.json)
	want := []int{1, 403, 407, 261, 378, 432, 383, 286, 261, 376, 298, 315, 421, 395, 317, 426}
	const prompt = "Once upon a time, there was a little girl named Lily."
	tests := []struct {
		name  string
		stdin string
		args  []string
		want  []int
	}{
		{"model arg", "", []string{"-m", gguf, "--json", prompt}, want},
		{"tokenizer.bin stdin", prompt, []string{"--tokenizer", bin, "--json"}, want},
		{"no bos", "", []string{"-m", gguf, "--json", "--no-bos", prompt}, want[1:]},
		{"special", "", []string{"-m", gguf, "--json", "--no-bos", "--special", "<s>"}, []int{1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := runTokenize(t, tc.stdin, tc.args...)
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			var toks []struct {
				ID    int    `json:"id"`
				Piece string `json:"piece"`
				Bytes []int  `json:"bytes"`
			}
			if err := json.Unmarshal([]byte(out), &toks); err != nil {
				t.Fatalf("output is not JSON: %v\n%s", err, out)
			}
			var got []int
			for _, tk := range toks {
				got = append(got, tk.ID)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("ids %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Fatalf("ids %v, want %v", got, tc.want)
				}
			}
		})
	}

	out, err := runTokenize(t, "", "-m", gguf, "--no-bos", "Once")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "ID") || !strings.Contains(lines[1], `403  "▁Once"  20 4f 6e 63 65`) {
		t.Errorf("table output:\n%s", out)
	}
	// without -m or --tokenizer, the embedded default model's vocabulary
	def, err := runTokenize(t, "", "--json", "--no-bos", "func main() {")
	if err != nil {
		t.Fatal(err)
	}
	var toks []tokenJSON
	if err := json.Unmarshal([]byte(def), &toks); err != nil || len(toks) == 0 {
		t.Fatalf("default tokenizer: %v\n%s", err, def)
	}
	var text []byte
	for _, tk := range toks {
		for _, b := range tk.Bytes {
			text = append(text, byte(b))
		}
	}
	if string(text) != "func main() {" {
		t.Errorf("default tokenizer bytes spell %q", text)
	}
	if _, err := runTokenize(t, "", "-m", gguf, "--tokenizer", gguf, "Once"); err == nil || !strings.Contains(err.Error(), "not both") {
		t.Errorf("-m and --tokenizer: err = %v", err)
	}
}
