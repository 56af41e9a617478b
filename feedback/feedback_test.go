package feedback

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func ptr[T any](v T) *T { return &v }

func TestContentJSON(t *testing.T) {
	for _, tt := range []struct {
		in      string
		want    Content
		wantErr string
	}{
		{`"hello"`, Text("hello"), ""},
		{`""`, Text(""), ""},
		{`[{"role":"user","content":"hi"},{"role":"assistant","content":"yo"}]`, Content{Messages: []Message{{"user", "hi"}, {"assistant", "yo"}}}, ""},
		{`[]`, Content{Messages: []Message{}}, ""},
		{`42`, Content{}, "expected a string or a list"},
		{`{"role":"user"}`, Content{}, "expected a string or a list"},
		{`[{"content":"x"}]`, Content{}, `message 0: "role"`},
		{`[{"role":"user","content":3}]`, Content{}, `message 0: "content" must be a string`},
		{`["x"]`, Content{}, "message 0: expected an object"},
	} {
		var c Content
		err := json.Unmarshal([]byte(tt.in), &c)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%s: error %v, want %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tt.in, err)
			continue
		}
		if !c.Equal(tt.want) {
			t.Errorf("%s: got %+v, want %+v", tt.in, c, tt.want)
		}
		b, err := json.Marshal(c)
		if err != nil || string(b) != tt.in {
			t.Errorf("%s: marshals back as %s (%v)", tt.in, b, err)
		}
	}
}

func TestParseAndValidate(t *testing.T) {
	for _, tt := range []struct {
		name, line string
		wantKind   string
		wantField  string // "" means valid
	}{
		{"trl pair", `{"prompt":"p","chosen":"a","rejected":"b"}`, KindPair, ""},
		{"trl unpaired", `{"prompt":"p","completion":"a","label":false}`, KindThumbs, ""},
		{"conversational pair", `{"prompt":[{"role":"user","content":"hi"}],"chosen":[{"role":"assistant","content":"a"}],"rejected":[{"role":"assistant","content":"b"}]}`, KindPair, ""},
		{"ab pick", `{"prompt":"p","completions":["a","b"],"choice":"b","seeds":[1,2]}`, KindAB, ""},
		{"ab tie", `{"kind":"ab","prompt":"p","completions":["a","b"],"choice":"tie"}`, KindAB, ""},
		{"extra fields", `{"prompt":"p","chosen":"a","rejected":"b","score_chosen":9}`, KindPair, ""},
		{"no prompt", `{"chosen":"a","rejected":"b"}`, KindPair, "prompt"},
		{"empty prompt", `{"prompt":"","chosen":"a","rejected":"b"}`, KindPair, "prompt"},
		{"no rejected", `{"prompt":"p","chosen":"a"}`, KindPair, "rejected"},
		{"no label", `{"prompt":"p","completion":"a"}`, KindThumbs, "label"},
		{"label string", `{"prompt":"p","completion":"a","label":"yes"}`, "", "label"},
		{"prompt number", `{"prompt":3,"chosen":"a","rejected":"b"}`, "", "prompt"},
		{"nothing", `{"prompt":"p"}`, "", "kind"},
		{"bad kind", `{"kind":"vote","prompt":"p"}`, "vote", "kind"},
		{"ab one reply", `{"prompt":"p","completions":["a"],"choice":"a"}`, KindAB, "completions"},
		{"ab bad choice", `{"prompt":"p","completions":["a","b"],"choice":"c"}`, KindAB, "choice"},
		{"ab no choice", `{"kind":"ab","prompt":"p","completions":["a","b"]}`, KindAB, "choice"},
		{"ab wrong chosen", `{"prompt":"p","completions":["a","b"],"choice":"a","chosen":"b","rejected":"a"}`, KindAB, "chosen"},
		{"ab tie with winner", `{"prompt":"p","completions":["a","b"],"choice":"tie","chosen":"a"}`, KindAB, "chosen"},
		{"mixed shapes", `{"prompt":"p","chosen":"a","rejected":"b","label":true}`, KindPair, "kind"},
		{"bad temperature", `{"prompt":"p","completion":"a","label":true,"sampling":{"temperature":-1}}`, KindThumbs, "sampling.temperature"},
		{"bad time", `{"prompt":"p","completion":"a","label":true,"time":"yesterday"}`, "", "time"},
		{"empty messages", `{"prompt":"p","chosen":[],"rejected":"b"}`, KindPair, "chosen"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Parse([]byte(tt.line))
			if err == nil {
				err = r.Normalize()
			}
			if tt.wantField == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
			} else {
				var fe *FieldError
				if !errors.As(err, &fe) || fe.Field != tt.wantField {
					t.Fatalf("error %v, want one naming field %q", err, tt.wantField)
				}
			}
			if tt.wantKind != "" && r.Kind != tt.wantKind {
				t.Errorf("kind %q, want %q", r.Kind, tt.wantKind)
			}
		})
	}
}

// TestNormalizeAB: an A/B pick gets chosen and rejected, so it is also a
// TRL pair.
func TestNormalizeAB(t *testing.T) {
	r := Record{Prompt: Text("p"), Completions: []Content{Text("A"), Text("B")}, Choice: ChoiceB, Seeds: []int64{1, 2}}
	if err := r.Normalize(); err != nil {
		t.Fatal(err)
	}
	if r.Kind != KindAB || r.Chosen.Text != "B" || r.Rejected.Text != "A" || !strings.HasPrefix(r.ID, "fb-") || r.Time.IsZero() {
		t.Fatalf("normalized %+v", r)
	}
}

func thumbs(prompt, completion string, up bool) *Record {
	return &Record{Prompt: Text(prompt), Completion: ptr(Text(completion)), Label: ptr(up), Model: "m",
		Sampling: &Sampling{Temperature: 0.8, TopK: 40, TopP: 0.95, MinP: 0.05, MaxTokens: 16, Seed: ptr(int64(7))}}
}

func TestAppendRead(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", FileName)
	l, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	recs, bad, err := l.Read()
	if err != nil || len(recs) != 0 || len(bad) != 0 {
		t.Fatalf("missing file: %v %v %v", recs, bad, err)
	}
	in := []*Record{thumbs("p", "a\nb \"q\"", true), {Prompt: Text("p"), Chosen: ptr(Text("x")), Rejected: ptr(Text("y"))}}
	for _, r := range in {
		if err := l.Append(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Append(&Record{Prompt: Text("p")}); err == nil {
		t.Fatal("an invalid record was appended")
	}
	data, _ := os.ReadFile(path)
	if n := bytes.Count(data, []byte("\n")); n != 2 {
		t.Fatalf("%d lines:\n%s", n, data)
	}
	recs, bad, err = l.Read()
	if err != nil || len(bad) != 0 || len(recs) != 2 {
		t.Fatalf("read %d records, bad %v, %v", len(recs), bad, err)
	}
	for i, r := range recs {
		a, _ := json.Marshal(r)
		b, _ := json.Marshal(in[i])
		if !bytes.Equal(a, b) {
			t.Errorf("record %d:\n got %s\nwant %s", i, a, b)
		}
	}
}

// TestConcurrentGoroutines: many goroutines appending at once lose no record
// and tear no line.
func TestConcurrentGoroutines(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	const writers, each = 32, 50
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l, err := Open(path) // a Log each: only the file lock orders them
			if err != nil {
				errs <- err
				return
			}
			for i := range each {
				r := thumbs(fmt.Sprintf("goroutine %d", w), strings.Repeat(fmt.Sprintf("%d reply ", i), 200), i%2 == 0)
				if err := l.Append(r); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	checkAll(t, path, map[string]int{"goroutine": writers * each})
}

// checkAll reads the file and checks that every line is a valid record,
// that no record is there twice, and that the records whose prompt starts
// with each prefix number as many as want.
func checkAll(t *testing.T, path string, want map[string]int) {
	t.Helper()
	recs, bad, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range bad {
		t.Errorf("bad line: %v", &b)
	}
	ids, seen := map[string]bool{}, map[string]bool{}
	got := map[string]int{}
	for _, r := range recs {
		if ids[r.ID] {
			t.Errorf("duplicate id %s", r.ID)
		}
		ids[r.ID] = true
		n, _, _ := strings.Cut(r.Completion.Text, " ")
		key := r.Prompt.Text + "#" + n
		if seen[key] {
			t.Errorf("record %s written twice", key)
		}
		seen[key] = true
		prefix, _, _ := strings.Cut(r.Prompt.Text, " ")
		got[prefix]++
	}
	for k, n := range want {
		if got[k] != n {
			t.Errorf("%d records from %s writers, want %d", got[k], k, n)
		}
	}
	data, _ := os.ReadFile(path)
	if lines := bytes.Count(data, []byte("\n")); lines != len(recs) || len(data) > 0 && data[len(data)-1] != '\n' {
		t.Errorf("%d lines for %d records", lines, len(recs))
	}
}

// TestConcurrentProcesses: several processes (this test binary started
// again) and goroutines of this one append to the same file at once.
func TestConcurrentProcesses(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	const procs, each = 4, 150
	var cmds []*exec.Cmd
	for p := range procs {
		cmd := exec.Command(os.Args[0], "-test.run=^TestWriterProcess$")
		cmd.Env = append(os.Environ(), "FEEDBACK_WRITER_FILE="+path, "FEEDBACK_WRITER_N="+strconv.Itoa(each), "FEEDBACK_WRITER_NAME=proc"+strconv.Itoa(p))
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, cmd)
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("writer %d: %s", p, out.String())
			}
		})
	}
	l, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				if err := l.Append(thumbs(fmt.Sprintf("parent %d", g), fmt.Sprintf("%d reply", i), true)); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("writer process %d: %v", i, err)
		}
	}
	want := map[string]int{"parent": 4 * each}
	for p := range procs {
		want["proc"+strconv.Itoa(p)] = each
	}
	checkAll(t, path, want)
}

// TestWriterProcess is the writer TestConcurrentProcesses starts; it does
// nothing in an ordinary test run.
func TestWriterProcess(t *testing.T) {
	path := os.Getenv("FEEDBACK_WRITER_FILE")
	if path == "" {
		t.Skip("a helper process of TestConcurrentProcesses")
	}
	n, _ := strconv.Atoi(os.Getenv("FEEDBACK_WRITER_N"))
	name := os.Getenv("FEEDBACK_WRITER_NAME")
	l, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		// long lines: a write of several pages that is not atomic without the lock
		if err := l.Append(thumbs(name+" x", strings.Repeat(fmt.Sprintf("%d reply ", i), 1500), i%3 == 0)); err != nil {
			t.Fatal(err)
		}
	}
}

// TestTornLastLine simulates a crash in the middle of a write: the file is
// cut at every byte of its last line. Readers keep every earlier record and
// report the torn line as a warning; the next Append moves it aside and
// starts a line of its own.
func TestTornLastLine(t *testing.T) {
	dir := t.TempDir()
	full := filepath.Join(dir, "full.jsonl")
	l, _ := Open(full)
	for i := range 3 {
		if err := l.Append(thumbs("p", fmt.Sprintf("reply %d", i), true)); err != nil {
			t.Fatal(err)
		}
	}
	data, _ := os.ReadFile(full)
	lastStart := bytes.LastIndexByte(data[:len(data)-1], '\n') + 1
	for cut := lastStart + 1; cut < len(data)-1; cut++ {
		path := filepath.Join(dir, fmt.Sprintf("cut%d.jsonl", cut))
		if err := os.WriteFile(path, data[:cut], 0o644); err != nil {
			t.Fatal(err)
		}
		recs, bad, err := ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) != 2 || len(bad) != 1 || !bad[0].Torn || bad[0].Line != 3 {
			t.Fatalf("cut at %d: %d records, bad %v", cut, len(recs), bad)
		}
		if !strings.Contains(bad[0].Error(), "line 3: torn last line") {
			t.Errorf("warning %q", bad[0].Error())
		}
		cl, _ := Open(path)
		if err := cl.Append(thumbs("p", "after the crash", false)); err != nil {
			t.Fatal(err)
		}
		recs, bad, err = ReadFile(path)
		if err != nil || len(bad) != 0 || len(recs) != 3 || recs[2].Completion.Text != "after the crash" {
			t.Fatalf("cut at %d, after an append: %d records, bad %v, %v", cut, len(recs), bad, err)
		}
		torn, err := os.ReadFile(path + ".torn")
		if err != nil || string(torn) != string(data[lastStart:cut])+"\n" {
			t.Fatalf("cut at %d: .torn holds %q (%v), want %q", cut, torn, err, data[lastStart:cut])
		}
	}
	// a bad line in the middle is reported, not torn, and the rest is read
	mixed := filepath.Join(dir, "mixed.jsonl")
	lines := strings.SplitAfter(string(data), "\n")
	os.WriteFile(mixed, []byte(lines[0]+"{\"prompt\":\"p\",\"chosen\":\"a\"}\n\n"+lines[1]+"not json\n"+lines[2]), 0o644)
	recs, bad, err := ReadFile(mixed)
	if err != nil || len(recs) != 3 || len(bad) != 2 {
		t.Fatalf("mixed: %d records, bad %v, %v", len(recs), bad, err)
	}
	if bad[0].Line != 2 || bad[0].Torn || !strings.Contains(bad[0].Error(), `line 2: field "rejected": missing`) {
		t.Errorf("first bad line: %v", &bad[0])
	}
	if bad[1].Line != 5 || !strings.Contains(bad[1].Error(), "line 5: not a JSON object") {
		t.Errorf("second bad line: %v", &bad[1])
	}
}

func TestExports(t *testing.T) {
	at := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	recs := []Record{
		{Kind: KindThumbs, Prompt: Text("p1"), Completion: ptr(Text("good")), Label: ptr(true)},
		{Kind: KindPair, Prompt: Text("p2"), Chosen: ptr(Text("c")), Rejected: ptr(Text("r"))},
		{Kind: KindThumbs, Prompt: Text("p1"), Completion: ptr(Text("bad")), Label: ptr(false)},
		{Kind: KindThumbs, Prompt: Text("p1"), Completion: ptr(Text("good")), Label: ptr(false)}, // the same reply both ways
		{Kind: KindThumbs, Prompt: Text("p3"), Completion: ptr(Text("lonely")), Label: ptr(true)},
		{Kind: KindAB, Prompt: Text("p4"), Completions: []Content{Text("A"), Text("B")}, Choice: ChoiceA},
		{Kind: KindAB, Prompt: Text("p5"), Completions: []Content{Text("A"), Text("B")}, Choice: ChoiceTie},
		{Kind: KindAB, Prompt: Text("p6"), Completions: []Content{Text("A"), Text("B")}, Choice: ChoiceBothBad},
	}
	for i := range recs {
		recs[i].Time = at
		if err := recs[i].Normalize(); err != nil {
			t.Fatal(err)
		}
	}
	pairs, st := Pairs(recs)
	var b bytes.Buffer
	if err := WriteJSONL(&b, pairs); err != nil {
		t.Fatal(err)
	}
	wantPairs := `{"prompt":"p2","chosen":"c","rejected":"r"}
{"prompt":"p4","chosen":"A","rejected":"B"}
{"prompt":"p1","chosen":"good","rejected":"bad"}
`
	if b.String() != wantPairs {
		t.Errorf("pairs:\n%s\nwant:\n%s", b.String(), wantPairs)
	}
	if st != (ExportStats{Records: 8, Examples: 3, FromThumbs: 1, Skipped: 3}) {
		t.Errorf("pair stats %+v", st)
	}
	un, st := UnpairedExamples(recs)
	b.Reset()
	WriteJSONL(&b, un)
	wantUn := `{"prompt":"p1","completion":"good","label":true}
{"prompt":"p2","completion":"c","label":true}
{"prompt":"p2","completion":"r","label":false}
{"prompt":"p1","completion":"bad","label":false}
{"prompt":"p1","completion":"good","label":false}
{"prompt":"p3","completion":"lonely","label":true}
{"prompt":"p4","completion":"A","label":true}
{"prompt":"p4","completion":"B","label":false}
{"prompt":"p6","completion":"A","label":false}
{"prompt":"p6","completion":"B","label":false}
`
	if b.String() != wantUn {
		t.Errorf("unpaired:\n%s\nwant:\n%s", b.String(), wantUn)
	}
	if st != (ExportStats{Records: 8, Examples: 10, Skipped: 1}) {
		t.Errorf("unpaired stats %+v", st)
	}
}

// FuzzRead: any bytes read as a feedback file give records that validate
// and survive a round trip, and never a panic.
func FuzzRead(f *testing.F) {
	for _, s := range []string{
		`{"prompt":"p","chosen":"a","rejected":"b"}` + "\n",
		`{"id":"fb-1","time":"2026-12-04T12:00:00Z","kind":"ab","prompt":[{"role":"user","content":"hi"}],"completions":["a",[{"role":"assistant","content":"b"}]],"choice":"a","chosen":"a","rejected":[{"role":"assistant","content":"b"}],"seeds":[1,2]}` + "\n",
		`{"id":"fb-2","time":"2026-12-04T12:00:00Z","prompt":"p","completion":"a","label":true,"sampling":{"temperature":0.8,"top_k":40,"top_p":0.95,"min_p":0.05,"seed":3}}`,
		"not json\n{}\nnull\n[]\n",
		`{"prompt":"p","completions":["a","b"],"choice":"b"`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		recs, bad, err := Read(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range bad {
			if b.Line < 1 || b.Err == nil {
				t.Fatalf("bad line %+v", b)
			}
		}
		for _, r := range recs {
			if err := r.Validate(); err != nil {
				t.Fatalf("a record read back does not validate: %v", err)
			}
			line, err := json.Marshal(r)
			if err != nil {
				t.Fatal(err)
			}
			back, err := Parse(line)
			if err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			again, _ := json.Marshal(back)
			if !bytes.Equal(line, again) {
				t.Fatalf("round trip:\n%s\n%s", line, again)
			}
		}
		Pairs(recs)
		UnpairedExamples(recs)
	})
}
