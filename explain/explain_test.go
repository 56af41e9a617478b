package explain_test

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"

	"glassbox"
	"glassbox/explain"
	"glassbox/infer"
	"glassbox/internal/fixtures"
	"glassbox/sample"
	"glassbox/trace"
)

func dissect(t *testing.T, elem []string, prompt string, p sample.Params) (*explain.Trace, *glassbox.Result) {
	t.Helper()
	m, err := glassbox.Open(fixtures.Path(t, elem...), &glassbox.Options{Context: 256})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	var evs []trace.Event
	res, err := m.Generate(context.Background(), prompt, glassbox.GenerateOptions{
		MaxTokens: 10, Sampler: p, LogProbs: 3,
		Trace: &infer.Tracing{Options: trace.All(5), Emit: func(ev trace.Event) error { evs = append(evs, ev); return nil }},
	})
	if err != nil {
		t.Fatal(err)
	}
	tr, err := explain.Collect(evs)
	if err != nil {
		t.Fatal(err)
	}
	return tr, res
}

var models = [][]string{
	{"llama2c", "stories260K.bin"},
	{"gguf", "random-llama-d256-Q4_K_M.gguf"},
	{"gguf", "random-llama-d256-Q6_K.gguf"},
}

// TestExplainNumbers: every number the explanation cites is the trace's, and
// the facts agree with the generation's own log-probabilities.
func TestExplainNumbers(t *testing.T) {
	sampled := sample.DefaultParams()
	sampled.Seed = 3
	for _, elem := range models {
		for _, p := range []sample.Params{{}, sampled} {
			tr, res := dissect(t, elem, "Once upon a time", p)
			f, err := explain.Gather(tr)
			if err != nil {
				t.Fatal(err)
			}
			// the facts are the generation's numbers
			if f.FirstToken.ID != res.IDs[0] || math.Abs(math.Log(float64(f.FirstProb))-float64(res.Tokens[0].LogProb)) > 1e-4 {
				t.Errorf("%v: first token %d p %v, generated %d logprob %v", elem, f.FirstToken.ID, f.FirstProb, res.IDs[0], res.Tokens[0].LogProb)
			}
			var mean float64
			for _, tk := range res.Tokens {
				mean += math.Exp(float64(tk.LogProb))
			}
			mean /= float64(len(res.Tokens))
			if math.Abs(mean-float64(f.MeanProb)) > 1e-4 {
				t.Errorf("%v: mean probability %v, from logprobs %v", elem, f.MeanProb, mean)
			}
			s0 := tr.Steps[0]
			for _, lang := range []string{"fr", "en"} {
				text, err := explain.Explain(tr, lang)
				if err != nil {
					t.Fatal(err)
				}
				pct := func(p float32) string { return explain.PctIn(lang, p) }
				f3 := func(v float32) string { return explain.F3In(lang, v) }
				want := []string{
					pct(s0.Sampling.RawProb), f3(s0.Prediction.Entropy), pct(f.MeanProb),
					pct(f.Uncertain.Sampling.RawProb), f3(f.Focus.Top[0].Weight),
					f3(f.Neighbor.Neighbors[0].Cosine), f3(f.Neighbor.Norm),
				}
				for _, l := range s0.LogitLens {
					want = append(want, pct(l.Top[0].Prob))
				}
				for _, w := range want {
					if !strings.Contains(text, w) {
						t.Errorf("%v %s: the explanation lacks %q\n%s", elem, lang, w, text)
					}
				}
				for _, section := range map[string][]string{
					"fr": {"1. Auto-description", "2. Analogie", "3. Auto-dissection", "4. Métacognition"},
					"en": {"1. Literal", "2. Analogy", "3. Self-dissection", "4. Metacognition"},
				}[lang] {
					if !strings.Contains(text, section) {
						t.Errorf("%s: no section %q", lang, section)
					}
				}
			}
		}
	}
}

// TestReportNumbers: the terminal report prints the trace's probabilities.
func TestReportNumbers(t *testing.T) {
	for _, elem := range models {
		tr, _ := dissect(t, elem, "Once upon a time", sample.Params{})
		var b strings.Builder
		if err := explain.Report(&b, tr, explain.ReportOptions{}); err != nil {
			t.Fatal(err)
		}
		out := b.String()
		for _, s := range tr.Steps {
			for _, c := range s.Prediction.Top {
				if !strings.Contains(out, explain.Pct(c.Prob)) {
					t.Errorf("%v: report lacks %s for %q", elem, explain.Pct(c.Prob), c.Piece)
				}
			}
			if !strings.Contains(out, explain.F3(s.Prediction.Entropy)) {
				t.Errorf("%v: report lacks entropy %s", elem, explain.F3(s.Prediction.Entropy))
			}
		}
		for _, e := range tr.Embeddings {
			if !strings.Contains(out, explain.F3(e.Norm)) {
				t.Errorf("%v: report lacks norm %s", elem, explain.F3(e.Norm))
			}
		}
		if strings.Contains(out, "\x1b[") {
			t.Errorf("colour codes without Color")
		}
	}
}

func TestNumberFormats(t *testing.T) {
	tests := []struct {
		lang, pct, f3 string
	}{
		{"en", "73.3%", "0.946"},
		{"fr", "73,3\u202f%", "0,946"},
	}
	for _, tt := range tests {
		if got := explain.PctIn(tt.lang, 0.7331); got != tt.pct {
			t.Errorf("%s: PctIn = %q, want %q", tt.lang, got, tt.pct)
		}
		if got := explain.F3In(tt.lang, 0.9461); got != tt.f3 {
			t.Errorf("%s: F3In = %q, want %q", tt.lang, got, tt.f3)
		}
	}
}

func TestDetectLanguage(t *testing.T) {
	tests := []struct{ text, want string }{
		{"Il était une fois une petite fille", "fr"},
		{"Explique ce qu'est un LLM", "fr"},
		{"Once upon a time there was a girl", "en"},
		{"What is a large language model?", "en"},
		{explain.DefaultPrompt, "fr"},
	}
	for _, tt := range tests {
		if got := explain.DetectLanguage(tt.text); got != tt.want {
			t.Errorf("%q: %s, want %s", tt.text, got, tt.want)
		}
	}
}

func TestCollectErrors(t *testing.T) {
	if _, err := explain.Collect([]trace.Event{{Type: "nope"}}); err == nil {
		t.Error("unknown event type: no error")
	}
	if _, err := explain.Collect(nil); err == nil {
		t.Error("no meta: no error")
	}
	if _, err := explain.Explain(&explain.Trace{}, "fr"); err == nil {
		t.Error("no steps: no error")
	}
}

// TestExplainCountsLikeAReader: the prompt's tokens are counted without the
// start-of-text token (named apart), and layers and heads are numbered from 1
// in prose while the trace keeps 0-based indices.
func TestExplainCountsLikeAReader(t *testing.T) {
	tr, _ := dissect(t, []string{"llama2c", "stories260K.bin"}, "Once upon a time", sample.Params{})
	f, err := explain.Gather(tr)
	if err != nil {
		t.Fatal(err)
	}
	if len(tr.Tokenization.Tokens) != 5 || f.PromptTokens != 4 || f.BOS != "<s>" {
		t.Fatalf("%d tokens in the trace: prompt %d tokens, BOS %q; want 5: 4 and <s>", len(tr.Tokenization.Tokens), f.PromptTokens, f.BOS)
	}
	if f.Focus == nil || f.LensFirstLayer < 0 {
		t.Fatalf("no focused head or logit-lens layer: %+v", f)
	}
	layers := tr.Meta.Layers
	want := map[string][]string{
		"en": {
			`your prompt became 4 tokens, after the start-of-text token "<s>".`,
			fmt.Sprintf("(layer %d, head %d)", f.Focus.Layer+1, f.Focus.Head+1),
			fmt.Sprintf("from layer %d of %d.", f.LensFirstLayer+1, layers),
			"layer 1: ", fmt.Sprintf("layer %d: ", layers),
		},
		"fr": {
			"votre prompt est devenu 4 tokens, précédés du token de début de texte « <s> ».",
			fmt.Sprintf("(couche %d, tête %d)", f.Focus.Layer+1, f.Focus.Head+1),
			fmt.Sprintf("à partir de la couche %d sur %d.", f.LensFirstLayer+1, layers),
			"couche 1 : ", fmt.Sprintf("couche %d : ", layers),
		},
	}
	unwanted := map[string][]string{"en": {"layer 0"}, "fr": {"couche 0"}}
	for lang, ws := range want {
		text, err := explain.Explain(tr, lang)
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range ws {
			if !strings.Contains(text, w) {
				t.Errorf("%s: the explanation lacks %q\n%s", lang, w, text)
			}
		}
		for _, w := range unwanted[lang] {
			if strings.Contains(text, w) {
				t.Errorf("%s: the explanation names a 0-based layer (%q)\n%s", lang, w, text)
			}
		}
	}
}

// TestRenderersShowTokenText: the report and the explanation show the text
// the trace carries for each token, never its vocabulary piece, so they need
// no tokenizer: byte-level BPE pieces (GPT-2's byte table) and SentencePiece
// byte tokens are shown as what they decode to.
func TestRenderersShowTokenText(t *testing.T) {
	tok := func(id int, piece, text string) trace.Token {
		return trace.Token{ID: id, Piece: piece, Text: text, Bytes: trace.Ints([]byte(text))}
	}
	cand := func(tk trace.Token, p float32) trace.Candidate {
		return trace.Candidate{ID: tk.ID, Piece: tk.Piece, Bytes: tk.Bytes, Text: tk.Text, Prob: p}
	}
	saw, nl, hi := tok(7, "Ġsaw", " saw"), tok(8, "<0x0A>", "\n"), tok(9, "Ã©t", "ét")
	tr := &explain.Trace{
		Meta:         trace.Meta{Model: "m", Layers: 1, Heads: 1, Tokenizer: "gpt2"},
		Tokenization: trace.Tokenization{Tokens: []trace.Token{hi, saw}},
		Steps: []trace.Step{{
			Input: saw, Token: nl,
			Attention:  []trace.HeadAttention{{Top: []trace.Attended{{Position: 1, Token: saw, Weight: 1}}}},
			LogitLens:  []trace.LensLayer{{Top: []trace.Candidate{cand(hi, 0.5)}}},
			Prediction: trace.Prediction{Top: []trace.Candidate{cand(nl, 0.6), cand(saw, 0.3)}},
			Sampling:   trace.Sampling{Draw: -1, ChosenRank: 1, ChosenProb: 1, RawProb: 0.6},
		}},
		Done: &trace.Done{Text: "\n"},
	}
	var b strings.Builder
	if err := explain.Report(&b, tr, explain.ReportOptions{}); err != nil {
		t.Fatal(err)
	}
	report := b.String()
	en, err := explain.Explain(tr, "en")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		out       string
		want, not []string
	}{
		{report, []string{"[ét]", "[ saw]", `[\n]`}, []string{"Ġ", "Ã", "<0x0A>"}},
		{en, []string{`"ét"`, `"␣saw"`, `"⏎"`}, []string{"Ġ", "Ã", "<0x0A>"}},
	} {
		for _, w := range tt.want {
			if !strings.Contains(tt.out, w) {
				t.Errorf("lacks %q:\n%s", w, tt.out)
			}
		}
		for _, w := range tt.not {
			if strings.Contains(tt.out, w) {
				t.Errorf("shows a piece (%q):\n%s", w, tt.out)
			}
		}
	}
}

// TestReportGrammar: a constrained step's report lists the candidates the
// grammar removed with their probabilities before it.
func TestReportGrammar(t *testing.T) {
	m, err := glassbox.Open(fixtures.Path(t, "llama2c", "stories260K.bin"), &glassbox.Options{Context: 256})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	var evs []trace.Event
	if _, err := m.Generate(context.Background(), "Once upon a time", glassbox.GenerateOptions{
		MaxTokens: 6, Sampler: sample.Params{}, Grammar: `root ::= " " [0-9]{3}`,
		Trace: &infer.Tracing{Options: trace.Options{Top: 4}, Emit: func(ev trace.Event) error { evs = append(evs, ev); return nil }},
	}); err != nil {
		t.Fatal(err)
	}
	tr, err := explain.Collect(evs)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := explain.Report(&b, tr, explain.ReportOptions{}); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	lines := 0
	for _, s := range tr.Steps {
		g := s.Sampling.Grammar
		if g == nil {
			t.Fatalf("step %d: no grammar record", s.Index)
		}
		want := fmt.Sprintf("grammar  checked %d candidate", g.Checked)
		if len(g.Removed) > 0 {
			var parts []string
			for _, c := range g.Removed {
				parts = append(parts, fmt.Sprintf("[%s] %s", explain.Show(c.Text), explain.Pct(c.Prob)))
			}
			want = "removed (p before the grammar): " + strings.Join(parts, " · ")
			lines++
		}
		if !strings.Contains(out, want) {
			t.Errorf("step %d: report lacks %q:\n%s", s.Index, want, out)
		}
	}
	if lines == 0 {
		t.Error("no step removed anything: the test proves nothing")
	}
}

// TestReportSoftcap: for a model with soft-capping the report's header
// gives the caps, each prediction candidate its logit before and after
// capping, the chosen token included when it is not among them, and each
// attended position its score before and after capping; a trace
// without capping shows none of it.
func TestReportSoftcap(t *testing.T) {
	f := func(v float32) *float32 { return &v }
	tok := func(id int, text string) trace.Token {
		return trace.Token{ID: id, Piece: text, Bytes: []int{}, Text: text}
	}
	cand := func(id int, text string, logit, prob float32, u *float32) trace.Candidate {
		return trace.Candidate{ID: id, Piece: text, Bytes: []int{}, Text: text, Logit: logit, Prob: prob, LogitUncapped: u}
	}
	tests := []struct {
		name       string
		attn, fin  float32
		top        []trace.Candidate
		chosen     *trace.Candidate
		attention  []trace.HeadAttention
		want, lack []string
	}{
		{
			name: "capped", attn: 50, fin: 30,
			top:    []trace.Candidate{cand(5, "cat", 25.125, 0.6, f(41.5)), cand(6, "dog", -12.5, 0.3, f(-13.75))},
			chosen: &trace.Candidate{ID: 7, Text: "owl", Logit: 3.25, Prob: 0.1, LogitUncapped: f(3.375)},
			want: []string{"attention scores soft-capped at 50", "logits soft-capped at 30",
				"logit 25.125 (41.500 before capping)", "logit -12.500 (-13.750 before capping)",
				"▶ [owl]", "logit 3.250 (3.375 before capping)", "[hi]@0 1.000 (score 2.750, 2.875 before capping)"},
			attention: []trace.HeadAttention{{Layer: 0, Head: 1, Weights: []float32{1}, Scores: []float32{2.75}, ScoresUncapped: []float32{2.875},
				Top: []trace.Attended{{Position: 0, Token: tok(1, "hi"), Weight: 1}}}},
		},
		{
			name: "plain",
			top:  []trace.Candidate{cand(7, "owl", 2, 0.7, nil), cand(6, "dog", 1, 0.3, nil)},
			attention: []trace.HeadAttention{{Layer: 0, Head: 1, Weights: []float32{1},
				Top: []trace.Attended{{Position: 0, Token: tok(1, "hi"), Weight: 1}}}},
			want: []string{"[hi]@0 1.000"},
			lack: []string{"capping", "soft-capped", "score"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr, err := explain.Collect([]trace.Event{
				{Type: trace.TypeMeta, Meta: &trace.Meta{Model: "m", Arch: "gemma2", AttnSoftcap: tc.attn, FinalSoftcap: tc.fin}},
				{Type: trace.TypeTokenization, Tokenization: &trace.Tokenization{Tokens: []trace.Token{tok(1, "hi")}}},
				{Type: trace.TypeStep, Step: &trace.Step{Input: tok(1, "hi"), Token: tok(7, "owl"), Attention: tc.attention,
					Prediction: trace.Prediction{Top: tc.top, Chosen: tc.chosen}, Sampling: trace.Sampling{Draw: 0.5, ChosenRank: 3}}},
			})
			if err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			if err := explain.Report(&b, tr, explain.ReportOptions{}); err != nil {
				t.Fatal(err)
			}
			out := b.String()
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("report lacks %q:\n%s", w, out)
				}
			}
			for _, w := range tc.lack {
				if strings.Contains(out, w) {
					t.Errorf("report has %q:\n%s", w, out)
				}
			}
		})
	}
}
