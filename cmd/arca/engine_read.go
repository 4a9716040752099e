package main

import (
	"errors"

	"github.com/arca-backup/arca/repo/engine"
)

// engineError gives an error of a read command run on the engine
// restic's form: an operation stopped by the loss of its lock says why
// the lock was lost, as commands holding their own lock do.
func engineError(err error) error {
	var lost *engine.LockLostError
	if errors.As(err, &lost) {
		return fatalf("%v", lost.Cause)
	}
	return err
}
