package feedback

import (
	"encoding/json"
	"fmt"
	"io"
)

// Pair is one example of a paired preference dataset, in TRL's field names.
type Pair struct {
	Prompt   Content `json:"prompt"`
	Chosen   Content `json:"chosen"`
	Rejected Content `json:"rejected"`
}

// Unpaired is one example of an unpaired preference dataset (TRL's KTO
// shape): a reply and whether it is desirable.
type Unpaired struct {
	Prompt     Content `json:"prompt"`
	Completion Content `json:"completion"`
	Label      bool    `json:"label"`
}

// ExportStats counts what an export used and left out.
type ExportStats struct {
	Records  int // records read
	Examples int // examples made
	// FromThumbs is the number of pairs made from a thumbs up and a thumbs
	// down on the same prompt.
	FromThumbs int
	// Skipped is the number of records that gave no example: A/B ties
	// (both, neither), and for pairs thumbs with no opposite vote on
	// their prompt and A/B "both_bad".
	Skipped int
}

// Pairs turns records into preference pairs: every pair record, every A/B
// comparison with a winner, and, for each prompt, every thumbs-up reply
// against every thumbs-down reply (the same reply is never paired with
// itself). Records come out in file order; pairs made from thumbs follow,
// by the order of their prompts' first thumbs.
func Pairs(recs []Record) ([]Pair, ExportStats) {
	st := ExportStats{Records: len(recs)}
	var out []Pair
	type votes struct {
		prompt   Content
		up, down []Content
	}
	var order []string
	byPrompt := map[string]*votes{}
	for _, r := range recs {
		switch {
		case (r.Kind == KindPair || r.Kind == KindAB) && r.Chosen != nil && r.Rejected != nil:
			out = append(out, Pair{Prompt: r.Prompt, Chosen: *r.Chosen, Rejected: *r.Rejected})
		case r.Kind == KindThumbs && r.Completion != nil && r.Label != nil:
			k := promptKey(r.Prompt)
			v := byPrompt[k]
			if v == nil {
				v = &votes{prompt: r.Prompt}
				byPrompt[k] = v
				order = append(order, k)
			}
			if *r.Label {
				v.up = append(v.up, *r.Completion)
			} else {
				v.down = append(v.down, *r.Completion)
			}
		default:
			st.Skipped++
		}
	}
	for _, k := range order {
		v := byPrompt[k]
		if len(v.up) == 0 || len(v.down) == 0 {
			st.Skipped += len(v.up) + len(v.down)
			continue
		}
		for _, up := range v.up {
			for _, down := range v.down {
				if up.Equal(down) {
					continue
				}
				out = append(out, Pair{Prompt: v.prompt, Chosen: up, Rejected: down})
				st.FromThumbs++
			}
		}
	}
	st.Examples = len(out)
	return out, st
}

// UnpairedExamples turns records into unpaired examples: a thumbs record as
// it is, a pair (or an A/B pick) as its chosen reply labelled true and its
// rejected one labelled false, an A/B "both_bad" as both replies labelled
// false. A/B ties say nothing of either reply and are skipped.
func UnpairedExamples(recs []Record) ([]Unpaired, ExportStats) {
	st := ExportStats{Records: len(recs)}
	var out []Unpaired
	for _, r := range recs {
		switch {
		case r.Kind == KindThumbs && r.Completion != nil && r.Label != nil:
			out = append(out, Unpaired{Prompt: r.Prompt, Completion: *r.Completion, Label: *r.Label})
		case (r.Kind == KindPair || r.Kind == KindAB) && r.Chosen != nil && r.Rejected != nil:
			out = append(out, Unpaired{Prompt: r.Prompt, Completion: *r.Chosen, Label: true},
				Unpaired{Prompt: r.Prompt, Completion: *r.Rejected, Label: false})
		case r.Kind == KindAB && r.Choice == ChoiceBothBad && len(r.Completions) == 2:
			out = append(out, Unpaired{Prompt: r.Prompt, Completion: r.Completions[0], Label: false},
				Unpaired{Prompt: r.Prompt, Completion: r.Completions[1], Label: false})
		default:
			st.Skipped++
		}
	}
	st.Examples = len(out)
	return out, st
}

// promptKey identifies a prompt: its JSON (text and messages differ).
func promptKey(c Content) string {
	b, _ := json.Marshal(c)
	if c.Messages != nil {
		return "m" + string(b)
	}
	return "t" + string(b)
}

// WriteJSONL writes one JSON object a line.
func WriteJSONL[T any](w io.Writer, examples []T) error {
	for i, e := range examples {
		b, err := json.Marshal(e)
		if err != nil {
			return fmt.Errorf("feedback: example %d: %w", i+1, err)
		}
		if _, err := w.Write(append(b, '\n')); err != nil {
			return err
		}
	}
	return nil
}
