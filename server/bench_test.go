package server

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
)

func BenchmarkDecodeChatRequest(b *testing.B) {
	body := []byte(`{"model":"chat","messages":[{"role":"system","content":"You are helpful."},{"role":"user","content":[{"type":"text","text":"Once upon a time"}]}],` +
		`"max_tokens":64,"temperature":0.7,"top_p":0.9,"stop":["\n\n","END"],"stream":true,"stream_options":{"include_usage":true},"logprobs":true,"top_logprobs":5}`)
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		var r ChatRequest
		if err := unmarshalRequest(body, &r); err != nil {
			b.Fatal(err)
		}
		if _, err := r.validate(); err != nil {
			b.Fatal(err)
		}
	}
}

// benchmarkChat measures a whole request: decoding, templating, 8 generated
// tokens on stories260K and the (streamed) response.
func benchmarkChat(b *testing.B, stream bool) {
	_, base := testServer(b, Config{Models: []Model{{Name: "chat", Model: openModel(b, chatModelPath(b), 0)}}})
	body := `{"messages":[{"role":"user","content":"Once upon a time"}],"max_tokens":8,"temperature":0,"stream":` + map[bool]string{true: "true", false: "false"}[stream] + `}`
	for b.Loop() {
		resp, err := http.Post(base+"/v1/chat/completions", "application/json", strings.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		var sb bytes.Buffer
		_, err = sb.ReadFrom(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 {
			b.Fatalf("%d %v %s", resp.StatusCode, err, sb.String())
		}
	}
}

func BenchmarkChatCompletion(b *testing.B)       { benchmarkChat(b, false) }
func BenchmarkChatCompletionStream(b *testing.B) { benchmarkChat(b, true) }
