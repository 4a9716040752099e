package packer

import (
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	simd "github.com/minio/sha256-simd"
	"golang.org/x/sys/cpu"
)

// BenchmarkHashMultiBuffer measures sha256-simd's AVX-512 server API,
// which hashes up to 16 streams together: 16 goroutines each hash one blob
// per iteration through their own digest on a shared server. Compare with
// BenchmarkHash (one stream, SHA-NI); on the project's machines the
// server's coordination costs more than the 16 lanes win.
func BenchmarkHashMultiBuffer(b *testing.B) {
	if !cpu.X86.HasAVX512F {
		b.Skip("no AVX-512")
	}
	const lanes = 16
	rng := rand.New(rand.NewPCG(4, 4))
	for _, size := range []int{64 << 10, 1 << 20} {
		blobs := make([][]byte, lanes)
		for i := range blobs {
			blobs[i] = randBytes(rng, size)
		}
		b.Run(fmt.Sprintf("%dKiB", size>>10), func(b *testing.B) {
			server := simd.NewAvx512Server()
			hashOne := func(i int) [32]byte {
				h := simd.NewAvx512(server)
				h.Write(blobs[i])
				var sum [32]byte
				copy(sum[:], h.Sum(nil))
				return sum
			}
			if hashOne(3) != sha256.Sum256(blobs[3]) {
				b.Fatal("sha256-simd server digest differs from crypto/sha256")
			}
			b.SetBytes(int64(lanes * size))
			for b.Loop() {
				var wg sync.WaitGroup
				for i := 0; i < lanes; i++ {
					wg.Add(1)
					go func() {
						defer wg.Done()
						hashOne(i)
					}()
				}
				wg.Wait()
			}
		})
	}
}
