package main

import (
	"fmt"
	"io"
	"sync"
	"time"
)

// progressCounter renders restic's simple "[0:01] 50.00%  1 / 2 snapshots"
// counter: a status line redrawn on a terminal (the app's status, which
// output printed meanwhile clears and draws again below it), and the
// final line when done (on a terminal or not). Where the output is no
// terminal but RESTIC_PROGRESS_FPS asks for progress, the lines are
// printed as they change, as restic does for logs. A nil counter does
// nothing.
type progressCounter struct {
	a        *app
	items    string
	start    time.Time
	terminal bool
	plain    bool // lines for a log (RESTIC_PROGRESS_FPS)
	interval time.Duration

	mu          sync.Mutex
	done, total int
	lastDraw    time.Time
	drawn       bool
	lastPlain   string
}

// newProgressCounter returns a counter of items that started at start;
// its first line comes one interval later, as restic's first tick.
func newProgressCounter(a *app, items string, start time.Time) *progressCounter {
	c := &progressCounter{a: a, items: items, start: start, lastDraw: start, terminal: a.stdoutIsTerminal()}
	var fpsSet bool
	c.interval, fpsSet = progressInterval()
	c.plain = !c.terminal && fpsSet
	return c
}

// shownCounter is newProgressCounter where restic shows its counters:
// nil with --quiet or --json.
func (a *app) shownCounter(items string, start time.Time) *progressCounter {
	if a.opts.JSON || a.opts.verbosity() < 1 {
		return nil
	}
	return newProgressCounter(a, items, start)
}

func (c *progressCounter) line() string {
	return counterText(time.Since(c.start), uint64(c.done), uint64(c.total), c.items)
}

// counterText is a counter's line: "[0:01] 50.00%  1 / 2 snapshots", or
// "[0:01]          1 snapshots" when there is no total.
func counterText(elapsed time.Duration, done, total uint64, items string) string {
	d := formatDuration(elapsed)
	if total == 0 {
		return fmt.Sprintf("[%s]          %d %s", d, done, items)
	}
	return fmt.Sprintf("[%s] %s  %d / %d %s", d, formatPercent(done, total), done, total, items)
}

// update records progress and redraws the status line on a terminal.
func (c *progressCounter) update(done, total int) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.done, c.total = done, total
	if !(c.terminal || c.plain) || time.Since(c.lastDraw) < c.interval {
		return
	}
	c.lastDraw = time.Now()
	line := c.line()
	if c.plain {
		if line != c.lastPlain {
			io.WriteString(c.a.stdout, line+"\n")
			c.lastPlain = line
		}
		return
	}
	c.a.status.set([]string{line})
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
		c.a.status.set(nil)
		c.drawn = false
	}
}

// finish prints the final line (unless a log has it already).
func (c *progressCounter) finish() {
	if c == nil {
		return
	}
	c.clear()
	c.mu.Lock()
	defer c.mu.Unlock()
	if line := c.line(); line != c.lastPlain {
		io.WriteString(c.a.stdout, line+"\n")
	}
}

// indexCounter is restic's "index files loaded" counter, which restic
// shows on a terminal only, and not with --quiet or --json: a status
// line while the index files load, then the final line. A held counter
// (backup's, whose index loads while it looks for the parent snapshot)
// draws no status line and prints its final line once released, so that
// it comes after the lines printed meanwhile, where restic prints it.
type indexCounter struct {
	a    *app
	hold bool

	before func() // called before the first line, if set

	mu                     sync.Mutex
	c                      *progressCounter
	loaded, released, done bool
}

// first sets a function called before the counter's first line (a
// warning restic prints before the index loads) and returns ic.
func (ic *indexCounter) first(before func()) *indexCounter {
	if ic != nil {
		ic.before = before
	}
	return ic
}

// newIndexCounter returns the counter for one repository's index, nil
// where restic shows none.
func (a *app) newIndexCounter(hold bool) *indexCounter {
	if a.opts.JSON || a.opts.verbosity() < 1 || !a.stdoutIsTerminal() {
		return nil
	}
	return &indexCounter{a: a, hold: hold}
}

// hook returns the engine's IndexProgress for the counter (nil for nil).
func (ic *indexCounter) hook() func(done, total int) {
	if ic == nil {
		return nil
	}
	return ic.progress
}

func (ic *indexCounter) progress(done, total int) {
	ic.mu.Lock()
	defer ic.mu.Unlock()
	if ic.c == nil {
		if ic.before != nil {
			ic.before()
		}
		ic.c = newProgressCounter(ic.a, "index files loaded", time.Now())
		ic.c.terminal = !ic.hold // a held counter only counts
	}
	ic.c.update(done, total)
	if done == total {
		ic.loaded = true
		ic.finish()
	}
}

// release lets a held counter print its final line, now if the index
// is loaded, else once it is.
func (ic *indexCounter) release() {
	if ic == nil {
		return
	}
	ic.mu.Lock()
	defer ic.mu.Unlock()
	ic.released = true
	ic.finish()
}

// finish prints the final line once. Call with ic.mu held.
func (ic *indexCounter) finish() {
	if ic.done || !ic.loaded || (ic.hold && !ic.released) {
		return
	}
	ic.done = true
	ic.c.finish()
}
