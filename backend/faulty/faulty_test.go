package faulty_test

import (
	"context"
	"errors"
	"io"
	"testing"

	"github.com/arca-backup/arca/backend"
	"github.com/arca-backup/arca/backend/backendtest"
	"github.com/arca-backup/arca/backend/faulty"
	"github.com/arca-backup/arca/backend/mem"
)

// Without faults the wrapper is the backend it wraps.
func TestConformance(t *testing.T) {
	backendtest.Run(t, func(t *testing.T) backend.Backend { return faulty.Wrap(mem.New()) })
}

func TestFaults(t *testing.T) {
	ctx := context.Background()
	inner := mem.New()
	be := faulty.Wrap(inner)
	h := backend.Handle{Type: backend.IndexFile, Name: "aa"}
	errOwn := errors.New("own error")
	be.Inject(faulty.Fault{Op: faulty.OpSave, Type: backend.IndexFile, Count: 1, After: 3, Err: errOwn})
	be.Inject(faulty.Fault{Op: faulty.OpLoad, Count: 2, After: 4})

	// the first index Save fails and leaves 3 bytes; snapshots are not affected
	if err := be.Save(ctx, h, backend.NewByteReader([]byte("abcdef"))); !errors.Is(err, errOwn) {
		t.Fatalf("Save: %v, want the injected error", err)
	}
	if got, _ := backend.LoadAll(ctx, inner, h); string(got) != "abc" {
		t.Errorf("partial file %q, want %q", got, "abc")
	}
	if err := be.Save(ctx, backend.Handle{Type: backend.SnapshotFile, Name: "bb"}, backend.NewByteReader([]byte("x"))); err != nil {
		t.Errorf("Save of a snapshot: %v", err)
	}
	if err := be.Save(ctx, h, backend.NewByteReader([]byte("abcdef"))); err != nil {
		t.Errorf("second Save: %v", err)
	}
	// two Loads deliver 4 bytes, then fail; the third succeeds
	for i := 0; i < 3; i++ {
		var got []byte
		err := be.Load(ctx, h, 0, 0, func(rd io.Reader) (err error) {
			got, err = io.ReadAll(rd)
			return err
		})
		switch {
		case i < 2 && (!errors.Is(err, faulty.ErrInjected) || string(got) != "abcd"):
			t.Errorf("Load %d: %q, %v; want 4 bytes and the injected error", i, got, err)
		case i == 2 && (err != nil || string(got) != "abcdef"):
			t.Errorf("Load %d: %q, %v", i, got, err)
		}
	}
	if be.Calls(faulty.OpSave) != 3 || be.Calls(faulty.OpLoad) != 3 || be.Calls(faulty.OpStat) != 0 {
		t.Errorf("calls: Save %d, Load %d, Stat %d", be.Calls(faulty.OpSave), be.Calls(faulty.OpLoad), be.Calls(faulty.OpStat))
	}

	// a stalling fault hangs until the context ends
	be.Inject(faulty.Fault{Op: faulty.OpStat, Count: 1, Stall: true})
	cctx, cancel := context.WithCancel(ctx)
	go cancel()
	if _, err := be.Stat(cctx, h); !errors.Is(err, context.Canceled) {
		t.Errorf("stalled Stat: %v, want context.Canceled", err)
	}
}
