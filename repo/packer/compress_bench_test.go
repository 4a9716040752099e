package packer

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/klauspost/compress/zstd"
)

// textBytes returns n bytes of word text, compressible like source code
// or logs (zstd's default level shrinks it to about a third).
func textBytes(rng *rand.Rand, n int) []byte {
	words := []string{"backup", "restic", "arca", "chunk", "blob", "pack", "index", "tree", "snapshot", "lock", "prune", "repository", "encrypt", "deduplicate", "\n\t", "if err != nil {", "return", "}"}
	out := make([]byte, 0, n+16)
	for len(out) < n {
		out = append(out, words[rng.IntN(len(words))]...)
		out = append(out, ' ')
	}
	return out[:n]
}

var zstdLevels = []struct {
	name  string
	level zstd.EncoderLevel
}{
	{"fastest", zstd.SpeedFastest},
	{"default", zstd.SpeedDefault},
	{"better", zstd.SpeedBetterCompression},
	{"best", zstd.SpeedBestCompression},
}

// BenchmarkZstdEncode compresses a 1 MiB blob at each encoder level (the
// repository's compression modes: auto is default, max is best), with the
// options the writer uses, on text and on random bytes; ratio is the
// compressed size over the input size.
func BenchmarkZstdEncode(b *testing.B) {
	rng := rand.New(rand.NewPCG(5, 5))
	inputs := map[string][]byte{"text": textBytes(rng, 1<<20), "random": randBytes(rng, 1<<20)}
	for _, data := range []string{"text", "random"} {
		for _, lv := range zstdLevels {
			b.Run(fmt.Sprintf("%s/%s", data, lv.name), func(b *testing.B) {
				enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(lv.level), zstd.WithEncoderCRC(false), zstd.WithWindowSize(512<<10), zstd.WithEncoderConcurrency(1))
				if err != nil {
					b.Fatal(err)
				}
				defer enc.Close()
				src := inputs[data]
				var dst []byte
				b.SetBytes(int64(len(src)))
				for b.Loop() {
					dst = enc.EncodeAll(src, dst[:0])
				}
				b.ReportMetric(float64(len(dst))/float64(len(src)), "ratio")
			})
		}
	}
}

// BenchmarkZstdDecode decompresses a 1 MiB text blob compressed at each
// level (restore and check --read-data pay this).
func BenchmarkZstdDecode(b *testing.B) {
	src := textBytes(rand.New(rand.NewPCG(6, 6)), 1<<20)
	dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1))
	if err != nil {
		b.Fatal(err)
	}
	defer dec.Close()
	for _, lv := range zstdLevels {
		b.Run(lv.name, func(b *testing.B) {
			enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(lv.level), zstd.WithEncoderCRC(false), zstd.WithWindowSize(512<<10), zstd.WithEncoderConcurrency(1))
			if err != nil {
				b.Fatal(err)
			}
			compressed := enc.EncodeAll(src, nil)
			enc.Close()
			out := make([]byte, 0, len(src))
			b.SetBytes(int64(len(src)))
			for b.Loop() {
				if out, err = dec.DecodeAll(compressed, out[:0]); err != nil || len(out) != len(src) {
					b.Fatalf("decode: %v, %d bytes", err, len(out))
				}
			}
		})
	}
}
