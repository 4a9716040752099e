package engine

import (
	"context"
	"sort"

	"github.com/arca-backup/arca/backend"
	"github.com/arca-backup/arca/lock"
	"github.com/arca-backup/arca/repo"
	"github.com/arca-backup/arca/repo/model"
)

// ReadKeys lists the repository's key files, oldest first (by ID when
// created at the same time), under a shared lock. A key file that cannot
// be read is skipped and onError told about it; with onError nil it
// fails ReadKeys.
func (e *Repository) ReadKeys(ctx context.Context, onError func(id model.ID, err error)) ([]Key, error) {
	var out []Key
	err := e.withLock(ctx, e.readLock(), func(ctx context.Context) error {
		return e.r.List(ctx, backend.KeyFile, func(id model.ID, _ int64) error {
			kf, err := e.r.LoadKeyFile(ctx, id.String())
			if err != nil {
				if onError == nil || ctx.Err() != nil {
					return err
				}
				onError(id, err)
				return nil
			}
			out = append(out, Key{ID: id, Username: kf.Username, Hostname: kf.Hostname,
				Current: id == e.r.KeyID(), Created: kf.Created})
			return nil
		})
	})
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].Created.Equal(out[j].Created) {
			return out[i].Created.Before(out[j].Created)
		}
		return out[i].ID.String() < out[j].ID.String()
	})
	return out, err
}

// ReplaceKey replaces the key the Repository was opened with by one for
// newPassword recorded for username and hostname ("": this user and
// host), under an exclusive lock. When the new key was stored but the
// old one could not be removed, the error comes with the new key.
func (e *Repository) ReplaceKey(ctx context.Context, newPassword, username, hostname string) (repo.NewKey, error) {
	var k repo.NewKey
	err := e.withLock(ctx, ExclusiveLock, func(ctx context.Context) error {
		var err error
		k, err = e.r.ChangePassword(ctx, newPassword, username, hostname)
		return err
	})
	return k, err
}

// StaleLocks returns the locks Unlock would remove (all locks with all
// set), each with the reason, and removes nothing.
func (e *Repository) StaleLocks(ctx context.Context, all bool) ([]lock.Info, error) {
	l, err := e.Locker()
	if err != nil {
		return nil, err
	}
	if all {
		return l.RemoveAll(ctx, true)
	}
	return l.RemoveStale(ctx, true)
}
