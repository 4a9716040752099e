// Package local stores a repository in a directory of the local file system,
// in restic's layout: config, keys/, locks/, snapshots/, index/ and data/
// with 256 subdirectories 00..ff.
//
// Files are written atomically (temporary file in the target directory,
// fsync, rename, fsync of the directory) and then made read-only. A pack
// assembled in an unnamed temporary file on the same file system
// (backend.LinkableSource) is linked into that temporary name instead of
// copied there. File and
// directory permissions follow the repository's config file the way restic
// does it: group access is granted when the config file is group-readable.
package local

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"

	"github.com/arca-backup/arca/backend"
	"github.com/arca-backup/arca/backend/fsync"
)

// DefaultConnections is restic's default connection limit for local repositories.
const DefaultConnections = 2

// tmpMarker is part of the name of every temporary file Save creates
// ("<name>-tmp-<random>", the same pattern restic uses). List skips such files.
const tmpMarker = "-tmp-"

// Modes are the permissions used for new files and directories.
type Modes struct {
	Dir  os.FileMode
	File os.FileMode
}

// DefaultModes returns the permissions for a repository whose config file is
// not group-readable (or does not exist yet): directories 0700, files 0600.
// Saved files are additionally made read-only, so they end up as 0400.
func DefaultModes() Modes { return Modes{Dir: 0o700, File: 0o600} }

// deriveModes returns the modes to use given the mode of the config file.
func deriveModes(fi os.FileInfo, err error) Modes {
	m := DefaultModes()
	if err != nil || fi == nil {
		return m
	}
	if fi.Mode()&0o040 != 0 {
		m.Dir |= 0o070
		m.File |= 0o060
	}
	return m
}

// Backend is a repository in a local directory.
type Backend struct {
	dir         string
	modes       Modes
	connections uint
	consistent  func() bool // listsConsistently(dir), asked once
}

var _ backend.Backend = (*Backend)(nil)

// New returns a backend for the repository at dir without checking that one
// exists there. Permissions for new files are derived from the config file,
// if there is one.
func New(dir string) *Backend {
	b := &Backend{dir: dir, connections: DefaultConnections}
	b.consistent = sync.OnceValue(func() bool { return listsConsistently(dir) })
	fi, err := os.Stat(b.filename(backend.Handle{Type: backend.ConfigFile}))
	b.modes = deriveModes(fi, err)
	return b
}

// Open opens the repository at dir. The error wraps backend.ErrNoRepository
// when dir holds no config file; otherwise it is the error of the config
// file's stat.
func Open(ctx context.Context, dir string) (*Backend, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	b := New(dir)
	cfg := b.filename(backend.Handle{Type: backend.ConfigFile})
	if _, err := os.Stat(cfg); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%w: %w", backend.ErrNoRepository, err)
		}
		return nil, err
	}
	return b, nil
}

// Create prepares dir for a new repository (see Backend.Create) and returns
// the backend.
func Create(ctx context.Context, dir string) (*Backend, error) {
	b := New(dir)
	if err := b.Create(ctx); err != nil {
		return nil, err
	}
	return b, nil
}

// SetConnections overrides the connection limit reported by Properties
// (restic's -o local.connections). Call it before the backend is shared.
func (b *Backend) SetConnections(n uint) {
	if n > 0 {
		b.connections = n
	}
}

// Modes returns the permissions the backend uses for new files and directories.
func (b *Backend) Modes() Modes { return b.modes }

// Dir returns the repository directory.
func (b *Backend) Dir() string { return b.dir }

// Location returns the repository directory.
func (b *Backend) Location() string { return b.dir }

// Properties describes the backend.
func (b *Backend) Properties() backend.Properties {
	return backend.Properties{Connections: b.connections, HasAtomicReplace: true, ConsistentList: b.consistent(), LinksFiles: true}
}

// Paths returns every directory of a repository at dir in restic's layout,
// the 256 data subdirectories included.
func Paths(dir string) []string {
	var dirs []string
	for _, t := range []backend.FileType{backend.PackFile, backend.SnapshotFile, backend.IndexFile, backend.LockFile, backend.KeyFile} {
		dirs = append(dirs, filepath.Join(dir, t.Dir()))
	}
	for i := 0; i < 256; i++ {
		dirs = append(dirs, filepath.Join(dir, backend.PackFile.Dir(), hex.EncodeToString([]byte{byte(i)})))
	}
	return dirs
}

// Create makes the repository directories. It fails when a config file
// already exists.
func (b *Backend) Create(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	cfg := b.filename(backend.Handle{Type: backend.ConfigFile})
	if _, err := os.Lstat(cfg); err == nil {
		return backend.ErrConfigExists
	}
	for _, d := range Paths(b.dir) {
		if err := os.MkdirAll(d, b.modes.Dir); err != nil {
			return err // (the caller names the repository)
		}
	}
	return nil
}

func (b *Backend) filename(h backend.Handle) string {
	return filepath.Join(b.dir, filepath.FromSlash(h.Path()))
}

// wrapErr adds the operation and handle to err, unless the error already
// names the file, and classifies it.
func wrapErr(op string, h backend.Handle, err error) error {
	// an *fs.PathError already names the file and the system call; it is
	// kept as it is, which is also how restic reports it
	var pe *fs.PathError
	if errors.As(err, &pe) && pe == err {
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return backend.NotExist(err)
		case errors.Is(err, fs.ErrPermission), errors.Is(err, syscall.ENOSPC):
			return &backend.PermanentError{Err: err}
		}
		return err
	}
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%s %v: %w", op, h, backend.NotExist(err))
	case errors.Is(err, fs.ErrPermission), errors.Is(err, syscall.ENOSPC):
		return &backend.PermanentError{Err: fmt.Errorf("%s %v: %w", op, h, err)}
	}
	return fmt.Errorf("%s %v: %w", op, h, err)
}

// Save writes the file atomically: the data goes to a temporary file in the
// target directory, which is synced, renamed over the final name and made
// read-only; the directory is synced to commit the rename. An existing file
// is replaced.
func (b *Backend) Save(ctx context.Context, h backend.Handle, rd backend.RewindReader) error {
	if err := backend.CheckHandle(h); err != nil {
		return &backend.PermanentError{Err: fmt.Errorf("save %v: %w", h, err)}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := b.save(ctx, h, rd); err != nil {
		return wrapErr("save", h, err)
	}
	return nil
}

func (b *Backend) save(ctx context.Context, h backend.Handle, rd backend.RewindReader) error {
	final := b.filename(h)
	if src, ok := rd.(backend.LinkableSource); ok {
		linked, err := b.link(ctx, final, src)
		if linked || err != nil {
			return err
		}
	}
	return b.copy(ctx, final, rd)
}

// createTemp creates a temporary file next to final, creating a missing
// directory.
func (b *Backend) createTemp(final string) (*os.File, error) {
	dir := filepath.Dir(final)
	prefix := filepath.Base(final) + tmpMarker
	f, err := os.CreateTemp(dir, prefix)
	if errors.Is(err, fs.ErrNotExist) {
		// The directory is missing (e.g. a data subdirectory was removed).
		if mkErr := os.MkdirAll(dir, b.modes.Dir); mkErr == nil {
			f, err = os.CreateTemp(dir, prefix)
		}
	}
	return f, err
}

// copy writes rd to a temporary file next to final, syncs it and commits
// it under the final name.
func (b *Backend) copy(ctx context.Context, final string, rd backend.RewindReader) (err error) {
	f, err := b.createTemp(final)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(f.Name())
		}
	}()

	var n int64
	if src, ok := rd.(backend.FileSource); ok {
		n, err = src.CopyTo(f, ctx.Err)
	} else {
		n, err = io.Copy(f, rd)
	}
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) && pe == err && pe.Path == f.Name() {
			return err // names the file already: "write <file>: no space left on device"
		}
		return fmt.Errorf("write %s: %w", f.Name(), err)
	}
	if n != rd.Length() {
		return fmt.Errorf("write %s: wrote %d bytes instead of the expected %d", f.Name(), n, rd.Length())
	}

	syncErr := fsync.File(f)
	synced := syncErr == nil
	if syncErr != nil && !isSyncUnsupported(syncErr) {
		return syncErr
	}
	if err = f.Close(); err != nil {
		return err
	}
	return b.commit(ctx, f.Name(), final, synced)
}

// link gives src's file a temporary name next to final and commits it
// under the final name: a pack assembled in a temporary file on this file
// system becomes the repository's file without its bytes being copied.
// linked is false when src cannot be linked here; the caller then copies
// it.
func (b *Backend) link(ctx context.Context, final string, src backend.LinkableSource) (linked bool, err error) {
	var suffix [8]byte
	_, _ = rand.Read(suffix[:]) // never fails
	tmp := final + tmpMarker + hex.EncodeToString(suffix[:])
	linked, err = src.LinkTo(tmp)
	if !linked || err != nil {
		return false, err
	}
	err = b.commit(ctx, tmp, final, true)
	// renaming a link onto another link of the same file (a retried save
	// whose earlier attempt got that far) leaves the temporary name behind
	_ = os.Remove(tmp)
	return true, err
}

// commit renames the finished temporary file tmp to final, syncs the
// directory (when the file could be synced) and makes the file read-only.
func (b *Backend) commit(ctx context.Context, tmp, final string, sync bool) (err error) {
	defer func() {
		if err != nil {
			_ = os.Remove(tmp)
		}
	}()
	if err = ctx.Err(); err != nil {
		return err
	}
	if err = os.Rename(tmp, final); err != nil {
		return err
	}
	if sync {
		if err = fsyncDir(filepath.Dir(final)); err != nil {
			return err
		}
	}
	// Read-only against accidental modification; some file systems refuse chmod.
	if cerr := os.Chmod(final, b.modes.File&^0o222); cerr != nil &&
		!errors.Is(cerr, fs.ErrPermission) && !errors.Is(cerr, errors.ErrUnsupported) {
		return cerr
	}
	return nil
}

func isSyncUnsupported(err error) bool {
	return errors.Is(err, syscall.ENOTSUP) ||
		(runtime.GOOS == "darwin" && errors.Is(err, syscall.ENOTTY))
}

// fsyncDir commits a rename in dir to stable storage where the file system
// supports it.
func fsyncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = fsync.File(d)
	if err != nil && (isSyncUnsupported(err) || errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.EINVAL)) {
		err = nil
	}
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// Load calls fn with a reader over length bytes at offset (length 0: to the
// end). A file shorter than offset+length is an error wrapping
// backend.ErrTooShort. fn's own error is returned unchanged.
func (b *Backend) Load(ctx context.Context, h backend.Handle, length int, offset int64, fn func(rd io.Reader) error) error {
	if err := backend.CheckHandle(h); err != nil {
		return &backend.PermanentError{Err: fmt.Errorf("load %v: %w", h, err)}
	}
	if length < 0 || offset < 0 {
		return &backend.PermanentError{Err: fmt.Errorf("load %v: invalid range (length %d, offset %d)", h, length, offset)}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	fn2 := b.filename(h)
	f, err := os.Open(fn2)
	if err != nil {
		return wrapErr("load", h, err)
	}
	defer func() { _ = f.Close() }()

	fi, err := f.Stat()
	if err != nil {
		return wrapErr("load", h, err)
	}
	if size := fi.Size(); size < offset+int64(length) {
		return &backend.PermanentError{Err: fmt.Errorf("load %v: %s has %d bytes, want %d at offset %d: %w",
			h, fn2, size, length, offset, backend.ErrTooShort)}
	}
	if offset > 0 {
		if _, err := f.Seek(offset, io.SeekStart); err != nil {
			return wrapErr("load", h, err)
		}
	}
	var rd io.Reader = f
	if length > 0 {
		rd = io.LimitReader(f, int64(length))
	}
	return fn(rd)
}

// Stat returns the size and modification time of a file.
func (b *Backend) Stat(ctx context.Context, h backend.Handle) (backend.FileInfo, error) {
	if err := backend.CheckHandle(h); err != nil {
		return backend.FileInfo{}, &backend.PermanentError{Err: fmt.Errorf("stat %v: %w", h, err)}
	}
	if err := ctx.Err(); err != nil {
		return backend.FileInfo{}, err
	}
	fi, err := os.Stat(b.filename(h))
	if err != nil {
		return backend.FileInfo{}, wrapErr("stat", h, err)
	}
	return backend.FileInfo{Name: h.Name, Size: fi.Size(), ModTime: fi.ModTime()}, nil
}

// Remove deletes a file.
func (b *Backend) Remove(ctx context.Context, h backend.Handle) error {
	if err := backend.CheckHandle(h); err != nil {
		return &backend.PermanentError{Err: fmt.Errorf("remove %v: %w", h, err)}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := os.Remove(b.filename(h)); err != nil {
		return wrapErr("remove", h, err)
	}
	return nil
}

// List calls fn for every file of type t, with size and modification time.
// Temporary files left behind by interrupted saves are skipped. A missing
// directory lists as empty. The config file is listed when it exists.
func (b *Backend) List(ctx context.Context, t backend.FileType, fn func(backend.FileInfo) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	var err error
	switch t {
	case backend.ConfigFile:
		var fi backend.FileInfo
		fi, err = b.Stat(ctx, backend.Handle{Type: backend.ConfigFile})
		if err == nil {
			err = fn(fi)
		} else if backend.IsNotExist(err) {
			err = nil
		}
		if err != nil {
			return err
		}
	case backend.PackFile:
		err = b.listDirs(ctx, filepath.Join(b.dir, t.Dir()), fn)
	case backend.KeyFile, backend.LockFile, backend.SnapshotFile, backend.IndexFile:
		err = listFiles(ctx, filepath.Join(b.dir, t.Dir()), fn)
	default:
		return fmt.Errorf("list %v: invalid file type", t)
	}
	if err != nil {
		return err
	}
	return ctx.Err()
}

func (b *Backend) listDirs(ctx context.Context, dir string, fn func(backend.FileInfo) error) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("list %s: %w", dir, err)
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		if err := listFiles(ctx, filepath.Join(dir, e.Name()), fn); err != nil {
			return err
		}
	}
	return nil
}

func listFiles(ctx context.Context, dir string, fn func(backend.FileInfo) error) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("list %s: %w", dir, err)
	}
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return err
		}
		if e.IsDir() || strings.Contains(e.Name(), tmpMarker) {
			continue
		}
		info, err := e.Info()
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue // removed since the directory was read
			}
			return fmt.Errorf("list %s: %w", dir, err)
		}
		if err := fn(backend.FileInfo{Name: e.Name(), Size: info.Size(), ModTime: info.ModTime()}); err != nil {
			return err
		}
	}
	return nil
}

// Close releases nothing: every file is closed by the call that opened it.
func (b *Backend) Close() error { return nil }
