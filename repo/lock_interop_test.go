package repo_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/arca-backup/arca/lock"
)

func lockFiles(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(dir, "locks"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// lockWritten reports whether the repository has a lock file with content.
func lockWritten(dir string) bool {
	entries, err := os.ReadDir(filepath.Join(dir, "locks"))
	if err != nil {
		return false
	}
	for _, e := range entries {
		if fi, err := e.Info(); err == nil && fi.Size() > 0 {
			return true
		}
	}
	return false
}

func resticCmd(t *testing.T, dir string, args ...string) *exec.Cmd {
	cmd := exec.Command(resticBinary(t), append([]string{"-r", dir, "--no-cache"}, args...)...)
	cmd.Env = append(os.Environ(), "RESTIC_PASSWORD="+testPassword)
	return cmd
}

func exitCodeOf(err error) int {
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}

func fastLockOptions() lock.Options {
	o := lock.DefaultOptions()
	o.RefreshInterval = 200 * time.Millisecond
	o.StaleTimeout = 2 * time.Second
	o.Margin = 500 * time.Millisecond
	o.CheckDelay = 20 * time.Millisecond
	return o
}

// A restic backup killed with SIGKILL leaves its lock; arca's next
// exclusive lock succeeds without unlock and removes it, after which
// restic prune succeeds too.
func TestKilledResticLockExpiresForArca(t *testing.T) {
	t.Parallel()
	dir, _ := resticRepo(t, "2", "auto")
	cmd := resticCmd(t, dir, "backup", "--stdin-from-command", "--", "sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// wait until the lock file has its content (restic creates the file
	// before it writes it, and ignores an empty lock file), then until
	// restic is past its re-check
	deadline := time.Now().Add(60 * time.Second)
	for !lockWritten(dir) {
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			t.Fatal("restic never wrote a lock")
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(time.Second)
	_ = cmd.Process.Signal(syscall.SIGKILL)
	_ = cmd.Wait()
	left := lockFiles(t, dir)
	if len(left) != 1 {
		t.Fatalf("after SIGKILL restic left %d locks, want 1", len(left))
	}
	// restic itself refuses an exclusive operation now
	if out, err := resticCmd(t, dir, "prune").CombinedOutput(); exitCodeOf(err) != 11 {
		t.Fatalf("restic prune with a stale lock: exit %d, want 11\n%s", exitCodeOf(err), out)
	}

	r, err := openRepo(t, dir, testPassword)
	if err != nil {
		t.Fatal(err)
	}
	held, err := r.Lock(context.Background(), true, lock.DefaultOptions())
	if err != nil {
		t.Fatalf("arca exclusive lock over a dead restic lock: %v", err)
	}
	for _, n := range lockFiles(t, dir) {
		if n == left[0] {
			t.Fatalf("stale restic lock %s still present while arca holds the lock", n[:8])
		}
	}
	if err := held.Release(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := lockFiles(t, dir); len(n) != 0 {
		t.Fatalf("locks left after release: %v", n)
	}
	if out, err := resticCmd(t, dir, "prune").CombinedOutput(); err != nil {
		t.Fatalf("restic prune after arca: %v\n%s", err, out)
	}
}

// arca holding an exclusive lock makes restic's backup fail with exit 11;
// after release restic works again.
func TestArcaLockBlocksRestic(t *testing.T) {
	t.Parallel()
	dir, _ := resticRepo(t, "1", "off")
	r, err := openRepo(t, dir, testPassword)
	if err != nil {
		t.Fatal(err)
	}
	held, err := r.Lock(context.Background(), true, fastLockOptions())
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond) // a refresh or two happen meanwhile
	out, err := resticCmd(t, dir, "backup", "--stdin-filename", "x", "--stdin").CombinedOutput()
	if exitCodeOf(err) != 11 || !strings.Contains(string(out), "locked exclusively") {
		t.Fatalf("restic backup against arca's exclusive lock: exit %d\n%s", exitCodeOf(err), out)
	}
	if held.Context().Err() != nil {
		t.Fatalf("arca lost its lock: %v", context.Cause(held.Context()))
	}
	// a refresh writes the new file before it removes the old one, so two
	// files may be seen for a moment; a lock that leaks files never
	// settles back to one
	var n []string
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if n = lockFiles(t, dir); len(n) == 1 || time.Now().After(deadline) {
			break
		}
	}
	if len(n) != 1 {
		t.Fatalf("arca keeps %d lock files, want exactly 1", len(n))
	}
	if err := held.Release(context.Background()); err != nil {
		t.Fatal(err)
	}
	if out, err := resticCmd(t, dir, "check").CombinedOutput(); err != nil {
		t.Fatalf("restic check after release: %v\n%s", err, out)
	}
}

// A lock arca wrote for a process that is gone is stale by restic's own
// rules: restic unlock removes it.
func TestDeadArcaLockRemovedByRestic(t *testing.T) {
	t.Parallel()
	dir, _ := resticRepo(t, "2", "off")
	r, err := openRepo(t, dir, testPassword)
	if err != nil {
		t.Fatal(err)
	}
	sleeper := exec.Command("sleep", "10")
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	pid := sleeper.Process.Pid
	_ = sleeper.Process.Kill()
	_ = sleeper.Wait()
	host, _ := os.Hostname()
	lk := lock.Lock{Time: time.Now(), Exclusive: true, Hostname: host, Username: "arca-test", PID: pid, UID: uint32(os.Getuid()), GID: uint32(os.Getgid())}
	buf, err := lk.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.SaveLock(context.Background(), buf); err != nil {
		t.Fatal(err)
	}
	out, err := resticCmd(t, dir, "list", "locks", "--no-lock").CombinedOutput()
	if err != nil || len(strings.Fields(string(out))) != 1 {
		t.Fatalf("restic list locks: %v\n%s", err, out)
	}
	out, err = resticCmd(t, dir, "unlock").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "successfully removed 1 locks") {
		t.Fatalf("restic unlock of a dead arca lock: %v\n%s", err, out)
	}
	if n := lockFiles(t, dir); len(n) != 0 {
		t.Fatalf("locks left: %v", n)
	}
}
