package forget

import (
	"fmt"
	"time"

	"github.com/arca-backup/arca/repo"
	"github.com/arca-backup/arca/repo/model"
)

// Group is the outcome of a policy for one group of snapshots.
type Group struct {
	Key repo.GroupKey
	Result
}

// RemovesAllError is returned when a policy with rules would remove every
// snapshot of a group: restic refuses that.
type RemovesAllError struct {
	Key repo.GroupKey
}

func (e *RemovesAllError) Error() string {
	return fmt.Sprintf("refusing to delete last snapshot of snapshot group \"%v\"", e.Key.String())
}

// Plan groups snapshots by the given fields (repo.GroupSnapshots) and
// applies p to each group, in the groups' order. When a non-empty policy
// would keep nothing of a group, Plan stops there and returns the groups
// evaluated before it with a *RemovesAllError. An empty policy removes
// everything (callers decide whether to allow that).
func Plan(list []*model.Snapshot, by repo.GroupBy, p Policy, now time.Time) ([]Group, error) {
	var out []Group
	for _, g := range repo.GroupSnapshots(list, by) {
		res := Apply(g.Snapshots, p, now)
		if !p.Empty() && len(res.Keep) == 0 {
			return out, &RemovesAllError{Key: g.Key}
		}
		out = append(out, Group{Key: g.Key, Result: res})
	}
	return out, nil
}

// RemovedIDs returns the IDs of the snapshots the groups remove.
func RemovedIDs(groups []Group) []model.ID {
	var ids []model.ID
	for _, g := range groups {
		for _, sn := range g.Remove {
			ids = append(ids, sn.ID)
		}
	}
	return ids
}
