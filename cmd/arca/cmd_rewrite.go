package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/arca-backup/arca/repo"
	"github.com/arca-backup/arca/repo/filter"
	"github.com/arca-backup/arca/repo/model"
	"github.com/arca-backup/arca/repo/rewriter"
	"github.com/spf13/cobra"
)

func init() { registerCommand(newRewriteCommand) }

type rewriteOptions struct {
	forget          bool
	dryRun          bool
	snapshotSummary bool
	newHost         string
	newTime         string
	snapshots       snapshotFilterOptions
	excludes        filter.Patterns
	includes        filter.Patterns
}

func newRewriteCommand(a *app) *cobra.Command {
	var o rewriteOptions
	c := &cobra.Command{
		Use:   "rewrite [flags] [snapshotID ...]",
		Short: "Rewrite snapshots to exclude files or change metadata",
		Long: `
The "rewrite" command creates new snapshots from existing ones. You can use
exclude or include filters to control which files are included in the new
snapshots. Unless --new-host or --new-time is specified, metadata (time, host,
tags) is preserved.

The snapshots to rewrite are specified using the --host, --tag and --path options,
or by providing a list of snapshot IDs. Please note that specifying neither any of
these options nor a snapshot ID will cause the command to rewrite all snapshots.

The special tag 'rewrite' will be added to the new snapshots to distinguish
them from the original ones, unless --forget is used. If the --forget option is
used, the original snapshots will instead be directly removed from the repository.

Please note that the --forget option only removes the snapshots and not the actual
data stored in the repository. In order to delete the no longer referenced data,
use the "prune" command.

When rewrite is used with the --snapshot-summary option, a new snapshot is
created containing statistics summary data. Only two fields in the summary will
be non-zero: TotalFilesProcessed and TotalBytesProcessed.

When rewrite is called with one of the --exclude or --include options,
TotalFilesProcessed and TotalBytesProcessed will be updated in the snapshot summary.

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
			return a.runRewrite(c.Context(), &o, args)
		},
	}
	f := c.Flags()
	f.BoolVar(&o.forget, "forget", false, "remove original snapshots after creating new ones")
	f.BoolVarP(&o.dryRun, "dry-run", "n", false, "do not do anything, just print what would be done")
	f.StringVar(&o.newHost, "new-host", "", "replace hostname")
	f.StringVar(&o.newTime, "new-time", "", "replace time of the backup")
	f.BoolVarP(&o.snapshotSummary, "snapshot-summary", "s", false, "create snapshot summary record if it does not exist")
	o.snapshots.addMulti(f, true)
	addPatternFlags(f, &o.excludes, "exclude", "e")
	addPatternFlags(f, &o.includes, "include", "i")
	return c
}

// rewritePlan is what every selected snapshot gets: its tree function and
// new metadata, or the error restic reports for each snapshot.
type rewritePlan struct {
	tree     func() rewriter.TreeFunc
	metadata *rewriter.Metadata
	keep     bool // keep a snapshot whose tree would be dropped entirely
	err      error
}

func (a *app) rewritePlan(o *rewriteOptions) rewritePlan {
	warn := func(format string, args ...any) { a.warnf(format+"\n", args...) }
	// restic reports these errors for each snapshot, and its fatal ones
	// keep their "Fatal: " inside the message
	nested := func(err error) rewritePlan {
		if strings.HasPrefix(err.Error(), "--") {
			err = errors.New("Fatal: " + err.Error())
		}
		return rewritePlan{err: err}
	}
	rejects, err := o.excludes.RejectFuncs(warn)
	if err != nil {
		return nested(err)
	}
	includes, err := o.includes.IncludeFuncs(warn)
	if err != nil {
		return nested(err)
	}
	var p rewritePlan
	if o.newHost != "" || o.newTime != "" {
		p.metadata = &rewriter.Metadata{Hostname: o.newHost}
		if o.newTime != "" {
			t, err := time.ParseInLocation(time.DateTime, o.newTime, time.Local)
			if err != nil {
				return rewritePlan{err: fmt.Errorf("Fatal: error in time option: %w", err)}
			}
			p.metadata.Time = &t
		}
	}
	p.keep = len(includes) > 0
	if len(includes) == 0 && len(rejects) == 0 && !o.snapshotSummary {
		p.tree = func() rewriter.TreeFunc {
			return func(_ context.Context, sn *model.Snapshot, _ rewriter.BlobLoader, _ rewriter.BlobSaver) (model.ID, *model.SnapshotSummary, error) {
				return *sn.Tree, nil, nil
			}
		}
		return p
	}
	debug := func(format string) func(string) {
		return func(path string) {
			if a.opts.verbosity() >= 3 {
				a.printf(format, path)
			}
		}
	}
	var node rewriter.NodeFunc
	var keepEmpty rewriter.KeepEmptyFunc
	if len(includes) > 0 {
		node, keepEmpty = rewriter.IncludeNodes(includes, debug("including %q\n"), debug("including directory %q\n"))
	} else {
		node = rewriter.ExcludeNodes(rejects, debug("excluding %q\n"))
	}
	p.tree = func() rewriter.TreeFunc {
		rw, size := rewriter.NewCounting(node, keepEmpty)
		return func(ctx context.Context, sn *model.Snapshot, loader rewriter.BlobLoader, saver rewriter.BlobSaver) (model.ID, *model.SnapshotSummary, error) {
			id, err := rw.RewriteTree(ctx, loader, saver, "/", *sn.Tree)
			if err != nil {
				return model.ID{}, nil, err
			}
			summary := &model.SnapshotSummary{}
			if sn.Summary != nil {
				*summary = *sn.Summary
			}
			s := size()
			summary.TotalFilesProcessed = s.Files
			summary.TotalBytesProcessed = s.Bytes
			return id, summary, nil
		}
	}
	return p
}

func (a *app) runRewrite(ctx context.Context, o *rewriteOptions, args []string) error {
	hasExcludes, hasIncludes := !o.excludes.Empty(), !o.includes.Empty()
	switch {
	case !o.snapshotSummary && !hasExcludes && !hasIncludes && o.newHost == "" && o.newTime == "":
		return fatalf("Nothing to do: no excludes/includes provided and no new metadata provided")
	case hasExcludes && hasIncludes:
		return fatalf("exclude and include patterns are mutually exclusive")
	}
	mode := lockAppend
	if o.forget {
		a.printf("create exclusive lock for repository\n")
		mode = lockExclusive
	}
	plan := a.rewritePlan(o)
	return a.replaceSnapshots(ctx, replaceRun{
		mode:   mode,
		dryRun: o.dryRun,
		filter: o.snapshots,
		args:   args,
		rewrite: func(ctx context.Context, r *repo.Repository, w *repo.Writer, sn *model.Snapshot, ev rewriter.ReplaceEvents) (bool, error) {
			if plan.err != nil {
				return false, plan.err
			}
			return rewriter.Replace(ctx, r, w, sn, plan.tree(), rewriter.ReplaceOptions{
				DryRun:            o.dryRun,
				Forget:            o.forget,
				Metadata:          plan.metadata,
				AddTag:            "rewrite",
				KeepEmptySnapshot: plan.keep,
			}, ev)
		},
	})
}

// replaceRun is one run of rewrite or repair snapshots: which snapshots,
// which lock, and how each one is replaced.
type replaceRun struct {
	mode    lockMode
	dryRun  bool
	filter  snapshotFilterOptions
	args    []string
	rewrite func(ctx context.Context, r *repo.Repository, w *repo.Writer, sn *model.Snapshot, ev rewriter.ReplaceEvents) (bool, error)
}

// replaceSnapshots opens the repository, rewrites every selected snapshot
// with run.rewrite and prints restic's messages.
func (a *app) replaceSnapshots(ctx context.Context, run replaceRun) error {
	if run.dryRun {
		run.mode = lockNone
	}
	s, err := a.openSession(ctx, run.mode)
	if err != nil {
		return err
	}
	defer s.done()
	ctx = s.ctx
	r := s.repo
	if err := r.LoadIndex(ctx, nil); err != nil {
		return err
	}
	snaps, err := a.findFilteredSnapshots(ctx, r, run.filter, run.args)
	if err != nil {
		return err
	}
	var w *repo.Writer
	if !run.dryRun {
		comp, err := repo.ParseCompression(a.opts.Compression)
		if err != nil {
			return fatalf("%v", err)
		}
		w, err = r.NewWriter(ctx, repo.WriteOptions{Compression: comp, PackSize: int(a.opts.PackSize) << 20, NoExtraVerify: a.opts.NoExtraVerify})
		if err != nil {
			return err
		}
	}
	ev := rewriter.ReplaceEvents{
		WouldDeleteEmpty: func() { a.printf("would delete empty snapshot\n") },
		RemovedEmpty:     func(old model.ID) { a.printf("removed empty snapshot %s\n", old.Str()) },
		WouldSave:        func() { a.printf("would save new snapshot\n") },
		WouldRemoveOld:   func() { a.printf("would remove old snapshot\n") },
		WouldSetTime:     func(t time.Time) { a.printf("would set time to %s\n", t) },
		WouldSetHost:     func(h string) { a.printf("would set hostname to %s\n", h) },
		SetTime:          func(t time.Time) { a.printf("setting time to %s\n", t) },
		SetHost:          func(h string) { a.printf("setting host to %s\n", h) },
		Saved:            func(id model.ID) { a.printf("saved new snapshot %s\n", id.Str()) },
		RemovedOld:       func(old model.ID) { a.printf("removed old snapshot %s\n", old.Str()) },
	}
	changed := 0
	for _, sn := range snaps {
		a.printf("\n%s\n", snapshotString(sn))
		ok, err := run.rewrite(ctx, r, w, sn, ev)
		if err != nil {
			if cause := a.lockLost(); cause != nil {
				return cause
			}
			return fatalf("unable to rewrite snapshot ID %q: %v", sn.ID.Str(), err)
		}
		if ok {
			changed++
		}
	}
	if err := ctx.Err(); err != nil {
		if cause := a.lockLost(); cause != nil {
			return cause
		}
		return err
	}
	a.printf("\n")
	switch {
	case changed == 0 && !run.dryRun:
		a.printf("no snapshots were modified\n")
	case changed == 0:
		a.printf("no snapshots would be modified\n")
	case !run.dryRun:
		a.printf("modified %d snapshots\n", changed)
	default:
		a.printf("would modify %d snapshots\n", changed)
	}
	return nil
}
