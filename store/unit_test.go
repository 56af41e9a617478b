package store

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseRef(t *testing.T) {
	tests := []struct {
		in          string
		requireHost bool
		name, err   string
	}{
		{"hf.co/bartowski/Llama-3.2-1B-Instruct-GGUF:Q4_K_M", true, "hf.co/bartowski/Llama-3.2-1B-Instruct-GGUF:Q4_K_M", ""},
		{"hf.co/bartowski/Llama-3.2-1B-Instruct-GGUF:q4_k_m", true, "hf.co/bartowski/Llama-3.2-1B-Instruct-GGUF:Q4_K_M", ""},
		{"https://huggingface.co/Qwen/Qwen3-0.6B-GGUF", true, "hf.co/Qwen/Qwen3-0.6B-GGUF:latest", ""},
		{"hf.co/o/r/sub/model-Q8_0.gguf", true, "hf.co/o/r:model-Q8_0", ""},
		{"hf.co/o/r/model-Q8_0-00001-of-00002.gguf", true, "hf.co/o/r:model-Q8_0", ""},
		{"o/r:Q4_0", false, "hf.co/o/r:Q4_0", ""},
		{"o/r:Q4_0", true, "", "expected hf.co/OWNER/REPO"},
		{"hf.co/o", true, "", "no repository"},
		{"hf.co/o/r:", true, "", "empty tag"},
		{"hf.co/o/r:a/b", true, "", `tag "a/b" is not valid: it holds '/'`},
		{"hf.co/o/r:Q4 K", true, "", `tag "Q4 K" is not valid: it holds ' '`},
		{"hf.co/o/r:-x", true, "", `tag "-x" is not valid: it starts with '-'`},
		{"hf.co/o/r:.x", true, "", `tag ".x" is not valid: it starts with '.'`},
		{"hf.co/o/r:" + strings.Repeat("q", 129), true, "", "it has 129 characters"},
		{"hf.co/../r", true, "", "not a valid Hugging Face"},
		{"hf.co/o/r/../x.gguf", true, "", "'..'"},
		{"hf.co/o/r/x.bin", true, "", "not a .gguf file"},
		{"hf.co/o/r/x.gguf:Q4_0", true, "", "not both"},
		{"o/r:latest", false, "hf.co/o/r:latest", ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			r, err := ParseRef(tt.in, tt.requireHost)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Errorf("error %v, want one containing %q", err, tt.err)
				}
				return
			}
			if err != nil || r.Name() != tt.name {
				t.Errorf("Name() = %q, %v; want %q", r.Name(), err, tt.name)
			}
		})
	}
}

func entriesOf(paths ...string) []TreeEntry {
	var es []TreeEntry
	for _, p := range paths {
		es = append(es, TreeEntry{Type: "file", Path: p, Size: 10})
	}
	return es
}

func TestSelect(t *testing.T) {
	repo := entriesOf("README.md", "m-Q4_K.gguf", "m-Q4_K_M.gguf", "m-IQ4_K_M.gguf", "mmproj-m-f16.gguf",
		"Q8_0/m-Q8_0-00001-of-00002.gguf", "Q8_0/m-Q8_0-00002-of-00002.gguf", "m_q5_k_s.gguf")
	tests := []struct {
		name    string
		entries []TreeEntry
		ref     Ref
		want    []string
		err     string
	}{
		{"exact token beats substring", repo, Ref{Quant: "Q4_K"}, []string{"m-Q4_K.gguf"}, ""},
		{"Q4_K_M not IQ4_K_M", repo, Ref{Quant: "Q4_K_M"}, []string{"m-Q4_K_M.gguf"}, ""},
		{"split", repo, Ref{Quant: "Q8_0"}, []string{"Q8_0/m-Q8_0-00001-of-00002.gguf", "Q8_0/m-Q8_0-00002-of-00002.gguf"}, ""},
		{"substring fallback", repo, Ref{Quant: "Q5_K_S"}, []string{"m_q5_k_s.gguf"}, ""},
		{"default Q4_K_M", repo, Ref{}, []string{"m-Q4_K_M.gguf"}, ""},
		{"file", repo, Ref{File: "Q8_0/m-Q8_0-00002-of-00002.gguf"}, []string{"Q8_0/m-Q8_0-00001-of-00002.gguf", "Q8_0/m-Q8_0-00002-of-00002.gguf"}, ""},
		{"projector by file", repo, Ref{File: "mmproj-m-f16.gguf"}, []string{"mmproj-m-f16.gguf"}, ""},
		{"only model", entriesOf("a.gguf", "mmproj.gguf"), Ref{}, []string{"a.gguf"}, ""},
		{"ambiguous", repo, Ref{Quant: "M"}, nil, "matches several"},
		{"none", repo, Ref{Quant: "Q2_K"}, nil, "Q8_0/m-Q8_0-*-of-00002.gguf (2 parts)  (hf.co/o/r:Q8_0)"},
		{"no gguf", entriesOf("README.md"), Ref{}, nil, "holds no GGUF file"},
		{"no default", entriesOf("a-Q8_0.gguf", "a-F16.gguf"), Ref{}, nil, "holds several GGUF models"},
		{"missing part", entriesOf("m-00001-of-00003.gguf", "m-00003-of-00003.gguf"), Ref{}, nil, "part 2 of 3 is missing"},
		{"bad part", entriesOf("m-00004-of-00003.gguf"), Ref{}, nil, "out of range"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Select("o/r", tt.entries, tt.ref)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Errorf("error %v, want one containing %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, f := range c.Files {
				got = append(got, f.Path)
			}
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Errorf("selected %v, want %v", got, tt.want)
			}
		})
	}
}

func TestDecodeTree(t *testing.T) {
	sha := strings.Repeat("ab", 32)
	tests := []struct {
		in, err string
	}{
		{`[{"type":"file","path":"a.gguf","size":3,"oid":"` + strings.Repeat("1", 40) + `","lfs":{"oid":"` + sha + `","size":3}}]`, ""},
		{`[{"type":"directory","path":"d","size":0,"oid":"x"}]`, ""},
		{`{}`, "expected a JSON array"},
		{`[{"type":"link","path":"a"}]`, "expected \"file\" or \"directory\""},
		{`[{"type":"file","path":"","oid":"x"}]`, "has no path"},
		{`[{"type":"file","path":"a","size":-1}]`, "negative size"},
		{`[{"type":"file","path":"a","size":1,"oid":"zz"}]`, "40 hex digits"},
		{`[{"type":"file","path":"a","size":1,"lfs":{"oid":"12","size":1}}]`, "64 hex digits"},
		{`[{"type":"file","path":"a","size":1,"lfs":{"oid":"` + sha + `","size":2}}]`, "differs from its LFS size"},
	}
	for _, tt := range tests {
		_, err := DecodeTree([]byte(tt.in))
		if tt.err == "" && err != nil || tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)) {
			t.Errorf("DecodeTree(%s): error %v, want %q", tt.in, err, tt.err)
		}
	}
}

func TestDecodeManifest(t *testing.T) {
	good := Manifest{Version: 1, Name: "hf.co/o/r:Q4_0", SHA256: strings.Repeat("0", 64), Size: 5,
		Files: []SourceFile{{Path: "a.gguf", SHA256: strings.Repeat("0", 64), Size: 5}}, Pulled: time.Unix(0, 0).UTC()}
	data, _ := json.Marshal(good)
	if m, err := DecodeManifest(data); err != nil || m.Name != good.Name {
		t.Fatalf("DecodeManifest: %+v, %v", m, err)
	}
	tests := []struct {
		edit func(m *Manifest)
		err  string
	}{
		{func(m *Manifest) { m.Version = 2 }, "version 2"},
		{func(m *Manifest) { m.Name = "../x" }, "name"},
		{func(m *Manifest) { m.SHA256 = "../../etc/passwd" }, "64 lower-case hex"},
		{func(m *Manifest) { m.Size = -1 }, "negative size"},
		{func(m *Manifest) { m.Files = nil }, "no source files"},
		{func(m *Manifest) { m.Files[0].SHA256 = "x" }, "file 0"},
	}
	for _, tt := range tests {
		m := good
		m.Files = append([]SourceFile(nil), good.Files...)
		tt.edit(&m)
		data, _ := json.Marshal(m)
		if _, err := DecodeManifest(data); err == nil || !strings.Contains(err.Error(), tt.err) {
			t.Errorf("error %v, want %q", err, tt.err)
		}
	}
}

func TestFormat(t *testing.T) {
	tests := []struct{ got, want string }{
		{FormatBytes(0), "0 B"},
		{FormatBytes(1023), "1023 B"},
		{FormatBytes(1536), "1.50 KiB"},
		{FormatBytes(5 << 30), "5.00 GiB"},
		{FormatBytes(150 << 20), "150 MiB"},
		{FormatCount(260_000), "260K"},
		{FormatCount(7_241_732_096), "7.2B"},
		{FileTypeName(15), "Q4_K_M"},
		{FileTypeName(99), "file type 99"},
	}
	for i, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%d: got %q, want %q", i, tt.got, tt.want)
		}
	}
}

// TestReporter: the events a download's reporter sends, with running
// totals (going back on a restart), and a nil reporter that sends nothing.
func TestReporter(t *testing.T) {
	var got []ProgressEvent
	r := newReporter(func(ev ProgressEvent) { got = append(got, ev) })
	r.Note("%s: waiting", "m")
	r.Start("m.gguf", 1000, 200) // resumed at 200
	r.Write(make([]byte, 100))
	r.Add(-300) // the server refused to resume: from zero
	r.Add(50)
	r.Finish()
	want := []ProgressEvent{
		{Kind: ProgressNote, Message: "m: waiting"},
		{Kind: ProgressStart, File: "m.gguf", Total: 1000, Done: 200},
		{Kind: ProgressUpdate, File: "m.gguf", Total: 1000, Done: 300},
		{Kind: ProgressUpdate, File: "m.gguf", Total: 1000, Done: 0},
		{Kind: ProgressUpdate, File: "m.gguf", Total: 1000, Done: 50},
		{Kind: ProgressFinish, File: "m.gguf", Total: 1000, Done: 50},
	}
	if !slices.Equal(got, want) {
		t.Errorf("events\n%+v\nwant\n%+v", got, want)
	}
	if newReporter(nil) != nil {
		t.Error("newReporter(nil) is not nil")
	}
	var nilR *reporter
	nilR.Start("x", 1, 0)
	nilR.Add(1)
	nilR.Write([]byte("x"))
	nilR.Finish()
	nilR.Note("x")
}

func TestHTTPErrorIs(t *testing.T) {
	for _, tt := range []struct {
		code   int
		target error
		want   bool
	}{{401, ErrAccessDenied, true}, {403, ErrAccessDenied, true}, {404, ErrNotFound, true}, {404, ErrAccessDenied, false}, {500, ErrNotFound, false}} {
		if got := errors.Is(&HTTPError{StatusCode: tt.code}, tt.target); got != tt.want {
			t.Errorf("errors.Is(%d, %v) = %v", tt.code, tt.target, got)
		}
	}
}

func TestNextLink(t *testing.T) {
	tests := []struct {
		in   []string
		want string
	}{
		{[]string{`<https://hf.co/api/x?cursor=a>; rel="next"`}, "https://hf.co/api/x?cursor=a"},
		{[]string{`<a>; rel="prev", <b>; rel="next"`}, "b"},
		{[]string{`<a>; rel="prev"`}, ""},
		{nil, ""},
		{[]string{`garbage; rel="next"`}, ""},
	}
	for _, tt := range tests {
		if got := nextLink(tt.in); got != tt.want {
			t.Errorf("nextLink(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
