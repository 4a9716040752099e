package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
)

// scenarios maps each scenario name to its definition; see scenarioOrder.
var scenarios = map[string]scenario{}

// runName names a repository or directory used by one run only.
func runName(scenario string, prog program, round int) string {
	return fmt.Sprintf("runs/%s-%s-%d", scenario, prog.Name, round)
}

func corpusBytes(c *corpusSet) int64 { return c.stats.Bytes }
func noBytes(*corpusSet) int64       { return 0 }

// firstBackup measures a backup of the corpus into an empty repository.
func firstBackup(name, compression string) func(context.Context, *benchEnv, program, int) (sample, error) {
	return func(ctx context.Context, e *benchEnv, prog program, round int) (sample, error) {
		repo, err := e.fresh(ctx, "empty", runName(name, prog, round))
		if err != nil {
			return sample{}, err
		}
		defer e.store.remove(repo)
		if err := e.corpus.activate("base"); err != nil {
			return sample{}, err
		}
		return e.runWrites(ctx, prog.Bin, repo, e.corpus.dir(), "backup", "--compression", compression, ".")
	}
}

// nextBackup measures a backup of the corpus in state into a repository
// holding one snapshot of the original corpus (the parent).
func nextBackup(name, state string) func(context.Context, *benchEnv, program, int) (sample, error) {
	return func(ctx context.Context, e *benchEnv, prog program, round int) (sample, error) {
		repo, err := e.fresh(ctx, "base", runName(name, prog, round))
		if err != nil {
			return sample{}, err
		}
		defer e.store.remove(repo)
		if err := e.warm(ctx, prog, repo); err != nil {
			return sample{}, err
		}
		if err := e.corpus.activate(state); err != nil {
			return sample{}, err
		}
		return e.runWrites(ctx, prog.Bin, repo, e.corpus.dir(), "backup", ".")
	}
}

// onFresh measures args on a fresh copy of template t.
func onFresh(name, t string, args ...string) func(context.Context, *benchEnv, program, int) (sample, error) {
	return func(ctx context.Context, e *benchEnv, prog program, round int) (sample, error) {
		repo, err := e.fresh(ctx, t, runName(name, prog, round))
		if err != nil {
			return sample{}, err
		}
		defer e.store.remove(repo)
		if err := e.warm(ctx, prog, repo); err != nil {
			return sample{}, err
		}
		return e.runWrites(ctx, prog.Bin, repo, e.cfg.workDir, args...)
	}
}

// onShared measures args on the shared (read-only) copy of template t.
func onShared(t string, args ...string) func(context.Context, *benchEnv, program, int) (sample, error) {
	return func(ctx context.Context, e *benchEnv, prog program, round int) (sample, error) {
		repo, err := e.shared(ctx, t)
		if err != nil {
			return sample{}, err
		}
		if err := e.warm(ctx, prog, repo); err != nil {
			return sample{}, err
		}
		return e.run(ctx, prog.Bin, repo, e.cfg.workDir, args...)
	}
}

func initRepo(ctx context.Context, e *benchEnv, prog program, round int) (sample, error) {
	repo := runName("init", prog, round)
	e.store.remove(repo)
	defer e.store.remove(repo)
	return e.runWrites(ctx, prog.Bin, repo, e.cfg.workDir, "init")
}

func restore(ctx context.Context, e *benchEnv, prog program, round int) (sample, error) {
	repo, err := e.shared(ctx, "base")
	if err != nil {
		return sample{}, err
	}
	if err := e.warm(ctx, prog, repo); err != nil {
		return sample{}, err
	}
	// The target stays until the scenario ends: ext4 passes over inodes
	// freed in the last 30 s when it allocates new ones, so a restore right
	// after the removal of the previous one's 149,000 files (/usr) took
	// twice the system time (24 s, then 47 s, by hand).
	target := filepath.Join(e.cfg.workDir, runName("restore", prog, round))
	if err := os.RemoveAll(target); err != nil {
		return sample{}, err
	}
	e.restored = append(e.restored, target)
	return e.run(ctx, prog.Bin, repo, e.cfg.workDir, "restore", "latest", "--target", target)
}

func init() {
	add := func(name, about string, run func(context.Context, *benchEnv, program, int) (sample, error), bytes func(*corpusSet) int64) {
		scenarios[name] = scenario{about: about, run: run, bytes: bytes}
	}
	// addEditing adds a scenario that needs the edited corpus
	addEditing := func(name, about string, run func(context.Context, *benchEnv, program, int) (sample, error), bytes func(*corpusSet) int64) {
		scenarios[name] = scenario{about: about, run: run, bytes: bytes, edits: true}
	}
	add("init", "create a repository (the key derivation dominates)", initRepo, noBytes)
	add("backup", "first backup into an empty repository, --compression auto", firstBackup("backup", "auto"), corpusBytes)
	add("backup-off", "first backup into an empty repository, --compression off", firstBackup("backup-off", "off"), corpusBytes)
	add("backup-max", "first backup into an empty repository, --compression max", firstBackup("backup-max", "max"), corpusBytes)
	addEditing("backup-incremental", "backup of the edited corpus (about 2% appended, inserted, touched, deleted) onto a snapshot of the original", nextBackup("backup-incremental", "edited"), corpusBytes)
	add("backup-unchanged", "backup of the unchanged corpus onto a snapshot of it", nextBackup("backup-unchanged", "base"), corpusBytes)
	add("restore", "restore the latest snapshot of a restic-written repository into an empty directory", restore, corpusBytes)
	add("check", "check a restic-written repository (structure only)", onShared("base", "check"), noBytes)
	add("check-read-data", "check --read-data of a restic-written repository", onShared("base", "check", "--read-data"), corpusBytes)
	addEditing("forget", "forget --keep-last 1 on a fresh copy of a repository with four snapshots", onFresh("forget", "multi", "forget", "--keep-last", "1"), noBytes)
	addEditing("prune", "prune a fresh copy of that repository after the forget", onFresh("prune", "forgotten", "prune"), noBytes)
}
