package s3_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/arca-backup/arca/backend"
)

func randomPack(n int) (backend.Handle, []byte) {
	data := make([]byte, n)
	_, _ = rand.NewChaCha8([32]byte{byte(n), 7}).Read(data)
	sum := sha256.Sum256(data)
	return backend.Handle{Type: backend.PackFile, Name: hex.EncodeToString(sum[:])}, data
}

// TestSaveDoesNotCopy: uploading a pack from a ByteReader allocates far
// less than the pack's size, so a pack is never held twice in memory.
func TestSaveDoesNotCopy(t *testing.T) {
	ts := s3Server(t)
	ctx := context.Background()
	be := ts.newBackend(t, nil)
	const size = 32 << 20
	h, data := randomPack(size)
	// warm up the connection and the SDK's lazily built state
	if err := be.Save(ctx, backend.Handle{Type: backend.LockFile, Name: "warmup"}, backend.NewByteReader([]byte("x"))); err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	if err := be.Save(ctx, h, backend.NewByteReader(data)); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("Save of %d MiB allocated %.2f MiB", size>>20, float64(alloc)/(1<<20))
	if alloc > size/4 {
		t.Errorf("Save of a %d-byte pack allocated %d bytes: the body is copied", size, alloc)
	}
}

func BenchmarkSave(b *testing.B) {
	ts := s3ServerB(b)
	ctx := context.Background()
	be := ts.newBackendB(b)
	h, data := randomPack(16 << 20)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if err := be.Save(ctx, h, backend.NewByteReader(data)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLoad(b *testing.B) {
	ts := s3ServerB(b)
	ctx := context.Background()
	be := ts.newBackendB(b)
	h, data := randomPack(16 << 20)
	if err := be.Save(ctx, h, backend.NewByteReader(data)); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		err := be.Load(ctx, h, 0, 0, func(rd io.Reader) error {
			_, err := io.Copy(io.Discard, rd)
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}
