package server

import (
	"errors"
	"testing"
)

// fuzzDecode decodes and validates a body the way a handler does: it must
// either succeed or give an *APIError with a 4xx status and a message.
func fuzzDecode(t *testing.T, data []byte, v any, validate func() error) {
	err := unmarshalRequest(data, v)
	if err == nil {
		err = validate()
	}
	if err == nil {
		return
	}
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status < 400 || ae.Status >= 500 || ae.Message == "" || ae.Type == "" {
		t.Fatalf("body %q: error %#v, want a 4xx API error with a message", data, err)
	}
}

var fuzzSeeds = []string{
	`{"model":"chat","messages":[{"role":"user","content":"hi"}],"max_tokens":4,"stream":true,"stream_options":{"include_usage":true}}`,
	`{"messages":[{"role":"system","content":null},{"role":"user","content":[{"type":"text","text":"a"}]}],"logprobs":true,"top_logprobs":3}`,
	`{"prompt":["a","b"],"n":2,"stop":["\n","x"],"temperature":0.5,"top_p":0.9,"seed":-4}`,
	`{"prompt":[[1,2],[3]],"logprobs":2,"echo":false,"suffix":"z","top_k":4,"min_p":0.1}`,
	`{"input":[[1,2,3]],"encoding_format":"base64"}`,
	`{"input":"text","dimensions":3}`,
	`{"temperature":"hot","n":1e99,"max_tokens":-1}`,
	`{"logit_bias":{"5":-100,"x":1}}`, `{"logit_bias":[[5,false],["Lily",100],[1]]}`, `{"logit_bias":{"7":1e9}}`,
	`{"tools":[{"type":"function"}],"response_format":{"type":"text"},"messages":[{"role":"assistant","tool_calls":[]}]}`,
	`{"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object","properties":{"a":{"type":["string","null"]}},"required":["a"]}}}],"tool_choice":{"type":"function","function":{"name":"f"}},"parallel_tool_calls":false}`,
	`{"tool_choice":"required","chat_template_kwargs":{"enable_thinking":false},"messages":[{"role":"tool","tool_call_id":"c","content":"x"},{"role":"assistant","reasoning_content":"r","tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{}"}}]}]}`,
	`[]`, `null`, `{"stop":5}`, `{"messages":[{"role":"user","content":{"x":1}}]}`,
}

func FuzzChatRequest(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var r ChatRequest
		fuzzDecode(t, data, &r, func() error {
			if _, err := r.validate(); err != nil {
				return err
			}
			_, err := r.chatOptions()
			return err
		})
	})
}

func FuzzCompletionRequest(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var r CompletionRequest
		fuzzDecode(t, data, &r, func() error { _, err := r.validate(); return err })
	})
}

func FuzzEmbeddingRequest(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var r EmbeddingRequest
		fuzzDecode(t, data, &r, r.validate)
	})
}

func FuzzInfillRequest(f *testing.F) {
	for _, s := range append(fuzzSeeds, `{"input_prefix":"a","input_suffix":"b","n_predict":-1,"n_probs":3}`) {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var r InfillRequest
		fuzzDecode(t, data, &r, func() error { _, err := r.validate(); return err })
	})
}
