package store

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"glassbox/gguf"
)

func init() { testBackoff = 10 * time.Millisecond }

func newTestStore(t *testing.T) *Store {
	t.Helper()
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// storiesRepo is a repository with two quantizations of stories260K, a
// projector and a README outside LFS.
func storiesRepo(t *testing.T) map[string]fakeFile {
	return map[string]fakeFile{
		"README.md":                         {data: []byte("# stories\n")},
		"stories260K-Q4_K_M.gguf":           fixtureFile(t, "stories260K-Q4_K_M.gguf"),
		"stories260K-f32.gguf":              fixtureFile(t, "stories260K-f32.gguf"),
		"mmproj-stories260K-f32.gguf":       fixtureFile(t, "llama-gguf-sample.gguf"),
		"quants/stories260K-h192-Q8_0.gguf": fixtureFile(t, "stories260K-h192-Q8_0.gguf"),
	}
}

// blobsLeft lists the files of blobs/ and locks/ other than complete blobs.
func blobsLeft(t *testing.T, s *Store) []string {
	t.Helper()
	var left []string
	for _, dir := range []string{s.blobDir(), s.lockDir()} {
		ents, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			if !strings.HasPrefix(e.Name(), "sha256-") || strings.Contains(e.Name(), ".") {
				left = append(left, e.Name())
			}
		}
	}
	return left
}

func TestPull(t *testing.T) {
	files := storiesRepo(t)
	tests := []struct {
		ref, name, file string
	}{
		{"hf.co/test/stories:Q4_K_M", "hf.co/test/stories:Q4_K_M", "stories260K-Q4_K_M.gguf"},
		{"hf.co/test/stories:q4_k_m", "hf.co/test/stories:Q4_K_M", "stories260K-Q4_K_M.gguf"},
		{"huggingface.co/test/stories:f32", "hf.co/test/stories:F32", "stories260K-f32.gguf"},
		{"hf.co/test/stories:Q8_0", "hf.co/test/stories:Q8_0", "quants/stories260K-h192-Q8_0.gguf"},
		{"hf.co/test/stories/stories260K-f32.gguf", "hf.co/test/stories:stories260K-f32", "stories260K-f32.gguf"},
		// No quant: the Q4_K_M file, as Ollama and llama.cpp choose.
		{"hf.co/test/stories", "hf.co/test/stories:latest", "stories260K-Q4_K_M.gguf"},
	}
	for _, tt := range tests {
		t.Run(tt.ref, func(t *testing.T) {
			hub := newFakeHub(t)
			hub.addRepo("test/stories", false, files)
			s := newTestStore(t)
			m, err := s.Pull(context.Background(), tt.ref, PullOptions{Hub: hub.client("")})
			if err != nil {
				t.Fatal(err)
			}
			want := files[tt.file].data
			if m.Name != tt.name || m.SHA256 != sha256Hex(want) || m.Size != int64(len(want)) {
				t.Errorf("manifest %s sha256 %s size %d, want %s %s %d", m.Name, m.SHA256, m.Size, tt.name, sha256Hex(want), len(want))
			}
			if len(m.Files) != 1 || m.Files[0].Path != tt.file || !strings.HasSuffix(m.Files[0].URL, "/test/stories/resolve/main/"+tt.file) {
				t.Errorf("manifest files %+v, want %s", m.Files, tt.file)
			}
			got, err := os.ReadFile(s.BlobPath(m.SHA256))
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("blob differs from the served file (err %v)", err)
			}
			// The manifest is on disk and found by name.
			m2, err := s.Lookup(tt.name)
			if err != nil || m2.SHA256 != m.SHA256 {
				t.Fatalf("Lookup(%s) = %+v, %v", tt.name, m2, err)
			}
			if left := blobsLeft(t, s); len(left) != 0 {
				t.Errorf("left in the store: %v", left)
			}
			// A second pull finds the files in the store and downloads nothing.
			before := len(hub.cdnRequests())
			if _, err := s.Pull(context.Background(), tt.ref, PullOptions{Hub: hub.client("")}); err != nil {
				t.Fatal(err)
			}
			if n := len(hub.cdnRequests()) - before; n != 0 {
				t.Errorf("second pull made %d CDN requests, want 0", n)
			}
		})
	}
}

func TestPullErrors(t *testing.T) {
	files := storiesRepo(t)
	tests := []struct {
		name, ref, token string
		is               error
		want             []string
	}{
		{"gated without token", "hf.co/meta/gated:Q4_K_M", "", ErrAccessDenied,
			[]string{"HTTP 401", "gated or private", "HF_TOKEN", "/meta/gated"}},
		{"gated with a wrong token", "hf.co/meta/gated:Q4_K_M", "hf_wrong", ErrAccessDenied,
			[]string{"HTTP 403", "token in HF_TOKEN was refused"}},
		{"unknown repo", "hf.co/nobody/nothing:Q4_K_M", "", ErrNotFound,
			[]string{"HTTP 404", "repository nobody/nothing not found"}},
		{"unknown quant", "hf.co/test/stories:Q3_K_S", "", nil,
			[]string{`no GGUF file of test/stories matches "Q3_K_S"`, "stories260K-Q4_K_M.gguf  (hf.co/test/stories:Q4_K_M)", "stories260K-f32.gguf"}},
		{"unknown file", "hf.co/test/stories/nope.gguf", "", nil,
			[]string{`no GGUF file of test/stories matches "nope.gguf"`, "quants/stories260K-h192-Q8_0.gguf"}},
		{"ambiguous quant", "hf.co/test/stories:stories260K", "", nil,
			[]string{`"stories260K" matches several GGUF models`, "stories260K-f32.gguf"}},
	}
	hub := newFakeHub(t)
	hub.addRepo("test/stories", false, files)
	hub.addRepo("meta/gated", true, map[string]fakeFile{"m-Q4_K_M.gguf": files["stories260K-Q4_K_M.gguf"]})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestStore(t)
			_, err := s.Pull(context.Background(), tt.ref, PullOptions{Hub: hub.client(tt.token)})
			if err == nil {
				t.Fatal("pull succeeded")
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error %v is not %v", err, tt.is)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if ms, _ := s.List(); len(ms) != 0 {
				t.Errorf("store holds %d models after a failed pull", len(ms))
			}
		})
	}
}

// TestPullGatedTokenNotForwarded pulls a gated model with the token: the hub
// gets it, the CDN the hub redirects to (another host) does not.
func TestPullGatedTokenNotForwarded(t *testing.T) {
	hub := newFakeHub(t)
	data := fixtureFile(t, "stories260K-Q4_K_M.gguf")
	hub.addRepo("meta/gated", true, map[string]fakeFile{"m-Q4_K_M.gguf": data})
	s := newTestStore(t)
	m, err := s.Pull(context.Background(), "hf.co/meta/gated:Q4_K_M", PullOptions{Hub: hub.client(fakeToken)})
	if err != nil {
		t.Fatal(err)
	}
	if m.SHA256 != sha256Hex(data.data) {
		t.Errorf("sha256 %s, want %s", m.SHA256, sha256Hex(data.data))
	}
	hubReqs, cdnReqs := hub.hubRequests(), hub.cdnRequests()
	if len(hubReqs) != 2 || len(cdnReqs) != 1 {
		t.Fatalf("%d hub and %d CDN requests, want 2 (tree, resolve) and 1", len(hubReqs), len(cdnReqs))
	}
	for _, r := range hubReqs {
		if r.Auth != "Bearer "+fakeToken {
			t.Errorf("hub request %s %s: Authorization %q, want the token", r.Method, r.Path, r.Auth)
		}
	}
	if cdnReqs[0].Auth != "" {
		t.Errorf("the CDN on another host got Authorization %q", cdnReqs[0].Auth)
	}
}

// TestPullResume cuts the connection in the middle of the file.
func TestPullResume(t *testing.T) {
	data := fixtureFile(t, "stories260K-f32.gguf")
	const cut = 300_001
	t.Run("next pull resumes", func(t *testing.T) {
		hub := newFakeHub(t)
		hub.addRepo("test/one", false, map[string]fakeFile{"model-f32.gguf": data})
		hub.cutAfter, hub.cuts = cut, 1
		s := newTestStore(t)
		_, err := s.Pull(context.Background(), "hf.co/test/one", PullOptions{Hub: hub.client(""), Retries: -1})
		if err == nil || !strings.Contains(err.Error(), "run the pull again to resume") {
			t.Fatalf("interrupted pull: error %v, want one saying to run the pull again", err)
		}
		partial := filepath.Join(s.blobDir(), "sha256-"+sha256Hex(data.data)+".partial")
		st, err := os.Stat(partial)
		if err != nil || st.Size() != cut {
			t.Fatalf("partial file: %v, size %d, want %d bytes", err, st.Size(), cut)
		}
		if _, err := s.Lookup("test/one"); !errors.Is(err, ErrModelNotFound) {
			t.Fatalf("a partial download is listed as a model (err %v)", err)
		}
		p, err := ResolveModel(context.Background(), "test/one", ResolveOptions{Store: s})
		if err == nil {
			t.Fatalf("ResolveModel returned %s for a partial download", p)
		}
		m, err := s.Pull(context.Background(), "hf.co/test/one", PullOptions{Hub: hub.client(""), Retries: -1})
		if err != nil {
			t.Fatal(err)
		}
		reqs := hub.cdnRequests()
		if len(reqs) != 2 || reqs[0].Range != "" || reqs[1].Range != "bytes=300001-" {
			t.Errorf("CDN requests %+v, want a full GET then Range bytes=300001-", reqs)
		}
		got, _ := os.ReadFile(s.BlobPath(m.SHA256))
		if !bytes.Equal(got, data.data) {
			t.Error("resumed blob differs from the file")
		}
	})
	t.Run("retries within one pull", func(t *testing.T) {
		hub := newFakeHub(t)
		hub.addRepo("test/one", false, map[string]fakeFile{"model-f32.gguf": data})
		hub.cutAfter, hub.cuts = cut, 2
		s := newTestStore(t)
		m, err := s.Pull(context.Background(), "hf.co/test/one", PullOptions{Hub: hub.client("")})
		if err != nil {
			t.Fatal(err)
		}
		reqs := hub.cdnRequests()
		wantRanges := []string{"", "bytes=300001-", "bytes=600002-"}
		if len(reqs) != len(wantRanges) {
			t.Fatalf("CDN requests %+v, want ranges %q", reqs, wantRanges)
		}
		for i, r := range reqs {
			if r.Range != wantRanges[i] {
				t.Errorf("request %d: Range %q, want %q", i, r.Range, wantRanges[i])
			}
		}
		if m.SHA256 != sha256Hex(data.data) {
			t.Error("wrong blob")
		}
	})
	t.Run("after a crash", func(t *testing.T) {
		hub := newFakeHub(t)
		hub.addRepo("test/one", false, map[string]fakeFile{"model-f32.gguf": data})
		s := newTestStore(t)
		// A crashed pull left the first 1000 bytes.
		partial := filepath.Join(s.blobDir(), "sha256-"+sha256Hex(data.data)+".partial")
		if err := os.WriteFile(partial, data.data[:1000], 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Pull(context.Background(), "hf.co/test/one", PullOptions{Hub: hub.client("")}); err != nil {
			t.Fatal(err)
		}
		if reqs := hub.cdnRequests(); len(reqs) != 1 || reqs[0].Range != "bytes=1000-" {
			t.Errorf("CDN requests %+v, want one with Range bytes=1000-", reqs)
		}
	})
}

// TestPullProgress: a pull reports its download through the Progress
// callback — a start at the bytes already present, updates that only grow,
// a finish at the full size — and writes nothing itself.
func TestPullProgress(t *testing.T) {
	data := fixtureFile(t, "stories260K-f32.gguf")
	hub := newFakeHub(t)
	hub.addRepo("test/one", false, map[string]fakeFile{"model-f32.gguf": data})
	s := newTestStore(t)
	partial := filepath.Join(s.blobDir(), "sha256-"+sha256Hex(data.data)+".partial")
	if err := os.WriteFile(partial, data.data[:1000], 0o644); err != nil {
		t.Fatal(err)
	}
	var events []ProgressEvent
	progress := func(ev ProgressEvent) { events = append(events, ev) }
	if _, err := s.Pull(context.Background(), "hf.co/test/one", PullOptions{Hub: hub.client(""), Progress: progress}); err != nil {
		t.Fatal(err)
	}
	size := int64(len(data.data))
	if len(events) < 3 {
		t.Fatalf("%d events, want a start, updates and a finish: %+v", len(events), events)
	}
	first, last := events[0], events[len(events)-1]
	if first != (ProgressEvent{Kind: ProgressStart, File: "model-f32.gguf", Total: size, Done: 1000}) {
		t.Errorf("first event %+v, want the start of model-f32.gguf at 1000 of %d bytes", first, size)
	}
	if last != (ProgressEvent{Kind: ProgressFinish, File: "model-f32.gguf", Total: size, Done: size}) {
		t.Errorf("last event %+v, want the finish at %d bytes", last, size)
	}
	done := first.Done
	for _, ev := range events[1 : len(events)-1] {
		if ev.Kind != ProgressUpdate || ev.File != "model-f32.gguf" || ev.Total != size || ev.Done <= done {
			t.Fatalf("event %+v after %d bytes: want an update of model-f32.gguf with more bytes", ev, done)
		}
		done = ev.Done
	}
	if done != size {
		t.Errorf("updates end at %d bytes, want %d", done, size)
	}
	// A second pull downloads nothing and reports nothing.
	events = nil
	if _, err := s.Pull(context.Background(), "hf.co/test/one", PullOptions{Hub: hub.client(""), Progress: progress}); err != nil {
		t.Fatal(err)
	}
	if len(events) != 0 {
		t.Errorf("a pull of a model already in the store reported %+v", events)
	}
}

// TestPullStall serves a download that stops sending: the idle timeout
// abandons it and the pull resumes where the data stopped.
func TestPullStall(t *testing.T) {
	data := fixtureFile(t, "stories260K-f32.gguf")
	const stall = 300_001
	tests := []struct {
		name       string
		stallAfter int64
		stalls     int
		retries    int
		wantRanges []string
		wantErr    string
	}{
		{"in the body", stall, 1, 0, []string{"", "bytes=300001-"}, ""},
		{"before the headers", -1, 1, 0, []string{"", ""}, ""},
		{"twice", stall, 2, 0, []string{"", "bytes=300001-", "bytes=600002-"}, ""},
		{"no retries left", stall, 1, -1, []string{""}, "the server sent no data for 100ms (idle timeout) (run the pull again to resume)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hub := newFakeHub(t)
			hub.addRepo("test/one", false, map[string]fakeFile{"model-f32.gguf": data})
			hub.stallAfter, hub.stalls = tc.stallAfter, tc.stalls
			s := newTestStore(t)
			done := make(chan struct{})
			var m *Manifest
			var err error
			go func() {
				defer close(done)
				m, err = s.Pull(context.Background(), "hf.co/test/one", PullOptions{Hub: hub.client(""), IdleTimeout: 100 * time.Millisecond, Retries: tc.retries})
			}()
			select {
			case <-done:
			case <-time.After(20 * time.Second):
				t.Fatal("pull hangs on a stalled server")
			}
			if tc.wantErr != "" {
				var se *StallError
				if !errors.As(err, &se) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want a StallError saying %q", err, tc.wantErr)
				}
			} else if err != nil {
				t.Fatal(err)
			} else if m.SHA256 != sha256Hex(data.data) {
				t.Error("wrong blob")
			}
			reqs := hub.cdnRequests()
			if len(reqs) != len(tc.wantRanges) {
				t.Fatalf("CDN requests %+v, want ranges %q", reqs, tc.wantRanges)
			}
			for i, r := range reqs {
				if r.Range != tc.wantRanges[i] {
					t.Errorf("request %d: Range %q, want %q", i, r.Range, tc.wantRanges[i])
				}
			}
		})
	}
}

// A file listing that stalls fails the pull with a StallError.
func TestPullTreeStall(t *testing.T) {
	hub := newFakeHub(t)
	hub.addRepo("test/one", false, map[string]fakeFile{"model-f32.gguf": fixtureFile(t, "stories260K-f32.gguf")})
	hub.treeStall = true
	s := newTestStore(t)
	done := make(chan error, 1)
	go func() {
		_, err := s.Pull(context.Background(), "hf.co/test/one", PullOptions{Hub: hub.client(""), IdleTimeout: 100 * time.Millisecond})
		done <- err
	}()
	select {
	case err := <-done:
		var se *StallError
		if !errors.As(err, &se) || !strings.Contains(err.Error(), "list files of test/one: the server sent no data for 100ms") {
			t.Errorf("error %v, want a StallError of the listing", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("pull hangs on a stalled listing")
	}
}

// TestPullChecksumMismatch serves corrupted data: the pull fails, the data is
// deleted, and the next pull downloads the file afresh.
func TestPullChecksumMismatch(t *testing.T) {
	data := fixtureFile(t, "stories260K-Q4_K_M.gguf")
	hub := newFakeHub(t)
	hub.addRepo("test/one", false, map[string]fakeFile{"model-Q4_K_M.gguf": data})
	hub.corrupt = true
	s := newTestStore(t)
	_, err := s.Pull(context.Background(), "hf.co/test/one:Q4_K_M", PullOptions{Hub: hub.client("")})
	var ce *ChecksumError
	if !errors.As(err, &ce) {
		t.Fatalf("error %v, want a *ChecksumError", err)
	}
	sha := sha256Hex(data.data)
	if ce.Want != "sha256:"+sha || ce.Got == ce.Want {
		t.Errorf("checksum error want %s got %s", ce.Want, ce.Got)
	}
	// The rejected data is deleted, not left where list and rm cannot see it.
	if left := blobsLeft(t, s); len(left) != 0 {
		t.Errorf("left in the store after the mismatch: %v", left)
	}
	if _, err := os.Stat(s.BlobPath(sha)); err == nil {
		t.Fatal("corrupt data was stored as the blob")
	}
	if _, err := ResolveModel(context.Background(), "test/one:Q4_K_M", ResolveOptions{Store: s}); err == nil {
		t.Fatal("the corrupt model resolves")
	}
	hub.corrupt = false
	m, err := s.Pull(context.Background(), "hf.co/test/one:Q4_K_M", PullOptions{Hub: hub.client("")})
	if err != nil {
		t.Fatal(err)
	}
	reqs := hub.cdnRequests()
	if last := reqs[len(reqs)-1]; last.Range != "" {
		t.Errorf("the pull after a mismatch resumed with Range %q, want a full download", last.Range)
	}
	got, _ := os.ReadFile(s.BlobPath(m.SHA256))
	if !bytes.Equal(got, data.data) {
		t.Error("blob differs from the file")
	}
}

// TestPullNonLFS pulls a small file stored in git, verified by its git SHA-1.
func TestPullNonLFS(t *testing.T) {
	data := fixtureFile(t, "stories260K-h192-Q4_0.gguf")
	data.lfs = false
	hub := newFakeHub(t)
	hub.addRepo("test/git", false, map[string]fakeFile{"model.gguf": data})
	s := newTestStore(t)
	m, err := s.Pull(context.Background(), "hf.co/test/git", PullOptions{Hub: hub.client("")})
	if err != nil {
		t.Fatal(err)
	}
	if m.SHA256 != sha256Hex(data.data) {
		t.Errorf("sha256 %s, want %s", m.SHA256, sha256Hex(data.data))
	}
	if n := len(hub.cdnRequests()); n != 0 {
		t.Errorf("%d CDN requests for a file served by the hub itself", n)
	}
}

// splitGGUF splits a GGUF file into n parts as llama.cpp's gguf-split does:
// every part a GGUF file with split.no, split.count and split.tensors.count,
// the first holding all the metadata.
func splitGGUF(t *testing.T, src string, n int) [][]byte {
	t.Helper()
	f, err := gguf.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	per := (len(f.Tensors) + n - 1) / n
	var parts [][]byte
	for i := 0; i < n; i++ {
		w := gguf.NewWriter(f.Alignment)
		must := func(err error) {
			if err != nil {
				t.Fatal(err)
			}
		}
		if i == 0 {
			for _, kv := range f.KV {
				if kv.Key != gguf.AlignmentKey {
					must(w.AddKVTyped(kv))
				}
			}
		}
		must(w.AddKV(SplitNoKey, uint16(i)))
		must(w.AddKV(SplitCountKey, uint16(n)))
		must(w.AddKV(SplitTensorsCountKey, int32(len(f.Tensors))))
		for j := i * per; j < min((i+1)*per, len(f.Tensors)); j++ {
			ti := &f.Tensors[j]
			d, err := f.TensorData(ti)
			must(err)
			must(w.AddTensor(ti.Name, ti.Type, ti.Dims, d))
		}
		var b bytes.Buffer
		_, err := w.WriteTo(&b)
		must(err)
		parts = append(parts, b.Bytes())
	}
	return parts
}

func TestPullMultiPart(t *testing.T) {
	src := fixtureFile(t, "stories260K-f32.gguf")
	srcPath := filepath.Join(t.TempDir(), "src.gguf")
	if err := os.WriteFile(srcPath, src.data, 0o644); err != nil {
		t.Fatal(err)
	}
	parts := splitGGUF(t, srcPath, 3)
	files := map[string]fakeFile{"README.md": {data: []byte("split\n")}}
	for i, p := range parts {
		files[filepath.ToSlash(filepath.Join("Q8", "stories-f32-0000"+string(rune('1'+i))+"-of-00003.gguf"))] = fakeFile{data: p, lfs: true}
	}
	hub := newFakeHub(t)
	hub.addRepo("test/split", false, files)
	s := newTestStore(t)
	m, err := s.Pull(context.Background(), "hf.co/test/split:F32", PullOptions{Hub: hub.client("")})
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Files) != 3 || m.Files[2].Path != "Q8/stories-f32-00003-of-00003.gguf" || m.Files[1].SHA256 != sha256Hex(parts[1]) {
		t.Errorf("manifest files %+v", m.Files)
	}
	merged, err := os.ReadFile(s.BlobPath(m.SHA256))
	if err != nil {
		t.Fatal(err)
	}
	// The merge of a split of a llama.cpp file is that file, byte for byte.
	if !bytes.Equal(merged, src.data) {
		t.Errorf("merged file (%d bytes) differs from the original (%d bytes)", len(merged), len(src.data))
	}
	if m.Size != int64(len(merged)) || m.SHA256 != sha256Hex(merged) {
		t.Errorf("manifest size %d sha %s, want %d %s", m.Size, m.SHA256, len(merged), sha256Hex(merged))
	}
	// The parts were removed once merged.
	for _, p := range parts {
		if _, err := os.Stat(s.BlobPath(sha256Hex(p))); err == nil {
			t.Error("a part blob is left in the store")
		}
	}
	if left := blobsLeft(t, s); len(left) != 0 {
		t.Errorf("left in the store: %v", left)
	}
	// Pulling again downloads nothing.
	before := len(hub.cdnRequests())
	if _, err := s.Pull(context.Background(), "hf.co/test/split:F32", PullOptions{Hub: hub.client("")}); err != nil {
		t.Fatal(err)
	}
	if n := len(hub.cdnRequests()) - before; n != 0 {
		t.Errorf("second pull made %d CDN requests", n)
	}
}

func TestMergeSplitErrors(t *testing.T) {
	src := fixtureFile(t, "stories260K-f32.gguf")
	dir := t.TempDir()
	srcPath := filepath.Join(dir, "src.gguf")
	if err := os.WriteFile(srcPath, src.data, 0o644); err != nil {
		t.Fatal(err)
	}
	parts := splitGGUF(t, srcPath, 3)
	paths := make([]string, 3)
	for i, p := range parts {
		paths[i] = filepath.Join(dir, "part"+string(rune('1'+i)))
		if err := os.WriteFile(paths[i], p, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name  string
		parts []string
		want  string
	}{
		{"missing part", paths[:2], "says it is part 1 of 3, expected part 1 of 2"},
		{"out of order", []string{paths[0], paths[2], paths[1]}, "says it is part 3 of 3, expected part 2 of 3"},
		{"not split", []string{srcPath}, "lacks the split.no"},
		{"no parts", nil, "no parts"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := MergeSplit(&bytes.Buffer{}, tt.parts)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

// TestConcurrentPulls pulls the same model from several goroutines at once:
// the file is downloaded once and every pull gets the same verified model.
func TestConcurrentPulls(t *testing.T) {
	data := fixtureFile(t, "random-llama-d256-Q4_K_M.gguf")
	hub := newFakeHub(t)
	hub.addRepo("test/one", false, map[string]fakeFile{"model-Q4_K_M.gguf": data})
	hub.delay = 100 * time.Millisecond
	s := newTestStore(t)
	const n = 4
	var wg sync.WaitGroup
	errs := make([]error, n)
	shas := make([]string, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Separate Store values, as separate processes would have.
			m, err := (&Store{Root: s.Root}).Pull(context.Background(), "hf.co/test/one:Q4_K_M", PullOptions{Hub: hub.client("")})
			errs[i] = err
			if m != nil {
				shas[i] = m.SHA256
			}
		}()
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil || shas[i] != sha256Hex(data.data) {
			t.Errorf("pull %d: sha %s, err %v", i, shas[i], errs[i])
		}
	}
	if reqs := hub.cdnRequests(); len(reqs) != 1 {
		t.Errorf("%d CDN downloads, want 1", len(reqs))
	}
	got, _ := os.ReadFile(s.BlobPath(sha256Hex(data.data)))
	if !bytes.Equal(got, data.data) {
		t.Error("blob differs from the file")
	}
	if left := blobsLeft(t, s); len(left) != 0 {
		t.Errorf("left in the store: %v", left)
	}
}

// TestConcurrentBlobDifferentNames pulls one file under two names at once:
// the blob lock makes them share one download.
func TestConcurrentBlobDifferentNames(t *testing.T) {
	data := fixtureFile(t, "stories260K-Q4_K_M.gguf")
	hub := newFakeHub(t)
	hub.addRepo("test/one", false, map[string]fakeFile{"model-Q4_K_M.gguf": data})
	hub.delay = 100 * time.Millisecond
	s := newTestStore(t)
	refs := []string{"hf.co/test/one:Q4_K_M", "hf.co/test/one/model-Q4_K_M.gguf", "hf.co/test/one"}
	var wg sync.WaitGroup
	errs := make([]error, len(refs))
	for i, ref := range refs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = s.Pull(context.Background(), ref, PullOptions{Hub: hub.client("")})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("pull %s: %v", refs[i], err)
		}
	}
	if reqs := hub.cdnRequests(); len(reqs) != 1 {
		t.Errorf("%d CDN downloads, want 1", len(reqs))
	}
	if ms, _ := s.List(); len(ms) != 3 {
		t.Errorf("%d models in the store, want 3", len(ms))
	}
}

func TestPullCancelled(t *testing.T) {
	data := fixtureFile(t, "stories260K-Q4_K_M.gguf")
	hub := newFakeHub(t)
	hub.addRepo("test/one", false, map[string]fakeFile{"model-Q4_K_M.gguf": data})
	s := newTestStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Pull(ctx, "hf.co/test/one", PullOptions{Hub: hub.client("")}); !errors.Is(err, context.Canceled) {
		t.Errorf("error %v, want context.Canceled", err)
	}
}

func TestTreePagination(t *testing.T) {
	files := storiesRepo(t)
	hub := newFakeHub(t)
	hub.addRepo("test/stories", false, files)
	hub.pageSize = 2
	entries, err := hub.client("").Tree(context.Background(), "test/stories", "")
	if err != nil {
		t.Fatal(err)
	}
	nfiles := 0
	for _, e := range entries {
		if e.Type == "file" {
			nfiles++
		}
	}
	// 5 files and the quants/ folder, on 3 pages.
	if nfiles != len(files) || len(entries) != len(files)+1 {
		t.Errorf("%d entries (%d files), want %d files and a folder", len(entries), nfiles, len(files))
	}
	if n := len(hub.hubRequests()); n != 3 {
		t.Errorf("%d listing requests, want 3 pages", n)
	}
	if _, err := hub.client("").Tree(context.Background(), "test/stories", "nope"); err == nil || !strings.Contains(err.Error(), "revision not found") {
		t.Errorf("unknown revision: error %v", err)
	}
}

func TestResolveModel(t *testing.T) {
	files := storiesRepo(t)
	hub := newFakeHub(t)
	hub.addRepo("test/stories", false, files)
	s := newTestStore(t)
	local := filepath.Join(t.TempDir(), "local.gguf")
	if err := os.WriteFile(local, files["stories260K-f32.gguf"].data, 0o644); err != nil {
		t.Fatal(err)
	}
	opts := ResolveOptions{Store: s, Pull: PullOptions{Hub: hub.client("")}}
	ctx := context.Background()
	// An hf.co reference is pulled first.
	p, err := ResolveModel(ctx, "hf.co/test/stories:Q4_K_M", opts)
	if err != nil {
		t.Fatal(err)
	}
	want := s.BlobPath(sha256Hex(files["stories260K-Q4_K_M.gguf"].data))
	if p != want {
		t.Errorf("hf.co reference resolved to %s, want %s", p, want)
	}
	cdn := len(hub.cdnRequests())
	hubReqs := len(hub.hubRequests())
	tests := []struct {
		name, want, err string
	}{
		{local, local, ""},
		{"hf.co/test/stories:Q4_K_M", want, ""},
		{"test/stories:Q4_K_M", want, ""},
		{"test/stories:q4_k_m", want, ""},
		{"TEST/Stories:Q4_K_M", want, ""},
		{"test/stories", want, ""}, // the repository's only model in the store
		{"test/other:Q4_K_M", "", "glassbox pull hf.co/test/other:Q4_K_M"},
		{"missing.gguf", "", `no file named missing.gguf, and model "missing.gguf" is not in the store`},
		{"nosuch", "", `no file named nosuch, and model "nosuch" is not in the store (its names look like hf.co/OWNER/REPO:TAG: glassbox list shows them`},
		{"stories", "", "did you mean hf.co/test/stories:Q4_K_M?"},
		{t.TempDir(), "", "is a folder"},
		{"", "", "no model given"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := ResolveModel(ctx, tt.name, opts)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Errorf("error %v, want one containing %q", err, tt.err)
				}
				return
			}
			if err != nil || p != tt.want {
				t.Errorf("got %s, %v; want %s", p, err, tt.want)
			}
		})
	}
	if len(hub.cdnRequests()) != cdn || len(hub.hubRequests()) != hubReqs {
		t.Error("resolving models already in the store used the network")
	}
}

func TestRemove(t *testing.T) {
	files := storiesRepo(t)
	hub := newFakeHub(t)
	hub.addRepo("test/stories", false, files)
	s := newTestStore(t)
	ctx := context.Background()
	for _, ref := range []string{"hf.co/test/stories:Q4_K_M", "hf.co/test/stories:F32", "hf.co/test/stories/stories260K-f32.gguf"} {
		if _, err := s.Pull(ctx, ref, PullOptions{Hub: hub.client("")}); err != nil {
			t.Fatal(err)
		}
	}
	f32 := s.BlobPath(sha256Hex(files["stories260K-f32.gguf"].data))
	q4 := s.BlobPath(sha256Hex(files["stories260K-Q4_K_M.gguf"].data))
	steps := []struct {
		name    string
		present []string
		gone    []string
		models  int
	}{
		{"test/stories:F32", []string{f32, q4}, nil, 2}, // the blob is still used
		{"hf.co/test/stories:stories260K-f32", []string{q4}, []string{f32}, 1},
		{"test/stories", nil, []string{q4}, 0},
	}
	for _, st := range steps {
		if _, err := s.Remove(st.name); err != nil {
			t.Fatalf("rm %s: %v", st.name, err)
		}
		for _, p := range st.present {
			if _, err := os.Stat(p); err != nil {
				t.Errorf("after rm %s: %v", st.name, err)
			}
		}
		for _, p := range st.gone {
			if _, err := os.Stat(p); err == nil {
				t.Errorf("after rm %s: %s is still there", st.name, p)
			}
		}
		if ms, _ := s.List(); len(ms) != st.models {
			t.Errorf("after rm %s: %d models, want %d", st.name, len(ms), st.models)
		}
	}
	if _, err := s.Remove("test/stories:F32"); !errors.Is(err, ErrModelNotFound) {
		t.Errorf("rm of a removed model: %v", err)
	}
	if ents, _ := os.ReadDir(s.manifestDir()); len(ents) != 0 {
		t.Errorf("empty manifest folders left: %v", ents)
	}
}

func BenchmarkPull(b *testing.B) {
	data := bytes.Repeat([]byte("glassbox"), 1<<20) // 8 MiB
	hub := newFakeHub(b)
	hub.addRepo("bench/one", false, map[string]fakeFile{"m.gguf": {data: data, lfs: true}})
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		b.StopTimer()
		s, err := Open(b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		// The file is not a GGUF: the pull fails after the download is verified.
		_, err = s.Pull(context.Background(), "hf.co/bench/one", PullOptions{Hub: hub.client("")})
		if err == nil || !strings.Contains(err.Error(), "not a usable GGUF") {
			b.Fatal(err)
		}
	}
}
