package eval

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"go/parser"
	"go/token"
	"io"
	"math"
	"os"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"

	"glassbox"
	"glassbox/remote"
)

// HumanEvalProblem is one task of HumanEval-X Go (THUDM/CodeGeeX,
// codegeex/benchmark/humaneval-x/go/data/humaneval_go.jsonl.gz), with the
// fields of the dataset's JSON lines.
type HumanEvalProblem struct {
	TaskID            string `json:"task_id"`            // "Go/0" … "Go/163"
	Prompt            string `json:"prompt"`             // import block, doc comment and signature: what the model continues
	Import            string `json:"import"`             // the prompt's import block
	Docstring         string `json:"docstring"`          // the doc comment alone
	Declaration       string `json:"declaration"`        // the signature alone
	CanonicalSolution string `json:"canonical_solution"` // the reference body, closing brace included
	Test              string `json:"test"`               // the test function
	TestSetup         string `json:"test_setup"`         // package clause and the test's imports
	ExampleTest       string `json:"example_test"`       // a test of the docstring's examples
}

// ReadHumanEval reads a HumanEval-X file: JSON lines, gzip-compressed or not
// (the gzip magic decides).
func ReadHumanEval(path string) ([]HumanEvalProblem, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	ps, err := ParseHumanEval(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return ps, nil
}

// ParseHumanEval parses HumanEval-X JSON lines from r, gzip-compressed or
// not. Every line must carry task_id, prompt, test and test_setup; blank lines
// are skipped.
func ParseHumanEval(r io.Reader) ([]HumanEvalProblem, error) {
	br := bufio.NewReader(r)
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		defer zr.Close()
		br = bufio.NewReader(zr)
	}
	var ps []HumanEvalProblem
	seen := map[string]bool{}
	sc := bufio.NewScanner(br)
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	for line := 1; sc.Scan(); line++ {
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		var p HumanEvalProblem
		if err := json.Unmarshal(b, &p); err != nil {
			return nil, fmt.Errorf("line %d: expected a JSON object with task_id, prompt, test and test_setup: %v", line, err)
		}
		var missing []string
		for _, f := range []struct{ name, v string }{{"task_id", p.TaskID}, {"prompt", p.Prompt}, {"test", p.Test}, {"test_setup", p.TestSetup}} {
			if f.v == "" {
				missing = append(missing, f.name)
			}
		}
		if len(missing) > 0 {
			return nil, fmt.Errorf("line %d: missing %s (expected a HumanEval-X Go problem)", line, strings.Join(missing, ", "))
		}
		if seen[p.TaskID] {
			return nil, fmt.Errorf("line %d: task %s appears twice", line, p.TaskID)
		}
		seen[p.TaskID] = true
		ps = append(ps, p)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(ps) == 0 {
		return nil, errors.New("no problems (expected JSON lines of HumanEval-X Go)")
	}
	return ps, nil
}

// importHelper lists the standard packages the HumanEval-X harness adds to a
// program when the completion uses them (CodeGeeX's IMPORT_HELPER for Go).
var importHelper = []string{"math", "strings", "fmt", "strconv", "time", "bytes", "regexp", "sort", "math/rand", "crypto/md5"}

var quotedImport = regexp.MustCompile(`"([^"\s]+)"`)

// Program returns the test file main_test.go for a completion, assembled as
// the HumanEval-X harness does for Go: the test setup (package clause and
// the test's imports), an import block for the standard packages of the
// harness's list the code uses and the setup lacks, the prompt without its
// import block, the completion, and the test. The harness decides "uses" by
// a substring search; here a package is added when its name is an identifier
// of the code that nothing declares, so a name such as "mymath." or a word
// in a comment adds no unused import.
func (p HumanEvalProblem) Program(completion string) string {
	prompt := p.Prompt
	if p.Import != "" {
		prompt = strings.Replace(prompt, p.Import, "", 1)
	}
	code := prompt + completion
	have := map[string]bool{}
	for _, m := range quotedImport.FindAllStringSubmatch(p.TestSetup, -1) {
		have[m[1]] = true
	}
	used := undeclaredNames(p.TestSetup + "\n" + code + "\n" + p.Test)
	var extra []string
	for _, pkg := range importHelper {
		name := pkg[strings.LastIndexByte(pkg, '/')+1:]
		if !have[pkg] && used[name] {
			extra = append(extra, strconv.Quote(pkg))
		}
	}
	var b strings.Builder
	b.WriteString(p.TestSetup)
	b.WriteString("\n")
	if len(extra) > 0 {
		b.WriteString("import (\n")
		for _, e := range extra {
			b.WriteString("    " + e + "\n")
		}
		b.WriteString(")\n")
	}
	b.WriteString(code)
	b.WriteString("\n")
	b.WriteString(p.Test)
	return b.String()
}

var identDot = regexp.MustCompile(`\b([A-Za-z_][A-Za-z0-9_]*)\.`)

// undeclaredNames returns the identifiers of src that no declaration of the
// file resolves (the candidates for package names). Source that does not
// parse falls back to every "name." of the text: it fails to build anyway.
func undeclaredNames(src string) map[string]bool {
	names := map[string]bool{}
	f, err := parser.ParseFile(token.NewFileSet(), "main_test.go", src, 0)
	if err != nil {
		for _, m := range identDot.FindAllStringSubmatch(src, -1) {
			names[m[1]] = true
		}
		return names
	}
	for _, id := range f.Unresolved {
		names[id.Name] = true
	}
	return names
}

// CleanCompletion cuts a generated function body where the function ends, as
// HumanEval-X's Go post-processing does: at the closing brace that takes the
// brace depth below zero (braces in strings, runes and comments do not
// count), that brace kept. A body that never closes but is balanced — the
// generation stopped on "\n}", which the text excludes — gets its closing
// brace; an unbalanced one is left as it is and fails to build.
func CleanCompletion(text string) string {
	depth := 0
	for i := 0; i < len(text); i++ {
		switch c := text[i]; c {
		case '{':
			depth++
		case '}':
			depth--
			if depth < 0 {
				return text[:i+1] + "\n"
			}
		case '/':
			if i+1 < len(text) && text[i+1] == '/' {
				j := strings.IndexByte(text[i:], '\n')
				if j < 0 {
					i = len(text)
				} else {
					i += j
				}
			} else if i+1 < len(text) && text[i+1] == '*' {
				j := strings.Index(text[i+2:], "*/")
				if j < 0 {
					i = len(text)
				} else {
					i += j + 3
				}
			}
		case '"', '\'', '`':
			for i++; i < len(text) && text[i] != c; i++ {
				if text[i] == '\\' && c != '`' {
					i++
				} else if text[i] == '\n' && c != '`' {
					break
				}
			}
		}
	}
	if depth == 0 {
		return strings.TrimRight(text, " \t\n") + "\n}\n"
	}
	return text
}

// HumanEvalStop are the stop strings of a generation: a closing brace at the
// start of a line ends the function in gofmt-formatted code.
var HumanEvalStop = []string{"\n}"}

// PassAtK is the unbiased estimator of pass@k of Chen et al. 2021
// ("Evaluating Large Language Models Trained on Code"): with n samples of
// which c pass, 1 − C(n−c, k)/C(n, k), computed as a product so that no
// binomial coefficient overflows. It is 1 when n−c < k, and needs
// 0 ≤ c ≤ n and 1 ≤ k ≤ n (otherwise NaN).
func PassAtK(n, c, k int) float64 {
	if n < 1 || c < 0 || c > n || k < 1 || k > n {
		return math.NaN()
	}
	if n-c < k {
		return 1
	}
	prod := 1.0
	for i := n - c + 1; i <= n; i++ {
		prod *= 1 - float64(k)/float64(i)
	}
	return 1 - prod
}

// HumanEvalOptions configures a HumanEval-X run.
type HumanEvalOptions struct {
	// Canonical scores the dataset's own solutions (one sample each), to
	// check the sandbox; Model is then unused.
	Canonical bool
	// Completion, when set, supplies the completions instead of a model
	// (sample is 0 … Samples−1); it is how tests inject programs.
	Completion func(p HumanEvalProblem, sample int) string
	// Model generates the completions.
	Model *glassbox.Model
	// Generate, when set instead of Model, generates the raw continuation
	// of a prompt (sample s of n), as a model at an endpoint does (see
	// EndpointGenerator); the completion is cut by CleanCompletion.
	Generate func(ctx context.Context, prompt string, s, n int) (string, error)
	// Samples per problem (default 1). Without Sampler, one sample is
	// generated greedily and several are drawn at temperature 0.8, top-p
	// 0.95 (the setting of Chen et al. for pass@10 and pass@100).
	Samples int
	// Sampler, when set, is the sampling of every generation.
	Sampler *glassbox.SamplerParams
	// K lists the k of pass@k to report (default 1); each must be ≤ Samples.
	K []int
	// MaxTokens bounds each completion (default 512, and the context).
	MaxTokens int
	// Sandbox runs the programs.
	Sandbox *Sandbox
	// Workers is the number of programs built and run at once (default:
	// the number of cores).
	Workers int
	// Progress, when set, is called after each problem is scored.
	Progress func(done, total int)
}

// HumanEvalTask is the outcome of one problem.
type HumanEvalTask struct {
	TaskID   string   `json:"task_id"`
	Samples  int      `json:"samples"`
	Passed   int      `json:"passed"`           // samples that passed
	Statuses []string `json:"statuses"`         // per sample: passed, failed, build failed, timeout, memory, killed, prompt too long
	Output   string   `json:"output,omitempty"` // the first failing sample's output (truncated)
	// Completion is the first sample's completion, Program its test file.
	Completion string `json:"completion,omitempty"`
	Program    string `json:"-"`
}

// HumanEvalResult is the outcome of a run.
type HumanEvalResult struct {
	Canonical bool               `json:"canonical"`
	Samples   int                `json:"samples"` // per problem
	PassAt1   float64            `json:"pass_at_1"`
	PassAtK   map[string]float64 `json:"pass_at_k"`
	Passed    int                `json:"passed"` // problems with at least one passing sample
	Total     int                `json:"total"`  // problems
	// PromptTooLong counts the problems whose prompt did not fit the
	// model's context: scored as failures.
	PromptTooLong int             `json:"prompt_too_long"`
	Tasks         []HumanEvalTask `json:"tasks"`
}

// RunHumanEval generates (or takes) completions for problems, runs each
// program in the sandbox, and scores pass@k. Generation is sequential (one
// model) while the sandbox builds and runs the programs already generated.
// A context cancellation stops the run with its error.
func RunHumanEval(ctx context.Context, problems []HumanEvalProblem, opts HumanEvalOptions) (*HumanEvalResult, error) {
	if opts.Sandbox == nil {
		return nil, errors.New("humaneval: no sandbox")
	}
	n := max(opts.Samples, 1)
	if opts.Canonical {
		n = 1
	}
	ks := opts.K
	if len(ks) == 0 {
		ks = []int{1}
	}
	for _, k := range ks {
		if k < 1 || k > n {
			return nil, fmt.Errorf("pass@%d needs at least %d samples per problem, got %d", k, k, n)
		}
	}
	if !opts.Canonical && opts.Completion == nil && opts.Model == nil && opts.Generate == nil {
		return nil, errors.New("humaneval: no model to generate completions")
	}
	workers := opts.Workers
	if workers <= 0 {
		workers = runtime.NumCPU()
	}
	res := &HumanEvalResult{Canonical: opts.Canonical, Samples: n, Total: len(problems), PassAtK: map[string]float64{}, Tasks: make([]HumanEvalTask, len(problems))}
	for i, p := range problems {
		res.Tasks[i] = HumanEvalTask{TaskID: p.TaskID, Samples: n, Statuses: make([]string, n)}
	}

	type job struct {
		task, sample int
		program      string
	}
	type outcome struct {
		job
		r SandboxResult
	}
	jobs := make(chan job)
	results := make(chan outcome)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for j := range jobs {
				results <- outcome{j, opts.Sandbox.Run(ctx, j.program)}
			}
		})
	}
	genErr := make(chan error, 1)
	var mu sync.Mutex // guards res.Tasks' Example and Program against the reader below
	go func() {
		defer close(jobs)
		for i, p := range problems {
			for s := range n {
				c, err := completionFor(ctx, p, s, n, opts)
				if errors.Is(err, glassbox.ErrContext) {
					results <- outcome{job{task: i, sample: s}, SandboxResult{Status: StatusPromptTooLong, Output: err.Error()}}
					continue
				}
				if err != nil {
					genErr <- fmt.Errorf("%s: %w", p.TaskID, err)
					return
				}
				prog := p.Program(c)
				if s == 0 {
					mu.Lock()
					res.Tasks[i].Completion, res.Tasks[i].Program = c, prog
					mu.Unlock()
				}
				select {
				case jobs <- job{i, s, prog}:
				case <-ctx.Done():
					genErr <- ctx.Err()
					return
				}
			}
		}
		genErr <- nil
	}()
	go func() { wg.Wait(); close(results) }()

	left := make([]int, len(problems))
	for i := range left {
		left[i] = n
	}
	finished := 0
	for o := range results {
		mu.Lock()
		t := &res.Tasks[o.task]
		t.Statuses[o.sample] = o.r.Status
		switch {
		case o.r.Status == StatusPassed:
			t.Passed++
		case t.Output == "":
			t.Output = o.r.Output
		}
		mu.Unlock()
		if left[o.task]--; left[o.task] == 0 {
			finished++
			if opts.Progress != nil {
				opts.Progress(finished, len(problems))
			}
		}
	}
	if err := <-genErr; err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	for _, t := range res.Tasks {
		if slices.Contains(t.Statuses, StatusPromptTooLong) {
			res.PromptTooLong++
		}
		if t.Passed > 0 {
			res.Passed++
		}
	}
	mean := func(k int) float64 {
		sum := 0.0
		for _, t := range res.Tasks {
			sum += PassAtK(n, t.Passed, k)
		}
		return sum / float64(max(1, len(res.Tasks)))
	}
	for _, k := range ks {
		res.PassAtK[strconv.Itoa(k)] = mean(k)
	}
	res.PassAt1 = mean(1)
	return res, nil
}

// completionFor returns sample s of problem p: the canonical solution, the
// injected completion, or a generation (greedy for one sample, sampled for
// several) cut by CleanCompletion.
func completionFor(ctx context.Context, p HumanEvalProblem, s, n int, opts HumanEvalOptions) (string, error) {
	switch {
	case opts.Canonical:
		return p.CanonicalSolution, nil
	case opts.Completion != nil:
		return opts.Completion(p, s), nil
	case opts.Generate != nil:
		text, err := opts.Generate(ctx, p.Prompt, s, n)
		if err != nil {
			return "", err
		}
		return CleanCompletion(text), nil
	}
	g := glassbox.GenerateOptions{MaxTokens: opts.MaxTokens, Stop: HumanEvalStop}
	if g.MaxTokens <= 0 {
		g.MaxTokens = 512
	}
	if opts.Sampler != nil {
		g.Sampler = *opts.Sampler
	} else if n > 1 {
		{
			g.Sampler = glassbox.DefaultSamplerParams()
			g.Sampler.Temperature, g.Sampler.TopP, g.Sampler.TopK, g.Sampler.MinP = 0.8, 0.95, 0, 0
			g.Sampler.RepeatLastN = 0
		}
		if g.Sampler.Seed != glassbox.SeedRandom {
			g.Sampler.Seed += uint64(s) // distinct but reproducible samples
		}
	}
	// A prompt plus the tokens to generate may not fit: generate what fits.
	if room := opts.Model.ContextSize() - len(opts.Model.Encode(p.Prompt, g)); room > 0 && room < g.MaxTokens {
		g.MaxTokens = room
	}
	r, err := opts.Model.Generate(ctx, p.Prompt, g)
	if err != nil {
		return "", err
	}
	return CleanCompletion(r.Text), nil
}

// EndpointGenerator returns HumanEvalOptions.Generate for a model at an
// OpenAI-compatible endpoint: completions of at most maxTokens tokens (512
// when 0) stopped at HumanEvalStop, greedy for one sample, and for several
// drawn at temperature and topP (0.8 and 0.95 when 0), seeded with seed+s
// when seed ≥ 0.
func EndpointGenerator(c *remote.Client, maxTokens int, temperature, topP float64, seed int64) func(ctx context.Context, prompt string, s, n int) (string, error) {
	if maxTokens <= 0 {
		maxTokens = 512
	}
	stop := HumanEvalStop
	if len(stop) > 4 { // the OpenAI API takes four stop strings; CleanCompletion cuts the rest
		stop = stop[:4]
	}
	return func(ctx context.Context, prompt string, s, n int) (string, error) {
		o := remote.CompleteOptions{MaxTokens: maxTokens, Stop: stop}
		if n > 1 {
			o.Temperature, o.TopP = temperature, topP
			if o.Temperature == 0 {
				o.Temperature = 0.8
			}
			if o.TopP == 0 {
				o.TopP = 0.95
			}
			if seed >= 0 {
				sd := seed + int64(s)
				o.Seed = &sd
			}
		}
		text, err := c.Complete(ctx, prompt, o)
		if errors.Is(err, remote.ErrContextLength) {
			return "", fmt.Errorf("%w: %v", glassbox.ErrContext, err) // scored as a prompt too long
		}
		return text, err
	}
}
