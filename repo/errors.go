package repo

import (
	"errors"

	"github.com/arca-backup/arca/backend"
	"github.com/arca-backup/arca/crypto"
)

// Errors callers test for with errors.Is; the CLI maps them to exit codes.
var (
	// ErrNoRepository: there is no repository at the location (exit code 10).
	ErrNoRepository = backend.ErrNoRepository
	// ErrWrongPassword: no key could be opened with the password (exit code 12).
	ErrWrongPassword = crypto.ErrWrongPassword
	// ErrNoSnapshot: a snapshot selector matched nothing.
	ErrNoSnapshot = errors.New("no matching snapshot found")
	// ErrAmbiguousID: an ID prefix matched more than one file.
	ErrAmbiguousID = errors.New("ambiguous ID prefix")
	// ErrMaxKeysReached: none of the first OpenOptions.MaxKeys key files
	// opens with the password, and there are more (restic's message). It
	// is an ErrWrongPassword too.
	ErrMaxKeysReached error = maxKeysError{}
)

type maxKeysError struct{}

func (maxKeysError) Error() string { return "maximum number of keys reached" }
func (maxKeysError) Unwrap() error { return ErrWrongPassword }
