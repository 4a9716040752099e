package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/arca-backup/arca/repo/engine"
	"github.com/arca-backup/arca/repo/filter"
	"github.com/arca-backup/arca/repo/model"
	"github.com/arca-backup/arca/repo/restorer"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

func init() { registerCommand(newRestoreCommand) }

type restoreOptions struct {
	excludes        filter.Patterns
	includes        filter.Patterns
	target          string
	snapshots       snapshotFilterOptions
	dryRun          bool
	sparse          bool
	verify          bool
	overwrite       overwriteFlag
	delete          bool
	excludeXattr    []string
	includeXattr    []string
	ownershipByName bool
}

// overwriteFlag is --overwrite as a pflag value.
type overwriteFlag struct{ mode restorer.Overwrite }

func (f *overwriteFlag) String() string { return f.mode.String() }
func (f *overwriteFlag) Type() string   { return "behavior" }
func (f *overwriteFlag) Set(s string) error {
	m, err := restorer.ParseOverwrite(s)
	if err != nil {
		return err
	}
	f.mode = m
	return nil
}

func newRestoreCommand(a *app) *cobra.Command {
	var o restoreOptions
	c := &cobra.Command{
		Use:   "restore [flags] snapshotID",
		Short: "Extract the data from a snapshot",
		Long: `
The "restore" command extracts the data from a snapshot from the repository to
a directory.

The special snapshotID "latest" can be used to restore the latest snapshot in the
repository.

To only restore a specific subfolder, you can use the "snapshotID:subfolder"
syntax, where "subfolder" is a path within the snapshot tree as shown by
"restic ls".

POSIX ACLs are always restored by their numeric value, while file ownership can optionally be restored by name instead of numeric value.

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
			return a.runRestore(c.Context(), &o, args)
		},
	}
	f := c.Flags()
	f.StringVarP(&o.target, "target", "t", "", "directory to extract data to")
	addPatternFlags(f, &o.excludes, "exclude", "e")
	addPatternFlags(f, &o.includes, "include", "i")
	f.StringArrayVar(&o.excludeXattr, "exclude-xattr", nil, "exclude xattr by `pattern` (can be specified multiple times)")
	f.StringArrayVar(&o.includeXattr, "include-xattr", nil, "include xattr by `pattern` (can be specified multiple times)")
	o.snapshots.addSingle(f)
	f.BoolVar(&o.dryRun, "dry-run", false, "do not write any data, just show what would be done")
	f.BoolVar(&o.sparse, "sparse", false, "restore files as sparse")
	f.BoolVar(&o.verify, "verify", false, "verify restored files content")
	f.Var(&o.overwrite, "overwrite", "overwrite behavior, one of (always|if-changed|if-newer|never)")
	f.BoolVar(&o.delete, "delete", false, "delete files from target directory if they do not exist in snapshot. Use '--dry-run -vv' to check what would be deleted")
	f.BoolVar(&o.ownershipByName, "ownership-by-name", false, "restore file ownership by user name and group name (except POSIX ACLs)")
	return c
}

// addPatternFlags adds restic's --exclude/--iexclude/--exclude-file/
// --iexclude-file flags (or the include ones).
func addPatternFlags(f *pflag.FlagSet, p *filter.Patterns, name, short string) {
	f.StringArrayVarP(&p.Patterns, name, short, nil, name+" a `pattern` (can be specified multiple times)")
	f.StringArrayVar(&p.Insensitive, "i"+name, nil, "same as --"+name+" `pattern` but ignores the casing of filenames")
	f.StringArrayVar(&p.Files, name+"-file", nil, "read "+name+" patterns from a `file` (can be specified multiple times)")
	f.StringArrayVar(&p.InsensitiveFiles, "i"+name+"-file", nil, "same as --"+name+"-file but ignores casing of `file`names in patterns")
}

// patternError makes the flag-naming errors of package filter fatal, as restic does.
func patternError(err error) error {
	if strings.HasPrefix(err.Error(), "--") {
		return fatalf("%v", err)
	}
	return err
}

func (a *app) runRestore(ctx context.Context, o *restoreOptions, args []string) error {
	defer limitMemory(minMemoryHeadroom)()
	out := newRestoreOutput(a)
	rejects, err := o.excludes.RejectFuncs(out.warnf)
	if err != nil {
		return patternError(err)
	}
	includes, err := o.includes.IncludeFuncs(out.warnf)
	if err != nil {
		return patternError(err)
	}
	switch {
	case len(args) == 0:
		return fatalf("no snapshot ID specified")
	case len(args) > 1:
		return fatalf("more than one snapshot ID specified: %v", args)
	case o.target == "":
		return fatalf("please specify a directory to restore to (--target)")
	case len(rejects) > 0 && len(includes) > 0:
		return fatalf("exclude and include patterns are mutually exclusive")
	case o.dryRun && o.verify:
		return fatalf("--dry-run and --verify are mutually exclusive")
	case o.delete && filepath.Clean(o.target) == "/" && len(rejects) == 0 && len(includes) == 0:
		return fatalf("'--target / --delete' must be combined with an include or exclude filter")
	}

	xattrSelect, err := xattrFilter(o, out.warnf)
	if err != nil {
		return err
	}
	opts := restorer.Options{
		DryRun:          o.dryRun,
		Sparse:          o.sparse,
		Delete:          o.delete,
		Overwrite:       o.overwrite.mode,
		OwnershipByName: o.ownershipByName,
		XattrSelect:     xattrSelect,
	}
	switch {
	case len(rejects) > 0:
		opts.Select = func(item string, isDir bool) (bool, bool) {
			for _, reject := range rejects {
				if reject(item) {
					return false, false
				}
			}
			return true, isDir
		}
	case len(includes) > 0:
		opts.Select = func(item string, isDir bool) (bool, bool) {
			selected, child := false, false
			for _, include := range includes {
				m, c := include(item)
				selected, child = selected || m, child || c
				if selected && child {
					break
				}
			}
			return selected, child && isDir
		}
	}

	e, err := a.openEngineRepo(ctx)
	if err != nil {
		return err
	}
	defer e.Close()

	var res *engine.RestoreResult
	var verifyStart time.Time
	var verified *progressCounter // "files verified", on a terminal
	err = e.Read(ctx, func(ctx context.Context, rd *engine.Reader) error {
		all, err := rd.Snapshots(ctx, a.warnSnapshotLoad)
		if err != nil {
			return err
		}
		sn, sub, err := resolveSnapshotArg(ctx, rd, all, o.snapshots, args[0])
		if err != nil {
			return fatalf("failed to find snapshot: %v", err)
		}
		tree, err := rd.RestoreTree(ctx, sn, sub)
		if err != nil {
			return err
		}
		if !a.opts.JSON {
			a.printf("restoring %s to %s\n", snapshotString(sn), o.target)
		}
		res, err = rd.Restore(ctx, tree, o.target, engine.RestoreOptions{
			Restore: opts,
			Verify:  o.verify,
			Events: restorer.Events{
				Item: out.item,
				Error: func(location string, err error) error {
					out.itemError(location, err)
					return nil
				},
				Warn: func(msg string) { out.warnf("Warning: %s\n", msg) },
			},
			Status:         out.status,
			StatusInterval: out.interval,
			Verifying: func() {
				if !a.opts.JSON {
					a.printf("verifying files in %s\n", o.target)
				}
				verifyStart = time.Now()
				if a.stdoutIsTerminal() { // restic's counter is for terminals only
					verified = a.shownCounter("files verified", verifyStart)
				}
			},
			VerifyProgress: func(done, total int) { verified.update(done, total) },
		})
		return err
	})
	out.clear()
	verified.finish()
	if err != nil {
		return engineError(err)
	}
	if res.Errors > 0 {
		return fatalf("There were %d errors", res.Errors)
	}
	if o.verify && !a.opts.JSON {
		a.printf("finished verifying %d files in %s (took %s)\n", res.FilesVerified, o.target, time.Since(verifyStart).Round(time.Millisecond))
	}
	return nil
}

// snapshotString describes a snapshot as restic's String method does.
func snapshotString(sn *model.Snapshot) string {
	return fmt.Sprintf("snapshot %s of %v at %s by %s@%s", sn.ID.Str(), sn.Paths, sn.Time, sn.Username, sn.Hostname)
}

func xattrFilter(o *restoreOptions, warn filter.WarnFunc) (func(string) bool, error) {
	switch {
	case len(o.excludeXattr) > 0 && len(o.includeXattr) > 0:
		return nil, fatalf("exclude and include xattr patterns are mutually exclusive")
	case len(o.excludeXattr) > 0:
		if err := filter.ValidatePatterns(o.excludeXattr); err != nil {
			return nil, fatalf("--exclude-xattr: %s", err)
		}
		reject := filter.RejectByPattern(o.excludeXattr, warn)
		return func(name string) bool { return !reject(name) }, nil
	case len(o.includeXattr) > 0:
		if err := filter.ValidatePatterns(o.includeXattr); err != nil {
			return nil, fatalf("--include-xattr: %s", err)
		}
		include := filter.IncludeByPattern(o.includeXattr, warn)
		return func(name string) bool { m, _ := include(name); return m }, nil
	}
	return nil, nil
}

// restoreOutput renders the restore's progress as restic does: text
// (status line on a terminal, per-item lines with -vv, a summary) or JSON
// messages (status, verbose_status with -vv, error, summary).
type restoreOutput struct {
	a         *app
	json      bool
	verbosity int
	interval  time.Duration
	terminal  bool

	mu         sync.Mutex // serialises writes
	statusLine bool       // a status line is on the terminal
	lastStatus string
}

func newRestoreOutput(a *app) *restoreOutput {
	o := &restoreOutput{a: a, json: a.opts.JSON, verbosity: a.opts.verbosity(), terminal: a.stdoutIsTerminal()}
	// restic: 10 updates a second on a terminal or with --json, none
	// otherwise or with --quiet; RESTIC_PROGRESS_FPS overrides
	var fpsSet bool
	o.interval, fpsSet = progressInterval()
	if !fpsSet && ((!o.json && !o.terminal) || a.opts.Quiet) {
		o.interval = 0
	}
	return o
}

// write prints a line to w, clearing a terminal status line first.
func (o *restoreOutput) write(w io.Writer, line string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.clearStatus()
	io.WriteString(w, line)
}

func (o *restoreOutput) clearStatus() {
	if o.statusLine {
		o.a.status.set(nil)
		o.statusLine = false
	}
}

func (o *restoreOutput) warnf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if !strings.HasSuffix(msg, "\n") {
		msg += "\n"
	}
	o.write(o.a.stderr, msg)
}

func (o *restoreOutput) jsonLine(v any) string {
	buf, err := json.Marshal(v)
	if err != nil {
		panic(err) // plain structs always encode
	}
	return string(buf) + "\n"
}

func (o *restoreOutput) item(action restorer.Action, location string, size uint64) {
	if o.verbosity < 3 {
		return
	}
	var verb string
	switch action {
	case restorer.ActionDirRestored, restorer.ActionFileRestored, restorer.ActionOtherRestored:
		verb = "restored"
	case restorer.ActionFileUpdated:
		verb = "updated"
	case restorer.ActionFileUnchanged:
		verb = "unchanged"
	case restorer.ActionDeleted:
		verb = "deleted"
	default:
		verb = string(action)
	}
	if o.json {
		o.write(o.a.stdout, o.jsonLine(struct {
			MessageType string `json:"message_type"`
			Action      string `json:"action"`
			Item        string `json:"item"`
			Size        uint64 `json:"size"`
		}{"verbose_status", verb, location, size}))
		return
	}
	switch action {
	case restorer.ActionDirRestored, restorer.ActionOtherRestored, restorer.ActionDeleted:
		o.write(o.a.stdout, fmt.Sprintf("%-9v %v\n", verb, location))
	default:
		o.write(o.a.stdout, fmt.Sprintf("%-9v %v with size %v\n", verb, location, formatBytes(size)))
	}
}

func (o *restoreOutput) itemError(location string, err error) {
	if o.json {
		o.write(o.a.stderr, o.jsonLine(newJSONItemError("restore", location, err)))
		return
	}
	o.write(o.a.stderr, fmt.Sprintf("ignoring error for %s: %s\n", location, err))
}

// restoreCounts are restic's status and summary fields.
type restoreCounts struct {
	SecondsElapsed uint64 `json:"seconds_elapsed,omitempty"`
	TotalFiles     uint64 `json:"total_files,omitempty"`
	FilesRestored  uint64 `json:"files_restored,omitempty"`
	FilesSkipped   uint64 `json:"files_skipped,omitempty"`
	FilesDeleted   uint64 `json:"files_deleted,omitempty"`
	TotalBytes     uint64 `json:"total_bytes,omitempty"`
	BytesRestored  uint64 `json:"bytes_restored,omitempty"`
	BytesSkipped   uint64 `json:"bytes_skipped,omitempty"`
}

func countsOf(s restorer.State, d time.Duration) restoreCounts {
	return restoreCounts{
		SecondsElapsed: uint64(d / time.Second),
		TotalFiles:     s.FilesTotal,
		FilesRestored:  s.FilesFinished,
		FilesSkipped:   s.FilesSkipped,
		FilesDeleted:   s.FilesDeleted,
		TotalBytes:     s.BytesTotal,
		BytesRestored:  s.BytesWritten,
		BytesSkipped:   s.BytesSkipped,
	}
}

// status renders a report of the engine: a status line (or JSON status
// message) while the restore runs, the summary at its end.
func (o *restoreOutput) status(st engine.RestoreStatus) {
	if st.Done {
		o.clear()
		o.finish(st.State, st.Elapsed)
		return
	}
	o.update(st.State, st.Elapsed)
}

// clear removes a status line from the terminal.
func (o *restoreOutput) clear() {
	o.mu.Lock()
	o.clearStatus()
	o.mu.Unlock()
}

func (o *restoreOutput) update(s restorer.State, d time.Duration) {
	if o.json {
		var st struct {
			MessageType string  `json:"message_type"`
			Seconds     uint64  `json:"seconds_elapsed,omitempty"`
			PercentDone float64 `json:"percent_done"`
			restoreCounts
		}
		st.MessageType = "status"
		st.restoreCounts = countsOf(s, d)
		st.Seconds, st.restoreCounts.SecondsElapsed = st.restoreCounts.SecondsElapsed, 0
		if s.BytesTotal > 0 {
			st.PercentDone = float64(s.BytesWritten) / float64(s.BytesTotal)
		}
		o.write(o.a.stdout, o.jsonLine(st))
		return
	}
	line := fmt.Sprintf("[%s] %s  %v files/dirs %s, total %v files/dirs %v",
		formatDuration(d), formatPercent(s.BytesWritten, s.BytesTotal), s.FilesFinished,
		formatBytes(s.BytesWritten), s.FilesTotal, formatBytes(s.BytesTotal))
	if s.FilesSkipped > 0 {
		line += fmt.Sprintf(", skipped %v files/dirs %v", s.FilesSkipped, formatBytes(s.BytesSkipped))
	}
	if s.FilesDeleted > 0 {
		line += fmt.Sprintf(", deleted %v files/dirs", s.FilesDeleted)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.terminal {
		o.a.status.set([]string{line})
		o.statusLine = true
		return
	}
	if line != o.lastStatus { // not a terminal: only changes, one per line
		io.WriteString(o.a.stdout, line+"\n")
		o.lastStatus = line
	}
}

func (o *restoreOutput) finish(s restorer.State, d time.Duration) {
	if o.json {
		o.write(o.a.stdout, o.jsonLine(struct {
			MessageType string `json:"message_type"`
			restoreCounts
		}{"summary", countsOf(s, d)}))
		return
	}
	var line string
	if s.FilesFinished == s.FilesTotal && s.BytesWritten == s.BytesTotal {
		line = fmt.Sprintf("Summary: Restored %d files/dirs (%s) in %s", s.FilesTotal, formatBytes(s.BytesTotal), formatDuration(d))
	} else {
		line = fmt.Sprintf("Summary: Restored %d / %d files/dirs (%s / %s) in %s",
			s.FilesFinished, s.FilesTotal, formatBytes(s.BytesWritten), formatBytes(s.BytesTotal), formatDuration(d))
	}
	if s.FilesSkipped > 0 {
		line += fmt.Sprintf(", skipped %v files/dirs %v", s.FilesSkipped, formatBytes(s.BytesSkipped))
	}
	if s.FilesDeleted > 0 {
		line += fmt.Sprintf(", deleted %v files/dirs", s.FilesDeleted)
	}
	o.write(o.a.stdout, line+"\n")
}
