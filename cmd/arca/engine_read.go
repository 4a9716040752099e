package main

import (
	"errors"

	"github.com/arca-backup/arca/repo/engine"
	"github.com/arca-backup/arca/repo/model"
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

// warnSnapshotLoad reports a snapshot file that cannot be read.
func (a *app) warnSnapshotLoad(id model.ID, err error) {
	a.warnf("could not load snapshot %v: %v\n", id.Str(), err)
}
