package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFeedbackCommands(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("GLASSBOX_HOME", dir)
	in := `{"prompt":"2+2=","chosen":"4","rejected":"5"}
{"prompt":"Once upon a time","completion":" there was a cat","label":true,"model":"stories"}

{"prompt":"Once upon a time","completion":" the end","label":false,"model":"stories"}
{"prompt":[{"role":"user","content":"hi"}],"completions":["hello","go away"],"choice":"a","seeds":[1,2]}
{"prompt":"p","completions":["x","y"],"choice":"tie"}
`
	_, stderr, err := execute(t, newFeedbackCmd(), in, "add")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "feedback", "feedback.jsonl")
	if !strings.Contains(stderr, "added 5 records to "+path) {
		t.Errorf("stderr %q", stderr)
	}
	out, _, err := execute(t, newFeedbackCmd(), "", "list")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"pair", "thumbs   up", "thumbs   down", "ab       A > B", "ab       tie", "user: hi", "5 records in " + path} {
		if !strings.Contains(out, want) {
			t.Errorf("list lacks %q:\n%s", want, out)
		}
	}
	out, stderr, err = execute(t, newFeedbackCmd(), "", "export")
	if err != nil {
		t.Fatal(err)
	}
	want := `{"prompt":"2+2=","chosen":"4","rejected":"5"}
{"prompt":[{"role":"user","content":"hi"}],"chosen":"hello","rejected":"go away"}
{"prompt":"Once upon a time","chosen":" there was a cat","rejected":" the end"}
`
	if out != want {
		t.Errorf("pairs:\n%s\nwant:\n%s", out, want)
	}
	if !strings.Contains(stderr, "exported 3 pairs from 5 records") || !strings.Contains(stderr, "(1 from thumbs on the same prompt); 1 record gave none") {
		t.Errorf("stderr %q", stderr)
	}
	kto := filepath.Join(dir, "kto.jsonl")
	if _, _, err := execute(t, newFeedbackCmd(), "", "export", "--format", "unpaired", "-o", kto); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(kto)
	if n := strings.Count(string(data), "\n"); n != 6 || !strings.Contains(string(data), `{"prompt":"2+2=","completion":"5","label":false}`) {
		t.Errorf("unpaired (%d lines):\n%s", n, data)
	}

	// a bad line stops add with its number and field, and adds nothing
	_, _, err = execute(t, newFeedbackCmd(), `{"prompt":"a","chosen":"b","rejected":"c"}`+"\n"+`{"prompt":"a","chosen":"b"}`, "add")
	if err == nil || !strings.Contains(err.Error(), `stdin: line 2: field "rejected": missing; nothing was added`) {
		t.Fatalf("error %v", err)
	}
	// a bad line in the file and a torn last one
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"prompt":"q","completion":"r","label":"yes"}` + "\n" + `{"prompt":"torn","chosen":"a","rej`)
	f.Close()
	_, _, err = execute(t, newFeedbackCmd(), "", "export")
	if err == nil || !strings.Contains(err.Error(), `line 6: field "label": got a JSON string, want true or false`) || strings.Contains(err.Error(), "line 7") {
		t.Fatalf("error %v", err)
	}
	out, stderr, err = execute(t, newFeedbackCmd(), "", "export", "--skip-invalid")
	if err != nil || out != want {
		t.Fatalf("export --skip-invalid: %v\n%s", err, out)
	}
	if !strings.Contains(stderr, "line 6: field \"label\"") || !strings.Contains(stderr, "line 7: torn last line") {
		t.Errorf("warnings %q", stderr)
	}
	if _, _, err := execute(t, newFeedbackCmd(), "", "export", "--format", "kto"); err == nil || !strings.Contains(err.Error(), "--format must be pairs or unpaired") {
		t.Errorf("error %v", err)
	}
}
