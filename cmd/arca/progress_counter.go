package main

import (
	"fmt"
	"io"
	"sync"
	"time"
)

// progressCounter renders restic's simple "[0:01] 50.00%  1 / 2 snapshots"
// counter: a status line redrawn on a terminal, and the final line when
// done (on a terminal or not). A nil counter does nothing.
type progressCounter struct {
	a        *app
	items    string
	start    time.Time
	terminal bool
	interval time.Duration

	mu          sync.Mutex
	done, total int
	lastDraw    time.Time
	drawn       bool
}

func newProgressCounter(a *app, items string) *progressCounter {
	c := &progressCounter{a: a, items: items, start: time.Now(), terminal: a.stdoutIsTerminal()}
	c.interval, _ = progressInterval()
	return c
}

func (c *progressCounter) line() string {
	d := formatDuration(time.Since(c.start))
	if c.total == 0 {
		return fmt.Sprintf("[%s]          %d %s", d, c.done, c.items)
	}
	return fmt.Sprintf("[%s] %s  %d / %d %s", d, formatPercent(uint64(c.done), uint64(c.total)), c.done, c.total, c.items)
}

// update records progress and redraws the status line on a terminal.
func (c *progressCounter) update(done, total int) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.done, c.total = done, total
	if !c.terminal || time.Since(c.lastDraw) < c.interval {
		return
	}
	c.lastDraw = time.Now()
	io.WriteString(c.a.stdout, "\r"+c.line()+"\x1b[K")
	c.drawn = true
}

// clear removes the status line before other output is printed.
func (c *progressCounter) clear() {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.drawn {
		io.WriteString(c.a.stdout, "\r\x1b[K")
		c.drawn = false
	}
}

// finish prints the final line.
func (c *progressCounter) finish() {
	if c == nil {
		return
	}
	c.clear()
	c.mu.Lock()
	defer c.mu.Unlock()
	io.WriteString(c.a.stdout, c.line()+"\n")
}
