package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
)

// TestBackupPermissionErrorsAsRestic: files and directories that cannot
// be read are reported with restic's messages and items (the absolute
// path where restic uses it, the scanner's errors as "scan:" lines with
// --verbose and as errors during "scan" with --json), and the exit code
// is 3. As root, both programs run without capabilities, so that
// permissions apply to them. The order of the lines differs between
// runs of each program (the scanner runs alongside the backup), so the
// lines are compared sorted.
func TestBackupPermissionErrorsAsRestic(t *testing.T) {
	resticBin(t)
	t.Parallel()
	wrap := capabilityDrop(t)
	base := t.TempDir()
	for name, data := range map[string]string{"s/ok.txt": "ok", "s/unreadable.txt": "u", "s/noexec/w": "w", "s/baddir/b": "b", "s/okdir/y": "y"} {
		p := filepath.Join(base, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for name, mode := range map[string]os.FileMode{"s/unreadable.txt": 0, "s/noexec": 0o644, "s/baddir": 0} {
		if err := os.Chmod(filepath.Join(base, name), mode); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { // so that the test's directory can be removed
		_ = os.Chmod(filepath.Join(base, "s/noexec"), 0o755)
		_ = os.Chmod(filepath.Join(base, "s/baddir"), 0o755)
	})
	const pw = "permission-errors-pw"
	_, renv := resticRepoEnv(t, pw)
	_, aenv := resticRepoEnv(t, pw)
	run := func(arca bool, env []string, args ...string) (string, int) {
		return runWithoutCapabilities(t, wrap, arca, env, base, args...)
	}
	for _, args := range [][]string{{"backup", "s"}, {"backup", "-v", "s"}, {"backup", "--json", "s"}} {
		r, rexit := run(false, renv, args...)
		if rexit != 3 || !strings.Contains(r, "permission denied") {
			t.Fatalf("%v: restic (test assumption): exit %d\n%s", args, rexit, r)
		}
		if a, aexit := run(true, aenv, args...); a != r || aexit != rexit {
			t.Errorf("%v: arca exit %d, stderr (sorted):\n%s\nrestic exit %d:\n%s", args, aexit, a, rexit, r)
		}
	}
}

// capabilityDrop returns the command that runs a program without
// capabilities when the tests run as root (setpriv), so that file
// permissions apply to it; nil otherwise. Without setpriv, as root, the
// test is skipped.
func capabilityDrop(t *testing.T) []string {
	if os.Getuid() != 0 {
		return nil
	}
	p, err := exec.LookPath("setpriv")
	if err != nil {
		t.Skip("running as root without setpriv: permissions do not apply")
	}
	return []string{p, "--bounding-set=-all", "--"}
}

// runWithoutCapabilities runs arca or restic in dir through wrap (see
// capabilityDrop) and returns its standard error, lines sorted, and its
// exit code.
func runWithoutCapabilities(t *testing.T, wrap []string, arca bool, env []string, dir string, args ...string) (string, int) {
	t.Helper()
	cmd := programCmd(t, arca, env, args...)
	cmd.Args = append(slices.Clone(wrap), cmd.Args...)
	if len(wrap) > 0 {
		cmd.Path = wrap[0]
	}
	cmd.Dir = dir
	var stderr strings.Builder
	cmd.Stderr = &stderr
	err := cmd.Run()
	exit := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		exit = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("%v: %v", args, err)
	}
	lines := strings.Split(strings.TrimSpace(string(dropVanishedLockWarnings([]byte(stderr.String())))), "\n")
	sort.Strings(lines)
	return strings.Join(lines, "\n"), exit
}

// TestRepositoryPermissionsAsRestic: a repository the user may not read,
// or whose locks directory it may not write, fails as restic does: the
// report of the failed backend operation, then restic's error, exit code
// 1, in text and JSON.
func TestRepositoryPermissionsAsRestic(t *testing.T) {
	resticBin(t)
	t.Parallel()
	wrap := capabilityDrop(t)
	ids := regexp.MustCompile(`[0-9a-f]{10,}[-0-9a-z]*`) // lock IDs and temporary names
	for _, c := range []struct {
		dir  string // made inaccessible in the repository
		mode os.FileMode
		want string
	}{
		{"", 0, "unable to open config file"},
		{"locks", 0o500, "unable to create lock in backend"},
	} {
		repo := resticInitCheap(t, "permissions-pw")
		dir := filepath.Join(repo, c.dir)
		if err := os.Chmod(dir, c.mode); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = os.Chmod(dir, 0o700) })
		src := t.TempDir()
		env := []string{"RESTIC_REPOSITORY=" + repo, "RESTIC_PASSWORD=permissions-pw"}
		for _, args := range [][]string{{"backup", src}, {"--json", "backup", src}} {
			r, rexit := runWithoutCapabilities(t, wrap, false, env, src, args...)
			a, aexit := runWithoutCapabilities(t, wrap, true, env, src, args...)
			r, a = ids.ReplaceAllString(r, "ID"), ids.ReplaceAllString(a, "ID")
			if rexit != 1 || !strings.Contains(r, c.want) {
				t.Fatalf("%s %v: restic (test assumption): exit %d\n%s", c.dir, args, rexit, r)
			}
			if a != r || aexit != rexit {
				t.Errorf("%s %v: arca exit %d:\n%s\nrestic exit %d:\n%s", c.dir, args, aexit, a, rexit, r)
			}
		}
	}
}
