// Package web is glassbox's page: a chat whose every generated token can be
// opened to see its dissection (tokenization, attention heatmap, logit lens,
// candidates and sampler steps, embedding neighbours), and a model page. It is
// vanilla HTML, CSS and JavaScript embedded in the binary: no build step and
// no request leaves the server it is served from.
package web

import (
	"embed"
	"io/fs"
	"net/http"
)

//go:embed static
var static embed.FS

// Handler serves the page and its assets at the root of the server.
func Handler() http.Handler {
	sub, err := fs.Sub(static, "static")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	files := http.FileServerFS(sub)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", "default-src 'self'; style-src 'self'; script-src 'self'; img-src 'self' data:; connect-src 'self'")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		files.ServeHTTP(w, r)
	})
}
