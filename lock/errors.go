package lock

import (
	"errors"
	"fmt"
	"strings"
)

// ErrLost is wrapped by the cause of a held lock's context when the lock was
// lost: removed by someone else, or not refreshed in time.
var ErrLost = errors.New("repository lock lost")

// ErrReleased is the cause of a held lock's context after Release.
var ErrReleased = errors.New("repository lock released")

// ConflictError reports that the repository is locked by others. It carries
// every live conflicting lock; the first is the one restic would name.
// The CLI exits with code 11 on it (see IsConflict).
type ConflictError struct {
	// Exclusive tells whether the wanted lock was exclusive.
	Exclusive bool
	// Locks are the conflicting locks, exclusive ones first, then oldest first.
	Locks []Info
}

// Error returns restic's text: "repository is already locked [exclusively ]by
// PID … on … by … (UID …, GID …)\nlock was created at … (… ago)\nstorage ID …".
func (e *ConflictError) Error() string {
	if len(e.Locks) == 0 {
		return "repository is already locked"
	}
	first := e.Locks[0]
	s := ""
	if first.Lock.Exclusive {
		s = "exclusively "
	}
	return fmt.Sprintf("repository is already locked %sby %s", s, first.Lock.describe(first.AgeByTimestamp, first.ID))
}

// Detail describes every conflicting lock with its ages and verdict, one
// block per lock, for verbose output.
func (e *ConflictError) Detail() string {
	var b strings.Builder
	for i, in := range e.Locks {
		if i > 0 {
			b.WriteString("\n")
		}
		b.WriteString(in.String())
	}
	return b.String()
}

// IsConflict reports whether err means the repository is locked by others.
func IsConflict(err error) bool {
	var e *ConflictError
	return errors.As(err, &e)
}

// InvalidLockError reports a lock file that exists but cannot be read or
// decoded and is not (yet) old enough to be removed as stale. It may belong
// to a live holder, so it blocks like a conflict; `unlock --remove-all`
// removes it.
type InvalidLockError struct {
	ID  string
	Err error
}

func (e *InvalidLockError) Error() string {
	return fmt.Sprintf("invalid lock file: lock %s: %v", shortID(e.ID), e.Err)
}

func (e *InvalidLockError) Unwrap() error { return e.Err }

// IsInvalidLock reports whether err is or wraps an InvalidLockError.
func IsInvalidLock(err error) bool {
	var e *InvalidLockError
	return errors.As(err, &e)
}
