package main

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// openPTY opens a pseudo-terminal and returns its controlling side and the
// terminal a program writes to.
func openPTY(t *testing.T) (ctl, tty *os.File) {
	t.Helper()
	ctl, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals: %v", err)
	}
	t.Cleanup(func() { ctl.Close() })
	if err := unix.IoctlSetPointerInt(int(ctl.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatalf("unlock pty: %v", err)
	}
	n, err := unix.IoctlGetInt(int(ctl.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatalf("pty number: %v", err)
	}
	tty, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("open pty: %v", err)
	}
	return ctl, tty
}

// captureTerminal runs a program whose standard output is a terminal
// and returns all it wrote there.
func captureTerminal(t *testing.T, run func(tty *os.File) int) (screen string, exit int) {
	t.Helper()
	ctl, tty := openPTY(t)
	var buf bytes.Buffer
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		_, _ = io.Copy(&buf, ctl) // ends with EIO once the terminal is closed
	}()
	exit = run(tty)
	tty.Close()
	<-copied
	return buf.String(), exit
}

// statusLine is restic's backup status line, before and after the scan
// has counted the files (ui/backup/text.go).
var statusLine = regexp.MustCompile(`^\[\d+:\d\d\] (\d+ files, [\d.]+ \w+, \d+ errors|(\d+\.\d\d%  )?\d+ files [\d.]+ \w+, total \d+ files [\d.]+ \w+, \d+ errors( ETA \d+:\d\d)?)$`)

// TestBackupStatusOnTerminal: on a terminal, backup shows restic's status
// lines (the counts, then the files being read) while it runs, and
// removes them before the summary.
func TestBackupStatusOnTerminal(t *testing.T) {
	backupRepo(t, 2)
	t.Setenv("RESTIC_PROGRESS_FPS", "60")
	src := t.TempDir()
	for _, name := range []string{"a", "b"} {
		data := make([]byte, 48<<20)
		rand.Read(data)
		if err := os.WriteFile(filepath.Join(src, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var stderr bytes.Buffer
	screen, exit := captureTerminal(t, func(tty *os.File) int {
		return run([]string{"backup", src}, strings.NewReader(""), tty, &stderr)
	})
	if exit != 0 {
		t.Fatalf("exit %d\n%s", exit, stderr.String())
	}
	out := strings.ReplaceAll(screen, "\r\n", "\n") // the terminal's line discipline
	var status, files int
	for _, row := range strings.Split(strings.ReplaceAll(out, "\x1b[1A", ""), "\x1b[2K") {
		row = strings.TrimRight(row, "\r\n")
		switch {
		case statusLine.MatchString(row):
			status++
		case row == filepath.Join(src, "a") || row == filepath.Join(src, "b"):
			files++
		}
	}
	if status == 0 || files == 0 {
		t.Errorf("%d status lines and %d lines of files being read in the output:\n%q", status, files, out)
	}
	// the summary follows the status, which is gone
	i := strings.LastIndex(out, "\x1b[")
	summary := out[i:]
	if !strings.Contains(summary, "Files:           2 new") || statusLine.MatchString(strings.TrimSpace(summary)) {
		t.Errorf("after the last escape sequence: %q", summary)
	}
}

// TestBackupStatusToLogWithFPS: with RESTIC_PROGRESS_FPS set, a backup
// whose output is not a terminal prints its status lines as they change,
// as plain lines, as restic does for logs, also with --quiet.
func TestBackupStatusToLogWithFPS(t *testing.T) {
	backupRepo(t, 2)
	t.Setenv("RESTIC_PROGRESS_FPS", "60")
	src := t.TempDir()
	data := make([]byte, 96<<20)
	rand.Read(data)
	if err := os.WriteFile(filepath.Join(src, "a"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	// restic prints them with --quiet too: the variable asks for them
	// (--force: each run reads the file again, so it lasts)
	for _, args := range [][]string{{"backup", src}, {"backup", "--force", "-q", src}} {
		out, errOut, exit := arcaCmd(t, args...)
		if exit != 0 {
			t.Fatalf("%v: exit %d\n%s", args, exit, errOut)
		}
		if strings.Contains(out, "\x1b") {
			t.Errorf("%v: escape sequences in the output:\n%q", args, out)
		}
		var status []string
		for _, line := range strings.Split(out, "\n") {
			if statusLine.MatchString(line) {
				status = append(status, line)
			}
		}
		if len(status) == 0 || !strings.Contains(status[len(status)-1], "total 1 files") {
			t.Errorf("%v: status lines %q in the output:\n%s", args, status, out)
		}
	}
	// and so are JSON status messages
	out, errOut, exit := arcaCmd(t, "backup", "--force", "--json", "-q", src)
	if exit != 0 || !strings.Contains(out, `{"message_type":"status"`) {
		t.Errorf("backup --json -q: exit %d, no status message in the output:\n%s\n%s", exit, out, errOut)
	}
}
