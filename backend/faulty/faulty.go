// Package faulty wraps a Backend and makes chosen calls fail, for tests of
// the layers that must cope with failing storage (retries, stuck requests,
// partial uploads).
//
// A Fault names an operation (and optionally a file type) and how many of
// the matching calls go wrong; the wrapper counts every call, so tests can
// assert how often an operation was tried.
package faulty

import (
	"context"
	"errors"
	"io"
	"sync"

	"github.com/arca-backup/arca/backend"
)

// Op is a backend operation.
type Op string

// The operations a Fault can target.
const (
	OpSave   Op = "Save"
	OpLoad   Op = "Load"
	OpStat   Op = "Stat"
	OpList   Op = "List"
	OpRemove Op = "Remove"
)

// ErrInjected is the error of a Fault without its own Err.
var ErrInjected = errors.New("injected fault")

// Fault describes failing calls.
type Fault struct {
	Op Op
	// Type limits the fault to one file type (0: every type).
	Type backend.FileType
	// Count is how many matching calls fail (0: every one).
	Count int
	// Err is the error the calls return (ErrInjected when nil).
	Err error
	// After lets data through first: Save stores the first After bytes of
	// the file (a partial upload) before failing; Load's reader fails
	// after delivering After bytes; List delivers After files first.
	// Without it the call fails before reaching the wrapped backend.
	After int64
	// Stall makes the call hang (after After bytes) until its context
	// ends, like a request to an unresponsive server; it then returns the
	// context's error.
	Stall bool
}

// Backend is a Backend with injected faults.
type Backend struct {
	backend.Backend

	mu     sync.Mutex
	faults []*fault
	calls  map[Op]int
}

type fault struct {
	Fault
	left int // remaining failures; -1: unlimited
}

// Wrap returns be with no faults yet.
func Wrap(be backend.Backend) *Backend {
	return &Backend{Backend: be, calls: make(map[Op]int)}
}

// Inject adds a fault. Faults are tried in the order they were added.
func (b *Backend) Inject(f Fault) {
	if f.Err == nil {
		f.Err = ErrInjected
	}
	left := f.Count
	if left == 0 {
		left = -1
	}
	b.mu.Lock()
	b.faults = append(b.faults, &fault{Fault: f, left: left})
	b.mu.Unlock()
}

// Calls returns how often op was called.
func (b *Backend) Calls(op Op) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.calls[op]
}

// next counts a call and returns the fault it meets, if any.
func (b *Backend) next(op Op, t backend.FileType) *Fault {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.calls[op]++
	for _, f := range b.faults {
		if f.Op != op || (f.Type != 0 && f.Type != t) || f.left == 0 {
			continue
		}
		if f.left > 0 {
			f.left--
		}
		cp := f.Fault
		return &cp
	}
	return nil
}

// fail returns f's error, after hanging until ctx ends when f stalls.
func (f *Fault) fail(ctx context.Context) error {
	if f.Stall {
		<-ctx.Done()
		return ctx.Err()
	}
	return f.Err
}

// Save fails as the matching fault says, or saves.
func (b *Backend) Save(ctx context.Context, h backend.Handle, rd backend.RewindReader) error {
	f := b.next(OpSave, h.Type)
	if f == nil {
		return b.Backend.Save(ctx, h, rd)
	}
	if f.After > 0 {
		part := make([]byte, min(f.After, rd.Length()))
		if _, err := io.ReadFull(rd, part); err != nil {
			return err
		}
		if !f.Stall {
			// leave a partial file behind, as a broken upload may
			if err := b.Backend.Save(ctx, h, backend.NewByteReader(part)); err != nil {
				return err
			}
		}
	}
	return f.fail(ctx)
}

// Load fails as the matching fault says, or loads.
func (b *Backend) Load(ctx context.Context, h backend.Handle, length int, offset int64, fn func(io.Reader) error) error {
	f := b.next(OpLoad, h.Type)
	if f == nil {
		return b.Backend.Load(ctx, h, length, offset, fn)
	}
	if f.After == 0 {
		return f.fail(ctx)
	}
	return b.Backend.Load(ctx, h, length, offset, func(rd io.Reader) error {
		return fn(io.MultiReader(io.LimitReader(rd, f.After), &failReader{ctx: ctx, f: f}))
	})
}

// failReader fails every read (after stalling, for a stalling fault).
type failReader struct {
	ctx context.Context
	f   *Fault
}

func (r *failReader) Read([]byte) (int, error) { return 0, r.f.fail(r.ctx) }

// Stat fails as the matching fault says, or stats.
func (b *Backend) Stat(ctx context.Context, h backend.Handle) (backend.FileInfo, error) {
	if f := b.next(OpStat, h.Type); f != nil {
		return backend.FileInfo{}, f.fail(ctx)
	}
	return b.Backend.Stat(ctx, h)
}

// Remove fails as the matching fault says, or removes.
func (b *Backend) Remove(ctx context.Context, h backend.Handle) error {
	if f := b.next(OpRemove, h.Type); f != nil {
		return f.fail(ctx)
	}
	return b.Backend.Remove(ctx, h)
}

// List fails as the matching fault says (after After files), or lists.
func (b *Backend) List(ctx context.Context, t backend.FileType, fn func(backend.FileInfo) error) error {
	f := b.next(OpList, t)
	if f == nil {
		return b.Backend.List(ctx, t, fn)
	}
	var n int64
	errFault := errors.New("fault reached")
	err := b.Backend.List(ctx, t, func(fi backend.FileInfo) error {
		if n >= f.After {
			return errFault
		}
		n++
		return fn(fi)
	})
	if err != nil && !errors.Is(err, errFault) {
		return err
	}
	return f.fail(ctx)
}
