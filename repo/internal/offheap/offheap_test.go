package offheap

import "testing"

// TestAllocFree: a buffer has the asked size, starts zeroed, keeps what is
// written to it, and may be freed twice.
func TestAllocFree(t *testing.T) {
	b := Alloc(3<<20 + 5)
	if len(b.Bytes) != 3<<20+5 || cap(b.Bytes) != len(b.Bytes) {
		t.Fatalf("len %d cap %d", len(b.Bytes), cap(b.Bytes))
	}
	for i, c := range b.Bytes {
		if c != 0 {
			t.Fatalf("byte %d is %d, want 0", i, c)
		}
	}
	b.Bytes[0], b.Bytes[len(b.Bytes)-1] = 1, 2
	if b.Bytes[0] != 1 || b.Bytes[len(b.Bytes)-1] != 2 {
		t.Fatal("written bytes lost")
	}
	b.Discard(1 << 20)
	if b.Bytes[0] != 1 || len(b.Bytes) != 3<<20+5 {
		t.Fatal("Discard changed the bytes before its start, or the size")
	}
	b.Bytes[2<<20] = 3 // discarded memory is still usable
	b.Free()
	if b.Bytes != nil {
		t.Fatal("Bytes kept after Free")
	}
	b.Free()
	if z := Alloc(0); len(z.Bytes) != 0 {
		t.Fatalf("empty buffer has %d bytes", len(z.Bytes))
	}
}

// TestResident: a new buffer holds no memory, touched pages count, and
// Discard gives them back.
func TestResident(t *testing.T) {
	b := Alloc(4 << 20)
	defer b.Free()
	if _, ok := b.Resident(); !ok {
		t.Skip("this platform cannot tell resident pages")
	}
	if n, _ := b.Resident(); n != 0 {
		t.Fatalf("new buffer has %d resident bytes", n)
	}
	for i := 0; i < 3<<20; i += 1024 {
		b.Bytes[i] = 1
	}
	if n, _ := b.Resident(); n != 3<<20 {
		t.Fatalf("%d resident bytes after touching 3 MiB", n)
	}
	b.Discard(1 << 20)
	if n, _ := b.Resident(); n != 1<<20 {
		t.Fatalf("%d resident bytes after discarding all but 1 MiB", n)
	}
}
