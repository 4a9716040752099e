package main

import (
	"context"
	"errors"
	"time"

	"github.com/arca-backup/arca/repo/copier"
	"github.com/arca-backup/arca/repo/engine"
	"github.com/arca-backup/arca/repo/model"
	"github.com/spf13/cobra"
)

func init() { registerCommand(newCopyCommand) }

type copyOptions struct {
	secondary secondaryRepoOptions
	filter    snapshotFilterOptions
}

func newCopyCommand(a *app) *cobra.Command {
	var opts copyOptions
	c := &cobra.Command{
		Use:   "copy [flags] [snapshotID ...]",
		Short: "Copy snapshots from one repository to another",
		Long: `
The "copy" command copies one or more snapshots from one repository to another.

NOTE: This process will have to both download (read) and upload (write) the
entire snapshot(s) due to the different encryption keys used in the source and
destination repositories. This /may incur higher bandwidth usage and costs/ than
expected during normal backup runs.

NOTE: The copying process does not re-chunk files, which may break deduplication
between the files copied and files already stored in the destination repository.
This means that copied files, which existed in both the source and destination
repository, /may occupy up to twice their space/ in the destination repository.
This can be mitigated by the "--copy-chunker-params" option when initializing a
new destination repository using the "init" command.

EXIT STATUS
===========

Exit status is 0 if the command was successful.
Exit status is 1 if there was any error.
Exit status is 10 if the repository does not exist.
Exit status is 11 if the repository is already locked.
Exit status is 12 if the password is incorrect.
`,
		RunE: func(c *cobra.Command, args []string) error { return a.runCopy(c.Context(), &opts, args) },
	}
	opts.secondary.addFlags(c.Flags(), "destination", "to copy snapshots from")
	opts.filter.addMulti(c.Flags(), true)
	return c
}

func (a *app) runCopy(ctx context.Context, opts *copyOptions, args []string) error {
	// With --from-repo the repository given by -r is the destination; with
	// the older --repo2 it is the source.
	fromRepo := opts.secondary.Repo != "" || opts.secondary.RepositoryFile != ""
	var src, dst *engine.Repository
	var err error
	if fromRepo {
		if src, err = a.openSecondaryEngine(ctx, &opts.secondary, "destination"); err != nil {
			return err
		}
		defer src.Close()
		if dst, err = a.openEngineRepo(ctx); err != nil {
			return err
		}
	} else {
		if src, err = a.openEngineRepo(ctx); err != nil {
			return err
		}
		defer src.Close()
		if dst, err = a.openSecondaryEngine(ctx, &opts.secondary, "destination"); err != nil {
			return err
		}
	}
	defer dst.Close()
	wopts, err := a.writeOptions()
	if err != nil {
		return err
	}
	var bar *progressCounter
	_, err = src.Copy(ctx, dst, args, engine.CopyOptions{
		Filter: opts.filter.filter(),
		Write:  wopts,
		Ignored: func(name string, err error) {
			a.warnf("Ignoring %q: %v\n", name, err)
		},
		LoadError: func(id model.ID, err error) {
			a.warnf("could not load snapshot %v: %v\n", id.Str(), err)
		},
		Skipped: func(s copier.Skip) {
			a.verbosef("\n%s\n", snapshotString(s.Source))
			a.verbosef("skipping source snapshot %s, was already copied to snapshot %s\n", s.Source.ID.Str(), s.Copy.ID.Str())
		},
		Events: copier.Events{
			Start: func(sn *model.Snapshot) {
				a.printf("\n%s\n", snapshotString(sn))
				a.printf("  copy started, this may take a while...\n")
			},
			Planned: func(_ *model.Snapshot, blobs int, size uint64, packs int) {
				a.verbosef("  copy %d blobs with disk size %s in %d packfiles\n\n", blobs, formatBytes(size), packs)
			},
			// restic's progress counter: a status line on a terminal (or
			// lines in a log with RESTIC_PROGRESS_FPS), then the final line
			Progress: func(_ *model.Snapshot, done, total int) {
				if done == 0 && a.opts.verbosity() >= 1 { // (also with --json, as restic)
					bar = newProgressCounter(a, "packs copied", time.Now())
				}
				bar.update(done, total)
			},
			Copied: func(_ *model.Snapshot, packs int, d time.Duration) {
				bar.update(packs, packs)
				bar.finish()
				bar = nil
			},
			BatchSaving: func(n int) {
				if n > 1 {
					a.printf("\n")
				}
			},
			Saved: func(sn *model.Snapshot, id model.ID) {
				a.printf("snapshot %s saved, copied from source snapshot %s\n", id.Str(), sn.ID.Str())
			},
		},
	})
	var lost *engine.LockLostError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &lost):
		return engineError(err)
	case engine.IsLocked(err), errors.Is(err, context.Canceled):
		return err
	}
	return fatalf("%v", err)
}
