package archiver

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/arca-backup/arca/repo/fsnode"
)

// Scan counts the regular files and their bytes below targets, applying
// the same filters as a backup, to estimate the work (restic's scanner).
// It walks absolute paths, as restic's does, and reports what it cannot
// read to onError (may be nil) with the item's absolute path and goes on;
// the backup reports those items again when it gets to them. The count
// stops early when ctx is cancelled.
func Scan(ctx context.Context, targets []string, byName SelectByNameFunc, sel SelectFunc, onError func(item string, err error)) (files, bytes uint64) {
	report := func(item string, err error) {
		if onError != nil {
			onError(item, err)
		}
	}
	var walk func(abs string, explicit bool)
	walk = func(abs string, explicit bool) {
		if ctx.Err() != nil {
			return
		}
		if !explicit && byName != nil && !byName(abs) {
			return
		}
		fi, err := os.Lstat(abs)
		if err != nil {
			report(abs, err)
			return
		}
		st := fsnode.StatOf(fi)
		if !explicit && sel != nil && !sel(abs, st) {
			return
		}
		switch {
		case st.Mode.IsRegular():
			files++
			bytes += uint64(st.Size)
		case st.Mode.IsDir():
			names, err := readdirnames(abs)
			if err != nil {
				report(abs, err)
				return
			}
			for _, n := range names {
				walk(filepath.Join(abs, n), false)
			}
		}
	}
	var paths absPaths
	for _, t := range targets {
		abs, err := paths.abs(t)
		if err != nil {
			report(t, err)
			continue
		}
		walk(abs, true)
	}
	return files, bytes
}

// readdirnames lists a directory's entries, with restic's error messages.
func readdirnames(dir string) ([]string, error) {
	d, err := os.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("openfile for readdirnames failed: %w", err)
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return nil, fmt.Errorf("readdirnames %v failed: %w", dir, err)
	}
	return names, nil
}
