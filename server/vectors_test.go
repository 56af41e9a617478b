package server

import (
	"encoding/json"
	"math"
	"net/http"
	"strings"
	"testing"

	"glassbox/internal/fixtures"
	"glassbox/vectors"
)

// frenchVectors are four words whose answers are known: roi − homme + femme
// lands on reine; roi's neighbours are homme (cos 0.707), reine (0.5), femme
// (0) and été (−0.707).
func frenchVectors(t testing.TB) *vectors.Vectors {
	t.Helper()
	v, err := vectors.New([]string{"roi", "reine", "homme", "femme", "été"}, 3,
		[]float32{1, 0, 1, 0, 1, 1, 1, 0, 0, 0, 1, 0, 0, 0, -1})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func vectorsServer(t *testing.T, mod func(*Config)) string {
	t.Helper()
	_, url := stdServer(t, func(c *Config) {
		c.Vectors = []VectorSet{{Name: "fr", Vectors: frenchVectors(t)}}
		if mod != nil {
			mod(c)
		}
	})
	return url
}

// TestVectorsEndpoints: neighbours, analogies (both methods) and projections
// of a word-vector set and of a model's token embeddings.
func TestVectorsEndpoints(t *testing.T) {
	url := vectorsServer(t, nil)
	type answer struct {
		Source    string             `json:"source"`
		Kind      string             `json:"kind"`
		Words     []string           `json:"words"`
		Method    string             `json:"method"`
		Neighbors []vectors.Neighbor `json:"neighbors"`
	}
	for _, tt := range []struct {
		name, path, body string
		source, kind     string
		words            []string
		want             []vectors.Neighbor // nil: only checked for order and count
		count            int
	}{
		{"similar", "/glassbox/vectors/similar", `{"word":"roi"}`, "fr", "vectors", []string{"roi"},
			[]vectors.Neighbor{{Word: "homme", Cosine: math.Sqrt2 / 2}, {Word: "reine", Cosine: 0.5}, {Word: "femme", Cosine: 0}, {Word: "été", Cosine: -math.Sqrt2 / 2}}, 4},
		{"similar n restrict", "/glassbox/vectors/similar", `{"vectors":"fr","word":"roi","n":1,"restrict":2}`, "fr", "vectors", []string{"roi"},
			[]vectors.Neighbor{{Word: "reine", Cosine: 0.5}}, 1},
		{"analogy", "/glassbox/vectors/analogy", `{"a":"homme","b":"roi","c":"femme","n":1}`, "fr", "vectors", []string{"homme", "roi", "femme"},
			[]vectors.Neighbor{{Word: "reine"}}, 1},
		{"analogy mul", "/glassbox/vectors/analogy", `{"a":"homme","b":"roi","c":"femme","n":2,"method":"3CosMul"}`, "fr", "vectors", []string{"homme", "roi", "femme"},
			[]vectors.Neighbor{{Word: "reine"}, {Word: "été"}}, 2},
		{"model similar", "/glassbox/vectors/similar", `{"model":"stories","word":"he","n":5}`, "stories", "model", []string{"▁he"}, nil, 5},
		{"model marker", "/glassbox/vectors/similar", `{"model":"stories","word":"she","n":3}`, "stories", "model", []string{"▁she"}, nil, 3},
		{"model analogy", "/glassbox/vectors/analogy", `{"model":"chat","a":"he","b":"she","c":"his"}`, "chat", "model", []string{"▁he", "▁she", "▁his"}, nil, 10},
	} {
		t.Run(tt.name, func(t *testing.T) {
			status, _, b := post(t, url+tt.path, tt.body, nil)
			if status != http.StatusOK {
				t.Fatalf("status %d: %s", status, b)
			}
			var a answer
			if err := json.Unmarshal(b, &a); err != nil {
				t.Fatal(err)
			}
			if a.Source != tt.source || a.Kind != tt.kind || strings.Join(a.Words, "|") != strings.Join(tt.words, "|") || len(a.Neighbors) != tt.count {
				t.Fatalf("answer %+v, want source %s (%s), words %q, %d neighbours", a, tt.source, tt.kind, tt.words, tt.count)
			}
			for i, nb := range a.Neighbors {
				if i > 0 && nb.Cosine > a.Neighbors[i-1].Cosine {
					t.Errorf("neighbours not best first: %+v", a.Neighbors)
				}
				if tt.want == nil {
					continue
				}
				if nb.Word != tt.want[i].Word || (tt.name == "similar" || tt.name == "similar n restrict") && math.Abs(nb.Cosine-tt.want[i].Cosine) > 1e-6 {
					t.Errorf("neighbour %d = %+v, want %+v", i, nb, tt.want[i])
				}
			}
		})
	}

	// a model's neighbours are the cosines of its token embedding table
	m := openModel(t, fixtures.Path(t, "gguf", "stories260K-f32.gguf"), 0)
	emb, err := m.TokenEmbeddings()
	if err != nil {
		t.Fatal(err)
	}
	want, _ := emb.Similar(vectors.Query{Positive: []string{"▁he"}, N: 3})
	_, _, b := post(t, url+"/glassbox/vectors/similar", `{"model":"stories","word":"he","n":3}`, nil)
	var a answer
	json.Unmarshal(b, &a)
	for i := range want {
		if a.Neighbors[i].Word != want[i].Word || math.Abs(a.Neighbors[i].Cosine-want[i].Cosine) > 1e-12 {
			t.Errorf("served neighbour %d = %+v, the SDK's %+v", i, a.Neighbors[i], want[i])
		}
	}

	// projection: two words on a line, PC1 holds all the variance
	status, _, b := post(t, url+"/glassbox/vectors/project", `{"words":["roi","reine","été"]}`, nil)
	if status != http.StatusOK {
		t.Fatalf("project: %d %s", status, b)
	}
	var p struct {
		Source string `json:"source"`
		vectors.Projection
	}
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatal(err)
	}
	direct, _ := frenchVectors(t).PCA([]string{"roi", "reine", "été"})
	if p.Source != "fr" || p.Method != "pca" || len(p.Points) != 3 || p.Explained != direct.Explained {
		t.Fatalf("projection %+v, want %+v", p, direct)
	}
	for i, pt := range p.Points {
		if pt != direct.Points[i] {
			t.Errorf("point %d = %+v, want %+v", i, pt, direct.Points[i])
		}
	}
	status, _, b = post(t, url+"/glassbox/vectors/project", `{"model":"stories","words":["he","she","day","was"]}`, nil)
	if status != http.StatusOK || !strings.Contains(string(b), `"word":"▁she"`) {
		t.Errorf("model projection: %d %s", status, b)
	}

	status, _, b = post(t, url+"/glassbox/vectors/project", `{"words":["roi","reine","homme","femme","été"],"method":"tsne","perplexity":1.2}`, nil)
	if status != http.StatusOK || !strings.Contains(string(b), `"method":"tsne"`) || strings.Count(string(b), `"word"`) != 5 {
		t.Errorf("t-SNE projection: %d %s", status, b)
	}

	// the list: the sets, then the models
	resp, err := http.Get(url + "/glassbox/vectors")
	if err != nil {
		t.Fatal(err)
	}
	var list struct {
		Data []vectorSetInfo `json:"data"`
	}
	json.NewDecoder(resp.Body).Decode(&list)
	resp.Body.Close()
	if len(list.Data) != 4 || list.Data[0] != (vectorSetInfo{"fr", "vectors", 3, 5}) || list.Data[2] != (vectorSetInfo{"stories", "model", 64, 512}) {
		t.Errorf("list %+v", list.Data)
	}
}

// TestVectorsErrors: each bad request is answered with the status, the field
// and a message saying what was expected.
func TestVectorsErrors(t *testing.T) {
	url := vectorsServer(t, func(c *Config) { c.APIKey = "k" })
	key := map[string]string{"Authorization": "Bearer k"}
	for _, tt := range []struct {
		name, path, body string
		header           map[string]string
		status           int
		param, want      string
	}{
		{"no word", "similar", `{}`, key, 400, "word", "'word' is required"},
		{"unknown word", "similar", `{"word":"reina"}`, key, 400, "word", `"reina" is not in the vocabulary of fr`},
		{"unknown token", "similar", `{"model":"stories","word":"zzqq"}`, key, 400, "word", `"zzqq" is not a token of model stories`},
		{"n zero", "similar", `{"word":"roi","n":0}`, key, 400, "n", "between 1 and 100, got 0"},
		{"n big", "analogy", `{"a":"roi","b":"reine","c":"homme","n":101}`, key, 400, "n", "got 101"},
		{"n type", "similar", `{"word":"roi","n":"5"}`, key, 400, "n", "expected an integer"},
		{"restrict", "similar", `{"word":"roi","restrict":-1}`, key, 400, "restrict", "got -1"},
		{"both", "similar", `{"vectors":"fr","model":"chat","word":"roi"}`, key, 400, "vectors", "not both"},
		{"no set", "similar", `{"vectors":"en","word":"roi"}`, key, 404, "vectors", `"en" does not exist: this server has fr`},
		{"no model", "similar", `{"model":"gpt","word":"roi"}`, key, 404, "model", `"gpt" does not exist`},
		{"analogy missing", "analogy", `{"a":"roi","b":"reine"}`, key, 400, "c", "'c' is required"},
		{"analogy unknown", "analogy", `{"a":"roi","b":"rey","c":"homme"}`, key, 400, "b", `"rey"`},
		{"analogy method", "analogy", `{"a":"roi","b":"reine","c":"homme","method":"cos"}`, key, 400, "method", `expected "3cosadd" or "3cosmul"`},
		{"project one", "project", `{"words":["roi"]}`, key, 400, "words", "expected 2 to 500 words, got 1"},
		{"project unknown", "project", `{"words":["roi","x"]}`, key, 400, "words[1]", `"x" is not in the vocabulary`},
		{"project same", "project", `{"words":["roi","roi"]}`, key, 400, "words", "at least two distinct words"},
		{"project method", "project", `{"words":["roi","reine"],"method":"umap"}`, key, 400, "method", `expected "pca" or "tsne"`},
		{"perplexity pca", "project", `{"words":["roi","reine"],"perplexity":5}`, key, 400, "perplexity", `"tsne" only`},
		{"perplexity range", "project", `{"words":["roi","reine"],"method":"tsne","perplexity":0}`, key, 400, "perplexity", "between 1 and 100, got 0"},
		{"not json", "similar", `{"word":`, key, 400, "", "not valid JSON"},
		{"no key", "similar", `{"word":"roi"}`, nil, 401, "", "API key"},
		{"content type", "similar", `{"word":"roi"}`, map[string]string{"Authorization": "Bearer k", "Content-Type": "text/plain"}, 415, "", "Content-Type: application/json"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			status, _, b := post(t, url+"/glassbox/vectors/"+tt.path, tt.body, tt.header)
			if status != tt.status {
				t.Fatalf("status %d, want %d: %s", status, tt.status, b)
			}
			e := decodeError(t, b)
			if (e.Param == nil && tt.param != "") || (e.Param != nil && *e.Param != tt.param) || !strings.Contains(e.Message, tt.want) {
				t.Errorf("error %+v (param %v), want param %q and a message with %q", e, e.Param, tt.param, tt.want)
			}
		})
	}
	// GET on a POST route: 405
	req, _ := http.NewRequest(http.MethodGet, url+"/glassbox/vectors/similar", nil)
	req.Header.Set("Authorization", "Bearer k")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET similar: %d, want 405", resp.StatusCode)
	}
}

// TestVectorsConfig: unnamed and duplicate vector sets are refused.
func TestVectorsConfig(t *testing.T) {
	m := openModel(t, fixtures.Path(t, "gguf", "stories260K-f32.gguf"), 0)
	v := frenchVectors(t)
	for _, tt := range []struct {
		sets []VectorSet
		want string
	}{
		{[]VectorSet{{Name: "", Vectors: v}}, "needs a name"},
		{[]VectorSet{{Name: "a"}}, "needs a name and its vectors"},
		{[]VectorSet{{Name: "a", Vectors: v}, {Name: "a", Vectors: v}}, `two vector sets are named "a"`},
	} {
		_, err := New(Config{Models: []Model{{Name: "m", Model: m}}, Vectors: tt.sets})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("err = %v, want %q", err, tt.want)
		}
	}
}
