package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"glassbox"
	"glassbox/feedback"
	"glassbox/internal/sysmem"
	"glassbox/models"
	"glassbox/server"
	"glassbox/store"
)

type serveOptions struct {
	models    []string
	vectors   []string // --vectors FILE or NAME=FILE
	feedback  string   // --feedback FILE
	addr      string
	apiKey    string
	parallel  int
	noBatch   bool // --no-cont-batching
	batch     int  // --batch: tokens per batched forward pass
	queue     int
	slotSave  string        // --slot-save-path: the directory of saved slot files
	kvBudget  string        // --kv-budget: the KV cache memory of every slot of every model
	kvSlot    string        // --kv-budget-slot: the most KV cache memory of one slot
	maxModels int           // --max-models: models loaded at once
	keepAlive time.Duration // --keep-alive: how long an idle model stays loaded
	runtime   modelFlags    // -t, -c and --kv-f32, as every command that runs a model
	maxBody   int64
	grace     time.Duration
	listening func(addr string) // called once the server is ready (tests)
	// beforeLoad is called once the listener is open, before the models load (tests)
	beforeLoad    func(addr string)
	publicMetrics bool // --public-metrics

	// access and logging
	hosts     []string  // --allowed-host
	origins   []string  // --cors-origin
	logFormat string    // --log-format: text or json
	mcp       bool      // --mcp: the MCP server of the default model at /mcp
	spec      specFlags // --draft, --lookup and the draft lengths: speculative decoding of the default model
}

func newServeCmd() *cobra.Command { return serveCmd(&serveOptions{}) }

func serveCmd(o *serveOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "serve -m MODEL [-m NAME=MODEL]... [flags]",
		Short: "Serve models over an OpenAI-compatible HTTP API",
		Long: `Serve one or more models over HTTP: OpenAI-compatible /v1/chat/completions,
/v1/completions, /v1/embeddings and /v1/models; llama.cpp-compatible /infill, /tokenize,
/detokenize and /slots for editors; Ollama's API (/api/generate, /api/chat, /api/embed,
/api/tags, /api/show, /api/ps, /api/pull, /api/delete, /api/version) on the same port;
probes (/livez, /readyz, /health) and Prometheus /metrics. Each slot keeps its KV cache: a
request takes the slot holding the longest prefix of its prompt and processes only the rest
("cache_prompt": false turns it off).

Each model is served under the base name of its file without the extension, or under NAME
when given as NAME=MODEL; the first model is the default. Without -m, the model embedded in
the binary is served. Every model gets --parallel generation
slots and a queue of --queue requests; beyond that requests get 429 with a Retry-After
estimated from the queue and the duration of recent requests. The slots of a model decode
together (continuous batching: one batched forward pass for the next token of every slot
generating and chunks of --ubatch tokens of the prompts of the other slots, up to --batch
tokens in all; each reply is exactly what it would be alone); --no-cont-batching runs them
side by side instead.
The server listens on 127.0.0.1 unless --addr says otherwise. With --api-key, every API route
but the probes (and /metrics with --public-metrics) needs "Authorization: Bearer KEY"; the page
at / is public and asks for the key when it calls the API.

Every flag can also be set by an environment variable: GLASSBOX_ and the flag's name in upper
case with - as _ (GLASSBOX_PARALLEL=4, GLASSBOX_ADDR=0.0.0.0:8080, GLASSBOX_API_KEY=…); lists
are comma-separated (GLASSBOX_MODEL=a.gguf,b.gguf). A flag on the command line wins.

API POST routes take only "Content-Type: application/json" bodies. The server answers only Host
headers that are IP addresses, localhost or the --addr host (against DNS rebinding); add names
with --allowed-host, or listen beyond loopback with an API key. Browsers may call the API from
other sites' pages only for the origins given with --cors-origin. Every request is logged on
stderr (method, path, status, duration, model and tokens in and out), as text or JSON lines.

The server listens before it loads the models: meanwhile /livez answers 200 and /readyz and
/health 503 ("Loading model"). On SIGINT or SIGTERM it stops being ready and answers queued
and new generation requests with 503 and Retry-After, still listening, while running requests
have --shutdown-grace to finish; it exits as soon as they have. After the grace period their
generations are stopped at the next token: streams end with finish_reason "length" and [DONE],
other requests get the text so far. A second signal quits at once.`,
		Example: `  glassbox serve -m qwen3-0.6b.gguf
  glassbox serve -m chat=qwen3.gguf -m code=qwen2.5-coder.gguf --parallel 2 --addr 0.0.0.0:8080 --api-key secret`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return o.run(cmd) },
	}
	f := cmd.Flags()
	f.StringArrayVarP(&o.models, "model", "m", nil, "model: GGUF file, llama2.c .bin, store name or hf.co/OWNER/REPO[:QUANT], or NAME=MODEL; repeat to serve several (default: the embedded model)")
	f.StringArrayVar(&o.vectors, "vectors", nil, "word vectors (word2vec text or binary) for the page's Vectors view and /glassbox/vectors: FILE or NAME=FILE; repeat for several (every model's token embeddings are there too)")
	f.StringVar(&o.feedback, "feedback", "", "append the page's thumbs and A/B picks (POST /glassbox/feedback) to this JSONL file (default: feedback/feedback.jsonl in the store; \"off\" keeps none)")
	f.StringVar(&o.addr, "addr", "127.0.0.1:8080", "address to listen on (host:port)")
	f.BoolVar(&o.mcp, "mcp", false, "also serve the default model to MCP clients (Streamable HTTP) at /mcp, as `glassbox mcp` does")
	f.StringVar(&o.apiKey, "api-key", "", "require this key as \"Authorization: Bearer KEY\" on every route but the probes")
	f.BoolVar(&o.publicMetrics, "public-metrics", false, "serve /metrics without the API key (for Prometheus and inference gateways that scrape without one)")
	f.StringVar(&o.kvBudget, "kv-budget", "", "total KV cache memory of all slots of all models, e.g. 512MiB or 2GiB (caches grow in pages as sequences do; past the budget the idle slot used the longest ago loses its cached prompt, and a request waits for a busy slot or fails if it can never fit; default: no limit)")
	f.StringVar(&o.kvSlot, "kv-budget-slot", "", "most KV cache memory one slot may hold, e.g. 64MiB (whole pages of 256 positions: a slot then holds at most that many positions, as if its context were shorter; a request whose prompt plus max tokens needs more gets 400, a generation that fills it stops with finish_reason \"length\"; at most --kv-budget, at least one page of every model's cache; default: the context)")
	f.IntVar(&o.parallel, "parallel", 1, fmt.Sprintf("generation slots per model, at most %d (each has its own KV cache)", maxParallel))
	f.BoolVar(&o.noBatch, "no-cont-batching", false, "run each slot's forward passes on their own instead of one batched decode step for all the slots generating (continuous batching, the default with --parallel above 1)")
	f.IntVarP(&o.batch, "batch", "b", glassbox.DefaultBatchTokens, fmt.Sprintf("tokens per batched forward pass, at most %d (llama.cpp's n_batch): the next token of every slot generating plus --ubatch chunks of the prompts of as many slots as fit, so that requests arriving together have their prompts processed together", maxBatch))
	f.IntVar(&o.runtime.ubatch, "ubatch", 64, fmt.Sprintf("prompt tokens per forward step, at most %d: with continuous batching, the chunk of a prompt processed between two decode steps of the other slots", maxUbatch))
	f.IntVar(&o.maxModels, "max-models", defaultMaxModels, "models loaded at once (0: no limit): the first -m models load at start, up to this many; a request naming another model (of -m or of the store) loads it, first unloading the one used least recently that no request uses")
	f.DurationVar(&o.keepAlive, "keep-alive", server.DefaultKeepAlive, "how long a model no request uses stays loaded (0: unloaded after each request; negative: never); Ollama requests' keep_alive overrides it")
	f.StringVar(&o.slotSave, "slot-save-path", "", "directory where POST /slots/{id}?action=save writes a slot's KV cache and action=restore reads it (created if missing; default: those actions are off)")
	f.IntVar(&o.queue, "queue", 64, fmt.Sprintf("requests per model that may wait for a slot before 429, at most %d", maxQueue))
	o.runtime.registerRuntime(cmd, "slot")
	o.spec.registerSpec(cmd)
	f.Int64Var(&o.maxBody, "max-body", server.DefaultMaxBodyBytes, fmt.Sprintf("largest request body in bytes, at most %d (larger get 413)", int64(maxBody)))
	f.DurationVar(&o.grace, "shutdown-grace", 10*time.Second, "on SIGINT/SIGTERM, how long running requests may finish before their generations are stopped (0: at once)")
	f.StringSliceVar(&o.hosts, "allowed-host", nil, "also answer requests whose Host header is this name (repeatable or comma-separated; *.example.com for subdomains, * for any)")
	f.StringSliceVar(&o.origins, "cors-origin", nil, "let web pages of this origin call the API, such as https://app.example.com (repeatable or comma-separated; * for any)")
	f.StringVar(&o.logFormat, "log-format", "text", "request log on stderr: text or json (one JSON object per line)")
	bindEnv(cmd)
	return cmd
}

// say writes a startup message on stderr: a plain line, or a log record
// with --log-format json so that every line is JSON.
func (o *serveOptions) say(w io.Writer, logger *slog.Logger, level slog.Level, msg string) {
	if o.logFormat == "json" {
		logger.Log(context.Background(), level, msg)
		return
	}
	fmt.Fprintln(w, msg)
}

// modelSpec is a -m value: a name and a path.
type modelSpec struct{ name, path string }

// parseModelSpec reads "PATH" or "NAME=PATH". A value naming an existing file
// is a path even if it contains '='.
func parseModelSpec(v string) (modelSpec, error) {
	if v == "" {
		return modelSpec{}, errors.New("empty -m value: expected a model file or NAME=PATH")
	}
	if name, path, ok := strings.Cut(v, "="); ok && !strings.ContainsAny(name, `/\`) {
		if _, err := os.Stat(v); err != nil {
			if name == "" || path == "" {
				return modelSpec{}, fmt.Errorf("-m %q: expected NAME=PATH with a name and a path", v)
			}
			return modelSpec{name: name, path: path}, nil
		}
	}
	return modelSpec{name: defaultModelName(v), path: v}, nil
}

// defaultModelName is the name a model is served under: its file's base name
// without a .gguf or .bin extension (for a store name or an hf.co reference,
// the last path element).
func defaultModelName(v string) string {
	base := filepath.Base(strings.TrimRight(v, `/\`))
	for _, ext := range []string{".gguf", ".GGUF", ".bin"} {
		if n := strings.TrimSuffix(base, ext); n != base && n != "" {
			return n
		}
	}
	return base
}

// Bounds of the serve flags.
const (
	maxParallel = 256     // generation slots per model
	maxQueue    = 65536   // requests waiting per model
	maxBody     = 1 << 30 // request body bytes
	// finishTime is how long, after the grace period, stopped requests have to
	// send their final events before their connections are closed.
	finishTime = 5 * time.Second
	// maxUbatch bounds --ubatch (the activations of a step grow with it).
	maxUbatch = 4096
	// maxBatch bounds --batch (the activations of a pass grow with it).
	maxBatch = 16384
	// defaultMaxModels is the default of --max-models: Ollama's
	// OLLAMA_MAX_LOADED_MODELS on a machine without GPU.
	defaultMaxModels = 3
)

func (o *serveOptions) validate() ([]modelSpec, error) {
	if err := o.spec.check(); err != nil {
		return nil, err
	}
	switch {
	case o.parallel < 1:
		return nil, fmt.Errorf("--parallel must be at least 1, got %d", o.parallel)
	case o.parallel > maxParallel:
		return nil, fmt.Errorf("--parallel %d is too many: a model has at most %d generation slots (each holds a KV cache, and the cores are shared among them)", o.parallel, maxParallel)
	case o.batch < 1 || o.batch > maxBatch:
		return nil, fmt.Errorf("--batch must be between 1 and %d, got %d", maxBatch, o.batch)
	case o.runtime.ubatch < 1 || o.runtime.ubatch > maxUbatch:
		return nil, fmt.Errorf("--ubatch must be between 1 and %d, got %d", maxUbatch, o.runtime.ubatch)
	case o.maxModels < 0:
		return nil, fmt.Errorf("--max-models must be >= 0 (0: no limit), got %d", o.maxModels)
	case o.queue < 0:
		return nil, fmt.Errorf("--queue must be >= 0, got %d", o.queue)
	case o.queue > maxQueue:
		return nil, fmt.Errorf("--queue %d is too long: at most %d requests may wait per model", o.queue, maxQueue)
	case o.maxBody < 1:
		return nil, fmt.Errorf("--max-body must be positive, got %d", o.maxBody)
	case o.logFormat != "text" && o.logFormat != "json":
		return nil, fmt.Errorf("--log-format must be text or json, got %q", o.logFormat)
	case o.maxBody > maxBody:
		return nil, fmt.Errorf("--max-body %d is too large: at most %d bytes (1 GiB)", o.maxBody, int64(maxBody))
	case o.grace < 0:
		return nil, fmt.Errorf("--shutdown-grace must be >= 0 (0 stops running generations at once), got %s", o.grace)
	}
	if _, _, err := net.SplitHostPort(o.addr); err != nil {
		return nil, fmt.Errorf("--addr %q: expected host:port, such as 127.0.0.1:8080: %v", o.addr, err)
	}
	specs := make([]modelSpec, 0, len(o.models))
	if len(o.models) == 0 { // the model embedded in the binary
		return append(specs, modelSpec{name: defaultModelName(models.DefaultName)}), nil
	}
	seen := map[string]string{}
	for _, v := range o.models {
		s, err := parseModelSpec(v)
		if err != nil {
			return nil, err
		}
		if prev, dup := seen[s.name]; dup {
			return nil, fmt.Errorf("two models are named %q (%s and %s): name them with -m NAME=PATH", s.name, prev, s.path)
		}
		seen[s.name] = s.path
		specs = append(specs, s)
	}
	return specs, nil
}

func (o *serveOptions) run(cmd *cobra.Command) error {
	env, err := applyEnv(cmd.Flags(), os.LookupEnv)
	if err != nil {
		return err
	}
	specs, err := o.validate()
	if err != nil {
		return fromEnv(err, env)
	}
	// one KV pool for the slots of every model: its budget, or no limit;
	// and the budget of one slot
	budget, slotBudget, err := o.kvBudgets()
	if err != nil {
		return fromEnv(err, env)
	}
	if o.runtime.kvPool, err = glassbox.NewKVPool(budget); err != nil {
		return fromEnv(fmt.Errorf("--kv-budget: %w", err), env)
	}
	logw := cmd.ErrOrStderr()
	logger := slog.New(slog.NewTextHandler(logw, nil))
	if o.logFormat == "json" {
		logger = slog.New(slog.NewJSONHandler(logw, nil))
	}
	say := func(msg string) { o.say(logw, logger, slog.LevelInfo, msg) }

	// SIGINT or SIGTERM while the models load stops the start
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	// Listen first, so that the probes are answered while the models load:
	// alive, not ready (see server.Gate).
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return fromEnv(fmt.Errorf("listen on %s (--addr): %w", o.addr, err), env)
	}
	gate := &server.Gate{}
	hs := &http.Server{
		Handler:           gate,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	started := false
	defer func() {
		if !started { // a failed or interrupted start
			hs.Close()
			<-errc
		}
	}()
	if o.beforeLoad != nil {
		o.beforeLoad(ln.Addr().String())
	}

	var served []server.Model
	owned := false // the server closes the models once it is created
	defer func() {
		if !owned {
			for _, m := range served {
				m.Model.Close()
			}
		}
	}()
	// the -m models load at start, as many as --max-models allows; the others on demand
	start := specs
	if o.maxModels > 0 && len(start) > o.maxModels {
		start = start[:o.maxModels]
	}
	for _, s := range start {
		// the same resolution as every command: a file, a store name, an hf.co reference, or ("") the embedded model
		mf := o.runtime
		mf.model = s.path
		m, err := mf.open(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil // stopped by a signal while loading
			}
			err = fmt.Errorf("model %s: %w", s.name, err)
			if e, ok := env["model"]; ok {
				err = fmt.Errorf("%w (the models come from %s=%q)", err, e.env, e.value)
			}
			return err
		}
		served = append(served, server.Model{Name: s.name, Model: m})
		say(fmt.Sprintf("loaded %s from %s in %s (context %d)", s.name, m.Path(), m.LoadDuration().Round(10*time.Microsecond), m.ContextSize()))
		if ctx.Err() != nil {
			return nil
		}
	}
	// speculative decoding of the default model (the first -m)
	spec, draft, err := o.spec.open(ctx, &o.runtime)
	if err != nil {
		return fromEnv(err, env)
	}
	if draft != nil {
		defer draft.Close() // after the server's Close: no generation reads it then
		say(fmt.Sprintf("draft model %s loaded in %s", draft.Path(), draft.LoadDuration().Round(10*time.Microsecond)))
	}
	if err := checkKVMemory(served, o.parallel, o.runtime.kvPool.Budget(), slotBudget, availableMemory()); err != nil {
		return fromEnv(err, env)
	}
	if o.slotSave != "" {
		if err := os.MkdirAll(o.slotSave, 0o750); err != nil {
			return fromEnv(fmt.Errorf("--slot-save-path: %w", err), env)
		}
	}
	vecSets, err := loadVectorSets(o.vectors, say)
	if err != nil {
		return fromEnv(err, env)
	}
	fb, err := o.openFeedback()
	if err != nil {
		return fromEnv(err, env)
	}
	// the store the Ollama routes list, pull into and delete from, and whose models load on demand
	st, err := store.Open("")
	if err != nil {
		o.say(logw, logger, slog.LevelWarn, fmt.Sprintf("no model store (%v): only the -m models are served, /api/tags lists them only and /api/pull is off", err))
		st = nil
	}
	cat := &serveCatalog{specs: specs, store: st, runtime: o.runtime, parallel: o.parallel, slotBudget: slotBudget, say: say}
	srv, err := server.New(server.Config{Models: served, Store: st, KVPool: o.runtime.kvPool, KVSlotBudget: slotBudget, Vectors: vecSets, Feedback: fb, APIKey: o.apiKey, PublicMetrics: o.publicMetrics,
		Load: cat.load, Catalog: cat.list, MaxModels: o.maxModels, KeepAlive: o.keepAlive, SlotSavePath: o.slotSave, PinDefault: o.mcp,
		Parallel: o.parallel, NoBatching: o.noBatch, BatchTokens: o.batch, Queue: o.queue, MaxBodyBytes: o.maxBody, Logger: logger, Leaderboard: loadLeaderboard,
		Speculative: spec,
		Access:      server.Access{ListenAddr: o.addr, AllowedHosts: o.hosts, CORSOrigins: o.origins}})
	if err != nil {
		return fromEnv(err, env)
	}
	owned = true
	defer srv.Close() // closes the models, waiting for any generation still reading their weights
	handler := srv.Handler()
	if o.mcp {
		if handler, err = withMCP(handler, served[0].Model, o.apiKey); err != nil {
			return err
		}
	}
	gate.Open(handler) // ready
	started = true
	say(fmt.Sprintf("serving %s on http://%s (%s per model, queue %d; %s, %s)", plural(len(served), "model"), ln.Addr(), plural(o.parallel, "slot")+batchingNote(o), o.queue,
		maxModelsNote(o.maxModels), keepAliveNote(o.keepAlive)))
	if host, _, _ := net.SplitHostPort(ln.Addr().String()); !server.IsLoopback(host) && o.apiKey == "" {
		o.say(logw, logger, slog.LevelWarn, fmt.Sprintf("WARNING: listening on %s, beyond this machine, WITHOUT AN API KEY: anyone who can reach this address can run the models and read every reply. Set --api-key KEY (or GLASSBOX_API_KEY), or listen on 127.0.0.1.", ln.Addr()))
	}
	if o.listening != nil {
		o.listening(ln.Addr().String())
	}

	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	stop() // a second signal ends the process at once
	say(fmt.Sprintf("shutting down: not ready any more, new and queued generation requests get 503; running requests have %s to finish (a second Ctrl-C or SIGTERM quits at once)", o.grace))
	shutdown(hs, srv, o.grace, say)
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// maxModelsNote and keepAliveNote say, for the start-up line, how models load and unload.
func maxModelsNote(n int) string {
	if n == 0 {
		return "no limit on the models loaded"
	}
	return "at most " + plural(n, "model") + " loaded"
}

func keepAliveNote(d time.Duration) string {
	switch {
	case d < 0:
		return "idle models stay loaded"
	case d == 0:
		return "models unloaded after each request"
	}
	return "idle models unloaded after " + d.String()
}

// serveCatalog is what `glassbox serve` can load on demand: the -m models,
// the models embedded in the binary, then the models of the store (glassbox
// pull, glassbox list), by name.
type serveCatalog struct {
	specs      []modelSpec
	store      *store.Store
	runtime    modelFlags
	parallel   int
	slotBudget int64 // --kv-budget-slot
	say        func(string)

	embedOnce  sync.Once
	embedPaths map[string]string // embedded model's name → its copy in the user cache ("" if none)
}

// embeddedPath returns the file holding an embedded model (its copy in the
// user cache directory, written once), read to list it without loading it;
// "" when it cannot be written.
func (c *serveCatalog) embeddedPath(e models.Model) string {
	c.embedOnce.Do(func() {
		c.embedPaths = map[string]string{}
		for _, m := range models.Embedded() {
			if p, err := m.Path(); err == nil {
				c.embedPaths[m.Name] = p
			}
		}
	})
	return c.embedPaths[e.Name]
}

// embeddedAliases are the names of an embedded model other than name.
func embeddedAliases(e models.Model, name string) []string {
	var out []string
	for _, n := range e.Names() {
		if !strings.EqualFold(n, name) {
			out = append(out, n)
		}
	}
	return out
}

// list returns the -m models (with their files, when they are files), the
// embedded models no -m names, and the store's.
func (c *serveCatalog) list() ([]server.CatalogModel, error) {
	out := make([]server.CatalogModel, 0, len(c.specs))
	covered := map[string]bool{} // embedded models a -m serves, and names taken
	for _, s := range c.specs {
		m := server.CatalogModel{Name: s.name}
		if e, ok := embeddedModel(s.path); ok {
			m.Path, m.Aliases = c.embeddedPath(e), embeddedAliases(e, s.name)
			covered[e.Name] = true
		} else if st, err := os.Stat(s.path); err == nil && st.Mode().IsRegular() {
			m.Path = s.path
		}
		covered[strings.ToLower(s.name)] = true
		out = append(out, m)
	}
	for _, e := range models.Embedded() {
		if slices.ContainsFunc(e.Names(), func(n string) bool { return covered[strings.ToLower(n)] }) {
			continue
		}
		name := defaultModelName(e.File)
		out = append(out, server.CatalogModel{Name: name, Path: c.embeddedPath(e), Aliases: embeddedAliases(e, name)})
	}
	if c.store == nil {
		return out, nil
	}
	ms, err := c.store.List()
	if err != nil {
		return out, err
	}
	for _, man := range ms {
		out = append(out, server.CatalogModel{Name: man.Name, Path: c.store.BlobPath(man.SHA256)})
	}
	return out, nil
}

// load opens a model of the catalog with the runtime flags (-t, -c, cache
// types…), refusing one whose slots' KV caches do not fit in memory.
func (c *serveCatalog) load(ctx context.Context, name string) (*glassbox.Model, error) {
	mf := c.runtime
	mf.model = ""
	found := false
	for _, s := range c.specs {
		if s.name == name {
			mf.model, found = s.path, true
		}
	}
	for _, e := range models.Embedded() {
		if !found && defaultModelName(e.File) == name {
			mf.model, found = e.Name, true
		}
	}
	if !found {
		if c.store == nil {
			return nil, fmt.Errorf("no model %s: there is no store", name)
		}
		man, err := c.store.Lookup(name)
		if err != nil {
			return nil, err
		}
		mf.model = man.Name
	}
	m, err := mf.open(ctx)
	if err != nil {
		return nil, err
	}
	if err := checkKVMemory([]server.Model{{Name: name, Model: m}}, c.parallel, c.runtime.kvPool.Budget(), c.slotBudget, availableMemory()); err != nil {
		m.Close()
		return nil, err
	}
	c.say(fmt.Sprintf("loaded %s from %s in %s (context %d)", name, m.Path(), m.LoadDuration().Round(10*time.Microsecond), m.ContextSize()))
	return m, nil
}

// batchingNote says, for the start-up line, whether the slots decode together.
func batchingNote(o *serveOptions) string {
	if o.parallel > 1 && !o.noBatch {
		return ", continuous batching"
	}
	return ""
}

// openFeedback opens the feedback file of --feedback: the store's by
// default, none with "off".
func (o *serveOptions) openFeedback() (*feedback.Log, error) {
	path := o.feedback
	switch path {
	case "off":
		return nil, nil
	case "":
		var err error
		if path, err = feedback.DefaultPath(""); err != nil {
			return nil, fmt.Errorf("--feedback: %w", err)
		}
	}
	l, err := feedback.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--feedback: %w", err)
	}
	return l, nil
}

// shutdown drains and stops the HTTP server. The server stops being ready
// and turns queued and new generation requests away with 503 and a
// Retry-After, but goes on listening while the running requests finish, for
// grace at most: a request a load balancer still sends meanwhile is told to
// retry elsewhere instead of finding the port closed. Then the server stops
// listening and waits for the other requests for what is left of grace.
// After grace, the running generations are stopped, with finishTime to send
// their last events before the remaining connections are closed.
func shutdown(hs *http.Server, srv *server.Server, grace time.Duration, say func(string)) {
	t0 := time.Now()
	srv.Drain()
	gctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if srv.WaitIdle(gctx) == nil {
		say(fmt.Sprintf("drained in %s: no request runs; closing", time.Since(t0).Round(time.Millisecond)))
	}
	err := hs.Shutdown(gctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		return
	}
	if n := srv.StopGenerations(); n > 0 {
		say(fmt.Sprintf("grace period over: stopping %s", plural(n, "running request")))
	}
	fctx, cancel := context.WithTimeout(context.Background(), finishTime)
	defer cancel()
	if err := hs.Shutdown(fctx); errors.Is(err, context.DeadlineExceeded) {
		say("closing the connections of requests that did not end in time")
		hs.Close()
		// a generation in the middle of a long prompt stops only once it is processed
		wctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		if srv.WaitIdle(wctx) != nil {
			say("waiting for the running generations to stop before releasing the models")
		}
	}
}

// kvBudgets reads --kv-budget (shared, 0: no limit) and --kv-budget-slot
// (slot, 0: no limit), refusing a slot's budget larger than the shared one.
// Whether a slot's budget holds at least one page of a model's cache is
// checked once the model is loaded (server.Config.KVSlotBudget).
func (o *serveOptions) kvBudgets() (shared, slot int64, err error) {
	if shared, err = parseSize(o.kvBudget); err != nil {
		return 0, 0, fmt.Errorf("--kv-budget: %w", err)
	}
	if slot, err = parseSize(o.kvSlot); err != nil {
		return 0, 0, fmt.Errorf("--kv-budget-slot: %w", err)
	}
	if shared > 0 && slot > shared {
		return 0, 0, fmt.Errorf("--kv-budget-slot of %d bytes (%s) is more than the --kv-budget of %d bytes (%s) that all slots share: lower it or raise --kv-budget",
			slot, store.FormatBytes(slot), shared, store.FormatBytes(shared))
	}
	return shared, slot, nil
}

// checkKVMemory refuses a number of slots whose KV caches cannot fit in the
// available memory (avail 0: unknown, no check), or a --kv-budget (budget,
// 0: none) larger than it. A slot's cache is at most its whole pages under
// --kv-budget-slot (slot, 0: none).
func checkKVMemory(models []server.Model, parallel int, budget, slot int64, avail uint64) error {
	if avail == 0 {
		return nil
	}
	if budget > 0 {
		if uint64(budget) <= avail {
			return nil
		}
		return fmt.Errorf("--kv-budget of %d bytes (%s) is more than the %d bytes (%s) of memory available: lower it", budget, mib(uint64(budget)), avail, mib(avail))
	}
	perSlot := func(m *glassbox.Model) uint64 {
		n := m.KVCacheBytes()
		if slot > 0 {
			_, page := m.KVPage()
			n = min(n, slot/page*page)
		}
		return uint64(n)
	}
	var total uint64
	for _, m := range models {
		total += uint64(parallel) * perSlot(m.Model)
	}
	if total <= avail {
		return nil
	}
	per := make([]string, len(models))
	for i, m := range models {
		per[i] = fmt.Sprintf("%s: %s a slot", m.Name, mib(perSlot(m.Model)))
	}
	return fmt.Errorf("--parallel %d needs %d bytes (%s) of KV caches (%s) but only %d bytes (%s) of memory are available: lower --parallel or --ctx, or set --kv-budget or --kv-budget-slot",
		parallel, total, mib(total), strings.Join(per, ", "), avail, mib(avail))
}

func mib(n uint64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

// availableMemory returns the memory the process can still use
// (internal/sysmem), or 0 where it is not known.
func availableMemory() uint64 {
	m, ok := sysmem.Available()
	if !ok {
		return 0
	}
	return m.Bytes
}

// parseSize reads a memory size: a number of bytes, optionally followed by
// a unit, binary (KiB, MiB, GiB, TiB; K, M, G, T) or decimal (KB, MB, GB,
// TB); "" is 0.
func parseSize(v string) (int64, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, nil
	}
	i := strings.IndexFunc(v, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
	num, unit := v, ""
	if i >= 0 {
		num, unit = v[:i], strings.TrimSpace(v[i:])
	}
	mult := map[string]float64{"": 1, "b": 1, "k": 1 << 10, "kib": 1 << 10, "m": 1 << 20, "mib": 1 << 20, "g": 1 << 30, "gib": 1 << 30, "t": 1 << 40, "tib": 1 << 40,
		"kb": 1e3, "mb": 1e6, "gb": 1e9, "tb": 1e12}[strings.ToLower(unit)]
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || mult == 0 || f < 0 || f*mult > math.MaxInt64 {
		return 0, fmt.Errorf("invalid size %q: want bytes with an optional unit, such as 512MiB, 2GiB or 1.5G", v)
	}
	return int64(f * mult), nil
}
