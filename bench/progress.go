package main

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// progressBar prints a one-line progress bar to a terminal (or plain lines
// to a file).
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
	filled := width * (p.n - 1) / max(p.total, 1)
	fmt.Fprintf(p.w, "[%6.1fs] [%s%s] %d/%d %s\n", time.Since(p.start).Seconds(), strings.Repeat("#", filled), strings.Repeat(".", width-filled), p.n, p.total, msg)
}

func (p *progressBar) done() {
	fmt.Fprintf(p.w, "[%6.1fs] done\n", time.Since(p.start).Seconds())
}
