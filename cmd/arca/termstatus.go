package main

import (
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/term"
	"golang.org/x/text/width"
)

// termStatus keeps a few status lines at the bottom of a terminal, as
// restic's backup does: the lines are drawn with the cursor left at the
// start of the first, so that each redraw overwrites them, and text printed
// meanwhile (through a writer from through) first clears them, then gets
// them drawn again below it.
//
// Where the output is not a terminal (plain), each change of the lines is
// printed as new lines instead, as restic prints its status to a log when
// RESTIC_PROGRESS_FPS is set.
type termStatus struct {
	mu    sync.Mutex
	tty   io.Writer  // the terminal the lines are drawn on
	width func() int // its width in columns (0 or less: 80)
	plain bool       // not a terminal
	shown []string   // the lines on the screen
}

// newPlainStatus returns status lines printed to w, which is not a
// terminal.
func newPlainStatus(w io.Writer) *termStatus {
	return &termStatus{tty: w, plain: true}
}

// newTermStatus returns the status lines of the terminal tty.
func newTermStatus(tty *os.File) *termStatus {
	return &termStatus{tty: tty, width: func() int {
		cols, _, err := term.GetSize(int(tty.Fd()))
		if err != nil {
			return 0
		}
		return cols
	}}
}

// progressInterval is how often progress is shown: ten times a second, or
// RESTIC_PROGRESS_FPS times (at most 60), as restic. set tells whether
// the variable set it.
func progressInterval() (d time.Duration, set bool) {
	if fps, err := strconv.ParseFloat(os.Getenv("RESTIC_PROGRESS_FPS"), 64); err == nil && fps > 0 {
		return time.Duration(float64(time.Second) / min(fps, 60)), true
	}
	return time.Second / 10, false
}

// set replaces the status lines (nil removes them from a terminal, and
// prints nothing where the output is plain). A line is shown
// quoted when it holds characters a terminal would not print as they are,
// and cut to the terminal's width, so that it takes one row.
func (t *termStatus) set(lines []string) {
	cols := -1
	if !t.plain {
		cols = t.width()
		if cols <= 0 {
			cols = 80
		}
	}
	fitted := make([]string, len(lines))
	for i, l := range lines {
		fitted[i] = quoteUnprintable(l)
		if cols > 0 {
			fitted[i] = truncateColumns(fitted[i], cols-2)
		}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if slices.Equal(fitted, t.shown) {
		return
	}
	if t.plain {
		for _, l := range fitted {
			_, _ = io.WriteString(t.tty, l+"\n")
		}
		t.shown = fitted
		return
	}
	t.draw(fitted)
}

// draw writes lines over the shown ones, blanking those it has no line
// for, and moves the cursor back to the start of the first.
func (t *termStatus) draw(lines []string) {
	rows := max(len(lines), len(t.shown))
	if rows == 0 {
		return
	}
	var b strings.Builder
	for i := range rows {
		b.WriteString("\r\x1b[2K") // to the first column, clear the row
		if i < len(lines) {
			b.WriteString(lines[i])
		}
		if i < rows-1 {
			b.WriteByte('\n')
		}
	}
	b.WriteString("\r" + strings.Repeat("\x1b[1A", rows-1))
	_, _ = io.WriteString(t.tty, b.String())
	t.shown = lines
}

// through returns a writer to w (the terminal or another stream shown on
// it) that clears the status lines before each write and draws them again
// after it.
func (t *termStatus) through(w io.Writer) io.Writer {
	if t.plain {
		return w
	}
	return writerFunc(func(p []byte) (int, error) {
		t.mu.Lock()
		defer t.mu.Unlock()
		shown := t.shown
		t.draw(nil)
		n, err := w.Write(p)
		t.draw(shown)
		return n, err
	})
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// quoteUnprintable quotes s (Go syntax) when it holds invalid UTF-8 or a
// character that is not printable, such as a control character in a file
// name, which would move the cursor.
func quoteUnprintable(s string) string {
	for _, r := range s {
		if r == utf8.RuneError || !unicode.IsPrint(r) {
			return strconv.Quote(s)
		}
	}
	return s
}

// truncateColumns cuts s to at most cols terminal columns: East Asian
// wide and fullwidth characters take two.
func truncateColumns(s string, cols int) string {
	used := 0
	for i, r := range s {
		w := 1
		switch width.LookupRune(r).Kind() {
		case width.EastAsianWide, width.EastAsianFullwidth:
			w = 2
		}
		if used+w > cols {
			return s[:i]
		}
		used += w
	}
	return s
}
