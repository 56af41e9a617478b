package main

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"glassbox"
	"glassbox/infer"
)

type chatOptions struct {
	modelFlags
	samplingFlags
	n      int
	system string
}

func newChatCmd() *cobra.Command {
	o := &chatOptions{}
	cmd := &cobra.Command{
		Use:   "chat [flags]",
		Short: "Talk with a chat model, keeping the conversation's history",
		Long: `An interactive chat: each line you type is a user message, the model's reply streams back.
The conversation is rendered with the model's own chat template, and the KV cache keeps what was
already processed. Type /reset to start over, /bye (or end the input) to quit.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return o.run(cmd) },
	}
	o.modelFlags.register(cmd)
	o.samplingFlags.register(cmd)
	registerNPredict(cmd, &o.n, 1024, "tokens per reply at most")
	cmd.Flags().StringVar(&o.system, "system", "", "system message")
	return cmd
}

func (o *chatOptions) run(cmd *cobra.Command) error {
	if o.n <= 0 {
		return fmt.Errorf("-n must be positive, got %d", o.n)
	}
	params, err := o.samplingFlags.params()
	if err != nil {
		return err
	}
	m, err := o.modelFlags.open(cmd.Context())
	if err != nil {
		return err
	}
	defer m.Close()
	if !m.HasChatTemplate() {
		return fmt.Errorf("%s has no chat template (tokenizer.chat_template): use glassbox run for plain completion", m.Path())
	}
	out := cmd.OutOrStdout()
	var history []glassbox.Message
	if o.system != "" {
		history = append(history, glassbox.Message{Role: "system", Content: o.system})
	}
	base := len(history)
	in := bufio.NewScanner(cmd.InOrStdin())
	in.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for {
		fmt.Fprint(out, ">>> ")
		if !in.Scan() {
			fmt.Fprintln(out)
			return in.Err()
		}
		line := strings.TrimSpace(in.Text())
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
		opts := glassbox.GenerateOptions{
			MaxTokens: o.n, Sampler: params,
			OnToken: func(t infer.Token) error { _, err := io.WriteString(out, t.Text); return err },
		}
		res, err := m.Chat(cmd.Context(), history, opts)
		if err != nil {
			history = history[:len(history)-1]
			printError(cmd.ErrOrStderr(), err)
			continue
		}
		fmt.Fprintln(out)
		history = append(history, glassbox.Message{Role: "assistant", Content: strings.TrimSpace(res.Text)})
		params.Seed++ // a fresh draw for the next turn, still reproducible from --seed
	}
}
