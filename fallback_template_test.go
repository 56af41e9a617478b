package glassbox

import (
	"bytes"
	"testing"

	"glassbox/internal/synth"
	"glassbox/models"
)

// TestFallbackChatTemplate: the fallback is the template of a file without
// one, never replaces a file's own, and ChatTemplate wins over both.
func TestFallbackChatTemplate(t *testing.T) {
	const fallback = "{% for m in messages %}{{ m.content }}{% endfor %}"
	const own = "{% for m in messages %}<|im_start|>{{ m.content }}{% endfor %}"
	const given = "{% for m in messages %}[{{ m.content }}]{% endfor %}"
	var chatModel bytes.Buffer
	if err := synth.WriteChat(&chatModel, own, 7); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		data []byte
		opts Options
		want string
	}{
		{"no template, fallback", models.Default, Options{FallbackChatTemplate: fallback}, fallback},
		{"no template, none", models.Default, Options{}, ""},
		{"own template kept", chatModel.Bytes(), Options{FallbackChatTemplate: fallback}, own},
		{"given wins", models.Default, Options{FallbackChatTemplate: fallback, ChatTemplate: given}, given},
		{"given wins over own", chatModel.Bytes(), Options{FallbackChatTemplate: fallback, ChatTemplate: given}, given},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := tc.opts
			o.Threads = 1
			m, err := OpenBytes("m", tc.data, &o)
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			if m.ChatTemplate() != tc.want || m.HasChatTemplate() != (tc.want != "") {
				t.Errorf("template %q, want %q", m.ChatTemplate(), tc.want)
			}
		})
	}
}
