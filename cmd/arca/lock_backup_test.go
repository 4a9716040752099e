package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// startBackupInProcess runs "arca backup --stdin-from-command -- sleep N"
// in a goroutine, so the backup holds its lock for about N seconds.
func startBackupInProcess(seconds string) (wait func() (stdout, stderr string, code int)) {
	var o, e bytes.Buffer
	var code int
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		code = run([]string{"backup", "--stdin-filename", "slow.txt", "--stdin-from-command", "--", "sh", "-c", "sleep " + seconds + "; echo done"}, strings.NewReader(""), &o, &e)
	}()
	return func() (string, string, int) { wg.Wait(); return o.String(), e.String(), code }
}

func listDir(t *testing.T, dir string) []string {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func lockTestRepo(t *testing.T, refresh, stale string) string {
	repo, _ := backupRepo(t, 2)
	t.Setenv("ARCA_LOCK_REFRESH_INTERVAL", refresh)
	t.Setenv("ARCA_LOCK_STALE_TIMEOUT", stale)
	return repo
}

// With a short refresh interval a running backup keeps exactly one lock
// file of its own, and its ID changes over time.
func TestBackupRefreshesItsLock(t *testing.T) {
	repo := lockTestRepo(t, "500ms", "3s")
	locks := filepath.Join(repo, "locks")
	wait := startBackupInProcess("4")
	seen := map[string]bool{}
	deadline := time.Now().Add(3500 * time.Millisecond)
	for time.Now().Before(deadline) {
		names := listDir(t, locks)
		if len(names) > 1 {
			// a refresh writes the new file before removing the old one;
			// both may be visible for a moment, never more
			if len(names) > 2 {
				t.Fatalf("%d lock files at once: %v", len(names), names)
			}
		}
		for _, n := range names {
			seen[n] = true
		}
		time.Sleep(50 * time.Millisecond)
	}
	_, stderr, code := wait()
	if code != 0 {
		t.Fatalf("backup: exit %d\n%s", code, stderr)
	}
	if len(seen) < 3 {
		t.Fatalf("lock ID changed only %d times in 3.5 s with a 500 ms refresh interval: %v", len(seen)-1, seen)
	}
	if n := listDir(t, locks); len(n) != 0 {
		t.Fatalf("locks left after the backup: %v", n)
	}
	if n := listDir(t, filepath.Join(repo, "snapshots")); len(n) != 1 {
		t.Fatalf("%d snapshots, want 1", len(n))
	}
}

// When lock files can no longer be written (the locks directory is
// replaced by a file), the backup fences itself before the stale timeout:
// it stops with a clear error and writes no snapshot.
func TestBackupStopsWhenLockCannotBeRefreshed(t *testing.T) {
	repo := lockTestRepo(t, "500ms", "6s")
	locks := filepath.Join(repo, "locks")
	start := time.Now()
	wait := startBackupInProcess("20")
	// wait until the lock is held and has been refreshed once (a second
	// lock ID), so the failure hits refreshing, not acquiring
	seen := map[string]bool{}
	for len(seen) < 2 {
		if time.Since(start) > 10*time.Second {
			t.Fatal("backup never refreshed its lock")
		}
		for _, n := range listDir(t, locks) {
			// a lock file being saved shows up under a temporary name
			// first; only finished lock files count
			if !strings.Contains(n, "-tmp-") {
				seen[n] = true
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	moved := locks + ".away"
	if err := os.Rename(locks, moved); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(locks, []byte("not a directory"), 0o600); err != nil {
		t.Fatal(err)
	}
	broken := time.Now()
	_, stderr, code := wait()
	took := time.Since(broken)
	if code == 0 {
		t.Fatalf("backup succeeded although its lock was lost\n%s", stderr)
	}
	if !strings.Contains(stderr, "lock") {
		t.Fatalf("error does not mention the lock:\n%s", stderr)
	}
	if took > 6*time.Second {
		t.Fatalf("backup ran on for %v after its lock broke; the stale timeout is 6s\n%s", took, stderr)
	}
	if n := listDir(t, filepath.Join(repo, "snapshots")); len(n) != 0 {
		t.Fatalf("a snapshot was written after the lock was lost: %v", n)
	}
	_ = os.Remove(locks)
	_ = os.Rename(moved, locks)
	// the lost lock could not be removed (its directory was gone) and names
	// this test's live PID, so restic rightly treats it as held: check
	// consistency without locking
	if _, errOut, code := runRestic(t, resticTestEnv(repo, "backup-test-pw"), "check", "--no-lock"); code != 0 {
		t.Fatalf("restic check after the fenced backup: exit %d\n%s", code, errOut)
	}
}

// A backup killed with SIGKILL leaves its lock; restic's own rules see it
// as stale (same host, process gone), so restic unlock removes it, and
// arca's next backup removes such a lock by itself.
func TestKilledArcaLockIsStaleForRestic(t *testing.T) {
	repo, env := backupRepo(t, 2)
	locks := filepath.Join(repo, "locks")
	for _, round := range []string{"restic unlock", "arca backup"} {
		cmd := arcaProcess(t, env, "backup", "--stdin-filename", "x", "--stdin-from-command", "--", "sleep", "60")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		for len(listDir(t, locks)) == 0 {
			if time.Since(start) > 20*time.Second {
				_ = cmd.Process.Kill()
				t.Fatal("arca never took its lock")
			}
			time.Sleep(20 * time.Millisecond)
		}
		time.Sleep(300 * time.Millisecond) // past the acquire re-check
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()
		left := listDir(t, locks)
		if len(left) != 1 {
			t.Fatalf("%s: a killed arca left %d locks, want 1", round, len(left))
		}
		switch round {
		case "restic unlock":
			out, _, code := runRestic(t, env, "unlock")
			if code != 0 || !strings.Contains(string(out), "successfully removed 1 locks") {
				t.Fatalf("restic unlock of a killed arca's lock: exit %d\n%s", code, out)
			}
		case "arca backup":
			src := t.TempDir()
			if err := os.WriteFile(filepath.Join(src, "f"), []byte("data"), 0o644); err != nil {
				t.Fatal(err)
			}
			out, errOut, code := runArcaEnv(t, nil, "backup", src)
			if code != 0 {
				t.Fatalf("arca backup over a killed arca's lock: exit %d\n%s%s", code, out, errOut)
			}
		}
		if n := listDir(t, locks); len(n) != 0 {
			t.Fatalf("%s: locks left: %v", round, n)
		}
	}
}
