package engine_test

import (
	"context"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/arca-backup/arca/chunker"
	"github.com/arca-backup/arca/repo"
	"github.com/arca-backup/arca/repo/engine"
	"github.com/arca-backup/arca/repo/model"
)

// TestRestoreLongBlobs: blobs longer than repo.LongBlob, as stored (no
// compression) or only once decoded (compressed), restore exactly, by
// several workers at once that take turns with them, next to ordinary
// blobs.
func TestRestoreLongBlobs(t *testing.T) {
	for _, mode := range []repo.CompressionMode{repo.CompressionOff, repo.CompressionAuto} {
		t.Run(mode.String(), func(t *testing.T) {
			ctx := context.Background()
			r, _ := initRepo(t)
			rnd := rand.New(rand.NewPCG(11, uint64(mode)))
			random := func(n int) []byte {
				b := make([]byte, n)
				for i := range b {
					b[i] = byte(rnd.Uint32())
				}
				return b
			}
			files := map[string][]byte{}
			for _, name := range []string{"a", "b", "c/d"} {
				// a repeated pattern that holds no cut point gives
				// chunks of the maximum size
				pattern := random(4096)
				var data []byte
				for len(data) < 2*chunker.MaxSize {
					data = append(data, pattern...)
				}
				files[name] = append(data, random(3<<20+77)...)
			}
			files["small"] = random(1000)
			src := filepath.Join(t.TempDir(), "src")
			writeTree(t, src, files)
			opts := engine.BackupOptions{Host: "h"}
			opts.Write.Compression = mode
			if _, err := r.Backup(ctx, []string{src}, opts); err != nil {
				t.Fatal(err)
			}

			long := 0
			r.Repo().Index().Each(func(pb model.PackedBlob) bool {
				if pb.Type == model.DataBlob && max(pb.Length, pb.UncompressedLength) > repo.LongBlob {
					long++
				}
				return true
			})
			if long < 2 {
				t.Fatalf("%d blobs longer than %d bytes: the test exercises too few", long, repo.LongBlob)
			}

			dst := t.TempDir()
			if _, err := r.Restore(ctx, "latest", dst, engine.RestoreOptions{}); err != nil {
				t.Fatal(err)
			}
			checkRestored(t, filepath.Join(dst, src), files)
		})
	}
}
