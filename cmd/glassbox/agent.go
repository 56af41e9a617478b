package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"glassbox"
	"glassbox/agent"
)

type agentOptions struct {
	genFlags
	dir           string
	maxSteps      int
	maxTime       time.Duration
	toolTimeout   time.Duration
	maxToolOutput int
	mcp           []string
	mcpURL        []string
	transcript    string
	dissect       bool
	dissectTokens int
	noGoTools     bool
	toolChoice    string
	system        string
	pathEnum      int
	noParallel    bool
	colorMode     string
}

// agentMinContext is the context the agent gives a model whose own is
// smaller, when --ctx is not given: the tools' descriptions alone take a
// few hundred tokens.
const agentMinContext = 4096

func newAgentCmd() *cobra.Command {
	o := &agentOptions{}
	cmd := &cobra.Command{
		Use:   "agent [flags] TASK",
		Short: "Let a model work on a task with tools: read-only file tools, go build/test in a sandbox, MCP servers",
		Long: `Run an agent: the model gets the task and tools, calls them, reads their results and answers.
Each step is one generation; the tool calls of its reply run (each under --tool-timeout) and
their results go back to the model, until it answers without a call or a limit stops it
(--max-steps, --max-time). The stop reason is printed: answered, max_steps, timeout, canceled
or error; the command fails unless the model answered.

Tools: list_files, read_file and search, read-only and confined to --dir; go_build and go_test
in a sandbox (a temporary copy of --dir, no network, time and memory limits; --no-go-tools
leaves them out); and the tools of MCP servers (--mcp "COMMAND ARGS" over stdio, --mcp-url URL
over Streamable HTTP), renamed with the server's name when a name is taken.

--tool-choice scripts the steps: auto, none, required or a tool's name for each step, with
*N to repeat ("required*2,none"); the steps after it are auto. A step that must call a tool is
forced by a grammar to a well-formed call. --dissect traces every step and shows, for the
tokens of each call's name and arguments, the candidates the model weighed. --transcript FILE
saves the run as JSON Lines, one event per line, written as it happens.

Progress and reports go to stderr, the answer to stdout. A model without a chat template gets
a ChatML one with Hermes tool calls; a context below 4096 tokens is raised to 4096 unless --ctx
is given. See docs/agent.md.`,
		Example: `  glassbox agent -m qwen2.5-1.5b-instruct-q8_0.gguf --dir . "Which function parses the flags?"
  glassbox agent --dir ./proj --tool-choice list_files,read_file,none --dissect "What does main.go do?"
  glassbox agent --mcp "glassbox mcp" --transcript run.jsonl "How many tokens is 'hello world'?"`,
		Args: exactArgs(1, "the task"),
		RunE: func(cmd *cobra.Command, args []string) error { return o.run(cmd, args[0]) },
	}
	d := glassbox.DefaultSamplerParams()
	d.Temperature = 0
	o.genFlags.register(cmd, d, agent.DefaultMaxTokens, "tokens per reply at most")
	f := cmd.Flags()
	f.StringVar(&o.dir, "dir", ".", "the folder the file tools read and the go tools copy")
	f.IntVar(&o.maxSteps, "max-steps", agent.DefaultMaxSteps, "replies of the model at most")
	f.DurationVar(&o.maxTime, "max-time", agent.DefaultMaxTime, "wall time of the whole run at most")
	f.DurationVar(&o.toolTimeout, "tool-timeout", agent.DefaultToolTimeout, "time of one tool call at most (go_build and go_test included)")
	f.IntVar(&o.maxToolOutput, "max-tool-output", agent.DefaultMaxToolOutput, "bytes of a tool's result the model reads at most (the rest is cut, and the model told)")
	f.StringArrayVar(&o.mcp, "mcp", nil, "an MCP server to start, as a command line (stdio; repeatable)")
	f.StringArrayVar(&o.mcpURL, "mcp-url", nil, "an MCP server's Streamable HTTP endpoint (repeatable)")
	f.StringVar(&o.transcript, "transcript", "", "write the run to FILE as JSON Lines")
	f.BoolVar(&o.dissect, "dissect", false, "trace each step and show why the model called what it called")
	f.IntVar(&o.dissectTokens, "dissect-tokens", 4, "tokens shown per decision with --dissect (0 = all)")
	f.BoolVar(&o.noGoTools, "no-go-tools", false, "leave out go_build and go_test")
	f.StringVar(&o.toolChoice, "tool-choice", "", "tool choice of each step: auto, none, required or a tool's name, comma-separated, *N repeats")
	f.StringVar(&o.system, "system", "", "system message (default: the agent's; \"-\" for none)")
	f.IntVar(&o.pathEnum, "path-enum", 32, "when --dir has at most N files, the path arguments are enums of them (0 = never)")
	f.BoolVar(&o.noParallel, "no-parallel-tool-calls", false, "one tool call per reply")
	f.StringVar(&o.colorMode, "color", "auto", "colour the --dissect report: auto, always or never")
	return cmd
}

func (o *agentOptions) check() error {
	if err := o.checkN(); err != nil {
		return err
	}
	switch {
	case o.maxSteps < 1:
		return fmt.Errorf("--max-steps must be at least 1, got %d", o.maxSteps)
	case o.maxTime <= 0:
		return fmt.Errorf("--max-time must be positive, got %s", o.maxTime)
	case o.toolTimeout <= 0:
		return fmt.Errorf("--tool-timeout must be positive, got %s", o.toolTimeout)
	case o.maxToolOutput < 64:
		return fmt.Errorf("--max-tool-output must be at least 64 bytes, got %d", o.maxToolOutput)
	case o.pathEnum < 0:
		return fmt.Errorf("--path-enum must be 0 or more, got %d", o.pathEnum)
	case o.dissectTokens < 0:
		return fmt.Errorf("--dissect-tokens must be 0 or more, got %d", o.dissectTokens)
	}
	_, err := agent.ParseToolChoices(o.toolChoice)
	if err != nil {
		return fmt.Errorf("--tool-choice: %w", err)
	}
	return nil
}

func (o *agentOptions) run(cmd *cobra.Command, task string) error {
	ctx := cmd.Context()
	errw := cmd.ErrOrStderr()
	var color bool
	plan, _ := agent.ParseToolChoices(o.toolChoice)
	folder, err := agent.NewFolder(o.dir, agent.FileOptions{PathEnum: o.pathEnum})
	if err != nil {
		return err
	}
	o.fallbackTemplate = agent.DefaultTemplate
	gen, err := o.prologue(ctx, func() error {
		if err := o.check(); err != nil {
			return err
		}
		color, err = colorFlag(o.colorMode, errw)
		return err
	}, nil)
	if err != nil {
		return err
	}
	m := gen.m
	if o.ctx == 0 && m.ContextSize() < agentMinContext {
		m.Close()
		o.ctx = agentMinContext
		if m, err = o.open(ctx); err != nil {
			return err
		}
	}
	defer m.Close()
	if o.chatTemplateFile == "" && m.ChatTemplate() == agent.DefaultTemplate {
		fmt.Fprintf(errw, "glassbox agent: %s has no chat template: using the agent's (ChatML, Hermes tool calls)\n", m.Name())
	}

	sets := [][]agent.Tool{folder.Tools()}
	if !o.noGoTools {
		gt, err := agent.NewGoTools(ctx, folder, agent.GoOptions{Timeout: o.toolTimeout})
		if err != nil {
			return fmt.Errorf("the go tools (--no-go-tools leaves them out): %w", err)
		}
		defer gt.Close()
		sets = append(sets, gt.Tools())
	}
	version := "devel"
	if bi, ok := debug.ReadBuildInfo(); ok {
		version = readBuildVersion(bi).Version
	}
	for _, line := range o.mcp {
		t, err := agent.CommandTransport(line)
		if err != nil {
			return err
		}
		s, err := agent.ConnectMCP(ctx, t, version)
		if err != nil {
			return fmt.Errorf("--mcp %q: %w", line, err)
		}
		defer s.Close()
		sets = append(sets, s.Tools())
	}
	for _, url := range o.mcpURL {
		t, err := agent.HTTPTransport(url, nil)
		if err != nil {
			return err
		}
		s, err := agent.ConnectMCP(ctx, t, version)
		if err != nil {
			return fmt.Errorf("--mcp-url %s: %w", url, err)
		}
		defer s.Close()
		sets = append(sets, s.Tools())
	}
	tools := agent.Combine(sets...)

	opts := agent.Options{
		Tools: tools, System: o.system, MaxSteps: o.maxSteps, MaxTime: o.maxTime, ToolTimeout: o.toolTimeout,
		MaxToolOutput: o.maxToolOutput, MaxTokens: o.n, Sampler: gen.params, ToolChoices: plan, NoParallelToolCalls: o.noParallel,
	}
	if o.dissect {
		opts.Trace = &glassbox.TraceOptions{Top: 5}
	}
	if o.transcript != "" {
		f, err := os.Create(o.transcript)
		if err != nil {
			return fmt.Errorf("--transcript: %w", err)
		}
		defer f.Close()
		opts.Transcript = f
	}
	var names []string
	for _, t := range tools {
		names = append(names, t.Name)
	}
	fmt.Fprintf(errw, "glassbox agent: %s · folder %s · tools %s · at most %d steps, %s\n", m.Name(), folder.Dir(), strings.Join(names, ", "), o.maxSteps, o.maxTime)
	opts.OnStep = func(s *agent.Step) {
		printStep(errw, s)
		if o.dissect {
			if err := agent.WriteDecisions(errw, s, o.dissectTokens, color); err != nil {
				fmt.Fprintf(errw, "  (no report: %v)\n", err)
			}
		}
	}
	res, err := agent.Run(ctx, m, task, opts)
	if err != nil {
		return err
	}
	if res.Stop != agent.StopAnswered && len(res.Steps) > 0 {
		if last := res.Steps[len(res.Steps)-1]; last.FinishReason == "" {
			printStep(errw, last) // a step that did not finish
		}
	}
	fmt.Fprintf(errw, "stop: %s after %s in %.1f s\n", res.Stop, plural(len(res.Steps), "step"), res.Duration.Seconds())
	if res.Stop == agent.StopAnswered {
		fmt.Fprintln(cmd.OutOrStdout(), strings.TrimSpace(res.Answer))
		return nil
	}
	if errors.Is(res.Err, context.Canceled) {
		return res.Err
	}
	return fmt.Errorf("the agent stopped (%s): %v", res.Stop, res.Err)
}

// printStep writes a step's reply and tool calls.
func printStep(w io.Writer, s *agent.Step) {
	fmt.Fprintf(w, "step %d (tool choice %s): %d tokens in %.2f s, finish %s\n", s.Index, agent.FormatToolChoice(s.ToolChoice),
		s.Timings.GenTokens, s.Duration.Seconds(), s.FinishReason)
	if len(s.Reply.ToolCalls) == 0 {
		fmt.Fprintf(w, "  answer: %s\n", indent(clipLines(strings.TrimSpace(s.Reply.Content), 8), "    "))
		return
	}
	if c := strings.TrimSpace(s.Reply.Content); c != "" {
		fmt.Fprintf(w, "  says: %s\n", indent(clipLines(c, 4), "    "))
	}
	for _, c := range s.Calls {
		args := c.Arguments
		var b bytes.Buffer
		if json.Compact(&b, []byte(args)) == nil {
			args = b.String()
		}
		fmt.Fprintf(w, "  → %s %s\n", c.Name, args)
		switch {
		case c.NotRun:
			fmt.Fprintf(w, "    not run: the step was the last one allowed (--max-steps)\n")
		case c.Err != "":
			fmt.Fprintf(w, "    error (%.1f ms): %s\n", float64(c.Duration.Microseconds())/1000, c.Err)
		default:
			note := ""
			if c.Truncated {
				note = fmt.Sprintf(", cut to %d bytes for the model", len(c.Output))
			}
			fmt.Fprintf(w, "    %d bytes in %.1f ms%s:\n      %s\n", c.Bytes, float64(c.Duration.Microseconds())/1000, note, indent(clipLines(strings.TrimRight(c.Output, "\n"), 6), "      "))
		}
	}
}

// clipLines keeps the first n lines of s, each cut at 160 bytes, and says
// how many lines it left out.
func clipLines(s string, n int) string {
	lines := strings.Split(s, "\n")
	more := len(lines) - n
	if more > 0 {
		lines = lines[:n]
	}
	for i, l := range lines {
		if len(l) > 160 {
			cut := 160
			for cut > 0 && !utf8.RuneStart(l[cut]) {
				cut--
			}
			lines[i] = l[:cut] + fmt.Sprintf("… (%d bytes)", len(l))
		}
	}
	out := strings.Join(lines, "\n")
	if more > 0 {
		out += fmt.Sprintf("\n… %d more lines", more)
	}
	return out
}

// indent indents every line of s but the first.
func indent(s, pad string) string { return strings.ReplaceAll(s, "\n", "\n"+pad) }
