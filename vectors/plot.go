package vectors

import (
	"bufio"
	"encoding/xml"
	"fmt"
	"io"
	"math"
	"strings"
	"unicode/utf8"
)

// TokenWord returns the token of a language model's embedding table (see
// glassbox.Model.TokenEmbeddings) that stands for a typed word: the token
// that starts a word, "▁word" (SentencePiece) or "Ġword" (byte-level BPE),
// when the vocabulary has it, else the piece "word" itself, else the same
// forms of the word in lower case; "" when there is none. A word typed with
// its marker is looked up as typed.
func TokenWord(v *Vectors, word string) string {
	if strings.HasPrefix(word, "▁") || strings.HasPrefix(word, "Ġ") {
		if v.Index(word) >= 0 {
			return word
		}
		return ""
	}
	lower := strings.ToLower(word)
	for _, t := range []string{"▁" + word, "Ġ" + word, word, "▁" + lower, "Ġ" + lower, lower} {
		if v.Index(t) >= 0 {
			return t
		}
	}
	return ""
}

// PlotOptions says how PlotSVG draws a projection.
type PlotOptions struct {
	// Title is written above the plot ("" for none).
	Title string
	// Highlight is a word drawn in another colour and first to get its
	// label placed (the query of a neighbours plot); "" for none.
	Highlight string
	// Width and Height are the picture's size in pixels (800×600 when 0).
	Width, Height int
}

const (
	plotFont   = 13.0 // label font size, px
	plotCharW  = 0.62 // average glyph width as a fraction of the font size
	plotMargin = 48.0
)

// labelBox is a placed label: its text anchor and its bounding box.
type labelBox struct {
	x, y           float64 // text anchor (start, baseline)
	x0, y0, x1, y1 float64
	lead           bool // drawn away from its point: a leader line joins them
}

func (a labelBox) overlap(b labelBox) float64 {
	w := math.Min(a.x1, b.x1) - math.Max(a.x0, b.x0)
	h := math.Min(a.y1, b.y1) - math.Max(a.y0, b.y0)
	if w <= 0 || h <= 0 {
		return 0
	}
	return w * h
}

// placeLabels chooses where each label goes: next to its point, trying
// positions around it at growing distances, the first that overlaps no
// label placed before, no point and stays inside the frame; failing that,
// the position of least overlap. order gives the placement order.
func placeLabels(px, py []float64, texts []string, order []int, fx0, fy0, fx1, fy1 float64) []labelBox {
	boxes := make([]labelBox, len(px))
	placed := make([]bool, len(px))
	const pr = 3.5 // point radius
	for _, i := range order {
		w := float64(utf8.RuneCountInString(texts[i]))*plotFont*plotCharW + 2
		h := plotFont + 2
		best, bestCost := labelBox{}, math.Inf(1)
	search:
		for _, dist := range []float64{5, 12, 22, 34, 48} {
			// right, left, above, below, and the diagonals
			for _, d := range [][2]float64{{1, -0.2}, {-1, -0.2}, {0, -1}, {0, 1}, {1, -1}, {1, 1}, {-1, -1}, {-1, 1}} {
				var b labelBox
				cx, cy := px[i]+d[0]*dist, py[i]+d[1]*dist
				switch {
				case d[0] > 0:
					b.x0 = cx
				case d[0] < 0:
					b.x0 = cx - w
				default:
					b.x0 = cx - w/2
				}
				switch {
				case d[1] < -0.5:
					b.y1 = cy
				case d[1] > 0.5:
					b.y1 = cy + h
				default:
					b.y1 = cy + h/2
				}
				b.x1, b.y0 = b.x0+w, b.y1-h
				b.x, b.y = b.x0+1, b.y1-3.5
				b.lead = dist > 12
				cost := 0.0
				if b.x0 < fx0 || b.x1 > fx1 || b.y0 < fy0 || b.y1 > fy1 {
					cost += 1e6
				}
				for j := range px {
					if placed[j] {
						cost += b.overlap(boxes[j])
					}
					if j != i {
						cost += b.overlap(labelBox{x0: px[j] - pr, y0: py[j] - pr, x1: px[j] + pr, y1: py[j] + pr})
					}
				}
				cost += dist * 1e-3 // nearer is better among equals
				if cost < bestCost {
					best, bestCost = b, cost
				}
				if cost < 1 {
					break search
				}
			}
		}
		boxes[i], placed[i] = best, true
	}
	return boxes
}

// PlotSVG writes the projection as an SVG picture: one dot and label per
// word, the axes through the origin (the words' mean), noted PC1 and PC2 with
// the share of the variance each holds (t-SNE 1 and 2 for a t-SNE layout). Both axes have the same scale, so
// distances on the picture are distances in the plane. Every text is XML
// escaped, so any word (markup characters, accents, control bytes) is safe.
func PlotSVG(w io.Writer, p *Projection, opts PlotOptions) error {
	if p == nil || len(p.Points) == 0 {
		return fmt.Errorf("vectors: nothing to plot")
	}
	W, H := float64(opts.Width), float64(opts.Height)
	if W <= 0 {
		W = 800
	}
	if H <= 0 {
		H = 600
	}
	if W < 200 || H < 150 || W > 20000 || H > 20000 {
		return fmt.Errorf("vectors: a plot of %g×%g px, expected 200 to 20000 wide and 150 to 20000 high", W, H)
	}
	top := plotMargin
	if opts.Title != "" {
		top += 18
	}
	// plot frame, and room inside it for labels
	fx0, fy0, fx1, fy1 := plotMargin, top, W-16, H-plotMargin
	ix0, iy0, ix1, iy1 := fx0+70, fy0+24, fx1-70, fy1-24
	minX, maxX, minY, maxY := math.Inf(1), math.Inf(-1), math.Inf(1), math.Inf(-1)
	for _, pt := range p.Points {
		if math.IsNaN(pt.X) || math.IsNaN(pt.Y) || math.IsInf(pt.X, 0) || math.IsInf(pt.Y, 0) {
			return fmt.Errorf("vectors: the point of %q is not finite", pt.Word)
		}
		minX, maxX = math.Min(minX, pt.X), math.Max(maxX, pt.X)
		minY, maxY = math.Min(minY, pt.Y), math.Max(maxY, pt.Y)
	}
	// keep the origin in view: the axes cross there
	minX, maxX, minY, maxY = math.Min(minX, 0), math.Max(maxX, 0), math.Min(minY, 0), math.Max(maxY, 0)
	spanX, spanY := maxX-minX, maxY-minY
	scale := math.Inf(1)
	if spanX > 0 {
		scale = (ix1 - ix0) / spanX
	}
	if spanY > 0 {
		scale = math.Min(scale, (iy1-iy0)/spanY)
	}
	if math.IsInf(scale, 1) {
		scale = 1
	}
	cx, cy := (ix0+ix1)/2, (iy0+iy1)/2
	mx, my := (minX+maxX)/2, (minY+maxY)/2
	toX := func(x float64) float64 { return cx + (x-mx)*scale }
	toY := func(y float64) float64 { return cy - (y-my)*scale } // y up
	n := len(p.Points)
	px, py, texts := make([]float64, n), make([]float64, n), make([]string, n)
	order := make([]int, 0, n)
	for i, pt := range p.Points {
		px[i], py[i], texts[i] = toX(pt.X), toY(pt.Y), pt.Word
		if pt.Word == opts.Highlight {
			order = append([]int{i}, order...)
		} else {
			order = append(order, i)
		}
	}
	boxes := placeLabels(px, py, texts, order, fx0, fy0, fx1, fy1)

	bw := bufio.NewWriter(w)
	esc := func(s string) string {
		var b strings.Builder
		xml.EscapeText(&b, []byte(s))
		return b.String()
	}
	f := func(x float64) string { return fmt.Sprintf("%.1f", x) }
	fmt.Fprintf(bw, `<svg xmlns="http://www.w3.org/2000/svg" width="%s" height="%s" viewBox="0 0 %s %s" font-family="system-ui, -apple-system, 'Segoe UI', sans-serif" font-size="%g">`+"\n",
		f(W), f(H), f(W), f(H), plotFont)
	fmt.Fprintf(bw, `<rect width="100%%" height="100%%" fill="#ffffff"/>`+"\n")
	if opts.Title != "" {
		fmt.Fprintf(bw, `<text x="%s" y="%s" font-size="16" font-weight="600" fill="#222">%s</text>`+"\n", f(fx0), f(plotMargin-10), esc(opts.Title))
	}
	fmt.Fprintf(bw, `<rect x="%s" y="%s" width="%s" height="%s" fill="none" stroke="#ccc"/>`+"\n", f(fx0), f(fy0), f(fx1-fx0), f(fy1-fy0))
	ox, oy := toX(0), toY(0)
	fmt.Fprintf(bw, `<g stroke="#999" stroke-dasharray="4 4"><line x1="%s" y1="%s" x2="%s" y2="%s"/><line x1="%s" y1="%s" x2="%s" y2="%s"/></g>`+"\n",
		f(fx0), f(oy), f(fx1), f(oy), f(ox), f(fy0), f(ox), f(fy1))
	axis := func(c int) string {
		if p.Method == "tsne" {
			return fmt.Sprintf("t-SNE %d (distances between groups mean little)", c+1)
		}
		return fmt.Sprintf("PC%d (%.1f %% of the variance)", c+1, 100*p.Explained[c])
	}
	fmt.Fprintf(bw, `<text x="%s" y="%s" text-anchor="middle" fill="#444">%s</text>`+"\n", f((fx0+fx1)/2), f(fy1+30), esc(axis(0)))
	fmt.Fprintf(bw, `<text transform="translate(%s %s) rotate(-90)" text-anchor="middle" fill="#444">%s</text>`+"\n", f(fx0-16), f((fy0+fy1)/2), esc(axis(1)))
	for i := range n {
		if b := boxes[i]; b.lead {
			// from the point to the nearest edge of its label
			lx, ly := math.Max(b.x0, math.Min(px[i], b.x1)), math.Max(b.y0, math.Min(py[i], b.y1))
			fmt.Fprintf(bw, `<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="#bbb"/>`+"\n", f(px[i]), f(py[i]), f(lx), f(ly))
		}
	}
	for i := range n {
		fill := "#2563eb"
		if texts[i] == opts.Highlight {
			fill = "#dc2626"
		}
		fmt.Fprintf(bw, `<circle cx="%s" cy="%s" r="3.5" fill="%s"/>`+"\n", f(px[i]), f(py[i]), fill)
	}
	for i := range n {
		b := boxes[i]
		weight := ""
		if texts[i] == opts.Highlight {
			weight = ` font-weight="700"`
		}
		fmt.Fprintf(bw, `<text x="%s" y="%s" fill="#111" stroke="#fff" stroke-width="3" paint-order="stroke"%s>%s</text>`+"\n", f(b.x), f(b.y), weight, esc(texts[i]))
	}
	fmt.Fprintln(bw, "</svg>")
	return bw.Flush()
}
