package repo

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"runtime"
	"sync"

	"github.com/arca-backup/arca/backend"
	"github.com/arca-backup/arca/repo/index"
	"github.com/arca-backup/arca/repo/model"
	"github.com/arca-backup/arca/repo/pack"
	"github.com/klauspost/compress/zstd"
)

// IndexProgress follows the loading of the index files: it is called
// with done 0 once the files are listed, then after each file, one call
// at a time. The last call has done == total unless the loading failed.
type IndexProgress func(done, total int)

// start returns the function that reports one more file loaded, for
// calls from several goroutines; nil progress counts nothing.
func (p IndexProgress) start(total int) func() {
	if p == nil {
		return func() {}
	}
	p(0, total)
	var mu sync.Mutex
	done := 0
	return func() {
		mu.Lock()
		defer mu.Unlock()
		done++
		p(done, total)
	}
}

// LoadIndex reads every index file in parallel into the in-memory index,
// reporting to OpenOptions.IndexProgress. It does nothing when the index
// was loaded before.
func (r *Repository) LoadIndex(ctx context.Context) error {
	r.idxMu.Lock()
	defer r.idxMu.Unlock()
	if r.idxLoaded {
		return nil
	}
	var ids []model.ID
	if err := r.List(ctx, backend.IndexFile, func(id model.ID, _ int64) error {
		ids = append(ids, id)
		return nil
	}); err != nil {
		return fmt.Errorf("list index files: %w", err)
	}
	loaded := r.indexProgress.start(len(ids))
	// Index files download in parallel, but only half as many as there
	// are cores are unpacked and decoded at once (one on two cores): the
	// decompressed JSON is several times the size of the download and of
	// the records it becomes. The 131,000 blobs of three index files decode
	// in about 0.1 s on one core of this VM.
	workers := runtime.GOMAXPROCS(0) + int(r.be.Properties().Connections)
	decoding := make(chan struct{}, max(1, runtime.GOMAXPROCS(0)/2))
	err := forEachParallel(ctx, workers, ids, func(ctx context.Context, id model.ID) error {
		raw, err := r.LoadRaw(ctx, backend.IndexFile, id)
		if err != nil {
			return err
		}
		decoding <- struct{}{}
		defer func() { <-decoding }()
		buf, err := r.unpack(backend.IndexFile, id, raw)
		if err != nil {
			return err
		}
		if err := r.idx.AddFile(buf); err != nil {
			return fmt.Errorf("index %s: %w", id, err)
		}
		loaded()
		return nil
	})
	if err != nil {
		return fmt.Errorf("load index: %w", err)
	}
	r.idxLoaded = true
	return nil
}

// LoadIndexFile loads and decodes one index file.
func (r *Repository) LoadIndexFile(ctx context.Context, id model.ID) (*index.File, error) {
	raw, err := r.LoadRaw(ctx, backend.IndexFile, id)
	if err != nil {
		return nil, err
	}
	return r.decodeIndexFile(id, raw)
}

// decodeIndexFile decodes an index file loaded by LoadRaw.
func (r *Repository) decodeIndexFile(id model.ID, raw []byte) (*index.File, error) {
	buf, err := r.unpack(backend.IndexFile, id, raw)
	if err != nil {
		return nil, err
	}
	f, err := index.DecodeFile(buf)
	if err != nil {
		return nil, fmt.Errorf("index %s: %w", id, err)
	}
	return f, nil
}

// LoadBlob returns the plaintext of a blob, trying every pack that holds
// it. buf is reused when it is large enough.
func (r *Repository) LoadBlob(ctx context.Context, t model.BlobType, id model.ID, buf []byte) ([]byte, error) {
	h := model.BlobHandle{ID: id, Type: t}
	copies := r.idx.Lookup(h)
	if len(copies) == 0 {
		return nil, fmt.Errorf("id %v not found in repository", id) // restic's words
	}
	var lastErr error
	for _, pb := range copies {
		out, err := r.loadPackedBlob(ctx, pb, buf)
		if err == nil {
			return out, nil
		}
		lastErr = err
	}
	return nil, lastErr
}

func (r *Repository) loadPackedBlob(ctx context.Context, pb model.PackedBlob, buf []byte) ([]byte, error) {
	return loadStored(ctx, r, pb, func(stored []byte) ([]byte, error) {
		return pack.DecodeBlob(r.cipher, r.dec, pb, stored, buf)
	})
}

// loadStored reads the stored bytes of pb and returns what decode makes
// of them. When decode fails on a cached copy of the pack, the copy is
// dropped and the blob read again from the backend. A tree comes from
// the tree memo where there is one (treeMemo); if it does not decode
// from there, it is read from the backend as any blob, so that its
// damage is reported as it would be without the memo.
func loadStored[T any](ctx context.Context, r *Repository, pb model.PackedBlob, decode func(stored []byte) (T, error)) (T, error) {
	if m := r.treeMemo(); m != nil && pb.Type == model.TreeBlob {
		if stored, ok := m.stored(ctx, r, pb); ok {
			if out, err := decode(stored); err == nil {
				return out, nil
			}
		}
	}
	stored := make([]byte, pb.Length)
	h := backend.Handle{Type: backend.PackFile, Name: pb.PackID.String(), Metadata: pb.Type == model.TreeBlob}
	load := func() (T, error) {
		var none T
		err := r.be.Load(ctx, h, int(pb.Length), int64(pb.Offset), func(rd io.Reader) error {
			_, err := io.ReadFull(rd, stored)
			return err
		})
		if err != nil {
			return none, fmt.Errorf("ReadFull(%v): %w", h, err) // restic's words
		}
		out, err := decode(stored)
		if err != nil {
			return none, damaged(err) // it names the blob and the pack
		}
		return out, nil
	}
	out, err := load()
	if err != nil && ctx.Err() == nil && r.dropCached(h) {
		out, err = load() // the cached copy was damaged
	}
	return out, err
}

// DecodeBlob decrypts, decompresses and verifies one blob stored in pack
// b.PackID (see pack.DecodeBlob).
func (r *Repository) DecodeBlob(b model.PackedBlob, stored, buf []byte) ([]byte, error) {
	return pack.DecodeBlob(r.cipher, r.dec, b, stored, buf)
}

// streamTreesFrom is the size from which a compressed tree is decoded as
// it is decompressed (model.DecodeTreeStream) rather than decompressed
// whole first: a directory of 17,844 files has a tree of 6.3 MB, which
// compresses to 1 MB.
const streamTreesFrom = 1 << 20

// TreeLoadError is LoadTree's error when the tree's blob could not be
// read: Err is what LoadBlob gave. Its text is Err's, which names the
// blob, as restic's commands print it.
type TreeLoadError struct {
	ID  model.ID
	Err error
}

func (e *TreeLoadError) Error() string { return e.Err.Error() }
func (e *TreeLoadError) Unwrap() error { return e.Err }

// LoadTree loads and decodes a tree blob. A blob that cannot be read gives
// a *TreeLoadError, one that is not a tree a damaged error that wraps a
// *model.TreeDecodeError.
func (r *Repository) LoadTree(ctx context.Context, id model.ID) (*model.Tree, error) {
	copies := r.idx.Lookup(model.BlobHandle{ID: id, Type: model.TreeBlob})
	if len(copies) > 0 && copies[0].UncompressedLength >= streamTreesFrom {
		t, err := r.loadTreeStreamed(ctx, copies)
		if err != nil {
			return nil, &TreeLoadError{ID: id, Err: err}
		}
		if t != nil {
			return t, nil
		}
		// not streamable: read it whole
	}
	bp := r.treeBufs.Get()
	buf, err := r.LoadBlob(ctx, model.TreeBlob, id, *bp)
	if err != nil {
		return nil, &TreeLoadError{ID: id, Err: err}
	}
	t, err := model.DecodeTree(buf)
	*bp = buf
	r.treeBufs.Put(bp)
	if err != nil {
		return nil, damaged(fmt.Errorf("tree %s: %w", id.Str(), err))
	}
	return t, nil
}

// ListPack reads the header of a pack and returns its blobs and the
// header's size on disk (encrypted header plus length field).
func (r *Repository) ListPack(ctx context.Context, id model.ID, size int64) ([]model.Blob, int, error) {
	h := backend.Handle{Type: backend.PackFile, Name: id.String()}
	if size <= 0 {
		fi, err := r.be.Stat(ctx, h)
		if err != nil {
			return nil, 0, fmt.Errorf("stat pack %s: %w", id, err)
		}
		size = fi.Size
	}
	readTail := func(n int64) ([]byte, error) {
		if n > size {
			n = size
		}
		buf := make([]byte, n)
		err := r.be.Load(ctx, h, int(n), size-n, func(rd io.Reader) error {
			_, err := io.ReadFull(rd, buf)
			return err
		})
		return buf, err
	}
	tail, err := readTail(pack.EagerHeaderSize)
	if err != nil {
		return nil, 0, fmt.Errorf("read pack %s: %w", id, err)
	}
	hlen, err := pack.HeaderLength(tail, size)
	if err != nil {
		return nil, 0, fmt.Errorf("pack %s: %w", id, err)
	}
	total := hlen + pack.HeaderLengthSize
	if total > len(tail) {
		if tail, err = readTail(int64(total)); err != nil {
			return nil, 0, fmt.Errorf("read pack %s header: %w", id, err)
		}
	}
	enc := tail[len(tail)-total : len(tail)-pack.HeaderLengthSize]
	blobs, err := pack.ParseHeader(r.cipher, enc)
	if err != nil {
		return nil, 0, fmt.Errorf("pack %s: %w", id, err)
	}
	return blobs, total, nil
}

// ForEachIndexFile loads every index file in parallel and calls fn with
// each one, never concurrently. A file that cannot be loaded is passed to
// fn with its error; when fn returns an error, the walk stops with it.
// progress, when not nil, counts the files fn is done with.
func (r *Repository) ForEachIndexFile(ctx context.Context, progress IndexProgress, fn func(id model.ID, f *index.File, err error) error) error {
	var ids []model.ID
	if err := r.List(ctx, backend.IndexFile, func(id model.ID, _ int64) error {
		ids = append(ids, id)
		return nil
	}); err != nil {
		return fmt.Errorf("list index files: %w", err)
	}
	var mu sync.Mutex
	loaded := progress.start(len(ids))
	// as in LoadIndex, files download in parallel and fewer are decoded
	// at once; a decoded file's slot is given back once fn is done with it
	workers := runtime.GOMAXPROCS(0) + int(r.be.Properties().Connections)
	decoding := make(chan struct{}, max(1, runtime.GOMAXPROCS(0)/2))
	return forEachParallel(ctx, workers, ids, func(ctx context.Context, id model.ID) error {
		var f *index.File
		raw, err := r.LoadRaw(ctx, backend.IndexFile, id)
		if err == nil {
			select {
			case decoding <- struct{}{}:
			case <-ctx.Done():
				return ctx.Err()
			}
			defer func() { <-decoding }()
			f, err = r.decodeIndexFile(id, raw)
		}
		mu.Lock()
		defer mu.Unlock()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err := fn(id, f, err); err != nil {
			return err
		}
		loaded()
		return nil
	})
}

// loadTreeStreamed loads a tree from the first of its copies that can be
// read, decoding it as it is decompressed. It returns neither tree nor
// error when the tree is intact but not in the shape that streams.
func (r *Repository) loadTreeStreamed(ctx context.Context, copies []model.PackedBlob) (*model.Tree, error) {
	var err error
	for _, pb := range copies {
		var t *model.Tree
		t, err = loadStored(ctx, r, pb, func(stored []byte) (*model.Tree, error) {
			return r.decodeTreeStream(pb, stored)
		})
		if err == nil {
			return t, nil
		}
	}
	return nil, err
}

// decodeTreeStream decodes the stored bytes of a compressed tree blob b
// as it decompresses them, checking the plaintext's length and hash as
// pack.DecodeBlob does. A blob that is intact but not in the shape
// model.DecodeTreeStream reads gives neither a tree nor an error.
func (r *Repository) decodeTreeStream(b model.PackedBlob, stored []byte) (*model.Tree, error) {
	plain, err := pack.OpenBlob(r.cipher, b, stored)
	if err != nil {
		return nil, err
	}
	zr, err := zstd.NewReader(bytes.NewReader(plain), zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true))
	if err != nil {
		return nil, pack.DecompressError(b, err)
	}
	defer zr.Close()
	h := &hashingReader{r: zr, h: sha256.New()}
	t, err := model.DecodeTreeStream(h)
	if err != nil && !errors.Is(err, model.ErrTreeNotStreamable) {
		return nil, pack.DecompressError(b, err)
	}
	// the plaintext is checked also when it was not streamable: a damaged
	// blob is reported as one, and not handed to the fallback
	if _, err := io.Copy(io.Discard, h); err != nil {
		return nil, pack.DecompressError(b, err)
	}
	if uint(h.n) != b.UncompressedLength {
		return nil, pack.DecompressError(b, fmt.Errorf("got %d bytes, want %d", h.n, b.UncompressedLength))
	}
	if got := model.ID(h.h.Sum(nil)); got != b.ID {
		return nil, &pack.HashError{Blob: b, Got: got}
	}
	return t, nil // nil when not streamable
}

// hashingReader hashes and counts what is read through it.
type hashingReader struct {
	r io.Reader
	h hash.Hash
	n int64
}

func (h *hashingReader) Read(p []byte) (int, error) {
	n, err := h.r.Read(p)
	h.h.Write(p[:n])
	h.n += int64(n)
	return n, err
}
