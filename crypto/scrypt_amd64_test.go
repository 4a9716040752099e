//go:build amd64 && !purego

package crypto

import (
	"encoding/binary"
	"math/rand/v2"
	"slices"
	"testing"

	"golang.org/x/sys/cpu"
)

// blockMix2Kernels are the two-lane kernels this processor can run.
func blockMix2Kernels(t testing.TB) map[string]blockMix2Func {
	k := map[string]blockMix2Func{}
	if cpu.X86.HasAVX2 {
		k["avx2"] = blockMix2AVX2
	} else {
		t.Log("no AVX2: the two-lane kernels are not tested")
	}
	if cpu.X86.HasAVX512F && cpu.X86.HasAVX512VL {
		k["avx512"] = blockMix2AVX512
	}
	return k
}

// kernelBlockMix2 runs a two-lane kernel on blocks in the usual word
// order; xor0 and xor1 are both nil or both set.
func kernelBlockMix2(mix blockMix2Func, in0, in1, xor0, xor1 []uint32, r int) (out0, out1 []uint32) {
	diag := func(b []uint32) []uint32 {
		c := slices.Clone(b)
		toDiagonal(c)
		return c
	}
	a0, a1 := diag(in0), diag(in1)
	var x0, x1 *uint32
	if xor0 != nil {
		x0, x1 = &diag(xor0)[0], &diag(xor1)[0]
	}
	out0, out1 = make([]uint32, len(in0)), make([]uint32, len(in1))
	mix(&out0[0], &out1[0], &a0[0], &a1[0], x0, x1, r)
	fromDiagonal(out0)
	fromDiagonal(out1)
	return out0, out1
}

// genericBlockMix is BlockMix(in XOR xor) (xor nil: BlockMix(in)) with
// the pure-Go reference.
func genericBlockMix(in, xor []uint32, r int) []uint32 {
	a := slices.Clone(in)
	if xor != nil {
		xorInto(a, xor)
	}
	out := make([]uint32, len(in))
	blockMix(out, a, r)
	return out
}

func randomWords(rng *rand.Rand, n int) []uint32 {
	b := make([]uint32, n)
	for i := range b {
		b[i] = rng.Uint32()
	}
	return b
}

func TestDiagonalOrderRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	b := randomWords(rng, 64)
	c := slices.Clone(b)
	toDiagonal(c)
	if slices.Equal(b, c) {
		t.Fatal("toDiagonal changed nothing")
	}
	if c[0] != b[0] || c[1] != b[5] || c[16+4] != b[16+4] || c[16+7] != b[16+3] {
		t.Fatalf("toDiagonal put words in the wrong places: %v from %v", c[:24], b[:24])
	}
	fromDiagonal(c)
	if !slices.Equal(b, c) {
		t.Fatal("fromDiagonal does not undo toDiagonal")
	}
}

// TestBlockMix2KernelsMatchGeneric compares each two-lane kernel with
// two runs of the pure-Go BlockMix on random blocks.
func TestBlockMix2KernelsMatchGeneric(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for name, mix := range blockMix2Kernels(t) {
		for _, r := range []int{1, 2, 3, 8, 16} {
			for range 20 {
				in0, in1 := randomWords(rng, 32*r), randomWords(rng, 32*r)
				xor0, xor1 := randomWords(rng, 32*r), randomWords(rng, 32*r)
				got0, got1 := kernelBlockMix2(mix, in0, in1, nil, nil, r)
				if !slices.Equal(got0, genericBlockMix(in0, nil, r)) || !slices.Equal(got1, genericBlockMix(in1, nil, r)) {
					t.Fatalf("%s r=%d: BlockMix differs from the pure-Go one", name, r)
				}
				got0, got1 = kernelBlockMix2(mix, in0, in1, xor0, xor1, r)
				if !slices.Equal(got0, genericBlockMix(in0, xor0, r)) || !slices.Equal(got1, genericBlockMix(in1, xor1, r)) {
					t.Fatalf("%s r=%d: BlockMix with XOR differs from the pure-Go one", name, r)
				}
			}
		}
	}
}

// TestROMix2KernelsMatchGeneric runs ROMix on two lanes with each
// two-lane kernel and with the pure-Go code.
func TestROMix2KernelsMatchGeneric(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for name, mix := range blockMix2Kernels(t) {
		for _, p := range []struct{ n, r int }{{2, 1}, {16, 1}, {64, 2}, {1024, 8}, {32, 5}} {
			w := 32 * p.r
			x0, x1 := randomWords(rng, w), randomWords(rng, w)
			want0, want1 := slices.Clone(x0), slices.Clone(x1)
			roMixGeneric(want0, make([]uint32, w), make([]uint32, w*p.n), p.n, p.r)
			roMixGeneric(want1, make([]uint32, w), make([]uint32, w*p.n), p.n, p.r)
			roMix2Diagonal(mix, x0, x1, make([]uint32, w), make([]uint32, w), make([]uint32, w*p.n), make([]uint32, w*p.n), p.n, p.r)
			if !slices.Equal(x0, want0) || !slices.Equal(x1, want1) {
				t.Errorf("%s N=%d r=%d: ROMix differs from the pure-Go one", name, p.n, p.r)
			}
		}
	}
}

// TestROMixLanesMatchesGeneric checks the lane dispatch (pairs, then an
// odd lane) against the pure-Go lanes for one to five lanes.
func TestROMixLanesMatchesGeneric(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	const n, r = 64, 2
	for p := 1; p <= 5; p++ {
		got := make([][]uint32, p)
		want := make([][]uint32, p)
		for i := range got {
			got[i] = randomWords(rng, 32*r)
			want[i] = slices.Clone(got[i])
		}
		roMixLanes(got, n, r)
		roMixLanesGeneric(want, n, r)
		for i := range got {
			if !slices.Equal(got[i], want[i]) {
				t.Errorf("p=%d: lane %d differs from the pure-Go one", p, i)
			}
		}
	}
}

// FuzzBlockMixKernels compares the two-lane kernels with the pure-Go
// BlockMix on arbitrary blocks (r=1 or 2 from the
// input's length).
func FuzzBlockMixKernels(f *testing.F) {
	f.Add(make([]byte, 256), false)
	f.Add(slices.Repeat([]byte{0xff}, 512), true)
	f.Add(slices.Repeat([]byte{0x80, 0, 0, 1}, 128), true)
	f.Fuzz(func(t *testing.T, data []byte, withXOR bool) {
		r := 1
		if len(data) >= 512 {
			r = 2
		}
		if len(data) < 256*r {
			t.Skip()
		}
		words := make([]uint32, 64*r)
		for i := range words {
			words[i] = binary.LittleEndian.Uint32(data[4*i:])
		}
		in, xor := words[:32*r], words[32*r:]
		if !withXOR {
			xor = nil
		}
		want := genericBlockMix(in, xor, r)
		// the second lane is a rotation of the first
		in1 := append(slices.Clone(in[16:]), in[:16]...)
		var xor1 []uint32
		if xor != nil {
			xor1 = append(slices.Clone(xor[16:]), xor[:16]...)
		}
		want1 := genericBlockMix(in1, xor1, r)
		for name, mix := range blockMix2Kernels(t) {
			got0, got1 := kernelBlockMix2(mix, in, in1, xor, xor1, r)
			if !slices.Equal(got0, want) || !slices.Equal(got1, want1) {
				t.Fatalf("two-lane %s: %x %x, want %x %x", name, got0, got1, want, want1)
			}
		}
	})
}

// BenchmarkROMix measures ROMix alone (table already allocated) with
// restic's usual N and r: the two-lane kernels against the pure-Go code.
func BenchmarkROMix(b *testing.B) {
	const n, r = 1 << 15, 8
	w := 32 * r
	x, y, v := make([]uint32, w), make([]uint32, w), make([]uint32, w*n)
	b.Run("generic", func(b *testing.B) {
		for b.Loop() {
			roMixGeneric(x, y, v, n, r)
		}
	})
	// two lanes per operation: halve ns/op to compare with the above
	x1, y1, v1 := make([]uint32, w), make([]uint32, w), make([]uint32, w*n)
	for name, mix := range blockMix2Kernels(b) {
		b.Run("2lanes-"+name, func(b *testing.B) {
			for b.Loop() {
				roMix2Diagonal(mix, x, x1, y, y1, v, v1, n, r)
			}
		})
	}
}
