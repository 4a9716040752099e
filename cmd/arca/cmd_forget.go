package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/arca-backup/arca/repo"
	"github.com/arca-backup/arca/repo/engine"
	"github.com/arca-backup/arca/repo/forget"
	"github.com/arca-backup/arca/repo/model"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

func init() { registerCommand(newForgetCommand) }

// forgetOptions are the flags of forget.
type forgetOptions struct {
	last, hourly, daily, weekly, monthly, yearly                   policyCount
	within, withinHourly, withinDaily, withinWeekly, withinMonthly durationFlag
	withinYearly                                                   durationFlag
	keepTags                                                       tagListsFlag
	unsafeAllowRemoveAll                                           bool
	filter                                                         snapshotFilterOptions
	compact                                                        bool
	groupBy                                                        groupByFlag
	dryRun                                                         bool
	prune                                                          bool
	pruneFlags                                                     forgetPruneFlags
}

// forgetPruneFlags are the prune flags forget accepts for --prune (restic's
// "limited" prune flag set). They are handed to prune by runForgetPrune.
type forgetPruneFlags struct {
	maxUnused           string
	maxRepackSize       string
	repackCacheableOnly bool
	repackSmall         bool // deprecated, ignored
	repackUncompressed  bool
	repackSmallerThan   string
}

func (p *forgetPruneFlags) add(f *pflag.FlagSet) {
	f.StringVar(&p.maxUnused, "max-unused", "5%", "tolerate given `limit` of unused data (absolute value in bytes with suffixes k/K, m/M, g/G, t/T, a value in % or the word 'unlimited')")
	f.StringVar(&p.maxRepackSize, "max-repack-size", "", "stop after repacking this much data in total (allowed suffixes for `size`: k/K, m/M, g/G, t/T)")
	f.BoolVar(&p.repackCacheableOnly, "repack-cacheable-only", false, "only repack packs which are cacheable")
	f.BoolVar(&p.repackSmall, "repack-small", false, "deprecated. Use --repack-smaller-than to specify a minimum size")
	f.BoolVar(&p.repackUncompressed, "repack-uncompressed", false, "repack all uncompressed data")
	f.StringVar(&p.repackSmallerThan, "repack-smaller-than", "", "pack `below-limit` packfiles (allowed suffixes: m/M)")
	_ = f.MarkDeprecated("repack-small", "small files are automatically repacked. Use --repack-smaller-than to specify a minimum size")
}

func newForgetCommand(a *app) *cobra.Command {
	var opts forgetOptions
	opts.groupBy.GroupBy = repo.GroupBy{Host: true, Paths: true}
	cmd := &cobra.Command{
		Use:   "forget [flags] [snapshot ID] [...]",
		Short: "Remove snapshots from the repository",
		Long: `
The "forget" command removes snapshots according to a policy. All snapshots are
first divided into groups according to "--group-by", and after that the policy
specified by the "--keep-*" options is applied to each group individually.
If there are not enough snapshots to keep one for each duration related
"--keep-{within-,}*" option, the oldest snapshot in the group is kept
additionally.

Please note that this command really only deletes the snapshot object in the
repository, which is a reference to data stored there. In order to remove the
unreferenced data after "forget" was run successfully, see the "prune" command.

Please also read the documentation for "forget" to learn about some important
security considerations.

EXIT STATUS
===========

Exit status is 0 if the command was successful.
Exit status is 1 if there was any error.
Exit status is 3 if there was an error removing one or more snapshots.
Exit status is 10 if the repository does not exist.
Exit status is 11 if the repository is already locked.
Exit status is 12 if the password is incorrect.
`,
		DisableAutoGenTag: true,
		RunE: func(c *cobra.Command, args []string) error {
			return a.runForget(c.Context(), opts, args)
		},
	}
	f := cmd.Flags()
	f.SetOutput(a.stderr)
	f.VarP(&opts.last, "keep-last", "l", "keep the last `n` snapshots (use 'unlimited' to keep all snapshots)")
	f.VarP(&opts.hourly, "keep-hourly", "H", "keep the last `n` hourly snapshots (use 'unlimited' to keep all hourly snapshots)")
	f.VarP(&opts.daily, "keep-daily", "d", "keep the last `n` daily snapshots (use 'unlimited' to keep all daily snapshots)")
	f.VarP(&opts.weekly, "keep-weekly", "w", "keep the last `n` weekly snapshots (use 'unlimited' to keep all weekly snapshots)")
	f.VarP(&opts.monthly, "keep-monthly", "m", "keep the last `n` monthly snapshots (use 'unlimited' to keep all monthly snapshots)")
	f.VarP(&opts.yearly, "keep-yearly", "y", "keep the last `n` yearly snapshots (use 'unlimited' to keep all yearly snapshots)")
	f.Var(&opts.within, "keep-within", "keep snapshots that are newer than `duration` (eg. 1y5m7d2h) relative to the latest snapshot")
	f.Var(&opts.withinHourly, "keep-within-hourly", "keep hourly snapshots that are newer than `duration` (eg. 1y5m7d2h) relative to the latest snapshot")
	f.Var(&opts.withinDaily, "keep-within-daily", "keep daily snapshots that are newer than `duration` (eg. 1y5m7d2h) relative to the latest snapshot")
	f.Var(&opts.withinWeekly, "keep-within-weekly", "keep weekly snapshots that are newer than `duration` (eg. 1y5m7d2h) relative to the latest snapshot")
	f.Var(&opts.withinMonthly, "keep-within-monthly", "keep monthly snapshots that are newer than `duration` (eg. 1y5m7d2h) relative to the latest snapshot")
	f.Var(&opts.withinYearly, "keep-within-yearly", "keep yearly snapshots that are newer than `duration` (eg. 1y5m7d2h) relative to the latest snapshot")
	f.Var(&opts.keepTags, "keep-tag", "keep snapshots with this `taglist` (can be specified multiple times)")
	f.BoolVar(&opts.unsafeAllowRemoveAll, "unsafe-allow-remove-all", false, "allow deleting all snapshots of a snapshot group")
	f.StringArrayVar(&opts.filter.Hosts, "hostname", nil, "only consider snapshots with the given `hostname` (can be specified multiple times)")
	_ = f.MarkDeprecated("hostname", "use --host")
	opts.filter.addMulti(f, false)
	f.BoolVarP(&opts.compact, "compact", "c", false, "use compact output format")
	f.VarP(&opts.groupBy, "group-by", "g", "`group` snapshots by host, paths and/or tags, separated by comma (disable grouping with '')")
	f.BoolVarP(&opts.dryRun, "dry-run", "n", false, "do not delete anything, just print what would be done")
	f.BoolVar(&opts.prune, "prune", false, "automatically run the 'prune' command if snapshots have been removed")
	f.SortFlags = false
	opts.pruneFlags.add(f)
	return cmd
}

// policyCount is a --keep-* count: a non-negative number or "unlimited".
type policyCount int

func (c *policyCount) Set(s string) error {
	if s == "unlimited" {
		*c = forget.Unlimited
		return nil
	}
	v, err := strconv.ParseInt(s, 10, 0)
	if err != nil {
		return err
	}
	if v < 0 {
		return errors.New("negative values not allowed, use 'unlimited' instead")
	}
	*c = policyCount(v)
	return nil
}

func (c *policyCount) String() string {
	if *c == forget.Unlimited {
		return "unlimited"
	}
	return strconv.Itoa(int(*c))
}

func (c *policyCount) Type() string { return "n" }

// durationFlag is a --keep-within* duration ("1y2m3d4h").
type durationFlag struct{ forget.Duration }

func (d *durationFlag) Set(s string) error {
	v, err := forget.ParseDuration(s)
	if err != nil {
		return err
	}
	d.Duration = v
	return nil
}

func (d *durationFlag) Type() string { return "duration" }

// tagListsFlag collects tag lists: each value is "tag[,tag,...]", with
// spaces around tags trimmed.
type tagListsFlag [][]string

func (l *tagListsFlag) Set(s string) error {
	*l = append(*l, repo.ParseTagLists([]string{s})...)
	return nil
}

func (l *tagListsFlag) String() string { return repo.FormatTagLists(*l) }

func (l *tagListsFlag) Type() string { return "TagLists" }

// flatten returns every non-empty tag of all lists.
func (l tagListsFlag) flatten() []string {
	out := []string{}
	for _, list := range l {
		for _, t := range list {
			if t != "" {
				out = append(out, t)
			}
		}
	}
	return out
}

func (o *forgetOptions) policy() forget.Policy {
	return forget.Policy{
		Last: int(o.last), Hourly: int(o.hourly), Daily: int(o.daily),
		Weekly: int(o.weekly), Monthly: int(o.monthly), Yearly: int(o.yearly),
		Within: o.within.Duration, WithinHourly: o.withinHourly.Duration, WithinDaily: o.withinDaily.Duration,
		WithinWeekly: o.withinWeekly.Duration, WithinMonthly: o.withinMonthly.Duration, WithinYearly: o.withinYearly.Duration,
		Tags: o.keepTags,
	}
}

// errSnapshotsNotRemoved is forget's failure to delete some snapshot files
// (exit code 3).
var errSnapshotsNotRemoved = errors.New("failed to remove one or more snapshots")

func (a *app) runForget(ctx context.Context, opts forgetOptions, args []string) error {
	p := opts.policy()
	for _, d := range []forget.Duration{p.Within, p.WithinHourly, p.WithinDaily, p.WithinMonthly, p.WithinWeekly, p.WithinYearly} {
		if d.Negative() {
			return fatalf("durations containing negative values are not allowed for --keep-within*")
		}
	}
	// restic checks the prune flags even without --prune
	pruneOpts, err := a.pruneOptions(opts.pruneFlags.pruneFlags(opts.dryRun))
	if err != nil {
		return err
	}
	if a.opts.NoLock && !opts.dryRun {
		return fatalf("--no-lock is only applicable in combination with --dry-run for forget command")
	}

	// like restic's printer, which is silent with --json
	printf := func(format string, args ...any) {
		if !a.opts.JSON {
			a.printf(format, args...)
		}
	}
	if len(args) == 0 && p.Empty() {
		if !opts.unsafeAllowRemoveAll {
			return fatalf("no policy was specified, no snapshots will be removed")
		}
		if opts.filter.filter().Empty() {
			return fatalf("--unsafe-allow-remove-all is not allowed unless a snapshot filter option is specified")
		}
	}

	var warn func() // prune's, before the index loads for it
	if opts.prune {
		warn = a.pruneCacheWarning()
	}
	e, err := a.openEngine(ctx, true, a.newIndexCounter(false).first(warn))
	if err != nil {
		return err
	}
	defer e.Close()

	sel := a.snapshotSelection(opts.filter, args)
	fopts := engine.ForgetOptions{
		Policy:               p,
		UnsafeAllowRemoveAll: opts.unsafeAllowRemoveAll,
		GroupBy:              &opts.groupBy.GroupBy,
		Snapshots:            &sel,
		RemoveChosen:         len(args) > 0,
		DryRun:               opts.dryRun,
	}
	var start time.Time
	done := 0
	fopts.Planned = func(groups []forget.Group) error {
		start = time.Now()
		if len(args) > 0 {
			return nil
		}
		printf("Applying Policy: %v\n", p)
		for _, g := range groups {
			if err := a.printForgetGroup(g, opts.compact); err != nil {
				return err
			}
		}
		return nil
	}
	// restic's "files deleted" counter: a status line on a terminal (or
	// lines in a log with RESTIC_PROGRESS_FPS), then the final line
	var bar *progressCounter
	total := 0
	fopts.Removing = func(n int) {
		total = n
		bar = a.shownCounter("files deleted", start)
		bar.update(0, total)
	}
	fopts.Removed = func(id model.ID, err error) {
		if err != nil {
			bar.clear()
			a.warnf("unable to remove snapshot/%v from the repository\n", id)
			return
		}
		done++
		if a.opts.verbosity() >= 3 && !a.opts.JSON {
			bar.clear()
			fmt.Fprintf(a.stdout, "removed snapshot/%v\n", id)
		}
		bar.update(done, total)
	}
	fopts.Done = func(res *engine.ForgetResult) error {
		if len(res.Removed) > 0 {
			if opts.dryRun {
				printf("Would have removed the following snapshots:\n%v\n\n", formatIDSet(res.Removed))
			} else {
				bar.finish()
			}
		}
		if a.opts.JSON && len(res.Groups) > 0 {
			if err := writeForgetJSON(a, res.Groups); err != nil {
				return err
			}
		}
		if len(res.Failed) > 0 {
			return errSnapshotsNotRemoved
		}
		if len(res.Removed) > 0 && opts.prune {
			if opts.dryRun {
				printf("%d snapshots would be removed, running prune dry run\n", len(res.Removed))
			} else {
				printf("%d snapshots have been removed, running prune\n", len(res.Removed))
			}
		}
		return nil
	}
	if opts.prune {
		fopts.Prune = &pruneOpts
		fopts.PruneEvents = a.pruneEventsWithWarning(pruneOpts.DryRun, warn)
	}
	res, err := e.Forget(ctx, fopts)
	var ra *forget.RemovesAllError
	switch {
	case err == nil:
		return nil
	case res.Pruned:
		return a.pruneError(err)
	case errors.As(err, &ra) && a.opts.Verbose >= 1 && !a.opts.JSON:
		// restic prints the refused group's header before refusing
		if err := writeGroupHeader(a.stdout, ra.Key); err != nil {
			return err
		}
	}
	return engineError(err)
}

// pruneFlags returns the prune flags forget was given as prune's own.
func (p forgetPruneFlags) pruneFlags(dryRun bool) pruneFlags {
	return pruneFlags{
		dryRun:              dryRun,
		maxUnused:           p.maxUnused,
		maxRepackSize:       p.maxRepackSize,
		repackCacheableOnly: p.repackCacheableOnly,
		repackSmall:         p.repackSmall,
		repackUncompressed:  p.repackUncompressed,
		repackSmallerThan:   p.repackSmallerThan,
	}
}

// printForgetGroup prints one group's keep and remove tables (text mode).
func (a *app) printForgetGroup(g forget.Group, compact bool) error {
	if a.opts.JSON {
		return nil
	}
	if a.opts.Verbose >= 1 {
		if err := writeGroupHeader(a.stdout, g.Key); err != nil {
			return err
		}
	}
	if a.opts.Quiet {
		return nil
	}
	if len(g.Keep) > 0 {
		a.printf("keep %d snapshots:\n", len(g.Keep))
		reasons := make([][]string, len(g.Reasons))
		for i, r := range g.Reasons {
			reasons[i] = r.Matches
		}
		if err := writeSnapshotTable(a.stdout, g.Keep, reasons, compact); err != nil {
			return err
		}
		a.printf("\n")
	}
	if len(g.Remove) > 0 {
		a.printf("remove %d snapshots:\n", len(g.Remove))
		if err := writeSnapshotTable(a.stdout, g.Remove, nil, compact); err != nil {
			return err
		}
		a.printf("\n")
	}
	return nil
}

// uniqueIDs returns ids sorted, without duplicates.
func uniqueIDs(ids []model.ID) []model.ID {
	out := slices.Clone(ids)
	slices.SortFunc(out, func(a, b model.ID) int { return strings.Compare(a.String(), b.String()) })
	return slices.Compact(out)
}

// formatIDSet prints IDs as restic prints an ID set: sorted short IDs in
// braces, "{1a2b3c4d 5e6f7a8b}".
func formatIDSet(ids []model.ID) string {
	ids = uniqueIDs(ids)
	short := make([]string, len(ids))
	for i, id := range ids {
		short[i] = id.Str()
	}
	return "{" + strings.Join(short, " ") + "}"
}

// forgetGroupJSON is one group of restic's forget --json output.
type forgetGroupJSON struct {
	Tags    []string         `json:"tags"`
	Host    string           `json:"host"`
	Paths   []string         `json:"paths"`
	Keep    []snapshotJSON   `json:"keep"`
	Remove  []snapshotJSON   `json:"remove"`
	Reasons []keepReasonJSON `json:"reasons"`
}

type keepReasonJSON struct {
	Snapshot snapshotJSON `json:"snapshot"`
	Matches  []string     `json:"matches"`
}

func snapshotsJSON(list []*model.Snapshot) []snapshotJSON {
	var out []snapshotJSON
	for _, sn := range list {
		out = append(out, newSnapshotJSON(sn))
	}
	return out
}

func writeForgetJSON(a *app, groups []forget.Group) error {
	out := make([]forgetGroupJSON, 0, len(groups))
	for _, g := range groups {
		fg := forgetGroupJSON{
			Tags: g.Key.Tags, Host: g.Key.Hostname, Paths: g.Key.Paths,
			Keep: snapshotsJSON(g.Keep), Remove: snapshotsJSON(g.Remove),
		}
		for _, r := range g.Reasons {
			fg.Reasons = append(fg.Reasons, keepReasonJSON{Snapshot: newSnapshotJSON(r.Snapshot), Matches: r.Matches})
		}
		out = append(out, fg)
	}
	return json.NewEncoder(a.stdout).Encode(out) // HTML escaping on, as in restic
}
