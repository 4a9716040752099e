package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestPasswordFromStdin: without a password in the environment or a
// file, arca reads it from standard input when that is not a terminal,
// exactly as restic does (`echo secret | restic snapshots`): the first
// line, an empty one refused, a wrong one rejected with exit code 12, and
// a second password read from the same pipe (key add) finding nothing.
func TestPasswordFromStdin(t *testing.T) {
	resticBin(t)
	t.Parallel()
	const pw = "stdin-pw"
	repo := resticInitCheap(t, pw)
	env := []string{"RESTIC_REPOSITORY=" + repo}
	for _, tc := range []struct {
		name, input string
		args        []string
		wantExit    int
	}{
		{"right password", pw + "\n", []string{"cat", "config"}, 0},
		{"without newline", pw, []string{"cat", "config"}, 0},
		{"only the first line", pw + "\nother\n", []string{"cat", "config"}, 0},
		{"empty input", "", []string{"cat", "config"}, 1},
		{"wrong password", "wrong\n", []string{"cat", "config"}, 12},
		{"key add finds no second line", pw + "\nnew-pw\n", []string{"key", "add"}, 1},
	} {
		r := runPiped(t, false, env, tc.input, tc.args...)
		a := runPiped(t, true, env, tc.input, tc.args...)
		if r.exit != tc.wantExit {
			t.Errorf("%s: restic exit %d, want %d (test assumption)\n%s", tc.name, r.exit, tc.wantExit, r.stderr)
		}
		if a.exit != r.exit || a.stderr != r.stderr {
			t.Errorf("%s: arca exit %d, stderr %q; restic exit %d, stderr %q", tc.name, a.exit, a.stderr, r.exit, r.stderr)
		}
		if tc.args[0] == "cat" && a.stdout != r.stdout {
			t.Errorf("%s: stdout differs: arca %q, restic %q", tc.name, a.stdout, r.stdout)
		}
	}
	// key add with the password in the environment reads the new one from
	// standard input, once
	add := runPiped(t, true, append(env, "RESTIC_PASSWORD="+pw), "second-pw\n", "key", "add")
	if add.exit != 0 || !strings.HasPrefix(add.stdout, "saved new key with ID ") {
		t.Fatalf("arca key add: exit %d\n%s%s", add.exit, add.stdout, add.stderr)
	}
	if got := runPiped(t, false, env, "second-pw\n", "cat", "config"); got.exit != 0 {
		t.Errorf("restic cannot open the repository with the key arca added from stdin: exit %d\n%s", got.exit, got.stderr)
	}
}

// TestPasswordOptionsAsRestic: --password-command is split as restic
// splits it (quotes group words) and, like --password-file, is resolved
// before the command runs, so its errors come first, with restic's text
// and exit code; commands that need no password do not run it.
func TestPasswordOptionsAsRestic(t *testing.T) {
	resticBin(t)
	t.Parallel()
	const pw = "pw option test"
	dir := t.TempDir()
	repo := filepath.Join(dir, "repo")
	mustRestic(t, []string{"RESTIC_PASSWORD=" + pw}, "init", "-r", repo)
	if err := cheapenKey(repo, pw); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing")
	for _, args := range [][]string{
		{"-r", repo, "--password-command", "sh -c 'echo \"" + pw + "\"'", "cat", "config"},
		{"-r", repo, "--password-command", "printf '%s' 'wrong one'", "cat", "config"},
		{"-r", repo, "--password-command", "sh -c 'exit 2'", "snapshots"},
		{"-r", repo, "--password-command", "'unterminated", "snapshots"},
		{"-r", repo, "--password-command", "  ", "snapshots"},
		{"-r", repo, "--password-command", "no-such-command-here", "snapshots"},
		{"-r", repo, "--password-file", missing, "snapshots"},
		{"-r", repo, "--password-file", missing, "--password-command", "true", "snapshots"},
		{"-r", filepath.Join(dir, "no-repo"), "--password-command", "false", "snapshots"},
		{"--password-command", "false", "version"},
	} {
		r := runPiped(t, false, nil, "", args...)
		a := runPiped(t, true, nil, "", args...)
		if args[len(args)-1] == "version" {
			// the versions differ; only the exit code and stderr count
			r.stdout, a.stdout = "", ""
		}
		if a != r {
			t.Errorf("%q:\narca   exit %d, stdout %q, stderr %q\nrestic exit %d, stdout %q, stderr %q", args, a.exit, a.stdout, a.stderr, r.exit, r.stdout, r.stderr)
		}
	}
}

// TestGlobalOptionErrorsAsRestic: bad --compression and --pack-size
// values, from flags or the environment, and bad --parent and exclude
// options of backup fail as restic's do: same
// message, same exit code, at the same point (a pack size out of bounds
// fails every command that opens a repository, after a missing
// repository is reported and before the password is needed).
func TestGlobalOptionErrorsAsRestic(t *testing.T) {
	resticBin(t)
	t.Parallel()
	const pw = "global-options-pw"
	repo := resticInitCheap(t, pw)
	missing := filepath.Join(t.TempDir(), "missing")
	src := t.TempDir()
	withPW := []string{"RESTIC_PASSWORD=" + pw}
	for _, tc := range []struct {
		env  []string
		args []string
	}{
		{withPW, []string{"-r", repo, "--compression", "foo", "snapshots"}},
		{withPW, []string{"-r", repo, "--pack-size", "200", "snapshots"}},
		{withPW, []string{"-r", repo, "--pack-size", "1", "backup", t.TempDir()}},
		{nil, []string{"-r", repo, "--pack-size", "200", "snapshots"}},
		{withPW, []string{"-r", missing, "--pack-size", "200", "snapshots"}},
		{withPW, []string{"-r", filepath.Join(t.TempDir(), "new"), "--pack-size", "129", "init"}},
		{append([]string{"RESTIC_COMPRESSION=foo"}, withPW...), []string{"-r", repo, "snapshots"}},
		{append([]string{"RESTIC_PACK_SIZE=x", "RESTIC_COMPRESSION=foo"}, withPW...), []string{"-r", repo, "snapshots"}},
		{append([]string{"RESTIC_PACK_SIZE=300"}, withPW...), []string{"-r", repo, "snapshots"}},
		// the parent and exclude options' errors, also restic's
		{withPW, []string{"-r", repo, "backup", "--parent", "nosuch", src}},
		{withPW, []string{"-r", repo, "backup", "--parent", "latest", "--host", "other", src}},
		{withPW, []string{"-r", repo, "backup", "--exclude-file", missing, src}},
		{withPW, []string{"-r", repo, "backup", "--exclude", "[", src}},
	} {
		r := runPiped(t, false, tc.env, "", tc.args...)
		a := runPiped(t, true, tc.env, "", tc.args...)
		if a != r || r.exit == 0 {
			t.Errorf("%q %q:\narca   exit %d, stdout %q, stderr %q\nrestic exit %d, stdout %q, stderr %q", tc.env, tc.args, a.exit, a.stdout, a.stderr, r.exit, r.stdout, r.stderr)
		}
	}
}
