package server

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are the Prometheus metrics served at /metrics, in a registry of
// the server's own (so that several servers can live in one process).
type metrics struct {
	reg             *prometheus.Registry
	requests        *prometheus.CounterVec
	duration        *prometheus.HistogramVec
	promptTokens    *prometheus.CounterVec
	generatedTokens *prometheus.CounterVec
	tokensPerSecond *prometheus.GaugeVec
	genSpeed        *prometheus.HistogramVec
	ttft            *prometheus.HistogramVec
	itl             *prometheus.HistogramVec
	cacheHits       *prometheus.CounterVec
	queueDepth      *prometheus.GaugeVec
	slotsBusy       *prometheus.GaugeVec
	slots           *prometheus.GaugeVec
	rejected        *prometheus.CounterVec
}

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "glassbox_http_requests_total", Help: "HTTP requests answered, by route and status code.",
		}, []string{"route", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "glassbox_http_request_duration_seconds", Help: "Time from request to the end of the response (streams included), by route.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300},
		}, []string{"route"}),
		promptTokens: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "glassbox_prompt_tokens_total", Help: "Prompt tokens of the generations, cached ones included.",
		}, []string{"model"}),
		generatedTokens: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "glassbox_generated_tokens_total", Help: "Tokens generated.",
		}, []string{"model"}),
		tokensPerSecond: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "glassbox_tokens_per_second", Help: "Generation speed of the last finished generation, in tokens per second.",
		}, []string{"model"}),
		genSpeed: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "glassbox_generation_tokens_per_second", Help: "Generation speed of each generation, in tokens per second.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 14),
		}, []string{"model"}),
		ttft: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "glassbox_time_to_first_token_seconds", Help: "Time from the request to its first generated token (queueing and prompt processing included).",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"model"}),
		itl: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "glassbox_inter_token_latency_seconds", Help: "Time between two successive generated tokens of a generation.",
			Buckets: []float64{.001, .0025, .005, .0075, .01, .015, .02, .03, .05, .075, .1, .15, .2, .3, .5, .75, 1, 2.5},
		}, []string{"model"}),
		cacheHits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "glassbox_prompt_cache_hit_tokens_total", Help: "Prompt tokens reused from a slot's KV cache instead of being processed (part of glassbox_prompt_tokens_total).",
		}, []string{"model"}),
		queueDepth: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "glassbox_queue_depth", Help: "Requests waiting for a generation slot.",
		}, []string{"model"}),
		slotsBusy: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "glassbox_slots_busy", Help: "Generation slots in use.",
		}, []string{"model"}),
		slots: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "glassbox_slots", Help: "Generation slots of the model.",
		}, []string{"model"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "glassbox_rejected_requests_total", Help: "Requests turned away with 429 because the queue was full.",
		}, []string{"model"}),
	}
	m.reg.MustRegister(m.requests, m.duration, m.promptTokens, m.generatedTokens, m.tokensPerSecond, m.genSpeed,
		m.ttft, m.itl, m.cacheHits, m.queueDepth, m.slotsBusy, m.slots, m.rejected,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// promptCacheHit counts prompt tokens of a generation on model that were
// reused from a slot's KV cache rather than processed.
func (m *metrics) promptCacheHit(model string, tokens int) {
	if tokens > 0 {
		m.cacheHits.WithLabelValues(model).Add(float64(tokens))
	}
}

// kvCollector reports, at each scrape, how much of every model's KV caches
// is in use. The positions: those filled by the prompts and generated
// tokens of the running requests (idle slots keep their last request's
// tokens for reuse, but the next request may overwrite them at no cost, so
// they count as free, as vLLM counts cached blocks no request holds). The
// bytes: the pages every slot's cache holds, running or idle (with
// Config.KVPool), against the pool's budget or, without one, the bytes of
// every slot's full cache (its context, or what Config.KVSlotBudget allows);
// and the pool's evictions of idle caches.
type kvCollector struct {
	s                                  *Server
	ratio, use, bytes, budget, evicted *prometheus.Desc
}

func newKVCollector(s *Server) *kvCollector {
	return &kvCollector{s: s,
		ratio:   prometheus.NewDesc("glassbox_kv_cache_usage_ratio", "Fraction (0 to 1) of the KV cache the model's slots hold: bytes of their cache pages over the --kv-budget (shared by every model) or, without one, over the bytes of all its slots' full caches (at most --kv-budget-slot each); without a KV pool, positions running requests hold over the slots' positions.", []string{"model"}, nil),
		use:     prometheus.NewDesc("glassbox_kv_cache_used_tokens", "KV cache positions that running requests hold (prompt and generated tokens).", []string{"model"}, nil),
		bytes:   prometheus.NewDesc("glassbox_kv_cache_bytes", "Bytes of KV cache pages the model's slots hold, running or idle (pages are made as sequences grow).", []string{"model"}, nil),
		budget:  prometheus.NewDesc("glassbox_kv_cache_budget_bytes", "The KV cache budget shared by every model's slots (--kv-budget; 0: none).", nil, nil),
		evicted: prometheus.NewDesc("glassbox_kv_cache_evictions_total", "Idle slots whose cached prompt was evicted to make room for another slot's KV cache pages under --kv-budget.", nil, nil),
	}
}

// Describe sends the descriptions of the KV cache gauges.
func (c *kvCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.ratio, c.use, c.bytes, c.budget, c.evicted} {
		ch <- d
	}
}

// Collect sends the KV cache gauges of every model.
func (c *kvCollector) Collect(ch chan<- prometheus.Metric) {
	kp := c.s.cfg.KVPool
	for _, e := range c.s.readyModels() {
		used := e.pool.kvUsed()
		capacity := float64(e.pool.size) * float64(e.slotPositions())
		ratio := 0.0
		if capacity > 0 {
			ratio = min(float64(used)/capacity, 1)
		}
		if kp != nil {
			held := e.kvHeld()
			max := float64(kp.Budget())
			if max == 0 {
				max = float64(e.pool.size) * float64(e.slotBytes())
			}
			ratio = 0
			if max > 0 {
				ratio = min(float64(held)/max, 1)
			}
			ch <- prometheus.MustNewConstMetric(c.bytes, prometheus.GaugeValue, float64(held), e.name)
		}
		ch <- prometheus.MustNewConstMetric(c.ratio, prometheus.GaugeValue, ratio, e.name)
		ch <- prometheus.MustNewConstMetric(c.use, prometheus.GaugeValue, float64(used), e.name)
	}
	if kp != nil {
		ch <- prometheus.MustNewConstMetric(c.budget, prometheus.GaugeValue, float64(kp.Budget()))
		ch <- prometheus.MustNewConstMetric(c.evicted, prometheus.CounterValue, float64(kp.Evictions()))
	}
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// statusWriter records the status code of a response and passes Flush on.
type statusWriter struct {
	http.ResponseWriter
	status int
}

// WriteHeader records the first status code and sends it.
func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

// Write records an implicit 200 and writes b.
func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Flush sends buffered data to the client.
func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap returns the underlying writer (for http.ResponseController).
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// instrument counts a route's requests by status and times them.
func (m *metrics) instrument(route string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t0 := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		h.ServeHTTP(sw, r)
		if sw.status == 0 {
			sw.status = http.StatusOK
		}
		m.requests.WithLabelValues(route, strconv.Itoa(sw.status)).Inc()
		m.duration.WithLabelValues(route).Observe(time.Since(t0).Seconds())
	})
}
