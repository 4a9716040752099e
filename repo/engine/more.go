package engine

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/arca-backup/arca/repo"
	"github.com/arca-backup/arca/repo/dump"
	"github.com/arca-backup/arca/repo/model"
	"github.com/arca-backup/arca/repo/tags"
)

// Tag changes the tags of the snapshots named (IDs, prefixes or "latest"),
// under an exclusive lock. A changed snapshot is stored anew (its ID
// changes; the new file records the first ID in Original). It returns the
// snapshots as they are now, changed or not, in the order named.
func (e *Repository) Tag(ctx context.Context, snapshots []string, edit tags.Edit) ([]*model.Snapshot, error) {
	var out []*model.Snapshot
	err := e.withLock(ctx, ExclusiveLock, func(ctx context.Context) error {
		for _, name := range snapshots {
			sn, err := e.findSnapshot(ctx, name, repo.SnapshotFilter{})
			if err != nil {
				return err
			}
			changed, err := tags.Rewrite(ctx, e.r, sn, edit)
			if err != nil {
				return fmt.Errorf("tag snapshot %s: %w", sn.ID.Str(), err)
			}
			if changed == nil {
				changed = sn
			}
			out = append(out, changed)
		}
		return nil
	})
	return out, err
}

// Dump writes the file at path in the snapshot ("/home/me/notes.txt") to
// w, or a directory (or "/" for all) as an archive in format (dump.Tar or
// dump.Zip), under a shared lock.
func (e *Repository) Dump(ctx context.Context, snapshot, path string, format dump.Format, w io.Writer) error {
	return e.Read(ctx, func(ctx context.Context, rd *Reader) error {
		sn, err := e.findSnapshot(ctx, snapshot, repo.SnapshotFilter{})
		if err != nil {
			return err
		}
		return rd.Dump(ctx, *sn.Tree, path, format, w, DumpOptions{})
	})
}

// Key describes one key file: a password that opens the repository.
type Key struct {
	ID                 model.ID
	Username, Hostname string
	// Current is set for the key the Repository was opened with.
	Current bool
	Created time.Time
}

// Keys lists the repository's key files, oldest first, under a shared
// lock. A key file that cannot be read fails it (ReadKeys skips such
// files instead).
func (e *Repository) Keys(ctx context.Context) ([]Key, error) {
	return e.ReadKeys(ctx, nil)
}

// AddKey adds a key file for password (username and hostname: "" for
// this user and host), under a shared lock.
func (e *Repository) AddKey(ctx context.Context, password, username, hostname string) (repo.NewKey, error) {
	var k repo.NewKey
	err := e.withLock(ctx, SharedLock, func(ctx context.Context) error {
		var err error
		k, err = e.r.AddKey(ctx, password, username, hostname)
		return err
	})
	return k, err
}

// RemoveKey removes the key file named by an ID or unique prefix, under
// an exclusive lock, and returns its full ID. The key the Repository was
// opened with cannot be removed (repo.ErrRemoveCurrentKey).
func (e *Repository) RemoveKey(ctx context.Context, id string) (model.ID, error) {
	var kid model.ID
	err := e.withLock(ctx, ExclusiveLock, func(ctx context.Context) error {
		var err error
		if kid, err = e.r.FindKey(ctx, id); err != nil {
			return err
		}
		return e.r.RemoveKey(ctx, kid)
	})
	return kid, err
}

// ChangePassword replaces the key the Repository was opened with by one
// for newPassword, under an exclusive lock.
func (e *Repository) ChangePassword(ctx context.Context, newPassword string) (repo.NewKey, error) {
	return e.ReplaceKey(ctx, newPassword, "", "")
}
