package main

import (
	"bufio"
	"encoding/json"
	"strings"
	"testing"

	"glassbox/internal/fixtures"
	"glassbox/trace"
)

func TestDissectJSON(t *testing.T) {
	model := fixtures.Path(t, "gguf", "random-llama-d256-Q4_K_M.gguf")
	out, _, err := execute(t, newDissectCmd(), "", "-m", model, "--temperature", "0", "-n", "3", "--layers", "0-1", "--heads", "1,3", "--top", "4", "--json", "Once upon a time")
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(nil, 1<<24)
	for sc.Scan() {
		var ev trace.Event
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("line is not an event: %v\n%s", err, sc.Text())
		}
		types = append(types, ev.Type)
		switch ev.Type {
		case trace.TypeMeta:
			if ev.Meta.Version != trace.Version || len(ev.Meta.TracedLayers) != 2 || len(ev.Meta.TracedHeads) != 2 {
				t.Errorf("meta %+v", ev.Meta)
			}
		case trace.TypeStep:
			if len(ev.Step.Attention) != 4 || len(ev.Step.LogitLens) != 2 || len(ev.Step.Prediction.Top) != 4 {
				t.Errorf("step with %d heads, %d lens layers, %d candidates", len(ev.Step.Attention), len(ev.Step.LogitLens), len(ev.Step.Prediction.Top))
			}
		}
	}
	if got := strings.Join(types, ","); got != "meta,tokenization,embeddings,step,step,step,done" {
		t.Errorf("event order %s", got)
	}
}

func TestDissectReport(t *testing.T) {
	model := fixtures.Path(t, "llama2c", "stories260K.bin")
	out, _, err := execute(t, newDissectCmd(), "", "-m", model, "--temperature", "0", "-n", "2", "--color", "always", "Once upon a time")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"TOKENIZATION", "EMBEDDINGS", "attention", "logit lens", "prediction", "decoding", "\x1b["} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q\n%s", want, out)
		}
	}
}

func TestDissectErrors(t *testing.T) {
	model := fixtures.Path(t, "llama2c", "stories260K.bin")
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"-m", model, "--layers", "x", "hi"}, "--layers"},
		{[]string{"-m", model, "--layers", "3-1", "hi"}, "range"},
		{[]string{"-m", model, "--layers", "9", "hi"}, "layer 9 does not exist"},
		{[]string{"-m", model, "--heads", "8", "hi"}, "head 8 does not exist"},
		{[]string{"-m", model, "--top", "0", "hi"}, "--top"},
		{[]string{"-m", model, "--color", "rainbow", "hi"}, "--color"},
	}
	for _, tt := range tests {
		_, _, err := execute(t, newDissectCmd(), "", tt.args...)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: error %v, want %q", tt.args, err, tt.want)
		}
	}
}

func TestExplainCommand(t *testing.T) {
	model := fixtures.Path(t, "llama2c", "stories260K.bin")
	en, _, err := execute(t, newExplainCmd(), "", "-m", model, "Once upon a time")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(en, "4. Metacognition") || !strings.Contains(en, "The sentence: \", there was a little girl named Lily.\"") {
		t.Errorf("English explanation:\n%s", en)
	}
	fr, _, err := execute(t, newExplainCmd(), "", "-m", model, "Il était une fois")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(fr, "4. Métacognition") {
		t.Errorf("French explanation (from the prompt's language):\n%s", fr)
	}
	forced, _, err := execute(t, newExplainCmd(), "", "-m", model, "--lang", "fr", "Once upon a time")
	if err != nil || !strings.Contains(forced, "Auto-description") {
		t.Errorf("--lang fr: %v\n%s", err, forced)
	}
	if _, _, err := execute(t, newExplainCmd(), "", "-m", model, "--lang", "de", "x"); err == nil {
		t.Error("--lang de: no error")
	}
}
