package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"glassbox/internal/fixtures"
	"glassbox/models"
)

// fakeHubServer serves one repository, test/stories, holding one LFS file, with
// the hub's tree listing and resolve routes.
func fakeHubServer(t *testing.T, file string, data []byte) *httptest.Server {
	t.Helper()
	sum := sha256.Sum256(data)
	sha := hex.EncodeToString(sum[:])
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/models/test/stories/tree/main", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `[{"type":"file","oid":"%s","size":%d,"path":%q,"lfs":{"oid":"%s","size":%d,"pointerSize":134}}]`,
			strings.Repeat("a", 40), len(data), file, sha, len(data))
	})
	mux.HandleFunc("/test/stories/resolve/main/"+file, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Linked-Etag", `"`+sha+`"`)
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(data))
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func TestStoreCommands(t *testing.T) {
	data, err := os.ReadFile(fixtures.Path(t, "gguf", "stories260K-Q4_K_M.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	srv := fakeHubServer(t, "stories260K-Q4_K_M.gguf", data)
	t.Setenv("GLASSBOX_HOME", t.TempDir())
	t.Setenv("HF_ENDPOINT", srv.URL)
	t.Setenv("HF_TOKEN", "")

	out, stderr, err := execute(t, newPullCmd(), "", "hf.co/test/stories:Q4_K_M")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out, "pulled hf.co/test/stories:Q4_K_M (297 KiB, sha256:") || stderr != "" {
		t.Errorf("pull stdout %q stderr %q (no progress bar when stderr is not a terminal)", out, stderr)
	}

	out, _, err = execute(t, newListCmd(), "")
	if err != nil {
		t.Fatal(err)
	}
	// the header, the embedded models, then the store's
	lines := strings.Split(strings.TrimSpace(out), "\n")
	nEmbedded := len(models.Embedded())
	if len(lines) != 2+nEmbedded || !strings.HasPrefix(lines[0], "NAME") || strings.Contains(out, "is empty") {
		t.Fatalf("list output %q", out)
	}
	for _, w := range []string{"hf.co/test/stories:Q4_K_M", "297 KiB", "Q4_K_M", "llama"} {
		if !strings.Contains(lines[1+nEmbedded], w) {
			t.Errorf("list row %q lacks %q", lines[1+nEmbedded], w)
		}
	}

	out, _, err = execute(t, newListCmd(), "", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var rows []listEntry
	if err := json.Unmarshal([]byte(out), &rows); err != nil || len(rows) != 1+nEmbedded || rows[nEmbedded].Embedded || rows[nEmbedded].Pulled == nil {
		t.Fatalf("list --json: %v, %q", err, out)
	}
	rows = rows[nEmbedded:]
	// Parameters: the element count of every tensor of the file.
	if rows[0].Size != int64(len(data)) || rows[0].Parameters == 0 || rows[0].Architecture != "llama" {
		t.Errorf("list --json row %+v", rows[0])
	}

	for _, name := range []string{"test/stories:Q4_K_M", rows[0].Path} {
		out, _, err = execute(t, newShowCmd(), "", name)
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range []string{"architecture      llama", "quantization      Q4_K_M", "context length", "layers            5"} {
			if !strings.Contains(out, w) {
				t.Errorf("show %s output lacks %q:\n%s", name, w, out)
			}
		}
	}

	if _, _, err = execute(t, newShowCmd(), "", "test/nothing"); err == nil || !strings.Contains(err.Error(), "glassbox pull hf.co/test/nothing") {
		t.Errorf("show of an unknown model: %v", err)
	}

	out, _, err = execute(t, newRmCmd(), "", "test/stories:Q4_K_M")
	if err != nil || out != "deleted hf.co/test/stories:Q4_K_M\n" {
		t.Fatalf("rm: %q, %v", out, err)
	}
	out, _, err = execute(t, newListCmd(), "")
	if err != nil || !strings.Contains(out, "is empty") {
		t.Errorf("list after rm: %q, %v", out, err)
	}
	if _, _, err = execute(t, newRmCmd(), "", "test/stories:Q4_K_M"); err == nil {
		t.Error("rm of a removed model succeeded")
	}
}
