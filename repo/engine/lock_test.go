package engine_test

import (
	"context"
	"errors"
	"io"
	"testing"
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
