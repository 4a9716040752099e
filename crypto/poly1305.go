package crypto

import (
	"encoding/binary"
	"math/bits"
)

// Poly1305 arithmetic in radix 2^26, for the parts of a vectorised MAC
// that are not worth vectorising: the powers of r, the combination of the
// vector lanes and the last few blocks. An element is five 26-bit limbs,
// h = h[0] + h[1]·2^26 + h[2]·2^52 + h[3]·2^78 + h[4]·2^104, kept only
// partially reduced mod p = 2^130-5: limbs may exceed 26 bits a little.
// Since 2^130 ≡ 5 (mod p), what a product carries out of the top limb
// comes back into the bottom limb times 5.
//
// This is slower than golang.org/x/crypto/poly1305's radix-2^64 loop, but
// it multiplies any two elements (not only by a clamped r), which the
// powers r^k need, and it is the form the vector code uses.

const limbMask = 1<<26 - 1

// polyElem is an element mod 2^130-5 in five 26-bit limbs. polyMul needs
// every limb below 2^29 and returns limbs below 2^27.
type polyElem [5]uint64

// polyBlock reads a 16-byte block as an element and adds hibit·2^128:
// 1 for a full block, 0 for the padded last one.
func polyBlock(b []byte, hibit uint64) polyElem {
	lo := binary.LittleEndian.Uint64(b[0:8])
	hi := binary.LittleEndian.Uint64(b[8:16])
	return polyElem{
		lo & limbMask,
		(lo >> 26) & limbMask,
		(lo>>52 | hi<<12) & limbMask,
		(hi >> 14) & limbMask,
		hi>>40 | hibit<<24,
	}
}

// polyR is r from a Poly1305 key's first half, clamped as Poly1305
// prescribes (the caller's r need not be clamped).
func polyR(key []byte) polyElem {
	var r [16]byte
	copy(r[:], key[:16])
	clampR(&r)
	return polyBlock(r[:], 0)
}

func polyAdd(a, b polyElem) polyElem {
	for i := range a {
		a[i] += b[i]
	}
	return a
}

// polyMul returns a·b mod p, with limbs below 2^27. Both inputs need limbs
// below 2^29 so that no column sum overflows 64 bits (5 products of at
// most 2^29·5·2^29 each).
func polyMul(a, b polyElem) polyElem {
	a0, a1, a2, a3, a4 := a[0], a[1], a[2], a[3], a[4]
	b0, b1, b2, b3, b4 := b[0], b[1], b[2], b[3], b[4]
	s1, s2, s3, s4 := 5*b1, 5*b2, 5*b3, 5*b4
	return polyCarry(polyElem{
		a0*b0 + a1*s4 + a2*s3 + a3*s2 + a4*s1,
		a0*b1 + a1*b0 + a2*s4 + a3*s3 + a4*s2,
		a0*b2 + a1*b1 + a2*b0 + a3*s4 + a4*s3,
		a0*b3 + a1*b2 + a2*b1 + a3*b0 + a4*s4,
		a0*b4 + a1*b3 + a2*b2 + a3*b1 + a4*b0,
	})
}

// polyCarry moves each limb's bits above 26 into the next limb, the top
// limb's into the bottom one times 5, and once more from limb 0 to 1.
// Every limb ends below 2^26 except limb 1, below 2^26 + 2^14 for any
// input below 2^63.
func polyCarry(d polyElem) polyElem {
	d0, d1, d2, d3, d4 := d[0], d[1], d[2], d[3], d[4]
	d1 += d0 >> 26
	d2 += d1 >> 26
	d3 += d2 >> 26
	d4 += d3 >> 26
	d0 = d0&limbMask + d4>>26*5
	d1 = d1&limbMask + d0>>26
	return polyElem{d0 & limbMask, d1, d2 & limbMask, d3 & limbMask, d4 & limbMask}
}

// polyBlocks runs Poly1305's step h = (h + m)·r over msg, the last block
// padded with a 1 byte and zeros when it is short.
func polyBlocks(h, r polyElem, msg []byte) polyElem {
	for len(msg) >= 16 {
		h = polyMul(polyAdd(h, polyBlock(msg, 1)), r)
		msg = msg[16:]
	}
	if len(msg) > 0 {
		var last [16]byte
		copy(last[:], msg)
		last[len(msg)] = 1
		h = polyMul(polyAdd(h, polyBlock(last[:], 0)), r)
	}
	return h
}

// polyWords is h (limbs below 2^32) as a 130-bit-and-a-little number in
// three 64-bit words, not reduced.
func polyWords(h polyElem) (w0, w1, w2 uint64) {
	var c uint64
	w0, w1 = bits.Add64(h[0], h[1]<<26, 0)
	w0, c = bits.Add64(w0, h[2]<<52, 0)
	w1, c = bits.Add64(w1, h[2]>>12+h[3]<<14, c)
	w2 += c
	w1, c = bits.Add64(w1, h[4]<<40, 0)
	w2 += h[4]>>24 + c
	return w0, w1, w2
}

// polyTag writes the Poly1305 tag (h mod p) + s mod 2^128, s being the
// key's second half. h is any element (limbs below 2^32).
func polyTag(tag *[16]byte, h polyElem, s []byte) {
	w0, w1, w2 := polyWords(h)
	var c uint64

	// Fold the bits above 2^130 back in (2^130 = 5 mod p). h was below
	// 2^139, so it is now below 2^130 + 2^12 < 2p, and h mod p is h or
	// h - p = h + 5 - 2^130, the latter exactly when h + 5 reaches 2^130
	// (then h + 5 < 2^131: the test is bit 130). Select without branching.
	top := w2 >> 2
	w2 &= 3
	w0, c = bits.Add64(w0, top*5, 0)
	w1, c = bits.Add64(w1, 0, c)
	w2 += c
	g0, c := bits.Add64(w0, 5, 0)
	g1, c := bits.Add64(w1, 0, c)
	g2 := w2 + c
	useG := -(g2 >> 2) // all ones when h >= p
	w0 = w0&^useG | g0&useG
	w1 = w1&^useG | g1&useG

	s0 := binary.LittleEndian.Uint64(s[0:8])
	s1 := binary.LittleEndian.Uint64(s[8:16])
	w0, c = bits.Add64(w0, s0, 0)
	w1, _ = bits.Add64(w1, s1, c)
	binary.LittleEndian.PutUint64(tag[0:8], w0)
	binary.LittleEndian.PutUint64(tag[8:16], w1)
}

// polySumScalar is Poly1305 in radix 2^26 without vectors: the code the
// vector path finishes a message with, on its own, for the tests.
func polySumScalar(tag *[16]byte, msg []byte, key *[32]byte) {
	h := polyBlocks(polyElem{}, polyR(key[:]), msg)
	polyTag(tag, h, key[16:])
}
