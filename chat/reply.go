package chat

import (
	"encoding/json"
	"regexp"
	"strings"
	"unicode"
)

// ToolFormat is the syntax in which a model family writes tool calls.
type ToolFormat int

// The tool-call syntaxes, recognised from a chat template as llama.cpp's
// chat parser and vLLM's tool parsers do.
const (
	// ToolFormatGeneric is the fallback for templates that do not describe
	// tool calls: the reply is one JSON object, {"tool_calls": [{"name":
	// …, "arguments": {…}}, …]}, {"tool_call": {…}}, {"name": …,
	// "arguments": …} or {"response": "text"}.
	ToolFormatGeneric ToolFormat = iota
	// ToolFormatHermes is Qwen's and Hermes' <tool_call>{"name": …,
	// "arguments": {…}}</tool_call> blocks, anywhere in the reply.
	ToolFormatHermes
	// ToolFormatLlama3 is Llama 3.x's reply made of JSON objects {"name": …,
	// "parameters": {…}} (separated by ";"), optionally after <|python_tag|>.
	ToolFormatLlama3
	// ToolFormatMistral is Mistral's [TOOL_CALLS] followed by a JSON array of
	// {"name", "arguments"} objects, or by name[ARGS]{…} (newer templates).
	ToolFormatMistral
	// ToolFormatHarmony is gpt-oss's harmony format: messages on the
	// analysis (reasoning), commentary and final channels, a call being a
	// commentary message to functions.NAME whose text is the JSON
	// arguments (see parseHarmony).
	ToolFormatHarmony
)

// String names the format.
func (f ToolFormat) String() string {
	switch f {
	case ToolFormatHermes:
		return "hermes"
	case ToolFormatLlama3:
		return "llama3"
	case ToolFormatMistral:
		return "mistral"
	case ToolFormatHarmony:
		return "harmony"
	}
	return "generic"
}

// Markers of the formats.
const (
	hermesOpen   = "<tool_call>"
	hermesClose  = "</tool_call>"
	pythonTag    = "<|python_tag|>"
	mistralCalls = "[TOOL_CALLS]"
	mistralArgs  = "[ARGS]"
	thinkOpen    = "<think>"
	thinkClose   = "</think>"
)

// DetectToolFormat returns the tool-call syntax a chat template teaches its
// model: harmony when it writes <|channel|> (IsHarmony), Hermes tags when it
// writes <tool_call>, Mistral's when it writes
// [TOOL_CALLS], Llama 3.x JSON when it writes <|python_tag|> or the ipython
// role, the generic JSON reply otherwise.
func DetectToolFormat(src string) ToolFormat {
	switch {
	case IsHarmony(src):
		return ToolFormatHarmony
	case strings.Contains(src, hermesOpen):
		return ToolFormatHermes
	case strings.Contains(src, mistralCalls):
		return ToolFormatMistral
	case strings.Contains(src, pythonTag), strings.Contains(src, "ipython"):
		return ToolFormatLlama3
	}
	return ToolFormatGeneric
}

// SupportsTools reports whether the template uses the tools variable (it
// shows the model the tools it may call).
func (t *Template) SupportsTools() bool { return strings.Contains(t.src, "tools") }

// ToolFormat returns the tool-call syntax of the template (DetectToolFormat).
func (t *Template) ToolFormat() ToolFormat { return DetectToolFormat(t.src) }

// Thinks reports whether the template's model reasons before it replies:
// between <think> and </think>, or on harmony's analysis channel.
func (t *Template) Thinks() bool { return strings.Contains(t.src, thinkClose) || IsHarmony(t.src) }

// ParseOptions say how to read a reply.
type ParseOptions struct {
	// Format is the tool-call syntax.
	Format ToolFormat
	// Tools parses tool calls; without it the reply is content (and
	// reasoning).
	Tools bool
	// Reasoning separates <think>…</think> (harmony: the analysis
	// channel) from the content.
	Reasoning bool
	// InThink says the prompt ended inside <think> (the template opened
	// it), so the reply starts with reasoning.
	InThink bool
	// Partial reads a reply still being generated: text that may be the
	// start of a marker, or of a tool call, is held back, so that every
	// field of a partial parse is a prefix of the same field once the reply
	// is complete (see ReplyParser).
	Partial bool
}

// ParsedCall is a tool call read from a reply.
type ParsedCall struct {
	// Name is the function's name.
	Name string
	// Arguments is the JSON text of the arguments (a prefix of it while the
	// call is being written).
	Arguments string
	// Complete reports that the call was read to its end.
	Complete bool
}

// ParsedReply is a reply split into its parts.
type ParsedReply struct {
	Reasoning string
	Content   string
	Calls     []ParsedCall
}

// ParseReply splits a model's reply into reasoning, content and tool calls.
// Text that looks like a call but cannot be read as one stays content; a
// call cut short (by the token limit) is kept with the arguments written so
// far and Complete false.
func ParseReply(text string, opt ParseOptions) ParsedReply {
	if opt.Format == ToolFormatHarmony {
		return parseHarmony(text, opt)
	}
	var out ParsedReply
	rest := text
	if opt.Reasoning {
		var ok, found bool
		out.Reasoning, rest, ok, found = splitReasoning(text, opt)
		if !ok {
			return out
		}
		if found {
			rest = strings.TrimLeftFunc(rest, unicode.IsSpace)
		}
	}
	if !opt.Tools {
		out.Content = rest // the text as the model wrote it
		return out
	}
	var content string
	switch opt.Format {
	case ToolFormatHermes:
		content, out.Calls = parseHermes(rest, opt.Partial)
	case ToolFormatMistral:
		content, out.Calls = parseMistral(rest, opt.Partial)
	case ToolFormatLlama3:
		content, out.Calls = parseLlama3(rest, opt.Partial)
	default:
		content, out.Calls = parseGeneric(rest, opt.Partial)
	}
	out.Content = trimContent(content, opt.Partial)
	return out
}

// trimContent trims the spaces around a reply's text; a partial reply keeps
// its trailing spaces back, since more text may follow them.
func trimContent(s string, partial bool) string {
	s = strings.TrimLeftFunc(s, unicode.IsSpace)
	if partial {
		return strings.TrimRightFunc(s, unicode.IsSpace)
	}
	return strings.TrimSpace(s)
}

// splitReasoning separates <think>…</think> at the start of text; found
// reports that there was some. ok is false when a partial reply cannot yet
// tell (it is still reasoning, or may be starting <think>); reasoning then
// holds what can be shown.
func splitReasoning(text string, opt ParseOptions) (reasoning, rest string, ok, found bool) {
	t := strings.TrimLeft(text, " \t\r\n")
	switch {
	case opt.Partial && strings.HasPrefix(thinkOpen, t):
		return "", "", false, false // may be starting <think>
	case opt.InThink:
		t = strings.TrimPrefix(t, thinkOpen)
	case strings.HasPrefix(t, thinkOpen):
		t = t[len(thinkOpen):]
	default:
		return "", text, true, false
	}
	k := strings.Index(t, thinkClose)
	if k < 0 {
		if opt.Partial {
			return trimContent(t[:holdBack(t, thinkClose)], true), "", false, true
		}
		return strings.TrimSpace(t), "", true, true
	}
	return trimContent(t[:k], opt.Partial), t[k+len(thinkClose):], true, true
}

// holdBack returns the length of s without its longest suffix that is a
// proper prefix of one of the markers (text that may become a marker).
func holdBack(s string, markers ...string) int {
	n := len(s)
	for _, m := range markers {
		for l := min(len(m)-1, len(s)); l > 0; l-- {
			if strings.HasSuffix(s, m[:l]) {
				n = min(n, len(s)-l)
				break
			}
		}
	}
	return n
}

// parseHermes reads <tool_call>{…}</tool_call> blocks.
func parseHermes(text string, partial bool) (string, []ParsedCall) {
	var content strings.Builder
	var calls []ParsedCall
	pos := 0
	for {
		k := strings.Index(text[pos:], hermesOpen)
		if k < 0 {
			tail := text[pos:]
			if partial {
				tail = tail[:holdBack(tail, hermesOpen)]
			}
			content.WriteString(tail)
			return content.String(), calls
		}
		content.WriteString(text[pos : pos+k])
		body := pos + k + len(hermesOpen)
		r := readCall(text, body)
		if !r.named {
			if r.state == scanIncomplete {
				if partial {
					return content.String(), calls // may still become a call
				}
				content.WriteString(text[pos+k:])
				return content.String(), calls
			}
			content.WriteString(hermesOpen) // not a call: it is text
			pos = body
			continue
		}
		calls = append(calls, r.call(partial))
		switch r.state {
		case scanIncomplete:
			return content.String(), calls
		case scanInvalid:
			content.WriteString(text[r.end:])
			return content.String(), calls
		}
		j := skipSpace(text, r.end)
		switch {
		case strings.HasPrefix(text[j:], hermesClose):
			pos = j + len(hermesClose)
		case partial && strings.HasPrefix(hermesClose, text[j:]):
			return content.String(), calls
		default:
			pos = j // a missing closing tag is forgiven
		}
	}
}

// parseMistral reads [TOOL_CALLS][{…}, …] or [TOOL_CALLS]name[ARGS]{…}.
func parseMistral(text string, partial bool) (string, []ParsedCall) {
	k := strings.Index(text, mistralCalls)
	if k < 0 {
		if partial {
			return text[:holdBack(text, mistralCalls)], nil
		}
		return text, nil
	}
	content := text[:k]
	var calls []ParsedCall
	pos := k + len(mistralCalls)
	for {
		j := skipSpace(text, pos)
		if j == len(text) {
			return content, calls
		}
		if text[j] == '[' { // a JSON array of calls
			j++
			for {
				j = skipSpace(text, j)
				if j < len(text) && text[j] == ',' {
					j++
					continue
				}
				if j < len(text) && text[j] == ']' {
					pos = j + 1
					break
				}
				r := readCall(text, j)
				if r.named {
					calls = append(calls, r.call(partial))
				}
				if r.state != scanComplete {
					if len(calls) == 0 && (!partial || r.state == scanInvalid) {
						return text, nil // not a call after all
					}
					return content, calls
				}
				j = r.end
			}
		} else { // name[ARGS]{…}
			a := strings.Index(text[j:], mistralArgs)
			if a < 0 {
				return content, calls
			}
			name := strings.TrimSpace(text[j : j+a])
			if name == "" {
				if partial {
					return content, calls
				}
				return text, nil
			}
			start := skipSpace(text, j+a+len(mistralArgs))
			end, st := scanValue(text, start)
			c := ParsedCall{Name: name, Complete: st == scanComplete}
			if st == scanComplete || start < len(text) && (text[start] == '{' || text[start] == '[') {
				c.Arguments = text[start:end]
			}
			calls = append(calls, c)
			if st != scanComplete {
				return content, calls
			}
			pos = end
		}
		j = skipSpace(text, pos)
		if !strings.HasPrefix(text[j:], mistralCalls) {
			tail := text[j:]
			if partial {
				tail = tail[:holdBack(tail, mistralCalls)]
			}
			return content + tail, calls
		}
		pos = j + len(mistralCalls)
	}
}

// parseLlama3 reads a reply made of {"name": …, "parameters": {…}} objects
// separated by ";", optionally after <|python_tag|>.
func parseLlama3(text string, partial bool) (string, []ParsedCall) {
	content := ""
	t := strings.TrimLeft(text, " \t\r\n")
	if k := strings.Index(t, pythonTag); k >= 0 {
		content, t = t[:k], t[k+len(pythonTag):]
	} else if partial && strings.HasPrefix(pythonTag, t) {
		return "", nil
	}
	j := skipSpace(t, 0)
	if j == len(t) || t[j] != '{' {
		if partial {
			t = t[:holdBack(t, pythonTag)]
		}
		return content + t, nil
	}
	var calls []ParsedCall
	for {
		r := readCall(t, j)
		if r.named {
			calls = append(calls, r.call(partial))
		}
		switch {
		case r.state == scanIncomplete && (r.named || partial):
			return content, calls
		case r.state != scanComplete || !r.named:
			if len(calls) == 0 {
				return content + t, nil // a JSON reply, not a call
			}
			return content + t[j:], calls
		}
		j = skipSpace(t, r.end)
		if j < len(t) && t[j] == ';' {
			j = skipSpace(t, j+1)
		}
		if j == len(t) {
			return content, calls
		}
		if t[j] != '{' {
			return content + t[j:], calls
		}
	}
}

// parseGeneric reads the generic JSON reply, once it is complete.
func parseGeneric(text string, partial bool) (string, []ParsedCall) {
	t := strings.TrimSpace(text)
	if !strings.HasPrefix(t, "{") {
		return text, nil
	}
	if partial {
		return "", nil // not known until the object is complete
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal([]byte(t), &obj) != nil {
		if calls := cutGenericCalls(t); len(calls) > 0 {
			return "", calls
		}
		return text, nil
	}
	if raw, ok := obj["response"]; ok && len(obj) == 1 {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return s, nil
		}
	}
	var list []json.RawMessage
	switch {
	case obj["tool_calls"] != nil:
		if json.Unmarshal(obj["tool_calls"], &list) != nil {
			return text, nil
		}
	case obj["tool_call"] != nil:
		list = []json.RawMessage{obj["tool_call"]}
	default:
		list = []json.RawMessage{json.RawMessage(t)}
	}
	var calls []ParsedCall
	for _, raw := range list {
		s := string(raw)
		r := readCall(s, 0)
		if r.state != scanComplete || !r.named {
			return text, nil
		}
		calls = append(calls, r.call(false))
	}
	return "", calls
}

// genericCallsRE matches the start of a generic reply's list of calls.
var genericCallsRE = regexp.MustCompile(`^\{\s*"tool_calls"\s*:\s*\[`)

// cutGenericCalls reads the calls of a generic reply cut short (by the token
// limit): the calls written so far, the last one possibly incomplete.
func cutGenericCalls(t string) []ParsedCall {
	loc := genericCallsRE.FindStringIndex(t)
	if loc == nil {
		return nil
	}
	var calls []ParsedCall
	j := loc[1]
	for {
		j = skipSpace(t, j)
		if j < len(t) && t[j] == ',' {
			j++
			continue
		}
		r := readCall(t, j)
		if r.named {
			calls = append(calls, r.call(false))
		}
		if r.state != scanComplete {
			return calls
		}
		j = r.end
	}
}

// scanState is how far a JSON scan got.
type scanState int

const (
	scanComplete   scanState = iota
	scanIncomplete           // the text ended first
	scanInvalid              // not JSON
)

func skipSpace(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
		i++
	}
	return i
}

// scanString scans the JSON string starting at s[i] == '"'.
func scanString(s string, i int) (int, scanState) {
	for j := i + 1; j < len(s); j++ {
		switch s[j] {
		case '\\':
			j++
		case '"':
			return j + 1, scanComplete
		case '\n':
			return j, scanInvalid
		}
	}
	return len(s), scanIncomplete
}

// maxScanDepth bounds the nesting scanValue follows.
const maxScanDepth = 512

// scanValue scans the JSON value starting at s[i] and returns where it ends.
// A complete value has been checked with json.Valid.
func scanValue(s string, i int) (int, scanState) {
	if i >= len(s) {
		return i, scanIncomplete
	}
	var end int
	switch c := s[i]; {
	case c == '"':
		var st scanState
		if end, st = scanString(s, i); st != scanComplete {
			return end, st
		}
	case c == '{' || c == '[':
		depth := 0
		j := i
		for ; j < len(s); j++ {
			switch s[j] {
			case '"':
				e, st := scanString(s, j)
				if st != scanComplete {
					return e, st
				}
				j = e - 1
			case '{', '[':
				if depth++; depth > maxScanDepth {
					return j, scanInvalid
				}
			case '}', ']':
				depth--
			}
			if depth == 0 {
				break
			}
		}
		if j == len(s) {
			return j, scanIncomplete
		}
		end = j + 1
	case c == '-' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z':
		j := i
		for j < len(s) && strings.IndexByte("+-.0123456789eEabcdfilnrstu", s[j]) >= 0 {
			j++
		}
		if j == len(s) {
			return j, scanIncomplete // a number or literal may go on
		}
		end = j
	default:
		return i, scanInvalid
	}
	if !json.Valid([]byte(s[i:end])) {
		return end, scanInvalid
	}
	return end, scanComplete
}

// callRead is the outcome of readCall.
type callRead struct {
	name       string
	named      bool // the name was read
	args       string
	argsRaw    bool // args is raw JSON text (a prefix of it while incomplete)
	argsString bool // the arguments were a JSON string (args is its value)
	hasArgs    bool
	state      scanState
	end        int
}

// call returns the call read so far.
func (r *callRead) call(partial bool) ParsedCall {
	c := ParsedCall{Name: r.name, Arguments: r.args, Complete: r.state == scanComplete}
	if c.Complete && !r.hasArgs {
		c.Arguments = "{}"
	}
	return c
}

// readCall reads a call object {"name": …, "arguments"|"parameters": …}
// starting at s[i] (after spaces), with its keys in any order; "function"
// may hold the name or a nested {"name", "arguments"} object (OpenAI's
// shape). While the text ends inside it, the state is scanIncomplete and
// the arguments are the raw text so far.
func readCall(s string, i int) callRead {
	var r callRead
	j := skipSpace(s, i)
	if j == len(s) {
		r.state, r.end = scanIncomplete, j
		return r
	}
	if s[j] != '{' {
		r.state, r.end = scanInvalid, j
		return r
	}
	j++
	for {
		j = skipSpace(s, j)
		if j == len(s) {
			r.state, r.end = scanIncomplete, j
			return r
		}
		switch s[j] {
		case '}':
			r.state, r.end = scanComplete, j+1
			return r
		case ',':
			j++
			continue
		case '"':
		default:
			r.state, r.end = scanInvalid, j
			return r
		}
		kend, st := scanString(s, j)
		if st != scanComplete {
			r.state, r.end = st, kend
			return r
		}
		var key string
		if json.Unmarshal([]byte(s[j:kend]), &key) != nil {
			r.state, r.end = scanInvalid, kend
			return r
		}
		j = skipSpace(s, kend)
		if j == len(s) {
			r.state, r.end = scanIncomplete, j
			return r
		}
		if s[j] != ':' {
			r.state, r.end = scanInvalid, j
			return r
		}
		j = skipSpace(s, j+1)
		if j == len(s) {
			r.state, r.end = scanIncomplete, j
			return r
		}
		switch {
		case (key == "name" || key == "function") && s[j] == '"':
			end, st := scanValue(s, j)
			if st != scanComplete {
				r.state, r.end = st, end
				return r
			}
			var name string
			json.Unmarshal([]byte(s[j:end]), &name)
			if !r.named && name != "" { // a call needs a name; the first counts
				r.name, r.named = name, true
			}
			j = end
		case key == "function" && s[j] == '{':
			sub := readCall(s, j)
			if sub.named && !r.named {
				r.name, r.named = sub.name, true
			}
			if sub.hasArgs || sub.args != "" {
				r.args, r.argsRaw, r.argsString, r.hasArgs = sub.args, sub.argsRaw, sub.argsString, sub.hasArgs
			}
			if sub.state != scanComplete {
				r.state, r.end = sub.state, sub.end
				return r
			}
			j = sub.end
		case key == "arguments" || key == "parameters":
			end, st := scanValue(s, j)
			switch {
			case st == scanComplete && s[j] == '"':
				json.Unmarshal([]byte(s[j:end]), &r.args)
				r.argsString, r.hasArgs = true, true
			case st == scanComplete:
				r.args, r.argsRaw, r.hasArgs = s[j:end], true, true
			case s[j] == '{' || s[j] == '[':
				// cut short or broken: the text so far (what a stream gave)
				r.args, r.argsRaw = s[j:end], true
			}
			if st != scanComplete {
				r.state, r.end = st, end
				return r
			}
			j = end
		default:
			end, st := scanValue(s, j)
			if st != scanComplete {
				r.state, r.end = st, end
				return r
			}
			j = end
		}
	}
}

// CallDelta is what a streamed reply adds to one tool call: the first delta
// of a call carries its Name (and the Index it is known by); later ones
// carry fragments of the arguments.
type CallDelta struct {
	// Index is the call's position in the reply.
	Index int
	// Name is set in the first delta of a call.
	Name string
	// Arguments is the next fragment of the arguments' JSON text.
	Arguments string
}

// ReplyDelta is what a streamed reply adds to each part.
type ReplyDelta struct {
	Reasoning string
	Content   string
	Calls     []CallDelta
}

// Empty reports whether the delta adds nothing.
func (d *ReplyDelta) Empty() bool {
	return d.Reasoning == "" && d.Content == "" && len(d.Calls) == 0
}

// ReplyParser reads a reply as it is generated and reports what each piece
// adds to its reasoning, content and tool calls. The deltas of every Add and
// of Finish, concatenated, equal the ParsedReply that Finish returns.
type ReplyParser struct {
	opt  ParseOptions
	text strings.Builder
	sent ParsedReply // what the deltas have given so far
}

// NewReplyParser starts reading a reply (opt.Partial is ignored).
func NewReplyParser(opt ParseOptions) *ReplyParser {
	return &ReplyParser{opt: opt}
}

// Add reads the next piece of text.
func (p *ReplyParser) Add(piece string) ReplyDelta {
	p.text.WriteString(piece)
	opt := p.opt
	opt.Partial = true
	return p.diff(ParseReply(p.text.String(), opt))
}

// Text returns the text read so far.
func (p *ReplyParser) Text() string { return p.text.String() }

// Finish parses the whole reply and returns what remains to be given and the
// parsed reply.
func (p *ReplyParser) Finish() (ReplyDelta, ParsedReply) {
	opt := p.opt
	opt.Partial = false
	final := ParseReply(p.text.String(), opt)
	d := p.diff(final)
	return d, p.sent
}

// diff returns what cur adds to what was sent, and records it as sent. A
// field that does not extend what was sent (which ParseReply's partial
// guarantee rules out) adds nothing.
func (p *ReplyParser) diff(cur ParsedReply) ReplyDelta {
	var d ReplyDelta
	if r, ok := strings.CutPrefix(cur.Reasoning, p.sent.Reasoning); ok {
		d.Reasoning = r
		p.sent.Reasoning = cur.Reasoning
	}
	if c, ok := strings.CutPrefix(cur.Content, p.sent.Content); ok {
		d.Content = c
		p.sent.Content = cur.Content
	}
	for i, c := range cur.Calls {
		if i >= len(p.sent.Calls) {
			p.sent.Calls = append(p.sent.Calls, ParsedCall{Name: c.Name})
			d.Calls = append(d.Calls, CallDelta{Index: i, Name: c.Name, Arguments: c.Arguments})
			p.sent.Calls[i].Arguments = c.Arguments
			p.sent.Calls[i].Complete = c.Complete
			continue
		}
		s := &p.sent.Calls[i]
		s.Complete = c.Complete
		if a, ok := strings.CutPrefix(c.Arguments, s.Arguments); ok && a != "" {
			d.Calls = append(d.Calls, CallDelta{Index: i, Arguments: a})
			s.Arguments = c.Arguments
		}
	}
	return d
}
