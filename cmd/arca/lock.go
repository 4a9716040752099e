package main

import (
	"context"

	"github.com/arca-backup/arca/repo"
)

// lockRepository takes the repository lock for a command. It returns a
// release function and a context that is cancelled when the lock is lost.
// (Lock files are not written yet: this is where package lock plugs in.)
func (a *app) lockRepository(ctx context.Context, r *repo.Repository, mode lockMode) (release func(), lctx context.Context, err error) {
	return func() {}, ctx, nil
}
