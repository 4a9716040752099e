package writegate

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/arca-backup/arca/backend"
	"github.com/arca-backup/arca/backend/mem"
)

func save(ctx context.Context, b *Backend, h backend.Handle) <-chan error {
	ch := make(chan error, 1)
	go func() { ch <- b.Save(ctx, h, backend.NewByteReader([]byte("data"))) }()
	return ch
}

func exists(t *testing.T, be backend.Backend, h backend.Handle) bool {
	t.Helper()
	_, err := be.Stat(context.Background(), h)
	if err != nil && !backend.IsNotExist(err) {
		t.Fatal(err)
	}
	return err == nil
}

func TestWritesWaitForOpen(t *testing.T) {
	inner := mem.New()
	b := Wrap(inner)
	g := New()
	ctx := With(context.Background(), g)
	lockH := backend.Handle{Type: backend.LockFile, Name: "aaaa"}
	if err := <-save(ctx, b, lockH); err != nil || !exists(t, inner, lockH) {
		t.Fatalf("lock file must pass a closed gate: %v", err)
	}
	packH := backend.Handle{Type: backend.PackFile, Name: "bbbb"}
	done := save(ctx, b, packH)
	removed := make(chan error, 1)
	go func() { removed <- b.Remove(ctx, lockH) }()
	// a call without a gate in its context is not held up
	otherH := backend.Handle{Type: backend.SnapshotFile, Name: "eeee"}
	if err := <-save(context.Background(), b, otherH); err != nil || !exists(t, inner, otherH) {
		t.Fatalf("ungated save: %v", err)
	}
	select {
	case err := <-done:
		t.Fatalf("pack saved before the gate opened: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	if exists(t, inner, packH) {
		t.Fatal("pack stored before the gate opened")
	}
	if err := <-removed; err != nil || exists(t, inner, lockH) {
		t.Fatalf("lock removal must pass a closed gate: %v", err)
	}
	g.Open()
	if err := <-done; err != nil || !exists(t, inner, packH) {
		t.Fatalf("after Open: %v", err)
	}
	// reads were never gated
	if err := b.Load(ctx, packH, 0, 0, func(io.Reader) error { return nil }); err != nil {
		t.Fatal(err)
	}
}

func TestFailRefusesWrites(t *testing.T) {
	inner := mem.New()
	b := Wrap(inner)
	g := New()
	// the gate survives context.WithoutCancel, as used for cleanup writes
	ctx := context.WithoutCancel(With(context.Background(), g))
	h := backend.Handle{Type: backend.SnapshotFile, Name: "cccc"}
	done := save(ctx, b, h)
	lockErr := errors.New("repository is already locked")
	g.Fail(lockErr)
	g.Open() // too late: the first decision counts
	if err := <-done; !errors.Is(err, lockErr) {
		t.Fatalf("waiting save: %v", err)
	}
	if err := b.Remove(ctx, h); !errors.Is(err, lockErr) {
		t.Fatalf("later remove: %v", err)
	}
	if err := g.Wait(context.Background()); !errors.Is(err, lockErr) {
		t.Fatalf("Wait: %v", err)
	}
	if exists(t, inner, h) {
		t.Fatal("a refused write reached the backend")
	}
}

func TestWaitEndsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(With(context.Background(), New()))
	done := save(ctx, Wrap(mem.New()), backend.Handle{Type: backend.IndexFile, Name: "dddd"})
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v", err)
	}
}
