package main

import (
	"errors"
	"fmt"

	"github.com/arca-backup/arca/repo/engine"
	"github.com/arca-backup/arca/repo/model"
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

// snapshotSelection chooses the snapshots named by args, or all passing
// the filter flags, with restic's warnings (see findFilteredSnapshots),
// under the engine operation's lock.
func (a *app) snapshotSelection(fo snapshotFilterOptions, args []string) engine.SnapshotSelection {
	var loadErrs []string
	return engine.SnapshotSelection{
		LoadError: func(id model.ID, err error) {
			loadErrs = append(loadErrs, fmt.Sprintf("Ignoring %q: %v\n", id.String(), err))
		},
		Choose: func(all []*model.Snapshot) ([]*model.Snapshot, error) {
			return a.chooseSnapshots(all, loadErrs, fo, args), nil
		},
	}
}
