package glassbox_test

import (
	"context"
	"fmt"
	"log"
	"path/filepath"

	"glassbox"
	"glassbox/infer"
	"glassbox/internal/fixtures"
	"glassbox/sample"
	"glassbox/trace"
)

// exampleModel is the llama2.c TinyStories model of the shared fixtures.
// (The examples are compiled by go test; TestRunCReference and TestSampling
// check what they print.)
func exampleModel() string {
	return filepath.Join(fixtures.Root(), "llama2c", "stories260K.bin")
}

// Generate continues a prompt greedily, streaming the text as it comes.
func ExampleModel_Generate() {
	m, err := glassbox.Open(exampleModel(), nil)
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	fmt.Print("Once upon a time")
	_, err = m.Generate(context.Background(), "Once upon a time", glassbox.GenerateOptions{
		MaxTokens: 11,
		OnToken:   func(t infer.Token) error { fmt.Print(t.Text); return nil },
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println()
	// Prints: Once upon a time, there was a little girl named Lily.
}

// Sampling with a seed is reproducible: the same seed gives the same text.
func ExampleModel_Generate_sampling() {
	m, err := glassbox.Open(exampleModel(), nil)
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	p := sample.DefaultParams()
	p.Temperature, p.Seed = 1.0, 42
	a, _ := m.Generate(context.Background(), "Once upon a time", glassbox.GenerateOptions{MaxTokens: 20, Sampler: p})
	b, _ := m.Generate(context.Background(), "Once upon a time", glassbox.GenerateOptions{MaxTokens: 20, Sampler: p})
	fmt.Println(a.Text == b.Text) // true
}

// A trace shows, for each generated token, what the model predicted and how
// sure it was.
func ExampleGenerateOptions_trace() {
	m, err := glassbox.Open(exampleModel(), nil)
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	_, err = m.Generate(context.Background(), "Once upon a time", glassbox.GenerateOptions{
		MaxTokens: 3,
		Trace: &infer.Tracing{Options: trace.Options{Top: 2}, Emit: func(ev trace.Event) error {
			if ev.Type == trace.TypeStep {
				s := ev.Step
				fmt.Printf("%q rank %d, %.2f\n", s.Token.Piece, s.Sampling.ChosenRank, s.Sampling.RawProb)
			}
			return nil
		}},
	})
	if err != nil {
		log.Fatal(err)
	}
}
