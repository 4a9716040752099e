package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// pipedRun is one run of a program with standard input from a pipe.
type pipedRun struct {
	stdout, stderr string
	exit           int
}

// programCmd returns the command that runs restic (arca false) or arca
// as a separate process with env (no other RESTIC_* variables, the cache
// in a temporary directory).
func programCmd(t *testing.T, arca bool, env []string, args ...string) *exec.Cmd {
	t.Helper()
	if arca {
		cmd := arcaProcess(t, nil, args...)
		cmd.Env = append(resticTestCommandEnv(t.TempDir(), env), runAsArcaEnv+"=1")
		return cmd
	}
	cmd := exec.Command(resticBin(t), args...)
	cmd.Env = resticTestCommandEnv(t.TempDir(), env)
	return cmd
}

// runPiped runs restic (arca false) or arca as a separate process with
// input on standard input and env (no other RESTIC_* variables).
func runPiped(t *testing.T, arca bool, env []string, input string, args ...string) pipedRun {
	t.Helper()
	cmd := programCmd(t, arca, env, args...)
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

// resticInitCheap creates a repository with restic, protected by
// password with cheap key derivation parameters (see cheapenKey).
func resticInitCheap(t *testing.T, password string) string {
	t.Helper()
	repo := filepath.Join(t.TempDir(), "repo")
	mustRestic(t, []string{"RESTIC_PASSWORD=" + password}, "init", "-r", repo)
	if err := cheapenKey(repo, password); err != nil {
		t.Fatal(err)
	}
	return repo
}

// resticRepoEnv is resticInitCheap, with the environment that names the
// repository and its password.
func resticRepoEnv(t *testing.T, password string) (string, []string) {
	t.Helper()
	repo := resticInitCheap(t, password)
	return repo, []string{"RESTIC_REPOSITORY=" + repo, "RESTIC_PASSWORD=" + password}
}

// TestBackupStdinCommandFails: a --stdin-from-command command that exits
// non-zero fails the backup as in restic (the item error, then the fatal
// one, exit code 1, in text and JSON) and leaves no snapshot behind.
func TestBackupStdinCommandFails(t *testing.T) {
	resticBin(t)
	t.Parallel()
	const pw = "stdin-cmd-pw"
	repo, env := resticRepoEnv(t, pw)
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

// TestBackupStdinCommandParent: with --stdin-from-command restic chooses
// a parent snapshot (the host's latest, whatever its paths) and counts
// the file and its directories against it; with --stdin it does not, also
// when --stdin-from-command is given too. arca does the same: same first
// output line, same counts, same parents.
func TestBackupStdinCommandParent(t *testing.T) {
	resticBin(t)
	t.Parallel()
	const pw = "stdin-parent-pw"
	cmd := []string{"--stdin-filename", "dir/data.txt", "--stdin-from-command", "--", "sh", "-c", "echo some data"}
	steps := [][]string{
		append([]string{"backup"}, cmd...),
		append([]string{"backup"}, cmd...),
		append([]string{"backup", "--json", "--time", "2024-05-06 07:08:09"}, cmd...),
		append([]string{"backup", "--json", "--time", "2024-05-06 07:08:09"}, cmd...),
		append([]string{"backup", "--force"}, cmd...),
		{"backup", "--stdin", "--stdin-filename", "dir/data.txt"},
		// --stdin with --stdin-from-command: the command runs, no parent
		append([]string{"backup", "--stdin"}, cmd...),
	}
	type outcome struct {
		first  string // the first line of text output, or the JSON summary's counts
		parent bool
	}
	run := func(arca bool) []outcome {
		_, env := resticRepoEnv(t, pw)
		var out []outcome
		for _, args := range steps {
			res := runPiped(t, arca, env, "stdin data\n", args...)
			if res.exit != 0 {
				t.Fatalf("arca %v, %v: exit %d\n%s", arca, args, res.exit, res.stderr)
			}
			o := outcome{first: strings.SplitN(res.stdout, "\n", 2)[0]}
			var id string
			if args[1] == "--json" {
				s := summaryOf(t, res.stdout)
				o.first = fmt.Sprint(num(s, "files_new"), num(s, "files_changed"), num(s, "files_unmodified"),
					num(s, "dirs_new"), num(s, "dirs_changed"), num(s, "dirs_unmodified"))
				id, _ = s["snapshot_id"].(string)
			} else {
				if strings.HasPrefix(o.first, "using parent snapshot ") {
					o.first = "using parent snapshot"
				}
				for _, line := range strings.Split(res.stdout, "\n") {
					if f := strings.Fields(line); len(f) == 3 && f[0] == "snapshot" && f[2] == "saved" {
						id = f[1]
					}
				}
			}
			var sn struct {
				Parent string `json:"parent"`
			}
			if err := json.Unmarshal(mustRestic(t, env, "cat", "snapshot", id), &sn); err != nil {
				t.Fatal(err)
			}
			o.parent = sn.Parent != ""
			out = append(out, o)
		}
		return out
	}
	r, a := run(false), run(true)
	for i := range steps {
		if r[i] != a[i] {
			t.Errorf("%v: arca %+v, restic %+v", steps[i], a[i], r[i])
		}
	}
	if !r[1].parent || r[0].parent || r[len(r)-1].parent {
		t.Errorf("restic's parents (test assumption): %+v", r)
	}
}

// TestBackupStdinEmpty: standard input (or a command's output) that ends
// without any data is an item error in restic ("read NAME: no data read"):
// the snapshot is saved without the file, with its directories, and the
// exit code is 3. arca gives the same messages, exit code and snapshot
// contents, and restic checks the repository.
func TestBackupStdinEmpty(t *testing.T) {
	resticBin(t)
	t.Parallel()
	const pw = "stdin-empty-pw"
	for _, args := range [][]string{
		{"backup", "--stdin", "--stdin-filename", "dir/y"},
		{"--json", "backup", "--stdin"},
		{"backup", "--stdin-from-command", "--", "true"},
	} {
		var contents [2]string
		var results [2]pipedRun
		for i, arca := range []bool{false, true} {
			_, env := resticRepoEnv(t, pw)
			res := runPiped(t, arca, env, "", args...)
			results[i] = res
			ls := mustRestic(t, env, "ls", "--json", "latest")
			// the node lines without their times
			var nodes []string
			for _, line := range strings.Split(strings.TrimSpace(string(ls)), "\n")[1:] {
				var n struct{ Name, Type, Path string }
				if err := json.Unmarshal([]byte(line), &n); err != nil {
					t.Fatal(err)
				}
				nodes = append(nodes, n.Type+" "+n.Path)
			}
			contents[i] = strings.Join(nodes, ", ")
			if arca {
				mustRestic(t, env, "check", "--read-data")
			}
		}
		r, a := results[0], results[1]
		if r.exit != 3 || !strings.Contains(r.stderr, "no data read") {
			t.Fatalf("%v: restic (test assumption): exit %d\n%s", args, r.exit, r.stderr)
		}
		if a.exit != r.exit || a.stderr != r.stderr {
			t.Errorf("%v: arca exit %d, stderr:\n%s\nrestic exit %d, stderr:\n%s", args, a.exit, a.stderr, r.exit, r.stderr)
		}
		if contents[0] != contents[1] {
			t.Errorf("%v: arca's snapshot holds [%s], restic's [%s]", args, contents[1], contents[0])
		}
	}
}

// TestBackupStdinMessages: the messages of a stdin backup are restic's:
// a command's error output passed on with the command's name before each
// line, a command that cannot be started or is missing, a
// --stdin-filename that names no file, and the verbose lines around the
// start (restic scans its one-file tree too). Each program has its own
// repository: restic leaves its lock behind after some of these errors.
func TestBackupStdinMessages(t *testing.T) {
	resticBin(t)
	t.Parallel()
	const pw = "stdin-messages-pw"
	_, renv := resticRepoEnv(t, pw)
	_, aenv := resticRepoEnv(t, pw)
	cases := []struct {
		input string
		args  []string
		// stdout compares only the lines before the first with a time,
		// or before the summary
		stdout bool
		// passed is the command's error output as passed on. restic
		// 0.19.1 passes it on from a goroutine that its exit does not
		// wait for: on a loaded machine it dropped the last line in 3
		// of 30 runs (arca in none), so restic's lines need only be the
		// first of these.
		passed []string
	}{
		{args: []string{"backup", "-q", "--stdin-from-command", "--", "sh", "-c", "echo data; echo one >&2; printf 'two\\nthree' >&2"},
			passed: []string{"subprocess sh: one", "subprocess sh: two", "subprocess sh: three"}},
		{args: []string{"backup", "--json", "-q", "--stdin-from-command", "--", "sh", "-c", "echo data; echo one >&2"},
			passed: []string{"subprocess sh: one"}},
		{args: []string{"backup", "--stdin-from-command", "--", "no-such-command-arca-test"}},
		{args: []string{"backup", "--stdin-from-command"}},
		{args: []string{"backup", "--stdin-filename", "", "--stdin-from-command", "--", "echo", "x"}},
		{input: "x", args: []string{"backup", "--stdin", "--stdin-filename", "."}},
		{input: "x", args: []string{"backup", "-vv", "--stdin"}, stdout: true},
		{input: "x", args: []string{"backup", "-v", "--no-scan", "--stdin"}, stdout: true},
	}
	untilTimed := func(s string) string {
		var keep []string
		for _, l := range strings.Split(s, "\n") {
			if strings.Contains(l, " in 0") || strings.HasPrefix(l, "scan finished in ") {
				keep = append(keep, strings.SplitN(l, " in ", 2)[0])
				break
			}
			if strings.HasPrefix(l, "Files:") {
				// the summary follows: the stored size of the tree,
				// which holds the time, may differ by a byte
				break
			}
			keep = append(keep, l)
		}
		return strings.Join(keep, "\n")
	}
	for _, c := range cases {
		r := runPiped(t, false, renv, c.input, c.args...)
		a := runPiped(t, true, aenv, c.input, c.args...)
		rOther, rPassed := splitPassed(r.stderr)
		aOther, aPassed := splitPassed(a.stderr)
		wantPassed := c.passed
		if wantPassed == nil {
			wantPassed = rPassed
		}
		if a.exit != r.exit || aOther != rOther || !slices.Equal(aPassed, wantPassed) || !slices.Equal(rPassed, wantPassed[:min(len(rPassed), len(wantPassed))]) {
			t.Errorf("%q: arca exit %d, stderr:\n%s\nrestic exit %d, stderr:\n%s", c.args, a.exit, a.stderr, r.exit, r.stderr)
		}
		if ro, ao := untilTimed(r.stdout), untilTimed(a.stdout); c.stdout && ao != ro {
			t.Errorf("%q: arca's output:\n%s\nrestic's:\n%s", c.args, ao, ro)
		}
	}
}

// splitPassed splits a backup's error output into the lines a command's
// error output became (with "subprocess " before them) and the rest.
func splitPassed(stderr string) (other string, passed []string) {
	var rest []string
	for _, l := range strings.SplitAfter(stderr, "\n") {
		if strings.HasPrefix(l, "subprocess ") {
			passed = append(passed, strings.TrimSuffix(l, "\n"))
		} else {
			rest = append(rest, l)
		}
	}
	return strings.Join(rest, ""), passed
}

// TestBackupInterrupted: SIGINT or SIGTERM during a backup is reported
// when it comes, as restic reports it ("signal interrupt received,
// cleaning up"), the backup fails with restic's message, and the exit
// code is 130, in text and JSON. Each program reads standard input, which
// stays open until after the signal, sent once its lock file exists.
func TestBackupInterrupted(t *testing.T) {
	resticBin(t)
	t.Parallel()
	const pw = "interrupted-pw"
	repo, env := resticRepoEnv(t, pw)
	run := func(arca bool, sig syscall.Signal, args ...string) pipedRun {
		cmd := programCmd(t, arca, env, args...)
		in, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		defer in.Close()
		var o, e bytes.Buffer
		cmd.Stdout, cmd.Stderr = &o, &e
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		for deadline := time.Now().Add(time.Minute); ; time.Sleep(20 * time.Millisecond) {
			if locks, _ := os.ReadDir(filepath.Join(repo, "locks")); len(locks) > 0 {
				time.Sleep(time.Second) // past restic's check of other locks
				break
			}
			if time.Now().After(deadline) {
				_ = cmd.Process.Kill()
				t.Fatalf("%v: no lock file after a minute", args)
			}
		}
		_ = cmd.Process.Signal(sig)
		// restic ends only when its read of standard input returns
		time.Sleep(300 * time.Millisecond)
		in.Close()
		err = cmd.Wait()
		exit := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			exit = ee.ExitCode()
		}
		return pipedRun{o.String(), e.String(), exit}
	}
	for _, c := range []struct {
		sig  syscall.Signal
		args []string
	}{
		{syscall.SIGINT, []string{"backup", "-q", "--stdin"}},
		{syscall.SIGTERM, []string{"--json", "backup", "-q", "--stdin"}},
	} {
		r := run(false, c.sig, c.args...)
		a := run(true, c.sig, c.args...)
		if r.exit != 130 {
			t.Fatalf("%v: restic (test assumption): exit %d, %s", c.args, r.exit, r.stderr)
		}
		if a != r {
			t.Errorf("%v: arca exit %d, stdout %q, stderr %q; restic exit %d, stdout %q, stderr %q", c.args, a.exit, a.stdout, a.stderr, r.exit, r.stdout, r.stderr)
		}
	}
}
