package main

import (
	"errors"

	"github.com/arca-backup/arca/repo/engine"
)

// engineError gives an engine operation's error restic's form where the
// engine types it: an operation that lost its lock says only why.
func engineError(err error) error {
	var lost *engine.LockLostError
	if errors.As(err, &lost) {
		return fatalf("%v", lost.Cause)
	}
	return err
}
