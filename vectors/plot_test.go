package vectors

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"testing"
)

// svgTexts parses an SVG (failing the test when it is not well-formed XML)
// and returns the content of its text elements.
func svgTexts(t *testing.T, svg []byte) []string {
	t.Helper()
	dec := xml.NewDecoder(bytes.NewReader(svg))
	var texts []string
	inText := false
	var cur strings.Builder
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("not well-formed XML: %v\n%s", err, svg)
		}
		switch e := tok.(type) {
		case xml.StartElement:
			if e.Name.Local == "text" {
				inText = true
				cur.Reset()
			}
		case xml.CharData:
			if inText {
				cur.Write(e)
			}
		case xml.EndElement:
			if e.Name.Local == "text" {
				inText = false
				texts = append(texts, cur.String())
			}
		}
	}
	return texts
}

// TestPlotSVG: the picture is well-formed XML whatever the words hold, every
// word is labelled (hostile ones escaped, invalid XML characters replaced),
// and the axes name PC1 and PC2 with their variance share.
func TestPlotSVG(t *testing.T) {
	words := []string{"roi", "reine", "été", "l'homme", `<script>alert("x")</script>`, "a&b", "ctl\x01x", "]]>", "\xff"}
	p := &Projection{Method: "pca", Explained: [2]float64{0.4321, 0.2}}
	for i, w := range words {
		p.Points = append(p.Points, Point{Word: w, X: math.Cos(float64(i)), Y: math.Sin(float64(i))})
	}
	var buf bytes.Buffer
	if err := PlotSVG(&buf, p, PlotOptions{Title: "voisins de « roi » <&>", Highlight: "roi"}); err != nil {
		t.Fatal(err)
	}
	texts := svgTexts(t, buf.Bytes())
	for _, want := range []string{"roi", "reine", "été", "l'homme", `<script>alert("x")</script>`, "a&b", "ctl\uFFFDx", "]]>", "\uFFFD",
		"voisins de « roi » <&>", "PC1 (43.2 % of the variance)", "PC2 (20.0 % of the variance)"} {
		if !slices.Contains(texts, want) {
			t.Errorf("no text %q in %q", want, texts)
		}
	}
	if bytes.Contains(buf.Bytes(), []byte("<script")) {
		t.Error("a word's markup reached the SVG unescaped")
	}
	if !bytes.Contains(buf.Bytes(), []byte(`fill="#dc2626"`)) {
		t.Error("the highlighted word is not drawn in its colour")
	}
	p.Method = "tsne"
	buf.Reset()
	if err := PlotSVG(&buf, p, PlotOptions{}); err != nil {
		t.Fatal(err)
	}
	if texts := svgTexts(t, buf.Bytes()); !slices.Contains(texts, "t-SNE 1 (distances between groups mean little)") || slices.ContainsFunc(texts, func(s string) bool { return strings.HasPrefix(s, "PC1") }) {
		t.Errorf("t-SNE axes: %q", texts)
	}
}

// TestPlotLabelsApart: the labels of a tight cluster of words are spread so
// that none overlaps another.
func TestPlotLabelsApart(t *testing.T) {
	n := 12
	px, py, texts, order := make([]float64, n), make([]float64, n), make([]string, n), make([]int, n)
	for i := range n {
		px[i], py[i] = 400+float64(i%4)*6, 300+float64(i/4)*6
		texts[i], order[i] = fmt.Sprintf("word%02d", i), i
	}
	boxes := placeLabels(px, py, texts, order, 0, 0, 800, 600)
	for i := range n {
		b := boxes[i]
		if b.x0 < 0 || b.x1 > 800 || b.y0 < 0 || b.y1 > 600 {
			t.Errorf("label %d outside the frame: %+v", i, b)
		}
		for j := i + 1; j < n; j++ {
			if o := b.overlap(boxes[j]); o > 0 {
				t.Errorf("labels %d and %d overlap (%g px²): %+v %+v", i, j, o, b, boxes[j])
			}
		}
	}
}

// TestPlotErrors: nothing to plot, non-finite points, absurd sizes.
func TestPlotErrors(t *testing.T) {
	one := &Projection{Points: []Point{{Word: "a"}}}
	for _, tt := range []struct {
		name string
		p    *Projection
		opts PlotOptions
		want string
	}{
		{"nil", nil, PlotOptions{}, "nothing to plot"},
		{"empty", &Projection{}, PlotOptions{}, "nothing to plot"},
		{"nan", &Projection{Points: []Point{{Word: "a", X: math.NaN()}}}, PlotOptions{}, `"a" is not finite`},
		{"tiny", one, PlotOptions{Width: 10, Height: 10}, "expected 200 to 20000"},
		{"huge", one, PlotOptions{Width: 1e6, Height: 600}, "expected 200 to 20000"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := PlotSVG(io.Discard, tt.p, tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
	// a single point (no spread at all) is still drawn
	var buf bytes.Buffer
	if err := PlotSVG(&buf, one, PlotOptions{}); err != nil {
		t.Fatal(err)
	}
	svgTexts(t, buf.Bytes())
}

// TestTokenWord: a typed word finds the token that starts a word, then the
// bare piece, then the lower-case forms; a marked word is looked up as typed.
func TestTokenWord(t *testing.T) {
	v, err := New([]string{"▁he", "he", "she", "Ġking", "▁the", "été"}, 1, make([]float32, 6))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ in, want string }{
		{"he", "▁he"}, {"she", "she"}, {"king", "Ġking"}, {"The", "▁the"}, {"ÉTÉ", "été"},
		{"▁he", "▁he"}, {"Ġhe", ""}, {"▁she", ""}, {"zz", ""},
	} {
		if got := TokenWord(v, tt.in); got != tt.want {
			t.Errorf("TokenWord(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// FuzzPlotSVG: whatever the words and coordinates, the picture is
// well-formed XML or a clear error, never a panic.
func FuzzPlotSVG(f *testing.F) {
	f.Add("roi", "<b>&amp;", 1.0, -2.0, "")
	f.Add("été", "\x00\xff", 0.0, 0.0, "été")
	f.Add("]]>", "'\"", 1e300, -1e300, "]]>")
	f.Fuzz(func(t *testing.T, w1, w2 string, x, y float64, hl string) {
		p := &Projection{Method: "pca", Points: []Point{{Word: w1, X: x, Y: y}, {Word: w2, X: -y, Y: x}, {Word: "c", X: 0, Y: 1}}}
		var buf bytes.Buffer
		if err := PlotSVG(&buf, p, PlotOptions{Title: w2, Highlight: hl}); err != nil {
			if !strings.Contains(err.Error(), "not finite") {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		svgTexts(t, buf.Bytes())
	})
}
