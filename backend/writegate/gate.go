// Package writegate holds back an operation's writes until a decision:
// an operation can read the repository (index, snapshots, trees) while
// its lock is still being confirmed, and any file it stores or removes
// in that time waits until the lock is granted (Open) or fails with the
// lock's error (Fail).
//
// The gate travels in the operation's context (With), and a backend
// wrapped once (Wrap) consults the gate of each call's context: other
// operations sharing the backend, which carry no gate, are not held up.
// Lock files always pass: the lock itself is what is being decided.
package writegate

import (
	"context"
	"fmt"
	"sync"

	"github.com/arca-backup/arca/backend"
)

// Gate is one pending decision. The zero value is not usable; use New.
type Gate struct {
	once sync.Once
	done chan struct{}
	err  error // set before done is closed
}

// New returns an undecided gate.
func New() *Gate { return &Gate{done: make(chan struct{})} }

// Open lets writes through. Only the first call of Open or Fail counts.
func (g *Gate) Open() { g.decide(nil) }

// Fail makes waiting and later writes return err (which must not be nil).
func (g *Gate) Fail(err error) {
	if err == nil {
		panic("writegate: Fail(nil)")
	}
	g.decide(err)
}

func (g *Gate) decide(err error) {
	g.once.Do(func() {
		g.err = err
		close(g.done)
	})
}

// Wait blocks until the gate is decided or ctx ends, and returns the
// error given to Fail, or ctx's error.
func (g *Gate) Wait(ctx context.Context) error {
	select {
	case <-g.done:
		return g.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Decided returns a channel closed once the gate is decided.
func (g *Gate) Decided() <-chan struct{} { return g.done }

type gateKey struct{}

// With returns a context whose writes through a wrapped backend wait for g.
func With(ctx context.Context, g *Gate) context.Context {
	return context.WithValue(ctx, gateKey{}, g)
}

// From returns the gate carried by ctx, or nil.
func From(ctx context.Context) *Gate {
	g, _ := ctx.Value(gateKey{}).(*Gate)
	return g
}

// Backend is a backend whose writes wait for the gate of their context.
type Backend struct {
	backend.Backend
}

// Wrap returns be with gated writes. Calls whose context carries no gate
// pass straight through.
func Wrap(be backend.Backend) *Backend { return &Backend{Backend: be} }

// Unwrap returns the wrapped backend.
func (b *Backend) Unwrap() backend.Backend { return b.Backend }

// wait blocks writes of anything but lock files until ctx's gate is
// decided.
func wait(ctx context.Context, h backend.Handle) error {
	g := From(ctx)
	if g == nil || h.Type == backend.LockFile {
		return nil
	}
	if err := g.Wait(ctx); err != nil {
		return fmt.Errorf("write %v: %w", h, err)
	}
	return nil
}

// Save stores the file once the gate is open.
func (b *Backend) Save(ctx context.Context, h backend.Handle, rd backend.RewindReader) error {
	if err := wait(ctx, h); err != nil {
		return err
	}
	return b.Backend.Save(ctx, h, rd)
}

// Remove deletes the file once the gate is open.
func (b *Backend) Remove(ctx context.Context, h backend.Handle) error {
	if err := wait(ctx, h); err != nil {
		return err
	}
	return b.Backend.Remove(ctx, h)
}

// Create prepares a new repository once the gate is open.
func (b *Backend) Create(ctx context.Context) error {
	if err := wait(ctx, backend.Handle{Type: backend.ConfigFile}); err != nil {
		return err
	}
	return b.Backend.Create(ctx)
}
