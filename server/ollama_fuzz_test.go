package server

import (
	"encoding/json"
	"testing"
)

var ollamaFuzzSeeds = []string{
	`{"model":"chat","prompt":"hi","suffix":"end","system":"s","template":"{{ .Prompt }}","context":[1,2],"stream":false,"raw":true,"format":"json","images":[],"options":{"temperature":0,"top_k":40,"num_predict":8,"stop":["\n"],"seed":-1,"num_ctx":64,"mirostat":0,"typical_p":1,"num_thread":4},"keep_alive":"5m","think":true}`,
	`{"model":"chat","messages":[{"role":"user","content":"x","images":["aGk="]},{"role":"assistant","content":"","thinking":"t","tool_calls":[{"function":{"name":"f","arguments":{"a":1}}},{"id":"c","function":{"index":1,"name":"g","arguments":"{\"b\":2}"}}]},{"role":"tool","tool_name":"f","content":"1"},{"role":"tool","content":"2"}],"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object"}}}],"format":{"type":"object","properties":{"a":{"type":"string"}}},"think":"high","keep_alive":0}`,
	`{"model":"m","input":["a","b"],"truncate":false,"dimensions":3,"prompt":"p","keep_alive":-1}`,
	`{"options":{"top_k":"many","num_predict":2.5,"stop":7,"repeat_last_n":1e99,"frequency_penalty":null}}`,
	`{"format":"yaml","keep_alive":"forever","think":"max"}`, `{"format":[1]}`, `{"keep_alive":{"a":1}}`,
	`{"messages":[{"role":"assistant","tool_calls":[{"function":{"arguments":7}}]}]}`,
	`[]`, `null`, `{"options":[]}`,
}

// FuzzOllamaRequest decodes and checks the bodies of /api/generate,
// /api/chat and /api/embed as their handlers do (up to the model): any
// input gives a request or a 4xx error with a message, never a panic.
func FuzzOllamaRequest(f *testing.F) {
	for _, s := range ollamaFuzzSeeds {
		f.Add([]byte(s))
	}
	e := &entry{name: "m"}
	f.Fuzz(func(t *testing.T, data []byte) {
		var g OllamaGenerateRequest
		fuzzDecode(t, data, &g, func() error {
			if err := noImages("images", g.Images, e); err != nil {
				return err
			}
			if err := keepAliveErr(g.KeepAlive); err != nil {
				return err
			}
			if _, _, err := thinkVars(g.Think); err != nil {
				return err
			}
			if _, err := g.Options.read(); err != nil {
				return err
			}
			var sf SamplingFields
			if err := setFormat(&sf, g.Format); err != nil {
				return err
			}
			_, err := sf.grammar()
			return err
		})
		var c OllamaChatRequest
		fuzzDecode(t, data, &c, func() error {
			msgs, err := c.chatMessages(e)
			if err != nil {
				return err
			}
			vars, _, err := thinkVars(c.Think)
			if err != nil {
				return err
			}
			creq := ChatRequest{Messages: msgs, Tools: c.Tools, ChatTemplateKwargs: vars}
			if len(msgs) > 0 {
				if _, err := creq.validate(); err != nil {
					return err
				}
			}
			_, err = creq.chatOptions()
			return err
		})
		var em OllamaEmbedRequest
		fuzzDecode(t, data, &em, func() error { return keepAliveErr(em.KeepAlive) })
	})
}

// keepAliveErr is the error of parseKeepAlive alone.
func keepAliveErr(raw json.RawMessage) error {
	_, err := parseKeepAlive(raw)
	return err
}
