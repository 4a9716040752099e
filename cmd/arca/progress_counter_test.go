package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/arca-backup/arca/repo/prune"
)

// TestCounterLinesForLogs: where the output is no terminal, a counter
// prints only its final line, unless RESTIC_PROGRESS_FPS asks for
// progress: then it prints its line as it changes, at most once per
// interval and not before the first, as restic does for logs.
func TestCounterLinesForLogs(t *testing.T) {
	count := func(fps string) []string {
		t.Setenv("RESTIC_PROGRESS_FPS", fps)
		var out bytes.Buffer
		c := newProgressCounter(newApp(strings.NewReader(""), &out, &out), "packs", time.Now())
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

// TestPruneCounterView: prune's counters, reported by name, show their
// running line in a log with RESTIC_PROGRESS_FPS and end in their final
// line; a counter that was never shown (no progress before its end)
// gets its final line through the caller's printer.
func TestPruneCounterView(t *testing.T) {
	t.Setenv("RESTIC_PROGRESS_FPS", "60")
	var out bytes.Buffer
	view := &counterView{a: newApp(strings.NewReader(""), &out, &out)}
	view.clear() // nothing running: nothing to clear
	var printed []string
	print := func(l string) { printed = append(printed, l) }
	view.progress(prune.Counter{Name: "snapshots", Total: 2}) // the first interval: not shown
	for done := uint64(1); done <= 2; done++ {
		view.cur.lastDraw = time.Time{}
		view.progress(prune.Counter{Name: "snapshots", Done: done, Total: 2})
	}
	view.end(prune.Counter{Name: "snapshots", Done: 2, Total: 2}, print)
	view.progress(prune.Counter{Name: "packs processed", Total: 3})
	view.end(prune.Counter{Name: "packs processed", Done: 3, Total: 3}, print)
	view.end(prune.Counter{Name: "files deleted", Done: 1, Total: 1, Elapsed: 61 * time.Second}, print)
	want := []string{"[0:00] 50.00%  1 / 2 snapshots", "[0:00] 100.00%  2 / 2 snapshots", "[0:00] 100.00%  3 / 3 packs processed"}
	if got := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n"); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("lines:\n%q\nwant\n%q", got, want)
	}
	if want := []string{"[1:01] 100.00%  1 / 1 files deleted"}; strings.Join(printed, "\n") != strings.Join(want, "\n") {
		t.Errorf("printed by the caller: %q, want %q", printed, want)
	}
}
