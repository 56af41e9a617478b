package glassbox_test

import (
	"context"
	"fmt"
	"log"

	"glassbox"
	"glassbox/infer"
	"glassbox/models"
	"glassbox/sample"
	"glassbox/trace"
)

// Generate continues a prompt, streaming the text as it comes, until a stop
// string (here a blank line, which the text ends before). The zero Sampler is
// greedy decoding: the same prompt always gives the same text.
func ExampleModel_Generate() {
	// the model embedded in glassbox: a small Llama trained on Go sources
	m, err := glassbox.OpenBytes(models.DefaultName, models.Default, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer func() {
		if err := m.Close(); err != nil {
			log.Fatal(err)
		}
	}()
	prompt := "// Copyright 2009 The Go Authors"
	fmt.Print(prompt)
	res, err := m.Generate(context.Background(), prompt, glassbox.GenerateOptions{
		MaxTokens: 64,
		Stop:      []string{"\n\n"},
		OnToken:   func(t infer.Token) error { fmt.Print(t.Text); return nil },
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("\n[%d tokens, finish reason %s, stop string %q]\n", len(res.IDs), res.FinishReason, res.StopString)
	// Output:
	// // Copyright 2009 The Go Authors. All rights reserved.
	// // Use of this source code is governed by a BSD-style
	// // license that can be found in the LICENSE file.
	// [33 tokens, finish reason stop, stop string "\n\n"]
}

// Sampling with a seed is reproducible: the same seed gives the same text.
// (With sample.SeedRandom, the default, each generation draws differently.)
func ExampleModel_Generate_sampling() {
	// the model embedded in glassbox: a small Llama trained on Go sources
	m, err := glassbox.OpenBytes(models.DefaultName, models.Default, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer func() {
		if err := m.Close(); err != nil {
			log.Fatal(err)
		}
	}()
	p := sample.DefaultParams()
	p.Temperature, p.Seed = 1.0, 42
	var texts []string
	for range 2 {
		res, err := m.Generate(context.Background(), "func (s *Server) ", glassbox.GenerateOptions{MaxTokens: 20, Sampler: p})
		if err != nil {
			log.Fatal(err)
		}
		texts = append(texts, res.Text)
	}
	fmt.Printf("%q\nsame text both times: %v\n", texts[0], texts[0] == texts[1])
	// Output:
	// "ent.Serverer(t *testing.T) {\n\t\tvar t.Name ="
	// same text both times: true
}

// A trace shows, for each generated token, its text, its rank among the
// model's predictions and how sure the model was.
func ExampleGenerateOptions_trace() {
	// the model embedded in glassbox: a small Llama trained on Go sources
	m, err := glassbox.OpenBytes(models.DefaultName, models.Default, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer func() {
		if err := m.Close(); err != nil {
			log.Fatal(err)
		}
	}()
	_, err = m.Generate(context.Background(), "for i := 0; i < n; i", glassbox.GenerateOptions{
		MaxTokens: 3,
		Trace: &infer.Tracing{Options: trace.Options{Top: 2}, Emit: func(ev trace.Event) error {
			if ev.Type == trace.TypeStep {
				s := ev.Step
				fmt.Printf("%q rank %d, p %.2f\n", s.Token.Text, s.Sampling.ChosenRank, s.Sampling.RawProb)
			}
			return nil
		}},
	})
	if err != nil {
		log.Fatal(err)
	}
	// Output:
	// "++" rank 1, p 0.52
	// " {" rank 1, p 0.89
	// "\n\t\t" rank 1, p 0.48
}
