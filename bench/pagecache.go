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
			if errors.Is(err, fs.ErrNotExist) {
				return nil // removed meanwhile: nothing to read
			}
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		f, err := os.Open(p)
		if err != nil {
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
