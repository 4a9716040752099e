package crypto

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// TestBlockMixArch: every vector BlockMix (alone and of an XOR of two
// inputs), on blocks put into its order and back, computes exactly what
// the Go BlockMix computes, for every r up to 16 and random inputs.
func TestBlockMixArch(t *testing.T) {
	for _, m := range archMixers {
		t.Run(m.name, func(t *testing.T) { testBlockMix(t, m) })
	}
}

func testBlockMix(t *testing.T, m *mixer) {
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
			m.toOrder(mixed)
			got := make([]uint32, len(in))
			m.mix(got, mixed, r)
			m.fromOrder(got)
			if !slices.Equal(got, want) {
				t.Fatalf("r=%d: BlockMix differs from the Go version", r)
			}

			// the same through mixXor, with in split into two halves of
			// an XOR
			v := make([]uint32, len(in))
			for i := range v {
				v[i] = rng.Uint32()
			}
			half := make([]uint32, len(in))
			for i := range half {
				half[i] = in[i] ^ v[i]
			}
			m.toOrder(half)
			m.toOrder(v)
			keep, keepV := slices.Clone(half), slices.Clone(v)
			clear(got)
			m.mixXor(got, half, v, r)
			m.fromOrder(got)
			if !slices.Equal(got, want) {
				t.Fatalf("r=%d: BlockMix of an XOR differs from the Go version", r)
			}
			if !slices.Equal(half, keep) || !slices.Equal(v, keepV) {
				t.Fatalf("r=%d: mixXor changed its inputs", r)
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
	for _, m := range archMixers {
		if w1 := m.word1; y[48] != 48 || y[48+w1] != 49 {
			t.Fatalf("%s: last block starts %d, word 1 at %d is %d", m.name, y[48], w1, y[48+w1])
		}
	}
	fromMixOrder(y)
	if !slices.Equal(x, y) {
		t.Fatal("fromMixOrder does not undo toMixOrder")
	}
}

// archMixers are the BlockMix implementations besides the Go one that
// this CPU runs.
var archMixers = vectorMixers

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
	for _, m := range archMixers {
		b.Run(m.name, func(b *testing.B) {
			b.SetBytes(128 * r)
			for b.Loop() {
				m.mix(out, in, r)
			}
		})
	}
}
