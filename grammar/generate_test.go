package grammar_test

import (
	"context"
	"testing"

	"glassbox"
	"glassbox/grammar"
	"glassbox/internal/fixtures"
	"glassbox/models"
)

// openModels opens a SentencePiece model (stories260K, 512 tokens) and a
// byte-level BPE one (the embedded default model, 2,048 tokens).
func openModels(t *testing.T) map[string]*glassbox.Model {
	t.Helper()
	bpe, err := glassbox.OpenBytes(models.DefaultName, models.Default, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bpe.Close() })
	spm, err := glassbox.Open(fixtures.Path(t, "gguf", "stories260K-f32.gguf"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { spm.Close() })
	return map[string]*glassbox.Model{"spm": spm, "bpe": bpe}
}

// TestSchemaGeneration samples outputs under each bounded conformance schema
// at temperature 1 and checks each with encoding/json and the test's own
// validator.
func TestSchemaGeneration(t *testing.T) {
	if testing.Short() {
		t.Skip("samples about 1,000 constrained generations")
	}
	const perModel = 20
	ms := openModels(t)
	for _, tt := range schemaCases {
		if tt.noGenerate {
			continue
		}
		src, err := grammar.FromJSONSchema([]byte(tt.schema))
		if err != nil {
			t.Fatal(err)
		}
		schema, _ := decode(tt.schema)
		for _, name := range []string{"spm", "bpe"} {
			t.Run(tt.name+"/"+name, func(t *testing.T) {
				for seed := range perModel {
					p := glassbox.SamplerParams{Temperature: 1, TopP: 1, RepeatPenalty: 1, Seed: uint64(seed)}
					res, err := ms[name].Generate(context.Background(), "Once upon a time", glassbox.GenerateOptions{MaxTokens: 500, Sampler: p, Grammar: src})
					if err != nil {
						t.Fatalf("seed %d: %v", seed, err)
					}
					if res.FinishReason != glassbox.FinishStop {
						t.Errorf("seed %d: the output %q hit the token limit", seed, res.Text)
						continue
					}
					inst, err := decode(res.Text)
					if err != nil {
						t.Errorf("seed %d: %q is not JSON: %v", seed, res.Text, err)
						continue
					}
					if err := validate(schema, schema, inst, ""); err != nil {
						t.Errorf("seed %d: %q does not validate: %v", seed, res.Text, err)
					}
				}
			})
		}
	}
}

// TestConstrainedTrace checks that a traced constrained generation records
// the grammar stage and the candidates it removed.
func TestConstrainedTrace(t *testing.T) {
	m := openModels(t)["spm"]
	var steps []*glassbox.TraceStep
	res, err := m.Generate(context.Background(), "Once upon a time", glassbox.GenerateOptions{
		MaxTokens: 20,
		Grammar:   `root ::= " " [0-9]{3}`,
		Trace: &glassbox.Tracing{Options: glassbox.TraceOptions{Top: 5}, Emit: func(ev glassbox.TraceEvent) error {
			if ev.Step != nil {
				steps = append(steps, ev.Step)
			}
			return nil
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Text) != 4 {
		t.Fatalf("text %q, want a space and three digits", res.Text)
	}
	if len(steps) == 0 {
		t.Fatal("no steps")
	}
	first := steps[0]
	g := first.Sampling.Grammar
	if g == nil {
		t.Fatal("the step has no grammar record")
	}
	if len(g.Removed) == 0 || g.Checked < len(g.Removed)+1 {
		t.Errorf("grammar record %+v: the model's favourites after %q are not digits, so some must be removed", g, "Once upon a time")
	}
	// the model's top raw candidate is removed (stories260K does not predict digits here)
	if first.Prediction.Top[0].ID != g.Removed[0].ID {
		t.Errorf("first removed %v, want the top prediction %v", g.Removed[0], first.Prediction.Top[0])
	}
	found := false
	for _, s := range first.Sampling.Steps {
		if s.Name == "grammar" {
			found = true
			for _, c := range s.Top {
				if c.Text == "" {
					t.Errorf("kept candidate %+v has no text", c)
				}
			}
		}
	}
	if !found {
		t.Errorf("no grammar stage in %+v", first.Sampling.Steps)
	}
}
