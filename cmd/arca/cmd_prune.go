package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/arca-backup/arca/repo"
	"github.com/arca-backup/arca/repo/engine"
	"github.com/arca-backup/arca/repo/prune"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

func init() { registerCommand(newPruneCommand) }

// pruneFlags are prune's options as flags. forget --prune shares the
// limited set (addLimited).
type pruneFlags struct {
	dryRun              bool
	unsafeRecovery      string
	maxUnused           string
	maxRepackSize       string
	repackCacheableOnly bool
	repackSmall         bool
	repackUncompressed  bool
	repackSmallerThan   string
}

func newPruneCommand(a *app) *cobra.Command {
	var f pruneFlags
	cmd := &cobra.Command{
		Use:   "prune [flags]",
		Short: "Remove unneeded data from the repository",
		Long: `
The "prune" command checks the repository and removes data that is not
referenced and therefore not needed any more.

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
			f.warnDeprecated(a, c.Flags())
			return a.runPrune(c.Context(), f)
		},
	}
	f.addLimited(cmd.Flags())
	cmd.Flags().BoolVarP(&f.dryRun, "dry-run", "n", false, "do not modify the repository, just print what would be done")
	cmd.Flags().StringVarP(&f.unsafeRecovery, "unsafe-recover-no-free-space", "", "", "UNSAFE, READ THE DOCUMENTATION BEFORE USING! Try to recover a repository stuck with no free space. Do not use without trying out 'prune --max-repack-size 0' first.")
	return cmd
}

// addLimited adds the flags prune shares with forget --prune.
func (f *pruneFlags) addLimited(fs *pflag.FlagSet) {
	fs.StringVar(&f.maxUnused, "max-unused", "5%", "tolerate given `limit` of unused data (absolute value in bytes with suffixes k/K, m/M, g/G, t/T, a value in % or the word 'unlimited')")
	fs.StringVar(&f.maxRepackSize, "max-repack-size", "", "stop after repacking this much data in total (allowed suffixes for `size`: k/K, m/M, g/G, t/T)")
	fs.BoolVar(&f.repackCacheableOnly, "repack-cacheable-only", false, "only repack packs which are cacheable")
	fs.BoolVar(&f.repackSmall, "repack-small", false, "deprecated. Use --repack-smaller-than to specify a minimum size")
	fs.BoolVar(&f.repackUncompressed, "repack-uncompressed", false, "repack all uncompressed data")
	fs.StringVar(&f.repackSmallerThan, "repack-smaller-than", "", "pack `below-limit` packfiles (allowed suffixes: m/M)")
	// hidden rather than cobra-deprecated: cobra prints the deprecation
	// notice on the command's output (stdout here), restic on stderr; see
	// warnDeprecated
	if err := fs.MarkHidden("repack-small"); err != nil {
		panic(err)
	}
}

// warnDeprecated prints restic's notice for --repack-small.
func (f *pruneFlags) warnDeprecated(a *app, fs *pflag.FlagSet) {
	if fs.Changed("repack-small") {
		fmt.Fprintln(a.stderr, "Flag --repack-small has been deprecated, small files are automatically repacked. Use --repack-smaller-than to specify a minimum size")
	}
}

// options checks the flags and turns them into the engine's options (not
// yet the unsafe-recovery check, which needs the repository).
func (a *app) pruneOptions(f pruneFlags) (prune.Options, error) {
	opts := prune.DefaultOptions()
	opts.DryRun = f.dryRun
	if f.maxRepackSize != "" {
		n, err := prune.ParseSize(f.maxRepackSize)
		if err != nil {
			return opts, err // restic shows this one without "Fatal: "
		}
		opts.MaxRepackBytes = uint64(n)
	}
	maxUnused, err := prune.ParseMaxUnused(f.maxUnused)
	if err != nil {
		return opts, fatalf("%v", err)
	}
	opts.MaxUnused = maxUnused
	if f.repackSmallerThan != "" {
		n, err := prune.ParseSize(f.repackSmallerThan)
		if err != nil {
			return opts, fatalf("invalid number of bytes %q for --repack-smaller-than: %v", f.repackSmallerThan, err)
		}
		if n <= 0 {
			return opts, fatalf("--repack-smaller-than must be larger than zero")
		}
		opts.SmallPackBytes = uint64(n)
	}
	opts.RepackCacheableOnly = f.repackCacheableOnly
	opts.RepackUncompressed = f.repackUncompressed
	wopts, err := a.writeOptions()
	if err != nil {
		return opts, err
	}
	if f.repackUncompressed && wopts.Compression == repo.CompressionOff {
		return opts, fatalf("disabled compression and `--repack-uncompressed` are mutually exclusive")
	}
	opts.Write = wopts
	return opts, nil
}

func (a *app) runPrune(ctx context.Context, f pruneFlags) error {
	opts, err := a.pruneOptions(f)
	if err != nil {
		return err
	}
	if a.opts.NoLock && !f.dryRun {
		return fatalf("--no-lock is only applicable in combination with --dry-run for prune command")
	}
	warn := a.pruneCacheWarning()
	e, err := a.openEngine(ctx, true, a.newIndexCounter(false).first(warn))
	if err != nil {
		return err
	}
	defer e.Close()
	if f.unsafeRecovery != "" {
		if id := e.Config().ID; f.unsafeRecovery != id {
			return fatalf("must pass id '%s' to --unsafe-recover-no-free-space", id)
		}
		opts.UnsafeRecovery = true
	}
	_, err = e.Prune(ctx, opts, a.pruneEventsWithWarning(opts.DryRun, warn))
	return a.pruneError(err)
}

// pruneCacheWarning returns what prints restic's warning about a prune
// without cache, once, at its first call; nil where there is a cache.
// Restic prints it once the lock is taken, before the index loads: it
// is called by the index counter's first line and by prune's first event.
func (a *app) pruneCacheWarning() func() {
	if !a.opts.NoCache {
		return nil
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			// arca keeps no cache for local repositories, so the warning
			// applies only when the user asked for none
			fmt.Fprintln(a.stdout, "warning: running prune without a cache, this may be very slow!")
		})
	}
}

// pruneEventsWithWarning returns pruneEvents that first call warn (from
// pruneCacheWarning; nil: nothing to warn about).
func (a *app) pruneEventsWithWarning(dryRun bool, warn func()) *prune.Events {
	ev := a.pruneEvents(dryRun)
	if warn == nil {
		return ev
	}
	step, counter, planned, warning, info := ev.Step, ev.Counter, ev.Planned, ev.Warning, ev.Info
	ev.Step = func(s prune.StepEvent) { warn(); step(s) }
	ev.Counter = func(c prune.Counter) { warn(); counter(c) }
	ev.Planned = func(st prune.Stats) { warn(); planned(st) }
	ev.Warning = func(msg string) { warn(); warning(msg) }
	ev.Info = func(level int, msg string) { warn(); info(level, msg) }
	return ev
}

// pruneError gives prune's error restic's form.
func (a *app) pruneError(err error) error {
	var lost *engine.LockLostError
	if errors.As(err, &lost) {
		return engineError(err)
	}
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	var fe *fatalError
	var oe *prune.OptionError
	if errors.As(err, &fe) || errors.As(err, &oe) || engine.IsLocked(err) {
		return err
	}
	return fatalf("%v", err)
}

// counterLine renders the final line of one of restic's progress counters.
func counterLine(c prune.Counter) string {
	return counterText(c.Elapsed, c.Done, c.Total, c.Name)
}

// counterView shows the counters prune reports by name as restic's: a
// status line for the running one (on a terminal, or as lines for a log
// with RESTIC_PROGRESS_FPS), then its final line. None with --quiet or
// --json.
type counterView struct {
	a   *app
	cur *progressCounter
}

func (v *counterView) progress(c prune.Counter) {
	if v.cur == nil || v.cur.items != c.Name {
		v.cur = v.a.shownCounter(c.Name, time.Now().Add(-c.Elapsed))
	}
	v.cur.update(int(c.Done), int(c.Total))
}

// end prints a counter's final line: the running counter's, or the line
// print prints for one that was not shown.
func (v *counterView) end(c prune.Counter, print func(string)) {
	cur := v.cur
	v.cur = nil
	if cur == nil || cur.items != c.Name {
		print(counterLine(c))
		return
	}
	cur.update(int(c.Done), int(c.Total))
	cur.finish()
}

// clear removes the running counter's status line before other output.
func (v *counterView) clear() { v.cur.clear() }

// pruneEvents renders the engine's events as restic's text output.
func (a *app) pruneEvents(dryRun bool) *prune.Events {
	view := &counterView{a: a}
	line := func(level int, msg string) {
		view.clear()
		if a.opts.verbosity() >= level {
			if !strings.HasSuffix(msg, "\n") {
				msg += "\n"
			}
			fmt.Fprint(a.stdout, msg)
		}
	}
	ev := &prune.Events{
		Step: func(e prune.StepEvent) {
			if msg := pruneStepText(e); msg != "" {
				line(1, msg)
			}
		},
		Progress: view.progress,
		Counter:  func(c prune.Counter) { view.end(c, func(l string) { line(1, l) }) },
		Planned: func(st prune.Stats) {
			if dryRun {
				line(1, "\nWould have made the following changes:")
			}
			a.printPruneStats(line, st)
		},
		Warning: func(msg string) {
			view.clear()
			if !strings.HasSuffix(msg, "\n") {
				msg += "\n"
			}
			fmt.Fprint(a.stderr, msg)
		},
		Info: func(level int, msg string) { line(level+1, msg) },
	}
	if point := os.Getenv("ARCA_TEST_PRUNE_KILL_AT"); point != "" {
		// crash tests: die without any cleanup at a named checkpoint
		// ("name" or "name:N" for the N-th time it is reached)
		name, nth := point, 1
		if i := strings.LastIndexByte(point, ':'); i > 0 {
			fmt.Sscan(point[i+1:], &nth)
			name = point[:i]
		}
		seen := 0
		ev.Checkpoint = func(cp string) {
			if cp == name {
				if seen++; seen == nth {
					_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
					select {}
				}
			}
		}
	}
	return ev
}

func pruneStepText(e prune.StepEvent) string {
	switch e.Step {
	case prune.StepLoadSnapshots:
		return "loading all snapshots..."
	case prune.StepFindUsed:
		return fmt.Sprintf("finding data that is still in use for %d snapshots", e.N)
	case prune.StepSearchPacks:
		return "searching used packs..."
	case prune.StepCollect:
		return "collecting packs for deletion and repacking"
	case prune.StepDeleteUnreferenced:
		return "deleting unreferenced packs"
	case prune.StepRepack:
		return "repacking packs"
	case prune.StepDeleteIndex:
		return "deleting index files"
	case prune.StepRebuildIndex:
		return "rebuilding index"
	case prune.StepRemovePacks:
		return fmt.Sprintf("removing %d old packs", e.N)
	case prune.StepDone:
		return "done"
	}
	return ""
}

// printPruneStats prints restic's statistics block.
func (a *app) printPruneStats(line func(level int, msg string), st prune.Stats) {
	p := func(level int, format string, args ...any) { line(level, fmt.Sprintf(format, args...)) }
	p(2, "\nused:         %10d blobs / %s", st.Blobs.Used, formatBytes(st.Size.Used))
	if st.Blobs.Duplicate > 0 {
		p(2, "duplicates:   %10d blobs / %s", st.Blobs.Duplicate, formatBytes(st.Size.Duplicate))
	}
	p(2, "unused:       %10d blobs / %s", st.Blobs.Unused, formatBytes(st.Size.Unused))
	if st.Size.Unreferenced > 0 {
		p(2, "unreferenced:                    %s", formatBytes(st.Size.Unreferenced))
	}
	p(2, "total:        %10d blobs / %s", st.TotalBlobs(), formatBytes(st.TotalSize()))
	p(2, "unused size: %s of total size", formatPercent(st.UnusedSize(), st.TotalSize()))

	p(1, "\nto repack:    %10d blobs / %s", st.Blobs.Repack, formatBytes(st.Size.Repack))
	p(1, "this removes: %10d blobs / %s", st.Blobs.RepackRemove, formatBytes(st.Size.RepackRemove))
	p(1, "to delete:    %10d blobs / %s", st.Blobs.Remove, formatBytes(st.Size.Remove+st.Size.Unreferenced))
	p(1, "total prune:  %10d blobs / %s", st.PruneBlobs(), formatBytes(st.PruneSize()))
	if st.Size.Uncompressed > 0 {
		p(1, "not yet compressed:              %s", formatBytes(st.Size.Uncompressed))
	}
	remaining := st.TotalSize() - st.PruneSize()
	p(1, "remaining:    %10d blobs / %s", st.TotalBlobs()-st.PruneBlobs(), formatBytes(remaining))
	p(1, "unused size after prune: %s (%s of remaining size)", formatBytes(st.UnusedAfter()), formatPercent(st.UnusedAfter(), remaining))
	p(1, "")
	p(2, "totally used packs: %10d", st.Packs.Used)
	p(2, "partly used packs:  %10d", st.Packs.PartlyUsed)
	p(2, "unused packs:       %10d\n\n", st.Packs.Unused)
	p(2, "to keep:      %10d packs", st.Packs.Keep)
	p(2, "to repack:    %10d packs", st.Packs.Repack)
	p(2, "to delete:    %10d packs", st.Packs.Remove)
	if st.Packs.Unreferenced > 0 {
		p(2, "to delete:    %10d unreferenced packs\n\n", st.Packs.Unreferenced)
	}
}
