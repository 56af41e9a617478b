package infer

import (
	"strings"

	"glassbox/tokenizer"
)

// textStream turns generated tokens into output text: it decodes them
// incrementally, holds back the bytes of an incomplete UTF-8 character and
// text that may be the start of a stop string, and cuts the text before the
// first stop string found.
type textStream struct {
	dec     *tokenizer.Decoder // nil without a tokenizer: no text
	stop    *stopper
	pending strings.Builder // decoded, not yet emitted
	text    strings.Builder // emitted
	stopped string          // the stop string that ended the text
}

// newTextStream starts the text of tokens that follow the token prev (the
// prompt's last): the first keeps its leading space unless prev is BOS, where
// the text starts.
func newTextStream(tok *tokenizer.Tokenizer, prev int, stops []string, special bool) *textStream {
	t := &textStream{stop: newStopper(stops)}
	switch {
	case tok != nil && special:
		t.dec = tok.NewSpecialDecoderAfter(prev)
	case tok != nil:
		t.dec = tok.NewDecoderAfter(prev)
	}
	return t
}

// add decodes one more token and returns the text that can be emitted now
// and, when it completed a stop string, that string. An end-of-generation
// token (eog) adds no text and releases what was held back for stop strings.
func (t *textStream) add(id int, eog bool) (emit, stopped string) {
	if t.dec != nil && !eog {
		t.pending.WriteString(t.dec.Add(id))
	}
	emit, stopped = t.stop.feed(&t.pending, eog)
	if stopped != "" {
		t.stopped = stopped
	}
	t.text.WriteString(emit)
	return emit, stopped
}

// emitted returns the text emitted so far.
func (t *textStream) emitted() string { return t.text.String() }

// finish ends the stream: text still held back (an incomplete character, or
// a partial stop string that never completed) belongs to the output unless a
// stop string ended it. It returns that rest and the whole text.
func (t *textStream) finish() (rest, text string) {
	if t.stopped == "" {
		if t.dec != nil {
			t.pending.WriteString(t.dec.Flush())
		}
		rest = t.pending.String()
		t.pending.Reset()
		t.text.WriteString(rest)
	}
	return rest, t.text.String()
}

// stopper holds back text that may be the start of a stop string.
type stopper struct{ stops []string }

func newStopper(stops []string) *stopper {
	var s []string
	for _, st := range stops {
		if st != "" {
			s = append(s, st)
		}
	}
	return &stopper{stops: s}
}

// feed returns the text of pending that can be emitted now and, if a stop
// string was found, that string (pending is then cut before it). At the end of
// the generation (final), everything not cut is emitted.
func (st *stopper) feed(pending *strings.Builder, final bool) (emit, stopped string) {
	p := pending.String()
	cut := -1
	for _, s := range st.stops {
		if i := strings.Index(p, s); i >= 0 && (cut < 0 || i < cut) {
			cut, stopped = i, s
		}
	}
	if cut >= 0 {
		pending.Reset()
		return p[:cut], stopped
	}
	if final {
		pending.Reset()
		return p, ""
	}
	// keep the longest suffix of p that is a prefix of a stop string
	hold := 0
	for _, s := range st.stops {
		for l := min(len(s)-1, len(p)); l > hold; l-- {
			if strings.HasSuffix(p, s[:l]) {
				hold = l
				break
			}
		}
	}
	pending.Reset()
	pending.WriteString(p[len(p)-hold:])
	return p[:len(p)-hold], ""
}
