// Package choose answers "which model should I run for this job on this
// machine?": it ranks candidate models, the ones on this machine (with what
// glassbox measured of them: eval and bench records) and the catalog's
// (estimated), against a job's constraints (task, memory, speed, license,
// openness, context), and explains every decision: each constraint a
// candidate passed or failed, with the numbers. Memory is estimated as
// weights + KV cache + overhead (EstimateRAM, with the formula shown) and
// speed from this machine's measured memory bandwidth and matrix-vector
// throughput (Machine.EstimateSpeed); `glassbox choose` is its command line.
package choose

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"glassbox/catalog"
	"glassbox/eval"
)

// DefaultContext is the context a job is assumed to need without --ctx.
const DefaultContext = 4096

// DefaultQuant is the quantization assumed for catalog models (the one
// `glassbox pull` takes by default).
const DefaultQuant = "Q4_K_M"

// Constraints are what the job asks of a model. Zero values ask nothing.
type Constraints struct {
	// Task is catalog.TaskCode, TaskChat or TaskFrench ("" for any).
	Task string `json:"task,omitempty"`
	// MaxRAM is the memory the model may take, in bytes (0: no limit).
	MaxRAM int64 `json:"max_ram_bytes,omitempty"`
	// MinTPS is the generation speed needed, in tokens per second.
	MinTPS float64 `json:"min_tokens_per_s,omitempty"`
	// Permissive asks for a permissive license (catalog.License).
	Permissive bool `json:"permissive,omitempty"`
	// OpenSource asks for an open-source model, not only open weights.
	OpenSource bool `json:"open_source,omitempty"`
	// Context is the context the job needs, in tokens (0: DefaultContext).
	Context int `json:"context"`
	// Quant is the quantization of catalog models ("": DefaultQuant).
	Quant string `json:"quant"`
	// CacheTypeK is the KV cache type of the keys: "" or F16 (the
	// default), Q8_0 or Q4_0 (glassbox's --cache-type-k), which shrink the
	// estimated KV cache.
	CacheTypeK string `json:"cache_type_k,omitempty"`
	// CacheTypeV is the KV cache type of the values: "" or F16 (the
	// default), Q8_0 or Q4_0 (glassbox's --cache-type-v, with flash
	// attention), which shrink the estimated KV cache.
	CacheTypeV string `json:"cache_type_v,omitempty"`
}

// withDefaults fills Context and Quant and checks the constraints.
func (c Constraints) withDefaults() (Constraints, error) {
	if c.Context == 0 {
		c.Context = DefaultContext
	}
	if c.Quant == "" {
		c.Quant = DefaultQuant
	}
	if c.Task != "" && !slices.Contains(catalog.Tasks, c.Task) {
		return c, fmt.Errorf("unknown task %q: want one of %s", c.Task, strings.Join(catalog.Tasks, ", "))
	}
	if c.Context < 1 || c.MaxRAM < 0 || c.MinTPS < 0 {
		return c, fmt.Errorf("the context (%d), memory (%d) and speed (%g) must be positive", c.Context, c.MaxRAM, c.MinTPS)
	}
	return c, nil
}

// Local is a model on this machine: a file of the store (or any GGUF file
// glassbox measured), with its facts and the records of what was measured.
type Local struct {
	// Name is the model's name: its store name (hf.co/OWNER/REPO:QUANT) or
	// the path it was measured under.
	Name string
	// Path is its file ("" when the file is no longer there).
	Path string
	// Facts are read from the file (zero when it could not be read).
	Arch          string
	Quant         string
	Params        int64
	FileBytes     int64
	ContextLength int
	Layers        int
	KVHeads       int
	HeadDim       int
	Vocab         int
	// License is the file's GGUF general.license ("" if none).
	License string
	// Records are its evaluation and bench records, oldest first.
	Records []eval.Record
}

// Input is what Choose ranks.
type Input struct {
	// Catalog is the catalog of public models (nil: none).
	Catalog *catalog.Catalog
	// Local are the models on this machine.
	Local []Local
	// Machine is what this machine measured.
	Machine Machine
	// Architectures are the GGUF architectures glassbox runs
	// (glassbox.Architectures).
	Architectures []string
}

// Check is one constraint applied to a candidate.
type Check struct {
	// Constraint names it: runs, task, license, open-source, context, ram,
	// speed, download.
	Constraint string `json:"constraint"`
	// Pass says whether the candidate meets it.
	Pass bool `json:"pass"`
	// Why gives the numbers or facts behind the decision.
	Why string `json:"why"`
}

// Candidate is a model Choose considered.
type Candidate struct {
	// Rank is the candidate's place, 1 the best.
	Rank int `json:"rank"`
	// Name is the store name or path (local), or the catalog id.
	Name string `json:"name"`
	// Origin is "local" (a model on this machine) or "catalog".
	Origin string `json:"origin"`
	// CatalogID is the catalog entry the model is, when known.
	CatalogID string `json:"catalog_id,omitempty"`
	// Facts used.
	Arch          string   `json:"arch,omitempty"`
	Params        int64    `json:"params,omitempty"`
	Quant         string   `json:"quant,omitempty"`
	ContextLength int      `json:"context_length,omitempty"`
	License       string   `json:"license,omitempty"`
	Openness      string   `json:"openness,omitempty"`
	Tasks         []string `json:"tasks,omitempty"`
	// RAM is the memory estimate at the job's context; MeasuredRAM the
	// peak RSS a bench run measured (at the bench's own sizes), if any.
	RAM         RAM   `json:"ram"`
	MeasuredRAM int64 `json:"measured_peak_rss_bytes,omitempty"`
	// Speed is the generation speed, measured or estimated.
	Speed Speed `json:"speed"`
	// Quality holds the latest measured quality figures, by name
	// ("perplexity", "acc", "pass_at_1").
	Quality map[string]float64 `json:"quality,omitempty"`
	// Checks are the constraints applied, in order.
	Checks []Check `json:"checks"`
	// Fits is true when every check passed.
	Fits bool `json:"fits"`
	// Pull is the command that downloads it (catalog candidates).
	Pull string `json:"pull,omitempty"`
	// Sources are the URLs of the catalog facts used.
	Sources []string `json:"sources,omitempty"`
}

// Failed returns the constraints the candidate failed.
func (c *Candidate) Failed() []string {
	var out []string
	for _, ch := range c.Checks {
		if !ch.Pass {
			out = append(out, ch.Constraint)
		}
	}
	return out
}

// ggufArch maps a config.json model_type to the GGUF architecture
// llama.cpp's converter writes for it, where they differ.
var ggufArch = map[string]string{"mistral": "llama", "gemma3_text": "gemma3", "gpt_neox": "gptneox"}

// GGUFArchitecture returns the GGUF architecture name of a config.json
// model_type (the catalog's facts are model types): "mistral" is "llama",
// "gemma3_text" is "gemma3", "gpt_neox" is "gptneox", the rest are the same.
func GGUFArchitecture(modelType string) string {
	if a, ok := ggufArch[modelType]; ok {
		return a
	}
	return modelType
}

// Choose evaluates every candidate of in against c and returns them ranked:
// first those that meet every constraint, the largest first (at equal
// generation and training, more parameters mean better quality; a measured
// quality figure is shown beside it), then faster first; then those that
// fail, fewest failures first. A catalog model already on this machine in
// the asked quantization is listed once, as the local model.
func Choose(in Input, c Constraints) ([]Candidate, Constraints, error) {
	c, err := c.withDefaults()
	if err != nil {
		return nil, c, err
	}
	var out []Candidate
	seen := map[string]bool{} // catalog id + quant of local models
	for _, l := range in.Local {
		cand, err := in.local(l, c)
		if err != nil {
			return nil, c, err
		}
		if cand.CatalogID != "" {
			seen[cand.CatalogID+":"+strings.ToUpper(cand.Quant)] = true
		}
		out = append(out, cand)
	}
	if in.Catalog != nil {
		for i := range in.Catalog.Models {
			m := &in.Catalog.Models[i]
			if seen[m.ID+":"+strings.ToUpper(c.Quant)] {
				continue
			}
			cand, err := in.fromCatalog(m, c)
			if err != nil {
				return nil, c, err
			}
			out = append(out, cand)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := &out[i], &out[j]
		if a.Fits != b.Fits {
			return a.Fits
		}
		if fa, fb := len(a.Failed()), len(b.Failed()); fa != fb {
			return fa < fb
		}
		if a.Params != b.Params {
			return a.Params > b.Params
		}
		if a.Speed.TPS != b.Speed.TPS {
			return a.Speed.TPS > b.Speed.TPS
		}
		return a.Name < b.Name
	})
	for i := range out {
		out[i].Rank = i + 1
	}
	return out, c, nil
}

// fromCatalog is the candidate of a catalog model at c.Quant.
func (in *Input) fromCatalog(m *catalog.Model, c Constraints) (Candidate, error) {
	cand := Candidate{Name: m.ID, Origin: "catalog", CatalogID: m.ID, Quant: strings.ToUpper(c.Quant), Sources: m.Sources()}
	applyCatalog(&cand, m)
	shape := Shape{Quant: c.Quant}
	get := func(f *catalog.Fact[int]) int {
		if f == nil {
			return 0
		}
		return f.Value
	}
	shape.Layers, shape.KVHeads, shape.HeadDim, shape.Vocab = get(m.Layers), get(m.KVHeads), get(m.HeadDim), get(m.Vocab)
	if m.Params != nil {
		shape.Params = m.Params.Value
	}
	var ramErr error
	if shape.Params > 0 {
		cand.RAM, ramErr = EstimateRAMCache(shape, c.Context, c.CacheTypeK, c.CacheTypeV)
		if ramErr != nil {
			return cand, ramErr
		}
		cand.Speed = in.Machine.EstimateSpeed(cand.RAM.Weights, c.Quant)
	} else {
		cand.Speed = Speed{How: "unknown: the catalog gives no parameter count"}
	}
	cand.Checks = append(cand.Checks, in.checkRuns(cand.Arch, true))
	cand.Checks = append(cand.Checks, commonChecks(&cand, c, m)...)
	if len(m.GGUF) == 0 {
		cand.Checks = append(cand.Checks, Check{"download", false, "no GGUF repository known: convert the model to GGUF yourself (llama.cpp's convert_hf_to_gguf.py)"})
	} else {
		cand.Pull = fmt.Sprintf("glassbox pull hf.co/%s:%s", m.GGUF[0].Repo, cand.Quant)
		cand.Checks = append(cand.Checks, Check{"download", true, "GGUF at " + m.GGUF[0].Source})
	}
	cand.Fits = len(cand.Failed()) == 0
	return cand, nil
}

// applyCatalog copies the catalog's facts about m into cand.
func applyCatalog(cand *Candidate, m *catalog.Model) {
	if m.Architecture != nil {
		cand.Arch = m.Architecture.Value
	}
	if m.Params != nil {
		cand.Params = m.Params.Value
	}
	if m.ContextLength != nil {
		cand.ContextLength = m.ContextLength.Value
	}
	if m.License != nil {
		cand.License = m.License.Value
	}
	if m.Openness != nil {
		cand.Openness = m.Openness.Value
	}
	cand.Tasks = m.TaskNames()
}

// local is the candidate of a model on this machine.
func (in *Input) local(l Local, c Constraints) (Candidate, error) {
	cand := Candidate{Name: l.Name, Origin: "local", Arch: l.Arch, Params: l.Params, Quant: l.Quant, ContextLength: l.ContextLength, License: l.License}
	var m *catalog.Model
	if in.Catalog != nil {
		if repo := repoOf(l.Name); repo != "" {
			m = in.Catalog.ByGGUFRepo(repo)
		}
	}
	if m != nil { // the catalog knows what the file does not say
		cand.CatalogID = m.ID
		cand.Sources = m.Sources()
		if m.License != nil {
			cand.License = m.License.Value
		}
		if m.Openness != nil {
			cand.Openness = m.Openness.Value
		}
		cand.Tasks = m.TaskNames()
	}
	shape := Shape{Params: l.Params, WeightBytes: l.FileBytes, Quant: l.Quant, Layers: l.Layers, KVHeads: l.KVHeads, HeadDim: l.HeadDim, Vocab: l.Vocab}
	var speed *eval.Speed
	for i := range l.Records {
		r := &l.Records[i]
		if r.Kind == eval.KindBench {
			if s, err := r.Speed(); err == nil && r.Model.Endpoint == "" {
				speed = &s
				if shape.WeightBytes == 0 {
					shape.WeightBytes = r.Model.Size
				}
			}
			continue
		}
		if cand.Quality == nil {
			cand.Quality = map[string]float64{}
		}
		for _, k := range []string{"perplexity", "acc", "pass_at_1", "kl_divergence"} {
			if v, ok := r.Results[k].(float64); ok {
				cand.Quality[k] = v // the latest record wins
			}
		}
	}
	if shape.WeightBytes > 0 || shape.Params > 0 {
		var err error
		if shape.Quant == "" {
			shape.Quant = "F32"
		}
		if cand.RAM, err = EstimateRAMCache(shape, c.Context, c.CacheTypeK, c.CacheTypeV); err != nil && shape.WeightBytes == 0 {
			return cand, fmt.Errorf("choose: %s: %w", l.Name, err)
		}
	}
	if speed != nil && speed.GenTPS > 0 {
		cand.Speed = Speed{TPS: speed.GenTPS, Measured: true, How: fmt.Sprintf("measured by glassbox bench: tg%d at %d threads", speed.GenTokens, speed.Threads)}
		cand.MeasuredRAM = speed.PeakRSSBytes
	} else {
		cand.Speed = in.Machine.EstimateSpeed(cand.RAM.Weights, l.Quant)
	}
	cand.Checks = append(cand.Checks, in.checkRuns(cand.Arch, false))
	cand.Checks = append(cand.Checks, commonChecks(&cand, c, m)...)
	if l.Path == "" {
		cand.Checks = append(cand.Checks, Check{"download", false, "its file is no longer on this machine: pull it again"})
	} else {
		cand.Checks = append(cand.Checks, Check{"download", true, "already on this machine: " + l.Path})
	}
	cand.Fits = len(cand.Failed()) == 0
	return cand, nil
}

// repoOf returns OWNER/REPO of a store name hf.co/OWNER/REPO[:TAG], or "".
func repoOf(name string) string {
	rest, ok := strings.CutPrefix(name, "hf.co/")
	if !ok {
		rest, ok = strings.CutPrefix(name, "huggingface.co/")
	}
	if !ok {
		return ""
	}
	rest, _, _ = strings.Cut(rest, ":")
	parts := strings.Split(rest, "/")
	if len(parts) < 2 || parts[0] == "" || parts[1] == "" {
		return ""
	}
	return parts[0] + "/" + parts[1]
}

// checkRuns checks that glassbox runs the architecture; hf says it is a
// config.json model_type (a catalog fact) rather than a GGUF one.
func (in *Input) checkRuns(arch string, hf bool) Check {
	if arch == "" {
		return Check{"runs", false, "architecture unknown"}
	}
	g := arch
	if hf {
		if a, ok := ggufArch[arch]; ok {
			g = a
		}
	}
	if slices.Contains(in.Architectures, g) {
		if g != arch {
			return Check{"runs", true, fmt.Sprintf("architecture %s (GGUF %s) runs in glassbox", arch, g)}
		}
		return Check{"runs", true, fmt.Sprintf("architecture %s runs in glassbox", arch)}
	}
	return Check{"runs", false, fmt.Sprintf("architecture %s: glassbox runs %s only", g, strings.Join(in.Architectures, ", "))}
}

// commonChecks applies the task, license, openness, context, memory and
// speed constraints; m is the catalog entry when known.
func commonChecks(cand *Candidate, c Constraints, m *catalog.Model) []Check {
	var out []Check
	if c.Task != "" {
		switch {
		case m != nil && slices.Contains(cand.Tasks, c.Task):
			src := ""
			for _, t := range m.Tasks {
				if t.Value == c.Task {
					src = t.Source
				}
			}
			out = append(out, Check{"task", true, fmt.Sprintf("suits %s (%s)", c.Task, src)})
		case m == nil:
			out = append(out, Check{"task", false, fmt.Sprintf("not in the catalog: not known to suit %s", c.Task)})
		default:
			out = append(out, Check{"task", false, fmt.Sprintf("not listed as suiting %s (its tasks: %s)", c.Task, orNone(cand.Tasks))})
		}
	}
	if c.Permissive {
		l, ok := catalog.LookupLicense(cand.License)
		switch {
		case cand.License == "":
			out = append(out, Check{"license", false, "license unknown"})
		case !ok:
			out = append(out, Check{"license", false, fmt.Sprintf("license %q is not one the catalog knows", cand.License)})
		case l.Permissive:
			out = append(out, Check{"license", true, fmt.Sprintf("%s (%s) is permissive", l.ID, l.Name)})
		default:
			out = append(out, Check{"license", false, fmt.Sprintf("%s (%s) is not permissive: read %s", l.ID, l.Name, l.URL)})
		}
	}
	if c.OpenSource {
		switch cand.Openness {
		case catalog.OpenSource:
			out = append(out, Check{"open-source", true, "open source: data, code and recipe published"})
		case catalog.OpenWeights:
			out = append(out, Check{"open-source", false, "open weights only: training data or code not published"})
		default:
			out = append(out, Check{"open-source", false, "openness unknown"})
		}
	}
	switch {
	case cand.ContextLength == 0:
		out = append(out, Check{"context", true, fmt.Sprintf("context length unknown; %d tokens assumed to fit", c.Context)})
	case c.Context <= cand.ContextLength:
		out = append(out, Check{"context", true, fmt.Sprintf("%d ≤ %d tokens", c.Context, cand.ContextLength)})
	default:
		out = append(out, Check{"context", false, fmt.Sprintf("%d > the %d tokens it supports", c.Context, cand.ContextLength)})
	}
	if c.MaxRAM > 0 {
		need := max(cand.RAM.Total, cand.MeasuredRAM)
		switch {
		case need == 0:
			out = append(out, Check{"ram", false, "memory unknown"})
		case need <= c.MaxRAM:
			out = append(out, Check{"ram", true, fmt.Sprintf("%s ≤ %s", FormatBytes(need), FormatBytes(c.MaxRAM))})
		default:
			out = append(out, Check{"ram", false, fmt.Sprintf("%s > %s", FormatBytes(need), FormatBytes(c.MaxRAM))})
		}
	}
	if c.MinTPS > 0 {
		kind := "estimated"
		if cand.Speed.Measured {
			kind = "measured"
		}
		switch {
		case cand.Speed.TPS <= 0:
			out = append(out, Check{"speed", false, "speed unknown"})
		case cand.Speed.TPS >= c.MinTPS:
			out = append(out, Check{"speed", true, fmt.Sprintf("%s %.1f ≥ %g tokens/s", kind, cand.Speed.TPS, c.MinTPS)})
		default:
			out = append(out, Check{"speed", false, fmt.Sprintf("%s %.1f < %g tokens/s", kind, cand.Speed.TPS, c.MinTPS)})
		}
	}
	return out
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

// MinCalibrationBytes is the smallest model whose bench records calibrate
// the speed estimates: a smaller one stays in the CPU caches and runs faster
// than memory allows a real model to.
const MinCalibrationBytes = 64 << 20

// Calibrate returns the median ratio of measured to estimated generation
// speed over bench records made on this machine (same CPU and core count as
// here) for local models of at least MinCalibrationBytes, with the number of
// records used; 0 when there are none. estimate gives the estimated speed of
// a record's model.
func Calibrate(records []eval.Record, here eval.Machine, estimate func(r *eval.Record) float64) (float64, int) {
	var ratios []float64
	for i := range records {
		r := &records[i]
		if r.Kind != eval.KindBench || r.Model.Endpoint != "" || r.Model.Size < MinCalibrationBytes || r.Machine.CPU != here.CPU || r.Machine.Cores != here.Cores {
			continue
		}
		s, err := r.Speed()
		if err != nil || s.GenTPS <= 0 {
			continue
		}
		if e := estimate(r); e > 0 {
			ratios = append(ratios, s.GenTPS/e)
		}
	}
	if len(ratios) == 0 {
		return 0, 0
	}
	sort.Float64s(ratios)
	n := len(ratios)
	if n%2 == 1 {
		return ratios[n/2], n
	}
	return (ratios[n/2-1] + ratios[n/2]) / 2, n
}
