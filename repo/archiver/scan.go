package archiver

import (
	"context"
	"os"
	"path/filepath"

	"github.com/arca-backup/arca/repo/fsnode"
)

// Scan counts the regular files and their bytes below targets, applying
// the same filters as a backup, to estimate the work (restic's scanner).
// Errors are ignored; the count stops early when ctx is cancelled.
func Scan(ctx context.Context, targets []string, byName SelectByNameFunc, sel SelectFunc) (files, bytes uint64) {
	var paths absPaths
	var walk func(p string, explicit bool)
	walk = func(p string, explicit bool) {
		if ctx.Err() != nil {
			return
		}
		abs, err := paths.abs(p)
		if err != nil {
			return
		}
		if !explicit && byName != nil && !byName(abs) {
			return
		}
		fi, err := os.Lstat(p)
		if err != nil {
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
			d, err := os.Open(p)
			if err != nil {
				return
			}
			names, _ := d.Readdirnames(-1)
			d.Close()
			for _, n := range names {
				walk(filepath.Join(p, n), false)
			}
		}
	}
	for _, t := range targets {
		walk(filepath.Clean(t), true)
	}
	return files, bytes
}
