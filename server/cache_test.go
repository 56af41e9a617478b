package server

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"glassbox"
	"glassbox/gguf"
	"glassbox/internal/synth"
	"glassbox/tensor"
)

// chatTurn posts a chat completion and returns the reply and its usage.
func chatTurn(t testing.TB, base, body string) (string, usage) {
	t.Helper()
	code, _, b := post(t, base+"/v1/chat/completions", body, nil)
	if code != 200 {
		t.Fatalf("%d %s", code, b)
	}
	var out struct {
		Choices []struct {
			Message struct {
				Content string `json:"content"`
			} `json:"message"`
		} `json:"choices"`
		Usage usage `json:"usage"`
	}
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out.Choices[0].Message.Content, out.Usage
}

// TestChatSecondTurnReusesCache: the second turn of a chat starts with the
// first turn's prompt and reply, so its slot reuses them: cached_tokens is
// the common prefix of the slot's tokens and the new prompt, and the reply
// is the one a fresh slot (cache_prompt false) gives.
func TestChatSecondTurnReusesCache(t *testing.T) {
	s, base := testServer(t, Config{Models: []Model{{Name: "chat", Model: openModel(t, chatModelPath(t), 0)}}})
	turn1 := `[{"role":"user","content":"Once upon a time"}]`
	reply, u1 := chatTurn(t, base, `{"messages":`+turn1+`,"max_tokens":8,"temperature":0}`)
	if u1.PromptTokensDetails.CachedTokens != 0 {
		t.Errorf("first turn reused %d tokens of an empty cache", u1.PromptTokensDetails.CachedTokens)
	}
	e := s.order[0]
	held := append([]int(nil), e.pool.all[0].last...)
	msgs := []ChatMessage{{Role: "user", Content: "Once upon a time"}, {Role: "assistant", Content: MessageContent(reply)}, {Role: "user", Content: " Then the dog"}}
	ids, _, err := s.chatPromptTools(t.Context(), e, msgs, glassbox.ChatOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := min(commonPrefix(held, ids), len(ids)-1)
	if want < u1.PromptTokens {
		t.Fatalf("the second prompt shares %d tokens with the slot, fewer than the first prompt's %d: %v vs %v", want, u1.PromptTokens, held, ids)
	}
	m, _ := json.Marshal(msgs)
	cached, u2 := chatTurn(t, base, `{"messages":`+string(m)+`,"max_tokens":8,"temperature":0}`)
	if u2.PromptTokensDetails.CachedTokens != want || u2.PromptTokens != len(ids) {
		t.Errorf("second turn: %d of %d prompt tokens cached, want %d of %d", u2.PromptTokensDetails.CachedTokens, u2.PromptTokens, want, len(ids))
	}
	fresh, u3 := chatTurn(t, base, `{"messages":`+string(m)+`,"max_tokens":8,"temperature":0,"cache_prompt":false}`)
	if u3.PromptTokensDetails.CachedTokens != 0 {
		t.Errorf("cache_prompt false reused %d tokens", u3.PromptTokensDetails.CachedTokens)
	}
	if cached != fresh {
		t.Errorf("the reply with the cache %q differs from a fresh slot's %q", cached, fresh)
	}
	// the metrics count the hit and the reused tokens
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, line := range []string{
		`glassbox_prompt_cache_hits_total{model="chat"} 1`,
		fmt.Sprintf(`glassbox_prompt_cache_hit_tokens_total{model="chat"} %d`, want),
	} {
		if !strings.Contains(string(b), line+"\n") {
			t.Errorf("/metrics lacks %q", line)
		}
	}
}

// TestSlotChoice: with two slots, a prompt goes back to the slot holding its
// prefix, and an unrelated prompt (sharing only BOS) takes the other slot
// instead of evicting it.
func TestSlotChoice(t *testing.T) {
	_, base := testServer(t, Config{Models: []Model{{Name: "stories", Model: openModel(t, fimModelPath(t), 0)}}, Parallel: 2})
	complete := func(prompt string) usage {
		t.Helper()
		code, _, b := post(t, base+"/v1/completions", fmt.Sprintf(`{"prompt":%q,"max_tokens":2,"temperature":0}`, prompt), nil)
		if code != 200 {
			t.Fatalf("%d %s", code, b)
		}
		var out struct{ Usage usage }
		if err := json.Unmarshal(b, &out); err != nil {
			t.Fatal(err)
		}
		return out.Usage
	}
	a := "Once upon a time, there was a little girl named Lily"
	complete(a)
	if u := complete("The dog ran to the park"); u.PromptTokensDetails.CachedTokens != 0 {
		t.Errorf("an unrelated prompt reused %d tokens", u.PromptTokensDetails.CachedTokens)
	}
	if u := complete(a); u.PromptTokensDetails.CachedTokens != u.PromptTokens-1 {
		t.Errorf("the repeated prompt reused %d of its %d tokens, want all but the last", u.PromptTokensDetails.CachedTokens, u.PromptTokens)
	}
	// GET /slots shows both caches, idle
	resp, err := http.Get(base + "/slots")
	if err != nil {
		t.Fatal(err)
	}
	var slots []slotInfo
	if err := json.NewDecoder(resp.Body).Decode(&slots); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if len(slots) != 2 || slots[0].IsProcessing || slots[1].IsProcessing || slots[0].TokensCached == 0 || slots[1].TokensCached == 0 || slots[0].NCtx != 128 {
		t.Fatalf("slots %+v", slots)
	}
	// erase empties one
	code, _, b := post(t, base+"/slots/1?action=erase", ``, nil)
	if code != 200 || !strings.Contains(string(b), `"id_slot":1`) {
		t.Fatalf("erase: %d %s", code, b)
	}
	for _, c := range []struct {
		url  string
		code int
		msg  string
	}{
		{"/slots/1?action=save", 501, "start it with --slot-save-path"},
		{"/slots/1?action=nope", 400, "expected erase, save or restore"},
		{"/slots/7?action=erase", 404, "slots 0 to 1"},
	} {
		code, _, b := post(t, base+c.url, ``, nil)
		if code != c.code || !strings.Contains(string(b), c.msg) {
			t.Errorf("%s: %d %s", c.url, code, b)
		}
	}
}

// BenchmarkChatSecondTurn measures the time to the first token of a chat's
// first turn (a ~1,000-token user message, processed whole: cache_prompt
// false) and of its second turn (the same message, the reply and a short new
// one, the slot's cache reused). It reports both, in ms, with the tokens the
// second turn reused. The model is $GLASSBOX_BENCH_MODEL (a GGUF file; a chat
// template is added) or a synthetic 4-layer Llama of width 256.
func BenchmarkChatSecondTurn(b *testing.B) {
	dir := b.TempDir()
	src := os.Getenv("GLASSBOX_BENCH_MODEL")
	if src == "" {
		src = filepath.Join(dir, "synth.gguf")
		f, err := os.Create(src)
		if err != nil {
			b.Fatal(err)
		}
		shape := synth.Shape{Dim: 256, Hidden: 704, Layers: 4, Heads: 4, KVHeads: 4, Vocab: 2000, Context: 2048}
		if err := synth.Write(f, shape, tensor.Q8_0, 1); err != nil {
			b.Fatal(err)
		}
		f.Close()
	}
	path := filepath.Join(dir, "chat.gguf")
	if err := gguf.Rewrite(src, path, map[string]any{"tokenizer.chat_template": chatTemplate}); err != nil {
		b.Fatal(err)
	}
	m, err := glassbox.Open(path, &glassbox.Options{Context: 2048})
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	_, base := testServer(b, Config{Models: []Model{{Name: "chat", Model: m}}})
	var long strings.Builder
	for i := 0; len(m.Encode(long.String(), glassbox.GenerateOptions{})) < 1000; i++ { // about 1,000 tokens
		fmt.Fprintf(&long, "line %d of the story. ", i)
	}
	first, _ := json.Marshal([]ChatMessage{{Role: "user", Content: MessageContent(long.String())}})
	var t1, t2 time.Duration
	var cached, prompt int
	for b.Loop() {
		start := time.Now()
		reply, u1 := chatTurn(b, base, `{"messages":`+string(first)+`,"max_tokens":1,"temperature":0,"cache_prompt":false}`)
		t1 += time.Since(start)
		second, _ := json.Marshal([]ChatMessage{{Role: "user", Content: MessageContent(long.String())}, {Role: "assistant", Content: MessageContent(reply)}, {Role: "user", Content: "And then?"}})
		start = time.Now()
		_, u2 := chatTurn(b, base, `{"messages":`+string(second)+`,"max_tokens":1,"temperature":0}`)
		t2 += time.Since(start)
		if u2.PromptTokensDetails.CachedTokens < u1.PromptTokens-1 {
			b.Fatalf("the second turn reused %d tokens, the first turn's prompt has %d", u2.PromptTokensDetails.CachedTokens, u1.PromptTokens)
		}
		cached, prompt = u2.PromptTokensDetails.CachedTokens, u2.PromptTokens
	}
	n := float64(b.N)
	b.ReportMetric(float64(t1.Microseconds())/1000/n, "ms-first-turn")
	b.ReportMetric(float64(t2.Microseconds())/1000/n, "ms-second-turn")
	b.ReportMetric(float64(cached), "tokens-cached")
	b.ReportMetric(float64(prompt), "prompt-tokens")
}
