package main

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// progressBar prints a progress line per step with the time remaining
// (extrapolated from the steps done), plus notes.
type progressBar struct {
	w     io.Writer
	total int
	n     int
	start time.Time
}

func newProgressBar(w io.Writer, total int) *progressBar {
	return &progressBar{w: w, total: total, start: time.Now()}
}

func (p *progressBar) note(msg string) {
	fmt.Fprintf(p.w, "[%6.1fs] %s\n", time.Since(p.start).Seconds(), msg)
}

func (p *progressBar) step(msg string) {
	p.n++
	const width = 30
	done := p.n - 1
	filled := width * done / max(p.total, 1)
	eta := ""
	if done > 0 {
		left := time.Duration(float64(time.Since(p.start)) / float64(done) * float64(p.total-done))
		eta = fmt.Sprintf(" ~%s left", left.Round(time.Second))
	}
	fmt.Fprintf(p.w, "[%6.1fs] [%s%s] %d/%d%s %s\n", time.Since(p.start).Seconds(), strings.Repeat("#", filled), strings.Repeat(".", width-filled), p.n, p.total, eta, msg)
}

func (p *progressBar) done() {
	fmt.Fprintf(p.w, "[%6.1fs] done\n", time.Since(p.start).Seconds())
}
