// Package offheap provides large, long-lived byte buffers outside the Go
// heap.
//
// The backup pipeline keeps a few buffers of several MiB for its whole run
// (read slabs, seal buffers). On the Go heap they count towards the live
// heap, and the garbage collector lets the heap grow to twice the live
// heap before it collects: with 30 MiB of buffers, up to 30 MiB of small
// garbage (nodes, trees, cipher state) piled up before each collection and
// showed in the peak memory. Outside the heap the buffers cost exactly the
// pages they touch, and the heap's growth is measured against the small
// objects alone.
//
// A buffer must be released exactly once, and only when nothing reads or
// writes it any more: after Free its memory is gone (on Linux, touching it
// faults).
package offheap

// Buffer is a zeroed byte buffer outside the Go heap.
type Buffer struct {
	// Bytes is the buffer's memory, len and cap its size.
	Bytes  []byte
	free   func()
	mapped bool
}

// Alloc returns a zeroed buffer of n bytes. Where the platform has no
// anonymous mappings it is an ordinary Go slice.
func Alloc(n int) *Buffer {
	b, free, mapped := alloc(n)
	return &Buffer{Bytes: b, free: free, mapped: mapped}
}

// Discard gives the memory of the buffer from byte from on back to the
// system (whole pages only); the buffer keeps its size, and the discarded
// bytes read as zero or as their old values. For a buffer that is mostly
// used in its first part and only now and then in full.
func (b *Buffer) Discard(from int) {
	if b.mapped && from < len(b.Bytes) {
		discard(b.Bytes[from:])
	}
}

// Resident returns how many bytes of the buffer are in memory (whole
// pages), and false where the platform cannot tell.
func (b *Buffer) Resident() (int, bool) {
	if !b.mapped {
		return 0, false
	}
	return resident(b.Bytes)
}

// Free releases the buffer's memory; Bytes is nil afterwards. Calling Free
// again does nothing.
func (b *Buffer) Free() {
	if b.free == nil {
		return
	}
	b.free()
	b.free = nil
	b.Bytes = nil
}
