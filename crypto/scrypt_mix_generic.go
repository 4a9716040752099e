//go:build !amd64

package crypto

// mixWord1 is the position of a block's word 1: blocks keep their natural
// word order here.
const mixWord1 = 1

// blockMix is scrypt's BlockMix with Salsa20/8 (blockMixGeneric).
func blockMix(out, in []uint32, r int) { blockMixGeneric(out, in, r) }

// blockMixXor is blockMix of in XOR v; in is left holding in XOR v.
func blockMixXor(out, in, v []uint32, r int) {
	xorInto(in, v)
	blockMixGeneric(out, in, r)
}

func xorInto(dst, src []uint32) {
	src = src[:len(dst)]
	for i := range dst {
		dst[i] ^= src[i]
	}
}

func toMixOrder([]uint32)   {}
func fromMixOrder([]uint32) {}
