package engine

import (
	"context"
	"fmt"

	"github.com/arca-backup/arca/repo"
	"github.com/arca-backup/arca/repo/model"
	"github.com/arca-backup/arca/repo/recovery"
	"github.com/arca-backup/arca/repo/repairindex"
	"github.com/arca-backup/arca/repo/repairpacks"
)

// RepairIndexOptions tune RepairIndex.
type RepairIndexOptions struct {
	// ReadAllPacks ignores the existing index and reads the header of
	// every pack file; otherwise only packs the index lacks (or lists
	// with a wrong size) are read.
	ReadAllPacks bool
	// Events receives the stages, the packs added, resized and dropped,
	// and progress counts.
	Events repairindex.Events
}

// RepairIndex rebuilds the index from the pack files, as restic's repair
// index does, under an exclusive lock. The new index files are stored
// before the old ones are removed, so an interruption leaves a complete
// index behind.
func (e *Repository) RepairIndex(ctx context.Context, opts RepairIndexOptions) error {
	return e.withLock(ctx, ExclusiveLock, func(ctx context.Context) error {
		defer e.r.DropIndex() // index files were replaced: read them anew
		return repairindex.Run(ctx, e.r, repairindex.Options{ReadAllPacks: opts.ReadAllPacks}, opts.Events)
	})
}

// RepairPacksOptions tune RepairPacks.
type RepairPacksOptions struct {
	// Write tunes the writer of the new packs.
	Write repo.WriteOptions
	// SaveCopy, when set, receives each named pack file's bytes (as
	// stored, damaged or not) before anything is changed, to keep a
	// copy; an error it returns stops the repair.
	SaveCopy func(pack model.ID, data []byte) error
	// SavingCopies, when set, is called once before the first pack is
	// downloaded for SaveCopy.
	SavingCopies func()
	// Events receives the stages, the blobs lost and progress counts.
	Events repairpacks.Events
}

// PackDownloadError is the error of RepairPacks when a named pack file
// cannot be downloaded at all (a pack that downloads but is damaged is
// what is repaired, and no error).
type PackDownloadError struct {
	Pack model.ID
	Err  error
}

func (e *PackDownloadError) Error() string {
	return fmt.Sprintf("download pack %s: %v", e.Pack.Str(), e.Err)
}

func (e *PackDownloadError) Unwrap() error { return e.Err }

// RepairPacks salvages the named pack files, as restic's repair packs
// does, under an exclusive lock: every blob that still reads correctly
// (from the pack or another copy) is stored again, then the packs are
// removed from the index and deleted. Blobs that could not be saved are
// lost; RepairSnapshots with Forget then removes the references to them.
func (e *Repository) RepairPacks(ctx context.Context, packs []model.ID, opts RepairPacksOptions) error {
	ids := model.IDSet{}
	for _, id := range packs {
		ids.Insert(id)
	}
	return e.withLock(ctx, ExclusiveLock, func(ctx context.Context) error {
		if err := e.LoadIndex(ctx); err != nil {
			return err
		}
		defer e.r.DropIndex() // packs and index files were replaced
		if opts.SaveCopy != nil {
			if opts.SavingCopies != nil {
				opts.SavingCopies()
			}
			done := model.IDSet{}
			for _, id := range packs {
				if done.Has(id) {
					continue
				}
				done.Insert(id)
				buf, err := repairpacks.Download(ctx, e.r, id)
				if buf == nil {
					return &PackDownloadError{Pack: id, Err: err}
				}
				if err := opts.SaveCopy(id, buf); err != nil {
					return err
				}
			}
		}
		return repairpacks.Run(ctx, e.r, ids, opts.Write, opts.Events)
	})
}

// RecoverOptions tune Recover.
type RecoverOptions struct {
	// Snapshot is the host, user and time recorded in the new snapshot.
	Snapshot recovery.Snapshot
	// Write tunes the writer of the new tree.
	Write repo.WriteOptions
	// Events receives the stages (the index is completed first, as by
	// RepairIndex), unreadable trees and progress.
	Events recovery.Events
	// Found, when set, is told the roots found, before the snapshot is
	// saved.
	Found func(roots model.IDs)
	// DryRun finds the roots but saves no snapshot.
	DryRun bool
}

// RecoverResult is what Recover found and saved.
type RecoverResult struct {
	// Roots are the trees no snapshot or other tree refers to.
	Roots model.IDs
	// Snapshot is the new snapshot holding them (tag "recovered", path
	// "/recover"), nil when there was nothing to save.
	Snapshot *model.Snapshot
}

// Recover saves a snapshot of the directory trees no snapshot refers to
// (one directory per tree), as restic's recover does: it brings back
// snapshots removed by accident whose data is still there, under an
// exclusive lock. An error after the roots are found (saving) is
// returned with the result so far.
func (e *Repository) Recover(ctx context.Context, opts RecoverOptions) (*RecoverResult, error) {
	res := &RecoverResult{}
	err := e.withLock(ctx, ExclusiveLock, func(ctx context.Context) error {
		defer e.r.DropIndex() // the index was completed on disk
		roots, err := recovery.FindRoots(ctx, e.r, opts.Events)
		if err != nil {
			return err
		}
		res.Roots = roots
		if opts.Found != nil {
			opts.Found(roots)
		}
		if len(roots) == 0 || opts.DryRun {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		res.Snapshot, err = recovery.Save(ctx, e.r, roots, opts.Snapshot, opts.Write)
		return err
	})
	return res, err
}
