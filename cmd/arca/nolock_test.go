package main

import (
	"os"
	"path/filepath"
	"testing"
)

// TestNoLockSkipsOnlyReadLocks: as in restic, --no-lock lets commands that
// only read run past a foreign exclusive lock, while commands that write
// (backup, key add, tag, repair index) still take their lock and fail with
// exit code 11; commands with their own rules (check, prune --dry-run)
// follow them.
func TestNoLockSkipsOnlyReadLocks(t *testing.T) {
	fx := resticRepoFixture(t, resticRepoOptions{Version: 2, Snapshots: 1})
	pw := passwordFile(t, fx.Password)
	newPw := passwordFile(t, "another-password")
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "f"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	repos := map[string]string{}
	for _, who := range []string{"arca", "restic"} {
		dir := copyDir(t, fx.Repo)
		if err := os.RemoveAll(filepath.Join(dir, "locks")); err != nil {
			t.Fatal(err)
		}
		if err := os.Mkdir(filepath.Join(dir, "locks"), 0o700); err != nil {
			t.Fatal(err)
		}
		writeForeignLock(t, dir, fx.Password, true)
		repos[who] = dir
	}
	for _, c := range []struct {
		args []string
		want int
	}{
		{[]string{"snapshots"}, 0},
		{[]string{"ls", "latest"}, 0},
		{[]string{"backup", src}, exitLocked},
		{[]string{"backup", "--dry-run", src}, 0},
		{[]string{"key", "add", "--new-password-file", newPw}, exitLocked},
		{[]string{"tag", "--add", "x"}, exitLocked},
		{[]string{"check"}, 0},
		{[]string{"prune", "--dry-run"}, 0},
		{[]string{"repair", "index"}, exitLocked},
	} {
		args := append([]string{"--no-lock"}, c.args...)
		_, ae, ac := arcaCmd(t, append([]string{"-r", repos["arca"], "-p", pw}, args...)...)
		_, re, rc := runRestic(t, nil, append([]string{"-r", repos["restic"], "-p", pw}, args...)...)
		if ac != c.want || rc != c.want {
			t.Errorf("%v: arca exit %d, restic exit %d, want %d\narca: %s\nrestic: %s", args, ac, rc, c.want, ae, re)
		}
	}
}
