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

// A backup of standard input that cannot read it reports the file to
// OnError, as restic does: when OnError goes on, the snapshot is saved
// without the file and the result is Partial (standard input that gives
// no data at all counts as a read error, ErrNoData); when OnError stops,
// or the closing function reports a failure (a command's exit status),
// no snapshot is stored and the error is a *BackupError wrapping the
// cause.
func TestBackupStdinFailure(t *testing.T) {
	ctx := context.Background()
	_, loc := initRepo(t)
	r, err := engine.Open(ctx, loc, engine.Options{Password: password})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	errRead := errors.New("the source broke")
	errDone := errors.New("the command failed")
	errStop := errors.New("stop here")
	for _, tc := range []struct {
		name     string
		src      io.Reader
		done     error
		stop     bool  // OnError returns errStop
		want     error // the backup's error; nil: a snapshot without the file
		reported error // what OnError hears of; nil: nothing
	}{
		{"read error", io.MultiReader(strings.NewReader("some data"), iotest.ErrReader(errRead)), nil, false, nil, errRead},
		{"no data", strings.NewReader(""), nil, false, nil, engine.ErrNoData},
		{"read error, stopped", iotest.ErrReader(errRead), nil, true, errStop, errRead},
		{"done error", strings.NewReader("all data"), errDone, false, errDone, nil},
	} {
		before, _ := r.Snapshots(ctx, repo.SnapshotFilter{}, nil)
		var reported []error
		res, err := r.Backup(ctx, nil, engine.BackupOptions{
			StdinFilename: "dir/in.txt",
			Stdin: func(ctx context.Context) (io.Reader, func() error, error) {
				return tc.src, func() error { return tc.done }, nil
			},
			OnError: func(item string, err error) error {
				if item != "/dir/in.txt" {
					t.Errorf("%s: OnError told about item %q", tc.name, item)
				}
				reported = append(reported, err)
				if tc.stop {
					return errStop
				}
				return nil
			},
		})
		after, _ := r.Snapshots(ctx, repo.SnapshotFilter{}, nil)
		if tc.reported == nil && len(reported) != 0 || tc.reported != nil && (len(reported) != 1 || !errors.Is(reported[0], tc.reported)) {
			t.Errorf("%s: OnError heard %v, want %v", tc.name, reported, tc.reported)
		}
		if tc.want != nil {
			var be *engine.BackupError
			if !errors.As(err, &be) || !errors.Is(err, tc.want) {
				t.Errorf("%s: backup returned %v, want a *BackupError wrapping %v", tc.name, err, tc.want)
			}
			if len(after) != len(before) {
				t.Errorf("%s: a snapshot was saved", tc.name)
			}
			continue
		}
		if err != nil || !res.Partial || len(after) != len(before)+1 {
			t.Fatalf("%s: backup returned %v (partial %v), %d new snapshots; want a partial snapshot", tc.name, err, res != nil && res.Partial, len(after)-len(before))
		}
		var paths []string
		if err := r.List(ctx, res.SnapshotID.String(), func(e engine.Entry) error {
			paths = append(paths, e.Path)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if strings.Join(paths, " ") != "/dir" {
			t.Errorf("%s: snapshot holds %v, want only /dir", tc.name, paths)
		}
	}
}
