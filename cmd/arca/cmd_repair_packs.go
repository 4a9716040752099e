package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"

	"github.com/arca-backup/arca/repo/engine"
	"github.com/arca-backup/arca/repo/model"
	"github.com/arca-backup/arca/repo/prune"
	"github.com/arca-backup/arca/repo/repairpacks"
	"github.com/spf13/cobra"
)

func init() { registerRepairCommand(newRepairPacksCommand) }

func newRepairPacksCommand(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "packs [packIDs...]",
		Short: "Salvage damaged pack files",
		Long: `
The "repair packs" command extracts intact blobs from the specified pack files, rebuilds
the index to remove the damaged pack files and removes the pack files from the repository.

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
			return a.runRepairPacks(c.Context(), args)
		},
	}
}

func (a *app) runRepairPacks(ctx context.Context, args []string) error {
	ids := model.IDSet{}
	var order model.IDs // the IDs as given, without repeats
	for _, arg := range args {
		id, err := parseResticID(arg)
		if err != nil {
			return err
		}
		if !ids.Has(id) {
			ids.Insert(id)
			order = append(order, id)
		}
	}
	if len(ids) == 0 {
		return fatalf("no ids specified")
	}
	// like repair index, restic prints text here also with --json
	saved := a.opts.JSON
	a.opts.JSON = false
	defer func() { a.opts.JSON = saved }()
	out := &reportPrinter{a: a}
	view := &counterView{a: a}

	wopts, err := a.writeOptions()
	if err != nil {
		return err
	}
	e, err := a.openEngineRepo(ctx)
	if err != nil {
		return err
	}
	defer e.Close()

	err = e.RepairPacks(ctx, order, engine.RepairPacksOptions{
		Write:        wopts,
		SavingCopies: func() { out.printf("saving backup copies of pack files to current folder") },
		SaveCopy: func(id model.ID, buf []byte) error {
			return writeBackupCopy("pack-"+id.String(), buf)
		},
		Events: repairpacks.Events{
			Stage: func(st repairpacks.Stage) {
				switch st {
				case repairpacks.StageSalvage:
					out.printf("salvaging intact data from specified pack files")
				case repairpacks.StageRewriteIndex:
					out.printf("rebuilding index")
				case repairpacks.StageRemovePacks:
					out.printf("removing salvaged pack files")
				}
			},
			BlobFailed: func(id model.ID, err error) { out.errorf("failed to load blob %v: %v", id, err) },
			IncompleteIndexEntry: func(pack model.ID) {
				out.errorf("repairing incomplete index entry for pack %v", pack)
			},
			NoBlobs:  func(pack model.ID) { out.errorf("no blobs found for pack %v", pack) },
			Progress: view.progress,
			Counter:  func(c prune.Counter) { view.end(c, func(line string) { out.printf("%s", line) }) },
			Info: func(level int, msg string) {
				if a.opts.verbosity() > level {
					out.printf("%s", msg)
				}
			},
		},
	})
	var dl *engine.PackDownloadError
	var pe *fs.PathError
	var lost *engine.LockLostError
	switch {
	case err == nil:
	case errors.As(err, &lost):
		return engineError(err)
	case errors.As(err, &pe):
		// a damaged pack is what is to be repaired: only a failed
		// download (or backup copy) stops, with the file system's words
		// as in restic
		return pe
	case errors.As(err, &dl):
		return dl.Err
	default:
		return fatalf("%v", err)
	}
	out.errorf("\nUse `restic repair snapshots --forget` to remove the corrupted data blobs from all snapshots")
	return nil
}

// writeBackupCopy stores a pack's bytes in a new file (never replacing one).
func writeBackupCopy(name string, buf []byte) error {
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o666)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, bytes.NewReader(buf)); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}
