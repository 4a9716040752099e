// Package backend defines where a repository's files live.
//
// A Backend stores opaque, immutable files in the six kinds a restic
// repository has (config, keys, locks, snapshots, index, data). It knows
// nothing about encryption or the repository format: the repo package builds
// on it. Implementations live in subpackages (local, sftp, s3, rest); wrappers
// (retries, rate limits, fault injection) wrap any Backend.
package backend

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// FileType is the kind of a repository file; it decides the directory.
type FileType uint8

// The file kinds of a restic repository.
const (
	PackFile FileType = 1 + iota
	KeyFile
	LockFile
	SnapshotFile
	IndexFile
	ConfigFile
)

// String returns the name restic uses for the file type in messages
// ("data", "key", "lock", "snapshot", "index", "config").
func (t FileType) String() string {
	switch t {
	case PackFile:
		return "data"
	case KeyFile:
		return "key"
	case LockFile:
		return "lock"
	case SnapshotFile:
		return "snapshot"
	case IndexFile:
		return "index"
	case ConfigFile:
		return "config"
	}
	return fmt.Sprintf("FileType(%d)", uint8(t))
}

// Dir returns the directory of the file type inside a repository
// ("data", "keys", "locks", "snapshots", "index"; "" for config).
func (t FileType) Dir() string {
	switch t {
	case PackFile:
		return "data"
	case KeyFile:
		return "keys"
	case LockFile:
		return "locks"
	case SnapshotFile:
		return "snapshots"
	case IndexFile:
		return "index"
	}
	return ""
}

// Handle names one file in a repository. Name is empty for the config file.
type Handle struct {
	Type FileType
	Name string
	// Metadata marks a pack that holds tree blobs. It does not change which
	// file is meant; a cache keeps such packs locally.
	Metadata bool
}

// String returns a short, human-readable form such as "<data/4a2c5e8d01>".
func (h Handle) String() string {
	name := h.Name
	if len(name) > 10 {
		name = name[:10]
	}
	return fmt.Sprintf("<%s/%s>", h.Type, name)
}

// Path returns the file's path relative to the repository root in restic's
// layout: packs are spread over 256 subdirectories named by the first two
// hex characters of their name.
func (h Handle) Path() string {
	switch {
	case h.Type == ConfigFile:
		return "config"
	case h.Type == PackFile && len(h.Name) >= 2:
		return "data/" + h.Name[:2] + "/" + h.Name
	default:
		return h.Type.Dir() + "/" + h.Name
	}
}

// FileInfo describes a stored file. ModTime is the zero time when the
// backend does not know it.
type FileInfo struct {
	Name    string
	Size    int64
	ModTime time.Time
}

// ErrNotExist is returned (wrapped) when a file does not exist.
var ErrNotExist = errors.New("file does not exist")

// ErrTooShort is returned (wrapped) by Load when the file ends before
// offset+length. Retrying cannot help, so backends wrap it in a PermanentError.
var ErrTooShort = errors.New("file is too short")

// ErrNoRepository is returned by Open when there is no repository at the location.
var ErrNoRepository = errors.New("repository does not exist")

// Properties describe what a backend can do.
type Properties struct {
	// Connections is the number of requests the backend serves well in parallel.
	Connections uint
	// HasAtomicReplace is true when Save over an existing file replaces it atomically.
	HasAtomicReplace bool
	// ConsistentList is true when every List started after a Save returned
	// includes that file, for every client (a local disk's file system,
	// S3 on AWS, R2 or MinIO; not NFS, and not an object store that lists
	// eventually). Locking then needs no delay between writing a lock and
	// checking for others.
	ConsistentList bool
	// LinksFiles is true when Save stores a LinkableSource by giving its
	// file a name in the repository instead of copying it (a local
	// repository on the same file system): the file's bytes then go to
	// this disk whatever happens, and writing them early saves waiting.
	LinksFiles bool
	// Remote is true when every request goes over a network (REST, S3,
	// SFTP): one request for a few kilobytes costs a round trip.
	Remote bool
}

// Backend stores a repository's files.
//
// Every method that does I/O takes a context first. Errors for missing files
// wrap ErrNotExist; other errors name the backend, the file and the cause.
type Backend interface {
	// Location returns a description of where the repository is, without secrets.
	Location() string
	// Properties describes the backend.
	Properties() Properties
	// Create prepares an empty location for a new repository (directories,
	// bucket). It fails when a config file already exists, except on S3
	// (as restic's backends; the repository's creation checks again).
	Create(ctx context.Context) error
	// Save stores a file. rd may be read more than once (after Rewind) when
	// the backend retries.
	Save(ctx context.Context, h Handle, rd RewindReader) error
	// Load calls fn with a reader over length bytes at offset (length 0
	// means to the end). fn may be called again when the read is retried;
	// it must not keep the reader.
	Load(ctx context.Context, h Handle, length int, offset int64, fn func(rd io.Reader) error) error
	// Stat returns information about one file.
	Stat(ctx context.Context, h Handle) (FileInfo, error)
	// List calls fn for every file of type t, in no particular order.
	List(ctx context.Context, t FileType, fn func(FileInfo) error) error
	// Remove deletes a file.
	Remove(ctx context.Context, h Handle) error
	// Close releases the backend's resources.
	Close() error
}

// ErrConfigExists is what Create returns (wrapped) when the location
// already has a config file.
var ErrConfigExists = errors.New("config file already exists")

// IsNotExist reports whether err means a missing file.
func IsNotExist(err error) bool { return errors.Is(err, ErrNotExist) }

// PermanentError marks an error that retrying cannot fix (permission
// denied, bad credentials, not found). Wrappers that retry stop at once.
type PermanentError struct{ Err error }

func (e *PermanentError) Error() string { return e.Err.Error() }
func (e *PermanentError) Unwrap() error { return e.Err }

// IsPermanent reports whether err should not be retried.
func IsPermanent(err error) bool {
	var p *PermanentError
	return errors.As(err, &p) || errors.Is(err, ErrNotExist) || errors.Is(err, context.Canceled)
}

// notExistError keeps the message of a backend-specific "not found" error
// while making errors.Is(err, ErrNotExist) hold.
type notExistError struct{ err error }

func (e *notExistError) Error() string   { return e.err.Error() }
func (e *notExistError) Unwrap() []error { return []error{e.err, ErrNotExist} }

// NotExist marks err as meaning a missing file: the result has err's message
// and matches both err's own chain and ErrNotExist with errors.Is.
func NotExist(err error) error {
	if err == nil {
		return nil
	}
	return &notExistError{err: err}
}

// CheckHandle rejects a handle of an unknown type, or whose name would
// leave its type's directory (empty, ".", "..", or with a path separator).
func CheckHandle(h Handle) error {
	if h.Type < PackFile || h.Type > ConfigFile {
		return fmt.Errorf("invalid file type %v", h.Type)
	}
	if h.Type == ConfigFile {
		return nil
	}
	if h.Name == "" || h.Name == "." || h.Name == ".." || strings.ContainsAny(h.Name, `/\`) {
		return fmt.Errorf("invalid file name %q for %v", h.Name, h.Type)
	}
	return nil
}

// Semaphore limits how many requests a backend runs at once.
type Semaphore chan struct{}

// NewSemaphore returns a semaphore with n slots (at least one).
func NewSemaphore(n uint) Semaphore { return make(Semaphore, max(n, 1)) }

// Acquire takes a slot, waiting until one is free or ctx ends.
func (s Semaphore) Acquire(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	select {
	case s <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Release returns a slot taken by Acquire.
func (s Semaphore) Release() { <-s }
