package chat

import (
	"context"
	"errors"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

// Hostile templates must end with a *LimitError naming the limit, long
// before the time limit unless that is the limit, and leave the calling
// process unharmed.
func TestHostileTemplates(t *testing.T) {
	tests := []struct {
		name, src string
		lim       Limits
		limit     string // the LimitError's Limit
		detail    string // part of its message
	}{
		{"huge range", "{% for i in range(100000000) %}x{% endfor %}", Limits{}, "range", "range(100000000) would produce 100000000 items, more than the 1000000 allowed"},
		{"huge negative range", "{% for i in range(0, -9223372036854775807, -1) %}x{% endfor %}", Limits{}, "range", "more than the 1000000 allowed"},
		{"many ranges", "{% for i in range(100) %}{% set r = range(1000000) %}{% endfor %}", Limits{}, "range total", "more than the 4000000 items"},
		{"string multiplication", "{{ 'x' * 1000000000 }}", Limits{}, "memory", "rendering needed more than 512.0 MiB"},
		{"doubling string", "{% set ns = namespace(s='x') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s }}", Limits{Memory: 64 << 20}, "memory", "rendering needed more than 64 MiB"},
		{"list containing itself", "{% set l = [] %}{{ l.append(l) }}{{ l }}", Limits{}, "stack", "64 MiB of stack"},
		{"endless loop", "{% set s = 'x' * 10000 %}{% for a in s %}{% for b in s %}{% for c in s %}{% endfor %}{% endfor %}{% endfor %}",
			Limits{Time: 300 * time.Millisecond}, "time", "rendering did not finish within 300ms"},
		{"long output", "{% for i in range(5000) %}xx{% endfor %}", Limits{Output: 1000}, "output", "10000 bytes, more than the 1000 bytes allowed"},
		{"small range limit", "{{ range(11) | length }}", Limits{Range: 10}, "range", "range(11) would produce 11 items, more than the 10 allowed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tmpl, err := Parse(tc.src)
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			out, err := tmpl.Render([]Message{{Role: "user", Content: "hi"}}, Options{Limits: tc.lim})
			var le *LimitError
			if !errors.As(err, &le) {
				t.Fatalf("Render = %d bytes, %v; want a LimitError", len(out), err)
			}
			if le.Limit != tc.limit || !strings.Contains(err.Error(), tc.detail) || !strings.Contains(err.Error(), "exceeded the "+tc.limit+" limit") {
				t.Errorf("error %q (limit %q), want the %q limit and %q", err, le.Limit, tc.limit, tc.detail)
			}
			// The limit named shows what stopped the template: only the
			// "time" cases may run to the time limit.
			if d := time.Since(start); tc.limit != "time" && d > DefaultTimeLimit {
				t.Errorf("took %s", d)
			}
		})
	}
}

// A limit error ends one render; the next ones work.
func TestRenderAfterLimit(t *testing.T) {
	bad, err := Parse("{{ 'x' * 1000000000 }}")
	if err != nil {
		t.Fatal(err)
	}
	good, err := Parse("{% for m in messages %}[{{ m.content }}]{% endfor %}{{ range(3) | join(',') }}")
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		var le *LimitError
		if _, err := bad.Render(nil, Options{}); !errors.As(err, &le) {
			t.Fatalf("error %v, want a LimitError", err)
		}
		got, err := good.Render([]Message{{Role: "user", Content: "a"}, {Role: "assistant", Content: "b"}}, Options{})
		if err != nil || got != "[a][b]0,1,2" {
			t.Fatalf("Render = %q, %v", got, err)
		}
	}
}

func TestRangeMatchesEngine(t *testing.T) {
	tmpl, err := Parse("{{ range(5) | join(',') }}|{{ range(2, 5) | join(',') }}|{{ range(10, 0, -3) | join(',') }}|{{ range(0, 10, 4) | join(',') }}|{{ range(3, 3) | length }}|{{ range(5, 1) | length }}|{{ range(2.7) | join(',') }}|{{ range('3') | join(',') }}")
	if err != nil {
		t.Fatal(err)
	}
	got, err := tmpl.Render(nil, Options{})
	if want := "0,1,2,3,4|2,3,4|10,7,4,1|0,4,8|0|0|0,1|0,1,2"; err != nil || got != want {
		t.Errorf("Render = %q, %v; want %q", got, err, want)
	}
	for _, src := range []string{"{{ range() }}", "{{ range(1, 2, 3, 4) }}", "{{ range(1, 5, 0) }}"} {
		tmpl, err := Parse(src)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tmpl.Render(nil, Options{}); err == nil || !strings.Contains(err.Error(), "range:") {
			t.Errorf("%s: error %v, want a range error", src, err)
		}
	}
}

func TestRangeLen(t *testing.T) {
	const maxI, minI = int64(^uint64(0) >> 1), -int64(^uint64(0)>>1) - 1
	tests := []struct {
		start, stop, step int64
		want              uint64
	}{
		{0, 10, 1, 10}, {0, 10, 3, 4}, {10, 0, -3, 4}, {0, 0, 1, 0}, {5, 0, 1, 0}, {0, 5, -1, 0},
		{minI, maxI, 1, ^uint64(0)}, {maxI, minI, minI, 2}, {minI, maxI, maxI, 3},
	}
	for _, tc := range tests {
		if got := rangeLen(tc.start, tc.stop, tc.step); got != tc.want {
			t.Errorf("rangeLen(%d, %d, %d) = %d, want %d", tc.start, tc.stop, tc.step, got, tc.want)
		}
	}
}

// Cancelling the context stops a render at once and kills its worker.
func TestRenderCancel(t *testing.T) {
	tmpl, err := Parse("{% set s = 'x' * 10000 %}{% for a in s %}{% for b in s %}{% for c in s %}{% endfor %}{% endfor %}{% endfor %}")
	if err != nil {
		t.Fatal(err)
	}
	before := liveWorkers.Load()
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	_, err = tmpl.RenderContext(ctx, nil, Options{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("cancelled render took %s", d)
	}
	// The busy worker was killed and reaped: no more workers than before
	// (the one that rendered may have come from the idle pool).
	if n := liveWorkers.Load(); n > before {
		t.Errorf("%d workers alive after the cancel, %d before", n, before)
	}
	// A context that is already done renders nothing.
	if _, err := tmpl.RenderContext(ctx, nil, Options{}); !errors.Is(err, context.Canceled) {
		t.Errorf("render with a done context: %v", err)
	}
}

// Rendering in a worker keeps every byte of the messages, valid UTF-8 or not.
func TestRenderKeepsBytes(t *testing.T) {
	tmpl, err := Parse("{{ bos_token }}{% for m in messages %}{{ m.role }}:{{ m.content }}|{% endfor %}")
	if err != nil {
		t.Fatal(err)
	}
	got, err := tmpl.Render([]Message{{Role: "user", Content: "caf\xc3\xa9 \xff\xfe half \xe2\x82"}}, Options{BOSToken: "<\x80>"})
	if want := "<\x80>user:caf\xc3\xa9 \xff\xfe half \xe2\x82|"; err != nil || got != want {
		t.Errorf("Render = %q, %v; want %q", got, err, want)
	}
}

func TestInvalidLimits(t *testing.T) {
	tmpl, err := Parse("x")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tmpl.Render(nil, Options{Limits: Limits{Time: -time.Second}}); err == nil || !strings.Contains(err.Error(), "negative") {
		t.Errorf("error %v, want one about a negative limit", err)
	}
	if _, err := tmpl.Render(nil, Options{Extra: map[string]any{"f": func() {}}}); err == nil || !strings.Contains(err.Error(), "JSON") {
		t.Errorf("error %v, want one about JSON", err)
	}
}

// Parsing runs under the limits too: the engine's parser recurses once per
// parenthesis, and used to overflow the caller's stack (a fatal error).
func TestParseLimits(t *testing.T) {
	src := "{{ " + strings.Repeat("(", 200000) + "1" + strings.Repeat(")", 200000) + " }}"
	_, err := Parse(src)
	var le *LimitError
	if !errors.As(err, &le) || le.Limit != "stack" || !strings.HasPrefix(err.Error(), "chat: parsing template: the chat template exceeded the stack limit: parsing nested deeper") {
		t.Fatalf("Parse error %v, want the stack limit", err)
	}
}

// BenchmarkRender measures a render's round trip to a worker process.
func BenchmarkRender(b *testing.B) {
	tmpl, err := Parse("{{ bos_token }}{% for m in messages %}<|{{ m.role }}|>{{ m.content }}{{ eos_token }}{% endfor %}{% if add_generation_prompt %}<|assistant|>{% endif %}")
	if err != nil {
		b.Fatal(err)
	}
	msgs := []Message{{Role: "system", Content: "You are helpful."}, {Role: "user", Content: strings.Repeat("word ", 200)}}
	for b.Loop() {
		if _, err := tmpl.Render(msgs, Options{AddGenerationPrompt: true, BOSToken: "<s>", EOSToken: "</s>"}); err != nil {
			b.Fatal(err)
		}
	}
}

// Ctrl-C in a terminal reaches the workers too: they leave it to the caller.
func TestWorkerIgnoresInterrupt(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no SIGINT to send on Windows")
	}
	p, err := takeWorker()
	if err != nil {
		t.Fatal(err)
	}
	// Let the worker reach its request loop before the signal.
	if _, err := p.rd.Peek(0); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	if err := p.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.exited:
		t.Fatal("the worker exited on SIGINT")
	case <-time.After(300 * time.Millisecond):
	}
	putWorker(p)
	tmpl, err := Parse("{{ messages[0].content }}")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := tmpl.Render([]Message{{Role: "user", Content: "still here"}}, Options{}); err != nil || got != "still here" {
		t.Errorf("Render after SIGINT = %q, %v", got, err)
	}
}
