package mem_test

import (
	"context"
	"testing"

	"github.com/arca-backup/arca/backend"
	"github.com/arca-backup/arca/backend/backendtest"
	"github.com/arca-backup/arca/backend/mem"
)

func TestConformance(t *testing.T) {
	backendtest.Run(t, func(t *testing.T) backend.Backend { return mem.New() })
}

func TestConformanceNoAtomicReplace(t *testing.T) {
	backendtest.Run(t, func(t *testing.T) backend.Backend {
		return mem.NewWithProperties(backend.Properties{Connections: 5})
	})
}

func TestNoReplace(t *testing.T) {
	ctx := context.Background()
	be := mem.NewWithProperties(backend.Properties{Connections: 1})
	h := backend.Handle{Type: backend.LockFile, Name: "abcd"}
	if err := be.Save(ctx, h, backend.NewByteReader([]byte("one"))); err != nil {
		t.Fatal(err)
	}
	if err := be.Save(ctx, h, backend.NewByteReader([]byte("two"))); err == nil {
		t.Fatal("Save over an existing file succeeded without atomic replace")
	}
	buf, err := backend.LoadAll(ctx, be, h)
	if err != nil || string(buf) != "one" {
		t.Fatalf("LoadAll = %q, %v", buf, err)
	}
}

func TestSavedBytesAreCopied(t *testing.T) {
	ctx := context.Background()
	be := mem.New()
	data := []byte("hello")
	h := backend.Handle{Type: backend.SnapshotFile, Name: "abcd"}
	if err := be.Save(ctx, h, backend.NewByteReader(data)); err != nil {
		t.Fatal(err)
	}
	data[0] = 'j'
	buf, err := backend.LoadAll(ctx, be, h)
	if err != nil || string(buf) != "hello" {
		t.Fatalf("LoadAll = %q, %v", buf, err)
	}
}
