package repo

import (
	"context"
	"fmt"

	"github.com/arca-backup/arca/lock"
)

// Locker returns a lock manager for the repository. One Locker should be
// used per process and repository: it remembers which lock IDs it has seen
// and for how long, which is what lets it expire locks whose holder
// stopped refreshing without trusting anyone's wall clock.
//
// On a backend that lists every completed write (a local disk; S3 on AWS,
// R2 or MinIO: backend.Properties.ConsistentList) the lock check needs no
// delay, and none is waited unless opts set one.
func (r *Repository) Locker(opts lock.Options) (*lock.Locker, error) {
	if r.be.Properties().ConsistentList {
		opts.ConsistentList = true
	}
	l, err := lock.NewLocker(r, opts)
	if err != nil {
		return nil, fmt.Errorf("repository lock: %w", err)
	}
	return l, nil
}

// Lock takes a shared or exclusive lock. The returned lock's Context is
// cancelled when the lock is lost; operations must use it for all writes.
func (r *Repository) Lock(ctx context.Context, exclusive bool, opts lock.Options) (*lock.Held, error) {
	l, err := r.Locker(opts)
	if err != nil {
		return nil, err
	}
	return l.Acquire(ctx, exclusive)
}
