package engine

import (
	"errors"
	"fmt"

	"github.com/arca-backup/arca/lock"
	"github.com/arca-backup/arca/repo"
	"github.com/arca-backup/arca/repo/model"
)

// The errors an embedding program tests for with errors.Is. They are the
// same values as in package repo, gathered here so that a program needs
// only this package.
var (
	// ErrNoRepository: the location holds no repository. Open's error is
	// then a *connect.NoRepositoryError with the details.
	ErrNoRepository = repo.ErrNoRepository
	// ErrWrongPassword: no key file opens with the password.
	ErrWrongPassword = repo.ErrWrongPassword
	// ErrDamaged: data read from the repository failed its check (a file
	// whose hash does not match its name, a blob or file that does not
	// decrypt or decode). Running Check tells what is affected.
	ErrDamaged = repo.ErrDamaged
	// ErrNoSnapshot: a snapshot ID or "latest" matched nothing.
	ErrNoSnapshot = repo.ErrNoSnapshot
	// ErrLockLost: an operation stopped because its lock was removed by
	// someone else or could not be refreshed in time.
	ErrLockLost = lock.ErrLost
)

// LockedError reports that the repository is locked by someone else: a
// program finds it with errors.As and reads who holds the lock (host, PID,
// user, age) from Locks.
type LockedError = lock.ConflictError

// IsLocked reports whether err means the repository is locked by others.
func IsLocked(err error) bool {
	var le *LockedError
	return errors.As(err, &le)
}

// LockLostError is the error of an operation that stopped because its
// lock was lost (errors.Is(err, ErrLockLost)): Cause says how, Err is
// what the operation failed with as a result.
type LockLostError struct {
	Cause error
	Err   error
}

func (e *LockLostError) Error() string { return fmt.Sprintf("%v (%v)", e.Cause, e.Err) }

func (e *LockLostError) Unwrap() []error { return []error{e.Cause, e.Err} }

// SnapshotError is the error of an operation that failed on one of
// several snapshots: which one, and why.
type SnapshotError struct {
	Snapshot model.ID
	Err      error
}

func (e *SnapshotError) Error() string {
	return fmt.Sprintf("snapshot %s: %v", e.Snapshot.Str(), e.Err)
}

func (e *SnapshotError) Unwrap() error { return e.Err }
