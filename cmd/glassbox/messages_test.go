package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

// TestNeitherFormat: a file that is neither GGUF nor a llama2.c checkpoint is
// reported as such, with what it holds, not as a checkpoint of absurd shape.
func TestNeitherFormat(t *testing.T) {
	dir := t.TempDir()
	text := filepath.Join(dir, "x.txt")
	os.WriteFile(text, []byte(strings.Repeat("hello world ", 100)), 0o644)
	short := filepath.Join(dir, "short.txt")
	os.WriteFile(short, []byte("hello\n"), 0o644)
	bin := filepath.Join(dir, "r.bin")
	os.WriteFile(bin, append([]byte{0x78, 0x06, 0x8b, 0xc9}, bytes.Repeat([]byte{0xff, 0x01, 0x80, 0x9a}, 100)...), 0o644)
	tests := []struct {
		name string
		cmd  func() []string
		want []string
	}{
		{"text", func() []string { return []string{"run", "-m", text, "hi"} }, []string{
			text + ` is neither a GGUF file (those start with the magic "GGUF"; it looks like text: "hello world hello world`,
			"nor a llama2.c checkpoint (read as its header, the first 28 bytes give dim 1819043176,"}},
		{"short text", func() []string { return []string{"run", "-m", short, "hi"} }, []string{
			"is neither a GGUF file", "the file has 6 bytes, fewer than the 28 of a llama2.c header"}},
		{"binary", func() []string { return []string{"run", "-m", bin, "hi"} }, []string{
			`is neither a GGUF file (those start with the magic "GGUF"; it starts with "x\x06\x8b\xc9") nor a llama2.c checkpoint`}},
		{"tokenize", func() []string { return []string{"tokenize", "-m", text, "hi"} }, []string{"is neither a GGUF file"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := execute(t, newRootCmd(), "", tt.cmd()...)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error\n%v\nlacks %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "is not a multiple of the head count") {
				t.Errorf("error still reads the file as a checkpoint: %v", err)
			}
		})
	}
}

// TestErrorMessages covers the wording of errors users met: an unknown store
// name, a doubled "tokenizer:" prefix.
func TestErrorMessages(t *testing.T) {
	t.Setenv("GLASSBOX_HOME", t.TempDir())
	notText := filepath.Join(t.TempDir(), "x.txt")
	os.WriteFile(notText, []byte("hello world, this is no tokenizer"), 0o644)
	tests := []struct {
		args    []string
		want    string
		notWant string
	}{
		{[]string{"run", "-m", "nosuch", "hi"}, `no file named nosuch, and model "nosuch" is not in the store (its names look like hf.co/OWNER/REPO:TAG: glassbox list shows them, glassbox pull hf.co/OWNER/REPO[:QUANT] downloads one)`, "no repository"},
		{[]string{"show", "nosuch"}, `model "nosuch" is not in the store`, "no repository"},
		{[]string{"rm", "nosuch"}, `model "nosuch" is not in the store`, "no repository"},
		{[]string{"run", "--tokenizer", notText, "hi"}, "tokenizer: " + notText + " is not GGUF", "tokenizer: tokenizer:"},
		{[]string{"pull", "hf.co/a/b:-x"}, `tag "-x" is not valid: it starts with '-'`, "may hold only"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			_, _, err := execute(t, newRootCmd(), "", tt.args...)
			if err == nil || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), tt.notWant) {
				t.Errorf("error %v\nwant one containing %q, without %q", err, tt.want, tt.notWant)
			}
		})
	}
}

func TestPlural(t *testing.T) {
	for _, tt := range []struct {
		n    int
		want string
	}{{0, "0 tokens"}, {1, "1 token"}, {2, "2 tokens"}, {-1, "-1 token"}} {
		if got := plural(tt.n, "token"); got != tt.want {
			t.Errorf("plural(%d) = %q, want %q", tt.n, got, tt.want)
		}
	}
}

// TestRunVerboseSingular: one generated token is "1 token", not "1 tokens".
func TestRunVerboseSingular(t *testing.T) {
	_, stderr, err := execute(t, newRootCmd(), "", "run", "--raw", "-n", "1", "--temperature", "0", "--verbose", "func")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stderr, "generation 1 token, ") || strings.Contains(stderr, " 1 tokens,") {
		t.Errorf("verbose line: %q", stderr)
	}
}

// TestPrintError: every error is printed once, after "glassbox: "; a wrong
// argument count adds the command's usage, a bad flag a pointer to --help.
func TestPrintError(t *testing.T) {
	var b bytes.Buffer
	printError(&b, errors.New("boom"))
	if b.String() != "glassbox: boom\n" {
		t.Errorf("plain error printed as %q", b.String())
	}
	tests := []struct {
		args []string
		want []string
	}{
		{[]string{"pull"}, []string{"glassbox: pull needs the model to download, such as hf.co/", "\n\nUsage:\n  glassbox pull hf.co/OWNER/REPO[:QUANT|/FILE.gguf] [flags]\n", "Examples:"}},
		{[]string{"show", "a", "b"}, []string{`glassbox: show takes at most 1 argument, got 2: ["a" "b"]`, "Usage:\n  glassbox show [-m] [MODEL]"}},
		{[]string{"list", "x"}, []string{`glassbox: list takes 0 arguments, got 1: ["x"]`, "Usage:\n  glassbox list"}},
		{[]string{"run", "--bogus"}, []string{"glassbox: unknown flag: --bogus\nRun 'glassbox run --help' for usage.\n"}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			_, _, err := execute(t, newRootCmd(), "", tt.args...)
			if err == nil {
				t.Fatal("no error")
			}
			b.Reset()
			printError(&b, err)
			for _, w := range tt.want {
				if !strings.Contains(b.String(), w) {
					t.Errorf("printed\n%s\nlacks %q", b.String(), w)
				}
			}
			if strings.Count(b.String(), "glassbox: ") != 1 {
				t.Errorf("error printed more than once:\n%s", b.String())
			}
		})
	}
}

func TestVersion(t *testing.T) {
	bi := &debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "b70bbada164982c452c17e51fac6fae9c2290860"},
		{Key: "vcs.time", Value: "2026-11-28T09:30:17Z"},
		{Key: "vcs.modified", Value: "true"},
	}}
	platform := runtime.GOOS + "/" + runtime.GOARCH
	tests := []struct {
		bi   *debug.BuildInfo
		want string
	}{
		{bi, "glassbox version devel, commit b70bbada1649 (2026-11-28T09:30:17Z, with uncommitted changes), built with go1.26.0 for " + platform},
		{&debug.BuildInfo{GoVersion: "go1.26.1", Main: debug.Module{Version: "v1.2.3"}, Settings: bi.Settings[:1]},
			"glassbox version v1.2.3, commit b70bbada1649, built with go1.26.1 for " + platform},
		{&debug.BuildInfo{Main: debug.Module{Version: "(devel)"}},
			"glassbox version devel, commit unknown (built without version control information), built with " + runtime.Version() + " for " + platform},
	}
	for _, tt := range tests {
		if got := readBuildVersion(tt.bi).String(); got != tt.want {
			t.Errorf("got  %q\nwant %q", got, tt.want)
		}
	}
	for _, args := range [][]string{{"--version"}, {"version"}} {
		out, _, err := execute(t, newRootCmd(), "", args...)
		if err != nil || !strings.HasPrefix(out, "glassbox version ") || !strings.Contains(out, runtime.Version()) || !strings.Contains(out, "commit ") {
			t.Errorf("glassbox %s: %q, %v", args[0], out, err)
		}
	}
}

// TestListEmpty: with an empty store, list shows the embedded models (the
// default one marked) and says how to fill the store.
func TestListEmpty(t *testing.T) {
	home := t.TempDir()
	t.Setenv("GLASSBOX_HOME", home)
	out, _, err := execute(t, newRootCmd(), "", "list")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"NAME", "PULLED",
		"glassbox-go-1m        3.87 MiB   F32     llama          1.0M         embedded (default)\n",
		"glassbox-go-1m-grpo   3.87 MiB   F32     llama          1.0M         embedded\n",
		"\nThe store (" + home + ") is empty. Download a model with glassbox pull hf.co/OWNER/REPO[:QUANT]",
	}
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("empty list lacks %q:\n%s", w, out)
		}
	}
	out, _, err = execute(t, newRootCmd(), "", "list", "--json")
	var rows []listEntry
	if err != nil || json.Unmarshal([]byte(out), &rows) != nil {
		t.Fatalf("empty list --json prints %q, %v", out, err)
	}
	var names []string
	for _, r := range rows {
		if !r.Embedded || r.Pulled != nil || r.Path != "" || r.Architecture != "llama" || r.Parameters != 1000576 || r.Error != "" {
			t.Errorf("embedded row %+v", r)
		}
		names = append(names, fmt.Sprintf("%s default=%v", r.Name, r.Default))
	}
	if got := strings.Join(names, ", "); got != "glassbox-go-1m default=true, glassbox-go-1m-grpo default=false" {
		t.Errorf("empty list --json: %s", got)
	}
}
