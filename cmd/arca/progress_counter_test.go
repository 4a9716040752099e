package main

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// TestCounterLinesForLogs: where the output is no terminal, a counter
// prints only its final line, unless RESTIC_PROGRESS_FPS asks for
// progress: then it prints its line as it changes, at most once per
// interval and not before the first, as restic does for logs.
func TestCounterLinesForLogs(t *testing.T) {
	count := func(fps string) []string {
		t.Setenv("RESTIC_PROGRESS_FPS", fps)
		var out bytes.Buffer
		c := newProgressCounter(newApp(strings.NewReader(""), &out, &out), "packs")
		c.update(0, 4) // within the first interval: not shown
		for done := 1; done <= 4; done++ {
			c.mu.Lock()
			c.lastDraw = time.Time{} // the interval has passed
			c.mu.Unlock()
			c.update(done, 4)
			if done == 2 {
				c.update(done, 4) // the same line again: not repeated
			}
		}
		c.finish() // the final line is the last one shown: not repeated
		return strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	}
	got := count("60")
	want := []string{"[0:00] 25.00%  1 / 4 packs", "[0:00] 50.00%  2 / 4 packs", "[0:00] 75.00%  3 / 4 packs", "[0:00] 100.00%  4 / 4 packs"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("with RESTIC_PROGRESS_FPS:\n%q\nwant\n%q", got, want)
	}
	got = count("")
	if want := []string{"[0:00] 100.00%  4 / 4 packs"}; strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("without RESTIC_PROGRESS_FPS:\n%q\nwant\n%q", got, want)
	}
}
