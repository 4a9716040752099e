package repo

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"slices"
	"time"

	"github.com/arca-backup/arca/backend"
	"github.com/arca-backup/arca/crypto"
	"github.com/arca-backup/arca/repo/internal/affine"
	"github.com/arca-backup/arca/repo/model"
	"github.com/klauspost/compress/zstd"
)

// zstdWindow is the zstd window of everything the repository compresses,
// as restic's: blobs are at most 8 MiB and gain little from matches
// further back. The library's default (8 MiB) also made the encoder
// allocate a 16 MiB history for any input longer than one block (128
// KiB), such as the index file a backup writes at its end, while its
// read and seal buffers were still in use; that was the peak of a
// backup's memory.
const zstdWindow = 512 << 10

// encoder returns the zstd encoder for level, made on first use and then
// shared by all that the repository compresses at that level: the blobs
// of its Writers and its unpacked files (restic also has one encoder for
// both). It keeps a state per CPU, and a state of the best level holds a
// 32 MiB match table: a second encoder for the unpacked files of a backup
// at --compression max raised its peak memory from 108 to 135 MiB. Like
// restic's, the encoder writes no frame checksum: the MAC covers the
// data, and each frame is four bytes shorter.
func (r *Repository) encoder(level zstd.EncoderLevel) *encoder {
	r.encMu.Lock()
	defer r.encMu.Unlock()
	if enc := r.encs[level]; enc != nil {
		return enc
	}
	states := make([]*zstd.Encoder, runtime.GOMAXPROCS(0))
	for i := range states {
		var err error
		states[i], err = zstd.NewWriter(nil, zstd.WithEncoderLevel(level), zstd.WithEncoderConcurrency(1),
			zstd.WithEncoderCRC(false), zstd.WithWindowSize(zstdWindow))
		if err != nil {
			panic(err) // only invalid options fail
		}
	}
	enc := &encoder{states: affine.New(states)}
	r.encs[level] = enc
	return enc
}

// encoder is a zstd encoder whose states (single-state encoders, each
// making its tables on first use) stay with the CPU that last used them
// where they can (package affine). klauspost's encoder with several
// states queues them in a channel, so that two goroutines compressing in
// turn move each state to the other CPU at almost every blob: on the
// small text files of the bench's source-tree corpus that ran at 260-295
// MB/s on two CPUs, against 350-460 MB/s with the states kept per CPU.
type encoder struct {
	states *affine.Pool[*zstd.Encoder]
}

// EncodeAll appends the zstd frame of src to dst.
func (e *encoder) EncodeAll(src, dst []byte) []byte {
	l, enc, _ := e.states.Get(context.Background()) // cannot fail without a deadline
	defer e.states.Put(l)
	return enc.EncodeAll(src, dst)
}

// Close releases the states.
func (e *encoder) Close() {
	for _, enc := range e.states.Values() {
		enc.Close()
	}
}

// SaveUnpacked compresses (version 2), encrypts and stores a snapshot,
// index or lock file and returns its ID, the SHA-256 of the stored bytes.
func (r *Repository) SaveUnpacked(ctx context.Context, t backend.FileType, plaintext []byte) (model.ID, error) {
	buf, id := r.sealUnpacked(plaintext)
	return r.saveSealed(ctx, t, buf, id)
}

// SaveUnpackedFrom is SaveUnpacked for a plaintext that write writes in
// pieces; size is what it is expected to come to. A large file (an index
// file of 50,000 blobs is 6-8 MB of JSON) is so never whole in memory as
// plaintext: it is compressed as it comes, in frames of unpackedFrame
// bytes each.
func (r *Repository) SaveUnpackedFrom(ctx context.Context, t backend.FileType, size int, write func(io.Writer) error) (model.ID, error) {
	s := r.newSealer(size)
	if err := write(s); err != nil {
		return model.ID{}, err // what failed to encode says what it was
	}
	buf, id := s.seal()
	return r.saveSealed(ctx, t, buf, id)
}

// saveSealed stores buf, an unpacked file of type t as sealed, under id.
func (r *Repository) saveSealed(ctx context.Context, t backend.FileType, buf []byte, id model.ID) (model.ID, error) {
	if t == backend.ConfigFile || t == backend.PackFile || t == backend.KeyFile {
		return model.ID{}, fmt.Errorf("SaveUnpacked: %s files are not unpacked files", t)
	}
	h := backend.Handle{Type: t, Name: id.String()}
	if err := r.be.Save(ctx, h, backend.NewByteReader(buf)); err != nil {
		return model.ID{}, fmt.Errorf("save %s %s: %w", t, id.Str(), err)
	}
	return id, nil
}

// unpackedFrame is the most plaintext of an unpacked file that goes into
// one zstd frame. A compressed file is a sequence of frames, which
// restic's decoder, as arca's, reads as one stream; at zstdWindow no
// match is lost to the frames' boundaries.
const unpackedFrame = zstdWindow

// A sealer makes an unpacked file's stored form from its plaintext,
// written to it: compressed in version 2 (frame by frame), then
// encrypted in place.
type sealer struct {
	r       *Repository
	buf     []byte // ivRoom bytes of room (for the IV), then the version byte and frames, or the plaintext
	pending []byte // version 2: plaintext for the next frame, less than unpackedFrame
	frames  int
}

func (r *Repository) newSealer(size int) *sealer {
	s := &sealer{r: r}
	if r.cfg.Version >= 2 {
		// what compresses well enough to be worth it: most of the
		// plaintext, an index file's JSON, to about half
		size = min(size, size/2+1024)
	}
	s.buf = make([]byte, ivRoom, ivRoom+1+size+crypto.Extension)
	if r.cfg.Version >= 2 {
		s.buf = append(s.buf, 2)
	}
	return s
}

func (s *sealer) Write(p []byte) (int, error) {
	s.write(p, false)
	return len(p), nil
}

// write takes p; with final, p is the last of the plaintext, and its
// tail is compressed from where it is rather than kept for the next
// frame.
func (s *sealer) write(p []byte, final bool) {
	if s.r.cfg.Version < 2 {
		s.buf = append(s.buf, p...)
		return
	}
	if len(s.pending) > 0 {
		k := min(len(p), unpackedFrame-len(s.pending))
		s.pending = append(s.pending, p[:k]...)
		p = p[k:]
		if len(s.pending) < unpackedFrame {
			return
		}
		s.frame(s.pending)
		s.pending = s.pending[:0]
	}
	for len(p) >= unpackedFrame || final && len(p) > 0 {
		n := min(len(p), unpackedFrame)
		s.frame(p[:n])
		p = p[n:]
	}
	s.pending = append(s.pending, p...)
}

func (s *sealer) frame(p []byte) {
	s.buf = s.r.encoder(s.r.unpackedLevel).EncodeAll(p, s.buf)
	s.frames++
}

// seal returns the stored bytes and their ID.
func (s *sealer) seal() ([]byte, model.ID) {
	if s.r.cfg.Version >= 2 && (len(s.pending) > 0 || s.frames == 0) {
		s.frame(s.pending)
	}
	s.buf = slices.Grow(s.buf, crypto.Extension-ivRoom)
	buf := s.r.cipher.Seal(s.buf[:0], s.buf[ivRoom:])
	return buf, model.Hash(buf)
}

// sealUnpacked returns an unpacked file as it is stored (compressed in
// version 2, then encrypted) and its ID, the SHA-256 of those bytes.
func (r *Repository) sealUnpacked(plaintext []byte) ([]byte, model.ID) {
	s := r.newSealer(len(plaintext))
	s.write(plaintext, true)
	return s.seal()
}

// SaveLock stores an encrypted lock file (lock.Store). Its error is the
// backend's, which names the file.
func (r *Repository) SaveLock(ctx context.Context, plaintext []byte) (string, error) {
	buf, id := r.sealUnpacked(plaintext)
	err := r.be.Save(ctx, backend.Handle{Type: backend.LockFile, Name: id.String()}, backend.NewByteReader(buf))
	return id.String(), err
}

// LoadLock returns a lock file's decrypted JSON (lock.Store).
func (r *Repository) LoadLock(ctx context.Context, id string) ([]byte, error) {
	lid, err := model.ParseID(id)
	if err != nil {
		return nil, fmt.Errorf("lock %q: %w", id, err)
	}
	return r.LoadUnpacked(ctx, backend.LockFile, lid)
}

// ListLocks lists lock files with their backend modification times (lock.Store).
func (r *Repository) ListLocks(ctx context.Context, fn func(id string, size int64, modTime time.Time) error) error {
	return r.be.List(ctx, backend.LockFile, func(fi backend.FileInfo) error {
		if _, err := model.ParseID(fi.Name); err != nil {
			return nil
		}
		return fn(fi.Name, fi.Size, fi.ModTime)
	})
}

// RemoveLock deletes a lock file (lock.Store).
func (r *Repository) RemoveLock(ctx context.Context, id string) error {
	return r.be.Remove(ctx, backend.Handle{Type: backend.LockFile, Name: id})
}
