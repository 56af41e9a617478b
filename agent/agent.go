// Package agent is glassbox's agent loop: a model, a task and tools. Each
// step, the conversation and the tools go to the model (the SDK's
// ChatCompletion, with the tool choice of the step); the tool calls of its
// reply are run, each under a time limit, and their results come back as
// "tool" messages; the loop ends when the model answers without a call, or
// at a limit (steps, wall time), with a stop reason. Every step is one
// generation that can be traced (Options.Trace), so that the report of
// Decisions shows, for the tokens of each tool's name and arguments, the
// candidates the model weighed. A transcript (JSON Lines, one event per
// line) records the run as it goes.
//
// The tools: read-only file tools confined to one folder (Folder: list_files,
// read_file, search), go_build and go_test in eval's sandbox (GoTools), and
// the tools of MCP servers (ConnectMCP); applications add their own Tool.
package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"glassbox"
)

// Stop reasons: why a run ended.
const (
	StopAnswered = "answered"  // the model replied without a tool call
	StopMaxSteps = "max_steps" // the last allowed step still called tools
	StopTimeout  = "timeout"   // Options.MaxTime ran out
	StopCanceled = "canceled"  // the caller's context ended
	StopError    = "error"     // a generation failed (Result.Err says why)
)

// Defaults of Options.
const (
	DefaultMaxSteps      = 10
	DefaultMaxTime       = 5 * time.Minute
	DefaultToolTimeout   = 60 * time.Second
	DefaultMaxToolOutput = 8 << 10
	DefaultMaxTokens     = 512
)

// DefaultSystem is the system message of a run without Options.System.
const DefaultSystem = "You are an agent working on the files of a folder. Call the tools to look at them, then answer the task in plain text."

// Options configure a run. The zero value takes the defaults.
type Options struct {
	// Tools are the tools the model may call (see Combine).
	Tools []Tool
	// System is the system message (default DefaultSystem; "-" for none).
	System string
	// MaxSteps bounds the model's replies (default DefaultMaxSteps).
	MaxSteps int
	// MaxTime bounds the whole run's wall time (default DefaultMaxTime).
	MaxTime time.Duration
	// ToolTimeout bounds each tool call (default DefaultToolTimeout); a call
	// still running then is abandoned and the model told so.
	ToolTimeout time.Duration
	// MaxToolOutput bounds the bytes of a tool result the model reads
	// (default DefaultMaxToolOutput); a longer one is cut and ends with a
	// line saying so.
	MaxToolOutput int
	// MaxTokens bounds each reply (default DefaultMaxTokens).
	MaxTokens int
	// Sampler is the sampling of each reply (the zero value: greedy).
	Sampler glassbox.SamplerParams
	// ToolChoices is the tool choice of each step in order (see
	// ParseToolChoices); the steps after it use "auto".
	ToolChoices []glassbox.ToolChoice
	// NoParallelToolCalls allows one call per reply.
	NoParallelToolCalls bool
	// Trace, when set, traces each step's generation with these options:
	// Step.Trace holds its events (see Decisions).
	Trace *glassbox.TraceOptions
	// Transcript, when set, receives the run as JSON Lines, one event per
	// line, written as it happens (see Event).
	Transcript io.Writer
	// OnStep is called after each step, its tool calls run (printing
	// progress).
	OnStep func(*Step)
}

// Result is the outcome of a run.
type Result struct {
	// Stop is why the run ended: StopAnswered, StopMaxSteps, StopTimeout,
	// StopCanceled or StopError.
	Stop string
	// Answer is the content of the model's last reply.
	Answer string
	// Steps are the model's replies and their tool calls.
	Steps []*Step
	// Err is the error behind StopError, StopTimeout and StopCanceled.
	Err error
	// Duration is the run's wall time.
	Duration time.Duration
}

// Step is one reply of the model and the calls it made.
type Step struct {
	// Index counts from 1.
	Index int
	// ToolChoice is the step's tool choice.
	ToolChoice glassbox.ToolChoice
	// Reply is the assistant's message.
	Reply glassbox.Message
	// Text is the raw generated text.
	Text string
	// FinishReason is the generation's (tool_calls, stop or length).
	FinishReason string
	// Timings are the generation's.
	Timings glassbox.Timings
	// Duration is the generation's wall time (template included).
	Duration time.Duration
	// Calls are the tool calls and their results, in the reply's order.
	Calls []*Call
	// Trace holds the generation's trace events when Options.Trace is set.
	Trace []glassbox.TraceEvent
}

// Call is one tool call and its result.
type Call struct {
	// ID is the call's id; Name and Arguments (JSON text) are as the model
	// wrote them.
	ID        string
	Name      string
	Arguments string
	// Output is the text the model read (cut to MaxToolOutput, with a
	// marker line); for a failed call, "error: " and the error.
	Output string
	// Err is the call's error ("" when it succeeded).
	Err string
	// Truncated says Output was cut; Bytes is the size of the full output.
	Truncated bool
	Bytes     int
	Duration  time.Duration
	// NotRun says the call was not run: the step was the last one allowed.
	NotRun bool
}

func (o *Options) defaults() {
	if o.MaxSteps <= 0 {
		o.MaxSteps = DefaultMaxSteps
	}
	if o.MaxTime <= 0 {
		o.MaxTime = DefaultMaxTime
	}
	if o.ToolTimeout <= 0 {
		o.ToolTimeout = DefaultToolTimeout
	}
	if o.MaxToolOutput <= 0 {
		o.MaxToolOutput = DefaultMaxToolOutput
	}
	if o.MaxTokens <= 0 {
		o.MaxTokens = DefaultMaxTokens
	}
	if o.System == "" {
		o.System = DefaultSystem
	}
}

// choice returns the tool choice of step (from 1).
func (o *Options) choice(step int) glassbox.ToolChoice {
	if step-1 < len(o.ToolChoices) {
		return o.ToolChoices[step-1]
	}
	return glassbox.ToolChoice{Mode: "auto"}
}

// Run runs the agent on task with model m. It returns an error only for a
// run that cannot start (no task, invalid tools or tool choices, the model
// without a chat template, a transcript that cannot be written); what
// happens once it runs ends the run with a stop reason in the Result.
func Run(ctx context.Context, m *glassbox.Model, task string, opts Options) (*Result, error) {
	opts.defaults()
	start := time.Now()
	if strings.TrimSpace(task) == "" {
		return nil, errors.New("the agent needs a task")
	}
	if !m.HasChatTemplate() {
		return nil, errors.New("the model has no chat template: give one (--chat-template-file, or glassbox.Options.FallbackChatTemplate = agent.DefaultTemplate)")
	}
	tools := make([]glassbox.Tool, len(opts.Tools))
	byName := map[string]*Tool{}
	for i := range opts.Tools {
		t := &opts.Tools[i]
		if t.Call == nil {
			return nil, fmt.Errorf("tool %q has no Call function", t.Name)
		}
		tools[i] = glassbox.Tool{Type: "function", Function: glassbox.ToolFunction{Name: t.Name, Description: t.Description, Parameters: t.Parameters}}
		byName[t.Name] = t
	}
	if err := glassbox.ValidateTools(tools, glassbox.ToolChoice{}); err != nil {
		return nil, fmt.Errorf("the agent's tools: %w", err)
	}
	for i, c := range opts.ToolChoices {
		if err := glassbox.ValidateTools(tools, c); err != nil {
			return nil, fmt.Errorf("the tool choice of step %d: %w", i+1, err)
		}
	}
	tw := &transcript{w: opts.Transcript, start: start}
	names := make([]string, len(opts.Tools))
	for i, t := range opts.Tools {
		names[i] = t.Name
	}
	var plan []string
	for _, c := range opts.ToolChoices {
		plan = append(plan, FormatToolChoice(c))
	}
	if err := tw.write(Event{Type: EventTask, Task: task, Model: m.Name(), System: opts.System, Tools: names, ToolChoices: plan,
		Limits: &Limits{MaxSteps: opts.MaxSteps, MaxTimeMS: opts.MaxTime.Milliseconds(), ToolTimeoutMS: opts.ToolTimeout.Milliseconds(),
			MaxToolOutput: opts.MaxToolOutput, MaxTokens: opts.MaxTokens}}); err != nil {
		return nil, fmt.Errorf("writing the transcript: %w", err)
	}

	runCtx, cancel := context.WithTimeout(ctx, opts.MaxTime)
	defer cancel()
	res := &Result{}
	// interrupted says why the run's context ended.
	interrupted := func(err error) bool {
		if runCtx.Err() == nil {
			return false
		}
		if ctx.Err() != nil {
			res.Stop, res.Err = StopCanceled, ctx.Err()
		} else {
			res.Stop, res.Err = StopTimeout, fmt.Errorf("the run reached its time limit of %s", opts.MaxTime)
		}
		return true
	}
	var msgs []glassbox.Message
	if opts.System != "-" {
		msgs = append(msgs, glassbox.Message{Role: "system", Content: opts.System})
	}
	msgs = append(msgs, glassbox.Message{Role: "user", Content: task})

	for index := 1; ; index++ {
		step := &Step{Index: index, ToolChoice: opts.choice(index)}
		co := glassbox.ChatOptions{
			GenerateOptions:     glassbox.GenerateOptions{MaxTokens: opts.MaxTokens, Sampler: opts.Sampler},
			Tools:               tools,
			ToolChoice:          step.ToolChoice,
			NoParallelToolCalls: opts.NoParallelToolCalls,
		}
		if opts.Trace != nil {
			co.Trace = &glassbox.Tracing{Options: *opts.Trace, Emit: func(ev glassbox.TraceEvent) error {
				step.Trace = append(step.Trace, ev)
				return nil
			}}
		}
		t0 := time.Now()
		cr, err := m.ChatCompletion(runCtx, msgs, co)
		step.Duration = time.Since(t0)
		if err != nil {
			if !interrupted(err) {
				res.Stop, res.Err = StopError, fmt.Errorf("step %d: %w", index, err)
			}
			if cr != nil && cr.Result != nil {
				step.Text = cr.Text
			}
			res.Steps = append(res.Steps, step)
			break
		}
		step.Reply, step.Text, step.FinishReason, step.Timings = cr.Message, cr.Text, cr.FinishReason, cr.Timings
		res.Steps = append(res.Steps, step)
		last := index >= opts.MaxSteps
		if err := tw.write(replyEvent(step, last)); err != nil {
			return nil, fmt.Errorf("writing the transcript: %w", err)
		}
		msgs = append(msgs, cr.Message)
		if len(cr.Message.ToolCalls) == 0 {
			res.Stop, res.Answer = StopAnswered, cr.Message.Content
			if opts.OnStep != nil {
				opts.OnStep(step)
			}
			break
		}
		for _, tc := range cr.Message.ToolCalls {
			call := &Call{ID: tc.ID, Name: tc.Function.Name, Arguments: tc.Function.Arguments}
			step.Calls = append(step.Calls, call)
			if last {
				call.NotRun = true
				continue
			}
			if step.FinishReason == glassbox.FinishLength && !json.Valid([]byte(call.Arguments)) {
				call.Err = fmt.Sprintf("the reply reached its token limit (%d) before the arguments were complete: the call was not run", opts.MaxTokens)
				call.Output = "error: " + call.Err
			} else {
				runCall(runCtx, byName[call.Name], call, opts)
			}
			if err := tw.write(resultEvent(step, call)); err != nil {
				return nil, fmt.Errorf("writing the transcript: %w", err)
			}
			msgs = append(msgs, glassbox.Message{Role: "tool", ToolCallID: call.ID, Name: call.Name, Content: call.Output})
			if interrupted(nil) {
				break
			}
		}
		if opts.OnStep != nil {
			opts.OnStep(step)
		}
		if res.Stop != "" {
			break
		}
		if last {
			res.Stop = StopMaxSteps
			res.Err = fmt.Errorf("the model still called tools at step %d, the last allowed (--max-steps)", index)
			res.Answer = cr.Message.Content
			break
		}
	}
	res.Duration = time.Since(start)
	ev := Event{Type: EventStop, Reason: res.Stop, Answer: res.Answer, Steps: len(res.Steps), DurationMS: ms(res.Duration)}
	if res.Err != nil {
		ev.Error = res.Err.Error()
	}
	if err := tw.write(ev); err != nil {
		return res, fmt.Errorf("writing the transcript: %w", err)
	}
	return res, nil
}

// runCall runs one call under the tool timeout and fills its result. A tool
// that does not return when its context ends is abandoned (its goroutine
// keeps running until it returns).
func runCall(ctx context.Context, t *Tool, call *Call, opts Options) {
	start := time.Now()
	defer func() { call.Duration = time.Since(start) }()
	if t == nil {
		call.Err = fmt.Sprintf("there is no tool named %q", call.Name)
		call.Output = "error: " + call.Err
		return
	}
	cctx, cancel := context.WithTimeout(ctx, opts.ToolTimeout)
	defer cancel()
	type outcome struct {
		out string
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				done <- outcome{err: fmt.Errorf("the tool panicked: %v", p)}
			}
		}()
		out, err := t.Call(cctx, json.RawMessage(call.Arguments))
		done <- outcome{out, err}
	}()
	var o outcome
	select {
	case o = <-done:
	case <-cctx.Done():
		o.err = cctx.Err()
	}
	if o.err != nil {
		switch {
		case ctx.Err() != nil:
			call.Err = "stopped: the run ended (" + ctx.Err().Error() + ")"
		case errors.Is(o.err, context.DeadlineExceeded):
			call.Err = fmt.Sprintf("the tool did not finish within %s and was stopped", opts.ToolTimeout)
		default:
			call.Err = o.err.Error()
		}
		o.out = "error: " + call.Err
	}
	call.Bytes = len(o.out)
	call.Output, call.Truncated = truncate(o.out, opts.MaxToolOutput)
}

// truncate cuts s to at most max bytes at a character boundary, ending it
// with a line that says how much the model does not see.
func truncate(s string, max int) (string, bool) {
	if len(s) <= max {
		return s, false
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + fmt.Sprintf("\n[output truncated: %d of %d bytes shown]", cut, len(s)), true
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
