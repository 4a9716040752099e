package crypto

import (
	"sync"

	"golang.org/x/sys/cpu"
)

// On amd64 BlockMix can also run in SSE2 registers (scrypt_mix_amd64.s),
// four words of a Salsa20 state per register. The registers hold the state's diagonals,
// so every 64-byte block is kept with its words in diagonal order:
// position i holds word diagonal[i].
var diagonal = [16]uint8{0, 5, 10, 15, 4, 9, 14, 3, 8, 13, 2, 7, 12, 1, 6, 11}

// sse2Mixer is BlockMix in SSE2 registers, on blocks in diagonal order.
var sse2Mixer = mixer{
	name:      "sse2",
	mix:       blockMix,
	mixXor:    blockMixXor,
	toOrder:   toMixOrder,
	fromOrder: fromMixOrder,
	word1:     13, // diagonal[13] == 1
}

// avx512Mixer is the same BlockMix with AVX-512VL instructions on XMM
// registers (scrypt_mix_avx512_amd64.s), on blocks in the same order.
var avx512Mixer = mixer{
	name:      "avx512",
	mix:       blockMix512,
	mixXor:    blockMixXor512,
	toOrder:   toMixOrder,
	fromOrder: fromMixOrder,
	word1:     13,
}

// vectorMixers are the BlockMix implementations besides the Go one that
// this CPU runs: SSE2 always, AVX-512 where the CPU has AVX-512F and VL
// and the OS saves their state (x/sys/cpu sets the flags only then).
var vectorMixers = func() []*mixer {
	ms := []*mixer{&sse2Mixer}
	if cpu.X86.HasAVX512F && cpu.X86.HasAVX512VL {
		ms = append(ms, &avx512Mixer)
	}
	return ms
}()

// bestMixer is the fastest of the Go BlockMix and the vector ones on this
// CPU, timed once per process.
var bestMixer = sync.OnceValue(func() *mixer {
	return fastestMixer(append([]*mixer{&genericMixer}, vectorMixers...)...)
})

//go:noescape
func blockMixSSE2(out, in *uint32, r int)

//go:noescape
func blockMixXorSSE2(out, in, v *uint32, r int)

//go:noescape
func blockMixAVX512(out, in *uint32, r int)

//go:noescape
func blockMixXorAVX512(out, in, v *uint32, r int)

// blockMix is scrypt's BlockMix with Salsa20/8 on blocks in diagonal
// order: out = BlockMix(in), even sub-blocks of the result in the first
// half of out, odd ones in the second. out and in must not overlap.
func blockMix(out, in []uint32, r int) {
	checkMixBuffers(r, out, in)
	blockMixSSE2(&out[0], &in[0], r)
}

// blockMixXor is blockMix of in XOR v (neither changes): ROMix's second
// loop mixes each block with a table entry this way without a separate
// pass to XOR them.
func blockMixXor(out, in, v []uint32, r int) {
	checkMixBuffers(r, out, in, v)
	blockMixXorSSE2(&out[0], &in[0], &v[0], r)
}

// blockMix512 is blockMix with AVX-512VL instructions.
func blockMix512(out, in []uint32, r int) {
	checkMixBuffers(r, out, in)
	blockMixAVX512(&out[0], &in[0], r)
}

// blockMixXor512 is blockMixXor with AVX-512VL instructions.
func blockMixXor512(out, in, v []uint32, r int) {
	checkMixBuffers(r, out, in, v)
	blockMixXorAVX512(&out[0], &in[0], &v[0], r)
}

// checkMixBuffers panics unless r is positive and every buffer holds a
// block of 32·r words: the assembly does not check.
func checkMixBuffers(r int, bufs ...[]uint32) {
	for _, b := range bufs {
		if r < 1 || len(b) < 32*r {
			panic("scrypt: blockMix buffers too short")
		}
	}
}

// toMixOrder puts the words of every 64-byte block of x into diagonal order.
func toMixOrder(x []uint32) {
	for b := 0; b+16 <= len(x); b += 16 {
		var t [16]uint32
		for i, w := range diagonal {
			t[i] = x[b+int(w)]
		}
		copy(x[b:b+16], t[:])
	}
}

// fromMixOrder undoes toMixOrder.
func fromMixOrder(x []uint32) {
	for b := 0; b+16 <= len(x); b += 16 {
		var t [16]uint32
		for i, w := range diagonal {
			t[w] = x[b+i]
		}
		copy(x[b:b+16], t[:])
	}
}
