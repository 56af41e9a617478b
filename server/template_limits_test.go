package server

import (
	"encoding/json"
	"strings"
	"testing"
)

// A chat template that exceeds a rendering limit gets a 400 naming the
// limit, on chat completions and dissections, instead of hanging the server.
func TestChatTemplateLimits(t *testing.T) {
	tests := []struct{ name, template, limit string }{
		{"range", "{% for i in range(100000000) %}x{% endfor %}", "exceeded the range limit: range(100000000) would produce 100000000 items"},
		{"memory", "{{ 'x' * 1000000000 }}", "exceeded the memory limit"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := modelCopy(t, "hostile", map[string]any{"tokenizer.chat_template": tc.template})
			_, base := testServer(t, Config{Models: []Model{{Name: "hostile", Model: openModel(t, path, 0)}}})
			for _, route := range []string{"/v1/chat/completions", "/v1/dissect"} {
				status, _, body := post(t, base+route, `{"model": "hostile", "messages": [{"role": "user", "content": "hi"}]}`, nil)
				var e struct {
					Error struct {
						Message string `json:"message"`
						Param   string `json:"param"`
					} `json:"error"`
				}
				if err := json.Unmarshal(body, &e); err != nil {
					t.Fatalf("%s: %d %s", route, status, body)
				}
				if status != 400 || e.Error.Param != "messages" || !strings.Contains(e.Error.Message, tc.limit) {
					t.Errorf("%s: %d %s, want 400 naming %q", route, status, body, tc.limit)
				}
			}
		})
	}
}
