package packer

import (
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/arca-backup/arca/crypto"
	"github.com/arca-backup/arca/repo/model"
	simd "github.com/minio/sha256-simd"
)

// BenchmarkHash compares the standard library's SHA-256 with sha256-simd
// at blob and pack sizes. On the project's machines (SHA-NI) both reach
// the same speed, so the writer uses the standard library.
func BenchmarkHash(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	for _, size := range []int{64 << 10, 1 << 20, 16 << 20} {
		buf := randBytes(rng, size)
		b.Run(fmt.Sprintf("stdlib/%dKiB", size>>10), func(b *testing.B) {
			b.SetBytes(int64(size))
			for b.Loop() {
				_ = sha256.Sum256(buf)
			}
		})
		b.Run(fmt.Sprintf("simd/%dKiB", size>>10), func(b *testing.B) {
			b.SetBytes(int64(size))
			for b.Loop() {
				_ = simd.Sum256(buf)
			}
		})
	}
}

// BenchmarkPackAssembly measures building a 16 MiB pack from sealed blobs:
// writing them to the temporary file, sealing and (optionally) verifying
// the header; the pack is hashed as it is written.
func BenchmarkPackAssembly(b *testing.B) {
	c := crypto.NewRandomKey().Cipher()
	rng := rand.New(rand.NewPCG(2, 2))
	for _, blobSize := range []int{4 << 10, 1 << 20} {
		const packSize = 16 << 20
		sealed := c.Seal(nil, randBytes(rng, blobSize))
		id := model.Hash(sealed)
		for _, verify := range []bool{false, true} {
			b.Run(fmt.Sprintf("blob=%dKiB/verify=%v", blobSize>>10, verify), func(b *testing.B) {
				dir := b.TempDir()
				b.SetBytes(packSize)
				for b.Loop() {
					p, err := New(model.DataBlob, dir)
					if err != nil {
						b.Fatal(err)
					}
					for !p.Full(packSize, 0) {
						if _, err := p.Add(id, sealed, 0); err != nil {
							b.Fatal(err)
						}
					}
					if _, err := p.Finalize(c, verify); err != nil {
						b.Fatal(err)
					}
					p.Close()
				}
			})
		}
	}
}

// BenchmarkManagerAdd measures concurrent adds through a Manager (the lock
// and copy every saved blob goes through).
func BenchmarkManagerAdd(b *testing.B) {
	c := crypto.NewRandomKey().Cipher()
	rng := rand.New(rand.NewPCG(3, 3))
	sealed := c.Seal(nil, randBytes(rng, 512<<10))
	id := model.Hash(sealed)
	m := NewManager(model.DataBlob, 16<<20, 0, DefaultOpenPacks, b.TempDir())
	handoff := func(p *Packer) error { return p.Close() }
	b.SetBytes(int64(len(sealed)))
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := m.Add(id, sealed, 0, handoff); err != nil {
				b.Error(err)
			}
		}
	})
}
