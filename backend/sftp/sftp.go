// Package sftp stores a repository on an SFTP server, reached the way
// restic reaches it: arca starts `ssh host -s sftp` (or the command given
// with -o sftp.command) as a subprocess and speaks SFTP over its standard
// input and output, so the user's ssh configuration, agent and keys apply.
//
// The layout, file modes and atomic writes follow backend/local: a file is
// written under a temporary name in its target directory and renamed over
// the final name (posix-rename@openssh.com when the server has it, which
// makes replacing atomic), then made read-only. All requests share the one
// SSH session; a semaphore keeps at most Connections of them running. When
// the subprocess dies, pending and later calls fail at once with an error
// naming the backend and how the process ended.
package sftp

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
	"sync"
	"syscall"

	"github.com/arca-backup/arca/backend"
	"github.com/pkg/sftp"
)

// tmpMarker is part of the name of every temporary file Save creates:
// "<name>-restic-temp-<random>", the name restic's SFTP backend uses, so a
// file left behind by an interrupted save looks to restic like one of its
// own. List skips these and backend/local's "-tmp-" files.
const (
	tmpMarker      = "-restic-temp-"
	localTmpMarker = "-tmp-"
)

// Modes are the permissions used for new files and directories: 0700/0600,
// or with group access when the repository's config file is group-readable
// (restic's rule). Saved files are then made read-only.
type Modes struct {
	Dir  os.FileMode
	File os.FileMode
}

func modesFor(config os.FileInfo) Modes {
	m := Modes{Dir: 0o700, File: 0o600}
	if config != nil && config.Mode()&0o040 != 0 {
		m.Dir |= 0o070
		m.File |= 0o060
	}
	return m
}

// Backend is a repository on an SFTP server.
type Backend struct {
	cfg         Config
	dir         string
	proc        *process
	c           *sftp.Client
	sem         backend.Semaphore
	modes       Modes
	posixRename bool
	closeOnce   sync.Once
	closeErr    error
}

var _ backend.Backend = (*Backend)(nil)

// Open starts the subprocess, opens the SFTP session and returns the
// backend for the repository directory cfg.Path. It does not check that a
// repository exists there. Close must be called to end the subprocess.
func Open(ctx context.Context, cfg Config) (*Backend, error) {
	if cfg.Connections == 0 {
		cfg.Connections = DefaultConnections
	}
	proc, err := startProcess(ctx, cfg)
	if err != nil {
		return nil, err
	}
	_, posixRename := proc.client.HasExtension("posix-rename@openssh.com")
	b := &Backend{
		cfg:         cfg,
		dir:         cfg.Path,
		proc:        proc,
		c:           proc.client,
		sem:         backend.NewSemaphore(cfg.Connections),
		posixRename: posixRename,
	}
	fi, err := b.c.Stat(b.filename(backend.Handle{Type: backend.ConfigFile}))
	if err != nil && !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, fs.ErrPermission) {
		_ = b.Close()
		return nil, b.wrapErr("stat", backend.Handle{Type: backend.ConfigFile}, err)
	}
	b.modes = modesFor(fi)
	return b, nil
}

// Location returns the repository location in restic's "sftp:" form.
func (b *Backend) Location() string { return b.cfg.String() }

// Properties describes the backend. Replacing a file is atomic only when
// the server supports posix-rename@openssh.com.
func (b *Backend) Properties() backend.Properties {
	return backend.Properties{Connections: b.cfg.Connections, HasAtomicReplace: b.posixRename, Remote: true}
}

// Modes returns the permissions the backend uses for new files and directories.
func (b *Backend) Modes() Modes { return b.modes }

// acquire takes one of the Connections slots.
func (b *Backend) acquire(ctx context.Context) error { return b.sem.Acquire(ctx) }

func (b *Backend) release() { b.sem.Release() }

// ready returns an error when ctx is done or the subprocess has gone.
func (b *Backend) ready(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if b.proc.hasExited() {
		return b.lostError(sftp.ErrSSHFxConnectionLost)
	}
	return nil
}

// lostError describes a broken connection, with how the subprocess ended;
// retrying cannot help.
func (b *Backend) lostError(err error) error {
	report := b.proc.exitReport()
	if errors.Is(err, sftp.ErrSSHFxConnectionLost) {
		err = fmt.Errorf("connection to %s lost%s", b.Location(), report)
	} else {
		err = fmt.Errorf("connection to %s lost: %w%s", b.Location(), err, report)
	}
	return &backend.PermanentError{Err: err}
}

// isConnectionError reports whether err means the session is gone rather
// than that a request failed.
func isConnectionError(err error) bool {
	return errors.Is(err, sftp.ErrSSHFxConnectionLost) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, os.ErrClosed) || errors.Is(err, io.ErrClosedPipe)
}

// wrapErr adds the operation and handle to err and classifies it.
func (b *Backend) wrapErr(op string, h backend.Handle, err error) error {
	switch {
	case isConnectionError(err) || (b.proc.hasExited() && !errors.Is(err, fs.ErrNotExist)):
		return fmt.Errorf("%s %v: %w", op, h, b.lostError(err))
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%s %v: %w", op, h, backend.NotExist(err))
	case errors.Is(err, fs.ErrPermission), isNoSpace(err):
		return &backend.PermanentError{Err: fmt.Errorf("%s %v: %w", op, h, err)}
	}
	return fmt.Errorf("%s %v: %w", op, h, err)
}

// pathError names the remote path in errors that pkg/sftp returns bare.
func pathError(op, name string, err error) error {
	var pe *fs.PathError
	if err == nil || errors.As(err, &pe) {
		return err
	}
	return &fs.PathError{Op: op, Path: name, Err: err}
}

// hasStatus reports whether err is the SFTP status code (pkg/sftp's
// *StatusError does not match its own code values with errors.Is).
func hasStatus(err error, code error) bool {
	var se *sftp.StatusError
	return errors.Is(err, code) || (errors.As(err, &se) && se.FxCode() == code)
}

// errNoSpace marks a write that failed because the server's file system is full.
var errNoSpace = errors.New("no space left on device")

func isNoSpace(err error) bool { return errors.Is(err, errNoSpace) }

// checkNoSpace returns an error wrapping errNoSpace when a failed write of
// size bytes into dir was probably caused by a full file system: OpenSSH's
// sftp-server reports that as a generic failure, so ask statvfs@openssh.com.
func (b *Backend) checkNoSpace(dir string, size int64, err error) error {
	if !hasStatus(err, sftp.ErrSSHFxFailure) {
		return err
	}
	if _, ok := b.c.HasExtension("statvfs@openssh.com"); !ok {
		return err
	}
	st, serr := b.c.StatVFS(dir)
	if serr != nil {
		return err
	}
	if st.Favail == 0 || st.Frsize*st.Bavail < uint64(size) {
		return fmt.Errorf("%w (%w)", errNoSpace, err)
	}
	return err
}

func (b *Backend) filename(h backend.Handle) string {
	return path.Join(b.dir, h.Path())
}

// paths returns every directory of the repository, the 256 data
// subdirectories included.
func (b *Backend) paths() []string {
	var dirs []string
	for _, t := range []backend.FileType{backend.PackFile, backend.SnapshotFile, backend.IndexFile, backend.LockFile, backend.KeyFile} {
		dirs = append(dirs, path.Join(b.dir, t.Dir()))
	}
	for i := 0; i < 256; i++ {
		dirs = append(dirs, path.Join(b.dir, backend.PackFile.Dir(), hex.EncodeToString([]byte{byte(i)})))
	}
	return dirs
}

// Create makes the repository directories (Connections of them at a
// time). It fails when a config file already exists.
func (b *Backend) Create(ctx context.Context) error {
	if err := b.ready(ctx); err != nil {
		return err
	}
	cfg := backend.Handle{Type: backend.ConfigFile}
	if _, err := b.c.Lstat(b.filename(cfg)); err == nil {
		return &backend.PermanentError{Err: backend.ErrConfigExists}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return b.wrapErr("create repository: stat", cfg, pathError("lstat", b.filename(cfg), err))
	}
	if err := b.forEach(ctx, b.paths(), func(d string) error {
		// Mkdir first: one round trip when the parent exists.
		if err := b.c.Mkdir(d); err == nil {
			return pathError("chmod", d, b.c.Chmod(d, b.modes.Dir))
		}
		return b.mkdirAll(d)
	}); err != nil {
		if isConnectionError(err) || b.proc.hasExited() {
			err = b.lostError(err)
		}
		return err // (the caller names the repository)
	}
	return nil
}

// forEach calls fn for every item, Connections at a time, and returns the
// first error; after an error or the end of ctx no new calls start.
func (b *Backend) forEach(ctx context.Context, items []string, fn func(string) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg       sync.WaitGroup
		once     sync.Once
		firstErr error
	)
	for _, item := range items {
		if err := b.acquire(ctx); err != nil {
			once.Do(func() { firstErr = err })
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer b.release()
			if err := fn(item); err != nil {
				once.Do(func() { firstErr = err })
				cancel()
			}
		}()
	}
	wg.Wait()
	return firstErr
}

// mkdirAll makes dir and its missing parents with the directory mode; an
// existing directory is left as it is.
func (b *Backend) mkdirAll(dir string) error {
	if fi, err := b.c.Stat(dir); err == nil {
		if fi.IsDir() {
			return nil
		}
		return &fs.PathError{Op: "mkdir", Path: dir, Err: syscall.ENOTDIR}
	}
	if parent := path.Dir(dir); parent != dir && parent != "." && parent != "/" {
		if err := b.mkdirAll(parent); err != nil {
			return err
		}
	}
	if err := b.c.Mkdir(dir); err != nil {
		// Someone else may have made it meanwhile.
		if fi, serr := b.c.Lstat(dir); serr == nil && fi.IsDir() {
			return nil
		}
		return pathError("mkdir", dir, err)
	}
	return pathError("chmod", dir, b.c.Chmod(dir, b.modes.Dir))
}

// tempName returns a fresh temporary name next to final.
func tempName(final string) string {
	var nonce [16]byte
	_, _ = rand.Read(nonce[:])
	return final + tmpMarker + hex.EncodeToString(nonce[:])
}

// Save writes the file under a temporary name, renames it over the final
// name and makes it read-only. A missing directory is created. A failed
// save removes its temporary file.
func (b *Backend) Save(ctx context.Context, h backend.Handle, rd backend.RewindReader) error {
	if err := backend.CheckHandle(h); err != nil {
		return &backend.PermanentError{Err: fmt.Errorf("save %v: %w", h, err)}
	}
	if err := b.ready(ctx); err != nil {
		return err
	}
	if err := b.acquire(ctx); err != nil {
		return err
	}
	defer b.release()
	if err := b.save(ctx, h, rd); err != nil {
		return b.wrapErr("save", h, err)
	}
	return nil
}

func (b *Backend) save(ctx context.Context, h backend.Handle, rd backend.RewindReader) (err error) {
	final := b.filename(h)
	tmp := tempName(final)
	f, err := b.c.OpenFile(tmp, os.O_CREATE|os.O_EXCL|os.O_WRONLY)
	if errors.Is(err, fs.ErrNotExist) {
		// The directory is missing (e.g. a data subdirectory was removed).
		if mkErr := b.mkdirAll(path.Dir(final)); mkErr == nil {
			f, err = b.c.OpenFile(tmp, os.O_CREATE|os.O_EXCL|os.O_WRONLY)
		}
	}
	if err != nil {
		return pathError("open", tmp, err)
	}
	closed := false
	defer func() {
		if err != nil {
			if !closed {
				_ = f.Close()
			}
			_ = b.c.Remove(tmp)
		}
	}()
	// pkg/sftp cannot create a file with a mode: set it while it is empty.
	if err := f.Chmod(b.modes.File); err != nil && !hasStatus(err, sftp.ErrSSHFxOpUnsupported) {
		return pathError("chmod", tmp, err)
	}
	n, err := f.ReadFromWithConcurrency(&ctxReader{ctx: ctx, r: rd}, writesInFlight)
	if err != nil {
		return pathError("write", tmp, b.checkNoSpace(path.Dir(final), rd.Length(), err))
	}
	if n != rd.Length() {
		return fmt.Errorf("write %s: wrote %d bytes instead of the expected %d", tmp, n, rd.Length())
	}
	closed = true
	if err := f.Close(); err != nil {
		return pathError("close", tmp, err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if b.posixRename {
		err = b.c.PosixRename(tmp, final)
	} else {
		err = b.c.Rename(tmp, final)
	}
	if err != nil {
		return pathError("rename", tmp, err)
	}
	// Read-only against accidental modification, where the server allows it.
	if err := b.c.Chmod(final, b.modes.File&^0o222); err != nil && !hasStatus(err, sftp.ErrSSHFxOpUnsupported) {
		return pathError("chmod", final, err)
	}
	return nil
}

// writesInFlight is how many 32 KiB writes of one file are sent before
// the first is answered: 1 MiB. restic (and reads here) allow 128, 4 MiB,
// but that many writes stall the first upload of a session to OpenSSH's
// sshd: a first 4.6 MB pack took 200-400 ms instead of 25-40 ms, which
// was a fifth of an incremental backup over SFTP. With 32 the first upload
// took 70-140 ms and later ones were as fast as before; five packs of
// 16 MiB uploaded in parallel moved 100-120 MB/s with either value (both
// measured against the test servers on this VM). On a slow link a single
// upload now fills half of the SSH channel's window (2 MiB in OpenSSH,
// shared by all files of the session); two or more fill it, as before.
const writesInFlight = 32

// ctxReader stops a transfer when its context ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (r *ctxReader) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	return r.r.Read(p)
}

// Load calls fn with a reader over length bytes at offset (length 0: to the
// end). When the file ends before offset+length, the reader returns, and
// Load returns, an error wrapping backend.ErrTooShort. fn's own error is
// returned unchanged.
func (b *Backend) Load(ctx context.Context, h backend.Handle, length int, offset int64, fn func(rd io.Reader) error) error {
	if err := backend.CheckHandle(h); err != nil {
		return &backend.PermanentError{Err: fmt.Errorf("load %v: %w", h, err)}
	}
	if length < 0 || offset < 0 {
		return &backend.PermanentError{Err: fmt.Errorf("load %v: invalid range (length %d, offset %d)", h, length, offset)}
	}
	if err := b.ready(ctx); err != nil {
		return err
	}
	if err := b.acquire(ctx); err != nil {
		return err
	}
	defer b.release()

	name := b.filename(h)
	f, err := b.c.Open(name)
	if err != nil {
		return b.wrapErr("load", h, pathError("open", name, err))
	}
	defer func() { _ = f.Close() }()
	if offset > 0 {
		// Only sets the offset of the next read: no request.
		if _, err := f.Seek(offset, io.SeekStart); err != nil {
			return b.wrapErr("load", h, err)
		}
	}
	rd := &rangeReader{b: b, ctx: ctx, h: h, f: f, remaining: int64(length), limited: length > 0, offset: offset}
	err = fn(rd)
	switch {
	case rd.short == nil:
		return err
	case err == nil:
		err = rd.short
	case !errors.Is(err, backend.ErrTooShort):
		err = fmt.Errorf("%w (%w)", rd.short, err)
	}
	return &backend.PermanentError{Err: err}
}

// rangeReader reads a range of a remote file. Large reads (and WriteTo)
// keep many requests in flight, which is what makes SFTP fast on links
// with latency.
type rangeReader struct {
	b         *Backend
	ctx       context.Context
	h         backend.Handle
	f         *sftp.File
	offset    int64 // where the range starts, for messages
	limited   bool
	remaining int64 // bytes left in the range when limited
	short     error // set when the file ended inside the range
}

// readBuffer is the size of the reads WriteTo makes for a limited range;
// pkg/sftp splits each into concurrent 32 KiB requests.
const readBuffer = 1 << 20

func (r *rangeReader) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	if r.short != nil {
		return 0, r.short
	}
	if r.limited {
		if r.remaining <= 0 {
			return 0, io.EOF
		}
		if int64(len(p)) > r.remaining {
			p = p[:r.remaining]
		}
	}
	n, err := r.f.Read(p)
	r.remaining -= int64(n)
	switch {
	case err == io.EOF && r.limited && r.remaining > 0:
		want := r.remaining + int64(n)
		r.short = fmt.Errorf("load %v: file ends %d bytes before the end of the range (length %d at offset %d): %w",
			r.h, r.remaining, want, r.offset, backend.ErrTooShort)
		if n > 0 {
			return n, nil
		}
		return 0, r.short
	case err != nil && err != io.EOF:
		err = r.b.wrapErr("load", r.h, err)
	}
	return n, err
}

// WriteTo copies the rest of the range to w.
func (r *rangeReader) WriteTo(w io.Writer) (int64, error) {
	if !r.limited {
		if err := r.ctx.Err(); err != nil {
			return 0, err
		}
		n, err := r.f.WriteTo(&ctxWriter{ctx: r.ctx, w: w})
		if err != nil && !errors.Is(err, r.ctx.Err()) {
			err = r.b.wrapErr("load", r.h, err)
		}
		return n, err
	}
	buf := make([]byte, min(r.remaining, readBuffer))
	var written int64
	for r.remaining > 0 {
		n, err := r.Read(buf)
		if n > 0 {
			m, werr := w.Write(buf[:n])
			written += int64(m)
			if werr != nil {
				return written, werr
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return written, err
		}
	}
	return written, nil
}

// ctxWriter stops a transfer when its context ends.
type ctxWriter struct {
	ctx context.Context
	w   io.Writer
}

func (w *ctxWriter) Write(p []byte) (int, error) {
	if err := w.ctx.Err(); err != nil {
		return 0, err
	}
	return w.w.Write(p)
}

// Stat returns the size and modification time of a file.
func (b *Backend) Stat(ctx context.Context, h backend.Handle) (backend.FileInfo, error) {
	if err := backend.CheckHandle(h); err != nil {
		return backend.FileInfo{}, &backend.PermanentError{Err: fmt.Errorf("stat %v: %w", h, err)}
	}
	if err := b.ready(ctx); err != nil {
		return backend.FileInfo{}, err
	}
	if err := b.acquire(ctx); err != nil {
		return backend.FileInfo{}, err
	}
	defer b.release()
	name := b.filename(h)
	fi, err := b.c.Lstat(name)
	if err != nil {
		// "Lstat /path/config: file does not exist", as restic says it.
		return backend.FileInfo{}, b.wrapErr("stat", h, pathError("Lstat", name, err))
	}
	return backend.FileInfo{Name: h.Name, Size: fi.Size(), ModTime: fi.ModTime()}, nil
}

// Remove deletes a file. A server that refuses to delete read-only files
// (Windows) gets the file made writable first.
func (b *Backend) Remove(ctx context.Context, h backend.Handle) error {
	if err := backend.CheckHandle(h); err != nil {
		return &backend.PermanentError{Err: fmt.Errorf("remove %v: %w", h, err)}
	}
	if err := b.ready(ctx); err != nil {
		return err
	}
	if err := b.acquire(ctx); err != nil {
		return err
	}
	defer b.release()
	name := b.filename(h)
	err := b.c.Remove(name)
	if errors.Is(err, fs.ErrPermission) {
		if cerr := b.c.Chmod(name, b.modes.File); cerr == nil {
			err = b.c.Remove(name)
		}
	}
	if err != nil {
		return b.wrapErr("remove", h, pathError("remove", name, err))
	}
	return nil
}

// List calls fn for every file of type t with its size and modification
// time. Temporary files of interrupted saves are skipped; a missing
// directory lists as empty. Directories are read ahead (up to Connections
// at a time) while fn runs; fn is called from one goroutine at a time and
// may call the backend.
func (b *Backend) List(ctx context.Context, t backend.FileType, fn func(backend.FileInfo) error) error {
	if err := b.ready(ctx); err != nil {
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
	case backend.PackFile:
		err = b.listPacks(ctx, fn)
	case backend.KeyFile, backend.LockFile, backend.SnapshotFile, backend.IndexFile:
		var entries []os.FileInfo
		entries, err = b.readDir(ctx, path.Join(b.dir, t.Dir()))
		if err == nil {
			err = emit(ctx, entries, fn)
		}
	default:
		return fmt.Errorf("list %v: invalid file type", t)
	}
	if err != nil {
		return err
	}
	return ctx.Err()
}

// readDir lists a directory; a missing one is empty.
func (b *Backend) readDir(ctx context.Context, dir string) ([]os.FileInfo, error) {
	if err := b.acquire(ctx); err != nil {
		return nil, err
	}
	defer b.release()
	entries, err := b.c.ReadDirContext(ctx, dir)
	switch {
	case err == nil:
		return entries, nil
	case errors.Is(err, fs.ErrNotExist):
		return nil, nil
	case ctx.Err() != nil:
		return nil, ctx.Err()
	case isConnectionError(err) || b.proc.hasExited():
		return nil, fmt.Errorf("list %s: %w", dir, b.lostError(err))
	case errors.Is(err, fs.ErrPermission):
		return nil, &backend.PermanentError{Err: fmt.Errorf("list %s: %w", dir, err)}
	}
	return nil, fmt.Errorf("list %s: %w", dir, err)
}

// emit calls fn for the regular files among entries.
func emit(ctx context.Context, entries []os.FileInfo, fn func(backend.FileInfo) error) error {
	for _, e := range entries {
		if !e.Mode().IsRegular() || strings.Contains(e.Name(), tmpMarker) || strings.Contains(e.Name(), localTmpMarker) {
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(backend.FileInfo{Name: e.Name(), Size: e.Size(), ModTime: e.ModTime()}); err != nil {
			return err
		}
	}
	return nil
}

// listPacks lists data/ and reads its subdirectories concurrently, handing
// their entries to fn in the calling goroutine.
func (b *Backend) listPacks(ctx context.Context, fn func(backend.FileInfo) error) error {
	top, err := b.readDir(ctx, path.Join(b.dir, backend.PackFile.Dir()))
	if err != nil {
		return err
	}
	var subdirs []string
	for _, e := range top {
		if e.IsDir() {
			subdirs = append(subdirs, path.Join(b.dir, backend.PackFile.Dir(), e.Name()))
		}
	}
	if len(subdirs) == 0 {
		return nil
	}

	type listing struct {
		entries []os.FileInfo
		err     error
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// One result slot per directory, filled in any order, read in order;
	// at most Connections directories are read ahead of fn.
	results := make([]chan listing, len(subdirs))
	for i := range results {
		results[i] = make(chan listing, 1)
	}
	next := make(chan int)
	workers := min(int(b.cfg.Connections), len(subdirs))
	ahead := make(chan struct{}, workers)
	go func() {
		defer close(next)
		for i := range subdirs {
			select {
			case ahead <- struct{}{}:
			case <-ctx.Done():
				return
			}
			select {
			case next <- i:
			case <-ctx.Done():
				return
			}
		}
	}()
	for w := 0; w < workers; w++ {
		go func() {
			for i := range next {
				entries, err := b.readDir(ctx, subdirs[i])
				results[i] <- listing{entries, err}
			}
		}()
	}
	for i := range subdirs {
		var l listing
		select {
		case l = <-results[i]:
		case <-ctx.Done():
			return ctx.Err()
		}
		<-ahead
		if l.err != nil {
			return l.err
		}
		if err := emit(ctx, l.entries, fn); err != nil {
			return err
		}
	}
	return nil
}

// Close ends the SFTP session and the subprocess.
// Calling it again returns the first result.
func (b *Backend) Close() error {
	b.closeOnce.Do(func() {
		if err := b.proc.close(); err != nil {
			b.closeErr = fmt.Errorf("close sftp %s: %w", b.Location(), err)
		}
	})
	return b.closeErr
}
