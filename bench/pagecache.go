package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// readThrough reads every regular file under root to its end and returns
// the bytes read, so that the measured run after it finds them in the page
// cache. Both programs get the same treatment before every run. Without
// it, what a run found cached depended on how long ago the data was last
// read: the VM the figures come from pages out memory left untouched for
// a minute (DAMON), and the first run after a pause read part of its
// corpus from the disk (about 2 s more system time).
func readThrough(root string) (int64, error) {
	buf := make([]byte, 1<<20)
	var total int64
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) {
				return nil // removed meanwhile, or unreadable (in a -source directory): nothing to read
			}
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		f, err := os.Open(p)
		if errors.Is(err, fs.ErrPermission) {
			return nil
		} else if err != nil {
			return err
		}
		n, err := io.CopyBuffer(io.Discard, onlyReader{f}, buf)
		total += n
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		return err
	})
	if err != nil {
		return total, fmt.Errorf("read %s into the page cache: %w", root, err)
	}
	return total, nil
}

// onlyReader hides a file's WriteTo, so io.CopyBuffer reads through buf
// (io.Discard's ReadFrom would read in 8 KiB pieces).
type onlyReader struct{ io.Reader }

// countFiles counts the regular files under root and their bytes. Entries
// that cannot be read are left out, as the programs report and skip them.
func countFiles(root string) (corpusStats, error) {
	var st corpusStats
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p != root && (errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission)) {
				return nil
			}
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return nil // removed meanwhile
		}
		st.Files++
		st.Bytes += fi.Size()
		return nil
	})
	if err != nil {
		return st, fmt.Errorf("count the files of %s: %w", root, err)
	}
	return st, nil
}
