// Package mem is a Backend that keeps a repository's files in memory.
//
// It is meant for unit tests of the layers above the backend: it passes the
// same conformance suite as the real backends, is fast, and starts empty.
// Stored contents are never modified in place, so Load hands out readers
// over the stored bytes without copying.
package mem

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/arca-backup/arca/backend"
)

type key struct {
	t    backend.FileType
	name string
}

type entry struct {
	data    []byte
	modTime time.Time
}

// Backend is an in-memory repository. The zero value is not usable; call New.
type Backend struct {
	props backend.Properties

	mu    sync.Mutex
	files map[key]entry
}

var _ backend.Backend = (*Backend)(nil)

// New returns an empty in-memory backend that replaces existing files
// atomically on Save and reports two connections.
func New() *Backend {
	return NewWithProperties(backend.Properties{Connections: 2, HasAtomicReplace: true})
}

// NewWithProperties returns an empty in-memory backend reporting props.
// Without HasAtomicReplace, Save refuses to overwrite an existing file (as
// the REST server does), which lets tests exercise that path.
func NewWithProperties(props backend.Properties) *Backend {
	if props.Connections == 0 {
		props.Connections = 1
	}
	return &Backend{props: props, files: make(map[key]entry)}
}

func keyOf(h backend.Handle) (key, error) {
	if h.Type < backend.PackFile || h.Type > backend.ConfigFile {
		return key{}, &backend.PermanentError{Err: fmt.Errorf("invalid file type %v", h.Type)}
	}
	if h.Type == backend.ConfigFile {
		return key{t: h.Type}, nil
	}
	if h.Name == "" {
		return key{}, &backend.PermanentError{Err: fmt.Errorf("empty file name for %v", h.Type)}
	}
	return key{t: h.Type, name: h.Name}, nil
}

func notFound(op string, h backend.Handle) error {
	return fmt.Errorf("%s %v: %w", op, h, backend.ErrNotExist)
}

// Location returns "mem:".
func (b *Backend) Location() string { return "mem:" }

// Properties returns the properties given at construction.
func (b *Backend) Properties() backend.Properties { return b.props }

// Create fails when a config file exists; otherwise there is nothing to prepare.
func (b *Backend) Create(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.files[key{t: backend.ConfigFile}]; ok {
		return backend.ErrConfigExists
	}
	return nil
}

// Save stores a copy of rd's bytes.
func (b *Backend) Save(ctx context.Context, h backend.Handle, rd backend.RewindReader) error {
	k, err := keyOf(h)
	if err != nil {
		return fmt.Errorf("save %v: %w", h, err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if !b.props.HasAtomicReplace && b.exists(k) {
		return fmt.Errorf("save %v: file already exists", h)
	}

	var buf []byte
	if br, ok := rd.(*backend.ByteReader); ok {
		buf = bytes.Clone(br.Bytes())
	} else {
		buf, err = io.ReadAll(rd)
		if err != nil {
			return fmt.Errorf("save %v: %w", h, err)
		}
	}
	if int64(len(buf)) != rd.Length() {
		return fmt.Errorf("save %v: read %d bytes instead of the expected %d", h, len(buf), rd.Length())
	}
	if err := ctx.Err(); err != nil {
		return err
	}

	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.files[k]; ok && !b.props.HasAtomicReplace {
		return fmt.Errorf("save %v: file already exists", h)
	}
	b.files[k] = entry{data: buf, modTime: time.Now()}
	return nil
}

func (b *Backend) exists(k key) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	_, ok := b.files[k]
	return ok
}

func (b *Backend) get(k key) (entry, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	e, ok := b.files[k]
	return e, ok
}

// Load calls fn with a reader over the requested range of the file.
func (b *Backend) Load(ctx context.Context, h backend.Handle, length int, offset int64, fn func(rd io.Reader) error) error {
	k, err := keyOf(h)
	if err != nil {
		return fmt.Errorf("load %v: %w", h, err)
	}
	if length < 0 || offset < 0 {
		return &backend.PermanentError{Err: fmt.Errorf("load %v: invalid range (length %d, offset %d)", h, length, offset)}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	e, ok := b.get(k)
	if !ok {
		return notFound("load", h)
	}
	size := int64(len(e.data))
	if size < offset+int64(length) {
		return &backend.PermanentError{Err: fmt.Errorf("load %v: file has %d bytes, want %d at offset %d: %w",
			h, size, length, offset, backend.ErrTooShort)}
	}
	data := e.data[offset:]
	if length > 0 {
		data = data[:length]
	}
	return fn(bytes.NewReader(data))
}

// Stat returns the size and the time the file was saved.
func (b *Backend) Stat(ctx context.Context, h backend.Handle) (backend.FileInfo, error) {
	k, err := keyOf(h)
	if err != nil {
		return backend.FileInfo{}, fmt.Errorf("stat %v: %w", h, err)
	}
	if err := ctx.Err(); err != nil {
		return backend.FileInfo{}, err
	}
	e, ok := b.get(k)
	if !ok {
		return backend.FileInfo{}, notFound("stat", h)
	}
	return backend.FileInfo{Name: h.Name, Size: int64(len(e.data)), ModTime: e.modTime}, nil
}

// List calls fn for every file of type t. It works on a snapshot of the
// file set, so fn may call other methods of the backend.
func (b *Backend) List(ctx context.Context, t backend.FileType, fn func(backend.FileInfo) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	var infos []backend.FileInfo
	b.mu.Lock()
	for k, e := range b.files {
		if k.t == t {
			infos = append(infos, backend.FileInfo{Name: k.name, Size: int64(len(e.data)), ModTime: e.modTime})
		}
	}
	b.mu.Unlock()

	for _, fi := range infos {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(fi); err != nil {
			return err
		}
	}
	return ctx.Err()
}

// Remove deletes a file.
func (b *Backend) Remove(ctx context.Context, h backend.Handle) error {
	k, err := keyOf(h)
	if err != nil {
		return fmt.Errorf("remove %v: %w", h, err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.files[k]; !ok {
		return notFound("remove", h)
	}
	delete(b.files, k)
	return nil
}

// Close does nothing; the contents stay available.
func (b *Backend) Close() error { return nil }
