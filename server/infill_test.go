package server

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"glassbox"
)

// Repository-level FIM token ids given to a test copy of stories260K.
const fimRep, fimSep = 403, 404

// infillResult posts an /infill body to the "fim" or "repo" model and decodes the answer.
func infillResult(t *testing.T, base, body string) map[string]any {
	t.Helper()
	status, _, resp := post(t, base+"/infill", body, nil)
	if status != 200 {
		t.Fatalf("/infill %s: %d %s", body, status, resp)
	}
	var out map[string]any
	if err := json.Unmarshal(resp, &out); err != nil {
		t.Fatalf("%s: %v", resp, err)
	}
	return out
}

// TestInfillFields checks each field llama.vim and llama.vscode send to
// /infill against the model's own greedy continuation of the prompt
// llama.cpp's layout gives.
func TestInfillFields(t *testing.T) {
	repoPath := modelCopy(t, "repo", map[string]any{
		"tokenizer.ggml.fim_pre_token_id": uint32(fimPre), "tokenizer.ggml.fim_suf_token_id": uint32(fimSuf),
		"tokenizer.ggml.fim_mid_token_id": uint32(fimMid), "tokenizer.ggml.fim_rep_token_id": uint32(fimRep),
		"tokenizer.ggml.fim_sep_token_id": uint32(fimSep),
	})
	srv, base := stdServer(t, func(c *Config) {
		c.Models = append(c.Models, Model{Name: "repo", Model: openModel(t, repoPath, 0)})
	})
	greedy := func(name string, ids []int, n int) string {
		t.Helper()
		m := srv.models[name].model
		sess, err := m.NewSession()
		if err != nil {
			t.Fatal(err)
		}
		res, err := sess.Generate(context.Background(), glassbox.Request{Prompt: ids, MaxTokens: n})
		if err != nil {
			t.Fatal(err)
		}
		return res.Text
	}
	tok := srv.models["fim"].model.Tokenizer()
	enc := func(s string) []int { return tok.Encode(s, glassbox.EncodeOptions{}) }
	cat := func(parts ...[]int) []int {
		var out []int
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}
	prefix, suffix, extra := "Once upon a time", " They were happy.", "Lily had a cat."
	fimTail := cat([]int{tok.BOS(), fimPre}, enc(prefix), []int{fimSuf}, enc(suffix), []int{fimMid})

	t.Run("input_extra with repository tokens", func(t *testing.T) {
		want := cat([]int{fimRep}, enc("myproject\n"), []int{fimSep}, enc("cat.txt\n"), enc(extra), []int{fimSep}, enc("filename\n"), fimTail)
		out := infillResult(t, base, fmt.Sprintf(`{"model":"repo","input_prefix":%q,"input_suffix":%q,"input_extra":[{"filename":"cat.txt","text":%q}],"n_predict":8,"temperature":0}`, prefix, suffix, extra))
		if out["content"] != greedy("repo", want, 8) || int(out["tokens_evaluated"].(float64)) != len(want) {
			t.Errorf("content %q from %v tokens, want %q from %d", out["content"], out["tokens_evaluated"], greedy("repo", want, 8), len(want))
		}
	})
	t.Run("input_extra without repository tokens", func(t *testing.T) {
		want := cat(enc("\n\n--- snippet ---\n\n"), enc(extra), fimTail)
		out := infillResult(t, base, fmt.Sprintf(`{"model":"fim","input_prefix":%q,"input_suffix":%q,"input_extra":[{"filename":"cat.txt","text":%q}],"n_predict":8,"temperature":0}`, prefix, suffix, extra))
		if out["content"] != greedy("fim", want, 8) || int(out["tokens_evaluated"].(float64)) != len(want) {
			t.Errorf("content %q from %v tokens, want %q from %d", out["content"], out["tokens_evaluated"], greedy("fim", want, 8), len(want))
		}
	})
	t.Run("n_predict 0 warm-up fills the cache", func(t *testing.T) {
		body := fmt.Sprintf(`{"model":"fim","input_prefix":%q,"input_suffix":%q,"n_predict":0,"cache_prompt":true,"t_max_prompt_ms":500}`, prefix+" warm", suffix)
		out := infillResult(t, base, body)
		if out["content"] != "" || len(out["tokens"].([]any)) != 0 || out["tokens_predicted"] != nil || out["stop_type"] != "none" {
			t.Errorf("warm-up answered %v", out)
		}
		again := infillResult(t, base, strings.Replace(body, `"n_predict":0`, `"n_predict":4`, 1))
		if cached, evaluated := again["tokens_cached"].(float64), again["tokens_evaluated"].(float64); cached != evaluated-1 && cached != evaluated {
			t.Errorf("after the warm-up, %v of %v prompt tokens came from the cache", cached, evaluated)
		}
	})
	t.Run("response_fields", func(t *testing.T) {
		out := infillResult(t, base, fmt.Sprintf(`{"model":"fim","input_prefix":%q,"n_predict":3,"temperature":0,"response_fields":["content","timings/prompt_n","truncated","nope/x"]}`, prefix))
		if len(out) != 2 || out["content"] == nil || out["timings/prompt_n"] == nil {
			t.Errorf("response_fields gave %v, want content and timings/prompt_n only", out)
		}
	})
	t.Run("n_indent", func(t *testing.T) {
		// find a continuation with a new line, then ask for more indentation than its next line has
		ids := cat([]int{tok.BOS(), fimPre}, enc(prefix), []int{fimSuf, fimMid})
		full := greedy("fim", ids, 60)
		nl := strings.IndexByte(full, '\n')
		if nl < 0 || strings.TrimSpace(full[nl:]) == "" {
			t.Skipf("the model's continuation %q has no second line", full)
		}
		rest := full[nl+1:]
		indent := len(rest) - len(strings.TrimLeft(rest, " \t"))
		out := infillResult(t, base, fmt.Sprintf(`{"model":"fim","input_prefix":%q,"n_predict":60,"temperature":0,"n_indent":%d}`, prefix, indent+1))
		if want := full[:nl+1+indent]; out["content"] != want || out["stop_type"] != "limit" {
			t.Errorf("n_indent %d: %q (%v), want %q cut at the less indented line of %q", indent+1, out["content"], out["stop_type"], want, full)
		}
		if out := infillResult(t, base, fmt.Sprintf(`{"model":"fim","input_prefix":%q,"n_predict":60,"temperature":0,"n_indent":%d}`, prefix, indent)); !strings.HasPrefix(full, out["content"].(string)) || len(out["content"].(string)) <= nl+1+indent {
			t.Errorf("n_indent %d cut %q of %q", indent, out["content"], full)
		}
	})
	t.Run("t_max_predict_ms", func(t *testing.T) {
		ids := cat([]int{tok.BOS(), fimPre}, enc(prefix), []int{fimSuf, fimMid})
		full := greedy("fim", ids, 60)
		nl := strings.IndexByte(full, '\n')
		if nl < 0 {
			t.Skipf("the model's continuation %q has no new line", full)
		}
		// 1 ms has passed by the time the token after the first new line comes
		out := infillResult(t, base, fmt.Sprintf(`{"model":"fim","input_prefix":%q,"n_predict":60,"temperature":0,"t_max_predict_ms":1}`, prefix))
		got := out["content"].(string)
		// (on a machine fast enough to write it all within 1 ms, no cut)
		if !strings.HasPrefix(full, got) || !strings.Contains(got, "\n") || len(got) < len(full) && out["stop_type"] != "limit" {
			t.Errorf("t_max_predict_ms 1: %q (%v), want a prefix of %q ending after its first new line", got, out["stop_type"], full)
		}
	})
}

// TestIndentCut: n_indent and t_max_predict_ms on token pieces, with a fake clock.
func TestIndentCut(t *testing.T) {
	for _, tc := range []struct {
		name      string
		nIndent   int
		maxMS     int
		pieces    []string
		want      string
		stopAfter int // index of the piece that stops (-1: none)
	}{
		{"no limits", 0, 0, []string{"a", "\n", "b"}, "a\nb", -1},
		{"indented enough", 2, 0, []string{"x", "\n  ", "y"}, "x\n  y", -1},
		{"less indented line", 2, 0, []string{"x", "\n", " y", "z"}, "x\n ", 2},
		{"cut inside a piece", 1, 0, []string{"x\nfoo", "bar"}, "x\n", 0},
		{"an empty line ends it, as in llama.cpp", 1, 0, []string{"x\n", "\n", "\tz"}, "x\n", 1},
		{"time without new line", 0, 5, []string{"a", "b", "c"}, "abc", -1},
		{"time after a new line", 0, 5, []string{"a", "\n", "b", "c"}, "a\nb", 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			now := time.Unix(0, 0)
			c := &indentCut{nIndent: tc.nIndent, maxPredict: time.Duration(tc.maxMS) * time.Millisecond, now: func() time.Time { return now }}
			var got strings.Builder
			stopped := -1
			for i, p := range tc.pieces {
				keep, stop := c.add(p)
				got.WriteString(keep)
				now = now.Add(3 * time.Millisecond)
				if stop {
					stopped = i
					break
				}
			}
			if got.String() != tc.want || stopped != tc.stopAfter {
				t.Errorf("kept %q, stopped at %d; want %q, %d", got.String(), stopped, tc.want, tc.stopAfter)
			}
		})
	}
}
