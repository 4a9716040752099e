package chunker

import (
	"math/bits"
	"sync"
)

// The 64-lane kernel (kernel64_amd64.s) hashes 64 segments of
// lane64Seg positions at once, byte-sliced: it keeps byte j of all 64
// digests in one vector and applies the tables as 8x8 bit matrices over
// GF(2) (GFNI's affine transform), since both tables are linear in their
// index. It needs the polynomial's top byte in digest bytes 5 and 6
// (degree 48..53; restic's polynomials all have degree 53) and the split
// bits in bytes 0..2.

const (
	// lane64Seg is the number of positions each of the 64 lanes covers.
	// Each lane first hashes 64 bytes to fill its window (6% more work
	// at 1024), and the positions of a block after the cut found in it
	// are hashed for nothing (half a block per chunk on average, 3% of
	// the megabyte a chunk hashes). In BenchmarkRatio 512 was slower
	// (6-11x restic's chunker against 11-13x) and 2048 no faster.
	lane64Seg = 1024
	// lane64Groups is the number of eight-step groups per lane: the
	// window's 64 bytes, then one step per position (the first
	// position is the full window's last step), padded to a multiple of
	// eight (and of 64, transpose64's block).
	lane64Groups = (lane64Seg + windowSize) / 8
	// lane64Buf is the size of the transposed buffer: 64 steps of zero
	// bytes that the first steps drop from the window, then the steps.
	lane64Buf = (windowSize + 8*lane64Groups) * 64
)

// transpose64 works in blocks of 64 steps.
var _ [0]struct{} = [(lane64Seg + windowSize) % 64]struct{}{}

// vecTable holds the 8x8 bit matrices of the 64-lane kernel, in the
// layout the assembly expects. Row i of a matrix (the byte that gives
// output bit i) is its byte 7-i.
type vecTable struct {
	top [2]uint64 // t = d >> (deg-8) from digest byte 5 and from byte 6
	mod [7]uint64 // byte j of mod[t], from t
	out [7]uint64 // byte j of out[b], from b
}

// affineMatrix returns the GF2P8AFFINEQB matrix of the linear map on
// bytes that takes bit c to img[c].
func affineMatrix(img [8]uint8) uint64 {
	var m uint64
	for i := 0; i < 8; i++ {
		var row uint64
		for c := 0; c < 8; c++ {
			row |= uint64(img[c]>>i&1) << c
		}
		m |= row << (8 * (7 - i))
	}
	return m
}

// initVec computes t.vec and reports whether the polynomial's degree
// suits the 64-lane kernel.
func (t *Table) initVec() bool {
	k := int(t.shift) + 8
	if k < 48 || k > 53 {
		return false
	}
	for p, plane := range [2]int{5, 6} {
		var img [8]uint8
		for c := 0; c < 8; c++ {
			if i := 8*plane + c - (k - 8); i >= 0 && i < 8 {
				img[c] = 1 << i
			}
		}
		t.vec.top[p] = affineMatrix(img)
	}
	for j := 0; j < 7; j++ {
		var mimg, oimg [8]uint8
		for c := 0; c < 8; c++ {
			mimg[c] = uint8(t.mod[1<<c] >> (8 * j))
			oimg[c] = uint8(t.out[1<<c] >> (8 * j))
		}
		t.vec.mod[j] = affineMatrix(mimg)
		t.vec.out[j] = affineMatrix(oimg)
	}
	return true
}

// lanes64Space is block64's memory: the transposed steps and the tiles
// transpose64 passes them through.
type lanes64Space struct {
	steps [lane64Buf]byte
	tiles [4096]byte
}

// lanes64Spaces recycles the memory of block64.
var lanes64Spaces = sync.Pool{New: func() any { return new(lanes64Space) }}

// block64 returns the first candidate among the 64·lane64Seg positions
// starting at lo, or -1. It reads one byte beyond the last position's
// window: hi-lo must be at least 64·lane64Seg.
func (t *Table) block64(data []byte, lo int) int {
	const seg = lane64Seg
	mask := t.lim.mask
	base := data[lo-windowSize : lo-windowSize+64*seg+windowSize]
	space := lanes64Spaces.Get().(*lanes64Space)
	defer lanes64Spaces.Put(space)
	// steps[:64*windowSize] is zero from the allocation on: transpose64
	// writes after it and hash64 only reads
	buf := &space.steps
	transpose64(&base[0], seg, lane64Groups/8, &buf[64*windowSize], &space.tiles)

	var planes [7][64]byte
	var first [64]int
	for k := range first {
		first[k] = -1
	}
	for g := 0; g < lane64Groups && first[0] < 0; {
		n, hits := hash64(&t.vec, &buf[g*512], lane64Groups-g, &planes, mask)
		g += n
		// The kernel only says which lanes hit somewhere in the
		// group; find where, with the window's own bytes (steps before
		// the window is full and the padding step are not positions).
		for ; hits != 0; hits &= hits - 1 {
			k := bits.TrailingZeros64(hits)
			if first[k] >= 0 {
				continue
			}
			for s := 8 * (g - 1); s < 8*g; s++ {
				p := s - (windowSize - 1)
				if p < 0 || p >= seg {
					continue
				}
				pos := lo + k*seg + p
				if t.windowHash(data[pos-windowSize:pos])&mask == 0 {
					first[k] = pos
					break
				}
			}
		}
	}
	for _, p := range first {
		if p >= 0 {
			return p
		}
	}
	return -1
}
