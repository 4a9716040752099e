package repo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/arca-backup/arca/backend"
	"github.com/arca-backup/arca/backend/local"
	"github.com/arca-backup/arca/backend/mem"
	"github.com/arca-backup/arca/crypto"
	"github.com/arca-backup/arca/repo/model"
	"github.com/arca-backup/arca/repo/packer"
)

// openTempPacks counts this process's open temporary pack files in dir
// (unlinked and unnamed ones too); -1 where /proc/self/fd does not exist.
func openTempPacks(t *testing.T, dir string) int {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	n := 0
	for _, fd := range fds {
		target, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name()))
		// a named (then unlinked) file shows its name, an unnamed one
		// (O_TMPFILE) "#<inode> (deleted)"
		name, ok := strings.CutPrefix(target, dir+string(filepath.Separator))
		if err == nil && ok && (strings.HasPrefix(name, packer.TempPrefix) || strings.HasPrefix(name, "#")) {
			n++
		}
	}
	return n
}

// waitNoTempPacks fails unless dir is empty and, soon, no file in it is
// open any more (a cancelled writer releases its files in the background).
func waitNoTempPacks(t *testing.T, dir string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for openTempPacks(t, dir) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d temporary pack files still open", openTempPacks(t, dir))
		}
		time.Sleep(10 * time.Millisecond)
	}
	left, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 0 {
		t.Fatalf("%d files left in the temporary directory, e.g. %s", len(left), left[0].Name())
	}
}

// TestWriterTempFiles: packs are assembled in temporary files in
// WriteOptions.TempDir (open while their upload runs), and every one of
// them is released after a successful run, after a failed upload and after
// a cancellation.
func TestWriterTempFiles(t *testing.T) {
	if openTempPacks(t, os.TempDir()) < 0 {
		t.Skip("no /proc/self/fd to count open files")
	}
	for _, tc := range []string{"ok", "upload error", "cancel"} {
		t.Run(tc, func(t *testing.T) {
			tmp := t.TempDir()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			rec := &wtRecorder{Backend: mem.NewWithProperties(backend.Properties{Connections: 2})}
			boom := errors.New("disk on fire")
			var mu sync.Mutex
			var openDuringUpload []int
			rec.onPack = func(ctx context.Context, n int) error {
				mu.Lock()
				openDuringUpload = append(openDuringUpload, openTempPacks(t, tmp))
				mu.Unlock()
				switch {
				case tc == "upload error" && n == 3:
					return &backend.PermanentError{Err: boom}
				case tc == "cancel" && n == 3:
					cancel()
					return ctx.Err()
				}
				return nil
			}
			r := wtMemRepo(t, 2, rec)
			w, err := r.NewWriter(ctx, WriteOptions{PackSize: 32 << 10, TempDir: tmp})
			if err != nil {
				t.Fatal(err)
			}
			rng := rand.New(rand.NewPCG(5, 5))
			buf := make([]byte, 9<<10)
			var saveErr error
			for i := 0; i < 60 && saveErr == nil; i++ {
				for j := range buf {
					buf[j] = byte(rng.Uint32())
				}
				typ := model.DataBlob
				if i%7 == 0 {
					typ = model.TreeBlob // keeps packs of both types open
				}
				_, _, _, saveErr = w.SaveBlob(ctx, typ, buf, model.ID{})
			}
			if saveErr == nil {
				saveErr = w.Flush(ctx)
			}
			switch tc {
			case "ok":
				if saveErr != nil {
					t.Fatal(saveErr)
				}
				if w.Stats().Packs < 4 {
					t.Fatalf("only %d packs written", w.Stats().Packs)
				}
			case "upload error":
				if !errors.Is(saveErr, boom) {
					t.Fatalf("error %v, want the backend's", saveErr)
				}
			case "cancel":
				if !errors.Is(saveErr, context.Canceled) {
					t.Fatalf("error %v, want cancellation", saveErr)
				}
			}
			// an upload that the failure did not stop may still be
			// running: it takes mu, which must not be held while waiting
			// for its file to be closed
			mu.Lock()
			seen := slices.Clone(openDuringUpload)
			mu.Unlock()
			if len(seen) == 0 || seen[0] < 1 {
				t.Fatalf("open temporary pack files during uploads: %v; packs do not go through TempDir", seen)
			}
			waitNoTempPacks(t, tmp)
		})
	}
}

// TestWriterLargePackMemory writes a pack far larger than the memory the
// writer allocates meanwhile: packs live in temporary files, not in
// memory. The pack reads back, and restic (when available) checks it.
func TestWriterLargePackMemory(t *testing.T) {
	ctx := context.Background()
	r, dir := wtLocalRepo(t)
	const blobSize, blobs = 1 << 20, 32
	w, err := r.NewWriter(ctx, WriteOptions{PackSize: 64 << 20, Compression: CompressionOff, TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(7, 7))
	buf := make([]byte, blobSize)
	for i := range buf {
		buf[i] = byte(rng.Uint32())
	}
	var ids []model.ID
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for i := range blobs {
		buf[0], buf[1] = byte(i), byte(i>>8)
		id, _, _, err := w.SaveBlob(ctx, model.DataBlob, buf, model.ID{})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	st := w.Stats()
	if st.Packs != 1 || st.PackBytes < blobs*blobSize {
		t.Fatalf("stats %+v, want one pack of all %d MiB", st, blobs*blobSize>>20)
	}
	allocated := after.TotalAlloc - before.TotalAlloc
	t.Logf("allocated %d KiB while writing a %d MiB pack", allocated>>10, st.PackBytes>>20)
	if allocated > blobs*blobSize/2 {
		t.Fatalf("allocated %d MiB while writing a %d MiB pack: the pack is held in memory", allocated>>20, st.PackBytes>>20)
	}
	for i, id := range ids {
		got, err := r.LoadBlob(ctx, model.DataBlob, id, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got[0] != byte(i) || model.Hash(got) != id {
			t.Fatalf("blob %d reads back wrong", i)
		}
	}
	if os.Getenv("RESTIC_BIN") == "" {
		return
	}
	tree := wtSaveTree(t, ctx, w, nil)
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	wtSnapshot(t, ctx, r, tree, "h")
	CheapenKey(t, dir, wtPassword)
	if out := wtMustRestic(t, dir, "check", "--read-data"); !strings.Contains(out, "no errors were found") {
		t.Fatalf("restic check:\n%s", out)
	}
}

// TestWriterCheckSealed: the extra verification, which decrypts and
// decompresses in pieces, accepts a correctly sealed blob and rejects a
// damaged one, one that decodes to other data, and data that is not zstd.
func TestWriterCheckSealed(t *testing.T) {
	ctx := context.Background()
	r := wtMemRepo(t, 2, nil)
	w, err := r.NewWriter(ctx, WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(8, 8))
	orig := make([]byte, 300<<10)
	for i := range orig {
		orig[i] = byte('a' + rng.IntN(4)) // compressible
	}
	for _, compressed := range []bool{false, true} {
		s := &scratch{}
		plain := orig
		if compressed {
			plain = w.enc.EncodeAll(orig, nil)
			if len(plain) >= len(orig) {
				t.Fatal("test data does not compress")
			}
		}
		s.sealed = w.cipher.Seal(nil, plain)
		for _, pieces := range []int{0, 1, 7000, 100 << 10} {
			if err := w.checkSealed(s, inPieces(orig, pieces), compressed); err != nil {
				t.Fatalf("compressed=%v, pieces of %d: intact blob rejected: %v", compressed, pieces, err)
			}
		}
		other := bytes.Clone(orig)
		other[len(other)/2] ^= 1
		for name, want := range map[string][]byte{"other data": other, "shorter": orig[:len(orig)-1], "longer": append(bytes.Clone(orig), 'a')} {
			for _, pieces := range []int{0, 7000} {
				if err := w.checkSealed(s, inPieces(want, pieces), compressed); err == nil || !strings.Contains(err.Error(), "differs") {
					t.Fatalf("compressed=%v, %s, pieces of %d: %v", compressed, name, pieces, err)
				}
			}
		}
		good := s.sealed
		s.sealed = bytes.Clone(good)
		s.sealed[100] ^= 4
		if err := w.checkSealed(s, inPieces(orig, 0), compressed); err == nil || !strings.Contains(err.Error(), "decryption failed") {
			t.Fatalf("compressed=%v, damaged: %v", compressed, err)
		}
	}
	s := &scratch{sealed: w.cipher.Seal(nil, orig)}
	if err := w.checkSealed(s, inPieces(orig, 0), true); err == nil || !strings.Contains(err.Error(), "decompression failed") {
		t.Fatalf("not zstd: %v", err)
	}
}

// inPieces returns b as blobBytes: whole for n 0, else in pieces of n
// bytes with an empty piece after the first.
func inPieces(b []byte, n int) blobBytes {
	if n == 0 {
		return blobBytes{first: b, n: len(b)}
	}
	bb := blobBytes{first: b[:min(n, len(b))], rest: [][]byte{{}}, n: len(b)}
	for p := b[len(bb.first):]; len(p) > 0; p = p[min(n, len(p)):] {
		bb.rest = append(bb.rest, p[:min(n, len(p))])
	}
	return bb
}

// TestWriterScratchReuse: blobs sealed one after the other through the
// writer's reused scratch buffers (growing and shrinking, compressed and
// not, written to the same packs) all read back intact after the packs
// are stored, although the caller overwrites its buffer after each save.
func TestWriterScratchReuse(t *testing.T) {
	ctx := context.Background()
	for _, mode := range []CompressionMode{CompressionAuto, CompressionOff} {
		r := wtMemRepo(t, 2, nil)
		w, err := r.NewWriter(ctx, WriteOptions{Compression: mode})
		if err != nil {
			t.Fatal(err)
		}
		rng := rand.New(rand.NewPCG(11, uint64(mode)))
		sizes := []int{300 << 10, 5 << 10, 700 << 10, 10, 200 << 10, 1 << 20, 1}
		buf := make([]byte, 1<<20)
		var want [][]byte
		var ids []model.ID
		for i, n := range sizes {
			b := buf[:n]
			for j := range b {
				if i%2 == 0 {
					b[j] = byte(rng.Uint32()) // random
				} else {
					b[j] = byte('a' + rng.IntN(3)) // compressible
				}
			}
			want = append(want, bytes.Clone(b))
			id, known, _, err := w.SaveBlob(ctx, model.DataBlob, b, model.ID{})
			if err != nil || known {
				t.Fatalf("blob %d: known=%v, %v", i, known, err)
			}
			ids = append(ids, id)
			for j := range b {
				b[j] = 0xee // the caller reuses its buffer
			}
		}
		if err := w.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		for i, id := range ids {
			got, err := r.LoadBlob(ctx, model.DataBlob, id, nil)
			if err != nil {
				t.Fatalf("%v: blob %d: %v", mode, i, err)
			}
			if !bytes.Equal(got, want[i]) {
				t.Fatalf("%v: blob %d (%d bytes) reads back different", mode, i, len(want[i]))
			}
		}
	}
}

// wtLocalRepo creates a version 2 repository in a local directory (no
// restic needed) and returns it with the directory.
func wtLocalRepo(t testing.TB) (*Repository, string) {
	t.Helper()
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "repo")
	be, err := local.Create(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { be.Close() })
	r, err := Create(ctx, be, wtPassword, CreateOptions{Version: 2, KDFParams: &crypto.Params{N: 1024, R: 8, P: 1}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	return r, dir
}

// TestSaveBlobPieces: a tree given in pieces is stored as the blob of
// the pieces joined, under the joined bytes' hash; compressed, each
// piece is a zstd frame of its own, which LoadBlob reads as one stream.
// Uncompressed (version 1) the pieces are stored as they are. A second
// save of the same pieces finds the blob known.
func TestSaveBlobPieces(t *testing.T) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(21, 8))
	var plain []byte
	for len(plain) < 1300<<10 {
		plain = fmt.Appendf(plain, `{"name":"file-%06d","size":%d,"mtime":"2026-12-%02dT10:00:00Z"},`, rng.IntN(1e6), rng.IntN(1<<20), 1+rng.IntN(28))
	}
	pieces := [][]byte{plain[:512<<10], plain[512<<10 : 1024<<10], {}, plain[1024<<10:]}
	for _, version := range []uint{2, 1} { // trees are compressed in version 2 whatever the mode
		r := wtMemRepo(t, version, nil)
		w, err := r.NewWriter(ctx, WriteOptions{Compression: CompressionOff})
		if err != nil {
			t.Fatal(err)
		}
		id, known, _, err := w.SaveBlobPieces(ctx, model.TreeBlob, pieces, model.ID{})
		if err != nil || known {
			t.Fatalf("v%d: known=%v, %v", version, known, err)
		}
		if id != model.Hash(plain) {
			t.Fatalf("v%d: ID %v, want the hash of the joined pieces", version, id.Str())
		}
		if _, known, _, err := w.SaveBlobPieces(ctx, model.TreeBlob, pieces, model.ID{}); err != nil || !known {
			t.Fatalf("v%d: second save: known=%v, %v", version, known, err)
		}
		if err := w.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		got, err := r.LoadBlob(ctx, model.TreeBlob, id, nil)
		if err != nil || !bytes.Equal(got, plain) {
			t.Fatalf("v%d: blob reads back different (%d of %d bytes): %v", version, len(got), len(plain), err)
		}
		copies := r.Index().Lookup(model.BlobHandle{ID: id, Type: model.TreeBlob})
		if len(copies) != 1 {
			t.Fatalf("v%d: index has %v", version, copies)
		}
		stored, err := loadStored(ctx, r, copies[0], func(b []byte) ([]byte, error) { return b, nil })
		if err != nil {
			t.Fatal(err)
		}
		opened, err := r.cipher.Open(nil, stored)
		if err != nil {
			t.Fatal(err)
		}
		if version == 1 {
			if copies[0].IsCompressed() || !bytes.Equal(opened, plain) {
				t.Errorf("v1: stored compressed=%v, %d bytes", copies[0].IsCompressed(), len(opened))
			}
			continue
		}
		if int(copies[0].UncompressedLength) != len(plain) {
			t.Errorf("v2: uncompressed length %d, want %d", copies[0].UncompressedLength, len(plain))
		}
		frames := zstdFrames(t, opened)
		if len(frames) != len(pieces) {
			t.Fatalf("v2: %d zstd frames for %d pieces", len(frames), len(pieces))
		}
		for i, f := range frames {
			d, err := r.dec.DecodeAll(f, nil)
			if err != nil || !bytes.Equal(d, pieces[i]) {
				t.Errorf("v2: frame %d holds %d bytes, piece %d: %v", i, len(d), len(pieces[i]), err)
			}
		}
	}
}
