package crypto

import (
	"crypto/pbkdf2"
	"crypto/sha256"
	"encoding/binary"
	"math/bits"
)

// scryptKey is scrypt (RFC 7914) as golang.org/x/crypto/scrypt computes
// it, arranged for the one derivation a command does at start-up: the
// large table V comes from scryptTable (on Linux one mapping asked to use
// huge pages, so filling it does not fault on every 4 KiB page), the
// first loop of ROMix mixes each block straight into its slot of V
// instead of mixing into a scratch block and copying it there, and on
// amd64 BlockMix runs in vector registers on blocks whose words were put
// into the order that suits them (toMixOrder) before ROMix and back after.
// Parameters must have been validated.
func scryptKey(password string, salt []byte, p Params, keyLen int) ([]byte, error) {
	blockWords := 32 * p.R // one block of 128·r bytes as uint32s
	b, err := pbkdf2.Key(sha256.New, password, salt, 1, p.P*4*blockWords)
	if err != nil {
		return nil, err
	}
	lanes := make([][]uint32, p.P)
	for lane := range lanes {
		chunk := b[lane*4*blockWords : (lane+1)*4*blockWords]
		x := make([]uint32, blockWords)
		for i := range x {
			x[i] = binary.LittleEndian.Uint32(chunk[4*i:])
		}
		toMixOrder(x)
		lanes[lane] = x
	}
	roMixLanes(lanes, p.N, p.R)
	for lane, x := range lanes {
		chunk := b[lane*4*blockWords : (lane+1)*4*blockWords]
		fromMixOrder(x)
		for i, w := range x {
			binary.LittleEndian.PutUint32(chunk[4*i:], w)
		}
		clear(x)
	}
	out, err := pbkdf2.Key(sha256.New, password, b, 1, keyLen)
	clear(b)
	return out, err
}

// roMixLanes runs ROMix on every lane, one after the other, with one
// table. (Mixing two lanes at once in vector registers was measured: it
// saves about 30% of the CPU time, but needs a second 32 MiB table, which
// raised the peak memory of short commands above restic's.)
func roMixLanes(lanes [][]uint32, n, r int) {
	v, free := scryptTable(32 * r * n)
	defer free()
	y := make([]uint32, 32*r)
	for _, x := range lanes {
		roMix(x, y, v, n, r)
	}
}

// roMix is scrypt's ROMix on x (32·r words) with the table v
// (32·r·n words); y is scratch of the same size as x. The result is left
// in x.
func roMix(x, y, v []uint32, n, r int) {
	w := 32 * r
	copy(v[:w], x)
	for i := 0; i < n-1; i++ {
		blockMix(v[(i+1)*w:(i+2)*w], v[i*w:(i+1)*w], r)
	}
	blockMix(x, v[(n-1)*w:n*w], r)
	mask := uint64(n - 1)
	for range n / 2 {
		j := int(integerify(x, r) & mask)
		blockMixXor(y, x, v[j*w:(j+1)*w], r)
		j = int(integerify(y, r) & mask)
		blockMixXor(x, y, v[j*w:(j+1)*w], r)
	}
	if n%2 == 1 { // n is a power of two above 1, so this does not happen
		panic("scrypt: odd N")
	}
}

// integerify returns the first two words of the last 64-byte block (in
// the block order blockMix works in: mixWord1 is where word 1 is).
func integerify(b []uint32, r int) uint64 {
	j := (2*r - 1) * 16
	return uint64(b[j]) | uint64(b[j+mixWord1])<<32
}

// blockMixGeneric is scrypt's BlockMix with Salsa20/8 in Go, on blocks in
// their natural word order: out = BlockMix(in). Even sub-blocks of the
// result go to the first half of out, odd ones to the second. out and in
// must not overlap.
func blockMixGeneric(out, in []uint32, r int) {
	var t [16]uint32
	copy(t[:], in[(2*r-1)*16:])
	for i := 0; i < 2*r; i += 2 {
		salsaXOR(&t, in[i*16:i*16+16])
		copy(out[i*8:i*8+16], t[:])
		salsaXOR(&t, in[i*16+16:i*16+32])
		copy(out[r*16+i*8:r*16+i*8+16], t[:])
	}
}

// salsaXOR sets t = Salsa20/8(t XOR in).
func salsaXOR(t *[16]uint32, in []uint32) {
	in = in[:16]
	w0, w1, w2, w3 := t[0]^in[0], t[1]^in[1], t[2]^in[2], t[3]^in[3]
	w4, w5, w6, w7 := t[4]^in[4], t[5]^in[5], t[6]^in[6], t[7]^in[7]
	w8, w9, w10, w11 := t[8]^in[8], t[9]^in[9], t[10]^in[10], t[11]^in[11]
	w12, w13, w14, w15 := t[12]^in[12], t[13]^in[13], t[14]^in[14], t[15]^in[15]
	x0, x1, x2, x3, x4, x5, x6, x7 := w0, w1, w2, w3, w4, w5, w6, w7
	x8, x9, x10, x11, x12, x13, x14, x15 := w8, w9, w10, w11, w12, w13, w14, w15
	for range 4 { // 8 rounds, two per pass: columns, then rows
		x4 ^= bits.RotateLeft32(x0+x12, 7)
		x8 ^= bits.RotateLeft32(x4+x0, 9)
		x12 ^= bits.RotateLeft32(x8+x4, 13)
		x0 ^= bits.RotateLeft32(x12+x8, 18)
		x9 ^= bits.RotateLeft32(x5+x1, 7)
		x13 ^= bits.RotateLeft32(x9+x5, 9)
		x1 ^= bits.RotateLeft32(x13+x9, 13)
		x5 ^= bits.RotateLeft32(x1+x13, 18)
		x14 ^= bits.RotateLeft32(x10+x6, 7)
		x2 ^= bits.RotateLeft32(x14+x10, 9)
		x6 ^= bits.RotateLeft32(x2+x14, 13)
		x10 ^= bits.RotateLeft32(x6+x2, 18)
		x3 ^= bits.RotateLeft32(x15+x11, 7)
		x7 ^= bits.RotateLeft32(x3+x15, 9)
		x11 ^= bits.RotateLeft32(x7+x3, 13)
		x15 ^= bits.RotateLeft32(x11+x7, 18)

		x1 ^= bits.RotateLeft32(x0+x3, 7)
		x2 ^= bits.RotateLeft32(x1+x0, 9)
		x3 ^= bits.RotateLeft32(x2+x1, 13)
		x0 ^= bits.RotateLeft32(x3+x2, 18)
		x6 ^= bits.RotateLeft32(x5+x4, 7)
		x7 ^= bits.RotateLeft32(x6+x5, 9)
		x4 ^= bits.RotateLeft32(x7+x6, 13)
		x5 ^= bits.RotateLeft32(x4+x7, 18)
		x11 ^= bits.RotateLeft32(x10+x9, 7)
		x8 ^= bits.RotateLeft32(x11+x10, 9)
		x9 ^= bits.RotateLeft32(x8+x11, 13)
		x10 ^= bits.RotateLeft32(x9+x8, 18)
		x12 ^= bits.RotateLeft32(x15+x14, 7)
		x13 ^= bits.RotateLeft32(x12+x15, 9)
		x14 ^= bits.RotateLeft32(x13+x12, 13)
		x15 ^= bits.RotateLeft32(x14+x13, 18)
	}
	t[0], t[1], t[2], t[3] = x0+w0, x1+w1, x2+w2, x3+w3
	t[4], t[5], t[6], t[7] = x4+w4, x5+w5, x6+w6, x7+w7
	t[8], t[9], t[10], t[11] = x8+w8, x9+w9, x10+w10, x11+w11
	t[12], t[13], t[14], t[15] = x12+w12, x13+w13, x14+w14, x15+w15
}
