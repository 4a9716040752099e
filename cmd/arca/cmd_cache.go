package main

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/arca-backup/arca/backend/cache"
	"github.com/spf13/cobra"
)

func init() { registerCommand(newCacheCommand) }

type cacheOptions struct {
	cleanup bool
	maxAge  uint
	noSize  bool
}

func newCacheCommand(a *app) *cobra.Command {
	var opts cacheOptions
	c := &cobra.Command{
		Use:   "cache",
		Short: "Operate on local cache directories",
		Long: `
The "cache" command allows listing and cleaning local cache directories.

EXIT STATUS
===========

Exit status is 0 if the command was successful.
Exit status is 1 if there was any error.
`,
		RunE: func(c *cobra.Command, args []string) error { return a.runCache(&opts, args) },
	}
	f := c.Flags()
	f.BoolVar(&opts.cleanup, "cleanup", false, "remove old cache directories")
	f.UintVar(&opts.maxAge, "max-age", 30, "max age in `days` for cache directories to be considered old")
	f.BoolVar(&opts.noSize, "no-size", false, "do not output the size of the cache directories")
	return c
}

func (a *app) runCache(opts *cacheOptions, args []string) error {
	if len(args) > 0 {
		return fatalf("the cache command expects no arguments, only options - please see `restic help cache` for usage and flags")
	}
	if a.opts.NoCache {
		return fatalf("Refusing to do anything, the cache is disabled")
	}
	base := a.opts.CacheDir
	if base == "" {
		var err error
		if base, err = cache.DefaultBase(); err != nil {
			return err
		}
	}
	maxAge := time.Duration(opts.maxAge) * 24 * time.Hour
	now := time.Now()
	if opts.cleanup || a.opts.CleanupCache {
		old, err := cache.Old(base, maxAge, now)
		if err != nil {
			return err
		}
		if len(old) == 0 {
			a.printf("no old cache dirs found\n")
			return nil
		}
		a.printf("remove %d old cache directories\n", len(old))
		for _, d := range old {
			if err := os.RemoveAll(d.Path); err != nil {
				a.warnf("unable to remove %v: %v\n", d.Path, err)
			}
		}
		return nil
	}

	dirs, err := cache.Dirs(base)
	if err != nil {
		return err
	}
	if len(dirs) == 0 {
		fmt.Fprintf(a.stdout, "no cache dirs found, basedir is %v\n", base)
		return nil
	}
	sort.Slice(dirs, func(i, j int) bool { return dirs[i].ModTime.Before(dirs[j].ModTime) })
	headers := []string{"Repo ID", "Last Used", "Old"}
	if !opts.noSize {
		headers = append(headers, "Size")
	}
	t := newTable(headers...)
	for _, d := range dirs {
		old := ""
		if d.ModTime.Before(now.Add(-maxAge)) {
			old = "yes"
		}
		name := d.Name
		if !strings.HasPrefix(name, "restic-check-cache-") {
			name = name[:10]
		}
		row := []string{name, fmt.Sprintf("%d days ago", uint(now.Sub(d.ModTime).Hours()/24)), old}
		if !opts.noSize {
			size, err := dirSize(d.Path)
			if err != nil {
				return err
			}
			row = append(row, fmt.Sprintf("%11s", formatBytes(uint64(size))))
		}
		t.addRow(row...)
	}
	if err := t.write(a.stdout); err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "%d cache dirs in %s\n", len(dirs), base)
	return nil
}

// dirSize adds up the sizes of the files below dir.
func dirSize(dir string) (int64, error) {
	var size int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		size += fi.Size()
		return nil
	})
	return size, err
}
