// Package cache keeps local copies of a repository's metadata so that
// commands against a remote repository do not fetch it again every time.
//
// The layout is restic's, so arca and restic share one cache: a base
// directory (by default $XDG_CACHE_HOME/restic, tagged with a CACHEDIR.TAG)
// holds one directory per repository ID with a "version" file and the
// subdirectories "snapshots", "index" and "data", each split into
// subdirectories named by the first two characters of a file name. Index and
// snapshot files are always cached; a pack is cached only when its handle is
// marked as Metadata (it holds trees); the key file that opened the
// repository is kept too (see RememberKey). Files are stored exactly as the
// backend holds them (encrypted); callers verify what they read and call
// Forget for a file that fails its check, so the next read fetches it again.
package cache

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"time"

	"github.com/arca-backup/arca/backend"
)

// Version is the cache layout version this package writes.
const Version = 1

// MaxAge is how long an unused repository cache is kept by Cleanup by
// default (restic's 30 days).
const MaxAge = 30 * 24 * time.Hour

// cachedirTag marks the base directory as a cache that backup programs
// skip (https://bford.info/cachedir/); restic writes just this line.
const cachedirTag = "Signature: 8a477f597d28d172789f06886806bc55\n"

const (
	dirMode  = 0o700
	fileMode = 0o644
)

// subdirs are the cached file types and their directories.
var subdirs = map[backend.FileType]string{
	backend.PackFile:     "data",
	backend.SnapshotFile: "snapshots",
	backend.IndexFile:    "index",
}

// Cache is one repository's cache directory. It is safe for concurrent use,
// also by several processes.
type Cache struct {
	base, dir string
	created   bool

	mu        sync.Mutex
	forgotten map[backend.Handle]bool
}

// DefaultBase returns the base directory restic uses: $RESTIC_CACHE_DIR,
// else "restic" in the user's cache directory ($XDG_CACHE_HOME or
// ~/.cache on Linux).
func DefaultBase() (string, error) {
	if d := os.Getenv("RESTIC_CACHE_DIR"); d != "" {
		return d, nil
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("unable to locate cache directory: %w", err)
	}
	return filepath.Join(d, "restic"), nil
}

// Open opens (creating as needed) the cache of repository repoID under base
// (DefaultBase when empty). A cache written by a newer layout version is an
// error; an older one is upgraded in place.
func Open(base, repoID string) (*Cache, error) {
	if !isHexID(repoID) {
		return nil, fmt.Errorf("cache: invalid repository ID %q", repoID)
	}
	if base == "" {
		var err error
		if base, err = DefaultBase(); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(base, dirMode); err != nil {
		return nil, fmt.Errorf("create cache directory: %w", err)
	}
	if err := writeTag(base); err != nil {
		return nil, err
	}
	c := &Cache{base: base, dir: filepath.Join(base, repoID), forgotten: map[backend.Handle]bool{}}
	v, err := readVersion(c.dir)
	switch {
	case err == nil:
		if v > Version {
			return nil, fmt.Errorf("cache %s has version %d, newer than this program's %d", c.dir, v, Version)
		}
		now := time.Now() // a used cache is not old
		if err := os.Chtimes(c.dir, now, now); err != nil {
			return nil, fmt.Errorf("cache: %w", err)
		}
	case errors.Is(err, os.ErrNotExist):
		switch err := os.Mkdir(c.dir, dirMode); {
		case err == nil:
			c.created = true
		case !errors.Is(err, os.ErrExist):
			return nil, fmt.Errorf("create cache directory: %w", err)
		}
	default:
		return nil, fmt.Errorf("cache %s: %w", c.dir, err)
	}
	if v < Version {
		if err := os.WriteFile(filepath.Join(c.dir, "version"), []byte(strconv.Itoa(Version)), fileMode); err != nil {
			return nil, fmt.Errorf("cache: %w", err)
		}
	}
	for _, sub := range subdirs {
		if err := os.MkdirAll(filepath.Join(c.dir, sub), dirMode); err != nil {
			return nil, fmt.Errorf("cache: %w", err)
		}
	}
	return c, nil
}

func writeTag(base string) error {
	f, err := os.OpenFile(filepath.Join(base, "CACHEDIR.TAG"), os.O_CREATE|os.O_EXCL|os.O_WRONLY, fileMode)
	if errors.Is(err, os.ErrExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("cache tag: %w", err)
	}
	_, err = f.WriteString(cachedirTag)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("cache tag: %w", err)
	}
	return nil
}

func readVersion(dir string) (int, error) {
	buf, err := os.ReadFile(filepath.Join(dir, "version"))
	if err != nil {
		return 0, err
	}
	v, err := strconv.Atoi(string(buf))
	if err != nil || v < 0 {
		return 0, fmt.Errorf("invalid version file %q", buf)
	}
	return v, nil
}

// Dir returns the repository's cache directory.
func (c *Cache) Dir() string { return c.dir }

// Base returns the base directory holding all repositories' caches.
func (c *Cache) Base() string { return c.base }

// Created reports whether Open made a new, empty cache directory.
func (c *Cache) Created() bool { return c.created }

// cacheable reports whether files of type t can live in the cache.
func cacheable(t backend.FileType) bool {
	_, ok := subdirs[t]
	return ok
}

// autoCached reports whether a file is cached when it is saved or loaded:
// index and snapshot files always, packs when they hold metadata.
func autoCached(h backend.Handle) bool {
	switch h.Type {
	case backend.IndexFile, backend.SnapshotFile:
		return true
	case backend.PackFile:
		return h.Metadata
	}
	return false
}

func (c *Cache) path(h backend.Handle) string {
	name := h.Name
	sub := name
	if len(sub) > 2 {
		sub = sub[:2]
	}
	return filepath.Join(c.dir, subdirs[h.Type], sub, name)
}

// Has reports whether the file is in the cache.
func (c *Cache) Has(h backend.Handle) bool {
	if !cacheable(h.Type) || len(h.Name) < 2 {
		return false
	}
	_, err := os.Stat(c.path(h))
	return err == nil
}

// open returns the cached file positioned at offset and limited to length
// bytes (0: to the end). ok is false when the file is not cached.
func (c *Cache) open(h backend.Handle, length int, offset int64) (rd io.ReadCloser, ok bool, err error) {
	if !cacheable(h.Type) || len(h.Name) < 2 {
		return nil, false, nil
	}
	f, err := os.Open(c.path(h))
	if err != nil {
		return nil, false, nil
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, true, fmt.Errorf("cached %v: %w", h, err)
	}
	if fi.Size() < offset+int64(length) {
		f.Close()
		return nil, true, fmt.Errorf("cached %v is too short (%d bytes, want %d at %d): %w", h, fi.Size(), length, offset, backend.ErrTooShort)
	}
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		f.Close()
		return nil, true, fmt.Errorf("cached %v: %w", h, err)
	}
	if length <= 0 {
		return f, true, nil
	}
	return limitedFile{io.LimitReader(f, int64(length)), f}, true, nil
}

type limitedFile struct {
	io.Reader
	f *os.File
}

func (l limitedFile) Close() error { return l.f.Close() }

// store writes rd to the cache (see writeFile).
func (c *Cache) store(h backend.Handle, rd io.Reader) error {
	if !cacheable(h.Type) || len(h.Name) < 2 {
		return fmt.Errorf("cache: %v cannot be cached", h)
	}
	if err := writeFile(c.path(h), rd); err != nil {
		return fmt.Errorf("cache %v: %w", h, err)
	}
	return nil
}

// writeFile writes a private file (mode 0600) through a temporary file in
// its directory, which it creates as needed, so that readers never see
// part of it and several processes can write the same file.
func writeFile(path string, rd io.Reader) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, dirMode); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, "tmp-")
	if err != nil {
		return err
	}
	_, err = io.Copy(f, rd)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return err
}

// remove deletes a cached file; a file that is not cached is no error.
func (c *Cache) remove(h backend.Handle) (bool, error) {
	if !cacheable(h.Type) || len(h.Name) < 2 {
		return false, nil
	}
	err := os.Remove(c.path(h))
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("cache: remove %v: %w", h, err)
	}
	return true, nil
}

// ErrForgotten is returned by Forget for a file it removed before in this
// process: a file that keeps failing its check after a fresh download is
// damaged in the repository, and downloading it again cannot help.
var ErrForgotten = errors.New("cached file was already dropped once")

// Forget drops a cached file that failed verification, so the next read
// fetches it from the backend. It reports whether anything was dropped; a
// second Forget of the same file returns ErrForgotten.
func (c *Cache) Forget(h backend.Handle) (bool, error) {
	h.Metadata = false
	c.mu.Lock()
	again := c.forgotten[h]
	c.mu.Unlock()
	if again {
		return false, fmt.Errorf("cache: %v: %w", h, ErrForgotten)
	}
	removed, err := c.remove(h)
	if removed {
		c.mu.Lock()
		c.forgotten[h] = true
		c.mu.Unlock()
	}
	return removed, err
}

// clear removes the cached files of type t whose names are not in keep.
func (c *Cache) clear(t backend.FileType, keep map[string]bool) error {
	names, err := c.list(t)
	if err != nil {
		return err
	}
	for _, name := range names {
		if keep[name] {
			continue
		}
		if _, err := c.remove(backend.Handle{Type: t, Name: name}); err != nil {
			return err
		}
	}
	return nil
}

// list returns the names of the cached files of type t.
func (c *Cache) list(t backend.FileType) ([]string, error) {
	root := filepath.Join(c.dir, subdirs[t])
	var names []string
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return nil
			}
			return err
		}
		if d.Type().IsRegular() && isHexID(d.Name()) {
			names = append(names, d.Name())
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list cache %s: %w", root, err)
	}
	return names, nil
}

var (
	hexIDPattern    = regexp.MustCompile(`^[a-fA-F0-9]{64}$`)
	cacheDirPattern = regexp.MustCompile(`^[a-fA-F0-9]{64}$|^restic-check-cache-[0-9]+$`)
)

// isHexID reports whether name is a 64-digit hex ID: a repository ID or the
// name of a cached file.
func isHexID(name string) bool { return hexIDPattern.MatchString(name) }

// validDirName reports whether name is a repository cache directory: a
// repository ID, or a temporary cache made by restic's check.
func validDirName(name string) bool { return cacheDirPattern.MatchString(name) }

// DirInfo describes one repository's cache directory.
type DirInfo struct {
	Name    string // the repository ID
	Path    string
	ModTime time.Time // the last time a program opened the cache
}

// Dirs lists the repository caches under base (DefaultBase when empty).
// A missing base directory holds none.
func Dirs(base string) ([]DirInfo, error) {
	if base == "" {
		var err error
		if base, err = DefaultBase(); err != nil {
			return nil, err
		}
	}
	entries, err := os.ReadDir(base)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list caches: %w", err)
	}
	var dirs []DirInfo
	for _, e := range entries {
		if !e.IsDir() || !validDirName(e.Name()) {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			continue // removed meanwhile
		}
		dirs = append(dirs, DirInfo{Name: e.Name(), Path: filepath.Join(base, e.Name()), ModTime: fi.ModTime()})
	}
	return dirs, nil
}

// Old returns the repository caches under base not used for longer than
// maxAge.
func Old(base string, maxAge time.Duration, now time.Time) ([]DirInfo, error) {
	all, err := Dirs(base)
	if err != nil {
		return nil, err
	}
	var old []DirInfo
	for _, d := range all {
		if d.ModTime.Before(now.Add(-maxAge)) {
			old = append(old, d)
		}
	}
	return old, nil
}
