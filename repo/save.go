package repo

import (
	"context"
	"fmt"
	"runtime"
	"time"

	"github.com/arca-backup/arca/backend"
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
	if t == backend.ConfigFile || t == backend.PackFile || t == backend.KeyFile {
		return model.ID{}, fmt.Errorf("SaveUnpacked: %s files are not unpacked files", t)
	}
	buf, id := r.sealUnpacked(plaintext)
	h := backend.Handle{Type: t, Name: id.String()}
	if err := r.be.Save(ctx, h, backend.NewByteReader(buf)); err != nil {
		return model.ID{}, fmt.Errorf("save %s %s: %w", t, id.Str(), err)
	}
	return id, nil
}

// sealUnpacked returns an unpacked file as it is stored (compressed in
// version 2, then encrypted) and its ID, the SHA-256 of those bytes.
func (r *Repository) sealUnpacked(plaintext []byte) ([]byte, model.ID) {
	p := plaintext
	if r.cfg.Version >= 2 {
		p = r.encoder(r.unpackedLevel).EncodeAll(plaintext, []byte{2})
	}
	buf := r.key.Seal(make([]byte, 0, len(p)+32), p)
	return buf, model.Hash(buf)
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
