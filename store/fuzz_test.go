package store

import (
	"strings"
	"testing"
)

func FuzzDecodeTree(f *testing.F) {
	f.Add([]byte(`[{"type":"file","path":"a.gguf","size":3,"oid":"` + strings.Repeat("1", 40) + `","lfs":{"oid":"` + strings.Repeat("ab", 32) + `","size":3}}]`))
	f.Add([]byte(`[{"type":"directory","path":"d"}]`))
	f.Add([]byte(`[{"type":"file","path":"m-00001-of-00002.gguf","size":1,"oid":"` + strings.Repeat("2", 40) + `"}]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		entries, err := DecodeTree(data)
		if err != nil {
			return
		}
		for _, e := range entries {
			if e.Size < 0 || e.Path == "" {
				t.Fatalf("accepted entry %+v", e)
			}
		}
		// Selection never panics on an accepted listing.
		for _, q := range []string{"", "Q4_K_M", "00001"} {
			Select("o/r", entries, Ref{Quant: q})
		}
	})
}

func FuzzDecodeManifest(f *testing.F) {
	f.Add([]byte(`{"version":1,"name":"hf.co/o/r:Q4_0","sha256":"` + strings.Repeat("0", 64) + `","size":5,"files":[{"path":"a.gguf","sha256":"","size":5}]}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := DecodeManifest(data)
		if err != nil {
			return
		}
		if !sha256RE.MatchString(m.SHA256) || m.Size < 0 || len(m.Files) == 0 {
			t.Fatalf("accepted manifest %+v", m)
		}
		if strings.Contains(m.Name, "..") {
			t.Fatalf("accepted name %q", m.Name)
		}
	})
}

func FuzzParseRef(f *testing.F) {
	for _, s := range []string{"hf.co/o/r:Q4_K_M", "hf.co/o/r/a/b.gguf", "o/r", "huggingface.co/o/r:x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRef(s, false)
		if err != nil {
			return
		}
		// Every accepted name is a safe relative path below manifests/ and
		// parses back to itself.
		for _, p := range []string{r.Owner, r.Repo, r.Tag()} {
			if p == "" || p == "." || p == ".." || strings.ContainsAny(p, "/\\") {
				t.Fatalf("%q: unsafe path element %q", s, p)
			}
		}
		r2, err := ParseRef(r.Name(), true)
		if err != nil || r2.Name() != r.Name() {
			t.Fatalf("%q: Name %q does not parse back (%v)", s, r.Name(), err)
		}
	})
}
