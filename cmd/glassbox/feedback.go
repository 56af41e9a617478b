package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"glassbox/feedback"
)

// feedbackFlags are the flags of every feedback subcommand.
type feedbackFlags struct{ file string }

func (f *feedbackFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.file, "file", "", "the feedback file (default: feedback/feedback.jsonl in the store, $GLASSBOX_HOME or ~/.glassbox)")
}

func (f *feedbackFlags) open() (*feedback.Log, error) {
	path := f.file
	if path == "" {
		var err error
		if path, err = feedback.DefaultPath(""); err != nil {
			return nil, err
		}
	}
	return feedback.Open(path)
}

// read reads the file, warning on stderr about every line that is not a
// record; with strict, a bad line other than a torn last one is an error.
func (f *feedbackFlags) read(cmd *cobra.Command, strict bool) ([]feedback.Record, string, error) {
	l, err := f.open()
	if err != nil {
		return nil, "", err
	}
	recs, bad, err := l.Read()
	if err != nil {
		return nil, l.Path(), err
	}
	var errs []string
	for _, b := range bad {
		if strict && !b.Torn {
			errs = append(errs, b.Error())
			continue
		}
		fmt.Fprintf(cmd.ErrOrStderr(), "glassbox: warning: %s: %v\n", l.Path(), &b)
	}
	if len(errs) > 0 {
		return nil, l.Path(), fmt.Errorf("%s has %s that are not feedback records (--skip-invalid leaves them out):\n  %s",
			l.Path(), plural(len(errs), "line"), strings.Join(errs, "\n  "))
	}
	return recs, l.Path(), nil
}

func newFeedbackCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "feedback",
		Short: "List, add and export the judgements people made of replies (thumbs, A/B picks)",
		Long: `The page of glassbox serve records thumbs up/down on replies and A/B picks between two
replies as JSON lines in the store (feedback/feedback.jsonl). These commands list them, add
records written by scripts, and export them as a preference dataset in the shapes Hugging Face
TRL reads: pairs {"prompt","chosen","rejected"} or unpaired {"prompt","completion","label"}.
The format of the file is described in docs/alignment.md.`,
	}
	cmd.AddCommand(newFeedbackListCmd(), newFeedbackExportCmd(), newFeedbackAddCmd())
	return cmd
}

func newFeedbackListCmd() *cobra.Command {
	var f feedbackFlags
	var jsonOut bool
	cmd := &cobra.Command{
		Use:   "list [flags]",
		Short: "List the recorded judgements",
		Args:  maxArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			recs, path, err := f.read(cmd, false)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if jsonOut {
				return feedback.WriteJSONL(out, recs)
			}
			if len(recs) == 0 {
				fmt.Fprintf(out, "no feedback in %s\n", path)
				return nil
			}
			tw := bufio.NewWriter(out)
			fmt.Fprintf(tw, "%-20s  %-7s  %-9s  %-20s  %s\n", "TIME", "KIND", "VERDICT", "MODEL", "PROMPT")
			for _, r := range recs {
				fmt.Fprintf(tw, "%-20s  %-7s  %-9s  %-20s  %s\n", r.Time.UTC().Format("2006-01-02 15:04:05"), r.Kind, verdict(r), r.Model, oneLine(r.Prompt.String(), 60))
			}
			fmt.Fprintf(tw, "%s in %s\n", plural(len(recs), "record"), path)
			return tw.Flush()
		},
	}
	f.register(cmd)
	cmd.Flags().BoolVar(&jsonOut, "json", false, "print the records as JSON lines, whole")
	return cmd
}

// verdict is a record's judgement in a word.
func verdict(r feedback.Record) string {
	switch r.Kind {
	case feedback.KindThumbs:
		if r.Label != nil && *r.Label {
			return "up"
		}
		return "down"
	case feedback.KindAB:
		switch r.Choice {
		case feedback.ChoiceA:
			return "A > B"
		case feedback.ChoiceB:
			return "B > A"
		case feedback.ChoiceBothBad:
			return "both bad"
		}
		return r.Choice
	}
	return "chosen"
}

// oneLine shows text on one line of at most n characters (a listing: the
// whole text is in --json).
func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

func newFeedbackExportCmd() *cobra.Command {
	var f feedbackFlags
	var format, output string
	var skipInvalid bool
	cmd := &cobra.Command{
		Use:   "export [flags]",
		Short: "Export the judgements as a preference dataset (JSONL in TRL's field names)",
		Long: `Export the recorded judgements as a preference dataset, one JSON object a line.

--format pairs (default) writes {"prompt","chosen","rejected"} for reward models and DPO: every
A/B pick and pair record, and for each prompt every thumbs-up reply against every thumbs-down
reply. --format unpaired writes {"prompt","completion","label"} (TRL's KTO shape): every thumbs,
the winner (true) and loser (false) of every pick, both replies of an A/B "both bad" (false).
A/B ties say nothing about either reply and are left out.

A line of the file that is not a valid record stops the export with its line number and field,
unless --skip-invalid; a torn last line (a write cut short by a crash) is skipped with a warning.`,
		Example: `  glassbox feedback export -o prefs.jsonl
  glassbox feedback export --format unpaired -o kto.jsonl`,
		Args: maxArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "pairs" && format != "unpaired" {
				return fmt.Errorf("--format must be pairs or unpaired, got %q", format)
			}
			recs, path, err := f.read(cmd, !skipInvalid)
			if err != nil {
				return err
			}
			var buf bytes.Buffer
			var st feedback.ExportStats
			what := "pair"
			if format == "pairs" {
				var ex []feedback.Pair
				ex, st = feedback.Pairs(recs)
				err = feedback.WriteJSONL(&buf, ex)
			} else {
				var ex []feedback.Unpaired
				ex, st = feedback.UnpairedExamples(recs)
				err = feedback.WriteJSONL(&buf, ex)
				what = "example"
			}
			if err != nil {
				return err
			}
			dest := "stdout"
			if output == "" || output == "-" {
				if _, err := cmd.OutOrStdout().Write(buf.Bytes()); err != nil {
					return err
				}
			} else {
				if err := writeFileAtomic(output, buf.Bytes()); err != nil {
					return err
				}
				dest = output
			}
			msg := fmt.Sprintf("exported %s from %s of %s to %s", plural(st.Examples, what), plural(st.Records, "record"), path, dest)
			if st.FromThumbs > 0 {
				msg += fmt.Sprintf(" (%d from thumbs on the same prompt)", st.FromThumbs)
			}
			if st.Skipped > 0 {
				msg += fmt.Sprintf("; %s gave none", plural(st.Skipped, "record"))
			}
			fmt.Fprintln(cmd.ErrOrStderr(), msg)
			return nil
		},
	}
	f.register(cmd)
	cmd.Flags().StringVar(&format, "format", "pairs", "pairs (prompt, chosen, rejected) or unpaired (prompt, completion, label)")
	cmd.Flags().StringVarP(&output, "output", "o", "", "write the dataset to this file (default: stdout)")
	cmd.Flags().BoolVar(&skipInvalid, "skip-invalid", false, "leave out lines that are not valid records, with a warning, instead of stopping")
	return cmd
}

// writeFileAtomic writes data to path through a temporary file renamed over
// it, so that a failed export leaves no half file.
func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(dirOf(path), ".export-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

func dirOf(path string) string {
	if i := strings.LastIndexAny(path, `/\`); i >= 0 {
		return path[:i+1]
	}
	return "."
}

func newFeedbackAddCmd() *cobra.Command {
	var f feedbackFlags
	var source string
	cmd := &cobra.Command{
		Use:   "add [flags] [FILE]",
		Short: "Append records written by a script (JSON lines from FILE or stdin)",
		Long: `Append feedback records, one JSON object a line, read from FILE or stdin: the fields of
the feedback file (docs/alignment.md), or TRL's own shapes {"prompt","chosen","rejected"} and
{"prompt","completion","label"}. Each record gets an id and the time when it has none. Every line
is checked first: one that is not a valid record stops the command, naming its line and field,
and nothing is added.`,
		Example: `  echo '{"prompt":"2+2=","chosen":"4","rejected":"5"}' | glassbox feedback add
  glassbox feedback add --source my-script judgements.jsonl`,
		Args: maxArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var in io.Reader = cmd.InOrStdin()
			name := "stdin"
			if len(args) == 1 && args[0] != "-" {
				fh, err := os.Open(args[0])
				if err != nil {
					return err
				}
				defer fh.Close()
				in, name = fh, args[0]
			}
			var recs []feedback.Record
			br := bufio.NewReader(in)
			for n := 1; ; n++ {
				line, err := br.ReadBytes('\n')
				if err != nil && !errors.Is(err, io.EOF) {
					return fmt.Errorf("%s: line %d: %w", name, n, err)
				}
				if t := bytes.TrimSpace(line); len(t) > 0 {
					r, perr := feedback.Parse(t)
					if perr == nil {
						if r.Source == "" {
							r.Source = source
						}
						perr = r.Normalize()
					}
					if perr != nil {
						return fmt.Errorf("%s: line %d: %w; nothing was added", name, n, perr)
					}
					recs = append(recs, r)
				}
				if err != nil {
					break
				}
			}
			if len(recs) == 0 {
				return fmt.Errorf("%s holds no record: expected JSON objects, one a line", name)
			}
			l, err := f.open()
			if err != nil {
				return err
			}
			for i := range recs {
				if err := l.Append(&recs[i]); err != nil {
					return fmt.Errorf("after %s: %w", plural(i, "record"), err)
				}
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "added %s to %s\n", plural(len(recs), "record"), l.Path())
			return nil
		},
	}
	f.register(cmd)
	cmd.Flags().StringVar(&source, "source", "cli", "the source recorded for records that name none")
	return cmd
}
