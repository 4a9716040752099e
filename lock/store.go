package lock

import (
	"context"
	"time"
)

// Store is what the lock package needs from a repository: a place to keep
// small encrypted lock files. The repo package implements it; the lock
// package never sees keys or backends.
type Store interface {
	// SaveLock encrypts (and, in version 2 repositories, compresses) the
	// plaintext lock JSON, stores it under locks/ and returns its ID.
	SaveLock(ctx context.Context, plaintext []byte) (id string, err error)
	// LoadLock returns the decrypted JSON of a lock file. A missing file
	// gives an error that wraps backend.ErrNotExist.
	LoadLock(ctx context.Context, id string) ([]byte, error)
	// ListLocks calls fn for every lock file. modTime is the backend's
	// modification time, or the zero time when the backend has none.
	ListLocks(ctx context.Context, fn func(id string, size int64, modTime time.Time) error) error
	// RemoveLock deletes a lock file.
	RemoveLock(ctx context.Context, id string) error
}
