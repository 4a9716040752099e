package bufpool

import "testing"

// A buffer larger than Max is not kept; one given back comes back empty
// with its capacity (where sync.Pool keeps it: under the race detector it
// drops some on purpose).
func TestPool(t *testing.T) {
	p := &Pool{Max: 64}
	big := new([]byte)
	*big = make([]byte, 65)
	p.Put(big)
	for range 10 {
		if p.Get() == big {
			t.Fatal("a buffer larger than Max was kept")
		}
	}

	bp := p.Get()
	if len(*bp) != 0 {
		t.Fatalf("a buffer from Get has length %d", len(*bp))
	}
	*bp = append(*bp, make([]byte, 40)...)
	c := cap(*bp)
	p.Put(bp)
	got := p.Get()
	if got != bp {
		t.Skip("sync.Pool dropped the buffer")
	}
	if len(*got) != 0 || cap(*got) != c {
		t.Fatalf("reused buffer has length %d and capacity %d, want 0 and %d", len(*got), cap(*got), c)
	}
}
