package main

import (
	"context"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"time"
)

// freshRepo initialises an empty repository with prog's own init (not
// measured) and returns its path.
func (e *benchEnv) freshRepo(ctx context.Context, prog program, name string, round int) (string, error) {
	dir := filepath.Join(e.cfg.workDir, fmt.Sprintf("%s-%s-%d", name, prog.Name, round))
	if err := os.RemoveAll(dir); err != nil {
		return "", err
	}
	if _, err := measure(ctx, prog.Bin, e.env(dir), e.cfg.workDir, "init"); err != nil {
		return "", err
	}
	return dir, nil
}

func (e *benchEnv) backup(ctx context.Context, prog program, repo string, extra ...string) (sample, error) {
	args := append([]string{"--no-cache", "-q", "backup"}, extra...)
	return measure(ctx, prog.Bin, e.env(repo), e.corpus, append(args, ".")...)
}

// firstBackup measures a backup into an empty repository.
func firstBackup(compression string) func(context.Context, *benchEnv, program, int) (sample, error) {
	return func(ctx context.Context, e *benchEnv, prog program, round int) (sample, error) {
		repo, err := e.freshRepo(ctx, prog, "first-"+compression, round)
		if err != nil {
			return sample{}, err
		}
		defer os.RemoveAll(repo)
		s, err := e.backup(ctx, prog, repo, "--compression", compression)
		if err == nil {
			s.RepoBytes = dirSize(repo)
		}
		return s, err
	}
}

// rerunBackup measures a second backup after edit (nil: no change).
func rerunBackup(edit bool) func(context.Context, *benchEnv, program, int) (sample, error) {
	return func(ctx context.Context, e *benchEnv, prog program, round int) (sample, error) {
		name := "unchanged"
		if edit {
			name = "incremental"
		}
		repo, err := e.freshRepo(ctx, prog, name, round)
		if err != nil {
			return sample{}, err
		}
		defer os.RemoveAll(repo)
		if _, err := e.backup(ctx, prog, repo); err != nil {
			return sample{}, err
		}
		if edit {
			undo, err := editCorpus(e.corpus, e.cfg.seed+uint64(round))
			if err != nil {
				return sample{}, err
			}
			defer undo()
		}
		return e.backup(ctx, prog, repo)
	}
}

// editCorpus changes about 2% of the files (a region overwritten in the
// middle and a few KiB appended) and returns a function that puts the
// original bytes and times back.
func editCorpus(dir string, seed uint64) (undo func(), err error) {
	var files []string
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			files = append(files, p)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	rng := rand.New(rand.NewPCG(seed, 42))
	type saved struct {
		path  string
		data  []byte
		mtime time.Time
	}
	var originals []saved
	undo = func() {
		for _, s := range originals {
			_ = os.WriteFile(s.path, s.data, 0o644)
			_ = os.Chtimes(s.path, s.mtime, s.mtime)
		}
	}
	for i := rng.IntN(50); i < len(files); i += 50 {
		p := files[i]
		data, err := os.ReadFile(p)
		if err != nil {
			undo()
			return nil, err
		}
		fi, _ := os.Stat(p)
		originals = append(originals, saved{p, data, fi.ModTime()})
		edited := append([]byte(nil), data...)
		mid := len(edited) / 2
		for j := mid; j < mid+64<<10 && j < len(edited); j++ {
			edited[j] = byte(rng.Uint32())
		}
		extra := make([]byte, 4096)
		for j := range extra {
			extra[j] = byte(rng.Uint32())
		}
		if err := os.WriteFile(p, append(edited, extra...), 0o644); err != nil {
			undo()
			return nil, err
		}
	}
	return undo, nil
}

// dirSize returns the bytes of all files under dir.
func dirSize(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

func init() {
	corpusBytes := func(e *benchEnv) int64 { return e.stats.Bytes }
	scenarios["backup"] = scenario{about: "first backup into an empty repository, --compression auto", needs: []string{"corpus"}, run: firstBackup("auto"), bytes: corpusBytes}
	scenarios["backup-off"] = scenario{about: "first backup into an empty repository, --compression off", needs: []string{"corpus"}, run: firstBackup("off"), bytes: corpusBytes}
	scenarios["backup-incremental"] = scenario{about: "second backup after changing about 2% of the files", needs: []string{"corpus"}, run: rerunBackup(true), bytes: corpusBytes}
	scenarios["backup-unchanged"] = scenario{about: "second backup of an unchanged tree", needs: []string{"corpus"}, run: rerunBackup(false), bytes: corpusBytes}
}
