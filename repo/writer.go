package repo

// The pack writer: how blobs get into a repository.
//
// SaveBlob does the CPU work in the caller's goroutine (callers save from
// several goroutines to use every core): hash, deduplicate against the
// index and the blobs in flight, compress (version 2), seal, check the
// sealed blob, and copy it into one of the open packs of its type. A full
// pack is handed to an upload goroutine that seals the header, names the
// pack by its hash and stores it; only then do its blobs enter the
// in-memory index and, in batches, an index file. Packs are assembled in
// temporary files (package packer), never in memory, so a pack costs the
// same little memory whatever its size; a local repository on the
// temporary directory's file system takes the finished file as it is (a
// link), so its bytes are written once. The number of finished packs
// waiting for upload is bounded by a fixed number of pack slots: when
// uploads fall behind, handing off a full pack blocks and with it every
// saver of that blob type.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/arca-backup/arca/backend"
	"github.com/arca-backup/arca/chunker"
	"github.com/arca-backup/arca/crypto"
	"github.com/arca-backup/arca/repo/index"
	"github.com/arca-backup/arca/repo/internal/affine"
	"github.com/arca-backup/arca/repo/internal/offheap"
	"github.com/arca-backup/arca/repo/model"
	"github.com/arca-backup/arca/repo/packer"
	"github.com/klauspost/compress/zstd"
)

// CompressionMode is restic's --compression: auto, off, fastest, better,
// max. The zero value is auto, restic's default.
type CompressionMode int

// Compression modes.
const (
	CompressionAuto CompressionMode = iota
	CompressionOff
	CompressionFastest
	CompressionBetter
	CompressionMax
)

// ParseCompression parses a --compression value.
func ParseCompression(s string) (CompressionMode, error) {
	switch s {
	case "auto":
		return CompressionAuto, nil
	case "off":
		return CompressionOff, nil
	case "fastest":
		return CompressionFastest, nil
	case "better":
		return CompressionBetter, nil
	case "max":
		return CompressionMax, nil
	}
	return CompressionAuto, fmt.Errorf("invalid compression mode %q, must be one of (auto|off|fastest|better|max)", s)
}

// String returns the mode's flag value.
func (c CompressionMode) String() string {
	switch c {
	case CompressionAuto:
		return "auto"
	case CompressionOff:
		return "off"
	case CompressionFastest:
		return "fastest"
	case CompressionBetter:
		return "better"
	case CompressionMax:
		return "max"
	}
	return "invalid"
}

// Set parses s into c (pflag.Value).
func (c *CompressionMode) Set(s string) error {
	m, err := ParseCompression(s)
	if err != nil {
		return err
	}
	*c = m
	return nil
}

// Type names the flag's value kind in help output (pflag.Value).
func (c *CompressionMode) Type() string { return "mode" }

func (c CompressionMode) zstdLevel() zstd.EncoderLevel {
	switch c {
	case CompressionFastest:
		return zstd.SpeedFastest
	case CompressionBetter:
		return zstd.SpeedBetterCompression
	case CompressionMax:
		return zstd.SpeedBestCompression
	}
	return zstd.SpeedDefault
}

// Pack sizes (restic's --pack-size bounds and default).
const (
	MinPackSize     = 4 << 20
	DefaultPackSize = 16 << 20
	MaxPackSize     = 128 << 20
)

// WriteOptions tune a Writer.
type WriteOptions struct {
	Compression   CompressionMode // ignored (off) for version-1 repositories
	PackSize      int             // target pack size in bytes; 0 = restic's default (16 MiB)
	NoExtraVerify bool            // skip decrypting/checking each blob and pack header before upload
	// IndexInterval is how long stored packs may wait before an index file
	// names them (0: ten minutes, as restic). An interrupted run's packs
	// are reused by the next one only once an index file holds them.
	IndexInterval time.Duration
	// StoreDuplicates stores blobs even when the index already has them in
	// other packs (prune's repacking); blobs saved twice through the same
	// writer at the same time are still stored once.
	StoreDuplicates bool
	// TempDir is where packs are assembled before upload (empty: the
	// system's temporary directory, $TMPDIR, as restic).
	TempDir string
	// Discard makes a dry run: blobs are compressed, sealed, checked and
	// packed as usual, and the sizes reported are those a real run would
	// store, but finished packs are dropped instead of stored, and no
	// index file is written (restic's --dry-run does the same against a
	// backend that drops every write).
	Discard bool
}

// Limits of the writer's batching. Variables of the Writer so tests can
// shrink them.
const (
	// maxPackBlobs keeps the index entry of one pack well below the size
	// limit of an index file, even for packs of tiny blobs.
	maxPackBlobs = 40000
	// index files are written once they hold this many blobs (restic's
	// number), this much JSON, or are this old.
	indexMaxBlobs = 50000
	indexMaxBytes = 6 << 20
	indexHardCap  = 8 << 20
	indexMaxAge   = 10 * time.Minute
)

// WriterStats counts what a Writer stored.
type WriterStats struct {
	Blobs      int   // blobs stored (not counting known ones)
	Packs      int   // pack files uploaded
	PackBytes  int64 // bytes of the uploaded pack files
	IndexFiles int   // index files written
}

// Writer stores blobs in packs. It is safe for concurrent use, except that
// Flush must not run concurrently with SaveBlob.
type Writer struct {
	r        *Repository
	opts     WriteOptions
	cipher   *crypto.Cipher
	enc      *encoder // nil for version-1 repositories
	packSize int
	verify   bool

	// ctx governs uploads; cancel stops them on the first error.
	ctx    context.Context
	cancel context.CancelCauseFunc

	managers [2]*packer.Manager // by blob type - 1
	scratch  *affine.Pool[*scratch]
	long     chan struct{} // held while a blob longer than LongBlob is sealed

	slots   chan struct{} // full packs not yet stored and indexed
	conns   chan struct{} // concurrent backend writes
	uploads sync.WaitGroup

	pendingMu sync.Mutex
	pending   map[model.BlobHandle]struct{}

	// the stored packs wait for an index file in the repository's batch
	// (see indexBatch); idxMu guards the list of the files this writer wrote
	idxMu    sync.Mutex
	indexIDs []model.ID
	// batching limits (constants above; tests shrink them)
	maxPackBlobs  int
	indexMaxBlobs int
	indexMaxBytes int
	indexHardCap  int
	indexMaxAge   time.Duration

	errMu sync.Mutex
	err   error

	blobs     atomic.Int64
	packs     atomic.Int64
	packBytes atomic.Int64
}

// scratch holds one saver's buffers; the pool of them also bounds how
// many blobs are compressed and sealed at once. A scratch stays with the
// CPU that last used it where it can (package affine), as the encoder's
// states do: its decoder and the first pages of its buffer are then still
// in that CPU's caches.
type scratch struct {
	// sealed is the sealed blob; a compressed blob is compressed into it
	// first, behind room for the IV, and sealed in place. It lies in
	// arena, except for a blob longer than any chunk (a huge tree).
	sealed []byte
	// arena holds maxScratch bytes outside the Go heap (see package
	// offheap), made on first use and released when the scratch is
	// collected.
	arena *offheap.Buffer
	piece []byte        // verification reads through it
	dec   *zstd.Decoder // streaming decoder for verification, made on first use
}

// reserve makes sure the seal buffer holds n bytes. The first time it
// maps room for the largest chunk (maxScratch) and keeps it for good:
// growing a buffer step by step left each smaller one behind as garbage,
// and a buffer on the Go heap let the collector defer collecting by as
// much again. Pages no blob reaches are never touched.
func (s *scratch) reserve(n int) {
	if n > maxScratch {
		s.sealed = make([]byte, 0, n)
		return
	}
	if s.arena == nil {
		s.arena = offheap.Alloc(maxScratch)
		runtime.AddCleanup(s, func(b *offheap.Buffer) { b.Free() }, s.arena)
	}
	s.sealed = s.arena.Bytes[:0]
}

// LongBlob is the length above which a blob is handled only while no other
// such blob is: the writer seals one at a time (Writer.long), the checker
// and the restorer read one at a time (package blobroom). Chunks are
// mostly shorter (about 1.5 MiB); after a longer one, the buffer that held
// it gives the pages beyond LongBlob back, so the buffers together hold
// one long blob and otherwise short ones, not one long blob each.
const LongBlob = chunker.MaxSize / 2

// slowScratchKeep is how much of its buffer a scratch keeps after a blob
// when compression is at its slowest (max): the rest goes back to the
// system at once. Compressing a MiB then takes about 30 ms, and touching
// its pages again about 0.1 ms. On the 1 GiB mixed corpus this lowered
// the peak RSS of --compression max from 122 to 116 MiB at the same
// time (four runs each); with faster compression refaulting would cost
// more and the peak is far from the limit, so the other modes keep what
// they touched.
const slowScratchKeep = 1 << 20

// scratchKeep is how much of a scratch's buffer stays resident after a
// blob: all of it, but less after a long blob and under slow compression.
func (w *Writer) scratchKeep(long bool) int {
	switch {
	case w.opts.Compression == CompressionMax:
		return slowScratchKeep
	case long:
		return sealBound(LongBlob)
	}
	return maxScratch
}

// sealBound is the room store needs to seal a blob of n bytes: the IV in
// front, zstd's worst case and the MAC behind.
func sealBound(n int) int { return n + n>>7 + 1<<10 }

// MaxStoredChunk is the most room a data blob of the largest chunk size
// takes sealed (sealBound(chunker.MaxSize)): what a buffer needs to hold
// any chunk as stored in a pack.
const MaxStoredChunk = chunker.MaxSize + chunker.MaxSize>>7 + 1<<10

// maxScratch is the largest buffer a scratch keeps between blobs.
const maxScratch = MaxStoredChunk

// ivRoom is the room in front of a plaintext that Seal needs to seal it
// in place (the IV's size).
const ivRoom = 16

// verifyPiece is how much of a blob verification decrypts at once.
const verifyPiece = 64 << 10

// NewWriter starts writing blobs. The index must be loaded (LoadIndex) so
// that blobs already in the repository are not stored again; NewWriter
// loads it when that has not happened yet. Uploads run until Flush or
// until ctx ends.
func (r *Repository) NewWriter(ctx context.Context, opts WriteOptions) (*Writer, error) {
	switch {
	case opts.PackSize < 0:
		return nil, fmt.Errorf("invalid pack size %d", opts.PackSize)
	case opts.PackSize > MaxPackSize:
		return nil, fmt.Errorf("pack size larger than limit of %v MiB", MaxPackSize>>20)
	case opts.PackSize == 0:
		opts.PackSize = DefaultPackSize
	}
	if opts.Compression < CompressionAuto || opts.Compression > CompressionMax {
		return nil, errors.New("invalid compression mode")
	}
	if r.cfg.Version < 2 {
		opts.Compression = CompressionOff
	}
	if err := r.LoadIndex(ctx); err != nil {
		return nil, err
	}
	w := &Writer{
		r:             r,
		opts:          opts,
		cipher:        r.cipher,
		packSize:      opts.PackSize,
		verify:        !opts.NoExtraVerify,
		pending:       make(map[model.BlobHandle]struct{}),
		maxPackBlobs:  maxPackBlobs,
		indexMaxBlobs: indexMaxBlobs,
		indexMaxBytes: indexMaxBytes,
		indexHardCap:  indexHardCap,
		indexMaxAge:   indexMaxAge,
	}
	if opts.IndexInterval > 0 {
		w.indexMaxAge = opts.IndexInterval
	}
	if r.cfg.Version >= 2 {
		w.enc = r.encoder(opts.Compression.zstdLevel())
	}
	conns := int(r.be.Properties().Connections)
	if conns < 1 {
		conns = 1
	}
	cpus := runtime.GOMAXPROCS(0)
	w.slots = make(chan struct{}, conns+2)
	w.conns = make(chan struct{}, conns)
	scratches := make([]*scratch, cpus)
	for i := range scratches {
		scratches[i] = &scratch{}
	}
	w.scratch = affine.New(scratches)
	w.long = make(chan struct{}, 1)
	for _, t := range []model.BlobType{model.DataBlob, model.TreeBlob} {
		w.managers[t-1] = packer.NewManager(t, opts.PackSize, w.maxPackBlobs, packer.DefaultOpenPacks, opts.TempDir)
		// a pack linked into the repository is written to the disk anyway:
		// start early, so the sync before the link has little left to do
		// (a backup with compression off spent 9% of its time waiting in
		// those syncs, 3% with this)
		w.managers[t-1].WriteBehind = r.be.Properties().LinksFiles && !opts.Discard
	}
	w.ctx, w.cancel = context.WithCancelCause(ctx)
	// a writer that failed or was cancelled releases the temporary files
	// of its open packs (packs being uploaded release their own)
	context.AfterFunc(w.ctx, w.closeOpenPacks)
	return w, nil
}

// Stats returns what the writer has stored so far.
func (w *Writer) Stats() WriterStats {
	w.idxMu.Lock()
	nidx := len(w.indexIDs)
	w.idxMu.Unlock()
	return WriterStats{
		Blobs:      int(w.blobs.Load()),
		Packs:      int(w.packs.Load()),
		PackBytes:  w.packBytes.Load(),
		IndexFiles: nidx,
	}
}

// IndexFiles returns the IDs of the index files written so far.
func (w *Writer) IndexFiles() model.IDs {
	w.idxMu.Lock()
	defer w.idxMu.Unlock()
	return append(model.IDs(nil), w.indexIDs...)
}

func (w *Writer) fail(err error) {
	w.errMu.Lock()
	defer w.errMu.Unlock()
	if w.err == nil {
		w.err = err
		w.cancel(err)
	}
}

func (w *Writer) failed() error {
	w.errMu.Lock()
	defer w.errMu.Unlock()
	return w.err
}

// SaveBlob stores a blob unless the repository (or this writer) already
// has it. id may be the zero ID, then it is computed (SHA-256 of buf). buf
// may be reused by the caller after SaveBlob returns. It returns the
// blob's ID, whether it was known, and the bytes it adds to the
// repository (sealed blob and header entry, plus the header overhead when
// it completed a pack; restic's accounting). Safe for concurrent use; it
// blocks while uploads are behind, so memory stays bounded.
func (w *Writer) SaveBlob(ctx context.Context, t model.BlobType, buf []byte, id model.ID) (model.ID, bool, int, error) {
	return w.save(ctx, t, blobBytes{first: buf, n: len(buf)}, id)
}

// SaveBlobPieces is SaveBlob for a blob given in pieces, which are joined
// in their order: the blob is never in one buffer in memory. Compressed,
// each piece becomes a zstd frame of its own (which restic's decoder, as
// arca's, reads as one stream); in pieces of 512 KiB, the encoder's
// window, nothing is lost to that (see model.TreeEncoder).
func (w *Writer) SaveBlobPieces(ctx context.Context, t model.BlobType, pieces [][]byte, id model.ID) (model.ID, bool, int, error) {
	b := blobBytes{}
	for i, p := range pieces {
		if i == 0 {
			b.first = p
		}
		b.n += len(p)
	}
	if len(pieces) > 1 {
		b.rest = pieces[1:]
	}
	return w.save(ctx, t, b, id)
}

// blobBytes is a blob's plaintext: first, then the pieces of rest, n
// bytes in all.
type blobBytes struct {
	first []byte
	rest  [][]byte
	n     int
}

// all yields the pieces in order.
func (b blobBytes) all(yield func([]byte) bool) {
	if yield(b.first) {
		for _, p := range b.rest {
			if !yield(p) {
				return
			}
		}
	}
}

func (b blobBytes) hash() model.ID {
	if b.rest == nil {
		return hashBlob(b.first)
	}
	h := sha256.New()
	for p := range b.all {
		h.Write(p)
	}
	var id model.ID
	h.Sum(id[:0])
	return id
}

func (w *Writer) save(ctx context.Context, t model.BlobType, b blobBytes, id model.ID) (model.ID, bool, int, error) {
	if t != model.DataBlob && t != model.TreeBlob {
		return id, false, 0, fmt.Errorf("save blob: invalid blob type %v", t)
	}
	if err := w.failed(); err != nil {
		return id, false, 0, err
	}
	if err := ctx.Err(); err != nil {
		return id, false, 0, err
	}
	if uint64(b.n) > math.MaxUint32 {
		return id, false, 0, errors.New("blob is larger than 4GB")
	}
	if id.IsNull() {
		id = b.hash()
	}
	h := model.BlobHandle{ID: id, Type: t}
	if !w.reserve(h) {
		return id, true, 0, nil
	}
	n, added, err := w.store(ctx, t, id, b)
	if err != nil {
		if !added {
			w.release(h)
		}
		return id, false, n, err
	}
	w.blobs.Add(1)
	return id, false, n, nil
}

// SaveStoredBlob adds a blob exactly as another pack of this repository
// stores it (sealed, and compressed when uncompressedLength is not 0),
// without compressing or sealing it again: prune's repacking copies blobs
// this way. The caller must have verified the blob (decrypted it and
// checked its hash). It reports whether the blob was already known to the
// writer (then nothing is stored).
func (w *Writer) SaveStoredBlob(ctx context.Context, t model.BlobType, id model.ID, stored []byte, uncompressedLength int) (bool, error) {
	if t != model.DataBlob && t != model.TreeBlob {
		return false, fmt.Errorf("save blob: invalid blob type %v", t)
	}
	if uncompressedLength != 0 && w.r.cfg.Version < 2 {
		return false, errors.New("save blob: compressed blob in a version 1 repository")
	}
	if err := w.failed(); err != nil {
		return false, err
	}
	if err := ctx.Err(); err != nil {
		return false, err
	}
	h := model.BlobHandle{ID: id, Type: t}
	if !w.reserve(h) {
		return true, nil
	}
	// once in an open pack the blob is stored even when handing the pack
	// off fails, so it stays reserved
	if _, err := w.addToPack(ctx, t, id, stored, uncompressedLength); err != nil {
		return false, err
	}
	w.blobs.Add(1)
	return false, nil
}

// Compresses reports whether SaveBlob stores blobs of type t compressed.
func (w *Writer) Compresses(t model.BlobType) bool { return w.compresses(t) }

// reserve claims h for this writer; false means the blob is already in
// the repository or being stored.
func (w *Writer) reserve(h model.BlobHandle) bool {
	w.pendingMu.Lock()
	defer w.pendingMu.Unlock()
	if _, ok := w.pending[h]; ok {
		return false
	}
	// blobs enter the index before they leave the pending set, so checking
	// both under pendingMu cannot miss a blob on its way between them
	if !w.opts.StoreDuplicates && w.r.idx.Has(h) {
		return false
	}
	w.pending[h] = struct{}{}
	return true
}

func (w *Writer) release(h model.BlobHandle) {
	w.pendingMu.Lock()
	delete(w.pending, h)
	w.pendingMu.Unlock()
}

var zeroChunkID = sync.OnceValue(func() model.ID { return model.Hash(make([]byte, chunker.MinSize)) })

// hashBlob returns the SHA-256 of buf, with a shortcut for the all-zero
// chunks of minimum size that sparse files produce in bulk.
func hashBlob(buf []byte) model.ID {
	if chunker.ZeroChunk(buf) {
		return zeroChunkID()
	}
	return model.Hash(buf)
}

// compresses reports whether blobs of type t are stored compressed: in
// version 2 always, except data blobs with compression off.
func (w *Writer) compresses(t model.BlobType) bool {
	return w.enc != nil && (t == model.TreeBlob || w.opts.Compression != CompressionOff)
}

// store compresses, seals, checks and packs one blob. added reports
// whether the blob made it into a pack (it then is stored even if err is
// set). One buffer of about the blob's size is all it needs: compression
// writes into it and sealing encrypts there in place; verification
// decrypts and decompresses in small pieces.
func (w *Writer) store(ctx context.Context, t model.BlobType, id model.ID, b blobBytes) (n int, added bool, err error) {
	long := b.n > LongBlob
	if long {
		select {
		case w.long <- struct{}{}:
		case <-ctx.Done():
			return 0, false, ctx.Err()
		}
		defer func() { <-w.long }()
	}
	lease, s, err := w.scratch.Get(ctx)
	if err != nil {
		return 0, false, err
	}
	defer func() {
		if s.arena != nil {
			s.arena.Discard(w.scratchKeep(long)) // keeping all of it discards nothing
		}
		s.sealed = nil
		w.scratch.Put(lease)
	}()
	ulen := 0
	compress := b.n > 0 && w.compresses(t)
	if !compress && b.rest == nil {
		s.reserve(sealBound(b.n))
		s.sealed = w.cipher.Seal(s.sealed[:0], b.first) // no copy before sealing
	} else {
		// compressed, a zstd frame per piece, or copied, after the IV's
		// room, then sealed in place; the compressed form of a tree in
		// pieces is a fraction of it, so for one only the scratch's own
		// buffer is reserved, which grows if need be
		room := sealBound(b.n)
		if compress && b.rest != nil {
			room = min(room, maxScratch)
		}
		s.reserve(room)
		p := s.sealed[:ivRoom]
		for piece := range b.all {
			if compress {
				p = w.enc.EncodeAll(piece, p)
			} else {
				p = append(p, piece...)
			}
		}
		p = slices.Grow(p, crypto.Extension-ivRoom)
		s.sealed = w.cipher.Seal(p[:0], p[ivRoom:])
	}
	if compress {
		ulen = b.n
	}
	if w.verify {
		if err := w.checkSealed(s, b, compress); err != nil {
			err = fmt.Errorf("detected data corruption while saving blob %v: %w", id, err)
			w.fail(err)
			return 0, false, err
		}
	}
	n, err = w.addToPack(ctx, t, id, s.sealed, ulen)
	return n, true, err
}

// checkSealed is the extra verification: the sealed blob must open and,
// decompressed when it is compressed, give back exactly the original. The
// original's hash is known, so comparing bytes is enough; nothing is
// hashed again.
func (w *Writer) checkSealed(s *scratch, orig blobBytes, compressed bool) error {
	rd, err := w.cipher.OpenReader(s.sealed)
	if err != nil {
		return fmt.Errorf("decryption failed: %w", err)
	}
	cmp := &equalWriter{want: orig.first, rest: orig.rest}
	if compressed {
		if s.dec == nil {
			if s.dec, err = zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true)); err != nil {
				return fmt.Errorf("zstd decoder: %w", err)
			}
		}
		if err := s.dec.Reset(rd); err != nil {
			return fmt.Errorf("decompression failed: %w", err)
		}
		_, err = s.dec.WriteTo(cmp)
		s.dec.Reset(nil) // drop the reference to the blob
	} else {
		if s.piece == nil {
			s.piece = make([]byte, verifyPiece)
		}
		_, err = io.CopyBuffer(cmp, rd, s.piece)
	}
	switch {
	case errors.Is(err, errDiffers) || err == nil && (len(cmp.want) > 0 || len(cmp.rest) > 0):
		return errors.New("decrypted data differs from the original")
	case err != nil && compressed:
		return fmt.Errorf("decompression failed: %w", err)
	case err != nil:
		return fmt.Errorf("decryption failed: %w", err)
	}
	return nil
}

var errDiffers = errors.New("data differs")

// equalWriter accepts exactly the bytes of want and then of the pieces
// of rest, in order.
type equalWriter struct {
	want []byte
	rest [][]byte
}

func (e *equalWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		for len(e.want) == 0 && len(e.rest) > 0 {
			e.want, e.rest = e.rest[0], e.rest[1:]
		}
		k := min(len(p), len(e.want))
		if k == 0 || !bytes.Equal(p[:k], e.want[:k]) {
			return 0, errDiffers
		}
		e.want, p = e.want[k:], p[k:]
	}
	return n, nil
}

// addToPack puts a sealed blob into an open pack of its type and hands
// full packs off for upload.
func (w *Writer) addToPack(ctx context.Context, t model.BlobType, id model.ID, sealed []byte, ulen int) (int, error) {
	n, err := w.managers[t-1].Add(id, sealed, ulen, func(p *packer.Packer) error {
		return w.handoff(ctx, p)
	})
	if errors.Is(err, packer.ErrClosed) {
		// the writer failed or was cancelled: report why
		err = context.Cause(w.ctx)
	} else if err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
		w.fail(err) // the temporary file failed: the pack's blobs are lost
	}
	return n, err
}

// handoff waits for a free pack slot and starts the pack's upload.
func (w *Writer) handoff(ctx context.Context, p *packer.Packer) error {
	select {
	case w.slots <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	case <-w.ctx.Done():
		return context.Cause(w.ctx)
	}
	w.uploads.Add(1)
	go w.upload(p)
	return nil
}

func (w *Writer) upload(p *packer.Packer) {
	defer w.uploads.Done()
	defer func() { <-w.slots }()
	err := w.uploadPack(w.ctx, p)
	if cerr := p.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("close temporary pack file: %w", cerr)
	}
	if err != nil {
		w.fail(err)
	}
}

// closeOpenPacks drops the packs still open in the managers; SaveBlob
// fails afterwards.
func (w *Writer) closeOpenPacks() {
	for _, m := range w.managers {
		m.Close()
	}
}

// uploadPack finishes, stores and indexes one pack.
func (w *Writer) uploadPack(ctx context.Context, p *packer.Packer) error {
	if err := context.Cause(ctx); err != nil {
		return err
	}
	pk, err := p.Finalize(w.cipher, w.verify)
	if err != nil {
		return fmt.Errorf("finish %v pack: %w", p.Type(), err)
	}
	if w.opts.Discard {
		// its blobs stay reserved (pending), so they are still packed
		// only once in this run
		w.packs.Add(1)
		w.packBytes.Add(pk.Size)
		return nil
	}
	select {
	case w.conns <- struct{}{}:
	case <-ctx.Done():
		return context.Cause(ctx)
	}
	h := backend.Handle{Type: backend.PackFile, Name: pk.ID.String(), Metadata: p.Type() == model.TreeBlob}
	err = w.r.be.Save(ctx, h, p.Reader())
	<-w.conns
	if err != nil {
		return fmt.Errorf("save pack %s: %w", pk.ID.Str(), err)
	}
	w.packs.Add(1)
	w.packBytes.Add(pk.Size)
	blobs := pk.Blobs
	// the pack joins the repository's index batch before its blobs become
	// visible in the index: a writer that skips one of them as known then
	// finds the pack in the batch when it flushes
	err = w.indexPack(ctx, pk.ID, blobs)
	w.r.idx.AddPack(pk.ID, blobs)
	w.pendingMu.Lock()
	for _, b := range blobs {
		delete(w.pending, b.BlobHandle)
	}
	w.pendingMu.Unlock()
	return err
}

// indexJSONSize estimates the bytes an index file spends on one blob.
func indexJSONSize(b model.Blob) int {
	n := len(`{"id":"","type":"data","offset":,"length":},`) + 2*model.IDSize + digits(b.Offset) + digits(b.Length)
	if b.UncompressedLength != 0 {
		n += len(`,"uncompressed_length":`) + digits(b.UncompressedLength)
	}
	return n
}

func digits(v uint) int {
	n := 1
	for v >= 10 {
		v /= 10
		n++
	}
	return n
}

// indexPack adds a stored pack to the batch for the next index file and
// writes that file when the batch is large or old enough.
func (w *Writer) indexPack(ctx context.Context, id model.ID, blobs []model.Blob) error {
	pj := index.PackJSON{ID: id, Blobs: make([]index.BlobJSON, len(blobs))}
	size := len(`{"id":"","blobs":[]},`) + 2*model.IDSize
	for i, b := range blobs {
		pj.Blobs[i] = index.BlobJSON{ID: b.ID, Type: b.Type, Offset: b.Offset, Length: b.Length, UncompressedLength: b.UncompressedLength}
		size += indexJSONSize(b)
	}
	b := &w.r.batch
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.packs) > 0 && b.bytes+size > w.indexHardCap {
		if err := w.writeBatchLocked(ctx); err != nil {
			return err
		}
	}
	b.add(pj, size)
	if b.blobs >= w.indexMaxBlobs || b.bytes >= w.indexMaxBytes || time.Since(b.since) >= w.indexMaxAge {
		return w.writeBatchLocked(ctx)
	}
	return nil
}

// writeBatchLocked writes the repository's batch of stored packs as one
// index file, which this writer counts as its own. The caller holds the
// batch's lock.
func (w *Writer) writeBatchLocked(ctx context.Context) error {
	id, written, err := w.r.batch.write(ctx, w.r)
	if err != nil || !written {
		return err
	}
	w.idxMu.Lock()
	w.indexIDs = append(w.indexIDs, id)
	w.idxMu.Unlock()
	return nil
}

// writeBatch writes the repository's batch of stored packs, if any, as one
// index file; a discarding writer writes none.
func (w *Writer) writeBatch(ctx context.Context) error {
	if w.opts.Discard {
		return nil
	}
	w.r.batch.mu.Lock()
	defer w.r.batch.mu.Unlock()
	return w.writeBatchLocked(ctx)
}

// Flush finishes and uploads all open packs and writes the index files for
// everything saved. After Flush, SaveBlob may be called again (for a new
// phase) or the writer dropped. When ctx ends first, the uploads are
// cancelled and the writer cannot be used again.
func (w *Writer) Flush(ctx context.Context) error {
	if err := w.failed(); err != nil {
		return err
	}
	for _, m := range w.managers {
		packs, err := m.Flush()
		if err != nil {
			w.fail(err)
			w.uploads.Wait()
			return err
		}
		for i, p := range packs {
			if err := w.handoff(ctx, p); err != nil {
				for _, q := range packs[i:] {
					q.Close()
				}
				w.fail(err)
				w.uploads.Wait()
				return err
			}
		}
	}
	done := make(chan struct{})
	go func() {
		w.uploads.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		w.fail(ctx.Err())
		<-done
		return ctx.Err()
	}
	if err := w.failed(); err != nil {
		return err
	}
	// the batch also holds the packs of other writers whose blobs this
	// one skipped as known: its snapshot needs them indexed too
	if err := w.writeBatch(ctx); err != nil {
		w.fail(err)
		return err
	}
	return nil
}

// SnapshotID returns the ID a snapshot file would be stored under
// without storing it, as restic reports one for a dry run. The file's
// encryption is random, so each call gives another ID.
func (r *Repository) SnapshotID(sn *model.Snapshot) (model.ID, error) {
	buf, err := json.Marshal(sn)
	if err != nil {
		return model.ID{}, fmt.Errorf("encode snapshot: %w", err)
	}
	_, id := r.sealUnpacked(buf)
	return id, nil
}

// SaveSnapshot stores a snapshot file (call after Flush) and returns its
// ID, which it also sets in sn.ID.
func (r *Repository) SaveSnapshot(ctx context.Context, sn *model.Snapshot) (model.ID, error) {
	buf, err := json.Marshal(sn)
	if err != nil {
		return model.ID{}, fmt.Errorf("encode snapshot: %w", err)
	}
	id, err := r.SaveUnpacked(ctx, backend.SnapshotFile, buf)
	if err != nil {
		return model.ID{}, fmt.Errorf("save snapshot: %w", err)
	}
	sn.ID = id
	return id, nil
}
