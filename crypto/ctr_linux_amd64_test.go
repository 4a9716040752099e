package crypto

import (
	"bytes"
	"syscall"
	"testing"
)

// TestCTRAtPageEnd: the masked loads and stores for the last one to three
// blocks stay inside the buffers: with src and dst ending right before an
// inaccessible page, every length up to 20 blocks runs without a fault and
// gives crypto/cipher's bytes.
func TestCTRAtPageEnd(t *testing.T) {
	needVAES(t)
	page := syscall.Getpagesize()
	mem, err := syscall.Mmap(-1, 0, 4*page, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		t.Fatalf("mmap: %v", err)
	}
	defer syscall.Munmap(mem)
	// Pages: src, guard, dst, guard.
	for _, guard := range []int{1, 3} {
		if err := syscall.Mprotect(mem[guard*page:(guard+1)*page], syscall.PROT_NONE); err != nil {
			t.Fatalf("mprotect: %v", err)
		}
	}
	srcPage, dstPage := mem[:page], mem[2*page:3*page]
	r := testRand(6)
	key := randomKey(r)
	for _, iv := range edgeIVs(t, r) {
		for blocks := 0; blocks <= 20; blocks++ {
			n := blocks * blockSize
			src, dst := srcPage[page-n:], dstPage[page-n:]
			for i := range src {
				src[i] = byte(r.Uint64())
			}
			s, ref := vaesStream(t, key, iv)
			want := make([]byte, n)
			ref.XORKeyStream(want, src)
			s.XORKeyStream(dst, src)
			if !bytes.Equal(dst, want) {
				t.Fatalf("iv %x, %d blocks at the page end: first difference at %d", iv, blocks, firstDiff(dst, want))
			}
		}
	}
}
