package server

import (
	"encoding/json"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"

	"glassbox"
	"glassbox/internal/fixtures"
)

// TestEmbeddingsFromSDK: /v1/embeddings returns the SDK's embeddings
// (Model.EmbedIDs), normalised, for text and for token ids, with the model's
// own settings: with a batch of one token the engine takes its matrix-vector
// path, whose last bits differ from the batched one, so an endpoint that
// ignored Options.Batch would not match.
func TestEmbeddingsFromSDK(t *testing.T) {
	for _, batch := range []int{0, 1} {
		m, err := glassbox.Open(fixtures.Path(t, "gguf", "stories260K-f32.gguf"), &glassbox.Options{Batch: batch, Threads: 1})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { m.Close() })
		_, url := testServer(t, Config{Models: []Model{{Name: "stories", Model: m}}, Parallel: 1, Queue: 1})
		text := "Once upon a time, there was a little girl."
		ids := m.Encode(text, glassbox.GenerateOptions{})
		want, err := m.EmbedIDs(ids)
		if err != nil {
			t.Fatal(err)
		}
		normalize(want)
		idsJSON, _ := json.Marshal(ids)
		for _, input := range []string{`"` + text + `"`, string(idsJSON)} {
			status, _, body := post(t, url+"/v1/embeddings", `{"model":"stories","input":`+input+`}`, nil)
			var res struct {
				Data []struct {
					Embedding []float32 `json:"embedding"`
				} `json:"data"`
			}
			if err := json.Unmarshal(body, &res); status != http.StatusOK || err != nil || len(res.Data) != 1 {
				t.Fatalf("batch %d, input %s: status %d, %v: %s", batch, input, status, err, body)
			}
			if !reflect.DeepEqual(res.Data[0].Embedding, want) {
				t.Errorf("batch %d, input %.20s: the endpoint's embedding is not the SDK's", batch, input)
			}
		}
	}
}

// TestModelPageIsModelInfo: the model page is the SDK's ModelInfo (the path
// reduced to the file name) with the server's name and memory, under the
// names the page reads, and a dissection's meta event tells the same facts.
func TestModelPageIsModelInfo(t *testing.T) {
	srv, url := stdServer(t, nil)
	m := srv.models["stories"].model
	want, err := m.Info()
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(url + "/glassbox/models/stories")
	if err != nil {
		t.Fatal(err)
	}
	var page map[string]json.RawMessage
	err = json.NewDecoder(resp.Body).Decode(&page)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %v", resp.StatusCode, err)
	}
	keys := []string{"id", "path", "arch", "params", "params_stored", "layers", "heads", "kv_heads", "dim", "hidden_dim", "head_dim", "vocab", "tokenizer",
		"context_length", "context", "file_type", "tensor_types", "file_bytes", "kv_cache", "kv_cache_k", "kv_cache_bytes", "chat_template", "memory"}
	var got []string
	for k := range page {
		got = append(got, k)
	}
	slices.Sort(got)
	slices.Sort(keys)
	if !slices.Equal(got, keys) {
		t.Errorf("model page fields %v, want %v", got, keys)
	}
	var info glassbox.ModelInfo
	raw, _ := json.Marshal(page)
	if err := json.Unmarshal(raw, &info); err != nil {
		t.Fatal(err)
	}
	want.Path = "stories260K-f32.gguf"
	if !reflect.DeepEqual(info, want) {
		t.Errorf("model page %+v\nwant %+v", info, want)
	}
	if info.KVCacheBytes != m.KVCacheBytes() || info.KVCacheBytes != 5*64*128*2 {
		t.Errorf("kv_cache_bytes %d, Model.KVCacheBytes %d, want %d", info.KVCacheBytes, m.KVCacheBytes(), 5*64*128*2)
	}

	evs := dissectEvents(t, url+"/v1/dissect", `{"model":"stories","prompt":"Once","max_tokens":1,"trace":{"layers":[2]}}`)
	if len(evs) == 0 || evs[0].Type != glassbox.TraceTypeMeta || evs[0].Meta == nil {
		t.Fatalf("no meta event first: %+v", evs)
	}
	meta := *evs[0].Meta
	if wantMeta := want.TraceMeta("stories", []int{2}, meta.TracedHeads); !reflect.DeepEqual(meta, wantMeta) {
		t.Errorf("meta event %+v\nwant %+v", meta, wantMeta)
	}
	if len(meta.TracedHeads) != info.Heads || !strings.EqualFold(meta.QuantType, info.FileType) {
		t.Errorf("meta event %+v", meta)
	}
}

// TestModelPageOfClosedModel: once its model is closed, the model page
// answers 503 instead of reading unmapped weights (which crashed the process
// when the distinct parameters had not been counted before).
func TestModelPageOfClosedModel(t *testing.T) {
	m, err := glassbox.Open(fixtures.Path(t, "gguf", "stories260K-f32.gguf"), &glassbox.Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	_, url := testServer(t, Config{Models: []Model{{Name: "stories", Model: m}}, Parallel: 1, Queue: 1})
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(url + "/glassbox/models/stories")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("model page of a closed model: status %d, want 503", resp.StatusCode)
	}
}
