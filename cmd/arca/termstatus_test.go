package main

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"
)

// screen replays what termStatus writes on a terminal of fixed rows: \r,
// \n, ESC[2K (clear the row) and ESC[1A (up one row); anything else is
// text written at the cursor.
type screen struct {
	rows     []string
	row, col int
}

func (s *screen) Write(p []byte) (int, error) {
	text := string(p)
	for len(text) > 0 {
		switch {
		case strings.HasPrefix(text, "\x1b[2K"):
			s.grow()
			s.rows[s.row] = ""
			text = text[4:]
		case strings.HasPrefix(text, "\x1b[K"): // clear to the end of the row
			s.grow()
			if line := []rune(s.rows[s.row]); s.col < len(line) {
				s.rows[s.row] = string(line[:s.col])
			}
			text = text[3:]
		case strings.HasPrefix(text, "\x1b[1A"):
			if s.row == 0 {
				return 0, fmt.Errorf("cursor moved above the first row")
			}
			s.row--
			text = text[4:]
		case text[0] == '\r':
			s.col = 0
			text = text[1:]
		case text[0] == '\n':
			s.row++
			s.col = 0
			text = text[1:]
		case text[0] == '\x1b':
			return 0, fmt.Errorf("unexpected escape sequence %q", text)
		default:
			s.grow()
			line := []rune(s.rows[s.row])
			for len(line) < s.col {
				line = append(line, ' ')
			}
			r := []rune(text[:1])
			if s.col < len(line) {
				line[s.col] = r[0]
			} else {
				line = append(line, r[0])
			}
			s.rows[s.row] = string(line)
			s.col++
			text = text[1:]
		}
	}
	return len(p), nil
}

func (s *screen) grow() {
	for len(s.rows) <= s.row {
		s.rows = append(s.rows, "")
	}
}

// text returns the screen's rows without trailing empty ones.
func (s *screen) text() string {
	rows := append([]string(nil), s.rows...)
	for len(rows) > 0 && rows[len(rows)-1] == "" {
		rows = rows[:len(rows)-1]
	}
	return strings.Join(rows, "\n")
}

func TestTermStatusKeepsLinesBelowOutput(t *testing.T) {
	scr := &screen{}
	ts := &termStatus{tty: scr, width: func() int { return 40 }}
	out := ts.through(scr)

	fmt.Fprintf(out, "no parent snapshot found\n")
	ts.set([]string{"[0:01] 1 files", "/src/a-long-file-name", "/b"})
	if got, want := scr.text(), "no parent snapshot found\n[0:01] 1 files\n/src/a-long-file-name\n/b"; got != want {
		t.Fatalf("screen:\n%s\nwant:\n%s", got, want)
	}
	if scr.row != 1 {
		t.Errorf("cursor on row %d, want 1 (the first status line)", scr.row)
	}
	// a message of shorter lines than the status: nothing of the old
	// lines is left, and the status comes back below it
	fmt.Fprintf(out, "error: x\nof two\n")
	if got, want := scr.text(), "no parent snapshot found\nerror: x\nof two\n[0:01] 1 files\n/src/a-long-file-name\n/b"; got != want {
		t.Fatalf("screen:\n%s\nwant:\n%s", got, want)
	}
	ts.set([]string{"[0:02] 2 files"})
	if got, want := scr.text(), "no parent snapshot found\nerror: x\nof two\n[0:02] 2 files"; got != want {
		t.Fatalf("screen:\n%s\nwant:\n%s", got, want)
	}
	ts.set(nil)
	fmt.Fprintf(out, "Files: 2 new\n")
	if got, want := scr.text(), "no parent snapshot found\nerror: x\nof two\nFiles: 2 new"; got != want {
		t.Fatalf("screen:\n%s\nwant:\n%s", got, want)
	}
}

func TestTermStatusFitsLines(t *testing.T) {
	var buf bytes.Buffer
	ts := &termStatus{tty: &buf, width: func() int { return 12 }}
	ts.set([]string{"0123456789abcdef", "日本語のファイル", "bad\nname"})
	got := strings.Split(strings.TrimSuffix(buf.String(), "\r\x1b[1A\x1b[1A"), "\n")
	want := []string{"\r\x1b[2K0123456789", "\r\x1b[2K日本語のフ", "\r\x1b[2K\"bad\\nname"}
	if len(got) != len(want) {
		t.Fatalf("wrote %q", buf.String())
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("line %d: %q, want %q", i, got[i], want[i])
		}
	}
	// the same lines again write nothing
	n := buf.Len()
	ts.set([]string{"0123456789abcdef", "日本語のファイル", "bad\nname"})
	if buf.Len() != n {
		t.Errorf("unchanged status redrawn: %q", buf.String()[n:])
	}
}

func TestBackupTextStatus(t *testing.T) {
	p := newBackupProgress(nil, time.Now().Add(-65*time.Second))
	p.currentFiles = map[string]struct{}{"/src/b": {}, "/src/a": {}}
	p.filesDone, p.bytesDone, p.errors = 3, 5<<20, 1
	p.rate.add(time.Now(), p.bytesDone)
	got := p.textStatus()
	want := []string{"[1:05] 3 files, 5.000 MiB, 1 errors", "/src/a", "/src/b"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("before the scan:\n%q\nwant\n%q", got, want)
	}
	p.scanDone, p.totalFiles, p.totalBytes = true, 10, 20<<20
	got = p.textStatus()
	if want := "[1:05] 25.00%  3 files 5.000 MiB, total 10 files 20.000 MiB, 1 errors ETA 3:15"; got[0] != want {
		t.Errorf("after the scan: %q, want %q", got[0], want)
	}
}

func TestPlainStatusPrintsChanges(t *testing.T) {
	var buf bytes.Buffer
	ts := newPlainStatus(&buf)
	long := strings.Repeat("x", 200)
	ts.set([]string{"[0:01] 1 files", long})
	ts.set([]string{"[0:01] 1 files", long})
	ts.set([]string{"[0:02] 2 files", "tab\there"})
	want := "[0:01] 1 files\n" + long + "\n[0:02] 2 files\n\"tab\\there\"\n"
	if buf.String() != want {
		t.Errorf("printed %q, want %q", buf.String(), want)
	}
	if w := ts.through(&buf); w != io.Writer(&buf) {
		t.Error("output is not passed through as it is")
	}
}
