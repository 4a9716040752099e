package main

import (
	"context"

	"github.com/arca-backup/arca/repo/engine"
	"github.com/arca-backup/arca/repo/model"
	"github.com/arca-backup/arca/repo/repairindex"
	"github.com/spf13/cobra"
)

func init() {
	registerRepairCommand(func(a *app) *cobra.Command { return newRepairIndexCommand(a, "index [flags]", "") })
	registerCommand(func(a *app) *cobra.Command {
		return newRepairIndexCommand(a, "rebuild-index [flags]", `Use "repair index" instead`)
	})
}

// newRepairIndexCommand builds `repair index`, or with deprecated set the
// old `rebuild-index` command.
func newRepairIndexCommand(a *app, use, deprecated string) *cobra.Command {
	var opts repairindex.Options
	cmd := &cobra.Command{
		Use:   use,
		Short: "Build a new index",
		Long: `
The "repair index" command creates a new index based on the pack files in the
repository.

EXIT STATUS
===========

Exit status is 0 if the command was successful.
Exit status is 1 if there was any error.
Exit status is 10 if the repository does not exist.
Exit status is 11 if the repository is already locked.
Exit status is 12 if the password is incorrect.
`,
		Deprecated:        deprecated,
		DisableAutoGenTag: true,
		RunE: func(c *cobra.Command, _ []string) error {
			return a.runRepairIndex(c.Context(), opts)
		},
	}
	cmd.Flags().BoolVar(&opts.ReadAllPacks, "read-all-packs", false, "read all pack files to generate new index from scratch")
	return cmd
}

func (a *app) runRepairIndex(ctx context.Context, opts repairindex.Options) error {
	// restic's repair index always prints text, also with --json
	saved := a.opts.JSON
	a.opts.JSON = false
	defer func() { a.opts.JSON = saved }()
	out := &reportPrinter{a: a}

	e, err := a.openEngineRepo(ctx)
	if err != nil {
		return err
	}
	defer e.Close()

	ev, finishBar := a.repairIndexEvents(out)
	err = e.RepairIndex(ctx, engine.RepairIndexOptions{ReadAllPacks: opts.ReadAllPacks, Events: ev})
	finishBar()
	if err != nil {
		return engineError(err)
	}
	out.printf("done\n")
	return nil
}

// repairIndexEvents renders the index repair's events as restic does (for
// repair index and recover); call the returned function when it is over to
// finish the last counter.
func (a *app) repairIndexEvents(out *reportPrinter) (repairindex.Events, func()) {
	var bar *progressCounter
	finishBar := func() {
		bar.finish()
		bar = nil
	}
	startBar := func(items string) {
		finishBar()
		bar = out.counter(items)
	}
	ev := repairindex.Events{
		Stage: func(st repairindex.Stage) {
			switch st {
			case repairindex.StageLoadIndex:
				out.printf("loading indexes...\n")
			case repairindex.StageListPacks:
				out.printf("getting pack files to read...\n")
			case repairindex.StageReadPacks:
				out.printf("reading pack files\n")
				startBar("packs")
			case repairindex.StageRewrite:
				finishBar()
				out.printf("rebuilding index\n")
				startBar("indexes processed")
			case repairindex.StageDelete:
				startBar("old indexes deleted")
			}
		},
		InvalidIndex: func(id model.ID, err error) { out.errorf("removing invalid index %v: %v\n", id, err) },
		PackAdded:    func(id model.ID) { out.errorf("adding pack file to index %v\n", id) },
		PackResized: func(id model.ID, size, indexed int64) {
			out.errorf("reindexing pack file %v with unexpected size %v instead of %v\n", id, size, indexed)
		},
		PackMissing:     func(id model.ID) { out.errorf("removing not found pack file %v\n", id) },
		PackUnreadable:  func(id model.ID, _ error) { out.verbosef("skipped incomplete pack file: %v\n", id) },
		ReadProgress:    func(done, total int) { bar.update(done, total) },
		RewriteProgress: func(done, total int) { bar.update(done, total) },
		DeleteProgress:  func(done, total int) { bar.update(done, total) },
		Removed: func(id model.ID, err error) {
			if a.opts.verbosity() < 3 {
				return
			}
			if err != nil {
				out.printf("failed to remove index %v: %v\n", id, err)
			} else {
				out.printf("removed index %v\n", id)
			}
		},
	}
	return ev, finishBar
}
