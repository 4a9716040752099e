package main

import (
	"bytes"
	"errors"
	"io"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestPasswordRetryOnTerminal: a password typed at a terminal gets three
// tries, as in restic: each wrong (or empty) one but the last is followed
// by restic's "... Try again" line, a right one opens the repository, and
// after three wrong ones the command fails with exit code 12. Both
// programs type into a pseudo-terminal; their outputs are compared
// without the prompts (the terminal may echo an answer typed before the
// prompt turned echo off), restic's line-clearing sequences and its note
// about the cache it creates for a local repository.
func TestPasswordRetryOnTerminal(t *testing.T) {
	resticBin(t)
	t.Parallel()
	const pw = "retry-tty-pw"
	repo := resticInitCheap(t, pw)
	run := func(arca bool, answers []string) (string, int) {
		ctl, tty := openPTY(t)
		cmd := programCmd(t, arca, nil, "-r", repo, "cat", "config")
		cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, tty, tty
		var mu sync.Mutex
		var screen bytes.Buffer
		copied := make(chan struct{})
		go func() {
			defer close(copied)
			buf := make([]byte, 4096)
			asked := 0
			for {
				n, err := ctl.Read(buf)
				mu.Lock()
				screen.Write(buf[:n])
				prompts := strings.Count(screen.String(), "enter password for repository: ")
				mu.Unlock()
				for ; asked < prompts && asked < len(answers); asked++ {
					time.Sleep(50 * time.Millisecond) // for the echo to be off
					_, _ = io.WriteString(ctl, answers[asked]+"\n")
				}
				if err != nil {
					return // EIO once the terminal is closed
				}
			}
		}()
		err := cmd.Run()
		tty.Close()
		<-copied
		exit := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			exit = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		var lines []string
		out := strings.NewReplacer("\x1b[2K", "", "\r", "").Replace(screen.String())
		for _, l := range strings.Split(out, "\n") {
			// (arca keeps no cache for a local repository)
			if l != "" && !strings.HasPrefix(l, "enter password for repository: ") && !strings.HasPrefix(l, "created new cache in ") {
				lines = append(lines, l)
			}
		}
		return strings.Join(lines, "\n"), exit
	}
	for _, answers := range [][]string{{"wrong", pw}, {"wrong", "", "wrong"}, {"wrong", "wrong", "wrong", pw}} {
		r, rexit := run(false, answers)
		a, aexit := run(true, answers)
		if a != r || aexit != rexit {
			t.Errorf("answers %q: arca exit %d:\n%s\nrestic exit %d:\n%s", answers, aexit, a, rexit, r)
		}
		if !strings.Contains(r, "Try again") {
			t.Errorf("answers %q: restic (test assumption) did not ask again:\n%s", answers, r)
		}
	}
}
