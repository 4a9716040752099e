package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// pipedRun is one run of a program with standard input from a pipe.
type pipedRun struct {
	stdout, stderr string
	exit           int
}

// runPiped runs restic (arca false) or arca as a separate process with
// input on standard input and env (no other RESTIC_* variables).
func runPiped(t *testing.T, arca bool, env []string, input string, args ...string) pipedRun {
	t.Helper()
	var cmd *exec.Cmd
	if arca {
		cmd = arcaProcess(t, nil, args...)
		var base []string
		for _, kv := range cmd.Env {
			if !strings.HasPrefix(kv, "RESTIC_") {
				base = append(base, kv)
			}
		}
		cmd.Env = append(append(base, "RESTIC_CACHE_DIR="+t.TempDir()), env...)
	} else {
		cmd = exec.Command(resticBin(t), args...)
		cmd.Env = resticTestCommandEnv(t.TempDir(), env)
	}
	cmd.Stdin = strings.NewReader(input)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	exit := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.Exited() {
		exit = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run %v: %v", args, err)
	}
	return pipedRun{o.String(), string(dropVanishedLockWarnings(e.Bytes())), exit}
}

// TestBackupStdinCommandFails: a --stdin-from-command command that exits
// non-zero fails the backup as in restic (the item error, then the fatal
// one, exit code 1, in text and JSON) and leaves no snapshot behind.
func TestBackupStdinCommandFails(t *testing.T) {
	resticBin(t)
	t.Parallel()
	const pw = "stdin-cmd-pw"
	repo := filepath.Join(t.TempDir(), "repo")
	mustRestic(t, []string{"RESTIC_PASSWORD=" + pw}, "init", "-r", repo)
	if err := cheapenKey(repo, pw); err != nil {
		t.Fatal(err)
	}
	env := []string{"RESTIC_REPOSITORY=" + repo, "RESTIC_PASSWORD=" + pw}
	for _, json := range []bool{false, true} {
		args := []string{"backup", "--stdin-filename", "dump.sql", "--stdin-from-command", "--", "sh", "-c", "echo partial; exit 3"}
		if json {
			args = append([]string{"--json"}, args...)
		}
		r := runPiped(t, false, env, "", args...)
		a := runPiped(t, true, env, "", args...)
		if r.exit != 1 || !strings.Contains(r.stderr, "command failed: exit status 3") {
			t.Fatalf("restic (test assumption): exit %d\n%s", r.exit, r.stderr)
		}
		if a.exit != r.exit || a.stderr != r.stderr {
			t.Errorf("json %v: arca exit %d, stderr:\n%s\nrestic exit %d, stderr:\n%s", json, a.exit, a.stderr, r.exit, r.stderr)
		}
	}
	if snaps, err := os.ReadDir(filepath.Join(repo, "snapshots")); err != nil || len(snaps) != 0 {
		t.Errorf("snapshots after the failed backups: %d (%v), want none", len(snaps), err)
	}
	mustRestic(t, env, "check", "--read-data")
}
