// Package blobroom keeps a pack reader's room for one blob as stored and
// one as decoded, reused from blob to blob.
//
// The rooms are mapped outside the Go heap (package offheap): a reader
// holds them for a whole command, and on the heap they would let the
// collector wait for twice as much garbage before collecting. A blob
// longer than repo.LongBlob is handled by one reader at a time (a Gate
// shared by the readers), which afterwards gives its rooms' pages beyond
// that length back: otherwise each room stays as full as the longest blob
// its reader has met. The checker and the restorer read packs this way.
package blobroom

import (
	"context"

	"github.com/arca-backup/arca/repo"
	"github.com/arca-backup/arca/repo/internal/offheap"
	"github.com/arca-backup/arca/repo/model"
)

// Gate lets one reader at a time hold a long blob.
type Gate chan struct{}

// NewGate returns a gate for the readers of one command.
func NewGate() Gate { return make(Gate, 1) }

// Rooms are one reader's blob buffers. Free them when done.
type Rooms struct {
	room   [2]*offheap.Buffer // for stored and plain
	stored []byte
	plain  []byte
	gate   Gate
}

// New allocates the rooms of a reader that takes turns with long blobs
// through gate.
func New(gate Gate) *Rooms {
	r := &Rooms{gate: gate}
	for i := range r.room {
		r.room[i] = offheap.Alloc(repo.MaxStoredChunk)
	}
	r.stored, r.plain = r.room[0].Bytes[:0], r.room[1].Bytes[:0]
	return r
}

// Stored returns the buffer to read blob b into as stored: the stored
// room for a compressed blob, the decoding room for an uncompressed one,
// which is decrypted in place there. So the stored room only ever holds
// compressed blobs, which are shorter: with every blob read into it, the
// four rooms of check --read-data's two readers took 16 MiB on /usr,
// and 24 MiB while one of them had a long blob. A blob longer than any
// data blob (a huge tree) gets a heap buffer of its own.
func (r *Rooms) Stored(b model.Blob) []byte {
	room := r.stored
	if !b.IsCompressed() {
		room = r.room[1].Bytes[:0]
	}
	n := int(b.Length)
	if cap(room) < n {
		return make([]byte, n)
	}
	return room[:n]
}

// Plain returns the buffer to decode a compressed blob into (the
// plaintext of an uncompressed one lies where Stored put it).
func (r *Rooms) Plain() []byte { return r.plain }

// KeepPlain keeps out, a compressed blob decoded into Plain, when
// decoding had to grow it. (An uncompressed blob's plaintext lies in the
// stored room and must not be kept.)
func (r *Rooms) KeepPlain(out []byte) {
	if cap(out) > cap(r.plain) {
		r.plain = out[:0]
	}
}

// Enter waits for the gate when b is longer than repo.LongBlob as stored
// or decoded. Call leave once b is handled.
func (r *Rooms) Enter(ctx context.Context, b model.Blob) (leave func(), err error) {
	if max(b.Length, b.UncompressedLength) <= repo.LongBlob {
		return func() {}, nil
	}
	select {
	case r.gate <- struct{}{}:
	case <-ctx.Done():
		return nil, context.Cause(ctx)
	}
	return r.shrink, nil
}

// shrink gives the rooms' pages beyond repo.LongBlob back, drops a
// decoding buffer that outgrew its room and opens the gate.
func (r *Rooms) shrink() {
	for _, b := range r.room {
		b.Discard(repo.LongBlob)
	}
	if cap(r.plain) > len(r.room[1].Bytes) {
		r.plain = r.room[1].Bytes[:0]
	}
	<-r.gate
}

// Free releases the rooms; they must not be used afterwards.
func (r *Rooms) Free() {
	r.stored, r.plain = nil, nil
	for _, b := range r.room {
		b.Free()
	}
}
