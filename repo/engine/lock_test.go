package engine_test

import (
	"context"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/arca-backup/arca/lock"
	"github.com/arca-backup/arca/repo"
	"github.com/arca-backup/arca/repo/engine"
)

// A backup whose lock is removed by someone else stops with ErrLockLost
// (a *LockLostError) and saves no snapshot.
func TestBackupStopsWhenItsLockIsRemoved(t *testing.T) {
	ctx := context.Background()
	_, loc := initRepo(t)
	fast := lock.Options{RefreshInterval: 300 * time.Millisecond, StaleTimeout: 2 * time.Second}
	r, err := engine.Open(ctx, loc, engine.Options{Password: password, Lock: fast})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	other, err := engine.Open(ctx, loc, engine.Options{Password: password})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()

	// the backup reads from a pipe that stays open until the backup's
	// context ends, as a command's output would
	pr, pw := io.Pipe()
	opened := make(chan struct{})
	go func() {
		<-opened
		pw.Write(make([]byte, 1<<16))
		// the lock is removed while the backup waits for more data
		if _, err := other.Unlock(ctx, true); err != nil {
			t.Error(err)
		}
	}()
	_, err = r.Backup(ctx, nil, engine.BackupOptions{
		Stdin: func(ctx context.Context) (io.Reader, func() error, error) {
			go func() {
				<-ctx.Done()
				pw.CloseWithError(context.Cause(ctx))
			}()
			close(opened)
			return pr, nil, nil
		},
	})
	var lost *engine.LockLostError
	if !errors.Is(err, engine.ErrLockLost) || !errors.As(err, &lost) {
		t.Fatalf("backup after its lock was removed: %v", err)
	}
	if snaps, _ := other.Snapshots(ctx, repo.SnapshotFilter{}, nil); len(snaps) != 0 {
		t.Errorf("%d snapshots saved", len(snaps))
	}
}

// With Options.NoLock, operations that only read work while another
// process holds an exclusive lock; operations that write still fail on it.
func TestNoLockSkipsOnlyReadLocks(t *testing.T) {
	ctx := context.Background()
	_, loc := initRepo(t)
	src := t.TempDir()
	writeTree(t, src, map[string][]byte{"f": []byte("content")})

	other, err := engine.Open(ctx, loc, engine.Options{Password: password})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if _, err := other.Backup(ctx, []string{src}, engine.BackupOptions{}); err != nil {
		t.Fatal(err)
	}
	_, release, err := other.Lock(ctx, engine.ExclusiveLock)
	if err != nil {
		t.Fatal(err)
	}
	defer release()

	locked, err := engine.Open(ctx, loc, engine.Options{Password: password})
	if err != nil {
		t.Fatal(err)
	}
	defer locked.Close()
	if _, err := locked.Snapshots(ctx, repo.SnapshotFilter{}, nil); !engine.IsLocked(err) {
		t.Fatalf("snapshots without NoLock under a foreign exclusive lock: %v", err)
	}

	r, err := engine.Open(ctx, loc, engine.Options{Password: password, NoLock: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	snaps, err := r.Snapshots(ctx, repo.SnapshotFilter{}, nil)
	if err != nil || len(snaps) != 1 {
		t.Fatalf("snapshots with NoLock: %d, %v", len(snaps), err)
	}
	dst := t.TempDir()
	if _, err := r.Restore(ctx, "latest", dst, engine.RestoreOptions{}); err != nil {
		t.Fatalf("restore with NoLock: %v", err)
	}
	checkRestored(t, filepath.Join(dst, src), map[string][]byte{"f": []byte("content")})
	if _, err := r.Backup(ctx, []string{src}, engine.BackupOptions{}); !engine.IsLocked(err) {
		t.Fatalf("backup with NoLock under a foreign exclusive lock: %v", err)
	}
}

// A backup of standard input stores no snapshot when reading fails or
// when the closing function reports a failure (a command's exit status):
// it returns a *BackupError wrapping the cause, and a read error is
// reported to OnError for the file first.
func TestBackupStdinFailureStoresNoSnapshot(t *testing.T) {
	ctx := context.Background()
	_, loc := initRepo(t)
	r, err := engine.Open(ctx, loc, engine.Options{Password: password})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	errRead := errors.New("the source broke")
	errDone := errors.New("the command failed")
	for _, tc := range []struct {
		name        string
		src         io.Reader
		done        error
		want        error
		wantOnError bool
	}{
		{"read error", io.MultiReader(strings.NewReader("some data"), iotest.ErrReader(errRead)), nil, errRead, true},
		{"done error", strings.NewReader("all data"), errDone, errDone, false},
	} {
		var reported []string
		_, err := r.Backup(ctx, nil, engine.BackupOptions{
			StdinFilename: "in.txt",
			Stdin: func(ctx context.Context) (io.Reader, func() error, error) {
				return tc.src, func() error { return tc.done }, nil
			},
			OnError: func(item string, err error) error {
				reported = append(reported, item)
				return nil
			},
		})
		var be *engine.BackupError
		if !errors.As(err, &be) || !errors.Is(err, tc.want) {
			t.Errorf("%s: backup returned %v, want a *BackupError wrapping %v", tc.name, err, tc.want)
		}
		if got := len(reported) == 1 && reported[0] == "/in.txt"; got != tc.wantOnError {
			t.Errorf("%s: OnError told about %v", tc.name, reported)
		}
	}
	if snaps, _ := r.Snapshots(ctx, repo.SnapshotFilter{}, nil); len(snaps) != 0 {
		t.Errorf("%d snapshots saved", len(snaps))
	}
}
