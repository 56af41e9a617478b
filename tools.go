package glassbox

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"glassbox/chat"
	"glassbox/tokenizer"
)

// Tool calling: the types of the OpenAI API, given to the model's chat
// template as Hugging Face's conventions say (tools, and tool_calls on
// assistant messages), and read back from the reply in the syntax of the
// model's family (chat.ToolFormat).
type (
	// Tool is a tool the model may call: {"type": "function", "function":
	// {"name", "description", "parameters"}}.
	Tool = chat.Tool
	// ToolFunction describes a function tool; Parameters is the JSON Schema
	// of its arguments.
	ToolFunction = chat.ToolFunction
	// ToolCall is one call the model made (Message.ToolCalls).
	ToolCall = chat.ToolCall
	// ToolCallFunction is the function of a ToolCall and its arguments as
	// JSON text.
	ToolCallFunction = chat.ToolCallFunction
	// ToolFormat is the syntax a model family writes tool calls in.
	ToolFormat = chat.ToolFormat
)

// FinishToolCalls is the finish reason of a reply that ends with tool calls.
const FinishToolCalls = "tool_calls"

// ToolChoice says whether the model must call a tool, as OpenAI's
// tool_choice.
type ToolChoice struct {
	// Mode is "auto" (the model decides; the default when empty), "none"
	// (no tool calls: the tools are not shown to the model), "required"
	// (at least one call) or "function" (a call of Function).
	Mode string
	// Function is the function that must be called when Mode is "function".
	Function string
}

// ChatOptions configures a chat reply with tools (ChatCompletion,
// PrepareChat).
type ChatOptions struct {
	// GenerateOptions are the generation's settings. OnToken receives the
	// raw tokens; OnDelta the parsed reply.
	GenerateOptions
	// Tools are the tools the model may call.
	Tools []Tool
	// ToolChoice says whether it must call one.
	ToolChoice ToolChoice
	// NoParallelToolCalls allows one call per reply (OpenAI's
	// parallel_tool_calls: false).
	NoParallelToolCalls bool
	// TemplateVars are further variables of the chat template, such as
	// {"enable_thinking": false} for Qwen3.
	TemplateVars map[string]any
	// OnDelta receives what each generated piece adds to the reply's
	// reasoning, content and tool calls; an error stops the generation.
	OnDelta func(ChatDelta) error
}

// ChatDelta is what a streamed reply adds to each of its parts.
type ChatDelta struct {
	Reasoning string
	Content   string
	ToolCalls []ToolCallDelta
}

// Empty reports whether the delta adds nothing.
func (d *ChatDelta) Empty() bool {
	return d.Reasoning == "" && d.Content == "" && len(d.ToolCalls) == 0
}

// ToolCallDelta is what a streamed reply adds to one tool call: the first
// delta of a call carries its Index, ID and Name (with the arguments written
// so far, possibly none); later ones fragments of its arguments.
type ToolCallDelta struct {
	Index     int
	ID        string // set in the first delta of a call
	Name      string // set in the first delta of a call
	Arguments string
}

// ChatResult is a finished chat reply.
type ChatResult struct {
	// Result is the generation (its Text is the raw reply).
	*Result
	// Message is the assistant's message: content, reasoning (<think>) and
	// tool calls with their ids. It can be appended to the conversation as
	// it is.
	Message Message
	// FinishReason is FinishToolCalls when the reply ends with tool calls,
	// otherwise the generation's (FinishStop, FinishLength).
	FinishReason string
}

// toolNameRE is OpenAI's rule for function names.
var toolNameRE = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)

// ToolError is the error of a malformed tool list or tool choice; Param
// names the field at fault as the OpenAI API would ("tools[0].function.parameters").
type ToolError struct {
	Param   string
	Message string
}

// Error returns the message.
func (e *ToolError) Error() string { return e.Message }

// ValidateTools checks a tool list and a tool choice: each tool has type
// "function", a name of letters, digits, _ and - (at most 64), no two share
// a name, the parameters are a JSON Schema of an object, and the choice
// names a tool that exists. Errors are a *ToolError.
func ValidateTools(tools []Tool, choice ToolChoice) error {
	seen := map[string]bool{}
	for i, t := range tools {
		p := fmt.Sprintf("tools[%d]", i)
		if t.Type != "function" {
			return &ToolError{p + ".type", fmt.Sprintf("invalid value for '%s.type': expected \"function\", got %q", p, t.Type)}
		}
		name := t.Function.Name
		if !toolNameRE.MatchString(name) {
			return &ToolError{p + ".function.name", fmt.Sprintf("invalid value for '%s.function.name': expected 1 to 64 letters, digits, underscores or dashes, got %q", p, name)}
		}
		if seen[name] {
			return &ToolError{p + ".function.name", fmt.Sprintf("invalid value for '%s.function.name': two tools are named %q", p, name)}
		}
		seen[name] = true
		if err := checkParameters(t.Function.Parameters); err != nil {
			return &ToolError{p + ".function.parameters", fmt.Sprintf("invalid schema for function '%s' (%s.function.parameters): %v", name, p, err)}
		}
	}
	switch choice.Mode {
	case "", "auto", "none":
	case "required":
		if len(tools) == 0 {
			return &ToolError{"tool_choice", "invalid value for 'tool_choice': \"required\" needs at least one tool in 'tools'"}
		}
	case "function":
		if !seen[choice.Function] {
			return &ToolError{"tool_choice", fmt.Sprintf("invalid value for 'tool_choice': no tool in 'tools' is named %q", choice.Function)}
		}
	default:
		return &ToolError{"tool_choice", fmt.Sprintf("invalid value for 'tool_choice': expected \"none\", \"auto\", \"required\" or a function, got %q", choice.Mode)}
	}
	return nil
}

// checkParameters checks that a function's parameters are a JSON Schema of
// an object: a JSON object whose type (when given) is "object", whose
// properties (when given) map names to schema objects, and whose required
// (when given) lists property names.
func checkParameters(raw json.RawMessage) error {
	if len(bytes.TrimSpace(raw)) == 0 || string(bytes.TrimSpace(raw)) == "null" {
		return nil
	}
	var s map[string]json.RawMessage
	if err := json.Unmarshal(raw, &s); err != nil {
		return fmt.Errorf("expected a JSON Schema object such as {\"type\": \"object\", \"properties\": {...}}, got %s", short(raw))
	}
	if t, ok := s["type"]; ok {
		var typ string
		if json.Unmarshal(t, &typ) != nil || typ != "object" {
			return fmt.Errorf("the arguments are a JSON object: \"type\" must be \"object\", got %s", short(t))
		}
	}
	var props map[string]json.RawMessage
	if p, ok := s["properties"]; ok {
		if err := json.Unmarshal(p, &props); err != nil {
			return fmt.Errorf("\"properties\" must be an object mapping names to schemas, got %s", short(p))
		}
		for name, ps := range props {
			var o map[string]json.RawMessage
			if json.Unmarshal(ps, &o) != nil {
				var b bool
				if json.Unmarshal(ps, &b) == nil {
					continue // true and false are schemas too
				}
				return fmt.Errorf("property %q: a schema must be an object, got %s", name, short(ps))
			}
			if t, ok := o["type"]; ok {
				if err := checkSchemaType(t); err != nil {
					return fmt.Errorf("property %q: %v", name, err)
				}
			}
		}
	}
	if r, ok := s["required"]; ok {
		var req []string
		if err := json.Unmarshal(r, &req); err != nil {
			return fmt.Errorf("\"required\" must be an array of property names, got %s", short(r))
		}
		for _, name := range req {
			if props != nil {
				if _, ok := props[name]; !ok {
					return fmt.Errorf("\"required\" lists %q, which is not in \"properties\"", name)
				}
			}
		}
	}
	return nil
}

// schemaTypes are the type names of JSON Schema.
var schemaTypes = []string{"string", "number", "integer", "boolean", "object", "array", "null"}

// checkSchemaType checks a "type" keyword: a type name or a list of them.
func checkSchemaType(raw json.RawMessage) error {
	var one string
	var many []string
	if json.Unmarshal(raw, &one) == nil {
		many = []string{one}
	} else if json.Unmarshal(raw, &many) != nil {
		return fmt.Errorf("\"type\" must be a type name or a list of them, got %s", short(raw))
	}
	for _, t := range many {
		ok := false
		for _, k := range schemaTypes {
			ok = ok || t == k
		}
		if !ok {
			return fmt.Errorf("unknown type %q (expected one of %s)", t, strings.Join(schemaTypes, ", "))
		}
	}
	return nil
}

// short compacts a JSON value for a message, cut at 60 bytes.
func short(raw json.RawMessage) string {
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil {
		b.Reset()
		b.Write(raw)
	}
	s := b.String()
	if len(s) > 60 {
		s = strings.ToValidUTF8(s[:57], "") + "..."
	}
	return s
}

// ChatPrompt is a conversation rendered for a reply with tools: the prompt
// text, what the generation needs (a grammar forcing a call, control tokens
// rendered as text) and how to read the reply (NewReader).
type ChatPrompt struct {
	// Text is the rendered conversation.
	Text string
	// Format is the syntax the model writes tool calls in.
	Format ToolFormat
	// Grammar is a GBNF grammar the reply must follow ("" for none): a
	// well-formed call of the tools (tool_choice "required" or a function)
	// whose arguments follow each tool's parameters schema.
	Grammar string
	// Special asks the generation to render control tokens as text
	// (Request.Special), as the family's call markers may be ones.
	Special bool

	parse    chat.ParseOptions
	single   bool
	mistral  bool
	thinking bool
}

// Reasons reports whether the model reasons between <think> and </think>
// before it replies (its template says so): a ReplyReader then gives the
// reasoning apart from the content.
func (p *ChatPrompt) Reasons() bool { return p.thinking }

// templateForTools returns the template and its options for a render.
func (m *Model) chatOptions(vars map[string]any) chat.Options {
	bos, eos := "", ""
	if id := m.tok.BOS(); id >= 0 {
		bos = m.tok.Piece(id)
	}
	if id := m.tok.EOS(); id >= 0 {
		eos = m.tok.Piece(id)
	}
	return chat.Options{AddGenerationPrompt: true, BOSToken: bos, EOSToken: eos, Extra: vars}
}

// PrepareChat renders a conversation with the model's chat template, the
// tools and the template variables of opts, and says how to generate and
// read the reply. The tools are checked first (ValidateTools). A template
// that does not show tools to the model gets them described in the system
// message, with the generic JSON reply format.
func (m *Model) PrepareChat(ctx context.Context, msgs []Message, opts ChatOptions) (*ChatPrompt, error) {
	if m.template == nil {
		return nil, errors.New("this model has no chat template (tokenizer.chat_template): use a raw prompt")
	}
	if err := ValidateTools(opts.Tools, opts.ToolChoice); err != nil {
		return nil, err
	}
	copt := m.chatOptions(opts.TemplateVars)
	tools := opts.Tools
	useTools := len(tools) > 0 && opts.ToolChoice.Mode != "none"
	p := &ChatPrompt{Format: m.template.ToolFormat(), single: opts.NoParallelToolCalls}
	p.mistral = p.Format == chat.ToolFormatMistral
	if useTools {
		if !m.template.SupportsTools() {
			p.Format = chat.ToolFormatGeneric
			msgs = withToolsSystemPrompt(msgs, tools)
		} else {
			copt.Tools = tools
		}
		p.Special = m.markersAreControl(p.Format)
	}
	text, err := m.template.RenderContext(ctx, msgs, copt)
	if err != nil {
		return nil, err
	}
	p.Text = text
	p.thinking = m.template.Thinks()
	p.parse = chat.ParseOptions{Format: p.Format, Tools: useTools, Reasoning: p.thinking,
		InThink: p.thinking && strings.HasSuffix(strings.TrimRight(text, " \t\r\n"), "<think>")}
	if useTools && (opts.ToolChoice.Mode == "required" || opts.ToolChoice.Mode == "function") {
		if p.Grammar, err = toolCallGrammar(p.Format, tools, opts.ToolChoice, opts.NoParallelToolCalls); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// markersAreControl reports whether the format's call markers are control
// tokens of the vocabulary (which a generation renders only when asked).
func (m *Model) markersAreControl(f ToolFormat) bool {
	var marker string
	switch f {
	case chat.ToolFormatMistral:
		marker = "[TOOL_CALLS]"
	case chat.ToolFormatLlama3:
		marker = "<|python_tag|>"
	case chat.ToolFormatHermes:
		marker = "<tool_call>"
	default:
		return false
	}
	id, ok := m.tok.TokenID(marker)
	return ok && m.tok.Type(id) == tokenizer.TypeControl
}

// withToolsSystemPrompt describes the tools and the generic JSON reply
// format in the system message (the first message, added when there is
// none), for templates that do not show tools to the model.
func withToolsSystemPrompt(msgs []Message, tools []Tool) []Message {
	var b strings.Builder
	b.WriteString("You can call these tools:\n")
	for _, t := range tools {
		j, _ := json.Marshal(t.Function)
		b.Write(j)
		b.WriteByte('\n')
	}
	b.WriteString("To call tools, reply with only a JSON object: {\"tool_calls\": [{\"name\": <tool name>, \"arguments\": <arguments object>}]}. To answer without a tool, reply with {\"response\": <your answer>} or with plain text.")
	out := append([]Message(nil), msgs...)
	if len(out) > 0 && out[0].Role == "system" {
		out[0].Content += "\n\n" + b.String()
		return out
	}
	return append([]Message{{Role: "system", Content: b.String()}}, out...)
}

// ReplyReader reads a reply as it is generated (Add) and when it is done
// (Finish), giving tool calls their ids.
type ReplyReader struct {
	p      *ChatPrompt
	parser *chat.ReplyParser
	ids    []string
}

// NewReader starts reading a reply to the prompt.
func (p *ChatPrompt) NewReader() *ReplyReader {
	return &ReplyReader{p: p, parser: chat.NewReplyParser(p.parse)}
}

// Add reads the next piece of the reply's text and returns what it adds.
func (r *ReplyReader) Add(text string) ChatDelta {
	return r.convert(r.parser.Add(text))
}

// Finish reads the end of the reply; finishReason is the generation's. It
// returns what remains to be given and the reply: the assistant's message
// and the finish reason, FinishToolCalls when the reply has calls and was
// not cut by the token limit.
func (r *ReplyReader) Finish(finishReason string) (ChatDelta, Message, string) {
	d, parsed := r.parser.Finish()
	delta := r.convert(d)
	msg := Message{Role: "assistant", Content: parsed.Content, ReasoningContent: parsed.Reasoning}
	for i, c := range parsed.Calls {
		if i >= len(r.ids) {
			break
		}
		msg.ToolCalls = append(msg.ToolCalls, ToolCall{ID: r.ids[i], Type: "function", Function: ToolCallFunction{Name: c.Name, Arguments: c.Arguments}})
	}
	if len(msg.ToolCalls) > 0 && finishReason != FinishLength {
		finishReason = FinishToolCalls
	}
	return delta, msg, finishReason
}

// convert gives new calls their ids and drops the calls after the first
// when parallel calls are off.
func (r *ReplyReader) convert(d chat.ReplyDelta) ChatDelta {
	out := ChatDelta{Reasoning: d.Reasoning, Content: d.Content}
	for _, c := range d.Calls {
		if r.p.single && c.Index > 0 {
			continue
		}
		if c.Index == len(r.ids) {
			r.ids = append(r.ids, newToolCallID(r.p.mistral))
			out.ToolCalls = append(out.ToolCalls, ToolCallDelta{Index: c.Index, ID: r.ids[c.Index], Name: c.Name, Arguments: c.Arguments})
			continue
		}
		out.ToolCalls = append(out.ToolCalls, ToolCallDelta{Index: c.Index, Arguments: c.Arguments})
	}
	return out
}

// newToolCallID returns a new call id: "call_" and 24 random letters and
// digits, or the 9 that Mistral's templates require.
func newToolCallID(mistral bool) string {
	const alnum = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	n := 24
	if mistral {
		n = 9
	}
	b := make([]byte, n)
	rand.Read(b)
	for i := range b {
		b[i] = alnum[int(b[i])%len(alnum)]
	}
	if mistral {
		return string(b)
	}
	return "call_" + string(b)
}

// ChatCompletion renders the conversation with the tools (PrepareChat),
// generates the reply (forced to a well-formed call by a grammar when the
// tool choice requires one) and reads it: content, reasoning and tool calls
// with their ids. opts.OnDelta receives the reply as it is generated.
func (m *Model) ChatCompletion(ctx context.Context, msgs []Message, opts ChatOptions) (*ChatResult, error) {
	p, err := m.PrepareChat(ctx, msgs, opts)
	if err != nil {
		return nil, err
	}
	gen := opts.GenerateOptions
	if p.Grammar != "" {
		if gen.Grammar != "" {
			return nil, errors.New("a tool choice that requires a call and GenerateOptions.Grammar cannot be used together")
		}
		gen.Grammar = p.Grammar
	}
	gen.Special = p.Special
	rd := p.NewReader()
	onToken := gen.OnToken
	gen.OnToken = func(t Token) error {
		if onToken != nil {
			if err := onToken(t); err != nil {
				return err
			}
		}
		if d := rd.Add(t.Text); opts.OnDelta != nil && !d.Empty() {
			return opts.OnDelta(d)
		}
		return nil
	}
	if gen.Trace != nil && gen.Trace.PromptText == "" {
		t := *gen.Trace
		t.PromptText = p.Text
		gen.Trace = &t
	}
	res, err := m.GenerateIDs(ctx, m.EncodeChat(p.Text, gen), gen)
	if err != nil {
		return nil, err
	}
	d, msg, fr := rd.Finish(res.FinishReason)
	if opts.OnDelta != nil && !d.Empty() {
		if err := opts.OnDelta(d); err != nil {
			return nil, err
		}
	}
	return &ChatResult{Result: res, Message: msg, FinishReason: fr}, nil
}
