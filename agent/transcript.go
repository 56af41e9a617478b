package agent

import (
	"encoding/json"
	"io"
	"os"
	"time"
)

// Event types of a transcript, in the order they appear.
const (
	EventTask   = "task"        // the run's start: the task, the tools, the limits
	EventReply  = "reply"       // one reply of the model and its tool calls
	EventResult = "tool_result" // one tool call's result
	EventStop   = "stop"        // the run's end: the stop reason
)

// Event is one line of a transcript. Every event has its Type, its Time
// (RFC 3339, with nanoseconds) and ElapsedMS since the run began; the
// other fields belong to the types that name them.
type Event struct {
	Type      string  `json:"type"`
	Time      string  `json:"time"`
	ElapsedMS float64 `json:"elapsed_ms"`

	// task
	Task        string   `json:"task,omitempty"`
	Model       string   `json:"model,omitempty"`
	System      string   `json:"system,omitempty"`
	Tools       []string `json:"tools,omitempty"`
	ToolChoices []string `json:"tool_choices,omitempty"`
	Limits      *Limits  `json:"limits,omitempty"`

	// reply and tool_result
	Step int `json:"step,omitempty"`
	// reply
	ToolChoice         string       `json:"tool_choice,omitempty"`
	Content            *string      `json:"content,omitempty"`
	Reasoning          string       `json:"reasoning,omitempty"`
	ToolCalls          []CallRecord `json:"tool_calls,omitempty"`
	FinishReason       string       `json:"finish_reason,omitempty"`
	Text               *string      `json:"text,omitempty"`
	PromptTokens       int          `json:"prompt_tokens,omitempty"`
	CachedTokens       int          `json:"cached_tokens,omitempty"`
	GeneratedTokens    int          `json:"generated_tokens,omitempty"`
	PromptPerSecond    float64      `json:"prompt_tokens_per_second,omitempty"`
	GeneratedPerSecond float64      `json:"generated_tokens_per_second,omitempty"`

	// tool_result
	CallID    string  `json:"call_id,omitempty"`
	Name      string  `json:"name,omitempty"`
	Arguments string  `json:"arguments,omitempty"`
	Output    *string `json:"output,omitempty"`
	Truncated bool    `json:"truncated,omitempty"`
	Bytes     int     `json:"output_bytes,omitempty"`

	// tool_result, stop
	Error string `json:"error,omitempty"`

	// stop
	Reason string `json:"reason,omitempty"`
	Answer string `json:"answer,omitempty"`
	Steps  int    `json:"steps,omitempty"`

	// reply, tool_result, stop
	DurationMS float64 `json:"duration_ms,omitempty"`
}

// Limits are the run's limits, in the task event.
type Limits struct {
	MaxSteps      int   `json:"max_steps"`
	MaxTimeMS     int64 `json:"max_time_ms"`
	ToolTimeoutMS int64 `json:"tool_timeout_ms"`
	MaxToolOutput int   `json:"max_tool_output"`
	MaxTokens     int   `json:"max_tokens"`
}

// CallRecord is a tool call of a reply event.
type CallRecord struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Arguments string `json:"arguments"`
	// NotRun: the step was the last one allowed.
	NotRun bool `json:"not_run,omitempty"`
}

// transcript writes events, one JSON object and a new line per Write, so
// that what was written survives a crash; a writer with Flush (a
// bufio.Writer) is flushed and an *os.File synced after each line.
type transcript struct {
	w     io.Writer
	start time.Time
}

func (t *transcript) write(ev Event) error {
	if t.w == nil {
		return nil
	}
	now := time.Now()
	ev.Time = now.UTC().Format(time.RFC3339Nano)
	ev.ElapsedMS = ms(now.Sub(t.start))
	b, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	if _, err := t.w.Write(append(b, '\n')); err != nil {
		return err
	}
	switch w := t.w.(type) {
	case interface{ Flush() error }:
		return w.Flush()
	case *os.File:
		return w.Sync()
	}
	return nil
}

// replyEvent is a step's reply; notRun marks its calls as not run.
func replyEvent(s *Step, notRun bool) Event {
	content, text := s.Reply.Content, s.Text
	ev := Event{Type: EventReply, Step: s.Index, ToolChoice: FormatToolChoice(s.ToolChoice), Content: &content,
		Reasoning: s.Reply.ReasoningContent, FinishReason: s.FinishReason, Text: &text,
		PromptTokens: s.Timings.PromptTokens, CachedTokens: s.Timings.CachedTokens, GeneratedTokens: s.Timings.GenTokens,
		PromptPerSecond: s.Timings.PromptPerSecond(), GeneratedPerSecond: s.Timings.GenPerSecond(), DurationMS: ms(s.Duration)}
	for _, c := range s.Reply.ToolCalls {
		ev.ToolCalls = append(ev.ToolCalls, CallRecord{ID: c.ID, Name: c.Function.Name, Arguments: c.Function.Arguments, NotRun: notRun})
	}
	return ev
}

func resultEvent(s *Step, c *Call) Event {
	out := c.Output
	return Event{Type: EventResult, Step: s.Index, CallID: c.ID, Name: c.Name, Arguments: c.Arguments, Output: &out,
		Error: c.Err, Truncated: c.Truncated, Bytes: c.Bytes, DurationMS: ms(c.Duration)}
}
