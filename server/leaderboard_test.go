package server

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"glassbox/eval"
	"glassbox/internal/fixtures"
)

// boardRecords are a perplexity and a bench record of two models.
func boardRecords() []eval.Record {
	var out []eval.Record
	for i, m := range []struct {
		name    string
		ppl, tg float64
	}{{"a.gguf", 20, 10}, {"b.gguf", 15, 30}} {
		mf := eval.ModelFile{Name: m.name, SHA256: m.name}
		date := time.Date(2026, 1, 1, 0, i, 0, 0, time.UTC)
		out = append(out, eval.Record{ID: "p", Kind: "perplexity", Date: date, Model: mf,
			Settings: map[string]any{"file": "t.txt"}, Results: map[string]any{"perplexity": m.ppl, "ctx": 128.0}})
		b := eval.Record{ID: "b", Kind: eval.KindBench, Date: date, Model: mf}
		if err := b.SetSpeed(eval.Speed{GenTPS: m.tg}); err != nil {
			panic(err)
		}
		out = append(out, b)
	}
	return out
}

func TestLeaderboardEndpoint(t *testing.T) {
	m := openModel(t, fixtures.Path(t, "gguf", "stories260K-f32.gguf"), 0)
	fail := false
	_, url := testServer(t, Config{Models: []Model{{Name: "stories", Model: m}}, Leaderboard: func() (*eval.Leaderboard, error) {
		if fail {
			return nil, errors.New("eval: records.json is not an evaluation record")
		}
		return eval.NewLeaderboard(boardRecords(), eval.LeaderboardOptions{}), nil
	}})
	_, bare := testServer(t, Config{Models: []Model{{Name: "stories", Model: m}}})
	get := func(u string) (int, string) {
		t.Helper()
		resp, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, tt := range []struct {
		query  string
		status int
		order  string // models in order, or a part of the error
	}{
		{"", 200, "a.gguf,b.gguf"},
		{"?sort=tg", 200, "b.gguf,a.gguf"},
		{"?sort=tg&reverse=1", 200, "a.gguf,b.gguf"},
		{"?sort=ppl", 200, "b.gguf,a.gguf"},
		{"?sort=speed", 400, `no column \"speed\"`},
	} {
		status, body := get(url + "/glassbox/leaderboard" + tt.query)
		if status != tt.status {
			t.Errorf("%s: status %d, want %d: %s", tt.query, status, tt.status, body)
			continue
		}
		if status != 200 {
			if !strings.Contains(body, tt.order) {
				t.Errorf("%s: %s, want %q", tt.query, body, tt.order)
			}
			continue
		}
		var lb eval.Leaderboard
		if err := json.Unmarshal([]byte(body), &lb); err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, r := range lb.Rows {
			names = append(names, r.Model)
		}
		if got := strings.Join(names, ","); got != tt.order || len(lb.Scores) != 1 {
			t.Errorf("%s: %s (%d score columns), want %s", tt.query, got, len(lb.Scores), tt.order)
		}
	}
	if status, body := get(bare + "/glassbox/leaderboard"); status != 404 || !strings.Contains(body, "no leaderboard") {
		t.Errorf("server without records: %d %s", status, body)
	}
	fail = true
	if status, body := get(url + "/glassbox/leaderboard"); status != 500 || !strings.Contains(body, "not an evaluation record") {
		t.Errorf("unreadable records: %d %s", status, body)
	}
	// the page's script and style are served
	for _, p := range []string{"/leaderboard.js", "/leaderboard.css"} {
		if status, body := get(url + p); status != 200 || len(body) < 500 {
			t.Errorf("%s: %d, %d bytes", p, status, len(body))
		}
	}
}
