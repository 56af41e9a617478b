package server

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"glassbox/eval"
	"glassbox/feedback"
	"glassbox/internal/fixtures"
)

func feedbackServer(t *testing.T) (string, *feedback.Log) {
	t.Helper()
	log, err := feedback.Open(filepath.Join(t.TempDir(), "feedback.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	_, url := stdServer(t, func(c *Config) { c.Feedback = log })
	return url, log
}

// TestFeedbackEndpoints: records posted come back from GET and are in the
// file; bad records get 400 naming the field.
func TestFeedbackEndpoints(t *testing.T) {
	url, log := feedbackServer(t)
	status, _, body := post(t, url+"/glassbox/feedback", `{"prompt":"Once upon a time","completion":" a cat","label":true,"model":"stories","sampling":{"temperature":0.8,"top_k":40,"top_p":0.95,"min_p":0.05,"max_tokens":16,"seed":42},"source":"web"}`, nil)
	if status != http.StatusCreated {
		t.Fatalf("status %d: %s", status, body)
	}
	var rec feedback.Record
	if err := json.Unmarshal(body, &rec); err != nil || rec.ID == "" || rec.Kind != feedback.KindThumbs || rec.Time.IsZero() || rec.Source != "web" {
		t.Fatalf("answer %s (%v)", body, err)
	}
	status, _, body = post(t, url+"/glassbox/feedback", `{"prompt":"p","completions":["A","B"],"choice":"b","seeds":[7,8]}`, nil)
	if status != http.StatusCreated {
		t.Fatalf("status %d: %s", status, body)
	}
	for _, tt := range []struct{ body, param, msg string }{
		{`{"prompt":"p","completion":"x"}`, "label", `field "label": missing`},
		{`{"prompt":"p","completions":["A","B"],"choice":"c"}`, "choice", `field "choice"`},
		{`{"prompt":5,"chosen":"a","rejected":"b"}`, "prompt", `field "prompt"`},
		{`[1]`, "", "not a JSON object"},
		{``, "", "the request body is empty"},
	} {
		status, _, body := post(t, url+"/glassbox/feedback", tt.body, nil)
		e := decodeError(t, body)
		if status != http.StatusBadRequest || !strings.Contains(e.Message, tt.msg) || tt.param != "" && (e.Param == nil || *e.Param != tt.param) {
			t.Errorf("%s: status %d, %+v", tt.body, status, e)
		}
	}
	resp, err := http.Get(url + "/glassbox/feedback")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var list feedbackList
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		t.Fatal(err)
	}
	if list.Total != 2 || len(list.Data) != 2 || list.Data[0].ID != rec.ID || list.Data[1].Chosen.Text != "B" || list.Data[1].Source != "api" {
		t.Fatalf("list %+v", list)
	}
	recs, bad, err := log.Read()
	if err != nil || len(bad) != 0 || len(recs) != 2 {
		t.Fatalf("file: %d records, %v, %v", len(recs), bad, err)
	}
	resp, err = http.Get(url + "/glassbox/feedback?limit=1")
	if err != nil {
		t.Fatal(err)
	}
	json.NewDecoder(resp.Body).Decode(&list)
	resp.Body.Close()
	if list.Total != 2 || len(list.Data) != 1 || list.Data[0].Kind != feedback.KindAB {
		t.Fatalf("limit 1: %+v", list)
	}
}

// TestFeedbackConcurrentClients: many clients posting at once lose no record.
func TestFeedbackConcurrentClients(t *testing.T) {
	url, log := feedbackServer(t)
	const clients, each = 16, 20
	var wg sync.WaitGroup
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				body := fmt.Sprintf(`{"prompt":"client %d","completion":"%d","label":%v}`, c, i, i%2 == 0)
				resp, err := http.Post(url+"/glassbox/feedback", "application/json", strings.NewReader(body))
				if err != nil {
					t.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusCreated {
					t.Errorf("status %d", resp.StatusCode)
				}
			}
		}()
	}
	wg.Wait()
	recs, bad, err := log.Read()
	if err != nil || len(bad) != 0 || len(recs) != clients*each {
		t.Fatalf("%d records of %d, bad %v, %v", len(recs), clients*each, bad, err)
	}
	seen := map[string]bool{}
	for _, r := range recs {
		seen[r.Prompt.Text+"/"+r.Completion.Text] = true
	}
	if len(seen) != clients*each {
		t.Errorf("%d distinct records of %d", len(seen), clients*each)
	}
}

func TestFeedbackDisabled(t *testing.T) {
	_, url := stdServer(t, nil)
	status, _, body := post(t, url+"/glassbox/feedback", `{"prompt":"p","chosen":"a","rejected":"b"}`, nil)
	if e := decodeError(t, body); status != http.StatusNotFound || !strings.Contains(e.Message, "keeps no feedback") {
		t.Errorf("status %d: %+v", status, e)
	}
}

// TestDiffEndpoint: two served models that share a tokenizer, compared.
func TestDiffEndpoint(t *testing.T) {
	_, url := testServer(t, Config{Models: []Model{
		{Name: "f32", Model: openModel(t, fixtures.Path(t, "gguf", "stories260K-h192-f32.gguf"), 0)},
		{Name: "q4", Model: openModel(t, fixtures.Path(t, "gguf", "stories260K-h192-Q4_0.gguf"), 0)},
		{Name: "big", Model: openModel(t, fixtures.Path(t, "gguf", "llama-2-tiny-random.gguf"), 0)},
	}})
	status, _, body := post(t, url+"/glassbox/diff", `{"base":"f32","tuned":"q4","prompt":"Once upon a time","max_tokens":12,"top":3}`, nil)
	if status != http.StatusOK {
		t.Fatalf("status %d: %s", status, body)
	}
	var res eval.DiffResult
	if err := json.Unmarshal(body, &res); err != nil {
		t.Fatal(err)
	}
	if res.Base != "f32" || res.Tuned != "q4" || res.Generator != "tuned" || len(res.Tokens) != 12 || res.MeanKL <= 0 || len(res.Tokens[0].TunedTop) != 3 {
		t.Fatalf("diff %+v", res)
	}
	status, _, body = post(t, url+"/glassbox/diff", `{"base":"f32","tuned":"f32","prompt":"Once upon a time","max_tokens":6}`, nil)
	json.Unmarshal(body, &res)
	if status != http.StatusOK || res.MeanKL != 0 || len(res.Highlighted) != 0 {
		t.Fatalf("self diff: status %d, mean KL %g", status, res.MeanKL)
	}
	for _, tt := range []struct{ body, param, msg string }{
		{`{"base":"f32","tuned":"big","prompt":"x"}`, "tuned", "must share a tokenizer"},
		{`{"base":"f32","tuned":"nope","prompt":"x"}`, "tuned", `the model "nope" does not exist`},
		{`{"tuned":"q4","prompt":"x"}`, "base", "'base' is required"},
		{`{"base":"f32","tuned":"q4"}`, "prompt", "'prompt' is required"},
		{`{"base":"f32","tuned":"q4","prompt":"x","max_tokens":0}`, "max_tokens", "between 1 and 512"},
		{`{"base":"f32","tuned":"q4","prompt":"x","generator":"both"}`, "generator", `expected "tuned" or "base"`},
		{`{"base":"f32","tuned":"q4","prompt":"x","temperature":9}`, "temperature", "between 0 and 2"},
	} {
		status, _, body := post(t, url+"/glassbox/diff", tt.body, nil)
		e := decodeError(t, body)
		if status/100 != 4 || !strings.Contains(e.Message, tt.msg) || e.Param == nil || *e.Param != tt.param {
			t.Errorf("%s: status %d, %+v", tt.body, status, e)
		}
	}
}
