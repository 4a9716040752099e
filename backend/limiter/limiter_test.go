package limiter

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/arca-backup/arca/backend"
	"github.com/arca-backup/arca/backend/backendtest"
	"github.com/arca-backup/arca/backend/mem"
)

// fakeClock advances only when someone sleeps, and records the total.
type fakeClock struct {
	mu    sync.Mutex
	now   time.Time
	slept time.Duration
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	c.slept += d
	return nil
}

func TestLimitedTransfersTakeTheRightTime(t *testing.T) {
	ctx := context.Background()
	clk := &fakeClock{now: time.Unix(1000, 0)}
	const rate = 100 * 1024 // 100 KiB/s
	be := wrap(mem.New(), rate, rate, clk)
	data := make([]byte, 1<<20)
	for i := range data {
		data[i] = byte(rand.Uint32())
	}
	h := backend.Handle{Type: backend.PackFile, Name: "aa01"}
	if err := be.Save(ctx, h, backend.NewByteReader(data)); err != nil {
		t.Fatal(err)
	}
	// 1 MiB at 100 KiB/s with a one-second burst: about 9.24 s of waiting
	upload := clk.slept
	if upload < 9*time.Second || upload > 9500*time.Millisecond {
		t.Fatalf("upload of 1 MiB at 100 KiB/s waited %v, want about 9.24s", upload)
	}
	var got []byte
	err := be.Load(ctx, h, 0, 0, func(rd io.Reader) error {
		var err error
		got, err = io.ReadAll(rd)
		return err
	})
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("load through the limiter changed data: %v", err)
	}
	if d := clk.slept - upload; d < 9*time.Second || d > 9500*time.Millisecond {
		t.Fatalf("download waited %v, want about 9.24s", d)
	}
}

func TestNoLimitReturnsBackend(t *testing.T) {
	be := mem.New()
	if Wrap(be, 0, 0) != backend.Backend(be) {
		t.Fatal("Wrap with no limits must return the backend itself")
	}
}

func TestConformance(t *testing.T) {
	backendtest.Run(t, func(t *testing.T) backend.Backend {
		// generous limits so the suite runs quickly but data still flows through the limiter
		return wrap(mem.New(), 1<<40, 1<<40, &fakeClock{now: time.Unix(0, 0)})
	})
}
