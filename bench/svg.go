package main

import (
	"fmt"
	"html"
	"io"
	"math"
	"strings"
)

// svg draws the arca/restic ratios as a horizontal bar chart: one group
// per scenario (and corpus), a bar for wall time and one for peak memory,
// a reference line at 1.0. Hand-written SVG, no dependency.
func (rep *report) svg(w io.Writer) {
	const (
		width    = 920
		labelW   = 270
		left     = labelW + 10
		right    = width - 70
		top      = 78
		groupH   = 40
		barH     = 13
		maxScale = 4.0
	)
	scale := 2.0
	for _, r := range rep.Results {
		for _, x := range []float64{r.ratio(wallSeconds), r.ratio(rssMiB)} {
			scale = math.Max(scale, math.Min(math.Ceil(x*2)/2, maxScale))
		}
	}
	xOf := func(v float64) float64 { return left + (right-left)*math.Min(v, scale)/scale }
	height := top + groupH*len(rep.Results) + 40
	fmt.Fprintf(w, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="13">`+"\n", width, height, width, height)
	fmt.Fprintf(w, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	rounds := fmt.Sprintf("median of %d rounds", rep.Rounds)
	if rep.Rounds == 1 {
		rounds = "one round"
	}
	fmt.Fprintf(w, `<text x="10" y="22" font-size="16" font-weight="bold">arca / restic, %s (below 1.0: arca is faster or uses less memory)</text>`+"\n", rounds)
	fmt.Fprintf(w, `<rect x="10" y="36" width="14" height="12" fill="#4e79a7"/><text x="30" y="47">wall time</text>`+"\n")
	fmt.Fprintf(w, `<rect x="120" y="36" width="14" height="12" fill="#f28e2b"/><text x="140" y="47">peak memory (RSS)</text>`+"\n")
	fmt.Fprintf(w, `<text x="320" y="47" fill="#555">%s</text>`+"\n", html.EscapeString(fmt.Sprintf("%s, %d cores; %s; %s repositories", rep.Machine.CPU, rep.Machine.Cores, shortVersion(rep.Machine.Restic), rep.Backend)))
	bottom := top + groupH*len(rep.Results)
	for t := 0.0; t <= scale+1e-9; t += 0.5 {
		x := xOf(t)
		fmt.Fprintf(w, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#ddd"/>`+"\n", x, top-6, x, bottom)
		fmt.Fprintf(w, `<text x="%.1f" y="%d" text-anchor="middle" fill="#555">%.1f</text>`+"\n", x, bottom+16, t)
	}
	for i, r := range rep.Results {
		y := top + i*groupH
		fmt.Fprintf(w, `<text class="scenario" x="%d" y="%d" text-anchor="end">%s</text>`+"\n", labelW, y+groupH/2+4, html.EscapeString(r.Name+" ("+r.Corpus+")"))
		if !r.measured() {
			fmt.Fprintf(w, `<text x="%d" y="%d" fill="#888">%s</text>`+"\n", left+4, y+groupH/2+4, html.EscapeString(r.unavailable()))
			continue
		}
		for j, bar := range []struct {
			v     float64
			color string
		}{{r.ratio(wallSeconds), "#4e79a7"}, {r.ratio(rssMiB), "#f28e2b"}} {
			by := y + 6 + j*(barH+2)
			x := xOf(bar.v)
			fmt.Fprintf(w, `<rect x="%d" y="%d" width="%.1f" height="%d" fill="%s"/>`+"\n", left, by, x-left, barH, bar.color)
			label := fmt.Sprintf("%.2f", bar.v)
			if bar.v > scale {
				label += " ▶"
			}
			fmt.Fprintf(w, `<text x="%.1f" y="%d" font-size="11">%s</text>`+"\n", x+4, by+barH-2, label)
		}
	}
	one := xOf(1)
	fmt.Fprintf(w, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#c00" stroke-width="1.5" stroke-dasharray="5,3"/>`+"\n", one, top-10, one, bottom)
	fmt.Fprintf(w, `<text x="%.1f" y="%d" text-anchor="middle" fill="#c00" font-size="11">1.0 = same as restic</text>`+"\n", one, top-14)
	fmt.Fprintln(w, "</svg>")
}

// shortVersion keeps the program and version of a "restic 0.19.1 compiled
// with …" line.
func shortVersion(v string) string {
	if f := strings.Fields(v); len(f) >= 2 {
		return f[0] + " " + f[1]
	}
	return v
}
