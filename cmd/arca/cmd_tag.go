package main

import (
	"context"
	"encoding/json"

	"github.com/arca-backup/arca/repo/engine"
	"github.com/arca-backup/arca/repo/model"
	"github.com/arca-backup/arca/repo/tags"
	"github.com/spf13/cobra"
)

func init() { registerCommand(newTagCommand) }

type tagOptions struct {
	filter           snapshotFilterOptions
	set, add, remove tagListsFlag
}

func newTagCommand(a *app) *cobra.Command {
	var opts tagOptions
	cmd := &cobra.Command{
		Use:   "tag [flags] [snapshotID ...]",
		Short: "Modify tags on snapshots",
		Long: `
The "tag" command allows you to modify tags on existing snapshots.

You can either set/replace the entire set of tags on a snapshot, or
add tags to/remove tags from the existing set.

When no snapshotID is given, all snapshots matching the host, tag and path filter criteria are modified.

EXIT STATUS
===========

Exit status is 0 if the command was successful.
Exit status is 1 if there was any error.
Exit status is 10 if the repository does not exist.
Exit status is 11 if the repository is already locked.
Exit status is 12 if the password is incorrect.
`,
		DisableAutoGenTag: true,
		RunE: func(c *cobra.Command, args []string) error {
			return a.runTag(c.Context(), opts, args)
		},
	}
	f := cmd.Flags()
	f.Var(&opts.set, "set", "`tags` which will replace the existing tags in the format `tag[,tag,...]` (can be given multiple times)")
	f.Var(&opts.add, "add", "`tags` which will be added to the existing tags in the format `tag[,tag,...]` (can be given multiple times)")
	f.Var(&opts.remove, "remove", "`tags` which will be removed from the existing tags in the format `tag[,tag,...]` (can be given multiple times)")
	opts.filter.addMulti(f, true)
	return cmd
}

// tagChangedJSON and tagSummaryJSON are restic's tag --json messages.
type tagChangedJSON struct {
	MessageType   string   `json:"message_type"` // "changed"
	OldSnapshotID model.ID `json:"old_snapshot_id"`
	NewSnapshotID model.ID `json:"new_snapshot_id"`
}

type tagSummaryJSON struct {
	MessageType      string `json:"message_type"` // "summary"
	ChangedSnapshots int    `json:"changed_snapshots"`
}

func (a *app) runTag(ctx context.Context, opts tagOptions, args []string) error {
	if len(opts.set) == 0 && len(opts.add) == 0 && len(opts.remove) == 0 {
		return fatalf("nothing to do!")
	}
	if len(opts.set) != 0 && (len(opts.add) != 0 || len(opts.remove) != 0) {
		return fatalf("--set and --add/--remove cannot be given at the same time")
	}
	edit := tags.Edit{Set: opts.set.flatten(), Add: opts.add.flatten(), Remove: opts.remove.flatten()}

	if !a.opts.JSON {
		a.printf("create exclusive lock for repository\n")
	}
	e, err := a.openEngineRepo(ctx)
	if err != nil {
		return err
	}
	defer e.Close()
	var printErr error
	changed, err := e.TagSnapshots(ctx, engine.TagOptions{
		Snapshots: a.snapshotSelection(opts.filter, args),
		Edit:      edit,
		Failed: func(sn *model.Snapshot, err error) {
			a.warnf("unable to modify the tags for snapshot ID %q, ignoring: %v\n", sn.ID.String(), err)
		},
		Changed: func(old, next *model.Snapshot) {
			if a.opts.JSON {
				if err := json.NewEncoder(a.stdout).Encode(tagChangedJSON{"changed", old.ID, next.ID}); err != nil && printErr == nil {
					printErr = err
				}
			} else {
				a.verbosef("old snapshot ID: %v -> new snapshot ID: %v\n", old.ID, next.ID)
			}
		},
	})
	if err != nil {
		return engineError(err)
	}
	if printErr != nil {
		return printErr
	}
	switch {
	case a.opts.JSON:
		return json.NewEncoder(a.stdout).Encode(tagSummaryJSON{"summary", changed})
	case changed == 0:
		a.printf("no snapshots were modified\n")
	default:
		a.printf("modified %v snapshots\n", changed)
	}
	return nil
}
