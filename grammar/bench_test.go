package grammar_test

import (
	"context"
	"testing"

	"glassbox"
	"glassbox/internal/fixtures"
	"glassbox/models"
)

// BenchmarkGenerateConstrained compares a generation constrained by a JSON
// Schema grammar with the same generation unconstrained (llama.cpp's default
// sampler chain, 64 tokens), on a SentencePiece and a byte-level BPE model;
// the ns/token metrics compare per-token costs.
func BenchmarkGenerateConstrained(b *testing.B) {
	schema := `{"type":"object","properties":{"name":{"type":"string","maxLength":40},"story":{"type":"string"}},"required":["name","story"]}`
	src, err := glassbox.JSONSchemaGrammar([]byte(schema))
	if err != nil {
		b.Fatal(err)
	}
	open := map[string]func() (*glassbox.Model, error){
		"spm-stories260K": func() (*glassbox.Model, error) {
			return glassbox.Open(fixtures.Path(b, "gguf", "stories260K-f32.gguf"), nil)
		},
		"bpe-default": func() (*glassbox.Model, error) { return glassbox.OpenBytes(models.DefaultName, models.Default, nil) },
		"spm32000-llama2-tiny": func() (*glassbox.Model, error) {
			return glassbox.Open(fixtures.Path(b, "gguf", "llama-2-tiny-random.gguf"), nil)
		},
	}
	for _, name := range []string{"spm-stories260K", "bpe-default", "spm32000-llama2-tiny"} {
		m, err := open[name]()
		if err != nil {
			b.Fatal(err)
		}
		for _, g := range []struct{ mode, grammar string }{{"unconstrained", ""}, {"constrained", src}} {
			b.Run(name+"/"+g.mode, func(b *testing.B) {
				tokens := 0
				seed := uint64(0)
				for b.Loop() {
					p := glassbox.DefaultSamplerParams()
					p.Seed = seed
					seed++
					res, err := m.Generate(context.Background(), "Once upon a time", glassbox.GenerateOptions{MaxTokens: 64, Sampler: p, Grammar: g.grammar, IgnoreEOS: g.grammar == ""})
					if err != nil {
						b.Fatal(err)
					}
					tokens += len(res.IDs)
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(tokens), "ns/token")
			})
		}
		m.Close()
	}
}
