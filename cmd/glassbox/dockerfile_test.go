package main

import (
	"encoding/json"
	"fmt"
	"path"
	"strings"
	"testing"
)

// The Dockerfile and .dockerignore readers of the deployment tests: just
// enough of their syntax to check the committed files, refusing what they do
// not understand rather than guessing.

// dockerInstr is one instruction of a Dockerfile.
type dockerInstr struct {
	line  int    // where it starts
	cmd   string // upper case: FROM, RUN, COPY…
	args  string // the rest, continuation lines joined with spaces
	flags map[string]string
}

// dockerStage is a FROM and the instructions after it.
type dockerStage struct {
	base, name string
	instrs     []dockerInstr
}

// dockerCmds are the instructions the reader knows.
var dockerCmds = map[string]bool{"FROM": true, "RUN": true, "COPY": true, "ADD": true, "ARG": true, "ENV": true, "USER": true,
	"EXPOSE": true, "ENTRYPOINT": true, "CMD": true, "WORKDIR": true, "HEALTHCHECK": true, "LABEL": true, "VOLUME": true, "STOPSIGNAL": true}

// parseDockerfile splits a Dockerfile into stages of instructions: comment
// lines are dropped, a line ending in a backslash continues on the next,
// leading --flag=value arguments of COPY and ADD go to flags.
func parseDockerfile(src string) ([]dockerStage, error) {
	var stages []dockerStage
	lines := strings.Split(src, "\n")
	for i := 0; i < len(lines); i++ {
		line := strings.TrimSpace(lines[i])
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		start := i + 1
		for strings.HasSuffix(line, `\`) {
			line = strings.TrimSpace(strings.TrimSuffix(line, `\`))
			i++
			for i < len(lines) && strings.HasPrefix(strings.TrimSpace(lines[i]), "#") {
				i++ // comments inside a continued instruction are dropped too
			}
			if i >= len(lines) {
				return nil, fmt.Errorf("line %d: a continued instruction ends the file", start)
			}
			line += " " + strings.TrimSpace(lines[i])
		}
		word, args, _ := strings.Cut(line, " ")
		in := dockerInstr{line: start, cmd: strings.ToUpper(word), args: strings.TrimSpace(args), flags: map[string]string{}}
		if !dockerCmds[in.cmd] {
			return nil, fmt.Errorf("line %d: unknown instruction %q", start, word)
		}
		if in.args == "" {
			return nil, fmt.Errorf("line %d: %s without arguments", start, in.cmd)
		}
		if in.cmd == "COPY" || in.cmd == "ADD" || in.cmd == "FROM" {
			for strings.HasPrefix(in.args, "--") {
				f, rest, _ := strings.Cut(in.args, " ")
				k, v, _ := strings.Cut(strings.TrimPrefix(f, "--"), "=")
				in.flags[k] = v
				in.args = strings.TrimSpace(rest)
			}
		}
		if in.cmd == "FROM" {
			f := strings.Fields(in.args)
			st := dockerStage{base: f[0]}
			switch {
			case len(f) == 3 && strings.EqualFold(f[1], "AS"):
				st.name = f[2]
			case len(f) != 1:
				return nil, fmt.Errorf("line %d: FROM %s: expected IMAGE [AS NAME]", start, in.args)
			}
			stages = append(stages, st)
			continue
		}
		if len(stages) == 0 {
			if in.cmd == "ARG" {
				continue // an ARG before the first FROM
			}
			return nil, fmt.Errorf("line %d: %s before the first FROM", start, in.cmd)
		}
		stages[len(stages)-1].instrs = append(stages[len(stages)-1].instrs, in)
	}
	if len(stages) == 0 {
		return nil, fmt.Errorf("no FROM")
	}
	return stages, nil
}

// all returns the instructions of a stage with command cmd.
func (s dockerStage) all(cmd string) []dockerInstr {
	var out []dockerInstr
	for _, in := range s.instrs {
		if in.cmd == cmd {
			out = append(out, in)
		}
	}
	return out
}

// env returns the variables the stage's ENV instructions set (KEY=VALUE forms only).
func (s dockerStage) env() (map[string]string, error) {
	out := map[string]string{}
	for _, in := range s.all("ENV") {
		for _, kv := range strings.Fields(in.args) {
			k, v, ok := strings.Cut(kv, "=")
			if !ok || k == "" {
				return nil, fmt.Errorf("line %d: ENV %s: expected KEY=VALUE pairs", in.line, in.args)
			}
			out[k] = strings.Trim(v, `"`)
		}
	}
	return out, nil
}

// execForm reads the JSON array of an ENTRYPOINT or CMD in exec form.
func execForm(in dockerInstr) ([]string, error) {
	var argv []string
	if err := json.Unmarshal([]byte(in.args), &argv); err != nil || len(argv) == 0 {
		return nil, fmt.Errorf("line %d: %s %s: expected the exec form, a JSON array of strings (distroless has no shell for the shell form)", in.line, in.cmd, in.args)
	}
	return argv, nil
}

// dockerIgnore is the list of patterns of a .dockerignore.
type dockerIgnore []string

// parseDockerIgnore reads a .dockerignore: one pattern a line, # comments.
// Exceptions (!pattern) are refused: the matcher does not implement them.
func parseDockerIgnore(src string) (dockerIgnore, error) {
	var pats dockerIgnore
	for i, line := range strings.Split(src, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.HasPrefix(line, "!") {
			return nil, fmt.Errorf("line %d: exception %q: not supported by this reader", i+1, line)
		}
		p := path.Clean(strings.TrimPrefix(line, "/"))
		if _, err := path.Match(strings.TrimPrefix(p, "**/"), ""); err != nil || strings.Contains(strings.TrimPrefix(p, "**/"), "**") {
			return nil, fmt.Errorf("line %d: pattern %q: expected a path pattern, with ** only as a leading **/", i+1, line)
		}
		pats = append(pats, p)
	}
	return pats, nil
}

// excluded reports whether the context leaves out a file (a slash-separated
// path relative to the context): a pattern matches it or one of its folders.
func (d dockerIgnore) excluded(rel string) bool {
	parts := strings.Split(rel, "/")
	for n := 1; n <= len(parts); n++ {
		prefix := strings.Join(parts[:n], "/")
		for _, p := range d {
			if rest, ok := strings.CutPrefix(p, "**/"); ok {
				for k := 0; k < n; k++ { // the pattern at any depth
					if m, _ := path.Match(rest, strings.Join(parts[k:n], "/")); m {
						return true
					}
				}
			} else if m, _ := path.Match(p, prefix); m {
				return true
			}
		}
	}
	return false
}

// FuzzDockerfile: the readers never panic, and what parseDockerfile accepts
// has a base image in every stage.
func FuzzDockerfile(f *testing.F) {
	f.Add("FROM golang:1.26 AS build\nRUN go build \\\n  -o /out/x ./cmd/glassbox\nFROM scratch\nCOPY --from=build /out/x /x\nENTRYPOINT [\"/x\"]\n")
	f.Add("ARG V\nFROM a\nENV A=1 B=2\nUSER 1:1\n")
	f.Add("RUN x\n")
	f.Add("FROM a \\\n# c\n")
	f.Add(".git\n**/testdata\n/glassbox\n!keep\n[\n")
	f.Fuzz(func(t *testing.T, src string) {
		if stages, err := parseDockerfile(src); err == nil {
			for _, s := range stages {
				if s.base == "" {
					t.Fatalf("a stage without a base: %q", src)
				}
				s.env()
				for _, in := range s.instrs {
					execForm(in)
				}
			}
		}
		if d, err := parseDockerIgnore(src); err == nil {
			d.excluded("a/b/c")
			d.excluded(src)
		}
	})
}
