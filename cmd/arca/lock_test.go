package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/arca-backup/arca/backend/local"
	"github.com/arca-backup/arca/lock"
	"github.com/arca-backup/arca/repo"
)

// runArcaEnv runs arca in-process with the given environment variables set.
func runArcaEnv(t *testing.T, env map[string]string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	for k, v := range env {
		t.Setenv(k, v)
	}
	var o, e bytes.Buffer
	code = run(args, strings.NewReader(""), &o, &e)
	return o.String(), e.String(), code
}

// TestForeignLockExpiresByBothClocks: an exclusive lock from another host
// blocks arca while either clock says it is fresh (its timestamp is an hour
// old but the file was just written), and stops blocking, with no manual
// step, once the file time agrees that it is old.
func TestForeignLockExpiresByBothClocks(t *testing.T) {
	fx := resticRepoFixture(t, resticRepoOptions{Version: 2, Snapshots: 1})
	dir := copyDir(t, fx.Repo)
	env := map[string]string{
		"RESTIC_REPOSITORY": dir,
		"RESTIC_PASSWORD":   fx.Password,
		// timings that no test machine's slowness can reach
		"ARCA_LOCK_REFRESH_INTERVAL": "1m",
		"ARCA_LOCK_STALE_TIMEOUT":    "10m",
	}
	ctx := context.Background()
	be, err := local.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	r, err := repo.Open(ctx, be, fx.Password, repo.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	lk := lock.Lock{Time: time.Now().Add(-time.Hour), Exclusive: true, Hostname: "some-other-host", Username: "backup", PID: 4242}
	buf, _ := lk.Marshal()
	id, err := r.SaveLock(ctx, buf)
	r.Close()
	be.Close()
	if err != nil {
		t.Fatal(err)
	}
	lockPath := filepath.Join(dir, "locks", id)

	target := t.TempDir()
	_, stderr, code := runArcaEnv(t, env, "restore", "latest", "--target", target)
	if code != exitLocked {
		t.Fatalf("restore with a fresh foreign exclusive lock: exit %d, want %d\n%s", code, exitLocked, stderr)
	}
	for _, want := range []string{"some-other-host", "PID 4242", "locked exclusively", "the lock is not stale", "the `unlock` command"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("lock error lacks %q:\n%s", want, stderr)
		}
	}
	t.Logf("conflict message:\n%s", stderr)
	out, _, code := runArcaEnv(t, env, "locks")
	if code != 0 || !strings.Contains(out, id[:8]) || !strings.Contains(out, "some-other-host") {
		t.Fatalf("locks does not show the foreign lock (exit %d):\n%s", code, out)
	}
	t.Logf("locks:\n%s", out)
	out, _, code = runArcaEnv(t, env, "unlock", "--dry-run")
	if code != 0 || strings.Contains(out, id) {
		t.Fatalf("unlock --dry-run would remove a lock whose file is new (exit %d):\n%s", code, out)
	}

	// the file time now agrees that the lock is old
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(lockPath, old, old); err != nil {
		t.Fatal(err)
	}
	out, _, code = runArcaEnv(t, env, "unlock", "--dry-run")
	if code != 0 || !strings.Contains(out, id) {
		t.Fatalf("unlock --dry-run does not list the stale lock (exit %d):\n%s", code, out)
	}
	if _, err := os.Stat(lockPath); err != nil {
		t.Fatalf("--dry-run removed the lock: %v", err)
	}
	_, stderr, code = runArcaEnv(t, env, "restore", "latest", "--target", target)
	if code != 0 {
		t.Fatalf("restore after the lock went stale: exit %d\n%s", code, stderr)
	}
	if _, err := os.Stat(lockPath); !os.IsNotExist(err) {
		t.Fatalf("stale lock not removed by arca's own locking: %v", err)
	}
	if entries, _ := os.ReadDir(filepath.Join(dir, "locks")); len(entries) != 0 {
		t.Fatalf("%d lock files left after restore", len(entries))
	}
	// unlock --remove-all removes even a fresh lock
	buf, _ = (lock.Lock{Time: time.Now(), Exclusive: true, Hostname: "some-other-host", Username: "backup", PID: 4343}).Marshal()
	be, _ = local.Open(ctx, dir)
	r, err = repo.Open(ctx, be, fx.Password, repo.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.SaveLock(ctx, buf); err != nil {
		t.Fatal(err)
	}
	r.Close()
	be.Close()
	out, _, code = runArcaEnv(t, env, "unlock")
	if code != 0 || len(listDir(t, filepath.Join(dir, "locks"))) != 1 {
		t.Fatalf("unlock removed a fresh lock (exit %d):\n%s", code, out)
	}
	out, _, code = runArcaEnv(t, env, "unlock", "--remove-all")
	if code != 0 || !strings.Contains(out, "successfully removed 1 locks") || len(listDir(t, filepath.Join(dir, "locks"))) != 0 {
		t.Fatalf("unlock --remove-all (exit %d):\n%s", code, out)
	}
	// restic agrees the repository is fine and unlocked
	if _, errOut, code := runRestic(t, resticTestEnv(dir, fx.Password), "check"); code != 0 {
		t.Fatalf("restic check: exit %d\n%s", code, errOut)
	}
}
