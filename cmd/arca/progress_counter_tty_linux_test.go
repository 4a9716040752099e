package main

import (
	"os"
	"strings"
	"testing"
	"time"
)

// TestCounterLineMakesRoomForWarnings: a warning printed while a
// counter's status line is on the terminal comes out on a row of its own
// (the status line is cleared first and drawn again below it), as
// restic's terminal output does, and the counter's final line replaces
// the status line.
func TestCounterLineMakesRoomForWarnings(t *testing.T) {
	out, _ := captureTerminal(t, func(tty *os.File) int {
		a := newApp(strings.NewReader(""), tty, tty)
		c := newProgressCounter(a, "snapshots", time.Now().Add(-time.Second))
		c.interval = 0 // draw at every update
		c.update(1, 3)
		a.warnf("error for tree 1234abcd\n")
		c.update(2, 3)
		a.warnf("error for tree 5678ef01\n")
		c.update(3, 3)
		c.finish()
		return 0
	})
	scr := &screen{}
	if _, err := scr.Write([]byte(out)); err != nil {
		t.Fatalf("%v in %q", err, out)
	}
	want := "error for tree 1234abcd\nerror for tree 5678ef01\n[0:01] 100.00%  3 / 3 snapshots"
	if got := scr.text(); got != want {
		t.Errorf("screen:\n%s\nwant:\n%s\n(written: %q)", got, want, out)
	}
}
