package crypto

import (
	"crypto/aes"
	"crypto/subtle"
	"encoding/binary"
	"math/bits"
)

// AES-256 in counter mode, as crypto/cipher's CTR computes it: the IV is
// the first counter block, a 128-bit big-endian integer that grows by one
// per block and wraps around to zero after all ones. On amd64 CPUs with
// VAES (ctr_amd64.s) this encrypts four blocks per instruction and sixteen
// per loop, several times as fast as crypto/aes's eight-block AES-NI loop;
// elsewhere Cipher falls back to crypto/cipher.

const blockSize = aes.BlockSize

// roundKeys are the 15 round keys of AES-256.
type roundKeys [15][blockSize]byte

// ctrStream is a cipher.Stream over the VAES counter mode. It keeps the
// unused end of the last block's keystream, so that calls with lengths
// that are not whole blocks continue the keystream where the last one
// stopped.
type ctrStream struct {
	keys *roundKeys
	ctr  [2]uint64       // low and high word of the next block's counter
	ks   [blockSize]byte // keystream of the block before ctr
	used int             // bytes of ks already used; blockSize when none are left
}

// newCTRStream starts the keystream at the counter block iv.
func newCTRStream(keys *roundKeys, iv []byte) ctrStream {
	if len(iv) != blockSize {
		panic("crypto: CTR IV is not one block")
	}
	return ctrStream{
		keys: keys,
		ctr:  [2]uint64{binary.BigEndian.Uint64(iv[8:]), binary.BigEndian.Uint64(iv[:8])},
		used: blockSize,
	}
}

// XORKeyStream XORs the next len(src) bytes of keystream into dst from
// src. dst and src must be the same memory or not overlap at all.
func (s *ctrStream) XORKeyStream(dst, src []byte) {
	if len(dst) < len(src) {
		panic("crypto: CTR output smaller than input")
	}
	dst = dst[:len(src)]
	if overlap(dst, src) && !sameStart(dst, src) {
		panic("crypto: CTR buffers overlap inexactly")
	}
	n := s.xorLeftover(dst, src)
	dst, src = dst[n:], src[n:]

	whole := len(src) &^ (blockSize - 1)
	s.xorBlocks(dst[:whole], src[:whole])
	dst, src = dst[whole:], src[whole:]

	if len(src) > 0 {
		s.ks = [blockSize]byte{}
		s.xorBlocks(s.ks[:], s.ks[:]) // the keystream itself
		s.used = 0
		s.xorLeftover(dst, src)
	}
}

// xorLeftover XORs what is left of the last block's keystream into dst
// and returns how many bytes it did.
func (s *ctrStream) xorLeftover(dst, src []byte) int {
	if s.used == blockSize || len(src) == 0 {
		return 0
	}
	n := subtle.XORBytes(dst, src, s.ks[s.used:])
	s.used += n
	return n
}

// xorBlocks XORs whole blocks of keystream into dst and advances the
// counter. The assembly adds to the counter's low word only, so a run in
// which the low word wraps around is split there and the carry goes into
// the high word in between.
func (s *ctrStream) xorBlocks(dst, src []byte) {
	for len(src) > 0 {
		blocks := uint64(len(src) / blockSize)
		if toWrap := -s.ctr[0]; s.ctr[0] != 0 && toWrap < blocks {
			blocks = toWrap // blocks left before the low word is 0 again
		}
		ctrBlocks(s.keys, dst, src, int(blocks), &s.ctr)
		var carry uint64
		s.ctr[0], carry = bits.Add64(s.ctr[0], blocks, 0)
		s.ctr[1] += carry
		n := blocks * blockSize
		dst, src = dst[n:], src[n:]
	}
}
