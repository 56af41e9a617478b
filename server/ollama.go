package server

// The Ollama API (/api/...), on the same address as the OpenAI routes, for
// the clients that speak only it (Continue, Open WebUI, n8n, the ollama
// libraries). Generation goes through the same slots, sampler, grammar and
// tool-call machinery as the OpenAI routes; errors are Ollama's
// {"error": "..."} with its status codes; streams are NDJSON.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"text/template"
	"time"

	"glassbox"
)

// ollamaVersion is the version of Ollama's API that /api/version reports:
// the one whose routes and fields these handlers follow (clients compare it
// to enable features such as tools, structured outputs and thinking).
const ollamaVersion = "0.12.0"

// isOllamaPath reports whether a request path belongs to the Ollama API,
// whose errors are {"error": "message"}.
func isOllamaPath(p string) bool { return strings.HasPrefix(p, "/api/") }

// writeErrorFor answers err in the shape of the API the request path belongs to.
func writeErrorFor(w http.ResponseWriter, r *http.Request, err error) {
	if isOllamaPath(r.URL.Path) {
		writeOllamaError(w, err)
		return
	}
	writeError(w, err)
}

// writeOllamaError answers err as Ollama does: {"error": "message"} with the
// status of the error (500 for errors that are not *APIError).
func writeOllamaError(w http.ResponseWriter, err error) {
	var ae *APIError
	if !errors.As(err, &ae) {
		ae = serverError(err)
	}
	if ae.RetryAfter > 0 {
		w.Header().Set("Retry-After", fmt.Sprint(ae.RetryAfter))
	}
	writeJSON(w, ae.Status, map[string]string{"error": ae.Message})
}

// ollamaNotFound is Ollama's answer for a model it does not have.
func ollamaNotFound(name, why string) *APIError {
	msg := fmt.Sprintf("model '%s' not found", name)
	if why != "" {
		msg += ": " + why
	}
	return &APIError{Status: http.StatusNotFound, Type: "invalid_request_error", Param: "model", Code: "model_not_found", Message: msg}
}

// ollamaName is the name /api/tags lists a served model under: its name,
// with Ollama's default tag ":latest" when it has none.
func ollamaName(name string) string {
	if strings.Contains(name, ":") {
		return name
	}
	return name + ":latest"
}

// ollamaLookup finds the model a request names, loading it if needed: a
// model the server has or can load, or the same with Ollama's tag ":latest"
// (compared case-insensitively, as Ollama's names are).
func (s *Server) ollamaLookup(ctx context.Context, name string) (*entry, error) {
	if strings.TrimSpace(name) == "" {
		return nil, badRequest("model", "model is required")
	}
	canon, err := s.resolve(name)
	if err != nil && s.cfg.Load == nil && s.cfg.Store != nil {
		if _, serr := s.cfg.Store.Lookup(name); serr == nil {
			return nil, ollamaNotFound(name, "it is in the store but this server does not serve it (serve it with glassbox serve -m "+name+")")
		}
	}
	if err != nil {
		var names []string
		for _, c := range s.catalog() {
			names = append(names, ollamaName(c.Name))
		}
		return nil, ollamaNotFound(name, "this server has "+strings.Join(names, ", "))
	}
	return s.lookup(ctx, canon)
}

// OllamaOptions is the "options" object of Ollama's generate, chat and
// embed requests, kept raw and read by ollamaParams.
type OllamaOptions map[string]json.RawMessage

// ollamaDefaults are Ollama's default sampling settings (api.DefaultOptions),
// which its routes start from instead of llama.cpp's.
var ollamaDefaults = struct {
	temperature, topP, minP, repeatPenalty float32
	topK, repeatLastN                      int
}{temperature: 0.8, topP: 0.9, minP: 0, repeatPenalty: 1.1, topK: 40, repeatLastN: 64}

// ollamaIgnored are the options Ollama takes at load time or that change
// nothing here: accepted and ignored (a model is loaded once, with the
// server's flags).
var ollamaIgnored = map[string]bool{
	"num_keep": true, "num_batch": true, "num_gpu": true, "main_gpu": true, "use_mmap": true, "use_mlock": true,
	"num_thread": true, "numa": true, "low_vram": true, "f16_kv": true, "vocab_only": true, "logits_all": true,
	"embedding_only": true, "penalize_newline": true, "mirostat_eta": true, "mirostat_tau": true, "num_gqa": true,
	"rope_frequency_base": true, "rope_frequency_scale": true,
}

// ollamaParams are a request's options read into the OpenAI route's fields.
type ollamaParams struct {
	sf         SamplingFields
	numPredict *int // nil: Ollama's -1 (no limit)
	stop       StopList
	numCtx     int // 0 when not given
}

// optInt reads an integer option; Ollama accepts a number with no fraction.
func optInt(key string, raw json.RawMessage) (int, error) {
	var f float64
	if err := json.Unmarshal(raw, &f); err != nil || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
		return 0, badRequest("options."+key, "invalid value for option '%s': expected an integer, got %s", key, shorten(raw))
	}
	return int(f), nil
}

// optFloat reads a number option.
func optFloat(key string, raw json.RawMessage) (float32, error) {
	var f float64
	if err := json.Unmarshal(raw, &f); err != nil {
		return 0, badRequest("options."+key, "invalid value for option '%s': expected a number, got %s", key, shorten(raw))
	}
	return float32(f), nil
}

// read turns Ollama's options into sampling fields, starting from Ollama's
// defaults. Unknown options are ignored, as Ollama does; options of
// samplers glassbox does not have are refused unless they ask for nothing.
func (o OllamaOptions) read() (ollamaParams, error) {
	d := ollamaDefaults
	p := ollamaParams{}
	p.sf.Temperature, p.sf.TopP, p.sf.MinP, p.sf.RepeatPenalty = &d.temperature, &d.topP, &d.minP, &d.repeatPenalty
	p.sf.TopK, p.sf.RepeatLastN = &d.topK, &d.repeatLastN
	for key, raw := range o {
		if bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
			continue
		}
		var err error
		switch key {
		case "temperature", "top_p", "min_p", "repeat_penalty", "presence_penalty", "frequency_penalty":
			var v float32
			if v, err = optFloat(key, raw); err == nil {
				switch key {
				case "temperature":
					p.sf.Temperature = &v
				case "top_p":
					p.sf.TopP = &v
				case "min_p":
					p.sf.MinP = &v
				case "repeat_penalty":
					p.sf.RepeatPenalty = &v
				case "presence_penalty":
					p.sf.PresencePenalty = &v
				case "frequency_penalty":
					p.sf.FrequencyPenalty = &v
				}
			}
		case "top_k", "repeat_last_n", "seed", "num_predict", "num_ctx":
			var v int
			if v, err = optInt(key, raw); err != nil {
				break
			}
			switch key {
			case "top_k":
				p.sf.TopK = &v
			case "repeat_last_n":
				p.sf.RepeatLastN = &v
			case "seed":
				if v >= 0 { // Ollama: a negative seed draws a random one
					s := int64(v)
					p.sf.Seed = &s
				}
			case "num_predict":
				if v < -2 {
					return p, badRequest("options.num_predict", "invalid value for option 'num_predict': expected -1 (no limit), -2 (fill the context), 0 (only process the prompt) or a positive integer, got %d", v)
				}
				p.numPredict = &v
			case "num_ctx":
				if v < 1 {
					return p, badRequest("options.num_ctx", "invalid value for option 'num_ctx': expected a positive integer, got %d", v)
				}
				p.numCtx = v
			}
		case "stop":
			err = json.Unmarshal(raw, &p.stop)
			if err != nil {
				err = badRequest("options.stop", "invalid value for option 'stop': expected a string or an array of strings, got %s", shorten(raw))
			}
		case "typical_p", "tfs_z":
			var v float32
			if v, err = optFloat(key, raw); err == nil && v != 1 {
				err = badRequest("options."+key, "option '%s' is not supported (only 1, off): use temperature, top_k, top_p and min_p", key)
			}
		case "mirostat":
			var v int
			if v, err = optInt(key, raw); err == nil && v != 0 {
				err = badRequest("options.mirostat", "option 'mirostat' is not supported (only 0, off): use temperature, top_k, top_p and min_p")
			}
		default:
			_ = ollamaIgnored[key] // load-time and unknown options are ignored, as Ollama does
		}
		if err != nil {
			return p, err
		}
	}
	return p, nil
}

// genParams validates the options as the OpenAI routes do (with their
// messages) and returns the generation settings; warmup is num_predict 0.
func (p *ollamaParams) genParams(e *entry, format json.RawMessage, stream bool) (g genParams, warmup bool, err error) {
	sf := p.sf
	if err := setFormat(&sf, format); err != nil {
		return g, false, err
	}
	var maxTokens *int
	if p.numPredict != nil && *p.numPredict > 0 {
		maxTokens = p.numPredict
	}
	if g, err = checkCommon(&sf, maxTokens, nil, p.stop, stream, nil); err != nil {
		return g, false, err
	}
	if p.numCtx > 0 && p.numCtx > e.model.ContextSize() {
		return g, false, badRequest("options.num_ctx", "option 'num_ctx' is %d but the slots of model %s hold %d positions (set with glassbox serve -c): ask for at most %d",
			p.numCtx, e.name, e.model.ContextSize(), e.model.ContextSize())
	}
	if err := g.resolveBias(e); err != nil {
		return g, false, err
	}
	return g, p.numPredict != nil && *p.numPredict == 0, nil
}

// setFormat reads Ollama's "format": "json" (any JSON object) or a JSON
// schema the output must follow; "" and null ask for nothing.
func setFormat(sf *SamplingFields, format json.RawMessage) error {
	f := bytes.TrimSpace(format)
	if len(f) == 0 || bytes.Equal(f, []byte("null")) || bytes.Equal(f, []byte(`""`)) {
		return nil
	}
	var s string
	if err := json.Unmarshal(f, &s); err == nil {
		if s != "json" {
			return badRequest("format", `invalid format %q: expected "json" or a JSON schema object`, s)
		}
		sf.ResponseFormat = json.RawMessage(`{"type":"json_object"}`)
		return nil
	}
	if f[0] != '{' {
		return badRequest("format", `invalid format %s: expected "json" or a JSON schema object`, shorten(f))
	}
	src, err := glassbox.JSONSchemaGrammar(f)
	if err != nil {
		return badRequest("format", "invalid format: the JSON schema cannot constrain the output: %v", err)
	}
	sf.Grammar = src
	return nil
}

// parseKeepAlive reads "keep_alive": a duration such as "5m" or "-1", or a
// number of seconds (nil when absent). Negative: the model stays loaded;
// 0: it is unloaded at the end of the request.
func parseKeepAlive(raw json.RawMessage) (*time.Duration, error) {
	b := bytes.TrimSpace(raw)
	if len(b) == 0 || bytes.Equal(b, []byte("null")) {
		return nil, nil
	}
	seconds := func(f float64) (*time.Duration, error) {
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, badRequest("keep_alive", "invalid value for 'keep_alive': expected a finite number of seconds, got %s", shorten(b))
		}
		d := time.Duration(-1)
		if f >= 0 {
			d = time.Duration(min(f*float64(time.Second), float64(math.MaxInt64/2)))
		}
		return &d, nil
	}
	var f float64
	if err := json.Unmarshal(b, &f); err == nil {
		return seconds(f)
	}
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		if d, err := time.ParseDuration(s); err == nil {
			if d < 0 {
				d = -1
			}
			return &d, nil
		}
		if f, err := strconv.ParseFloat(strings.TrimSpace(s), 64); err == nil {
			return seconds(f)
		}
		return nil, badRequest("keep_alive", "invalid value for 'keep_alive': expected a duration such as \"5m\" or \"-1\", or a number of seconds, got %q", s)
	}
	return nil, badRequest("keep_alive", "invalid value for 'keep_alive': expected a duration such as \"5m\" or a number of seconds, got %s", shorten(b))
}

// ndjson writes a stream of JSON lines (application/x-ndjson), as Ollama streams.
type ndjson struct {
	w     http.ResponseWriter
	rc    *http.ResponseController
	began bool
}

func newNDJSON(w http.ResponseWriter) *ndjson {
	return &ndjson{w: w, rc: http.NewResponseController(w)}
}

// send writes one line and flushes it.
func (n *ndjson) send(v any) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("encode event: %w", err)
	}
	if !n.began {
		n.began = true
		n.w.Header().Set("Content-Type", "application/x-ndjson")
		n.w.Header().Set("Cache-Control", "no-cache")
		n.w.Header().Set("X-Accel-Buffering", "no")
		n.w.WriteHeader(http.StatusOK)
	}
	if _, err := n.w.Write(buf.Bytes()); err != nil {
		return err
	}
	return n.rc.Flush()
}

// failed ends a stream with Ollama's {"error": ...} line (nothing when the
// client went away); without a stream, the error is the response.
func (n *ndjson) failed(ctx context.Context, err error) error {
	if n == nil || !n.began {
		return err
	}
	if ctx.Err() == nil {
		var ae *APIError
		if !errors.As(err, &ae) {
			ae = serverError(err)
		}
		n.send(map[string]string{"error": ae.Message})
	}
	return nil
}

// ollamaTimes are the counts and durations (nanoseconds) of a final
// response. TokensCached (glassbox) is the prompt prefix reused from the
// slot's cache: prompt_eval_count counts every prompt token, cached or not,
// and prompt_eval_duration the time spent on the others.
type ollamaTimes struct {
	TotalDuration      int64 `json:"total_duration"`
	LoadDuration       int64 `json:"load_duration"`
	PromptEvalCount    int   `json:"prompt_eval_count"`
	PromptEvalDuration int64 `json:"prompt_eval_duration"`
	EvalCount          int   `json:"eval_count"`
	EvalDuration       int64 `json:"eval_duration"`
	TokensCached       int   `json:"tokens_cached"`
}

func timesOf(ctx context.Context, start time.Time, prompt int, res *glassbox.Result) *ollamaTimes {
	t := &ollamaTimes{TotalDuration: time.Since(start).Nanoseconds(), LoadDuration: loadWait(ctx).Nanoseconds(), PromptEvalCount: prompt}
	if res != nil {
		t.PromptEvalDuration = res.Timings.PromptDuration.Nanoseconds()
		t.EvalCount = len(res.IDs)
		t.EvalDuration = res.Timings.GenDuration.Nanoseconds()
		t.TokensCached = res.Timings.CachedTokens
	}
	return t
}

// doneReason is Ollama's name of a finish reason.
func doneReason(fr string) string {
	if fr == glassbox.FinishLength {
		return "length"
	}
	return "stop"
}

func nowRFC3339() string { return time.Now().UTC().Format(time.RFC3339Nano) }

// noImages refuses images: the models read text only.
func noImages(field string, images []string, e *entry) error {
	if len(images) > 0 {
		return badRequest(field, "images are not supported: model %s reads text only (send the request without '%s')", e.name, field)
	}
	return nil
}

// OllamaGenerateRequest is the body of POST /api/generate.
type OllamaGenerateRequest struct {
	Model     string          `json:"model"`
	Prompt    string          `json:"prompt"`
	Suffix    string          `json:"suffix"`
	System    string          `json:"system"`
	Template  string          `json:"template"`
	Context   []int           `json:"context"`
	Stream    *bool           `json:"stream"`
	Raw       bool            `json:"raw"`
	Format    json.RawMessage `json:"format"`
	Images    []string        `json:"images"`
	Options   OllamaOptions   `json:"options"`
	KeepAlive json.RawMessage `json:"keep_alive"`
	Think     json.RawMessage `json:"think"`
}

// ollamaGenerateResponse is a line of /api/generate's stream and its final object.
type ollamaGenerateResponse struct {
	Model      string `json:"model"`
	CreatedAt  string `json:"created_at"`
	Response   string `json:"response"`
	Thinking   string `json:"thinking,omitempty"`
	Done       bool   `json:"done"`
	DoneReason string `json:"done_reason,omitempty"`
	Context    []int  `json:"context,omitempty"`
	*ollamaTimes
}

// ollamaTemplateData are the fields of an Ollama (Go text/template) template.
type ollamaTemplateData struct {
	System, Prompt, Suffix, Response string
}

// renderOllamaTemplate renders a request's "template": a Go template with
// .System, .Prompt, .Suffix and .Response, as Ollama's templates have.
func renderOllamaTemplate(src string, d ollamaTemplateData) (string, error) {
	t, err := template.New("template").Funcs(template.FuncMap{
		"json": func(v any) (string, error) { b, err := json.Marshal(v); return string(b), err },
	}).Parse(src)
	if err != nil {
		return "", badRequest("template", "invalid value for 'template': %v", err)
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, d); err != nil {
		return "", badRequest("template", "invalid value for 'template': %v", err)
	}
	return buf.String(), nil
}

// thinkVars turns Ollama's "think" (true, false, or "high" / "medium" /
// "low") into chat template variables; think reports whether the reply's
// reasoning is returned.
func thinkVars(raw json.RawMessage) (vars map[string]any, think bool, err error) {
	b := bytes.TrimSpace(raw)
	if len(b) == 0 || bytes.Equal(b, []byte("null")) {
		return nil, true, nil
	}
	var on bool
	if err := json.Unmarshal(b, &on); err == nil {
		return map[string]any{"enable_thinking": on}, on, nil
	}
	var level string
	if err := json.Unmarshal(b, &level); err == nil {
		switch level {
		case "high", "medium", "low":
			return map[string]any{"enable_thinking": true, "reasoning_effort": level}, true, nil
		}
	}
	return nil, false, badRequest("think", `invalid value for 'think': expected true, false, "high", "medium" or "low", got %s`, shorten(b))
}

// generatePrompt builds the prompt of /api/generate: the request's template
// rendered, a fill-in-the-middle prompt for a suffix, the prompt as it is
// (raw, or a model without a chat template), or the prompt as the user's
// message of the model's chat template with the system message. A chat
// prompt comes with its reply reader (reasoning and content).
func (s *Server) generatePrompt(ctx context.Context, e *entry, req *OllamaGenerateRequest, vars map[string]any) ([]int, *glassbox.ChatPrompt, error) {
	var ids []int
	var chatP *glassbox.ChatPrompt
	switch {
	case req.Template != "":
		text, err := renderOllamaTemplate(req.Template, ollamaTemplateData{System: req.System, Prompt: req.Prompt, Suffix: req.Suffix})
		if err != nil {
			return nil, nil, err
		}
		ids = e.model.EncodeChat(text, glassbox.GenerateOptions{})
	case req.Suffix != "":
		var err error
		if ids, err = fimPrompt(e, req.Prompt, req.Suffix, ""); err != nil {
			return nil, nil, err
		}
	case req.Raw || !e.model.HasChatTemplate():
		ids = e.model.Encode(req.Prompt, glassbox.GenerateOptions{})
	default:
		var msgs []ChatMessage
		if req.System != "" {
			msgs = append(msgs, ChatMessage{Role: "system", Content: MessageContent(req.System)})
		}
		msgs = append(msgs, ChatMessage{Role: "user", Content: MessageContent(req.Prompt)})
		var err error
		if ids, chatP, err = s.chatPromptTools(ctx, e, msgs, glassbox.ChatOptions{TemplateVars: vars}); err != nil {
			return nil, nil, err
		}
	}
	if len(req.Context) > 0 {
		if err := checkIDs(e, req.Context, "context"); err != nil {
			return nil, nil, err
		}
		tok := e.model.Tokenizer()
		if len(ids) > 0 && tok.BOS() >= 0 && ids[0] == tok.BOS() {
			ids = ids[1:]
		}
		ids = append(append([]int(nil), req.Context...), ids...)
	}
	if len(ids) == 0 {
		return nil, nil, badRequest("prompt", "the prompt has no tokens (an empty prompt and no BOS token)")
	}
	if err := contextError(e, len(ids)); err != nil {
		err.(*APIError).Param = "prompt"
		return nil, nil, err
	}
	return ids, chatP, nil
}

func (s *Server) ollamaGenerate(w http.ResponseWriter, r *http.Request) error {
	start := time.Now()
	var req OllamaGenerateRequest
	if err := decodeJSON(r.Body, &req); err != nil {
		return err
	}
	keepAlive, err := parseKeepAlive(req.KeepAlive)
	if err != nil {
		return err
	}
	if keepAlive != nil {
		setKeepAlive(r.Context(), *keepAlive)
	}
	e, err := s.ollamaLookup(r.Context(), req.Model)
	if err != nil {
		return err
	}
	if err := noImages("images", req.Images, e); err != nil {
		return err
	}
	vars, think, err := thinkVars(req.Think)
	if err != nil {
		return err
	}
	opts, err := req.Options.read()
	if err != nil {
		return err
	}
	stream := req.Stream == nil || *req.Stream
	g, warmup, err := opts.genParams(e, req.Format, false)
	if err != nil {
		return err
	}
	if req.Prompt == "" && req.Suffix == "" && len(req.Context) == 0 && req.Template == "" {
		// Ollama's way to load a model (and, with keep_alive 0, to unload it)
		writeJSON(w, http.StatusOK, ollamaGenerateResponse{Model: req.Model, CreatedAt: nowRFC3339(), Done: true, DoneReason: loadReason(keepAlive)})
		return nil
	}
	ids, chatP, err := s.generatePrompt(r.Context(), e, &req, vars)
	if err != nil {
		return err
	}
	if err := s.slotFit(e, len(ids), g.maxTokens); err != nil {
		return err
	}
	sl, err := s.acquire(r.Context(), e, g.slotKey(ids))
	if err != nil {
		return err
	}
	defer e.pool.release(sl)

	var st *ndjson
	if stream {
		st = newNDJSON(w)
	}
	var rd *glassbox.ReplyReader
	if chatP != nil {
		rd = chatP.NewReader()
		g.special = chatP.Special
	}
	line := func(text, thinking string) ollamaGenerateResponse {
		if !think {
			thinking = ""
		}
		return ollamaGenerateResponse{Model: req.Model, CreatedAt: nowRFC3339(), Response: text, Thinking: thinking}
	}
	var streamed int
	res, err := s.run(r.Context(), e, sl, genJob{ids, g.seedFor(0)}, &g, start, func(t glassbox.Token) error {
		if warmup {
			return errLimit // num_predict 0: the prompt is in the cache, nothing to generate
		}
		if st == nil || t.Text == "" {
			return nil
		}
		streamed += len(t.Text)
		text, thinking := t.Text, ""
		if rd != nil {
			d := rd.Add(t.Text)
			text, thinking = d.Content, d.Reasoning
			if text == "" && (thinking == "" || !think) {
				return nil
			}
		}
		return st.send(line(text, thinking))
	})
	if err != nil {
		return st.failed(r.Context(), err)
	}
	gen := res.IDs
	text := res.Text
	if warmup {
		gen, text = nil, ""
	}
	final := line("", "")
	if rd != nil {
		if st == nil {
			rd.Add(text)
			_, msg, _ := rd.Finish(res.FinishReason)
			final = line(msg.Content, msg.ReasoningContent)
		} else {
			if rest := text[min(streamed, len(text)):]; rest != "" {
				d := rd.Add(rest)
				final = line(d.Content, d.Reasoning)
			}
			d, _, _ := rd.Finish(res.FinishReason)
			final.Response += d.Content
			if think {
				final.Thinking += d.Reasoning
			}
		}
	} else if st == nil {
		final.Response = text
	} else {
		final.Response = text[min(streamed, len(text)):]
	}
	final.Done, final.DoneReason = true, doneReason(res.FinishReason)
	ctxIDs := append([]int(nil), ids...)
	for _, id := range gen {
		if !e.isEOG(id) {
			ctxIDs = append(ctxIDs, id)
		}
	}
	final.Context = ctxIDs
	final.ollamaTimes = timesOf(r.Context(), start, len(ids), res)
	final.EvalCount = len(gen)
	noteTokens(r.Context(), e.name, len(ids), len(gen))
	if st != nil {
		return st.send(final)
	}
	writeJSON(w, http.StatusOK, final)
	return nil
}

// OllamaMessage is a message of /api/chat.
type OllamaMessage struct {
	Role      string           `json:"role"`
	Content   string           `json:"content"`
	Thinking  string           `json:"thinking,omitempty"`
	Images    []string         `json:"images,omitempty"`
	ToolCalls []OllamaToolCall `json:"tool_calls,omitempty"`
	ToolName  string           `json:"tool_name,omitempty"`
	// ToolCallID (glassbox and newer Ollama) is the id of the call a tool
	// message answers.
	ToolCallID string `json:"tool_call_id,omitempty"`
}

// OllamaToolCall is a tool call in Ollama's shape: the arguments are an object.
type OllamaToolCall struct {
	ID       string             `json:"id,omitempty"`
	Function OllamaToolFunction `json:"function"`
}

// OllamaToolFunction is the function of an OllamaToolCall.
type OllamaToolFunction struct {
	Index     int             `json:"index"`
	Name      string          `json:"name"`
	Arguments json.RawMessage `json:"arguments"`
}

// OllamaChatRequest is the body of POST /api/chat.
type OllamaChatRequest struct {
	Model     string          `json:"model"`
	Messages  []OllamaMessage `json:"messages"`
	Tools     []ChatTool      `json:"tools"`
	Format    json.RawMessage `json:"format"`
	Options   OllamaOptions   `json:"options"`
	Stream    *bool           `json:"stream"`
	KeepAlive json.RawMessage `json:"keep_alive"`
	Think     json.RawMessage `json:"think"`
}

// ollamaChatResponse is a line of /api/chat's stream and its final object.
type ollamaChatResponse struct {
	Model      string        `json:"model"`
	CreatedAt  string        `json:"created_at"`
	Message    OllamaMessage `json:"message"`
	Done       bool          `json:"done"`
	DoneReason string        `json:"done_reason,omitempty"`
	*ollamaTimes
}

// chatMessages turns Ollama's messages into the OpenAI route's: arguments
// objects become JSON text, tool_name the tool message's name, thinking the
// reasoning given back to the template.
func (req *OllamaChatRequest) chatMessages(e *entry) ([]ChatMessage, error) {
	out := make([]ChatMessage, len(req.Messages))
	for i, m := range req.Messages {
		if err := noImages(fmt.Sprintf("messages[%d].images", i), m.Images, e); err != nil {
			return nil, err
		}
		cm := ChatMessage{Role: m.Role, Content: MessageContent(m.Content), Name: m.ToolName, ToolCallID: m.ToolCallID, ReasoningContent: m.Thinking}
		for j, c := range m.ToolCalls {
			args := bytes.TrimSpace(c.Function.Arguments)
			var text string
			switch {
			case len(args) == 0 || bytes.Equal(args, []byte("null")):
				text = "{}"
			case args[0] == '{':
				text = string(args)
			case json.Unmarshal(args, &text) == nil: // arguments as JSON text, as OpenAI sends them
			default:
				return nil, badRequest(fmt.Sprintf("messages[%d].tool_calls[%d].function.arguments", i, j),
					"invalid value for 'messages[%d].tool_calls[%d].function.arguments': expected an object, got %s", i, j, shorten(args))
			}
			id := c.ID
			if id == "" {
				id = fmt.Sprintf("call_%d_%d", i, j)
			}
			cm.ToolCalls = append(cm.ToolCalls, ChatToolCall{ID: id, Type: "function", Function: ChatToolFunction{Name: c.Function.Name, Arguments: text}})
		}
		out[i] = cm
	}
	// a tool message without an id answers the latest call of its name (or the latest call)
	var calls []ChatToolCall
	for i := range out {
		calls = append(calls, out[i].ToolCalls...)
		if out[i].Role != "tool" || out[i].ToolCallID != "" {
			continue
		}
		for k := len(calls) - 1; k >= 0; k-- {
			if out[i].Name == "" || calls[k].Function.Name == out[i].Name {
				out[i].ToolCallID = calls[k].ID
				if out[i].Name == "" {
					out[i].Name = calls[k].Function.Name
				}
				break
			}
		}
	}
	return out, nil
}

// ollamaToolCalls turns a reply's tool calls into Ollama's shape.
func ollamaToolCalls(calls []glassbox.ToolCall) []OllamaToolCall {
	var out []OllamaToolCall
	for i, c := range calls {
		args := json.RawMessage(c.Function.Arguments)
		if !json.Valid(args) || len(bytes.TrimSpace(args)) == 0 {
			b, _ := json.Marshal(c.Function.Arguments) // not JSON: kept as a string
			args = b
		}
		out = append(out, OllamaToolCall{ID: c.ID, Function: OllamaToolFunction{Index: i, Name: c.Function.Name, Arguments: args}})
	}
	return out
}

func (s *Server) ollamaChat(w http.ResponseWriter, r *http.Request) error {
	start := time.Now()
	var req OllamaChatRequest
	if err := decodeJSON(r.Body, &req); err != nil {
		return err
	}
	keepAlive, err := parseKeepAlive(req.KeepAlive)
	if err != nil {
		return err
	}
	if keepAlive != nil {
		setKeepAlive(r.Context(), *keepAlive)
	}
	e, err := s.ollamaLookup(r.Context(), req.Model)
	if err != nil {
		return err
	}
	vars, think, err := thinkVars(req.Think)
	if err != nil {
		return err
	}
	opts, err := req.Options.read()
	if err != nil {
		return err
	}
	stream := req.Stream == nil || *req.Stream
	g, warmup, err := opts.genParams(e, req.Format, false)
	if err != nil {
		return err
	}
	if len(req.Messages) == 0 {
		// Ollama's way to load a model (and, with keep_alive 0, to unload it)
		writeJSON(w, http.StatusOK, ollamaChatResponse{Model: req.Model, CreatedAt: nowRFC3339(), Message: OllamaMessage{Role: "assistant"}, Done: true, DoneReason: loadReason(keepAlive)})
		return nil
	}
	msgs, err := req.chatMessages(e)
	if err != nil {
		return err
	}
	creq := ChatRequest{Model: e.name, Messages: msgs, Tools: req.Tools, ChatTemplateKwargs: vars}
	if _, err := creq.validate(); err != nil {
		return err
	}
	copts, err := creq.chatOptions()
	if err != nil {
		return err
	}
	ids, p, err := s.chatPromptTools(r.Context(), e, msgs, copts)
	if err != nil {
		return err
	}
	g.special = p.Special
	if err := contextError(e, len(ids)); err != nil {
		return err
	}
	if err := s.slotFit(e, len(ids), g.maxTokens); err != nil {
		return err
	}
	sl, err := s.acquire(r.Context(), e, g.slotKey(ids))
	if err != nil {
		return err
	}
	defer e.pool.release(sl)

	var st *ndjson
	if stream {
		st = newNDJSON(w)
	}
	rd := p.NewReader()
	line := func(d glassbox.ChatDelta) (ollamaChatResponse, bool) {
		m := OllamaMessage{Role: "assistant", Content: d.Content}
		if think {
			m.Thinking = d.Reasoning
		}
		return ollamaChatResponse{Model: req.Model, CreatedAt: nowRFC3339(), Message: m}, m.Content != "" || m.Thinking != ""
	}
	sent := 0
	res, err := s.run(r.Context(), e, sl, genJob{ids, g.seedFor(0)}, &g, start, func(t glassbox.Token) error {
		if warmup {
			return errLimit
		}
		if st == nil || t.Text == "" {
			return nil
		}
		sent += len(t.Text)
		if l, ok := line(rd.Add(t.Text)); ok {
			return st.send(l)
		}
		return nil
	})
	if err != nil {
		return st.failed(r.Context(), err)
	}
	gen, text := res.IDs, res.Text
	if warmup {
		gen, text = nil, ""
	}
	var final ollamaChatResponse
	if st == nil {
		rd.Add(text)
		_, msg, _ := rd.Finish(res.FinishReason)
		final, _ = line(glassbox.ChatDelta{Content: msg.Content, Reasoning: msg.ReasoningContent})
		final.Message.ToolCalls = ollamaToolCalls(msg.ToolCalls)
	} else {
		if rest := text[min(sent, len(text)):]; rest != "" {
			if l, ok := line(rd.Add(rest)); ok {
				if err := st.send(l); err != nil {
					return err
				}
			}
		}
		d, msg, _ := rd.Finish(res.FinishReason)
		if l, ok := line(d); ok {
			if err := st.send(l); err != nil {
				return err
			}
		}
		if len(msg.ToolCalls) > 0 { // Ollama sends each call whole, before the final line
			l, _ := line(glassbox.ChatDelta{})
			l.Message.ToolCalls = ollamaToolCalls(msg.ToolCalls)
			if err := st.send(l); err != nil {
				return err
			}
		}
		final, _ = line(glassbox.ChatDelta{})
	}
	final.Done, final.DoneReason = true, doneReason(res.FinishReason)
	final.ollamaTimes = timesOf(r.Context(), start, len(ids), res)
	final.EvalCount = len(gen)
	noteTokens(r.Context(), e.name, len(ids), len(gen))
	if st != nil {
		return st.send(final)
	}
	writeJSON(w, http.StatusOK, final)
	return nil
}

// loadReason is the done_reason of a request without a prompt: "unload"
// with keep_alive 0 (the model is unloaded once it is answered), else "load".
func loadReason(keepAlive *time.Duration) string {
	if keepAlive != nil && *keepAlive == 0 {
		return "unload"
	}
	return "load"
}
