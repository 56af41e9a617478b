package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"

	"github.com/spf13/cobra"

	"glassbox"
)

type chatOptions struct {
	genFlags
	system  string
	hideThk bool
}

func newChatCmd() *cobra.Command {
	o := &chatOptions{}
	cmd := &cobra.Command{
		Use:   "chat [flags]",
		Short: "Talk with a chat model, keeping the conversation's history",
		Long: `An interactive chat: each line you type is a user message, the model's reply streams back.
The conversation is rendered with the model's own chat template, and the KV cache keeps what was
already processed. Type /reset to start over, /bye (or end the input) to quit. Ctrl-C stops a
reply and keeps the conversation; at the prompt it quits. When the conversation fills the
context, glassbox says so: /reset starts a new one. A thinking model's reasoning (between
<think> and </think>, or gpt-oss's analysis channel) is shown apart from its answer (gpt-oss's
final channel), dim on a terminal; --hide-thinking drops it.
--grammar FILE or --json-schema FILE constrains every reply.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return o.run(cmd) },
	}
	o.genFlags.register(cmd, glassbox.DefaultSamplerParams(), 1024, "tokens per reply at most")
	cmd.Flags().StringVar(&o.system, "system", "", "system message")
	cmd.Flags().BoolVar(&o.hideThk, "hide-thinking", false, "do not print the reasoning a thinking model writes between <think> and </think> (gpt-oss: its analysis channel)")
	o.registerGrammar(cmd)
	return cmd
}

func (o *chatOptions) run(cmd *cobra.Command) error {
	ctx := cmd.Context()
	gen, err := o.prologue(ctx, o.checkN, nil)
	if err != nil {
		return err
	}
	m, params := gen.m, gen.params
	defer m.Close()
	if !m.HasChatTemplate() {
		return fmt.Errorf("%s has no chat template (tokenizer.chat_template): use glassbox run for plain completion", m.Path())
	}
	out, errw := cmd.OutOrStdout(), cmd.ErrOrStderr()
	var history []glassbox.Message
	if o.system != "" {
		history = append(history, glassbox.Message{Role: "system", Content: o.system})
	}
	base := len(history)
	stop := make(chan struct{})
	defer close(stop)
	lines := readLines(cmd.InOrStdin(), stop)
	// The first Ctrl-C during a reply stops it; at the prompt, or a second
	// one before the reply has stopped, it quits (the command's context is
	// cancelled and glassbox exits with 130).
	var reply struct {
		sync.Mutex
		cancel   context.CancelFunc // stops the reply being generated, nil at the prompt
		stopping bool
	}
	defer onInterrupt(func() bool {
		reply.Lock()
		defer reply.Unlock()
		if reply.cancel == nil || reply.stopping {
			return false
		}
		reply.stopping = true
		reply.cancel()
		return true
	})()
	for {
		fmt.Fprint(out, ">>> ")
		var line string
		select {
		case <-ctx.Done():
			fmt.Fprintln(out)
			return ctx.Err()
		case l, ok := <-lines:
			if !ok {
				fmt.Fprintln(out)
				return nil
			}
			if l.err != nil {
				fmt.Fprintln(out)
				return l.err
			}
			line = strings.TrimSpace(l.text)
		}
		switch line {
		case "":
			continue
		case "/bye", "/exit":
			return nil
		case "/reset":
			history = history[:base]
			fmt.Fprintln(out, "(conversation cleared)")
			continue
		}
		history = append(history, glassbox.Message{Role: "user", Content: line})
		var text strings.Builder // what was shown of the reply
		opts := glassbox.GenerateOptions{MaxTokens: o.n, Sampler: params, Grammar: o.grammar}
		cp, err := m.PrepareChat(ctx, history, glassbox.ChatOptions{})
		if err != nil {
			history = history[:len(history)-1]
			printError(errw, err)
			continue
		}
		rd := cp.NewReader()
		pr := &replyPrinter{out: out, dim: isTerminal(out), hide: o.hideThk}
		opts.OnToken = func(t glassbox.Token) error {
			text.WriteString(t.Text)
			if cp.Reasons() {
				return pr.delta(rd.Add(t.Text))
			}
			rd.Add(t.Text)
			return pr.write(t.Text, false)
		}
		// finish ends the reply on screen and returns the assistant's message
		finish := func(reason string) glassbox.Message {
			d, msg, _ := rd.Finish(reason)
			if cp.Reasons() {
				pr.delta(d)
				pr.endThinking()
			}
			msg.Content = strings.TrimSpace(msg.Content)
			return msg
		}
		rctx, cancel := context.WithCancel(ctx)
		reply.Lock()
		reply.cancel, reply.stopping = cancel, false
		reply.Unlock()
		res, err := m.GenerateIDs(rctx, m.EncodeChat(cp.Text, opts), opts)
		reply.Lock()
		reply.cancel = nil
		reply.Unlock()
		cancel()
		switch {
		case ctx.Err() != nil: // SIGTERM, or a second Ctrl-C
			fmt.Fprintln(out)
			return ctx.Err()
		case errors.Is(err, context.Canceled):
			// stopped by Ctrl-C: the conversation keeps what was shown
			msg := finish(glassbox.FinishStop)
			fmt.Fprintln(out)
			fmt.Fprintln(errw, "(reply stopped; Ctrl-C at the prompt quits)")
			if text.Len() == 0 {
				history = history[:len(history)-1]
			} else {
				history = append(history, msg)
				params.Seed++
			}
			continue
		case errors.Is(err, glassbox.ErrContext):
			n := "more"
			if rendered, rerr := m.RenderChat(history); rerr == nil {
				n = strconv.Itoa(len(m.EncodeChat(rendered, opts)))
			}
			history = history[:len(history)-1]
			fmt.Fprintf(errw, "(the conversation no longer fits the context: with this message it takes %s tokens, and the context holds %d with room for the reply; type /reset to start a new conversation, or restart with a larger --ctx)\n",
				n, m.ContextSize())
			continue
		case err != nil:
			history = history[:len(history)-1]
			if text.Len() > 0 {
				fmt.Fprintln(out)
			}
			printError(errw, err)
			continue
		}
		msg := finish(res.FinishReason)
		fmt.Fprintln(out)
		if res.FinishReason == glassbox.FinishLength {
			if used := len(res.PromptIDs) + len(res.IDs); used >= m.ContextSize() {
				fmt.Fprintf(errw, "(the context of %d tokens is full: the reply was cut after %d tokens; type /reset to start a new conversation)\n", m.ContextSize(), len(res.IDs))
			} else {
				fmt.Fprintf(errw, "(the reply was cut at the limit of %d tokens, -n)\n", o.n)
			}
		}
		history = append(history, msg)
		params.Seed++ // a fresh draw for the next turn, still reproducible from --seed
	}
}

// line is one line of input, or the error that ended the input.
type line struct {
	text string
	err  error
}

// readLines reads r line by line in its own goroutine, so that the prompt
// can wait for a line and for Ctrl-C at once. The channel is closed at the
// end of the input; a read error is sent as the last item. Closing stop ends
// the goroutine once its current read returns.
func readLines(r io.Reader, stop <-chan struct{}) <-chan line {
	ch := make(chan line)
	go func() {
		defer close(ch)
		in := bufio.NewScanner(r)
		in.Buffer(make([]byte, 0, 64*1024), 1<<20)
		send := func(l line) bool {
			select {
			case ch <- l:
				return true
			case <-stop:
				return false
			}
		}
		for in.Scan() {
			if !send(line{text: in.Text()}) {
				return
			}
		}
		if err := in.Err(); err != nil {
			send(line{err: err})
		}
	}()
	return ch
}
