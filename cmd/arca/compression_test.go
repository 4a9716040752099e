package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/arca-backup/arca/backend"
	"github.com/arca-backup/arca/repo/model"
	"github.com/klauspost/compress/zstd"
)

// TestCompressionReachesUnpackedFiles: the global --compression sets the
// zstd level of the index and snapshot files a command writes, as in
// restic, not only that of its packs. Each backup's new index and
// snapshot files must decode to a frame that re-encoding the plaintext at
// the flag's level reproduces exactly, and restic must read them all.
func TestCompressionReachesUnpackedFiles(t *testing.T) {
	dir, env := backupRepo(t, 2)
	ctx := context.Background()
	levels := map[string]zstd.EncoderLevel{"auto": zstd.SpeedDefault, "fastest": zstd.SpeedFastest, "max": zstd.SpeedBestCompression}
	encodeAt := func(level zstd.EncoderLevel, plain []byte) []byte {
		enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(level), zstd.WithEncoderConcurrency(1),
			zstd.WithEncoderCRC(false), zstd.WithWindowSize(512<<10))
		if err != nil {
			t.Fatal(err)
		}
		defer enc.Close()
		return enc.EncodeAll(plain, nil)
	}
	seen := map[backend.FileType]map[model.ID]bool{backend.IndexFile: {}, backend.SnapshotFile: {}}
	for i, mode := range []string{"max", "fastest", "auto"} {
		src := filepath.Join(t.TempDir(), "src")
		for f := range 300 {
			p := filepath.Join(src, fmt.Sprintf("d%d", f%7), fmt.Sprintf("file-%d-%d.txt", i, f))
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, fmt.Appendf(nil, "file %d of round %d\n", f, i), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		arcaBackup(t, 0, "--compression", mode, src)

		r := openCheckRepo(t, dir, "backup-test-pw")
		for typ, old := range seen {
			var fresh []model.ID
			if err := r.List(ctx, typ, func(id model.ID, _ int64) error {
				if !old[id] {
					fresh = append(fresh, id)
					old[id] = true
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if len(fresh) == 0 {
				t.Fatalf("--compression %s: no new %v file", mode, typ)
			}
			for _, id := range fresh {
				raw, err := r.LoadRaw(ctx, typ, id)
				if err != nil {
					t.Fatal(err)
				}
				p, err := r.Key().Open(nil, raw)
				if err != nil || len(p) == 0 || p[0] != 2 {
					t.Fatalf("%v %s: %v", typ, id.Str(), err)
				}
				plain, err := r.LoadUnpacked(ctx, typ, id)
				if err != nil {
					t.Fatal(err)
				}
				if typ == backend.IndexFile && bytes.Equal(encodeAt(zstd.SpeedDefault, plain), encodeAt(zstd.SpeedBestCompression, plain)) {
					t.Fatalf("index %s compresses alike at the default and the best level: the test cannot tell them apart", id.Str())
				}
				if !bytes.Equal(p[1:], encodeAt(levels[mode], plain)) {
					t.Errorf("--compression %s: %v file %s is not compressed at %v", mode, typ, id.Str(), levels[mode])
				}
			}
		}
		r.Close()
	}
	// restic reads files at every level
	mustRestic(t, env, "check", "--read-data")
	if out := mustRestic(t, env, "snapshots", "--json"); bytes.Count([]byte(out), []byte(`"short_id"`)) != 3 {
		t.Errorf("restic lists other than 3 snapshots:\n%s", out)
	}
}
