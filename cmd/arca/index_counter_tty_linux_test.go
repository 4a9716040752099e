package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// onTerminal runs a program whose standard output is a terminal and
// returns the rows the terminal shows, each as it looks in the end: the
// text after its last carriage return, without escape sequences.
func onTerminal(t *testing.T, run func(tty *os.File) int) (rows []string, exit int) {
	t.Helper()
	screen, exit := captureTerminal(t, run)
	escapes := regexp.MustCompile(`\x1b\[[0-9;]*[A-Za-z]`)
	out := strings.ReplaceAll(screen, "\r\n", "\n")
	for _, row := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		row = escapes.ReplaceAllString(row, "")
		rows = append(rows, row[strings.LastIndex(row, "\r")+1:])
	}
	return rows, exit
}

// resticOnTerminal runs restic with args and env (on top of
// resticTestCommandEnv) and standard output on tty; it returns 0, or -1
// when restic failed.
func resticOnTerminal(t *testing.T, tty *os.File, args []string, env ...string) int {
	cmd := exec.Command(resticBin(t), args...)
	cmd.Env = append(resticTestCommandEnv(t.TempDir(), nil), env...)
	cmd.Stdout = tty
	if err := cmd.Run(); err != nil {
		return -1
	}
	return 0
}

var indexLine = regexp.MustCompile(`^\[\d+:\d\d\] +(.*index files loaded)$`)

// indexLines returns the final "index files loaded" lines without their
// times, and the row of the first.
func indexLines(rows []string) (lines []string, first int) {
	first = -1
	for i, r := range rows {
		if m := indexLine.FindStringSubmatch(r); m != nil {
			lines = append(lines, m[1])
			if first < 0 {
				first = i
			}
		}
	}
	return lines, first
}

// TestIndexCounterOnTerminal: on a terminal, the commands that load the
// index show restic's "index files loaded" counter, ending in the same
// line as restic's; backup prints it after the parent snapshot's line.
// Not with --quiet, and not where the output is no terminal.
func TestIndexCounterOnTerminal(t *testing.T) {
	repo, env := backupRepo(t, 2)
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "f"), []byte("some data\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	mustRestic(t, env, "backup", src)
	mustRestic(t, env, "backup", "--force", src) // (a second index file)
	for _, args := range [][]string{
		{"ls", "latest"},
		{"restore", "latest", "--target", "TARGET"},
		{"check"},
		{"backup", "--dry-run", src}, // (writes no index file)
		{"backup", "-q", "--dry-run", src},
	} {
		argv := func() []string {
			a := append([]string(nil), args...)
			for i := range a {
				if a[i] == "TARGET" {
					a[i] = t.TempDir()
				}
			}
			return a
		}
		got, exit := onTerminal(t, func(tty *os.File) int {
			var stderr bytes.Buffer
			defer func() { t.Logf("arca %v stderr: %s", args, stderr.String()) }()
			return run(argv(), strings.NewReader(""), tty, &stderr)
		})
		if exit != 0 {
			t.Fatalf("arca %v: exit %d\n%q", args, exit, got)
		}
		want, rexit := onTerminal(t, func(tty *os.File) int {
			return resticOnTerminal(t, tty, argv(), "RESTIC_REPOSITORY="+repo, "RESTIC_PASSWORD=backup-test-pw")
		})
		if rexit != 0 {
			t.Fatalf("restic %v failed\n%q", args, want)
		}
		gotLines, gotRow := indexLines(got)
		wantLines, _ := indexLines(want)
		if quiet := len(args) > 1 && args[1] == "-q"; quiet != (len(wantLines) == 0) {
			t.Fatalf("restic %v showed index lines %q", args, wantLines)
		}
		if strings.Join(gotLines, "\n") != strings.Join(wantLines, "\n") {
			t.Errorf("%v: index lines %q, restic's %q\narca's output: %q", args, gotLines, wantLines, got)
		}
		if args[0] == "backup" && len(gotLines) > 0 {
			if gotRow < 1 || !strings.HasPrefix(got[gotRow-1], "using parent snapshot") {
				t.Errorf("backup: the index line is not right after the parent's: %q", got)
			}
		}
	}
	out, _, exit := arcaCmd(t, "ls", "latest")
	if exit != 0 || strings.Contains(out, "index files loaded") {
		t.Errorf("ls without a terminal: exit %d\n%s", exit, out)
	}
}
