package crypto

import (
	"golang.org/x/crypto/poly1305"
	"golang.org/x/sys/cpu"
)

// On amd64 long messages are MACed several blocks at a time (Goll and
// Gueron, "Vectorization of Poly1305 message authentication code"): with
// L lanes (4 in AVX2 registers, 8 in AVX-512 ones) lane j keeps its own
// accumulator for the blocks j, j+L, j+2L, ... of the message and steps
// h = h·r^L + m, in radix 2^26 so that VPMULUDQ's 32x32->64-bit products
// and their sums fit a 64-bit lane. A lane's sum then lacks the factor
// r^(L-j) of its blocks' true powers; multiplying it in and adding the
// lanes gives Poly1305's h after all full chunks of L blocks, and the
// remaining bytes continue one block at a time.
//
// Where the CPU has AVX-512 IFMA, the 8 lanes work in radix 2^44 instead
// (three limbs: 9 products of 52-bit inputs a step, each taken as a low
// and a high multiply-add, rather than 25 32-bit products and their
// additions): the same lanes and powers of r, converted to and from
// radix 2^26 in Go around the assembly.

const (
	polyMaxLanes = 8

	// polyVectorMin is the message length from which the vector code
	// pays for its set-up (powers of r, combining the lanes); shorter
	// messages go to golang.org/x/crypto/poly1305.
	polyVectorMin = 3072
)

// polyLaneState is the vector accumulators: limb i of lane j is [i][j].
type polyLaneState [5][polyMaxLanes]uint64

// polyTable is a multiplier for every lane: limbs 0..4 of r, then 5
// times limbs 1..4, row i holding limb i for all lanes.
type polyTable [9][polyMaxLanes]uint64

// polyBlocksAVX2 and polyBlocksAVX512 run h = h·rk + m over chunks
// chunks of 16·lanes bytes at msg, then multiply every lane by its own
// rlast. chunks must be at least 1.
//
//go:noescape
func polyBlocksAVX2(h *polyLaneState, msg *byte, chunks int, rk, rlast *polyTable)

//go:noescape
func polyBlocksAVX512(h *polyLaneState, msg *byte, chunks int, rk, rlast *polyTable)

// polyBlocksIFMA is polyBlocksAVX512 with AVX-512 IFMA's 52-bit
// multiply-adds, in radix 2^44: the lane state's rows 0..2 are the limbs
// of h and the tables' rows 0..4 hold r0, r1, r2, 20·r1 and 20·r2 (see
// setLane44 and poly1305_amd64.s).
//
//go:noescape
func polyBlocksIFMA(h *polyLaneState, msg *byte, chunks int, rk, rlast *polyTable)

// polyVector describes one vector implementation.
type polyVector struct {
	lanes int
	// laneBlock is the block of a chunk that each lane takes, in the
	// order the assembly unpacks a chunk's quadwords.
	laneBlock []int
	// radix44 marks the IFMA code's radix-2^44 lanes and tables.
	radix44 bool
}

var (
	polyAVX2   = &polyVector{4, []int{0, 2, 1, 3}, false}
	polyAVX512 = &polyVector{8, []int{0, 4, 1, 5, 2, 6, 3, 7}, false}
	polyIFMA   = &polyVector{8, []int{0, 4, 1, 5, 2, 6, 3, 7}, true}
)

// blocks calls v's assembly directly (a call through a function value
// would move the tables and the message to the heap).
func (v *polyVector) blocks(h *polyLaneState, msg *byte, chunks int, rk, rlast *polyTable) {
	switch {
	case v.radix44:
		polyBlocksIFMA(h, msg, chunks, rk, rlast)
	case v.lanes == 8:
		polyBlocksAVX512(h, msg, chunks, rk, rlast)
	default:
		polyBlocksAVX2(h, msg, chunks, rk, rlast)
	}
}

// polyBest is the fastest vector implementation the CPU runs, or nil.
func polyBest() *polyVector {
	switch {
	case cpu.X86.HasAVX512F && cpu.X86.HasAVX512IFMA:
		return polyIFMA
	case cpu.X86.HasAVX512F:
		return polyAVX512
	case cpu.X86.HasAVX2:
		return polyAVX2
	}
	return nil
}

// poly1305Sum is golang.org/x/crypto/poly1305.Sum, vectorised for long
// messages where the CPU has AVX2 or AVX-512.
func poly1305Sum(tag *[16]byte, msg []byte, key *[32]byte) {
	polySum(tag, msg, key, polyBest())
}

// polySum is poly1305Sum with the vector implementation given (nil for
// none), so that tests can take every path.
func polySum(tag *[16]byte, msg []byte, key *[32]byte, v *polyVector) {
	if v == nil || len(msg) < polyVectorMin {
		poly1305.Sum(tag, msg, key)
		return
	}
	polySumVector(tag, msg, key, v)
}

// polySumVector is Poly1305 with the vector implementation v for the
// message's full chunks and radix-2^26 scalar code for the rest.
func polySumVector(tag *[16]byte, msg []byte, key *[32]byte, v *polyVector) {
	chunkSize := 16 * v.lanes
	if len(msg) < chunkSize {
		polySumScalar(tag, msg, key)
		return
	}
	r := polyR(key[:])
	var pow [polyMaxLanes + 1]polyElem // pow[k] = r^k
	pow[1] = r
	for k := 2; k <= v.lanes; k++ {
		pow[k] = polyMul(pow[k-1], r)
	}
	var rk, rlast polyTable
	for j, blk := range v.laneBlock {
		if v.radix44 {
			setLane44(&rk, j, pow[v.lanes])
			setLane44(&rlast, j, pow[v.lanes-blk])
		} else {
			setLane(&rk, j, pow[v.lanes])
			setLane(&rlast, j, pow[v.lanes-blk])
		}
	}

	chunks := len(msg) / chunkSize
	var lanes polyLaneState
	v.blocks(&lanes, &msg[0], chunks, &rk, &rlast)

	var h polyElem
	for i := range h {
		for j := range v.lanes {
			h[i] += lanes[i][j]
		}
	}
	if v.radix44 {
		h = polyFrom44(h[0], h[1], h[2])
	}
	h = polyBlocks(polyCarry(h), r, msg[chunks*chunkSize:])
	polyTag(tag, h, key[16:])

	// r is a long-term key in restic's Poly1305-AES; leave no powers of
	// it behind on the stack (as poly1305AES clears its one-time key).
	clear(pow[:])
	clear(rk[:])
	clear(rlast[:])
}

// setLane puts the multiplier a into lane j of t.
func setLane(t *polyTable, j int, a polyElem) {
	for i := range 5 {
		t[i][j] = a[i]
	}
	for i := 1; i < 5; i++ {
		t[4+i][j] = 5 * a[i]
	}
}

// setLane44 puts the multiplier a into lane j of t in radix 2^44, as
// polyBlocksIFMA wants it: limbs 0..2, then 20 times limbs 1 and 2.
func setLane44(t *polyTable, j int, a polyElem) {
	w0, w1, w2 := polyWords(a)
	a0 := w0 & (1<<44 - 1)
	a1 := (w0>>44 | w1<<20) & (1<<44 - 1)
	a2 := w1>>24 | w2<<40
	t[0][j], t[1][j], t[2][j] = a0, a1, a2
	t[3][j], t[4][j] = 20*a1, 20*a2
}

// polyFrom44 turns h0 + h1·2^44 + h2·2^88 (limbs below 2^60) into an
// element in radix 2^26 with limbs below 2^27.
func polyFrom44(h0, h1, h2 uint64) polyElem {
	// Carry down to 44, 44 and 42 bits, the bits above 2^130 coming back
	// times 5, then cut the 130 bits into 26-bit pieces (added, not ORed:
	// h0 may exceed 44 bits again by a little).
	h1 += h0 >> 44
	h0 &= 1<<44 - 1
	h2 += h1 >> 44
	h1 &= 1<<44 - 1
	h0 += h2 >> 42 * 5
	h2 &= 1<<42 - 1
	return polyCarry(polyElem{
		h0 & limbMask,
		h0>>26 + h1<<18&limbMask,
		h1 >> 8 & limbMask,
		h1>>34 + h2<<10&limbMask,
		h2 >> 16,
	})
}
