package blobroom

import (
	"context"
	"testing"
	"time"

	"github.com/arca-backup/arca/repo"
	"github.com/arca-backup/arca/repo/model"
)

// TestGate: a long blob (as stored or decoded) is held by one reader at a
// time, a short one by any; a reader waiting for the gate gives up when
// its context ends.
func TestGate(t *testing.T) {
	gate := NewGate()
	a, b := New(gate), New(gate)
	defer a.Free()
	defer b.Free()
	ctx := context.Background()
	long := model.Blob{Length: 100, UncompressedLength: repo.LongBlob + 1}
	short := model.Blob{Length: repo.LongBlob}

	leave, err := a.Enter(ctx, long)
	if err != nil {
		t.Fatal(err)
	}
	leaveShort, err := b.Enter(ctx, short)
	if err != nil {
		t.Fatal(err)
	}
	leaveShort()

	timeout, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := b.Enter(timeout, long); err == nil {
		t.Fatal("a second reader entered while the first held a long blob")
	}
	leave()
	leave, err = b.Enter(ctx, model.Blob{Length: repo.LongBlob + 1})
	if err != nil {
		t.Fatal(err)
	}
	leave()
}

// TestRooms: blobs up to a data blob's largest size use the rooms, a
// compressed one the stored room, an uncompressed one the decoding room;
// larger ones a heap buffer that is not kept; a decoding buffer that
// outgrew its room is kept until the next long blob is left.
func TestRooms(t *testing.T) {
	r := New(NewGate())
	defer r.Free()
	compressed := func(n int) model.Blob {
		return model.Blob{Length: uint(n), UncompressedLength: uint(n) + 1}
	}
	if s := r.Stored(compressed(repo.MaxStoredChunk)); &s[0] != &r.room[0].Bytes[0] {
		t.Fatal("a compressed blob of the largest data size is not read into the stored room")
	}
	if s := r.Stored(model.Blob{Length: repo.MaxStoredChunk}); &s[0] != &r.room[1].Bytes[0] || len(s) != repo.MaxStoredChunk {
		t.Fatal("an uncompressed blob of the largest data size is not read into the decoding room")
	}
	huge := r.Stored(compressed(repo.MaxStoredChunk + 1))
	if len(huge) != repo.MaxStoredChunk+1 || cap(r.Stored(compressed(1))) != repo.MaxStoredChunk {
		t.Fatal("a huge blob's buffer replaced the stored room")
	}
	if huge := r.Stored(model.Blob{Length: repo.MaxStoredChunk + 1}); &huge[0] == &r.room[1].Bytes[0] {
		t.Fatal("a huge uncompressed blob is read into the decoding room")
	}
	grown := make([]byte, 10, repo.MaxStoredChunk+5)
	r.KeepPlain(grown)
	if cap(r.Plain()) != repo.MaxStoredChunk+5 || len(r.Plain()) != 0 {
		t.Fatalf("decoding buffer of cap %d, want the grown one", cap(r.Plain()))
	}
	r.KeepPlain(make([]byte, 1))
	if cap(r.Plain()) != repo.MaxStoredChunk+5 {
		t.Fatal("a smaller buffer replaced the decoding buffer")
	}
	leave, err := r.Enter(context.Background(), model.Blob{Length: repo.LongBlob + 1})
	if err != nil {
		t.Fatal(err)
	}
	leave()
	if cap(r.Plain()) != repo.MaxStoredChunk {
		t.Fatalf("after a long blob the decoding buffer has cap %d, want the room's", cap(r.Plain()))
	}
}
