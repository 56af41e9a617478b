package train

import (
	"fmt"
	"io"
	"math"
	"strings"
)

// WriteCurveSVG draws the training loss (blue) and validation loss (orange,
// with dots) against the step as a self-contained SVG image.
func WriteCurveSVG(w io.Writer, curve []CurvePoint) {
	writeSeriesSVG(w, curve, "loss (nats/token)", "training loss", "validation loss", 1)
}

// WriteRewardSVG draws a GRPO run's mean reward of the training samples
// (blue) and of the validation prompts' greedy completions (orange, with
// dots), read from the curves' TrainLoss and ValLoss fields.
func WriteRewardSVG(w io.Writer, curve []CurvePoint) {
	writeSeriesSVG(w, curve, "mean reward", "training reward (samples)", "validation reward (greedy)", 0.25)
}

// writeSeriesSVG draws two series against the step; unit is the smallest
// grid step of the y axis (the range is rounded out to it).
func writeSeriesSVG(w io.Writer, curve []CurvePoint, ylabel, trainLabel, valLabel string, unit float64) {
	const (
		width, height = 720, 400
		left, right   = 60, 20
		top, bottom   = 30, 50
	)
	pw, ph := float64(width-left-right), float64(height-top-bottom)
	maxStep := 1
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, c := range curve {
		maxStep = max(maxStep, c.Step)
		for _, v := range []float64{c.TrainLoss, c.ValLoss} {
			if !math.IsNaN(v) && !math.IsInf(v, 0) {
				lo, hi = math.Min(lo, v), math.Max(hi, v)
			}
		}
	}
	if math.IsInf(lo, 1) {
		lo, hi = 0, 1
	}
	lo = math.Floor(lo/unit) * unit
	hi = math.Ceil(hi/unit) * unit
	if hi <= lo {
		hi = lo + unit
	}
	x := func(step int) float64 { return float64(left) + pw*float64(step)/float64(maxStep) }
	y := func(v float64) float64 { return float64(top) + ph*(1-(v-lo)/(hi-lo)) }
	fmt.Fprintf(w, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", width, height, width, height)
	fmt.Fprintf(w, `<rect width="%d" height="%d" fill="white"/>`+"\n", width, height)
	// Grid and axis labels.
	ticks := int(math.Round((hi - lo) / unit))
	stepY := 1
	for ticks/stepY > 10 {
		stepY *= 2
	}
	for i := 0; i <= ticks; i += stepY {
		v := lo + float64(i)*unit
		fmt.Fprintf(w, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#ddd"/>`+"\n", left, y(v), width-right, y(v))
		fmt.Fprintf(w, `<text x="%d" y="%.1f" text-anchor="end">%g</text>`+"\n", left-6, y(v)+4, v)
	}
	for i := 0; i <= 5; i++ {
		s := maxStep * i / 5
		fmt.Fprintf(w, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#ddd"/>`+"\n", x(s), top, x(s), height-bottom)
		fmt.Fprintf(w, `<text x="%.1f" y="%d" text-anchor="middle">%d</text>`+"\n", x(s), height-bottom+16, s)
	}
	fmt.Fprintf(w, `<text x="%.1f" y="%d" text-anchor="middle">step</text>`+"\n", float64(left)+pw/2, height-10)
	fmt.Fprintf(w, `<text x="14" y="%.1f" text-anchor="middle" transform="rotate(-90 14 %.1f)">%s</text>`+"\n", float64(top)+ph/2, float64(top)+ph/2, ylabel)
	var tr, va strings.Builder
	var dots strings.Builder
	for _, c := range curve {
		if !math.IsNaN(c.TrainLoss) {
			fmt.Fprintf(&tr, "%.1f,%.1f ", x(c.Step), y(c.TrainLoss))
		}
		if !math.IsNaN(c.ValLoss) {
			fmt.Fprintf(&va, "%.1f,%.1f ", x(c.Step), y(c.ValLoss))
			fmt.Fprintf(&dots, `<circle cx="%.1f" cy="%.1f" r="3" fill="#e67e22"/>`+"\n", x(c.Step), y(c.ValLoss))
		}
	}
	fmt.Fprintf(w, `<polyline fill="none" stroke="#2e86de" stroke-width="1.2" points="%s"/>`+"\n", strings.TrimSpace(tr.String()))
	if va.Len() > 0 {
		fmt.Fprintf(w, `<polyline fill="none" stroke="#e67e22" stroke-width="2" points="%s"/>`+"\n", strings.TrimSpace(va.String()))
		io.WriteString(w, dots.String())
	}
	fmt.Fprintf(w, `<text x="%d" y="18" fill="#2e86de">%s</text><text x="%d" y="18" fill="#e67e22">%s</text>`+"\n", left, trainLabel, left+max(110, 6*len(trainLabel)+30), valLabel)
	io.WriteString(w, "</svg>\n")
}
