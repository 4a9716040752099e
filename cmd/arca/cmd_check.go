package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/arca-backup/arca/backend"
	"github.com/arca-backup/arca/repo"
	"github.com/arca-backup/arca/repo/checker"
	"github.com/arca-backup/arca/repo/engine"
	"github.com/arca-backup/arca/repo/model"
	"github.com/arca-backup/arca/repo/prune"
	"github.com/spf13/cobra"
)

func init() { registerCommand(newCheckCommand) }

// checkOptions are the check command's flags.
type checkOptions struct {
	ReadData       bool
	ReadDataSubset string
	WithCache      bool
	filter         snapshotFilterOptions
}

func newCheckCommand(a *app) *cobra.Command {
	var opts checkOptions
	cmd := &cobra.Command{
		Use:   "check [flags]",
		Short: "Check the repository for errors",
		Long: `
The "check" command tests the repository for errors and reports any errors it
finds.

By default, check verifies the structural consistency and integrity of
snapshots, trees and pack files. To also verify the integrity of the actual
backed-up data, use the --read-data or --read-data-subset flags.

By default, check creates a new temporary cache directory to verify data.
To reuse the existing cache, use the --with-cache flag.

EXIT STATUS
===========

Exit status is 0 if the command was successful.
Exit status is 1 if there was any error.
Exit status is 10 if the repository does not exist.
Exit status is 11 if the repository is already locked.
Exit status is 12 if the password is incorrect.
`,
		DisableAutoGenTag: true,
		PreRunE: func(_ *cobra.Command, _ []string) error {
			return opts.validate()
		},
		RunE: func(c *cobra.Command, args []string) error {
			summary, err := a.runCheck(c.Context(), opts, args)
			if a.opts.JSON {
				if err != nil && summary.NumErrors == 0 {
					summary.NumErrors = 1
				}
				if perr := a.printJSON(summary); perr != nil && err == nil {
					err = perr
				}
			}
			return err
		},
	}
	f := cmd.Flags()
	f.BoolVar(&opts.ReadData, "read-data", false, "read all data blobs")
	f.StringVar(&opts.ReadDataSubset, "read-data-subset", "", "read a `subset` of data packs, specified as 'n/t' for specific part, or either 'x%' or 'x.y%' or a size in bytes with suffixes k/K, m/M, g/G, t/T for a random subset")
	var ignored bool
	f.BoolVar(&ignored, "check-unused", false, "find unused blobs")
	if err := f.MarkDeprecated("check-unused", "`--check-unused` is deprecated and will be ignored"); err != nil {
		panic(err) // only fails for an unknown flag
	}
	f.BoolVar(&opts.WithCache, "with-cache", false, "use existing cache, only read uncached data from repository")
	opts.filter.addMulti(f, true)
	return cmd
}

// checkSummary is restic's check --json summary message.
type checkSummary struct {
	MessageType     string   `json:"message_type"`
	NumErrors       int      `json:"num_errors"`
	BrokenPacks     []string `json:"broken_packs"`
	HintRepairIndex bool     `json:"suggest_repair_index"`
	HintPrune       bool     `json:"suggest_prune"`
}

// subset is a parsed --read-data-subset: group n of t, a percentage, or a
// size in bytes.
type subset struct {
	n, t    uint
	percent float64
	size    int64
}

// parseSubset parses --read-data-subset with restic's rules and messages.
func parseSubset(s string) (subset, error) {
	invalid := fatalf("check flag --read-data-subset has invalid value, please see documentation")
	if parts := strings.Split(s, "/"); len(parts) > 1 || isUint(s) {
		var nums []uint
		for _, p := range parts {
			v, err := strconv.ParseUint(p, 10, 0)
			if err != nil {
				return subset{}, invalid
			}
			nums = append(nums, uint(v))
		}
		if len(nums) != 2 {
			return subset{}, invalid
		}
		if nums[0] == 0 || nums[1] == 0 || nums[0] > nums[1] {
			return subset{}, fatalf("check flag --read-data-subset=n/t values must be positive integers, and n <= t, e.g. --read-data-subset=1/2")
		}
		if nums[1] > checker.MaxBuckets {
			return subset{}, fatalf("check flag --read-data-subset=n/t t must be at most %d", checker.MaxBuckets)
		}
		return subset{n: nums[0], t: nums[1]}, nil
	}
	if p, ok := strings.CutSuffix(s, "%"); ok {
		v, err := strconv.ParseFloat(p, 64)
		if err != nil {
			return subset{}, invalid
		}
		if v <= 0 || v > 100 {
			return subset{}, fatalf("check flag --read-data-subset=x%% x must be above 0.0%% and at most 100.0%%")
		}
		return subset{percent: v}, nil
	}
	size, err := prune.ParseSize(s)
	if err != nil {
		return subset{}, invalid
	}
	if size <= 0 {
		return subset{}, fatalf("check flag --read-data-subset=n n must be above 0")
	}
	return subset{size: size}, nil
}

// isUint reports whether s is a plain unsigned number (restic reads "5"
// as a one-element n/t list, which is invalid).
func isUint(s string) bool {
	_, err := strconv.ParseUint(s, 10, 0)
	return err == nil
}

func (o checkOptions) validate() error {
	if o.ReadData && o.ReadDataSubset != "" {
		return fatalf("check flags --read-data and --read-data-subset cannot be used together")
	}
	if o.ReadDataSubset != "" {
		if _, err := parseSubset(o.ReadDataSubset); err != nil {
			return err
		}
	}
	return nil
}

// reportPrinter renders the messages of check and repair as restic's
// progress printer does: progress and information on stdout, problems on
// stderr; with --json only problems, as "error" messages on stderr.
type reportPrinter struct {
	a   *app
	bar *progressCounter // the counter on screen, cleared before messages
}

// errorf reports a problem (always shown).
func (o *reportPrinter) errorf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	o.bar.clear()
	if o.a.opts.JSON {
		enc := json.NewEncoder(o.a.stderr)
		enc.SetEscapeHTML(true) // restic escapes <, > and & here
		_ = enc.Encode(struct {
			MessageType string `json:"message_type"`
			Message     string `json:"message"`
		}{"error", msg})
		return
	}
	fmt.Fprint(o.a.stderr, withNewline(msg))
}

// importantf prints a message that --quiet does not suppress.
func (o *reportPrinter) importantf(format string, args ...any) {
	if !o.a.opts.JSON {
		o.bar.clear()
		fmt.Fprint(o.a.stdout, withNewline(fmt.Sprintf(format, args...)))
	}
}

// printf prints normal output.
func (o *reportPrinter) printf(format string, args ...any) {
	if !o.a.opts.JSON && o.a.opts.verbosity() >= 1 {
		o.bar.clear()
		fmt.Fprint(o.a.stdout, withNewline(fmt.Sprintf(format, args...)))
	}
}

// verbosef prints output shown with --verbose.
func (o *reportPrinter) verbosef(format string, args ...any) {
	if !o.a.opts.JSON && o.a.opts.verbosity() >= 2 {
		o.bar.clear()
		fmt.Fprint(o.a.stdout, withNewline(fmt.Sprintf(format, args...)))
	}
}

func withNewline(s string) string {
	if strings.HasSuffix(s, "\n") {
		return s
	}
	return s + "\n"
}

// counter returns a progress counter for items, or nil with --quiet or
// --json (restic shows none then).
func (o *reportPrinter) counter(items string) *progressCounter {
	o.bar = o.a.shownCounter(items, time.Now())
	return o.bar
}

// prepareCheckCache creates restic's temporary cache directory for check
// (arca keeps no cache, so it stays empty) and returns its cleanup.
func (a *app) prepareCheckCache(o *reportPrinter, withCache bool) func() {
	if withCache || a.opts.NoCache {
		return func() {}
	}
	dir := a.opts.CacheDir
	if dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			o.errorf("unable to create cache directory %s, disabling cache: %v", dir, err)
			return func() {}
		}
	}
	tmp, err := os.MkdirTemp(dir, "restic-check-cache-")
	if err != nil {
		o.errorf("unable to create temporary directory for cache during check, disabling cache: %v\n", err)
		return func() {}
	}
	o.printf("using temporary cache in %v\n", tmp)
	return func() {
		if err := os.RemoveAll(tmp); err != nil {
			o.errorf("error removing temporary cache directory: %v\n", err)
		}
	}
}

func (a *app) runCheck(ctx context.Context, opts checkOptions, args []string) (checkSummary, error) {
	headroom := uint64(minMemoryHeadroom)
	if opts.ReadData || opts.ReadDataSubset != "" {
		headroom = lowMemoryHeadroom
	}
	defer limitMemory(headroom)()
	summary := checkSummary{MessageType: "summary"}
	out := &reportPrinter{a: a}
	cleanup := a.prepareCheckCache(out, opts.WithCache)
	defer cleanup()

	if !a.opts.NoLock {
		out.printf("create exclusive lock for repository\n")
	}
	e, err := a.openEngineRepo(ctx)
	if err != nil {
		return summary, err
	}
	defer e.Close()
	copts, finish, err := a.checkRun(e, opts, args, out, &summary)
	if err != nil {
		return summary, err
	}
	copts.NoLock = a.opts.NoLock
	err = finish(e.Check(ctx, copts))
	return summary, err
}

// checkRun prepares check on an open repository: the engine's options,
// whose events print what restic's check prints, and the function that
// prints the end and returns the command's error once the check is over.
// summary collects the --json summary.
func (a *app) checkRun(e *engine.Repository, opts checkOptions, args []string, out *reportPrinter, summary *checkSummary) (engine.CheckOptions, func(engine.CheckResult, error) error, error) {
	errorsFound := false
	salvage := model.IDSet{}
	var indexErrs []error
	orphaned := 0
	var bar *progressCounter
	var index func(done, total int) // restic's terminal-only counter
	phase := engine.CheckIndex

	// endIndex prints what check says once the index is loaded
	endIndex := func() {
		if summary.HintRepairIndex {
			out.importantf("Duplicate packs are non-critical, you can run `restic repair index' to correct this.\n")
		}
		if summary.HintPrune {
			out.importantf("Mixed packs with tree and data blobs are non-critical, you can run `restic prune` to correct this.\n")
		}
	}
	// endPacks prints what check says once the pack list is checked
	endPacks := func() {
		if orphaned > 0 {
			summary.HintPrune = true
			if !errorsFound {
				out.printf("%d additional files were found in the repo, which likely contain duplicate data.\nThis is non-critical, you can run `restic prune` to correct this.\n", orphaned)
			}
			orphaned = 0
		}
	}
	filter := opts.filter.filter()
	filtered := len(args) > 0 || !filter.Empty()
	copts := engine.CheckOptions{

		Phase: func(p engine.CheckPhase) {
			phase = p
			switch p {
			case engine.CheckIndex:
				out.printf("load indexes\n")
				index = a.newIndexCounter(false).hook()
			case engine.CheckPacks:
				endIndex()
				out.printf("check all packs\n")
			case engine.CheckSnapshots:
				endPacks()
				out.printf("check snapshots, trees and blobs\n")
				bar = out.counter("snapshots")
			case engine.CheckReadData:
				bar.finish()
				bar = out.counter("packs")
			}
		},
		Progress: func(p engine.CheckPhase, done, total int) {
			if p != engine.CheckIndex {
				bar.update(done, total)
			} else if index != nil {
				index(done, total)
			}
		},
		Problem: func(p error) {
			switch phase {
			case engine.CheckIndex:
				var incomplete *checker.IncompletePackError
				switch {
				case errors.As(p, &incomplete):
					out.errorf("%s", p.Error())
					salvage.Insert(incomplete.PackID)
					errorsFound = true
					summary.NumErrors++
				case isDuplicatePack(p):
					out.importantf("%s", p.Error())
					summary.HintRepairIndex = true
				case isMixedPack(p):
					out.importantf("%s", p.Error())
					summary.HintPrune = true
				default:
					indexErrs = append(indexErrs, p)
				}
			case engine.CheckPacks:
				var pe *checker.PackError
				if errors.As(p, &pe) && pe.Orphaned {
					orphaned++
					out.verbosef("%v\n", p)
					return
				}
				if errors.As(p, &pe) {
					if pe.Truncated {
						salvage.Insert(pe.PackID)
					}
					summary.NumErrors++
				}
				errorsFound = true
				out.errorf("%v\n", p)
			case engine.CheckSnapshots:
				errorsFound = true
				var te *checker.TreeError
				if errors.As(p, &te) {
					out.errorf("error for tree %v:\n", te.TreeID.Str())
					for _, e := range te.Errors {
						summary.NumErrors++
						out.errorf("  %v\n", e)
					}
					return
				}
				summary.NumErrors++
				out.errorf("error: %v\n", p)
			case engine.CheckReadData:
				errorsFound = true
				summary.NumErrors++
				out.errorf("%v\n", p)
				var pd *checker.PackDataError
				if errors.As(p, &pd) {
					salvage.Insert(pd.PackID)
				}
			}
		},
	}
	if filtered {
		copts.SelectTrees = func(ctx context.Context) ([]model.ID, error) {
			trees, err := selectCheckTrees(ctx, e.Repo(), filter, args)
			if err != nil && ctx.Err() == nil {
				// restic reports a selection error twice: once as it is
				// found and once more as the selection's result
				for range 2 {
					errorsFound = true
					summary.NumErrors++
					out.errorf("error: %v\n", err)
				}
				return nil, nil
			}
			return trees, err
		}
	}
	if opts.ReadData || opts.ReadDataSubset != "" {
		var err error
		if copts.ReadPacks, err = checkPackFilter(out, opts, filtered); err != nil {
			return copts, nil, err
		}
	}
	return copts, func(res engine.CheckResult, err error) error {
		bar.finish()
		if phase == engine.CheckPacks {
			endPacks()
		}
		if err != nil {
			return engineError(err)
		}
		if res.IndexDamaged {
			endIndex()
		}
		return a.checkEnd(res, out, summary, errorsFound, salvage, indexErrs)
	}, nil
}

// checkEnd prints check's verdict and returns the command's error.
func (a *app) checkEnd(res engine.CheckResult, out *reportPrinter, summary *checkSummary, errorsFound bool, salvage model.IDSet, indexErrs []error) error {
	if res.IndexDamaged {
		for _, e := range indexErrs {
			out.errorf("error: %v\n", e)
		}
		summary.NumErrors += len(indexErrs)
		summary.HintRepairIndex = true
		out.errorf("\nThe repository index is damaged and must be repaired. You must run `restic repair index' to correct this.\n\n")
		return fatalf("repository contains errors")
	}

	if len(salvage) > 0 {
		out.errorf("\nThe repository contains damaged pack files. These damaged files must be removed to repair the repository. This can be done using the following commands. Please read the troubleshooting guide at https://restic.readthedocs.io/en/stable/077_troubleshooting.html first.\n\n")
		for id := range salvage {
			summary.BrokenPacks = append(summary.BrokenPacks, id.String())
		}
		sort.Strings(summary.BrokenPacks)
		out.errorf("restic repair packs %v\nrestic repair snapshots --forget\n\n", strings.Join(summary.BrokenPacks, " "))
		out.errorf("Damaged pack files can be caused by backend problems, hardware problems or bugs in restic. Please open an issue at https://github.com/restic/restic/issues/new/choose for further troubleshooting!\n")
	}
	if errorsFound {
		if len(salvage) == 0 {
			out.errorf("\nThe repository is damaged and must be repaired. Please follow the troubleshooting guide at https://restic.readthedocs.io/en/stable/077_troubleshooting.html .\n\n")
		}
		return fatalf("repository contains errors")
	}
	out.printf("no errors were found\n")
	return nil
}

func isDuplicatePack(err error) bool {
	var d *checker.DuplicatePackHint
	return errors.As(err, &d)
}

func isMixedPack(err error) bool {
	var m *checker.MixedPackHint
	return errors.As(err, &m)
}

// checkPackFilter returns the pack selection for --read-data or
// --read-data-subset; it prints what is read, as restic does, when it runs.
func checkPackFilter(out *reportPrinter, opts checkOptions, filtered bool) (checker.PackFilter, error) {
	kind := ""
	if filtered {
		kind = "filtered "
	}
	if opts.ReadData {
		return func(packs map[model.ID]int64) map[model.ID]int64 {
			out.printf("read all %sdata", kind)
			return packs
		}, nil
	}
	sub, err := parseSubset(opts.ReadDataSubset)
	if err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	switch {
	case sub.t > 0:
		return func(packs map[model.ID]int64) map[model.ID]int64 {
			total := len(packs)
			packs = checker.SelectBucket(packs, sub.n, sub.t)
			// restic's message lacks the closing parenthesis
			out.printf("read group #%d of %d %sdata packs (out of total %d packs in %d groups", sub.n, len(packs), kind, total, sub.t)
			return packs
		}, nil
	case sub.percent > 0:
		return func(packs map[model.ID]int64) map[model.ID]int64 {
			out.printf("read %.1f%% of %spackfiles", sub.percent, kind)
			return checker.SelectPercentage(packs, sub.percent, rng)
		}, nil
	}
	return func(packs map[model.ID]int64) map[model.ID]int64 {
		var total int64
		for _, s := range packs {
			total += s
		}
		size := min(sub.size, total)
		percent := 100.0
		if total > 0 {
			packs = checker.SelectSize(packs, size, rng)
			percent = float64(size) / float64(total) * 100
		}
		out.printf("read %d bytes (%.1f%%) of %sdata packs\n", size, percent, kind)
		return packs
	}, nil
}

// selectCheckTrees returns the root trees of the snapshots check is
// limited to, with restic's selection rules for check: arguments are
// snapshot IDs, ID prefixes or "latest" (newest snapshot passing the
// filter, once); without arguments every snapshot passing the filter. The
// first snapshot that cannot be found or loaded ends the selection with an
// error, as do filters given together with explicit IDs only.
func selectCheckTrees(ctx context.Context, r *repo.Repository, f repo.SnapshotFilter, args []string) ([]model.ID, error) {
	if len(args) == 0 {
		all, err := r.Snapshots(ctx, func(id model.ID, err error) error {
			return &checker.SnapshotError{SnapshotID: id, Err: err}
		})
		if err != nil {
			return nil, err
		}
		var trees []model.ID
		for _, sn := range all {
			if f.Matches(sn) {
				trees = append(trees, *sn.Tree)
			}
		}
		return trees, nil
	}
	var trees []model.ID
	seen := model.IDSet{}
	usedFilter := false
	for _, arg := range args {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		switch {
		case arg == "latest":
			if usedFilter {
				continue
			}
			usedFilter = true
			all, err := r.Snapshots(ctx, func(id model.ID, err error) error {
				return fmt.Errorf("Error loading snapshot %v: %v", id.Str(), &checker.SnapshotError{SnapshotID: id, Err: err})
			})
			if err != nil {
				return nil, err
			}
			sn := latestSnapshot(all, f)
			if sn == nil {
				return nil, noSnapshotMatched(f)
			}
			seen.Insert(sn.ID)
			trees = append(trees, *sn.Tree)
		case strings.HasPrefix(arg, "latest:"):
			return nil, errSubfolderSyntax
		default:
			name, sub, _ := strings.Cut(arg, ":")
			id, err := findSnapshotID(ctx, r, name)
			if err != nil {
				return nil, err
			}
			sn, err := r.LoadSnapshot(ctx, id)
			if err != nil {
				return nil, &checker.SnapshotError{SnapshotID: id, Err: err}
			}
			if sub != "" {
				return nil, errSubfolderSyntax
			}
			if seen.Has(sn.ID) {
				continue
			}
			seen.Insert(sn.ID)
			trees = append(trees, *sn.Tree)
		}
	}
	if !usedFilter && !f.Empty() {
		return nil, errors.New("explicit snapshot ids are given")
	}
	return trees, nil
}

// findSnapshotID resolves a snapshot ID or unique prefix with restic's
// messages.
func findSnapshotID(ctx context.Context, r *repo.Repository, prefix string) (model.ID, error) {
	id, err := r.Find(ctx, backend.SnapshotFile, prefix)
	switch {
	case errors.Is(err, repo.ErrAmbiguousID):
		return model.ID{}, fmt.Errorf("multiple IDs with prefix %q found", prefix)
	case err != nil && ctx.Err() == nil && backend.IsNotExist(err):
		return model.ID{}, fmt.Errorf("no matching ID found for prefix %q", prefix)
	}
	return id, err
}
