package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestTerminalScreensAsRestic: on a terminal, these commands leave the
// same rows as restic's, in the same order, once times are normalised:
// restore --verify with its "files verified" counter, stats with
// "scanning..." after the index line, and prune and forget --prune
// without a cache, whose warning comes before the index line.
func TestTerminalScreensAsRestic(t *testing.T) {
	repo, env := backupRepo(t, 2)
	src := t.TempDir()
	for _, name := range []string{"a", "b", "c"} {
		if err := os.WriteFile(filepath.Join(src, name), []byte("content of "+name+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	mustRestic(t, env, "backup", "--host", "h", src)
	if err := os.WriteFile(filepath.Join(src, "a"), []byte("changed\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	mustRestic(t, env, "backup", "--host", "h", src)
	times := regexp.MustCompile(`\[\d+:\d\d\]|took \d+m?s|in \d+:\d\d`)
	for _, args := range [][]string{
		{"restore", "latest", "--target", "TARGET", "--verify"},
		{"stats", "latest"},
		{"--no-cache", "prune", "--dry-run"},
		{"--no-cache", "forget", "--keep-last", "1", "--prune"}, // last: it changes the repository
	} {
		// each program gets its own copy of the repository and target
		screen := func(program func(argv []string, tty *os.File) int) []string {
			dir := t.TempDir()
			copied := copyDir(t, repo)
			argv := append([]string{"-r", copied}, args...)
			for i := range argv {
				if argv[i] == "TARGET" {
					argv[i] = filepath.Join(dir, "target")
				}
			}
			rows, exit := onTerminal(t, func(tty *os.File) int { return program(argv, tty) })
			if exit != 0 {
				t.Fatalf("%v: exit %d\n%q", args, exit, rows)
			}
			var shown []string
			for _, r := range rows {
				// restic keeps a cache for local repositories too, arca
				// does not (a known difference)
				if !strings.HasPrefix(r, "created new cache in ") {
					r = strings.NewReplacer(copied, "<repo>", dir, "<dir>").Replace(times.ReplaceAllString(r, "<t>"))
					shown = append(shown, r)
				}
			}
			return shown
		}
		got := screen(func(argv []string, tty *os.File) int {
			var stderr bytes.Buffer
			defer func() { t.Logf("arca %v stderr: %s", args, stderr.String()) }()
			return run(argv, strings.NewReader(""), tty, &stderr)
		})
		want := screen(func(argv []string, tty *os.File) int {
			return resticOnTerminal(t, tty, argv, "RESTIC_PASSWORD=backup-test-pw")
		})
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("%v on a terminal:\narca:\n%s\nrestic:\n%s", args, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
}
