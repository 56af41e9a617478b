package main

import (
	"io"

	"glassbox"
)

// replyPrinter prints a chat reply as it streams, with the reasoning a
// thinking model writes between <think> and </think> set apart from the
// answer, as Ollama shows it: "Thinking..." then the reasoning, then
// "...done thinking." and the answer. On a terminal the reasoning is dim;
// hide drops it.
type replyPrinter struct {
	out   io.Writer
	dim   bool
	hide  bool
	state int // 0 nothing printed, 1 in the reasoning, 2 in the answer
	last  string
}

const (
	thinkingLabel = "Thinking..."
	doneThinking  = "...done thinking."
	ansiDim       = "\x1b[2m"
	ansiReset     = "\x1b[0m"
)

func (p *replyPrinter) write(s string, dim bool) error {
	if s == "" {
		return nil
	}
	p.last = s
	if dim && p.dim {
		s = ansiDim + s + ansiReset
	}
	_, err := io.WriteString(p.out, s)
	return err
}

// delta prints what a streamed piece adds to the reasoning and the answer.
func (p *replyPrinter) delta(d glassbox.ChatDelta) error {
	if d.Reasoning != "" && !p.hide {
		if p.state == 0 {
			if err := p.write(thinkingLabel+"\n", true); err != nil {
				return err
			}
			p.state = 1
		}
		if err := p.write(d.Reasoning, true); err != nil {
			return err
		}
	}
	if d.Content != "" {
		if err := p.endThinking(); err != nil {
			return err
		}
		p.state = 2
		return p.write(d.Content, false)
	}
	return nil
}

// endThinking closes the reasoning block, if one is open.
func (p *replyPrinter) endThinking() error {
	if p.state != 1 {
		return nil
	}
	p.state = 2
	return p.write("\n"+doneThinking+"\n\n", true)
}
