package chat

import (
	"encoding/json"
	"errors"
	"fmt"
)

// FromTokenizerConfig reads a Hugging Face tokenizer_config.json: it parses
// its chat_template (a string, or a list of {"name", "template"} entries of
// which "default" is used) and returns Options holding its bos_token and
// eos_token (each a string, an {"content": ...} object, or null for none).
// AddGenerationPrompt is left false.
func FromTokenizerConfig(data []byte) (*Template, Options, error) {
	var cfg struct {
		ChatTemplate json.RawMessage `json:"chat_template"`
		BOSToken     json.RawMessage `json:"bos_token"`
		EOSToken     json.RawMessage `json:"eos_token"`
	}
	if err := json.Unmarshal(data, &cfg); err != nil {
		return nil, Options{}, fmt.Errorf("chat: reading tokenizer_config.json: %w", err)
	}
	src, err := chatTemplateSource(cfg.ChatTemplate)
	if err != nil {
		return nil, Options{}, fmt.Errorf("chat: reading tokenizer_config.json: %w", err)
	}
	var opt Options
	if opt.BOSToken, err = tokenText(cfg.BOSToken); err != nil {
		return nil, Options{}, fmt.Errorf("chat: reading tokenizer_config.json: bos_token: %w", err)
	}
	if opt.EOSToken, err = tokenText(cfg.EOSToken); err != nil {
		return nil, Options{}, fmt.Errorf("chat: reading tokenizer_config.json: eos_token: %w", err)
	}
	t, err := Parse(src)
	if err != nil {
		return nil, Options{}, err
	}
	return t, opt, nil
}

// chatTemplateSource extracts the template text from a chat_template field.
func chatTemplateSource(raw json.RawMessage) (string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", errors.New("no chat_template field")
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s, nil
	}
	var named []struct {
		Name     string `json:"name"`
		Template string `json:"template"`
	}
	if err := json.Unmarshal(raw, &named); err != nil {
		return "", fmt.Errorf("chat_template must be a string or a list of {\"name\", \"template\"} objects: %w", err)
	}
	var names []string
	for _, n := range named {
		if n.Name == "default" {
			return n.Template, nil
		}
		names = append(names, n.Name)
	}
	return "", fmt.Errorf("chat_template lists the templates %q but none is named \"default\"", names)
}

// tokenText reads a special-token field: a string, an object with a
// "content" string (an AddedToken), or null/absent for none.
func tokenText(raw json.RawMessage) (string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s, nil
	}
	var obj struct {
		Content *string `json:"content"`
	}
	if err := json.Unmarshal(raw, &obj); err != nil || obj.Content == nil {
		return "", fmt.Errorf("expected a string, an object with a \"content\" string, or null; got %s", truncate(raw, 60))
	}
	return *obj.Content, nil
}

func truncate(b []byte, n int) string {
	if len(b) <= n {
		return string(b)
	}
	return string(b[:n]) + "..."
}
