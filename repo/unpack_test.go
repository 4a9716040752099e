package repo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
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

// zstdFrames splits a sequence of zstd frames into its frames, by their
// headers and block headers.
func zstdFrames(t *testing.T, b []byte) [][]byte {
	t.Helper()
	var frames [][]byte
	for len(b) > 0 {
		if len(b) < 6 || !bytes.Equal(b[:4], []byte{0x28, 0xb5, 0x2f, 0xfd}) {
			t.Fatalf("frame %d does not start with the zstd magic", len(frames))
		}
		fhd := b[4]
		single := fhd&0x20 != 0
		n := 5
		if !single {
			n++ // window descriptor
		}
		n += []int{0, 1, 2, 4}[fhd&3]
		fcs := []int{0, 2, 4, 8}[fhd>>6]
		if fcs == 0 && single {
			fcs = 1
		}
		n += fcs
		for last := false; !last; {
			if n+3 > len(b) {
				t.Fatalf("frame %d ends inside a block header", len(frames))
			}
			h := int(b[n]) | int(b[n+1])<<8 | int(b[n+2])<<16
			last = h&1 != 0
			size := h >> 3
			if (h>>1)&3 == 1 { // an RLE block stores one byte
				size = 1
			}
			n += 3 + size
		}
		if fhd&0x04 != 0 {
			n += 4
		}
		if n > len(b) {
			t.Fatalf("frame %d is cut short", len(frames))
		}
		frames = append(frames, b[:n])
		b = b[n:]
	}
	return frames
}

// A large unpacked file is compressed in frames of at most unpackedFrame
// bytes of plaintext, whichever way it is written, and reads back whole.
func TestSaveUnpackedInFrames(t *testing.T) {
	ctx := context.Background()
	r, _ := wtLocalRepo(t)
	rng := rand.New(rand.NewPCG(1, 2))
	var plain []byte
	for len(plain) < 5*unpackedFrame/2 {
		plain = fmt.Appendf(plain, `{"id":"%016x%016x","offset":%d},`, rng.Uint64(), rng.Uint64(), rng.IntN(1<<24))
	}
	writes := map[string]func(w io.Writer) error{
		"at once": func(w io.Writer) error { _, err := w.Write(plain); return err },
		"in pieces": func(w io.Writer) error {
			for rest := plain; len(rest) > 0; {
				n := min(len(rest), 1+rng.IntN(3*unpackedFrame/4))
				if _, err := w.Write(rest[:n]); err != nil {
					return err
				}
				rest = rest[n:]
			}
			return nil
		},
	}
	for name, write := range writes {
		id, err := r.SaveUnpackedFrom(ctx, backend.IndexFile, len(plain), write)
		if err != nil {
			t.Fatal(err)
		}
		raw, err := r.LoadRaw(ctx, backend.IndexFile, id)
		if err != nil {
			t.Fatal(err)
		}
		p, err := r.Key().Open(nil, raw)
		if err != nil {
			t.Fatal(err)
		}
		if p[0] != 2 {
			t.Fatalf("%s: version byte %d", name, p[0])
		}
		frames := zstdFrames(t, p[1:])
		if want := (len(plain) + unpackedFrame - 1) / unpackedFrame; len(frames) != want {
			t.Errorf("%s: %d frames for %d bytes, want %d", name, len(frames), len(plain), want)
		}
		var joined []byte
		for i, f := range frames {
			d, err := r.dec.DecodeAll(f, nil)
			if err != nil {
				t.Fatalf("%s: frame %d: %v", name, i, err)
			}
			if len(d) > unpackedFrame {
				t.Errorf("%s: frame %d holds %d bytes", name, i, len(d))
			}
			joined = append(joined, d...)
		}
		if !bytes.Equal(joined, plain) {
			t.Errorf("%s: frames do not join to the plaintext", name)
		}
		got, err := r.LoadUnpacked(ctx, backend.IndexFile, id)
		if err != nil || !bytes.Equal(got, plain) {
			t.Errorf("%s: LoadUnpacked: %v (%d bytes, want %d)", name, err, len(got), len(plain))
		}
	}
}
