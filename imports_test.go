package glassbox_test

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// engineLayers are the packages behind the SDK. The applications built on
// glassbox (the server and the command-line tool) reach them through the SDK
// (the root package) and never import them: docs/ARCHITECTURE.md, "The
// import rule". A subpackage (tokenizer/bpe) counts as its parent.
var engineLayers = []string{"glassbox/chat", "glassbox/grammar", "glassbox/infer", "glassbox/model", "glassbox/sample", "glassbox/tensor", "glassbox/tokenizer", "glassbox/trace"}

// isEngineLayer reports whether path is one of engineLayers or below one.
func isEngineLayer(path string) bool {
	for _, l := range engineLayers {
		if path == l || strings.HasPrefix(path, l+"/") {
			return true
		}
	}
	return false
}

// packageImports returns the imports of the non-test Go files in dir, on
// every platform and with every build tag (a file for one operating system
// must keep the rule too).
func packageImports(t *testing.T, dir string) map[string][]string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no Go files in %s (%v)", dir, err)
	}
	imports := map[string][]string{} // import path → files importing it
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		af, err := parser.ParseFile(fset, f, src, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, spec := range af.Imports {
			p, err := strconv.Unquote(spec.Path.Value)
			if err != nil {
				t.Fatalf("%s: import %s: %v", f, spec.Path.Value, err)
			}
			imports[p] = append(imports[p], filepath.Base(f))
		}
	}
	return imports
}

// TestImportRule enforces the import rule of docs/ARCHITECTURE.md: the server,
// the command-line tool, the evaluations (eval, whose logits come through
// the SDK) and the model chooser (choose, whose facts come through the SDK)
// import the SDK, not the engine's layers.
func TestImportRule(t *testing.T) {
	for _, dir := range []string{"server", "cmd/glassbox", "eval", "choose", "mcpserver", "lsp", "agent"} {
		t.Run(dir, func(t *testing.T) {
			imports := packageImports(t, dir)
			if _, ok := imports["glassbox"]; !ok {
				t.Errorf("%s does not import the SDK (glassbox)", dir)
			}
			for p, files := range imports {
				if isEngineLayer(p) {
					t.Errorf("%s imports %s (in %s): use the SDK (package glassbox) instead; see the import rule in docs/ARCHITECTURE.md", dir, p, strings.Join(files, ", "))
				}
			}
		})
	}
}

// TestIsEngineLayer: the rule's package matching, subpackages included and
// look-alike names excluded.
func TestIsEngineLayer(t *testing.T) {
	for _, tt := range []struct {
		path string
		want bool
	}{
		{"glassbox", false},
		{"glassbox/web", false},
		{"glassbox/store", false},
		{"glassbox/vectors", false},
		{"glassbox/catalog", false},
		{"glassbox/choose", false},
		{"glassbox/infer", true},
		{"glassbox/tokenizer/bpe", true},
		{"glassbox/tensorx", false},
		{"glassbox/internal/synth", false},
		{"fmt", false},
	} {
		if got := isEngineLayer(tt.path); got != tt.want {
			t.Errorf("isEngineLayer(%q) = %v, want %v", tt.path, got, tt.want)
		}
	}
}
