package crypto

import (
	"math/big"
	"math/rand/v2"
	"testing"

	"golang.org/x/sys/cpu"
)

// polyImplsToTest are the vector implementations this CPU can run, on
// messages of every length (without polySum's threshold), and polySum
// without vectors: the fallback for CPUs with neither AVX2 nor AVX-512.
func polyImplsToTest() map[string]func(*[16]byte, []byte, *[32]byte) {
	impls := map[string]func(*[16]byte, []byte, *[32]byte){
		"fallback": func(tag *[16]byte, msg []byte, key *[32]byte) { polySum(tag, msg, key, nil) },
	}
	if cpu.X86.HasAVX2 {
		impls["AVX2"] = func(tag *[16]byte, msg []byte, key *[32]byte) { polySumVector(tag, msg, key, polyAVX2) }
	}
	if cpu.X86.HasAVX512F {
		impls["AVX-512"] = func(tag *[16]byte, msg []byte, key *[32]byte) { polySumVector(tag, msg, key, polyAVX512) }
	}
	if cpu.X86.HasAVX512F && cpu.X86.HasAVX512IFMA {
		impls["AVX-512 IFMA"] = func(tag *[16]byte, msg []byte, key *[32]byte) { polySumVector(tag, msg, key, polyIFMA) }
	}
	return impls
}

// BenchmarkPoly1305Vector times each vector implementation the CPU runs
// on long messages (BenchmarkPoly1305 times the one poly1305Sum picks).
func BenchmarkPoly1305Vector(b *testing.B) {
	var key [32]byte
	for i := range key {
		key[i] = byte(i*7 + 1)
	}
	for _, size := range []struct {
		name string
		n    int
	}{{"4KiB", 4 << 10}, {"64KiB", 64 << 10}, {"1.5MiB", 3 << 19}} {
		msg := pattern(size.n)
		for name, v := range map[string]*polyVector{"AVX2": polyAVX2, "AVX-512": polyAVX512, "IFMA": polyIFMA} {
			if (v == polyAVX2 && !cpu.X86.HasAVX2) || (v != polyAVX2 && !cpu.X86.HasAVX512F) ||
				(v == polyIFMA && !cpu.X86.HasAVX512IFMA) {
				continue
			}
			b.Run(size.name+"/"+name, func(b *testing.B) {
				var tag [16]byte
				b.SetBytes(int64(size.n))
				for b.Loop() {
					polySumVector(&tag, msg, &key, v)
				}
			})
		}
	}
}

// TestPolyRadix44 checks the IFMA code's conversions against math/big:
// setLane44 on elements as polyMul returns them (limbs below 2^27) must
// give the same number in limbs that VPMADD52 takes whole (below 2^52,
// also times 20), and polyFrom44 must take limbs up to 2^60 back to
// radix 2^26, same value mod p, limbs below 2^27.
func TestPolyRadix44(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	pick := func(bits uint) uint64 {
		switch rng.IntN(3) {
		case 0:
			return 1<<bits - 1
		case 1:
			return 0
		}
		return rng.Uint64N(1 << bits)
	}
	for range 2000 {
		var a polyElem
		for i := range a {
			a[i] = pick(27)
		}
		var tab polyTable
		setLane44(&tab, 3, a)
		l := [3]uint64{tab[0][3], tab[1][3], tab[2][3]}
		got := new(big.Int).SetUint64(l[2])
		got.Lsh(got, 44).Add(got, new(big.Int).SetUint64(l[1]))
		got.Lsh(got, 44).Add(got, new(big.Int).SetUint64(l[0]))
		if got.Cmp(polyBig(a)) != 0 || l[0] >= 1<<44 || l[1] >= 1<<44 ||
			tab[3][3] != 20*l[1] || tab[4][3] != 20*l[2] || 20*l[2] >= 1<<52 {
			t.Fatalf("setLane44(%x) = %x, %x, %x, %x, %x", a, l[0], l[1], l[2], tab[3][3], tab[4][3])
		}

		h0, h1, h2 := pick(60), pick(60), pick(60)
		e := polyFrom44(h0, h1, h2)
		want := new(big.Int).SetUint64(h2)
		want.Lsh(want, 44).Add(want, new(big.Int).SetUint64(h1))
		want.Lsh(want, 44).Add(want, new(big.Int).SetUint64(h0))
		want.Mod(want, polyP)
		for i, x := range e {
			if x >= 1<<27 {
				t.Fatalf("polyFrom44(%x, %x, %x) limb %d = %#x, not below 2^27", h0, h1, h2, i, x)
			}
		}
		if g := new(big.Int).Mod(polyBig(e), polyP); g.Cmp(want) != 0 {
			t.Fatalf("polyFrom44(%x, %x, %x) = %v mod p, want %v", h0, h1, h2, g, want)
		}
	}
}

// TestPolySumNoAllocs checks that every vector implementation keeps its
// powers of r on the stack (a call through a function value, say, would
// move them to the heap).
func TestPolySumNoAllocs(t *testing.T) {
	msg := pattern(8 << 10)
	var key [32]byte
	var tag [16]byte
	for _, v := range []*polyVector{polyAVX2, polyAVX512, polyIFMA} {
		if (v == polyAVX2 && !cpu.X86.HasAVX2) || (v != polyAVX2 && !cpu.X86.HasAVX512F) ||
			(v == polyIFMA && !cpu.X86.HasAVX512IFMA) {
			continue
		}
		if n := testing.AllocsPerRun(10, func() { polySumVector(&tag, msg, &key, v) }); n != 0 {
			t.Errorf("%d lanes, radix44 %v: %v allocations", v.lanes, v.radix44, n)
		}
	}
}
