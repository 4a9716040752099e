package main

import (
	"bytes"
	"context"
	"math/rand"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/arca-backup/arca/backend/local"
	"github.com/arca-backup/arca/lock"
	"github.com/arca-backup/arca/repo"
)

// repoFiles lists the data, index and snapshot files of a local repository.
func repoFiles(t *testing.T, dir string) []string {
	t.Helper()
	var names []string
	for _, sub := range []string{"data", "index", "snapshots"} {
		for _, f := range cacheTree(t, filepath.Join(dir, sub)) {
			names = append(names, filepath.Join(sub, f))
		}
	}
	return names
}

// TestBackupReadsWhileLockIsConfirmed: backup (the engine) starts reading
// once its lock file is written, before the lock check has passed. An
// exclusive lock written by someone else during that check (as a prune in
// its own check delay would) refuses the lock: the backup fails with exit
// code 11 and restic's message, prints only what restic prints when
// refused at once ("repo already locked, waiting up to 0s for the lock"),
// not the warning of the exclusion filter it ran meanwhile, and has
// written no pack, index or snapshot, although it had read enough data to
// fill packs. Without the foreign lock the same backup succeeds, with the
// warning.
func TestBackupReadsWhileLockIsConfirmed(t *testing.T) {
	repoDir, env := backupRepo(t, 2)
	src := t.TempDir()
	rnd := rand.New(rand.NewSource(7))
	data := make([]byte, 12<<20)
	rnd.Read(data)
	if err := os.WriteFile(filepath.Join(src, "big"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		if err := os.WriteFile(filepath.Join(src, "small"+string(rune('a'+i))), data[i*1000:i*1000+5000], 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// a tag file with the wrong header: the filter warns about it
	if err := os.WriteFile(filepath.Join(src, ".tag"), []byte("a header that is not the expected one"), 0o644); err != nil {
		t.Fatal(err)
	}
	const tagWarning = "invalid signature in exclusion tagfile"
	args := []string{"backup", "--pack-size", "4", "--exclude-if-present", ".tag:expected-header", src}
	// a long check delay gives the test time to slip its lock in
	t.Setenv(lock.EnvCheckDelay, "2s")
	before := repoFiles(t, repoDir)

	ctx := context.Background()
	be, err := local.Open(ctx, repoDir)
	if err != nil {
		t.Fatal(err)
	}
	defer be.Close()
	r, err := repo.Open(ctx, be, "backup-test-pw", repo.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()

	var stdout, stderr bytes.Buffer
	done := make(chan int, 1)
	go func() {
		done <- run(args, strings.NewReader(""), &stdout, &stderr)
	}()
	locks := filepath.Join(repoDir, "locks")
	deadline := time.Now().Add(30 * time.Second)
	for {
		entries, _ := os.ReadDir(locks)
		if slices.ContainsFunc(entries, func(e os.DirEntry) bool { return !strings.Contains(e.Name(), "-tmp-") }) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the backup never wrote its lock file")
		}
		time.Sleep(time.Millisecond)
	}
	// give the backup time to walk (it has 2 s until the second check)
	time.Sleep(500 * time.Millisecond)
	lk := lock.Lock{Time: time.Now(), Exclusive: true, Hostname: "some-other-host", Username: "prune", PID: 4242}
	buf, err := lk.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	foreignID, err := r.SaveLock(ctx, buf)
	if err != nil {
		t.Fatal(err)
	}
	code := <-done
	if code != exitLocked || !strings.Contains(stderr.String(), "unable to create lock in backend: repository is already locked exclusively by PID 4242 on some-other-host by prune") ||
		strings.Contains(stderr.String(), tagWarning) {
		t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, exitLocked, stdout.String(), stderr.String())
	}
	if after := repoFiles(t, repoDir); !slices.Equal(before, after) {
		t.Fatalf("a refused backup wrote to the repository:\nbefore %v\nafter  %v", before, after)
	}
	// restic, finding the same lock at once, prints the same on stdout
	rout, _, rcode := runRestic(t, env, "backup", src)
	if rcode != exitLocked || string(rout) != stdout.String() {
		t.Fatalf("restic: exit %d, stdout %q; arca stdout %q", rcode, rout, stdout.String())
	}

	if err := r.RemoveLock(ctx, foreignID); err != nil {
		t.Fatal(err)
	}
	stdout.Reset()
	stderr.Reset()
	t.Setenv(lock.EnvCheckDelay, "200ms")
	if code := run(args, strings.NewReader(""), &stdout, &stderr); code != 0 || !strings.Contains(stderr.String(), tagWarning) {
		t.Fatalf("backup without the foreign lock: exit %d\n%s", code, stderr.String())
	}
	if !strings.Contains(stdout.String(), "no parent snapshot found") || len(repoFiles(t, repoDir)) < 4 {
		t.Fatalf("backup output or files missing:\n%s\n%v", stdout.String(), repoFiles(t, repoDir))
	}
	if _, errOut, code := runRestic(t, env, "check", "--read-data"); code != 0 {
		t.Fatalf("restic check: %s", errOut)
	}
}
