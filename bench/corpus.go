package main

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// parseSize reads sizes such as "512MiB", "2GiB", "100k", "1000".
func parseSize(s string) (int64, error) {
	units := []struct {
		suffix string
		mult   int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"G", 1 << 30}, {"M", 1 << 20}, {"K", 1 << 10}, {"k", 1 << 10}, {"B", 1}}
	for _, u := range units {
		if strings.HasSuffix(s, u.suffix) {
			n, err := strconv.ParseFloat(strings.TrimSuffix(s, u.suffix), 64)
			if err != nil {
				return 0, fmt.Errorf("invalid size %q", s)
			}
			return int64(n * float64(u.mult)), nil
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("invalid size %q", s)
	}
	return n, nil
}

// corpusStats describes a generated corpus.
type corpusStats struct {
	Files int   `json:"files"`
	Bytes int64 `json:"bytes"`
}

// generateMixed writes the "mixed" corpus: a few large files and many
// small ones, half of the bytes compressible text and half random, all
// determined by the seed.
func generateMixed(dir string, size int64, seed uint64) (corpusStats, error) {
	rng := rand.New(rand.NewPCG(seed, 0x6172636121))
	var st corpusStats
	words := []string{"backup", "restic", "arca", "chunk", "blob", "pack", "index", "tree", "snapshot", "lock", "prune", "repository", "encrypt", "deduplicate"}
	fill := func(buf []byte, compressible bool) {
		if !compressible {
			for i := 0; i+8 <= len(buf); i += 8 {
				v := rng.Uint64()
				for j := 0; j < 8; j++ {
					buf[i+j] = byte(v >> (8 * j))
				}
			}
			return
		}
		pos := 0
		for pos < len(buf) {
			w := words[rng.IntN(len(words))]
			pos += copy(buf[pos:], w)
			if pos < len(buf) {
				if rng.IntN(12) == 0 {
					buf[pos] = '\n'
				} else {
					buf[pos] = ' '
				}
				pos++
			}
		}
	}
	write := func(rel string, n int64, compressible bool) error {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		f, err := os.Create(p)
		if err != nil {
			return err
		}
		buf := make([]byte, 1<<20)
		for left := n; left > 0; {
			k := int64(len(buf))
			if left < k {
				k = left
			}
			fill(buf[:k], compressible)
			if _, err := f.Write(buf[:k]); err != nil {
				f.Close()
				return err
			}
			left -= k
		}
		st.Files++
		st.Bytes += n
		return f.Close()
	}
	// 60% of the bytes in large files (16-64 MiB), 40% in small ones (1-256 KiB)
	large := size * 6 / 10
	for i := 0; large > 0; i++ {
		n := int64(16+rng.IntN(48)) << 20
		if n > large {
			n = large
		}
		if err := write(fmt.Sprintf("large/file-%03d.bin", i), n, i%2 == 0); err != nil {
			return st, err
		}
		large -= n
	}
	small := size - size*6/10
	for i := 0; small > 0; i++ {
		n := int64(1+rng.IntN(256)) << 10
		if n > small {
			n = small
		}
		if err := write(fmt.Sprintf("small/d%02d/f%05d.dat", i%50, i), n, i%2 == 0); err != nil {
			return st, err
		}
		small -= n
	}
	return st, nil
}
