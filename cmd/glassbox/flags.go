package main

import (
	"fmt"
	"strconv"

	"github.com/spf13/cobra"
)

// maxThreads bounds --threads: more workers than this is a typing mistake.
const maxThreads = 1024

// boundedInt is an int flag that refuses values outside [lo, hi] when the
// command line is parsed, with a message saying what is allowed.
type boundedInt struct {
	p      *int
	lo, hi int
	rule   string // what is allowed, such as "a whole number from 0 (all cores) to 1024"
}

func newBoundedInt(p *int, def, lo, hi int, rule string) *boundedInt {
	*p = def
	return &boundedInt{p: p, lo: lo, hi: hi, rule: rule}
}

func (b *boundedInt) Set(s string) error {
	v, err := strconv.ParseInt(s, 0, 64)
	if err != nil {
		return fmt.Errorf("expected %s", b.rule)
	}
	if v < int64(b.lo) || v > int64(b.hi) {
		return fmt.Errorf("expected %s", b.rule)
	}
	*b.p = int(v)
	return nil
}

func (b *boundedInt) String() string { return strconv.Itoa(*b.p) }
func (b *boundedInt) Type() string   { return "int" }

// registerThreads registers -t/--threads, the worker threads of the matrix
// products, as every command that runs a model names it.
func registerThreads(cmd *cobra.Command, p *int, usage string) {
	cmd.Flags().VarP(newBoundedInt(p, 0, 0, maxThreads, fmt.Sprintf("a whole number from 0 (all cores) to %d", maxThreads)), "threads", "t", usage)
}

// registerCtx registers -c/--ctx, the context size in tokens (0: the model's).
func registerCtx(cmd *cobra.Command, p *int, usage string) {
	cmd.Flags().VarP(newBoundedInt(p, 0, 0, 1<<30, "a whole number of tokens, 0 (the model's) or more"), "ctx", "c", usage)
}

// registerNPredict registers -n/--n-predict, the number of tokens to generate
// at most, with llama.cpp's names. The former --n keeps working, hidden and
// marked deprecated.
func registerNPredict(cmd *cobra.Command, p *int, def int, usage string) {
	cmd.Flags().IntVarP(p, "n-predict", "n", def, usage)
	cmd.Flags().IntVar(p, "n", def, usage)
	cmd.Flags().MarkDeprecated("n", "use -n or --n-predict")
}
