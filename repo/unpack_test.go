package repo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/arca-backup/arca/backend"
	"github.com/arca-backup/arca/backend/local"
	"github.com/arca-backup/arca/crypto"
	"github.com/arca-backup/arca/repo/model"
	"github.com/klauspost/compress/zstd"
)

// Snapshot files truncated below the size of IV and MAC are damaged, not a
// crash, also when the local backend reads them into a buffer of exactly
// their size.
func TestLoadTruncatedUnpackedFile(t *testing.T) {
	ctx := context.Background()
	r, dir := wtLocalRepo(t)
	for _, size := range []int{0, 1, 15, 16, 31, 32} {
		content := make([]byte, size)
		id := model.Hash(content) // named by its hash, so it reaches decryption
		name := filepath.Join(dir, "snapshots", id.String())
		if err := os.WriteFile(name, content, 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := r.LoadUnpacked(ctx, backend.SnapshotFile, id)
		if err == nil {
			t.Fatalf("%d-byte snapshot file loaded", size)
		}
		if !errors.Is(err, ErrDamaged) {
			t.Errorf("%d-byte snapshot file: %v, want damaged", size, err)
		}
	}
}

// saveAndOpen saves plaintext as an unpacked file of type typ and returns
// its ID and the stored file decrypted (the version byte and zstd frame in
// version 2).
func saveAndOpen(t *testing.T, r *Repository, typ backend.FileType, plaintext []byte) (model.ID, []byte) {
	t.Helper()
	ctx := context.Background()
	id, err := r.SaveUnpacked(ctx, typ, plaintext)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := r.LoadRaw(ctx, typ, id)
	if err != nil {
		t.Fatal(err)
	}
	p, err := r.Key().Open(nil, raw)
	if err != nil {
		t.Fatalf("open %v %s: %v", typ, id.Str(), err)
	}
	return id, p
}

// Unpacked files are compressed as restic compresses them: a zstd frame
// without the content checksum, which the file's MAC makes redundant (it
// would add four bytes to every snapshot, index and lock file).
func TestSavedUnpackedFrameHasNoChecksum(t *testing.T) {
	ctx := context.Background()
	r, _ := wtLocalRepo(t)
	want := []byte(`{"time":"2026-12-04T16:07:12.839353601Z","paths":["/src"],"hostname":"vm"}`)
	id, plain := saveAndOpen(t, r, backend.SnapshotFile, want)
	// version 2: a 2 byte, then the frame: magic, then the frame header
	// descriptor, whose bit 2 is Content_Checksum_flag
	if len(plain) < 6 || plain[0] != 2 || !bytes.Equal(plain[1:5], []byte{0x28, 0xb5, 0x2f, 0xfd}) {
		t.Fatalf("plaintext % x does not start with 2 and a zstd frame", plain[:min(len(plain), 6)])
	}
	if plain[5]&0x04 != 0 {
		t.Errorf("frame header descriptor %#x has the content checksum flag", plain[5])
	}
	got, err := r.LoadUnpacked(ctx, backend.SnapshotFile, id)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("reload: %v, %q", err, got)
	}
}

// TestUnpackedFilesFollowCompression: index, snapshot and lock files are
// compressed at the level the repository was opened (or created) with, as
// restic's --compression does for them: fastest, better and max at their
// own levels, auto and off at the default one.
func TestUnpackedFilesFollowCompression(t *testing.T) {
	ctx := context.Background()
	// index-like JSON: repeated structure around random IDs, long enough
	// for the levels to find different matches
	rng := rand.New(rand.NewPCG(11, 12))
	var plain []byte
	plain = append(plain, `{"packs":[`...)
	for i := range 3000 {
		var id [32]byte
		for j := range id {
			id[j] = byte(rng.IntN(256))
		}
		plain = fmt.Appendf(plain, `{"id":"%x","type":"data","offset":%d,"length":%d,"uncompressed_length":%d},`, id, i*1237, 500+rng.IntN(9000), 1000+rng.IntN(20000))
	}
	plain = append(plain, `]}`...)

	encodeAt := func(level zstd.EncoderLevel) []byte {
		enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(level), zstd.WithEncoderConcurrency(1),
			zstd.WithEncoderCRC(false), zstd.WithWindowSize(zstdWindow))
		if err != nil {
			t.Fatal(err)
		}
		defer enc.Close()
		return enc.EncodeAll(plain, nil)
	}
	levels := []zstd.EncoderLevel{zstd.SpeedFastest, zstd.SpeedDefault, zstd.SpeedBetterCompression, zstd.SpeedBestCompression}
	want := map[zstd.EncoderLevel][]byte{}
	for _, l := range levels {
		want[l] = encodeAt(l)
		for k, other := range want {
			if k != l && bytes.Equal(other, want[l]) {
				t.Fatalf("levels %v and %v compress the test input alike: the test cannot tell them apart", k, l)
			}
		}
	}

	stored := func(t *testing.T, r *Repository) []byte {
		t.Helper()
		_, p := saveAndOpen(t, r, backend.IndexFile, plain)
		if len(p) == 0 || p[0] != 2 {
			t.Fatalf("stored file: % x...", p[:min(len(p), 4)])
		}
		return p[1:]
	}
	levelOf := func(b []byte) string {
		for l, w := range want {
			if bytes.Equal(b, w) {
				return l.String()
			}
		}
		return "no level"
	}

	_, dir := wtLocalRepo(t)
	for _, c := range []struct {
		mode  CompressionMode
		level zstd.EncoderLevel
	}{
		{CompressionAuto, zstd.SpeedDefault},
		{CompressionOff, zstd.SpeedDefault},
		{CompressionFastest, zstd.SpeedFastest},
		{CompressionBetter, zstd.SpeedBetterCompression},
		{CompressionMax, zstd.SpeedBestCompression},
	} {
		t.Run(c.mode.String(), func(t *testing.T) {
			be, err := local.Open(ctx, dir)
			if err != nil {
				t.Fatal(err)
			}
			defer be.Close()
			r, err := Open(ctx, be, wtPassword, OpenOptions{Compression: c.mode})
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			if got := stored(t, r); !bytes.Equal(got, want[c.level]) {
				t.Errorf("--compression %v stored the file at %s, want %v", c.mode, levelOf(got), c.level)
			}
		})
	}

	t.Run("create", func(t *testing.T) {
		be, err := local.Create(ctx, filepath.Join(t.TempDir(), "repo"))
		if err != nil {
			t.Fatal(err)
		}
		defer be.Close()
		r, err := Create(ctx, be, wtPassword, CreateOptions{Version: 2, KDFParams: &crypto.Params{N: 1024, R: 8, P: 1}, Compression: CompressionMax})
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		if got := stored(t, r); !bytes.Equal(got, want[zstd.SpeedBestCompression]) {
			t.Errorf("created with max: stored the file at %s", levelOf(got))
		}
	})
}
