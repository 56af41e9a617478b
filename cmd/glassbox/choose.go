package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"glassbox"
	"glassbox/bench"
	"glassbox/catalog"
	"glassbox/choose"
	"glassbox/eval"
)

// chooseOptions are the flags of glassbox choose.
type chooseOptions struct {
	cf      catalogFlags
	maxRAM  string
	minTPS  float64
	ctx     int
	quant   string
	cacheK  string // --cache-type-k
	cacheV  string // --cache-type-v
	json    bool
	verbose bool
}

// chooseReport is what glassbox choose --json prints.
type chooseReport struct {
	Constraints choose.Constraints `json:"constraints"`
	Machine     chooseMachine      `json:"machine"`
	RAMFormula  string             `json:"ram_formula"`
	Candidates  []choose.Candidate `json:"candidates"`
}

// chooseMachine is what this machine measured for the estimates.
type chooseMachine struct {
	eval.Machine
	BandwidthBytesPerS float64            `json:"bandwidth_bytes_per_s"`
	MatVecBytesPerS    map[string]float64 `json:"matvec_bytes_per_s"`
	Calibration        float64            `json:"calibration,omitempty"`
	CalibrationRuns    int                `json:"calibration_runs,omitempty"`
}

// ramFormula is the memory model every estimate follows.
var ramFormula = fmt.Sprintf("RAM ≈ weights (parameters × bits per weight / 8, or the file's size) + KV cache (2 × layers × ctx × KV heads × head dim × %d bytes, F16) + overhead (%s runtime + %d bytes × vocabulary)",
	choose.KVBytesPerElement, choose.FormatBytes(choose.RuntimeOverheadBytes), choose.VocabBytesPerToken)

func newChooseCmd() *cobra.Command {
	var o chooseOptions
	cmd := &cobra.Command{
		Use:   "choose",
		Short: "Rank the models for a job on this machine and say why each is in or out",
		Long: `choose ranks the models that could do a job on this machine: the models of the local store
(and any file glassbox evaluated or benchmarked), with what was measured of them (glassbox
eval, glassbox bench), and the catalog's public models (glassbox catalog), estimated. Every
candidate is checked against each constraint and the output says which passed or failed and
with which numbers.

Memory is estimated as weights + KV cache + overhead at the context asked for (the formula
is printed); speed from this machine's memory bandwidth and the measured throughput of
glassbox's matrix-vector product for the weights' quantization (generating a token reads
every weight once), scaled by what glassbox bench measured here when there are bench records.
Estimates are estimates: glassbox bench MODEL measures. Candidates that fit come first, the
largest first (more parameters, better quality at equal generation), then the fastest.`,
		Example: `  glassbox choose --task code --max-ram 8G --min-tps 10 --license permissive
  glassbox choose --task fr --open-source --ctx 8192 --quant Q8_0 --json`,
		Args: exactArgs(0, "no argument"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runChoose(cmd.Context(), cmd.OutOrStdout(), o)
		},
	}
	o.cf.register(cmd)
	f := cmd.Flags()
	f.StringVar(&o.maxRAM, "max-ram", "", "memory the model may take: 8G, 512M … (powers of 1024)")
	f.Float64Var(&o.minTPS, "min-tps", 0, "generation speed needed, in tokens per second")
	f.IntVarP(&o.ctx, "ctx", "c", choose.DefaultContext, "context the job needs, in tokens (sizes the KV cache)")
	f.StringVar(&o.quant, "quant", choose.DefaultQuant, "quantization of the catalog's models (Q4_K_M, Q8_0, F16 …)")
	f.StringVar(&o.cacheK, "cache-type-k", "", "KV cache type of the keys the job will run with: f16 (default), q8_0 or q4_0 (sizes the KV cache)")
	f.StringVar(&o.cacheV, "cache-type-v", "", "KV cache type of the values the job will run with: f16 (default), q8_0 or q4_0 (with flash attention; sizes the KV cache)")
	f.BoolVar(&o.json, "json", false, "print the ranking as JSON")
	f.BoolVar(&o.verbose, "verbose", false, "explain the candidates that are out as fully as those that are in")
	return cmd
}

// constraints turns the flags into choose's constraints.
func (o *chooseOptions) constraints() (choose.Constraints, error) {
	c := choose.Constraints{Task: o.cf.task, MinTPS: o.minTPS, OpenSource: o.cf.openSource, Context: o.ctx, Quant: o.quant, CacheTypeK: o.cacheK, CacheTypeV: o.cacheV}
	switch {
	case o.cf.license == "":
	case strings.EqualFold(o.cf.license, "permissive"):
		c.Permissive = true
	default:
		return c, fmt.Errorf("--license: choose takes permissive (glassbox catalog --license ID lists a license's models), got %q", o.cf.license)
	}
	if o.maxRAM != "" {
		var err error
		if c.MaxRAM, err = choose.ParseBytes(o.maxRAM); err != nil {
			return c, fmt.Errorf("--max-ram: %w", err)
		}
	}
	if o.ctx < 1 {
		return c, fmt.Errorf("--ctx must be at least 1, got %d", o.ctx)
	}
	if o.minTPS < 0 {
		return c, fmt.Errorf("--min-tps must be positive, got %g", o.minTPS)
	}
	if _, _, err := glassbox.QuantBitsPerWeight(o.quant); err != nil {
		return c, fmt.Errorf("--quant: %w", err)
	}
	return c, nil
}

// The sizes of the buffer the bandwidth is measured on and of the matrix the
// throughput is: far beyond the CPU caches (tests make them smaller).
var (
	bandwidthBytes int64 = bench.DefaultBandwidthBytes
	matVecBytes    int64 = 128 << 20
)

func runChoose(ctx context.Context, w io.Writer, o chooseOptions) error {
	c, err := o.constraints()
	if err != nil {
		return err
	}
	cat, err := catalog.Load()
	if err != nil {
		return err
	}
	local, err := choose.Gather("")
	if err != nil {
		return err
	}
	bw, err := bench.MemoryBandwidth(ctx, bandwidthBytes, 0)
	if err != nil {
		return err
	}
	mach := chooseMachine{Machine: eval.ThisMachine(), BandwidthBytesPerS: bw, MatVecBytesPerS: map[string]float64{}}
	in := choose.Input{Catalog: cat, Local: local, Architectures: glassbox.Architectures()}
	in.Machine = choose.Machine{Bandwidth: bw, Throughput: func(quant string) (float64, error) {
		_, base, err := glassbox.QuantBitsPerWeight(quant)
		if err != nil {
			return 0, err
		}
		if t, ok := mach.MatVecBytesPerS[base.String()]; ok {
			return t, nil
		}
		t, err := bench.MatVecThroughput(ctx, quant, matVecBytes)
		if err != nil {
			return 0, err
		}
		mach.MatVecBytesPerS[base.String()] = t
		return t, nil
	}}
	var recs []eval.Record
	for _, l := range local {
		recs = append(recs, l.Records...)
	}
	cal, n := choose.Calibrate(recs, mach.Machine, func(r *eval.Record) float64 {
		return in.Machine.EstimateSpeed(r.Model.Size, r.Model.FileType).TPS
	})
	in.Machine.Calibration, in.Machine.CalibrationRuns = cal, n
	mach.Calibration, mach.CalibrationRuns = cal, n
	if err := ctx.Err(); err != nil {
		return err
	}
	cands, c, err := choose.Choose(in, c)
	if err != nil {
		return err
	}
	if o.json {
		return writeJSON(w, chooseReport{Constraints: c, Machine: mach, RAMFormula: ramFormula, Candidates: cands})
	}
	return writeChoice(w, c, mach, cands, o.verbose)
}

// writeChoice prints the ranking: the job, the machine, the candidates in
// (every check), then those out (the checks they failed).
func writeChoice(w io.Writer, c choose.Constraints, m chooseMachine, cands []choose.Candidate, verbose bool) error {
	job := []string{}
	if c.Task != "" {
		job = append(job, "task "+c.Task)
	}
	if c.MaxRAM > 0 {
		job = append(job, "RAM ≤ "+choose.FormatBytes(c.MaxRAM))
	}
	if c.MinTPS > 0 {
		job = append(job, fmt.Sprintf("≥ %g tokens/s", c.MinTPS))
	}
	if c.Permissive {
		job = append(job, "permissive license")
	}
	if c.OpenSource {
		job = append(job, "open source")
	}
	job = append(job, fmt.Sprintf("context %d", c.Context), "catalog models at "+strings.ToUpper(c.Quant))
	fmt.Fprintf(w, "Job: %s\n", strings.Join(job, " · "))
	fmt.Fprintf(w, "Machine: %s, %d cores; memory read bandwidth %s/s (measured now)", m.CPU, m.Cores, choose.FormatBytes(int64(m.BandwidthBytesPerS)))
	for _, t := range sortedKeys(m.MatVecBytesPerS) {
		fmt.Fprintf(w, "; %s matrix-vector product %s/s", t, choose.FormatBytes(int64(m.MatVecBytesPerS[t])))
	}
	fmt.Fprintln(w)
	if m.CalibrationRuns > 0 {
		fmt.Fprintf(w, "Speed estimates × %.2f: measured/estimated generation speed over %d glassbox bench runs on this machine.\n", m.Calibration, m.CalibrationRuns)
	} else {
		fmt.Fprintln(w, "Speed estimates are upper bounds (weights read once per token; attention, norms and sampling add time): glassbox bench MODEL measures, and calibrates later estimates.")
	}
	fmt.Fprintln(w, ramFormula)
	in, out := 0, 0
	for i := range cands {
		if cands[i].Fits {
			in++
		} else {
			out++
		}
	}
	fmt.Fprintf(w, "\nIN (%d): meet every constraint, best first\n", in)
	if in == 0 {
		fmt.Fprintln(w, "  none: loosen a constraint (the reasons below say which).")
	}
	for i := range cands {
		if cands[i].Fits {
			writeCandidate(w, &cands[i], true)
		}
	}
	fmt.Fprintf(w, "\nOUT (%d): fail at least one constraint\n", out)
	for i := range cands {
		if !cands[i].Fits {
			writeCandidate(w, &cands[i], verbose)
		}
	}
	return nil
}

// writeCandidate prints one candidate: a summary line, then its checks (all
// of them, or only the failed ones).
func writeCandidate(w io.Writer, cd *choose.Candidate, all bool) {
	origin := "catalog, " + cd.Quant
	if cd.Origin == "local" {
		origin = "on this machine"
		if cd.Quant != "" {
			origin += ", " + cd.Quant
		}
	}
	params := "? parameters"
	if cd.Params > 0 {
		params = catalog.FormatCount(cd.Params) + " parameters"
	}
	ram := "RAM unknown"
	if cd.RAM.Total > 0 {
		ram = "RAM ≈ " + choose.FormatBytes(cd.RAM.Total)
	}
	if cd.MeasuredRAM > 0 {
		ram += fmt.Sprintf(" (bench peak %s)", choose.FormatBytes(cd.MeasuredRAM))
	}
	speed := "speed unknown"
	if cd.Speed.TPS > 0 {
		kind := "estimated"
		if cd.Speed.Measured {
			kind = "measured"
		}
		speed = fmt.Sprintf("%.1f tokens/s %s", cd.Speed.TPS, kind)
	}
	fmt.Fprintf(w, "%3d. %s (%s) · %s · %s · %s\n", cd.Rank, cd.Name, origin, params, ram, speed)
	if len(cd.Quality) > 0 {
		var q []string
		for _, k := range sortedKeys(cd.Quality) {
			q = append(q, fmt.Sprintf("%s %.4g", k, cd.Quality[k]))
		}
		fmt.Fprintf(w, "     measured quality: %s\n", strings.Join(q, ", "))
	}
	for _, ch := range cd.Checks {
		if ch.Pass && !all {
			continue
		}
		mark := "✓"
		if !ch.Pass {
			mark = "✗"
		}
		why := ch.Why
		switch ch.Constraint {
		case "ram":
			if cd.RAM.Total > 0 {
				why += ": " + cd.RAM.Formula()
			}
			for _, a := range cd.RAM.Assumed {
				why += "; " + a
			}
		case "speed":
			why += " (" + cd.Speed.How + ")"
		}
		fmt.Fprintf(w, "     %s %s: %s\n", mark, ch.Constraint, why)
	}
	if cd.Pull != "" && (cd.Fits || all) {
		fmt.Fprintf(w, "     pull: %s\n", cd.Pull)
	}
}

// sortedKeys returns m's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j] < out[j-1]; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}
