package crypto

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// TestBlockMixSSE2: the vector BlockMix (alone and of an XOR of two
// inputs), on blocks put into diagonal order and back, computes exactly
// what the Go BlockMix computes, for every r up to 16 and random inputs.
func TestBlockMixSSE2(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for r := 1; r <= 16; r++ {
		for range 20 {
			in := make([]uint32, 32*r)
			for i := range in {
				in[i] = rng.Uint32()
			}
			want := make([]uint32, len(in))
			blockMixGeneric(want, in, r)

			mixed := slices.Clone(in)
			toMixOrder(mixed)
			got := make([]uint32, len(in))
			blockMix(got, mixed, r)
			fromMixOrder(got)
			if !slices.Equal(got, want) {
				t.Fatalf("r=%d: BlockMix differs from the Go version", r)
			}

			// the same through blockMixXor, with in split into two halves
			// of an XOR
			v := make([]uint32, len(in))
			for i := range v {
				v[i] = rng.Uint32()
			}
			half := make([]uint32, len(in))
			for i := range half {
				half[i] = in[i] ^ v[i]
			}
			toMixOrder(half)
			toMixOrder(v)
			keep, keepV := slices.Clone(half), slices.Clone(v)
			clear(got)
			blockMixXor(got, half, v, r)
			fromMixOrder(got)
			if !slices.Equal(got, want) {
				t.Fatalf("r=%d: BlockMix of an XOR differs from the Go version", r)
			}
			if !slices.Equal(half, keep) || !slices.Equal(v, keepV) {
				t.Fatalf("r=%d: blockMixXor changed its inputs", r)
			}
		}
	}
}

// TestMixOrderRoundTrip: fromMixOrder undoes toMixOrder, and word 0 and
// word 1 of a block are where integerify looks for them.
func TestMixOrderRoundTrip(t *testing.T) {
	x := make([]uint32, 64)
	for i := range x {
		x[i] = uint32(i)
	}
	y := slices.Clone(x)
	toMixOrder(y)
	if w1 := sse2Mixer.word1; y[48] != 48 || y[48+w1] != 49 {
		t.Fatalf("last block starts %d, word 1 at %d is %d", y[48], w1, y[48+w1])
	}
	fromMixOrder(y)
	if !slices.Equal(x, y) {
		t.Fatal("fromMixOrder does not undo toMixOrder")
	}
}

// archMixers are the BlockMix implementations besides the Go one.
var archMixers = []*mixer{&sse2Mixer}

func BenchmarkBlockMix(b *testing.B) {
	const r = 8
	in := make([]uint32, 32*r)
	out := make([]uint32, 32*r)
	b.Run("go", func(b *testing.B) {
		b.SetBytes(128 * r)
		for b.Loop() {
			blockMixGeneric(out, in, r)
		}
	})
	b.Run("sse2", func(b *testing.B) {
		b.SetBytes(128 * r)
		for b.Loop() {
			blockMix(out, in, r)
		}
	})
}
