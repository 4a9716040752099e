//go:build amd64 && !purego

package crypto

import "golang.org/x/sys/cpu"

// blockMix2AVX2 sets out0 = BlockMix(in0 XOR xor0) and out1 =
// BlockMix(in1 XOR xor1), or leaves out the XORs when xor0 is nil (xor1
// must then be nil too), for two independent lanes whose blocks of 2·r
// sub-blocks are each in diagonal order. Outputs must not overlap inputs.
//
//go:noescape
func blockMix2AVX2(out0, out1, in0, in1, xor0, xor1 *uint32, r int)

// blockMix2AVX512 is blockMix2AVX2 using AVX-512VL's rotate instruction.
//
//go:noescape
func blockMix2AVX512(out0, out1, in0, in1, xor0, xor1 *uint32, r int)

// blockMix2Func is the signature of the kernels.
type blockMix2Func func(out0, out1, in0, in1, xor0, xor1 *uint32, r int)

// minPairedLanes is the smallest p for which roMixLanes pairs lanes.
const minPairedLanes = 3

// blockMix2Kernel is the fastest two-lane kernel this processor runs, nil
// without AVX2.
var blockMix2Kernel = pickBlockMix2()

func pickBlockMix2() blockMix2Func {
	switch {
	case cpu.X86.HasAVX512F && cpu.X86.HasAVX512VL:
		return blockMix2AVX512
	case cpu.X86.HasAVX2:
		return blockMix2AVX2
	}
	return nil
}

// roMixLanes runs scrypt's ROMix on every lane. One lane on its own is
// a chain of dependent steps, which the pure-Go code runs as fast as one
// lane in vector registers (measured), so lanes go two at a time through
// the two-lane kernel, at the price of a second table; a last odd lane,
// and every lane without AVX2, goes through roMixGeneric.
//
// The second table is fresh memory, and faulting in 32 MiB costs 50-100
// ms of CPU on the virtual machine measured (a few ms on bare metal),
// about what one pair of lanes saves (60 ms per lane in Go, 36 in the
// two-lane kernel with AVX-512). So with fewer than minPairedLanes lanes
// the lanes run one after the other with one table.
func roMixLanes(lanes [][]uint32, n, r int) {
	if blockMix2Kernel == nil || len(lanes) < minPairedLanes {
		roMixLanesGeneric(lanes, n, r)
		return
	}
	w := 32 * r
	v0, free0 := scryptTable(w * n)
	defer free0()
	v1, free1 := scryptTable(w * n)
	defer free1()
	y0, y1 := make([]uint32, w), make([]uint32, w)
	for len(lanes) >= 2 {
		roMix2Diagonal(blockMix2Kernel, lanes[0], lanes[1], y0, y1, v0, v1, n, r)
		lanes = lanes[2:]
	}
	if len(lanes) == 1 {
		roMixGeneric(lanes[0], y0, v0, n, r)
	}
}

// diagonalOrder[k] is the word of a 16-word Salsa20 block that the
// assembly keeps at position k: the four diagonals of the 4×4 matrix, so
// that each quarter-round step works on one vector (see scrypt_amd64.s).
var diagonalOrder = [16]int{0, 5, 10, 15, 4, 9, 14, 3, 8, 13, 2, 7, 12, 1, 6, 11}

// toDiagonal reorders every 16-word sub-block of b into diagonal order;
// fromDiagonal undoes it.
func toDiagonal(b []uint32) {
	for s := 0; s < len(b); s += 16 {
		var t [16]uint32
		copy(t[:], b[s:s+16])
		for k, w := range diagonalOrder {
			b[s+k] = t[w]
		}
	}
}

func fromDiagonal(b []uint32) {
	for s := 0; s < len(b); s += 16 {
		var t [16]uint32
		copy(t[:], b[s:s+16])
		for k, w := range diagonalOrder {
			b[s+w] = t[k]
		}
	}
}

// roMix2Diagonal is ROMix on two lanes x0 and x1 (32·r words each)
// with their own scratch blocks y0, y1 and tables v0, v1 (32·r·n words),
// through the two-lane kernel mix. The whole computation stays in
// diagonal order: XOR and addition do not care how words are arranged,
// and the word Integerify reads (word 0 of the last sub-block) stays at
// position 0. Only its low 32 bits are read: n is below 2^31
// (Params.Validate), so the mask has no higher bits.
func roMix2Diagonal(mix blockMix2Func, x0, x1, y0, y1, v0, v1 []uint32, n, r int) {
	w := 32 * r
	x0, x1, y0, y1 = x0[:w], x1[:w], y0[:w], y1[:w]
	v0, v1 = v0[:n*w], v1[:n*w]
	toDiagonal(x0)
	toDiagonal(x1)
	copy(v0[:w], x0)
	copy(v1[:w], x1)
	for i := 0; i < n-1; i++ {
		mix(&v0[(i+1)*w], &v1[(i+1)*w], &v0[i*w], &v1[i*w], nil, nil, r)
	}
	mix(&x0[0], &x1[0], &v0[(n-1)*w], &v1[(n-1)*w], nil, nil, r)
	last := (2*r - 1) * 16
	mask := uint32(n - 1)
	for range n / 2 {
		j0, j1 := int(x0[last]&mask), int(x1[last]&mask)
		mix(&y0[0], &y1[0], &x0[0], &x1[0], &v0[j0*w], &v1[j1*w], r)
		j0, j1 = int(y0[last]&mask), int(y1[last]&mask)
		mix(&x0[0], &x1[0], &y0[0], &y1[0], &v0[j0*w], &v1[j1*w], r)
	}
	fromDiagonal(x0)
	fromDiagonal(x1)
}
