package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/arca-backup/arca/repo"
	"github.com/arca-backup/arca/repo/engine"
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

// rewritePlan is what every selected snapshot gets: its filters and new
// metadata, or the error restic reports for each snapshot.
type rewritePlan struct {
	rejects  []filter.RejectFunc
	includes []filter.IncludeFunc
	metadata *rewriter.Metadata
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
	var p rewritePlan
	var err error
	if p.rejects, err = o.excludes.RejectFuncs(warn); err != nil {
		return nested(err)
	}
	if p.includes, err = o.includes.IncludeFuncs(warn); err != nil {
		return nested(err)
	}
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
	if o.forget {
		a.printf("create exclusive lock for repository\n")
	}
	plan := a.rewritePlan(o)
	if plan.err != nil {
		// the engine must have something to do to reach the snapshots,
		// where the error is reported; nothing is changed
		plan.metadata = &rewriter.Metadata{}
	}
	wopts, err := a.replaceWriteOptions(o.dryRun)
	if err != nil {
		return err
	}
	e, err := a.openEngineRepo(ctx)
	if err != nil {
		return err
	}
	defer e.Close()
	debug := func(format string) func(string) {
		return func(path string) {
			if a.opts.verbosity() >= 3 {
				a.printf(format, path)
			}
		}
	}
	res, err := e.Rewrite(ctx, engine.RewriteOptions{
		Snapshots:       a.snapshotSelection(o.snapshots, args),
		Excludes:        plan.rejects,
		Includes:        plan.includes,
		Metadata:        plan.metadata,
		SnapshotSummary: o.snapshotSummary,
		Forget:          o.forget,
		DryRun:          o.dryRun,
		Write:           wopts,
		Events:          a.replaceEvents(plan.err),
		Excluded:        debug("excluding %q\n"),
		Included:        debug("including %q\n"),
		IncludedDir:     debug("including directory %q\n"),
	})
	return a.replaceDone(res, err, o.dryRun)
}

// replaceWriteOptions returns the writer settings of rewrite and repair
// snapshots (none for a dry run).
func (a *app) replaceWriteOptions(dryRun bool) (repo.WriteOptions, error) {
	if dryRun {
		return repo.WriteOptions{}, nil
	}
	comp, err := repo.ParseCompression(a.opts.Compression)
	if err != nil {
		return repo.WriteOptions{}, fatalf("%v", err)
	}
	return repo.WriteOptions{Compression: comp, PackSize: int(a.opts.PackSize) << 20, NoExtraVerify: a.opts.NoExtraVerify}, nil
}

// replaceEvents prints restic's messages for rewrite and repair snapshots;
// every snapshot fails with planErr when it is set.
func (a *app) replaceEvents(planErr error) engine.ReplaceEvents {
	return engine.ReplaceEvents{
		Snapshot: func(sn *model.Snapshot) error {
			a.printf("\n%s\n", snapshotString(sn))
			return planErr
		},
		Replace: rewriter.ReplaceEvents{
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
		},
	}
}

// replaceDone renders the end of rewrite or repair snapshots.
func (a *app) replaceDone(res *engine.RewriteResult, err error, dryRun bool) error {
	var lost *engine.LockLostError
	var se *engine.SnapshotError
	switch {
	case errors.As(err, &lost):
		return engineError(err)
	case errors.As(err, &se):
		return fatalf("unable to rewrite snapshot ID %q: %v", se.Snapshot.Str(), se.Err)
	case err != nil:
		return err
	}
	changed := len(res.Changed)
	a.printf("\n")
	switch {
	case changed == 0 && !dryRun:
		a.printf("no snapshots were modified\n")
	case changed == 0:
		a.printf("no snapshots would be modified\n")
	case !dryRun:
		a.printf("modified %d snapshots\n", changed)
	default:
		a.printf("would modify %d snapshots\n", changed)
	}
	return nil
}
