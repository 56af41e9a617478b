package main

import (
	"encoding/json"
	"strings"
	"testing"

	"glassbox/catalog"
)

func TestCatalogCmd(t *testing.T) {
	for _, tc := range []struct {
		name       string
		args       []string
		has, lacks []string
	}{
		{"all", nil, []string{"llama-3.2-1b-instruct", "qwen3-0.6b", "pythia-160m", "gpt_neox (not run by glassbox)", "apache-2.0 (permissive)", "Every fact has a source"}, nil},
		{"code", []string{"--task", "code"}, []string{"qwen2.5-coder-1.5b-instruct", "phi-3-mini-4k-instruct"}, []string{"llama-3.2-1b-instruct", "pythia"}},
		{"permissive", []string{"--license", "permissive"}, []string{"qwen3-0.6b", "phi-4-mini-instruct"}, []string{"llama-3.2", "gemma", "qwen2.5-3b-instruct"}},
		{"license id", []string{"--license", "mit"}, []string{"phi-3-mini-4k-instruct", "phi-4-mini-instruct"}, []string{"qwen3"}},
		{"open source under 1B", []string{"--open-source", "--max-params", "1B"}, []string{"smollm2-135m-instruct", "pythia-1b", "olmo-2-0425-1b-instruct"},
			[]string{"smollm2-1.7b", "qwen", "tinyllama"}},
		{"French, permissive", []string{"--task", "fr", "--license", "permissive"}, []string{"qwen3-8b", "smollm3-3b"}, []string{"llama", "gemma"}},
		{"nothing", []string{"--task", "code", "--open-source"}, []string{"No model of the catalog passes these filters."}, []string{"ID"}},
		{"one model", []string{"qwen3-0.6b"}, []string{"Qwen3 0.6B", "context length   32768", "https://huggingface.co/Qwen/Qwen3-0.6B/blob/main/config.json",
			"glassbox pull hf.co/unsloth/Qwen3-0.6B-GGUF:Q4_K_M", "apache-2.0 (Apache License 2.0, permissive)"}, nil},
		{"a model glassbox does not run", []string{"pythia-160m"}, []string{"gpt_neox (glassbox does not run it)", "layers           12"}, nil},
		{"a fact without a source", []string{"gemma-3-4b-it"}, []string{"layers           unknown (no source)"}, []string{"glassbox does not run it"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, _, err := execute(t, newCatalogCmd(), "", tc.args...)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range tc.has {
				if !strings.Contains(out, s) {
					t.Errorf("output lacks %q:\n%s", s, out)
				}
			}
			for _, s := range tc.lacks {
				if strings.Contains(out, s) {
					t.Errorf("output has %q:\n%s", s, out)
				}
			}
		})
	}
	out, _, err := execute(t, newCatalogCmd(), "", "--json", "--task", "code", "--max-params", "3B")
	if err != nil {
		t.Fatal(err)
	}
	var ms []catalog.Model
	if err := json.Unmarshal([]byte(out), &ms); err != nil {
		t.Fatalf("--json: %v\n%s", err, out)
	}
	if len(ms) == 0 {
		t.Fatal("--json: no models")
	}
	for _, m := range ms {
		if !m.Suits("code") || m.Params == nil || m.Params.Value > 3e9 || m.Params.Source == "" {
			t.Errorf("--json kept %s", m.ID)
		}
	}
	out, _, err = execute(t, newCatalogCmd(), "", "--json", "--task", "code", "--open-source")
	if err != nil || strings.TrimSpace(out) != "[]" {
		t.Errorf("--json with nothing kept: %q, %v", out, err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--task", "poetry"}, `unknown task "poetry": want one of code, chat, fr`},
		{[]string{"--license", "wtfpl"}, `unknown license "wtfpl"`},
		{[]string{"--max-params", "lots"}, `--max-params: "lots" is not a count`},
		{[]string{"no-such-model"}, `"no-such-model" is not in the catalog`},
	} {
		if _, _, err := execute(t, newCatalogCmd(), "", tc.args...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want %q", tc.args, err, tc.want)
		}
	}
}
