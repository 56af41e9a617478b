package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
)

// The APIs a request field belongs to.
const (
	apiChat       = 1 << iota // /v1/chat/completions and /v1/dissect
	apiCompletion             // /v1/completions
	apiInfill                 // /infill
	apiEmbedding              // /v1/embeddings

	apiGenerate = apiChat | apiCompletion | apiInfill
)

// unsupportedField is a request field of the OpenAI or llama.cpp API that
// glassbox does not implement. A request that gives it a value other than
// the ones that ask for nothing (harmless) gets a 400 naming the field,
// rather than a reply that silently ignores it.
type unsupportedField struct {
	name     string
	apis     int
	harmless []string // JSON values that change nothing, such as null or "none"
	why      string   // what is unsupported and what to do instead
}

// unsupportedFields is the one list of the fields glassbox rejects. Fields
// of the OpenAI API that do not change the reply (user, store, metadata,
// service_tier, prompt_cache_key, prompt_cache_retention, safety_identifier)
// are accepted and ignored; see docs/serving.md.
var unsupportedFields = []unsupportedField{
	// OpenAI chat completions
	{"functions", apiChat, []string{`null`, `[]`}, "the deprecated function calling is not supported: use 'tools' and 'tool_choice'"},
	{"function_call", apiChat, []string{`null`, `"none"`, `"auto"`}, "the deprecated function calling is not supported: use 'tools' and 'tool_choice'"},
	{"audio", apiChat, []string{`null`}, "audio output is not supported: the models read and write text"},
	{"modalities", apiChat, []string{`null`, `["text"]`}, `the models read and write text only: only ["text"]`},
	{"prediction", apiChat, []string{`null`}, "predicted outputs are not supported"},
	{"reasoning_effort", apiChat, []string{`null`, `"none"`}, "reasoning effort is not supported: the models do not reason before replying"},
	{"verbosity", apiChat, []string{`null`}, "verbosity is not supported: limit the reply with max_tokens"},
	{"web_search_options", apiChat, []string{`null`}, "web search is not supported: the server answers from the model alone"},
	// OpenAI completions
	{"best_of", apiCompletion, []string{`null`, `1`}, "best_of > 1 is not supported: ask for n choices and pick one"},
	// OpenAI embeddings
	{"dimensions", apiEmbedding, []string{`null`}, "the embedding has the model's width"},
	// llama.cpp extensions that glassbox's sampler does not have
	{"mirostat", apiGenerate, []string{`null`, `0`}, "mirostat sampling is not supported: use temperature, top_k, top_p and min_p"},
	{"typical_p", apiGenerate, []string{`null`, `1`}, "locally typical sampling is not supported: use temperature, top_k, top_p and min_p"},
	{"dry_multiplier", apiGenerate, []string{`null`, `0`}, "DRY repetition penalty is not supported: use repeat_penalty, presence_penalty or frequency_penalty"},
	{"xtc_probability", apiGenerate, []string{`null`, `0`}, "XTC sampling is not supported: use temperature, top_k, top_p and min_p"},
	{"samplers", apiGenerate, []string{`null`}, "the sampler chain has a fixed order: logit bias, penalties, top_k, top_p, min_p, temperature"},
}

// unsupportedMessageFields are the fields of a chat message that glassbox
// rejects (with the same meaning as unsupportedFields).
var unsupportedMessageFields = []unsupportedField{
	{"function_call", apiChat, []string{`null`}, "the deprecated function calling is not supported: use 'tool_calls'"},
	{"audio", apiChat, []string{`null`}, "audio is not supported: the models read and write text"},
}

// apiRequest is a request body whose unsupported fields are checked.
type apiRequest interface{ api() int }

func (*ChatRequest) api() int       { return apiChat }
func (*DissectRequest) api() int    { return apiChat }
func (*CompletionRequest) api() int { return apiCompletion }
func (*InfillRequest) api() int     { return apiInfill }
func (*EmbeddingRequest) api() int  { return apiEmbedding }

// checkUnsupported answers 400 for the first unsupported field of the JSON
// object data (and of its messages) that asks for something.
func checkUnsupported(data []byte, api int) error {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(data, &obj); err != nil {
		return nil // not an object: the request's own decoding reports it
	}
	if err := checkFields(obj, api, unsupportedFields, ""); err != nil {
		return err
	}
	if api != apiChat {
		return nil
	}
	var msgs []map[string]json.RawMessage
	if json.Unmarshal(obj["messages"], &msgs) != nil {
		return nil
	}
	for i, m := range msgs {
		if err := checkFields(m, api, unsupportedMessageFields, fmt.Sprintf("messages[%d].", i)); err != nil {
			return err
		}
	}
	return nil
}

func checkFields(obj map[string]json.RawMessage, api int, fields []unsupportedField, prefix string) error {
	for _, f := range fields {
		raw, ok := obj[f.name]
		if !ok || f.apis&api == 0 || f.isHarmless(raw) {
			continue
		}
		name := prefix + f.name
		return badRequest(name, "'%s' is not supported: %s (got %s)", name, f.why, shorten(raw))
	}
	return nil
}

func (f *unsupportedField) isHarmless(raw json.RawMessage) bool {
	var got any
	if json.Unmarshal(raw, &got) != nil {
		return false
	}
	for _, h := range f.harmless {
		var want any
		if json.Unmarshal([]byte(h), &want) == nil && reflect.DeepEqual(got, want) {
			return true
		}
	}
	return false
}

// shorten compacts a JSON value for an error message, cut at 80 bytes.
func shorten(raw json.RawMessage) string {
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil {
		b.Reset()
		b.Write(raw)
	}
	s := b.String()
	if len(s) > 80 {
		s = strings.ToValidUTF8(s[:77], "") + "..."
	}
	return s
}
