package main

import (
	"context"
	"errors"
	"os"
	"os/user"
	"strconv"
	"time"

	"github.com/arca-backup/arca/repo/engine"
	"github.com/arca-backup/arca/repo/model"
	"github.com/arca-backup/arca/repo/recovery"
	"github.com/spf13/cobra"
)

func init() { registerCommand(newRecoverCommand) }

func newRecoverCommand(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "recover [flags]",
		Short: "Recover data from the repository not referenced by snapshots",
		Long: `
The "recover" command builds a new snapshot from all directories it can find in
the raw data of the repository which are not referenced in an existing snapshot.
It can be used if, for example, a snapshot has been removed by accident with "forget".

EXIT STATUS
===========

Exit status is 0 if the command was successful.
Exit status is 1 if there was any error.
Exit status is 10 if the repository does not exist.
Exit status is 11 if the repository is already locked.
Exit status is 12 if the password is incorrect.
`,
		DisableAutoGenTag: true,
		RunE: func(c *cobra.Command, _ []string) error {
			return a.runRecover(c.Context())
		},
	}
}

func (a *app) runRecover(ctx context.Context) error {
	hostname, err := os.Hostname()
	if err != nil {
		return err
	}
	// restic prints text here also with --json
	saved := a.opts.JSON
	a.opts.JSON = false
	defer func() { a.opts.JSON = saved }()
	out := &reportPrinter{a: a}

	wopts, err := a.writeOptions()
	if err != nil {
		return err
	}
	meta := recovery.Snapshot{Hostname: hostname, Time: time.Now()}
	if u, err := user.Current(); err == nil {
		meta.Username = u.Username
		if n, err := strconv.ParseUint(u.Uid, 10, 32); err == nil {
			meta.UID = uint32(n)
		}
		if n, err := strconv.ParseUint(u.Gid, 10, 32); err == nil {
			meta.GID = uint32(n)
		}
	}
	e, err := a.openEngineRepo(ctx)
	if err != nil {
		return err
	}
	defer e.Close()

	indexEvents, finishIndexBar := a.repairIndexEvents(out)
	var bar *progressCounter
	found := false
	res, err := e.Recover(ctx, engine.RecoverOptions{
		Snapshot: meta,
		Write:    wopts,
		Events: recovery.Events{
			Stage: func(st recovery.Stage, n int) {
				switch st {
				case recovery.StageRepairIndex:
					out.printf("ensuring index is complete\n")
				case recovery.StageLoadIndex:
					finishIndexBar()
					out.printf("load index files\n")
				case recovery.StageLoadTrees:
					out.printf("load %d trees\n", n)
					bar = out.counter("trees loaded")
				case recovery.StageLoadSnapshots:
					bar.finish()
					bar = nil
					out.printf("load snapshots\n")
				case recovery.StageDone:
					out.printf("done\n")
				}
			},
			RepairIndex:  indexEvents,
			TreeProgress: func(done, total int) { bar.update(done, total) },
			TreeUnreadable: func(id model.ID, err error) {
				out.errorf("unable to load tree %v: %v\n", id.Str(), err)
			},
		},
		Found: func(roots model.IDs) {
			found = true
			finishIndexBar()
			bar.finish()
			for _, id := range roots {
				out.verbosef("found root tree %v\n", id.Str())
			}
			out.importantf("\nfound %d unreferenced roots\n", len(roots))
			if len(roots) == 0 {
				out.printf("no snapshot to write.\n")
			}
		},
	})
	finishIndexBar()
	bar.finish()
	if err != nil {
		var lost *engine.LockLostError
		if found && !errors.Is(err, context.Canceled) && !errors.As(err, &lost) {
			return fatalf("%v", err) // saving the snapshot failed
		}
		return engineError(err)
	}
	if res.Snapshot == nil {
		return nil
	}
	sn := res.Snapshot
	out.importantf("saved new snapshot %v\n", sn.ID.Str())
	return nil
}
