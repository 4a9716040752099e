package main

import (
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"time"
)

// editStats counts what applyEdits changed.
type editStats struct {
	Appended int   `json:"appended"`
	Inserted int   `json:"inserted"`
	Touched  int   `json:"touched"`
	Deleted  int   `json:"deleted"`
	Bytes    int64 `json:"bytes"` // bytes added, plus the size of touched and deleted files
}

func (s editStats) String() string {
	return fmt.Sprintf("%d appended, %d inserted, %d touched, %d deleted (%s)", s.Appended, s.Inserted, s.Touched, s.Deleted, fmtBytes(s.Bytes))
}

// linkTree copies the tree src to dst with hard links for the files (no
// data is copied) and the directories' modification times kept. Files in
// dst must only ever be replaced (write elsewhere, rename), never written
// in place, or src changes too.
func linkTree(src, dst string) error {
	type dirTime struct {
		path  string
		mtime time.Time
	}
	var dirs []dirTime
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			fi, err := d.Info()
			if err != nil {
				return err
			}
			dirs = append(dirs, dirTime{target, fi.ModTime()})
			return os.MkdirAll(target, fi.Mode().Perm())
		}
		return os.Link(p, target)
	})
	if err != nil {
		return fmt.Errorf("link %s to %s: %w", src, dst, err)
	}
	for i := len(dirs) - 1; i >= 0; i-- {
		if err := os.Chtimes(dirs[i].path, dirs[i].mtime, dirs[i].mtime); err != nil {
			return err
		}
	}
	return nil
}

// regularFiles lists the regular files under dir, sorted.
func regularFiles(dir string) ([]string, error) {
	var files []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			files = append(files, p)
		}
		return err
	})
	sort.Strings(files)
	return files, err
}

// replaceFile gives path the content data through a new file renamed over
// it, so a hard link to the old file keeps the old content.
func replaceFile(path string, data []byte, mtime time.Time) error {
	tmp := path + ".bench-tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	if !mtime.IsZero() {
		if err := os.Chtimes(tmp, mtime, mtime); err != nil {
			return err
		}
	}
	return os.Rename(tmp, path)
}

// applyEdits changes about 2% of the corpus under dir, deterministically
// from seed: bytes appended to files, bytes inserted in the middle of
// files, files touched (mtime only) and files deleted, in turn. With fewer
// than four files (the huge-file corpus), each file gets an insert and an
// append instead. The new bytes are random.
func applyEdits(dir string, seed uint64) (editStats, error) {
	var st editStats
	files, err := regularFiles(dir)
	if err != nil {
		return st, err
	}
	var total int64
	sizes := make([]int64, len(files))
	for i, p := range files {
		fi, err := os.Stat(p)
		if err != nil {
			return st, err
		}
		sizes[i] = fi.Size()
		total += fi.Size()
	}
	rng := rand.New(rand.NewPCG(seed, 0x65646974))
	randomBlock := func(n int64) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	}
	budget := max(total/50, 1)
	insert := func(p string, at, n int64) error {
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		out := make([]byte, 0, int64(len(data))+n)
		out = append(out, data[:at]...)
		out = append(out, randomBlock(n)...)
		out = append(out, data[at:]...)
		st.Bytes += n
		return replaceFile(p, out, time.Time{})
	}
	if len(files) < 4 {
		for i, p := range files {
			n := max(budget/int64(2*len(files)), 1)
			if err := insert(p, sizes[i]/2, n); err != nil {
				return st, err
			}
			st.Inserted++
			if err := insert(p, sizes[i]+n, n); err != nil {
				return st, err
			}
			st.Appended++
		}
		return st, nil
	}
	next := 0 // the kinds of edit take turns
	for _, i := range rng.Perm(len(files)) {
		left := budget - st.Bytes
		if left <= 0 {
			break
		}
		p, size := files[i], sizes[i]
		op := next % 4
		if op >= 2 && size > left {
			// touching or deleting this file would overshoot the budget:
			// change it in place, and keep the touch or delete for a
			// smaller file
			op = int(size % 2)
		} else {
			next++
		}
		n := min(max(size/10, 1<<10), max(budget/32, 1), left)
		switch op {
		case 0:
			err = insert(p, size, n)
			st.Appended++
		case 1:
			err = insert(p, size/2, n)
			st.Inserted++
		case 2:
			var data []byte
			var fi os.FileInfo
			if data, err = os.ReadFile(p); err == nil {
				if fi, err = os.Stat(p); err == nil {
					err = replaceFile(p, data, fi.ModTime().Add(time.Hour))
				}
			}
			st.Touched++
			st.Bytes += size
		case 3:
			err = os.Remove(p)
			st.Deleted++
			st.Bytes += size
		}
		if err != nil {
			return st, fmt.Errorf("edit %s: %w", p, err)
		}
	}
	return st, nil
}
