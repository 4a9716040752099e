package main

import (
	"errors"

	"github.com/arca-backup/arca/repo/engine"
	"github.com/arca-backup/arca/repo/model"
)

// engineError gives an engine operation's error restic's form where the
// engine types it: an operation stopped by the loss of its lock says why
// the lock was lost, as restic's commands do.
func engineError(err error) error {
	var lost *engine.LockLostError
	if errors.As(err, &lost) {
		return fatalf("%v", lost.Cause)
	}
	return err
}

// snapshotSelection chooses the snapshots named by args, or all passing
// the filter flags, with restic's warnings (see chooseSnapshots),
// under the engine operation's lock.
func (a *app) snapshotSelection(fo snapshotFilterOptions, args []string) engine.SnapshotSelection {
	var loadErrs snapshotLoadErrors
	return engine.SnapshotSelection{
		LoadError: loadErrs.add,
		Choose: func(all []*model.Snapshot) ([]*model.Snapshot, error) {
			return a.chooseSnapshots(all, loadErrs, fo, args), nil
		},
	}
}

// warnSnapshotLoad reports a snapshot file that cannot be read.
func (a *app) warnSnapshotLoad(id model.ID, err error) {
	a.warnf("could not load snapshot %v: %v\n", id.Str(), err)
}
