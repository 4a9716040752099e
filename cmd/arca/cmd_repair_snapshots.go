package main

import (
	"context"

	"github.com/arca-backup/arca/repo/engine"
	"github.com/arca-backup/arca/repo/model"
	"github.com/arca-backup/arca/repo/rewriter"
	"github.com/spf13/cobra"
)

func init() { registerRepairCommand(newRepairSnapshotsCommand) }

type repairSnapshotsOptions struct {
	dryRun    bool
	forget    bool
	snapshots snapshotFilterOptions
}

func newRepairSnapshotsCommand(a *app) *cobra.Command {
	var o repairSnapshotsOptions
	c := &cobra.Command{
		Use:   "snapshots [flags] [snapshot ID] [...]",
		Short: "Repair snapshots",
		Long: `
The "repair snapshots" command repairs broken snapshots. It scans the given
snapshots and generates new ones with damaged directories and file contents
removed. If the broken snapshots are deleted, a prune run will be able to
clean up the repository.

The command depends on a correct index, thus make sure to run "repair index"
first!


WARNING
=======

Repairing and deleting broken snapshots causes data loss! It will remove broken
directories and modify broken files in the modified snapshots.

If the contents of directories and files are still available, the better option
is to run "backup" which in that case is able to heal existing snapshots. Only
use the "repair snapshots" command if you need to recover an old and broken
snapshot!

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
			return a.runRepairSnapshots(c.Context(), &o, args)
		},
	}
	f := c.Flags()
	f.BoolVarP(&o.dryRun, "dry-run", "n", false, "do not do anything, just print what would be done")
	f.BoolVar(&o.forget, "forget", false, "remove original snapshots after creating new ones")
	o.snapshots.addMulti(f, true)
	return c
}

func (a *app) runRepairSnapshots(ctx context.Context, o *repairSnapshotsOptions, args []string) error {
	wopts, err := a.replaceWriteOptions(o.dryRun)
	if err != nil {
		return err
	}
	e, err := a.openEngineRepo(ctx)
	if err != nil {
		return err
	}
	defer e.Close()
	res, err := e.RepairSnapshots(ctx, engine.RepairSnapshotsOptions{
		Snapshots: a.snapshotSelection(o.snapshots, args),
		Forget:    o.forget,
		DryRun:    o.dryRun,
		Write:     wopts,
		Events:    a.replaceEvents(nil),
		Repair: rewriter.RepairEvents{
			InvalidNode: func(p string, t model.NodeType) {
				a.printf("  file %q: removed node with invalid type %q\n", p, t)
			},
			MissingContent: func(p string) { a.printf("  file %q: removed missing content\n", p) },
			FixedSize:      func(p string) { a.printf("  file %q: fixed incorrect size\n", p) },
			UnreadableRoot: func(p string) { a.printf("  dir %q: not readable\n", p) },
			EmptiedDir:     func(p string) { a.printf("  dir %q: replaced with empty directory\n", p) },
		},
	})
	return a.replaceDone(res, err, o.dryRun)
}
