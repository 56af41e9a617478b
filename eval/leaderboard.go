package eval

import (
	"fmt"
	"io"
	"math"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"glassbox/catalog"
)

// SourceLocal is the source of a model run by glassbox itself on this
// machine (Row.Source); a remote model's source is its endpoint's URL.
const SourceLocal = "local"

// Leaderboard is every model the user has evaluated or benchmarked, side by
// side: the quality scores of its latest run of each evaluation, and its
// latest speed and memory measurement. It is what `glassbox leaderboard`
// prints and GET /glassbox/leaderboard serves, with these JSON names.
type Leaderboard struct {
	// Scores are the quality columns, one per evaluation and data file (and
	// settings that change the figure, such as the context), in the order
	// of Rows' Scores.
	Scores []ScoreColumn `json:"scores"`
	// Rows are the models, in the order Sort left them.
	Rows []Row `json:"rows"`
	// SortedBy is the column the rows are sorted by ("" for none) and
	// Reversed whether worst first.
	SortedBy string `json:"sort,omitempty"`
	Reversed bool   `json:"reversed,omitempty"`
}

// ScoreColumn describes a quality column.
type ScoreColumn struct {
	// Key names the column (what --sort takes): "ppl tinyshakespeare.txt
	// ctx128", "pass@1 humaneval_go.jsonl.gz", "acc arc-fr.jsonl" …
	Key string `json:"key"`
	// Kind is the evaluation (perplexity, choice, humaneval) and Metric the
	// result it reads (perplexity, kl_divergence, acc, pass_at_1).
	Kind   string `json:"kind"`
	Metric string `json:"metric"`
	// File is the data file's base name.
	File string `json:"file"`
	// HigherIsBetter says which way the column ranks models.
	HigherIsBetter bool `json:"higher_is_better"`
	// Models counts the rows with a value in this column.
	Models int `json:"models"`
}

// Row is one model of the leaderboard. A field of zero value was not
// measured (or is not known).
type Row struct {
	// Model is the name the user last gave the model (a store name, a file's
	// base name, or the model name at an endpoint).
	Model string `json:"model"`
	// Source is SourceLocal or the endpoint's URL.
	Source string `json:"source"`
	// SHA256 identifies a local model file.
	SHA256        string `json:"sha256,omitempty"`
	Arch          string `json:"arch,omitempty"`
	FileType      string `json:"file_type,omitempty"`
	Params        int64  `json:"params,omitempty"`
	SizeBytes     int64  `json:"size_bytes,omitempty"`
	ContextLength int    `json:"context_length,omitempty"`
	// License is the model's license and Openness its openness class
	// (catalog.OpenWeights or catalog.OpenSource): the catalog's when the
	// model is one of its entries (CatalogID, found by CatalogMatch: its
	// repository, file name or GGUF general.name), otherwise the GGUF
	// general.license and no openness class. FactSource is where the
	// license comes from: the catalog's source URL, or "GGUF general.license".
	License      string `json:"license,omitempty"`
	Openness     string `json:"openness,omitempty"`
	FactSource   string `json:"fact_source,omitempty"`
	CatalogID    string `json:"catalog_id,omitempty"`
	CatalogMatch string `json:"catalog_match,omitempty"`
	// Scores are the quality scores by ScoreColumn.Key.
	Scores map[string]float64 `json:"scores"`
	// Speed and memory of the latest bench record.
	PromptTPS    float64 `json:"pp_tokens_per_s,omitempty"`
	GenTPS       float64 `json:"tg_tokens_per_s,omitempty"`
	TTFTMS       float64 `json:"ttft_ms,omitempty"`
	PromptTokens int     `json:"prompt_tokens,omitempty"`
	PeakRSSBytes int64   `json:"peak_rss_bytes,omitempty"`
	Threads      int     `json:"threads,omitempty"`
	// CPU is the processor of the latest record.
	CPU string `json:"cpu,omitempty"`
	// Records counts the records behind the row, Last is the latest one's date.
	Records int       `json:"records"`
	Last    time.Time `json:"last"`

	ident catalog.Identity // what the records tell of the model's identity
}

// FactGGUF is the FactSource of a license read from the model file.
const FactGGUF = "GGUF general.license"

// LeaderboardOptions says how records become a Leaderboard.
type LeaderboardOptions struct {
	// Catalog, when set, gives the license and openness class of the models
	// it lists (see Row.License).
	Catalog *catalog.Catalog
}

// The fixed columns Sort takes besides the score keys, and whether a higher
// value ranks first.
var fixedColumns = map[string]bool{
	"model": false, "source": false, "size": false, "ctx": true, "license": false, "openness": false,
	"pp": true, "tg": true, "ttft": false, "ram": false, "params": true,
}

// FixedColumns returns the names of the columns Sort takes besides the
// score keys, sorted.
func FixedColumns() []string {
	out := make([]string, 0, len(fixedColumns))
	for k := range fixedColumns {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// NewLeaderboard builds the leaderboard of records (as List returns them,
// oldest first): one row per model (a local file by its SHA-256, a remote
// model by endpoint and name), each quality column holding the model's
// latest score and the speed columns its latest bench record. Rows are in
// order of first appearance; call Sort to rank them.
func NewLeaderboard(records []Record, opt LeaderboardOptions) *Leaderboard {
	lb := &Leaderboard{}
	rows := map[string]*Row{}
	var order []string
	cols := map[string]*ScoreColumn{}
	for _, r := range records {
		key := rowKey(r.Model)
		row := rows[key]
		if row == nil {
			row = &Row{Scores: map[string]float64{}, Source: SourceLocal}
			rows[key] = row
			order = append(order, key)
		}
		row.Records++
		if r.Date.After(row.Last) || row.Last.IsZero() {
			row.Last = r.Date
		}
		mergeModel(row, r)
		if r.Kind == KindBench {
			if s, err := r.Speed(); err == nil {
				row.PromptTPS, row.GenTPS, row.TTFTMS, row.PromptTokens = s.PromptTPS, s.GenTPS, s.TTFTMS, s.PromptTokens
				row.PeakRSSBytes, row.Threads = s.PeakRSSBytes, s.Threads
				if s.ContextLength > 0 {
					row.ContextLength = s.ContextLength
				}
			}
			continue
		}
		for _, sc := range scores(r) {
			c := cols[sc.col.Key]
			if c == nil {
				c = &ScoreColumn{}
				*c = sc.col
				cols[sc.col.Key] = c
			}
			row.Scores[sc.col.Key] = sc.value
		}
	}
	for _, k := range order {
		row := rows[k]
		describe(row, opt.Catalog)
		for key := range row.Scores {
			cols[key].Models++
		}
		lb.Rows = append(lb.Rows, *row)
	}
	for _, c := range cols {
		lb.Scores = append(lb.Scores, *c)
	}
	// the most widely measured columns first, then by kind and key
	sort.Slice(lb.Scores, func(i, j int) bool {
		a, b := lb.Scores[i], lb.Scores[j]
		if a.Models != b.Models {
			return a.Models > b.Models
		}
		if a.Kind != b.Kind {
			return a.Kind < b.Kind
		}
		return a.Key < b.Key
	})
	return lb
}

// describe sets a row's license and openness from the catalog entry the
// model matches, or keeps the GGUF license.
func describe(row *Row, c *catalog.Catalog) {
	if row.License != "" {
		row.FactSource = FactGGUF
	}
	if c == nil {
		return
	}
	m, how := c.Match(row.ident)
	if m == nil {
		return
	}
	row.CatalogID, row.CatalogMatch = m.ID, how
	if m.License != nil {
		row.License, row.FactSource = m.License.Value, m.License.Source
	}
	if m.Openness != nil {
		row.Openness = m.Openness.Value
	}
}

// rowKey is the identity of a model across records.
func rowKey(m ModelFile) string {
	if m.Endpoint != "" {
		return "endpoint " + m.Endpoint + " " + m.Name
	}
	if m.SHA256 != "" {
		return "sha256 " + m.SHA256
	}
	return "name " + m.Name
}

// mergeModel copies r's model facts into row, the later record's winning.
func mergeModel(row *Row, r Record) {
	m := r.Model
	name := m.Name
	if m.Endpoint == "" && isFilePath(name) {
		name = filepath.Base(name)
	}
	if name != "" {
		row.Model = name
	}
	if m.Endpoint != "" {
		row.Source = m.Endpoint
	}
	set := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	set(&row.SHA256, m.SHA256)
	set(&row.Arch, m.Arch)
	set(&row.FileType, m.FileType)
	set(&row.License, m.License)
	set(&row.CPU, r.Machine.CPU)
	// the identity: store names and repositories, file names, GGUF names
	id := &row.ident
	if m.Repo != "" {
		id.Repo = m.Repo
	} else if m.Endpoint == "" && strings.HasPrefix(m.Name, "hf.co/") {
		id.Repo = m.Name
	}
	for _, f := range []string{m.Name, m.Path} {
		if f != "" && !slices.Contains(id.Files, f) {
			id.Files = append(id.Files, f)
		}
	}
	for _, n := range []string{m.GeneralName, m.Basename} {
		if n != "" && !slices.Contains(id.Names, n) {
			id.Names = append(id.Names, n)
		}
	}
	if m.Params > 0 {
		row.Params = m.Params
	}
	if m.Size > 0 {
		row.SizeBytes = m.Size
	}
	if m.ContextLength > 0 {
		row.ContextLength = m.ContextLength
	}
}

// isFilePath reports whether a model name is a file's path (shown by its
// base name) rather than a store name such as "hf.co/org/repo:Q4_K_M".
func isFilePath(name string) bool {
	return strings.HasSuffix(name, ".gguf") || strings.HasSuffix(name, ".bin") || filepath.IsAbs(name) ||
		strings.HasPrefix(name, "./") || strings.HasPrefix(name, "../")
}

// score is one quality figure of a record.
type score struct {
	col   ScoreColumn
	value float64
}

// scores returns the quality figures of a quality record, each in its column.
func scores(r Record) []score {
	file := ""
	if f, ok := r.Settings["file"].(string); ok {
		file = filepath.Base(f)
	}
	num := func(m map[string]any, k string) (float64, bool) {
		v, ok := m[k].(float64)
		return v, ok && !math.IsNaN(v) && !math.IsInf(v, 0)
	}
	var out []score
	add := func(metric, label, suffix string, higher bool, v float64) {
		key := label + " " + file + suffix
		out = append(out, score{ScoreColumn{Key: key, Kind: r.Kind, Metric: metric, File: file, HigherIsBetter: higher}, v})
	}
	// settings that change a figure are part of its column: a partial run
	// is not comparable with a full one
	suffix := ""
	if n, ok := num(r.Settings, "limit"); ok && n > 0 {
		suffix += " limit" + strconv.Itoa(int(n))
	}
	if n, ok := num(r.Settings, "chunks"); ok && n > 0 {
		suffix += " chunks" + strconv.Itoa(int(n))
	}
	switch r.Kind {
	case "perplexity":
		ctx := ""
		if n, ok := num(r.Results, "ctx"); ok {
			ctx = " ctx" + strconv.Itoa(int(n))
		}
		if v, ok := num(r.Results, "perplexity"); ok {
			add("perplexity", "ppl", ctx+suffix, false, v)
		}
		if v, ok := num(r.Results, "kl_divergence"); ok {
			base := ""
			if b, ok := r.Settings["kl_base"].(string); ok {
				base = " vs " + filepath.Base(b)
			}
			add("kl_divergence", "KL", ctx+suffix+base, false, v)
		}
	case "choice":
		if v, ok := num(r.Results, "acc"); ok {
			add("acc", "acc", suffix, true, v)
		}
		if v, ok := num(r.Results, "acc_norm"); ok {
			add("acc_norm", "acc_norm", suffix, true, v)
		}
	case "humaneval":
		if v, ok := num(r.Results, "pass_at_1"); ok {
			add("pass_at_1", "pass@1", suffix, true, v)
		}
	}
	return out
}

// Sort ranks the rows by column, best first (highest tokens/s and scores
// where higher is better, lowest RAM, size, time to first token and
// perplexity), or worst first when reverse; rows without a value come last
// either way, in their previous order. column is a score key (or a unique
// prefix of one) or one of FixedColumns.
func (lb *Leaderboard) Sort(column string, reverse bool) error {
	col, higher, err := lb.resolve(column)
	if err != nil {
		return err
	}
	text := col == "model" || col == "source" || col == "license" || col == "openness"
	val := func(r *Row) (float64, string, bool) {
		switch col {
		case "model":
			return 0, r.Model, r.Model != ""
		case "source":
			return 0, r.Source, r.Source != ""
		case "license":
			return 0, r.License, r.License != ""
		case "openness":
			return 0, r.Openness, r.Openness != ""
		case "size":
			return float64(r.SizeBytes), "", r.SizeBytes > 0
		case "params":
			return float64(r.Params), "", r.Params > 0
		case "ctx":
			return float64(r.ContextLength), "", r.ContextLength > 0
		case "pp":
			return r.PromptTPS, "", r.PromptTPS > 0
		case "tg":
			return r.GenTPS, "", r.GenTPS > 0
		case "ttft":
			return r.TTFTMS, "", r.TTFTMS > 0
		case "ram":
			return float64(r.PeakRSSBytes), "", r.PeakRSSBytes > 0
		}
		v, ok := r.Scores[col]
		return v, "", ok
	}
	sort.SliceStable(lb.Rows, func(i, j int) bool {
		vi, si, oki := val(&lb.Rows[i])
		vj, sj, okj := val(&lb.Rows[j])
		if oki != okj {
			return oki
		}
		if !oki || vi == vj && si == sj {
			return false
		}
		var less bool
		if text {
			less = strings.ToLower(si) < strings.ToLower(sj)
		} else if higher {
			less = vi > vj
		} else {
			less = vi < vj
		}
		if reverse {
			return !less
		}
		return less
	})
	lb.SortedBy, lb.Reversed = col, reverse
	return nil
}

// resolve returns the column name that column names and whether a higher
// value ranks first.
func (lb *Leaderboard) resolve(column string) (string, bool, error) {
	if h, ok := fixedColumns[column]; ok {
		return column, h, nil
	}
	var match []ScoreColumn
	for _, c := range lb.Scores {
		if c.Key == column {
			return c.Key, c.HigherIsBetter, nil
		}
		if strings.HasPrefix(c.Key, column) {
			match = append(match, c)
		}
	}
	if len(match) == 1 {
		return match[0].Key, match[0].HigherIsBetter, nil
	}
	var keys []string
	for _, c := range lb.Scores {
		keys = append(keys, strconv.Quote(c.Key))
	}
	if len(match) > 1 {
		return "", false, fmt.Errorf("eval: column %q matches %d score columns: want one of %s", column, len(match), strings.Join(keys, ", "))
	}
	want := strings.Join(FixedColumns(), ", ")
	if len(keys) > 0 {
		want += ", or a score column: " + strings.Join(keys, ", ")
	}
	return "", false, fmt.Errorf("eval: no column %q: want %s", column, want)
}

// WriteTable writes the leaderboard as a terminal table: a row per model,
// the score columns, then speed, memory and the model's facts. An unknown
// value is a dash.
func (lb *Leaderboard) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	head := []string{"model", "source"}
	for _, c := range lb.Scores {
		arrow := "↓"
		if c.HigherIsBetter {
			arrow = "↑"
		}
		head = append(head, c.Key+" "+arrow)
	}
	head = append(head, "pp t/s", "tg t/s", "ttft", "peak RAM", "size", "ctx", "license", "openness")
	fmt.Fprintln(tw, strings.Join(head, "\t")+"\t")
	dash := func(ok bool, s string) string {
		if !ok {
			return "-"
		}
		return s
	}
	for _, r := range lb.Rows {
		cells := []string{r.Model, r.Source}
		for _, c := range lb.Scores {
			v, ok := r.Scores[c.Key]
			cells = append(cells, dash(ok, formatScore(c.Metric, v)))
		}
		cells = append(cells,
			dash(r.PromptTPS > 0, fmt.Sprintf("%.1f", r.PromptTPS)),
			dash(r.GenTPS > 0, fmt.Sprintf("%.1f", r.GenTPS)),
			dash(r.TTFTMS > 0, formatMS(r.TTFTMS)),
			dash(r.PeakRSSBytes > 0, FormatBytes(r.PeakRSSBytes)),
			dash(r.SizeBytes > 0, FormatBytes(r.SizeBytes)),
			dash(r.ContextLength > 0, strconv.Itoa(r.ContextLength)),
			dash(r.License != "", r.License),
			dash(r.Openness != "", r.Openness))
		fmt.Fprintln(tw, strings.Join(cells, "\t")+"\t")
	}
	return tw.Flush()
}

// formatScore prints a score as its metric reads best: accuracies and
// pass rates as percentages, perplexity and KL as numbers.
func formatScore(metric string, v float64) string {
	switch metric {
	case "acc", "acc_norm", "pass_at_1":
		return fmt.Sprintf("%.1f%%", v*100)
	case "kl_divergence":
		return fmt.Sprintf("%.5f", v)
	}
	return fmt.Sprintf("%.3f", v)
}

// formatMS prints a duration in milliseconds with a readable unit.
func formatMS(ms float64) string {
	if ms >= 1000 {
		return fmt.Sprintf("%.2f s", ms/1000)
	}
	return fmt.Sprintf("%.1f ms", ms)
}

// FormatBytes prints a size in binary units (KiB, MiB, GiB).
func FormatBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
