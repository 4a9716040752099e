package crypto

import (
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
		for name, v := range map[string]*polyVector{"AVX2": polyAVX2, "AVX-512": polyAVX512} {
			if (v == polyAVX2 && !cpu.X86.HasAVX2) || (v == polyAVX512 && !cpu.X86.HasAVX512F) {
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
