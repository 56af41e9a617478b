package chat

import (
	"encoding/json"
	"strings"
)

// gpt-oss writes its replies in OpenAI's "harmony" format: a sequence of
// messages, each a header (role, channel, recipient, content type) then
// <|message|> and the text, ended by <|end|> (more follows), <|call|> (a
// tool call: the generation stops) or <|return|> (the reply is done). The
// prompt ends with the header "<|start|>assistant", so the reply begins
// inside the first message's header:
//
//	<|channel|>analysis<|message|>The user asks…<|end|>
//	<|start|>assistant<|channel|>final<|message|>Paris.<|return|>
//
//	<|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>{"city":"Paris"}<|call|>
//
// The analysis channel is the reasoning; final (and commentary addressed
// to no one, a preamble) is the content; a commentary message to
// functions.NAME is a call of NAME with the message as its JSON arguments
// (the recipient may also stand in the role header: "<|start|>assistant
// to=functions.NAME<|channel|>commentary json<|message|>…"). Messages to
// other recipients (built-in tools such as browser or python) are dropped,
// as llama.cpp does.

// The markers of the harmony format; llama.cpp renders all but <|return|>
// and <|call|> (which end the generation) as text.
const (
	harmonyStart     = "<|start|>"
	harmonyEnd       = "<|end|>"
	harmonyMessage   = "<|message|>"
	harmonyChannel   = "<|channel|>"
	harmonyConstrain = "<|constrain|>"
	harmonyReturn    = "<|return|>"
	harmonyCall      = "<|call|>"
)

// harmonyFunctions prefixes the recipient of a function call.
const harmonyFunctions = "functions."

// IsHarmony reports whether a chat template writes OpenAI's harmony format
// (gpt-oss): it uses the <|channel|> marker, the test of llama.cpp's chat
// parser.
func IsHarmony(src string) bool { return strings.Contains(src, harmonyChannel) }

// harmonyPiece is one message's text as the parse shows it.
type harmonyPiece struct {
	text     string
	complete bool // the message was ended
}

// parseHarmony splits a harmony reply into reasoning, content and tool
// calls. Without opt.Reasoning the analysis messages stay in the content
// with their markers (llama.cpp's --reasoning-format none); without
// opt.Tools the calls are dropped. A reply that does not begin like a
// harmony message (the model ignored the format) is all content.
func parseHarmony(text string, opt ParseOptions) ParsedReply {
	var out ParsedReply
	lead := strings.TrimLeft(text, " \t\r\n")
	if !harmonyBegins(lead) {
		if opt.Partial && lead != "" && harmonyMayBegin(lead) {
			return out
		}
		if opt.Partial {
			text = text[:holdBack(text, harmonyStart, harmonyChannel, harmonyConstrain, harmonyMessage)]
		}
		out.Content = trimContent(text, opt.Partial)
		return out
	}
	var reasoning, content []harmonyPiece
	rest := lead
	for first := true; ; first = false {
		if !first {
			r := strings.TrimLeft(rest, " \t\r\n")
			if r == "" {
				break
			}
			if !strings.HasPrefix(r, harmonyStart) {
				if opt.Partial && strings.HasPrefix(harmonyStart, r) {
					break // may be starting the next message
				}
				// text outside any message: content, as the model wrote it
				if opt.Partial {
					r = r[:holdBack(r, harmonyStart)]
				}
				content = append(content, harmonyPiece{r, false})
				break
			}
			rest = r[len(harmonyStart):]
		}
		k := strings.Index(rest, harmonyMessage)
		if k < 0 {
			break // a header not finished: nothing to show yet
		}
		channel, recipient := harmonyHeader(rest[:k])
		body := rest[k+len(harmonyMessage):]
		end, term := harmonyTerminator(body)
		complete := end >= 0
		if complete {
			body, rest = body[:end], body[end+len(term):]
		} else {
			if opt.Partial {
				body = body[:holdBack(body, harmonyEnd, harmonyCall, harmonyReturn)]
			}
			rest = ""
		}
		switch {
		case strings.HasPrefix(recipient, harmonyFunctions) && len(recipient) > len(harmonyFunctions):
			if !opt.Tools {
				break
			}
			args := trimContent(body, opt.Partial && !complete)
			c := ParsedCall{Name: recipient[len(harmonyFunctions):], Arguments: args}
			c.Complete = term == harmonyCall || (!opt.Partial || complete) && json.Valid([]byte(args))
			if c.Complete && args == "" {
				c.Arguments = "{}"
			}
			out.Calls = append(out.Calls, c)
		case recipient != "" && recipient != "assistant":
			// a built-in tool's call: dropped
		case channel == "analysis" && opt.Reasoning:
			reasoning = append(reasoning, harmonyPiece{body, complete})
		case channel == "analysis":
			raw := harmonyChannel + "analysis" + harmonyMessage + body
			if complete {
				raw += harmonyEnd
			}
			content = append(content, harmonyPiece{raw, complete})
		default: // final, a commentary preamble, or no channel
			content = append(content, harmonyPiece{body, complete})
		}
		if !complete {
			break
		}
	}
	out.Reasoning = joinHarmony(reasoning, opt.Partial)
	out.Content = joinHarmony(content, opt.Partial)
	return out
}

// harmonyBegins reports whether a reply (spaces trimmed) begins as the rest
// of a harmony header or with a new message.
func harmonyBegins(s string) bool {
	for _, p := range []string{harmonyChannel, harmonyStart, harmonyMessage, harmonyConstrain, "to="} {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// harmonyMayBegin reports whether a partial reply may still become one
// harmonyBegins accepts.
func harmonyMayBegin(s string) bool {
	for _, p := range []string{harmonyChannel, harmonyStart, harmonyMessage, harmonyConstrain, "to="} {
		if strings.HasPrefix(p, s) {
			return true
		}
	}
	return false
}

// harmonyTerminator returns the position and text of the first marker that
// ends a message body, or -1.
func harmonyTerminator(body string) (int, string) {
	end, term := -1, ""
	for _, m := range []string{harmonyEnd, harmonyCall, harmonyReturn} {
		if k := strings.Index(body, m); k >= 0 && (end < 0 || k < end) {
			end, term = k, m
		}
	}
	return end, term
}

// harmonyHeader reads a message header: the last channel named after
// <|channel|>, and the recipient after "to=" (a function's when several
// are named, as when a stray "<|channel|>commentary to=assistant" comes
// first).
func harmonyHeader(h string) (channel, recipient string) {
	for i := 0; ; {
		k := strings.Index(h[i:], harmonyChannel)
		if k < 0 {
			break
		}
		i += k + len(harmonyChannel)
		channel = h[i : i+harmonyWord(h[i:])]
	}
	for i := 0; ; {
		k := strings.Index(h[i:], "to=")
		if k < 0 {
			break
		}
		i += k + len("to=")
		r := h[i : i+harmonyWord(h[i:])]
		if recipient == "" || !strings.HasPrefix(recipient, harmonyFunctions) {
			recipient = r
		}
	}
	return channel, recipient
}

// harmonyWord returns the length of the name at the start of s: up to a
// space or a marker.
func harmonyWord(s string) int {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case ' ', '\t', '\n', '\r', '<':
			return i
		}
	}
	return len(s)
}

// joinHarmony joins the texts of messages of one kind with a blank line,
// trimmed: an unfinished last message of a partial parse keeps its
// trailing spaces back (trimContent).
func joinHarmony(pieces []harmonyPiece, partial bool) string {
	var b strings.Builder
	for _, p := range pieces {
		t := trimContent(p.text, partial && !p.complete)
		if t == "" {
			continue
		}
		if b.Len() > 0 {
			b.WriteString("\n\n")
		}
		b.WriteString(t)
	}
	return b.String()
}
