package chat

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestStrftime(t *testing.T) {
	at := time.Date(2024, time.July, 6, 15, 4, 5, 0, time.UTC)
	midnight := time.Date(2025, time.January, 3, 0, 7, 9, 0, time.UTC)
	tests := []struct {
		t      time.Time
		format string
		want   string
	}{
		{at, "%d %b %Y", "06 Jul 2024"},
		{at, "%-d %B %Y", "6 July 2024"},
		{at, "%Y-%m-%d %H:%M:%S", "2024-07-06 15:04:05"},
		{at, "%y %j %e|", "24 188  6|"},
		{at, "%a %A %I %p", "Sat Saturday 03 PM"},
		{midnight, "%I:%M %p, %-I %-M %-S", "12:07 AM, 12 7 9"},
		{at, "100%% %Z %z", "100% UTC +0000"},
		{at, "%Q stays, trailing %", "%Q stays, trailing %"},
		{at, "", ""},
	}
	for _, tc := range tests {
		if got := Strftime(tc.t, tc.format); got != tc.want {
			t.Errorf("Strftime(%v, %q) = %q, want %q", tc.t, tc.format, got, tc.want)
		}
	}
}

func TestFromTokenizerConfig(t *testing.T) {
	tests := []struct {
		name     string
		json     string
		bos, eos string
		render   string // render of a single user message "hi"
		wantErr  string
	}{
		{"string tokens", `{"chat_template": "{{ bos_token }}{{ messages[0].content }}{{ eos_token }}", "bos_token": "<s>", "eos_token": "</s>"}`,
			"<s>", "</s>", "<s>hi</s>", ""},
		{"AddedToken objects and null", `{"chat_template": "{{ bos_token }}[{{ messages[0].content }}]{{ eos_token }}", "bos_token": {"__type": "AddedToken", "content": "<|b|>", "lstrip": false}, "eos_token": null}`,
			"<|b|>", "", "<|b|>[hi]", ""},
		{"named templates", `{"chat_template": [{"name": "tool_use", "template": "tools"}, {"name": "default", "template": "default {{ messages|length }}"}]}`,
			"", "", "default 1", ""},
		{"no default template", `{"chat_template": [{"name": "tool_use", "template": "tools"}]}`, "", "", "", `none is named "default"`},
		{"missing chat_template", `{"bos_token": "<s>"}`, "", "", "", "no chat_template"},
		{"bad chat_template type", `{"chat_template": 3}`, "", "", "", "must be a string"},
		{"bad token", `{"chat_template": "x", "eos_token": 7}`, "", "", "", "eos_token: expected a string"},
		{"bad JSON", `{"chat_template": `, "", "", "", "tokenizer_config.json"},
		{"bad template", `{"chat_template": "{% if %}"}`, "", "", "", "parsing template"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tmpl, opt, err := FromTokenizerConfig([]byte(tc.json))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if opt.BOSToken != tc.bos || opt.EOSToken != tc.eos {
				t.Errorf("bos %q eos %q, want %q %q", opt.BOSToken, opt.EOSToken, tc.bos, tc.eos)
			}
			got, err := tmpl.Render([]Message{{Role: "user", Content: "hi"}}, opt)
			if err != nil || got != tc.render {
				t.Errorf("Render = %q, %v; want %q", got, err, tc.render)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	for _, src := range []string{
		"{% if x %}unclosed",
		"{% for %}{% endfor %}",
		"{{ 1 + }}",
		"{% endif %}",
		"{{ unterminated",
	} {
		if _, err := Parse(src); err == nil {
			t.Errorf("Parse(%q) succeeded, want an error", src)
		} else if !strings.HasPrefix(err.Error(), "chat: parsing template") {
			t.Errorf("Parse(%q) error %q lacks context", src, err)
		}
	}
}

func TestRenderErrors(t *testing.T) {
	tests := []struct {
		name, src string
		opt       Options
		want      string
		raised    string
	}{
		{"reserved extra", "x", Options{Extra: map[string]any{"messages": 1}}, `may not set "messages"`, ""},
		{"raise_exception", "{{ raise_exception('Only user and assistant roles are supported!') }}", Options{},
			"Only user and assistant roles are supported!", "Only user and assistant roles are supported!"},
		{"strftime_now without format", "{{ strftime_now() }}", Options{}, "strftime_now expects one format string", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tmpl, err := Parse(tc.src)
			if err != nil {
				t.Fatal(err)
			}
			_, err = tmpl.Render(nil, tc.opt)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
			var raised *RaiseError
			if errors.As(err, &raised) != (tc.raised != "") || (raised != nil && raised.Message != tc.raised) {
				t.Errorf("RaiseError %+v, want message %q", raised, tc.raised)
			}
		})
	}
}

func TestRenderVariables(t *testing.T) {
	tests := []struct {
		name, src string
		msgs      []Message
		opt       Options
		want      string
	}{
		{"extra variable", "{{ enable_thinking }}|{{ custom }}", nil,
			Options{Extra: map[string]any{"enable_thinking": false, "custom": "v"}}, "False|v"},
		{"tools undefined", "{% if tools is defined %}yes{% else %}no{% endif %}", nil, Options{}, "no"},
		{"generation prompt flag", "{{ add_generation_prompt }}", nil, Options{AddGenerationPrompt: true}, "True"},
		{"message fields", "{% for m in messages %}{{ m.role }}={{ m['content'] }};{% endfor %}",
			[]Message{{Role: "user", Content: "a"}, {Role: "assistant", Content: "b"}}, Options{}, "user=a;assistant=b;"},
		{"fixed date", "{{ strftime_now('%d %B %Y') }}", nil,
			Options{Now: time.Date(2023, 12, 25, 0, 0, 0, 0, time.UTC)}, "25 December 2023"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tmpl, err := Parse(tc.src)
			if err != nil {
				t.Fatal(err)
			}
			got, err := tmpl.Render(tc.msgs, tc.opt)
			if err != nil || got != tc.want {
				t.Errorf("Render = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestStrftimeNowDefaultsToClock(t *testing.T) {
	tmpl, err := Parse("{{ strftime_now('%Y') }}")
	if err != nil {
		t.Fatal(err)
	}
	before := time.Now().Year()
	got, err := tmpl.Render(nil, Options{})
	after := time.Now().Year()
	if err != nil || (got != Strftime(time.Date(before, 1, 1, 0, 0, 0, 0, time.UTC), "%Y") && got != Strftime(time.Date(after, 1, 1, 0, 0, 0, 0, time.UTC), "%Y")) {
		t.Errorf("strftime_now('%%Y') = %q, %v; want the current year", got, err)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"{% for m in messages %}{{ m.content }}{% endfor %}",
		"{%- if x -%}{{ y | trim }}{% elif z %}{% else %}{% endif %}",
		"{{ messages[::-1] }}{% set ns = namespace(a=1) %}{{ ns.a }}",
		"{% macro m(a, b=2) %}{{ a ~ b }}{% endmacro %}{{ m(1) }}",
		"{{ 'a' if b else 'c' }}{# comment #}",
		"{{ messages[0]['content'].split('</think>')[-1].lstrip('\\n') }}",
		"{% raw %}{{ x }}{% endraw %}",
		"{{", "{%", "{#", "}}", "{{ ( }}", "{% if %}",
		// Hostile templates: they must end in errors, never hang or crash.
		"{% for i in range(100000000) %}x{% endfor %}",
		"{{ 'x' * 1000000000 }}",
		"{% set l = [] %}{{ l.append(l) }}{{ l }}",
		"{% set ns = namespace(s='x') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
	} {
		f.Add(s)
	}
	msgs := []Message{{Role: "system", Content: "s"}, {Role: "user", Content: "u {{ x }}"}, {Role: "assistant", Content: "<think>a</think>b"}}
	f.Fuzz(func(t *testing.T, src string) {
		tmpl, err := Parse(src)
		if err != nil {
			if tmpl != nil {
				t.Fatal("Parse returned a template with an error")
			}
			return
		}
		// Rendering a template that parsed must not panic or crash the
		// process either (errors are fine); small limits keep it quick.
		lim := Limits{Time: 2 * time.Second, Memory: 64 << 20, Range: 10000, RangeTotal: 100000}
		_, _ = tmpl.Render(msgs, Options{AddGenerationPrompt: true, BOSToken: "<s>", Now: time.Unix(0, 0), Limits: lim})
	})
}

// TestRecursiveMacros: a macro may call itself, directly or through
// another (gpt-oss's template does); recursion that never ends is stopped by
// the worker's stack limit, an error the caller gets, not a crash.
func TestRecursiveMacros(t *testing.T) {
	tests := []struct {
		name, src, want string
		endless         bool
	}{
		{"self, endless", "{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}", "", true},
		{"mutual, endless", "{%- macro a(x) -%}{{ b(x) }}{%- endmacro -%}{% macro b(x) %}{{ a(x) }}{% endmacro %}{{ a(1) }}", "", true},
		{"self, counting down", "{% macro m(n) %}{% if n > 0 %}{{ n }}{{ m(n - 1) }}{% endif %}{% endmacro %}{{ m(5) }}", "54321", false},
		{"mutual, nested lists", "{%- macro a(x) -%}{% if x is iterable and x is not string %}[{% for y in x %}{{ b(y) }}{% endfor %}]{% else %}{{ x }}{% endif %}{%- endmacro -%}" +
			"{%- macro b(y) -%}{{ a(y) }},{%- endmacro -%}{{ a([1, [2, [3]]]) }}", "[1,[2,[3,],],]", false},
		{"chain without cycle", "{% macro a(x) %}{{ b(x) }}{% endmacro %}{% macro b(x) %}[{{ x }}]{% endmacro %}{{ a(1) }}", "[1]", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tmpl, err := Parse(tc.src)
			if err != nil {
				t.Fatal(err)
			}
			out, err := tmpl.Render(nil, Options{})
			if tc.endless {
				var le *LimitError
				if !errors.As(err, &le) || le.Limit != "stack" {
					t.Fatalf("Render = %q, %v; want a stack LimitError", out, err)
				}
				return
			}
			if err != nil || out != tc.want {
				t.Fatalf("Render = %q, %v; want %q", out, err, tc.want)
			}
		})
	}
}
