package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/arca-backup/arca/repo"
	"github.com/arca-backup/arca/repo/engine"
	"github.com/arca-backup/arca/repo/model"
	"github.com/spf13/cobra"
)

func init() { registerCommand(newSnapshotsCommand) }

type snapshotsOptions struct {
	filter  snapshotFilterOptions
	compact bool
	last    bool // deprecated: --latest 1
	latest  int
	groupBy groupByFlag
}

func newSnapshotsCommand(a *app) *cobra.Command {
	var opts snapshotsOptions
	cmd := &cobra.Command{
		Use:   "snapshots [flags] [snapshotID ...]",
		Short: "List all snapshots",
		Long: `
The "snapshots" command lists all snapshots stored in the repository.

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
			if opts.last && opts.latest == 0 {
				opts.latest = 1
			}
			return a.runSnapshots(c.Context(), opts, args)
		},
	}
	f := cmd.Flags()
	// flag deprecation notices go to stderr, as in restic (cobra would
	// print them to the command's output)
	f.SetOutput(a.stderr)
	opts.filter.addMulti(f, true)
	f.BoolVarP(&opts.compact, "compact", "c", false, "use compact output format")
	f.BoolVar(&opts.last, "last", false, "only show the last snapshot for each host and path")
	_ = f.MarkDeprecated("last", "use --latest 1")
	f.IntVar(&opts.latest, "latest", 0, "only show the last `n` snapshots for each host and path")
	f.VarP(&opts.groupBy, "group-by", "g", "`group` snapshots by host, paths and/or tags, separated by comma")
	return cmd
}

func (a *app) runSnapshots(ctx context.Context, opts snapshotsOptions, args []string) error {
	e, err := a.openEngineRepo(ctx)
	if err != nil {
		return err
	}
	defer e.Close()

	var list []*model.Snapshot
	err = e.Read(ctx, func(ctx context.Context, rd *engine.Reader) error {
		all, loadErrs, ok, err := a.readSnapshots(ctx, rd)
		if err != nil || !ok {
			return err
		}
		list = a.chooseSnapshots(all, loadErrs, opts.filter, args)
		return nil
	})
	if err != nil {
		return engineError(err)
	}
	groups := repo.GroupSnapshots(list, opts.groupBy.GroupBy)
	grouped := opts.groupBy.Any()
	for i := range groups {
		sns := groups[i].Snapshots
		if opts.latest > 0 {
			if grouped {
				sns = repo.Newest(sns, opts.latest)
			} else {
				sns = repo.LatestPerHostAndPaths(sns, opts.latest)
			}
		}
		repo.SortSnapshots(sns)
		groups[i].Snapshots = sns
	}
	if err := ctx.Err(); err != nil {
		return err
	}

	if a.opts.JSON {
		if err := writeSnapshotGroupsJSON(a.stdout, groups, grouped); err != nil {
			a.warnf("error printing snapshots: %v\n", err)
		}
		return nil
	}
	for _, g := range groups {
		if grouped {
			if err := writeGroupHeader(a.stdout, g.Key); err != nil {
				return err
			}
		}
		if err := writeSnapshotTable(a.stdout, g.Snapshots, nil, opts.compact); err != nil {
			return err
		}
	}
	return nil
}

// snapshotLoadErrors collects the snapshot files that could not be read,
// which chooseSnapshots reports when no snapshot was named.
type snapshotLoadErrors []string

func (l *snapshotLoadErrors) add(id model.ID, err error) {
	*l = append(*l, fmt.Sprintf("Ignoring %q: %v\n", id.String(), err))
}

// readSnapshots loads all snapshots through the engine reader for
// chooseSnapshots. Like restic it only warns when they cannot be listed
// (ok is then false), but a lost lock or a cancellation is an error.
func (a *app) readSnapshots(ctx context.Context, rd *engine.Reader) (all []*model.Snapshot, loadErrs snapshotLoadErrors, ok bool, err error) {
	all, err = rd.Snapshots(ctx, loadErrs.add)
	if err != nil {
		if ctx.Err() != nil {
			return nil, nil, false, ctx.Err()
		}
		a.warnf("could not load snapshots: %v\n", err)
		return nil, nil, false, nil
	}
	return all, loadErrs, true, nil
}

// chooseSnapshots picks the snapshots named by args, or all snapshots
// passing the filter when there are no args, in the way restic's commands
// working on many snapshots select them: "latest" (once) picks the newest
// snapshot passing the filter, other arguments are IDs or unique ID
// prefixes, duplicates are dropped, and arguments that select nothing are
// reported ("Ignoring ...") and skipped. Filters given together with
// explicit IDs (and no "latest") are reported as ignored. loadErrs are the messages
// about snapshots that could not be loaded, shown when no IDs are named.
func (a *app) chooseSnapshots(all []*model.Snapshot, loadErrs snapshotLoadErrors, fo snapshotFilterOptions, args []string) []*model.Snapshot {
	f := fo.filter()
	if len(args) == 0 {
		sort.Strings(loadErrs)
		for _, e := range loadErrs {
			a.warnf("%s", e)
		}
		var out []*model.Snapshot
		for _, sn := range all {
			if f.Matches(sn) {
				out = append(out, sn)
			}
		}
		return out
	}

	var out []*model.Snapshot
	seen := model.IDSet{}
	usedFilter := false
	ignore := func(arg string, err error) { a.warnf("Ignoring %q: %v\n", arg, err) }
	for _, arg := range args {
		switch {
		case arg == "latest":
			if usedFilter {
				continue
			}
			usedFilter = true
			sn := latestSnapshot(all, f)
			if sn == nil {
				ignore(arg, noSnapshotMatched(f))
				continue
			}
			// as in restic, "latest" is not checked against IDs seen before
			seen.Insert(sn.ID)
			out = append(out, sn)
		case strings.HasPrefix(arg, "latest:"):
			ignore(arg, errSubfolderSyntax)
		default:
			name, sub, _ := strings.Cut(arg, ":")
			sn, err := snapshotByPrefix(all, name)
			if err == nil && sub != "" {
				err = errSubfolderSyntax
			}
			if err != nil {
				ignore(arg, err)
				continue
			}
			if seen.Has(sn.ID) {
				continue
			}
			seen.Insert(sn.ID)
			out = append(out, sn)
		}
	}
	if !usedFilter && !f.Empty() {
		ignore("filters", fmt.Errorf("explicit snapshot ids are given"))
	}
	return out
}

var errSubfolderSyntax = fmt.Errorf("<snapshot>:<subfolder> syntax not allowed")

// noSnapshotMatched is restic's error when "latest" finds no snapshot
// that passes the filter f (snapshots, check).
func noSnapshotMatched(f repo.SnapshotFilter) error {
	return fmt.Errorf("no snapshot matched given filter (Paths:%v Tags:%v Hosts:%v)",
		absPaths(f.Paths), repo.FormatTagLists(f.Tags), f.Hosts)
}

// latestSnapshot is the newest snapshot passing f, whose paths are made
// absolute first as restic does for "latest".
func latestSnapshot(all []*model.Snapshot, f repo.SnapshotFilter) *model.Snapshot {
	f.Paths = absPaths(f.Paths)
	var latest *model.Snapshot
	for _, sn := range all {
		if f.Matches(sn) && (latest == nil || !sn.Time.Before(latest.Time)) {
			latest = sn
		}
	}
	return latest
}

func absPaths(paths []string) []string {
	out := make([]string, 0, len(paths))
	for _, p := range paths {
		if abs, err := filepath.Abs(p); err == nil {
			p = abs
		}
		out = append(out, filepath.Clean(p))
	}
	return out
}

// snapshotByPrefix finds the one snapshot whose ID starts with prefix, with
// restic's error texts.
func snapshotByPrefix(all []*model.Snapshot, prefix string) (*model.Snapshot, error) {
	var found *model.Snapshot
	for _, sn := range all {
		if strings.HasPrefix(sn.ID.String(), prefix) {
			if found != nil && found.ID != sn.ID {
				return nil, &repo.SnapshotPrefixError{Prefix: prefix, Ambiguous: true}
			}
			found = sn
		}
	}
	if found == nil {
		return nil, &repo.SnapshotPrefixError{Prefix: prefix}
	}
	return found, nil
}

// writeSnapshotTable prints snapshots as restic's snapshots (and forget)
// table, oldest first. reasons, when given, are the keep reasons of each
// snapshot in list (same order) and add a Reasons column.
func writeSnapshotTable(w io.Writer, list []*model.Snapshot, reasons [][]string, compact bool) error {
	type row struct {
		sn      *model.Snapshot
		reasons []string
	}
	rows := make([]row, len(list))
	hasSize := false
	for i, sn := range list {
		rows[i].sn = sn
		if i < len(reasons) {
			rows[i].reasons = reasons[i]
		}
		hasSize = hasSize || sn.Summary != nil
	}
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].sn.Time.Before(rows[j].sn.Time) })

	var headers []string
	if compact {
		headers = []string{"ID", "Time", "Host", "Tags  "}
	} else {
		headers = []string{"ID", "Time", "Host      ", "Tags      "}
		if len(reasons) > 0 {
			headers = append(headers, "Reasons")
		}
		headers = append(headers, "Paths")
	}
	if hasSize {
		headers = append(headers, "Size")
	}
	tab := newTable(headers...)
	for _, r := range rows {
		sn := r.sn
		cells := []string{sn.ID.Str(), sn.Time.Local().Format(timeFormat), sn.Hostname}
		if compact {
			cells = append(cells, strings.Join(sn.Tags, "\n"))
		} else {
			cells = append(cells, strings.Join(sn.Tags, ","))
			if len(reasons) > 0 {
				cells = append(cells, strings.Join(r.reasons, "\n"))
			}
			cells = append(cells, strings.Join(sn.Paths, "\n"))
			if len(sn.Paths) > 1 {
				tab.rowGap = true
			}
		}
		if hasSize {
			size := ""
			if sn.Summary != nil {
				size = formatBytes(sn.Summary.TotalBytesProcessed)
			}
			cells = append(cells, size)
		}
		tab.addRow(cells...)
	}
	zone := time.Now().Local().Location().String()
	if zone == "Local" {
		zone = "local time"
	}
	tab.addFooter(fmt.Sprintf("Timestamps shown in %s\n%d snapshots", zone, len(list)))
	return tab.write(w)
}

// snapshotJSON is a snapshot as restic's --json output shows it: the stored
// fields followed by its ID.
type snapshotJSON struct {
	*model.Snapshot
	ID      model.ID `json:"id"`
	ShortID string   `json:"short_id"` // deprecated in restic, still printed
}

func newSnapshotJSON(sn *model.Snapshot) snapshotJSON {
	return snapshotJSON{Snapshot: sn, ID: sn.ID, ShortID: sn.ID.Str()}
}

// writeSnapshotGroupsJSON prints restic's snapshots --json: a flat array
// without grouping, else an array of {group_key, snapshots}.
func writeSnapshotGroupsJSON(w io.Writer, groups []repo.SnapshotGroup, grouped bool) error {
	enc := json.NewEncoder(w) // HTML escaping on, as in restic
	if grouped {
		type groupJSON struct {
			GroupKey  repo.GroupKey  `json:"group_key"`
			Snapshots []snapshotJSON `json:"snapshots"`
		}
		out := []groupJSON{}
		for _, g := range groups {
			var sns []snapshotJSON
			for _, sn := range g.Snapshots {
				sns = append(sns, newSnapshotJSON(sn))
			}
			out = append(out, groupJSON{GroupKey: g.Key, Snapshots: sns})
		}
		return enc.Encode(out)
	}
	out := []snapshotJSON{}
	for _, g := range groups {
		for _, sn := range g.Snapshots {
			out = append(out, newSnapshotJSON(sn))
		}
	}
	return enc.Encode(out)
}
