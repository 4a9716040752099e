package engine_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/arca-backup/arca/backend"
	"github.com/arca-backup/arca/backend/local"
	"github.com/arca-backup/arca/lock"
	"github.com/arca-backup/arca/repo"
	"github.com/arca-backup/arca/repo/engine"
	"github.com/arca-backup/arca/repo/model"
)

// storedFiles lists the files (temporary ones included) below the data,
// index and snapshots directories of a local repository.
func storedFiles(t *testing.T, loc string) []string {
	t.Helper()
	var names []string
	for _, sub := range []string{"data", "index", "snapshots"} {
		err := filepath.WalkDir(filepath.Join(loc, sub), func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				rel, _ := filepath.Rel(loc, p)
				names = append(names, rel)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return names
}

// saveCounter records the files saved in a backend, by type.
type saveCounter struct {
	backend.Backend
	mu    sync.Mutex
	saved []backend.Handle
}

func (s *saveCounter) Save(ctx context.Context, h backend.Handle, rd backend.RewindReader) error {
	s.mu.Lock()
	s.saved = append(s.saved, h)
	s.mu.Unlock()
	return s.Backend.Save(ctx, h, rd)
}

// nonLock returns the saves of anything but lock files.
func (s *saveCounter) nonLock() []backend.Handle {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []backend.Handle
	for _, h := range s.saved {
		if h.Type != backend.LockFile {
			out = append(out, h)
		}
	}
	return out
}

// report is one thing the backup told its caller.
type report struct {
	mu   sync.Mutex
	seen []string
}

func (r *report) add(s string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seen = append(r.seen, s)
}

func (r *report) list() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.seen)
}

// openSlowLock opens the repository at loc with a check delay of 2 s
// (time for a test to act while a lock is confirmed) over a backend that
// records what is saved.
func openSlowLock(t *testing.T, loc string) (*engine.Repository, *saveCounter) {
	t.Helper()
	inner, err := local.Open(context.Background(), loc)
	if err != nil {
		t.Fatal(err)
	}
	counter := &saveCounter{Backend: inner}
	r, err := engine.OpenBackend(context.Background(), counter, engine.Options{Password: password, Lock: lock.Options{CheckDelay: 2 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r, counter
}

// walkTracker records which file names a backup's SelectByName saw.
type walkTracker struct {
	mu   sync.Mutex
	seen map[string]bool
}

func (w *walkTracker) selectByName(p string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.seen == nil {
		w.seen = map[string]bool{}
	}
	w.seen[filepath.Base(p)] = true
	return true
}

// waitFor waits until the backup has walked past the file name (while
// its lock is being confirmed).
func (w *walkTracker) waitFor(t *testing.T, name string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		w.mu.Lock()
		walked := w.seen[name]
		w.mu.Unlock()
		if walked {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the backup did not walk its files during the check delay")
		}
		time.Sleep(time.Millisecond)
	}
}

// waitForOwnLock waits until a complete lock file is in the repository.
func waitForOwnLock(t *testing.T, loc string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		entries, _ := os.ReadDir(filepath.Join(loc, "locks"))
		if slices.ContainsFunc(entries, func(e os.DirEntry) bool { return !strings.Contains(e.Name(), "-tmp-") }) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the backup never wrote its lock file")
		}
		time.Sleep(time.Millisecond)
	}
}

// TestBackupReadsWhileLockIsConfirmed: a backup walks its files while its
// lock is being confirmed (the long check delay), reporting nothing and
// storing nothing meanwhile. An exclusive lock written by someone else in
// that time (a prune in its own check delay) refuses the lock: the
// backup returns the *LockedError, has reported nothing (no event, no
// snapshot warning) and has stored no pack, index or snapshot. Without
// the foreign lock the same backup reports everything, in order, once the
// lock is granted, and restic accepts the repository.
func TestBackupReadsWhileLockIsConfirmed(t *testing.T) {
	ctx := context.Background()
	_, loc := initRepo(t)
	r, counter := openSlowLock(t, loc)
	other, err := engine.Open(ctx, loc, engine.Options{Password: password})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()

	src := t.TempDir()
	files := randomFiles(3, 6, 1<<20)
	writeTree(t, src, files)
	// an unreadable snapshot file: the backup warns about it while it
	// chooses the parent, which it does before the lock is confirmed
	junk := []byte("not a snapshot")
	sum := sha256.Sum256(junk)
	junkPath := filepath.Join(loc, "snapshots", hex.EncodeToString(sum[:]))
	if err := os.WriteFile(junkPath, junk, 0o600); err != nil {
		t.Fatal(err)
	}

	var reports report
	var walk walkTracker
	opts := engine.BackupOptions{
		Write: repo.WriteOptions{PackSize: 1 << 20},
		Events: func(ev engine.BackupEvent) {
			reports.add(fmt.Sprintf("%T", ev))
		},
		SnapshotError: func(id model.ID, err error) { reports.add("snapshot error") },
		OnError: func(item string, err error) error {
			reports.add("item error")
			return nil
		},
		SelectByName: walk.selectByName,
	}
	before := storedFiles(t, loc)
	done := make(chan error, 1)
	go func() {
		_, err := r.Backup(ctx, []string{src}, opts)
		done <- err
	}()
	waitForOwnLock(t, loc)
	// the walk reaches the last file while the lock is being confirmed
	walk.waitFor(t, "filef")
	if got := reports.list(); len(got) != 0 {
		t.Fatalf("reported before the lock was granted: %v", got)
	}
	lk := lock.Lock{Time: time.Now(), Exclusive: true, Hostname: "some-other-host", Username: "prune", PID: 4242}
	buf, err := lk.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	foreignID, err := other.Repo().SaveLock(ctx, buf)
	if err != nil {
		t.Fatal(err)
	}
	err = <-done
	var le *engine.LockedError
	if !errors.As(err, &le) || len(le.Locks) != 1 || le.Locks[0].Lock.PID != 4242 {
		t.Fatalf("backup refused its lock: got %v, want a *LockedError naming PID 4242", err)
	}
	if got := reports.list(); len(got) != 0 {
		t.Errorf("a refused backup reported %v", got)
	}
	if saved := counter.nonLock(); len(saved) != 0 {
		t.Errorf("a refused backup saved %v", saved)
	}
	if after := storedFiles(t, loc); !slices.Equal(before, after) {
		t.Errorf("a refused backup changed the repository:\nbefore %v\nafter  %v", before, after)
	}
	if err := other.Repo().RemoveLock(ctx, foreignID); err != nil {
		t.Fatal(err)
	}

	// the same backup without the foreign lock
	res, err := r.Backup(ctx, []string{src}, opts)
	if err != nil {
		t.Fatal(err)
	}
	got := reports.list()
	want := []string{"snapshot error", "engine.BackupParent", "engine.BackupIndexLoading", "engine.BackupScanStarted"}
	if len(got) < len(want) || !slices.Equal(got[:len(want)], want) {
		t.Fatalf("reports start with %v, want %v", got, want)
	}
	if !slices.Contains(got, "engine.BackupStarted") || !slices.Contains(got, "engine.BackupItemDone") || res.SnapshotID.IsNull() {
		t.Fatalf("reports %v, snapshot %v", got, res.SnapshotID)
	}
	if len(counter.nonLock()) < 4 {
		t.Errorf("saved only %v", counter.nonLock())
	}
	if err := os.Remove(junkPath); err != nil {
		t.Fatal(err)
	}
	resticCheck(t, loc)
	dst := t.TempDir()
	if _, err := r.Restore(ctx, res.SnapshotID.String(), dst, engine.RestoreOptions{}); err != nil {
		t.Fatal(err)
	}
	checkRestored(t, filepath.Join(dst, src), files)
}

// TestBackupNoticesPruneDuringLockCheck: an index file removed while the
// backup's lock is being confirmed (a prune that ran meanwhile) makes the
// backup store nothing and fail with ErrRepositoryChanged, reporting
// nothing; once the repository is as before, the backup works.
func TestBackupNoticesPruneDuringLockCheck(t *testing.T) {
	ctx := context.Background()
	first, loc := initRepo(t)
	src := t.TempDir()
	writeTree(t, src, randomFiles(4, 2, 64<<10))
	if _, err := first.Backup(ctx, []string{src}, engine.BackupOptions{}); err != nil {
		t.Fatal(err)
	}
	indexFiles, err := filepath.Glob(filepath.Join(loc, "index", "*"))
	if err != nil || len(indexFiles) != 1 {
		t.Fatalf("index files %v, %v", indexFiles, err)
	}
	writeTree(t, src, randomFiles(5, 3, 64<<10)) // changes fileb, adds filec
	r, counter := openSlowLock(t, loc)

	var reports report
	var walk walkTracker
	opts := engine.BackupOptions{
		Events:       func(ev engine.BackupEvent) { reports.add(fmt.Sprintf("%T", ev)) },
		SelectByName: walk.selectByName,
	}
	done := make(chan error, 1)
	go func() {
		_, err := r.Backup(ctx, []string{src}, opts)
		done <- err
	}()
	waitForOwnLock(t, loc)
	walk.waitFor(t, "filec")
	// the walk needs the index: it was loaded before the removal
	aside := filepath.Join(t.TempDir(), "index")
	if err := os.Rename(indexFiles[0], aside); err != nil {
		t.Fatal(err)
	}
	err = <-done
	if !errors.Is(err, engine.ErrRepositoryChanged) {
		t.Fatalf("backup over a repository pruned meanwhile: %v", err)
	}
	if got := reports.list(); len(got) != 0 {
		t.Errorf("reported %v", got)
	}
	if saved := counter.nonLock(); len(saved) != 0 {
		t.Errorf("saved %v", saved)
	}
	if err := os.Rename(aside, indexFiles[0]); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Backup(ctx, []string{src}, opts); err != nil {
		t.Fatal(err)
	}
	resticCheck(t, loc)
}

// TestBackupWaitsWithRetryLock: with Options.Lock.RetryLock a backup
// takes its lock before it reads (the sequential path) and waits for a
// foreign exclusive lock to go.
func TestBackupWaitsWithRetryLock(t *testing.T) {
	ctx := context.Background()
	_, loc := initRepo(t)
	r, err := engine.Open(ctx, loc, engine.Options{Password: password,
		Lock: lock.Options{RetryLock: time.Minute, RetrySleepStart: 50 * time.Millisecond, RetrySleepMax: 100 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	other, err := engine.Open(ctx, loc, engine.Options{Password: password})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	_, release, err := other.Lock(ctx, engine.ExclusiveLock)
	if err != nil {
		t.Fatal(err)
	}
	src := t.TempDir()
	writeTree(t, src, map[string][]byte{"f": []byte("x")})
	var reports report
	done := make(chan error, 1)
	go func() {
		_, err := r.Backup(ctx, []string{src}, engine.BackupOptions{
			Events:       func(ev engine.BackupEvent) { reports.add(fmt.Sprintf("%T", ev)) },
			SelectByName: func(string) bool { reports.add("select"); return true },
		})
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("backup finished while the repository was locked: %v", err)
	case <-time.After(500 * time.Millisecond):
	}
	// the sequential path reads nothing before it holds the lock
	if got := reports.list(); len(got) != 0 {
		t.Fatalf("read or reported while waiting for the lock: %v", got)
	}
	release()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := reports.list(); !slices.Contains(got, "select") || !slices.Contains(got, "engine.BackupItemDone") {
		t.Fatalf("reports %v", got)
	}
}
