package main

import (
	"context"
	"time"

	"github.com/arca-backup/arca/repo"
	"github.com/arca-backup/arca/repo/copier"
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

// copyEnd is one side of a copy: an open repository with its lock.
type copyEnd struct {
	r    *repo.Repository
	ctx  context.Context
	done func()
}

func (a *app) runCopy(ctx context.Context, opts *copyOptions, args []string) error {
	// With --from-repo the repository given by -r is the destination; with
	// the older --repo2 it is the source.
	fromRepo := opts.secondary.Repo != "" || opts.secondary.RepositoryFile != ""
	var src, dst copyEnd
	openPrimary := func(mode lockMode) (copyEnd, error) {
		s, err := a.openSession(ctx, mode)
		if err != nil {
			return copyEnd{}, err
		}
		return copyEnd{s.repo, s.ctx, s.done}, nil
	}
	openSecondary := func(ctx context.Context, mode lockMode) (copyEnd, error) {
		r, err := a.openSecondaryRepository(ctx, &opts.secondary, "destination")
		if err != nil {
			return copyEnd{}, err
		}
		release, lctx, err := a.lockRepository(ctx, r, mode)
		if err != nil {
			r.Close()
			r.Backend().Close()
			return copyEnd{}, err
		}
		return copyEnd{r, lctx, func() { release(); r.Close(); r.Backend().Close() }}, nil
	}
	var err error
	if fromRepo {
		if src, err = openSecondary(ctx, lockShared); err != nil {
			return err
		}
		defer src.done()
		if dst, err = openPrimary(lockAppend); err != nil {
			return err
		}
	} else {
		if src, err = openPrimary(lockShared); err != nil {
			return err
		}
		defer src.done()
		if dst, err = openSecondary(src.ctx, lockAppend); err != nil {
			return err
		}
	}
	defer dst.done()
	// a lost lock on either side stops the copy
	ctx, cancel := context.WithCancelCause(dst.ctx)
	defer cancel(nil)
	stop := context.AfterFunc(src.ctx, func() { cancel(context.Cause(src.ctx)) })
	defer stop()

	filter := opts.filter.filter()
	srcAll, err := a.loadSnapshots(ctx, src.r)
	if err != nil {
		return err
	}
	dstAll, err := a.loadSnapshots(ctx, dst.r)
	if err != nil {
		return err
	}
	var selected []*model.Snapshot
	if len(args) == 0 {
		selected, _ = repo.FilterSnapshots(ctx, src.r, srcAll, nil, filter)
	}
	for _, arg := range args {
		sel, err := repo.FindSnapshot(ctx, src.r, srcAll, arg, filter)
		if err != nil {
			a.warnf("Ignoring %q: %v\n", arg, err)
			continue
		}
		selected = append(selected, sel.Snapshot)
	}
	if err := src.r.LoadIndex(ctx, nil); err != nil {
		return err
	}
	if err := dst.r.LoadIndex(ctx, nil); err != nil {
		return err
	}
	dstFiltered, _ := repo.FilterSnapshots(ctx, dst.r, dstAll, nil, filter)
	pending, skipped := copier.Pending(selected, dstFiltered)
	for _, s := range skipped {
		a.verbosef("\n%s\n", snapshotString(s.Source))
		a.verbosef("skipping source snapshot %s, was already copied to snapshot %s\n", s.Source.ID.Str(), s.Copy.ID.Str())
	}
	wopts, err := a.writeOptions()
	if err != nil {
		return err
	}
	err = copier.Run(ctx, src.r, dst.r, pending, copier.Options{Write: wopts}, copier.Events{
		Start: func(sn *model.Snapshot) {
			a.printf("\n%s\n", snapshotString(sn))
			a.printf("  copy started, this may take a while...\n")
		},
		Planned: func(_ *model.Snapshot, blobs int, size uint64, packs int) {
			a.verbosef("  copy %d blobs with disk size %s in %d packfiles\n\n", blobs, formatBytes(size), packs)
		},
		Copied: func(_ *model.Snapshot, packs int, d time.Duration) {
			// restic's progress counter, printed once when it ends
			if packs == 0 {
				a.printf("[%s]          %d packs copied\n", formatDuration(d), packs)
			} else {
				a.printf("[%s] %s  %d / %d packs copied\n", formatDuration(d), formatPercent(uint64(packs), uint64(packs)), packs, packs)
			}
		},
		BatchSaving: func(n int) {
			if n > 1 {
				a.printf("\n")
			}
		},
		Saved: func(sn *model.Snapshot, id model.ID) {
			a.printf("snapshot %s saved, copied from source snapshot %s\n", id.Str(), sn.ID.Str())
		},
	})
	if err != nil {
		if cause := a.lockLost(); cause != nil {
			return cause
		}
		return fatalf("%v", err)
	}
	return nil
}
