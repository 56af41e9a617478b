package catalog

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestEmbeddedCatalog: the catalog shipped in the binary is valid (every
// fact sourced, licenses known, no duplicates) and covers the families the
// catalog promises.
func TestEmbeddedCatalog(t *testing.T) {
	c, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	for _, family := range []string{"Llama 3.2 1B", "Llama 3.2 3B", "Llama 3.1 8B", "Qwen2.5", "Qwen3", "Mistral 7B", "Gemma 2", "Gemma 3", "Phi-3", "Phi-4",
		"SmolLM2", "SmolLM3", "OLMo 2", "Pythia", "TinyLlama", "Granite"} {
		found := false
		for _, m := range c.Models {
			found = found || strings.Contains(m.Name, family)
		}
		if !found {
			t.Errorf("no %s model in the catalog", family)
		}
	}
	for _, m := range c.Models {
		if m.License == nil || m.Openness == nil || m.Params == nil || m.ContextLength == nil {
			t.Errorf("%s lacks a license, openness class, parameter count or context length", m.ID)
		}
		for _, s := range m.Sources() {
			if !strings.HasPrefix(s, "https://") {
				t.Errorf("%s: source %q", m.ID, s)
			}
		}
	}
}

// validModel returns a well-formed entry to break in one place at a time.
func validModel() Model {
	src := "https://huggingface.co/org/model"
	return Model{
		ID: "m-1b", Name: "M 1B", Repo: "org/model",
		Architecture:  &Fact[string]{"llama", src + "/blob/main/config.json"},
		Params:        &Fact[int64]{1e9, src},
		ContextLength: &Fact[int]{4096, src},
		Layers:        &Fact[int]{16, src}, Heads: &Fact[int]{32, src}, KVHeads: &Fact[int]{8, src}, HeadDim: &Fact[int]{64, src}, Vocab: &Fact[int]{32000, src},
		License:  &Fact[string]{"apache-2.0", src},
		Openness: &Fact[string]{OpenWeights, src},
		GGUF:     []GGUFRepo{{"someone/model-GGUF", "https://huggingface.co/someone/model-GGUF"}},
		Tasks:    []Fact[string]{{TaskChat, src}},
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name    string
		breakIt func(c *Catalog)
		want    string // "" = valid
	}{
		{"valid", func(c *Catalog) {}, ""},
		{"unknown facts may be absent", func(c *Catalog) {
			m := &c.Models[0]
			m.Params, m.Layers, m.License, m.GGUF, m.Tasks = nil, nil, nil, nil, nil
		}, ""},
		{"fact without source", func(c *Catalog) { c.Models[0].Params.Source = "" }, "params has no source"},
		{"source not a URL", func(c *Catalog) { c.Models[0].ContextLength.Source = "the model card" }, "is not an https URL"},
		{"plain http source", func(c *Catalog) { c.Models[0].Layers.Source = "http://example.com/x" }, "is not an https URL"},
		{"unknown license", func(c *Catalog) { c.Models[0].License.Value = "wtfpl" }, "not a license of catalog.Licenses"},
		{"license in the wrong case", func(c *Catalog) { c.Models[0].License.Value = "Apache-2.0" }, "not a license of catalog.Licenses"},
		{"unknown openness", func(c *Catalog) { c.Models[0].Openness.Value = "open" }, "want open-weights or open-source"},
		{"unknown task", func(c *Catalog) { c.Models[0].Tasks[0].Value = "math" }, "want one of code, chat, fr"},
		{"task twice", func(c *Catalog) { c.Models[0].Tasks = append(c.Models[0].Tasks, c.Models[0].Tasks[0]) }, "listed twice"},
		{"duplicate id", func(c *Catalog) {
			m := validModel()
			m.Repo = "org/other"
			m.GGUF = nil
			c.Models = append(c.Models, m)
		}, "id listed twice"},
		{"duplicate repo", func(c *Catalog) { m := validModel(); m.ID = "m2"; m.GGUF = nil; c.Models = append(c.Models, m) }, "repo org/model is also m-1b's"},
		{"gguf repo of two models", func(c *Catalog) { m := validModel(); m.ID, m.Repo = "m2", "org/m2"; c.Models = append(c.Models, m) }, "is also listed for m-1b"},
		{"bad id", func(c *Catalog) { c.Models[0].ID = "M 1B" }, "want lower-case letters"},
		{"bad repo", func(c *Catalog) { c.Models[0].Repo = "model" }, "want OWNER/NAME"},
		{"bad gguf repo", func(c *Catalog) { c.Models[0].GGUF[0].Repo = "hf.co/a/b" }, "want OWNER/NAME"},
		{"zero params", func(c *Catalog) { c.Models[0].Params.Value = 0 }, "params 0 is outside"},
		{"negative layers", func(c *Catalog) { c.Models[0].Layers.Value = -1 }, "layers -1 is outside"},
		{"kv heads not dividing", func(c *Catalog) { c.Models[0].KVHeads.Value = 5 }, "does not divide heads"},
		{"bad architecture", func(c *Catalog) { c.Models[0].Architecture.Value = "Llama 3" }, "model_type"},
		{"no name", func(c *Catalog) { c.Models[0].Name = " " }, "no name"},
		{"wrong version", func(c *Catalog) { c.Version = 2 }, "version 2"},
		{"no models", func(c *Catalog) { c.Models = nil }, "no models"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &Catalog{Version: Version, Models: []Model{validModel()}}
			tc.breakIt(c)
			err := c.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("error %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
			// the same through the file format
			data, jerr := json.Marshal(c)
			if jerr != nil {
				t.Fatal(jerr)
			}
			if _, perr := Parse(data); (perr == nil) != (err == nil) {
				t.Errorf("Parse: %v, Validate: %v", perr, err)
			}
		})
	}
}

func TestParseRejects(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{``, "not a catalog file"},
		{`[]`, "not a catalog file"},
		{`{"version":1,"models":[],"extra":1}`, "unknown field"},
		{`{"version":1,"models":[{"id":"a","name":"A","repo":"o/a","parameters":{"value":1,"source":"https://x.org"}}]}`, "unknown field"},
		{`{"version":1,"models":[{"id":"a","name":"A","repo":"o/a"}]} {}`, "data after"},
		{`{"version":1,"models":[{"id":"a","name":"A","repo":"o/a","params":{"value":"1B","source":"https://x.org"}}]}`, "not a catalog file"},
	} {
		if _, err := Parse([]byte(tc.in)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%q): %v, want %q", tc.in, err, tc.want)
		}
	}
}

func TestFilter(t *testing.T) {
	small := validModel()
	big := validModel()
	big.ID, big.Repo, big.GGUF = "big-8b", "org/big", nil
	big.Params.Value = 8e9
	big.License.Value = "llama3.1"
	big.Openness.Value = OpenWeights
	big.Tasks = []Fact[string]{{TaskChat, "https://x.org"}, {TaskFrench, "https://x.org"}}
	open := validModel()
	open.ID, open.Repo, open.GGUF = "open-1b", "org/open", nil
	open.Openness.Value = OpenSource
	open.Tasks = []Fact[string]{{TaskCode, "https://x.org"}}
	unknown := Model{ID: "bare", Name: "Bare", Repo: "org/bare"}
	c := &Catalog{Version: Version, Models: []Model{small, big, open, unknown}}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		f    Filter
		want string
	}{
		{"all", Filter{}, "m-1b big-8b open-1b bare"},
		{"chat", Filter{Task: TaskChat}, "m-1b big-8b"},
		{"code", Filter{Task: TaskCode}, "open-1b"},
		{"fr", Filter{Task: TaskFrench}, "big-8b"},
		{"permissive", Filter{Permissive: true}, "m-1b open-1b"},
		{"open source", Filter{OpenSource: true}, "open-1b"},
		{"max params 3B (unknown size excluded)", Filter{MaxParams: 3e9}, "m-1b open-1b"},
		{"max params 8B", Filter{MaxParams: 8e9}, "m-1b big-8b open-1b"},
		{"chat and permissive", Filter{Task: TaskChat, Permissive: true}, "m-1b"},
		{"nothing", Filter{Task: TaskFrench, Permissive: true}, ""},
		{"license id", Filter{License: "llama3.1"}, "big-8b"},
		{"license id, SPDX case", Filter{License: "Apache-2.0"}, "m-1b open-1b"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := c.Select(tc.f)
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, m := range got {
				ids = append(ids, m.ID)
			}
			if s := strings.Join(ids, " "); s != tc.want {
				t.Errorf("got %q, want %q", s, tc.want)
			}
		})
	}
	if _, err := c.Select(Filter{License: "wtfpl"}); err == nil || !strings.Contains(err.Error(), `unknown license "wtfpl": want permissive or one of apache-2.0`) {
		t.Errorf("unknown license: %v", err)
	}
	if _, err := c.Select(Filter{Task: "poetry"}); err == nil || !strings.Contains(err.Error(), `unknown task "poetry"`) {
		t.Errorf("unknown task: %v", err)
	}
}

// TestEmbeddedFilters checks the shipped catalog against the filters: what
// each keeps has the property asked for.
func TestEmbeddedFilters(t *testing.T) {
	c, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	perm, _ := c.Select(Filter{Permissive: true})
	for _, m := range perm {
		if l, _ := m.LicenseInfo(); !l.Permissive {
			t.Errorf("%s (%s) kept as permissive", m.ID, l.ID)
		}
	}
	if len(perm) == 0 || len(perm) == len(c.Models) {
		t.Errorf("--license permissive keeps %d of %d models", len(perm), len(c.Models))
	}
	if m := c.ByID("llama-3.2-1b-instruct"); m == nil || m.Permissive() {
		t.Error("Llama 3.2's community license is not permissive")
	}
	if m := c.ByGGUFRepo("BARTOWSKI/llama-3.2-1B-Instruct-GGUF"); m == nil || m.ID != "llama-3.2-1b-instruct" {
		t.Errorf("ByGGUFRepo: %v", m)
	}
	if m := c.ByGGUFRepo("nobody/nothing"); m != nil {
		t.Errorf("ByGGUFRepo of an unknown repo: %s", m.ID)
	}
	open, _ := c.Select(Filter{OpenSource: true})
	for _, m := range open {
		if !m.IsOpenSource() {
			t.Errorf("%s kept as open source", m.ID)
		}
	}
	if len(open) == 0 {
		t.Error("no open-source model")
	}
}

func TestParseCount(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"3B", 3e9, true}, {"1.5b", 1.5e9, true}, {"500M", 5e8, true}, {"135m", 135e6, true}, {"8G", 8e9, true},
		{"7000000", 7e6, true}, {"2K", 2000, true}, {"1T", 1e12, true},
		{"", 0, false}, {"B", 0, false}, {"-3B", 0, false}, {"0", 0, false}, {"3X", 0, false}, {"NaNB", 0, false}, {"1e20", 0, false},
	} {
		got, err := ParseCount(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseCount(%q) = %d, %v", tc.in, got, err)
		}
	}
	for _, tc := range []struct {
		n    int64
		want string
	}{{1230000000, "1.23B"}, {8e9, "8B"}, {135e6, "135M"}, {360e6, "360M"}, {490e6, "490M"}, {1500, "1.5K"}, {12, "12"}} {
		if got := FormatCount(tc.n); got != tc.want {
			t.Errorf("FormatCount(%d) = %q, want %q", tc.n, got, tc.want)
		}
	}
}

// FuzzParse: Parse never panics, and a catalog it accepts validates and
// survives a round trip.
func FuzzParse(f *testing.F) {
	f.Add(catalogJSON)
	f.Add([]byte(`{"version":1,"models":[{"id":"a","name":"A","repo":"o/a"}]}`))
	f.Add([]byte(`{"version":1,"models":[{"id":"a","name":"A","repo":"o/a","params":{"value":1000000,"source":"https://x.org"},"tasks":[{"value":"chat","source":"https://x.org"}]}]}`))
	f.Add([]byte(`{"models":null}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data)
		if err != nil {
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("Parse accepted an invalid catalog: %v", err)
		}
		out, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Parse(out); err != nil {
			t.Fatalf("round trip: %v", err)
		}
	})
}
