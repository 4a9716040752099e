package repo

import (
	"context"
	"fmt"
	"time"

	"github.com/arca-backup/arca/backend"
	"github.com/arca-backup/arca/repo/model"
	"github.com/klauspost/compress/zstd"
)

// unpackedWindow is the zstd window for unpacked files. The library's
// default (8 MiB) makes the encoder allocate a 16 MiB history for any file
// longer than one block (128 KiB), such as the index file a backup writes
// at its end, while its read and seal buffers are still in use; that was
// the peak of a backup's memory. Index and snapshot JSON gains nothing
// from matches that far back.
const unpackedWindow = 512 << 10

// encoder returns the zstd encoder for unpacked files, created on first use,
// at the level OpenOptions.Compression chose. Like restic's, it writes no
// frame checksum: the file's MAC covers it, and the file is four bytes
// shorter.
func (r *Repository) encoder() *zstd.Encoder {
	r.encOnce.Do(func() {
		enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(r.unpackedLevel), zstd.WithEncoderConcurrency(1),
			zstd.WithEncoderCRC(false), zstd.WithWindowSize(unpackedWindow))
		if err != nil {
			panic(err) // only invalid options fail
		}
		r.enc = enc
	})
	return r.enc
}

// SaveUnpacked compresses (version 2), encrypts and stores a snapshot,
// index or lock file and returns its ID, the SHA-256 of the stored bytes.
func (r *Repository) SaveUnpacked(ctx context.Context, t backend.FileType, plaintext []byte) (model.ID, error) {
	if t == backend.ConfigFile || t == backend.PackFile || t == backend.KeyFile {
		return model.ID{}, fmt.Errorf("SaveUnpacked: %s files are not unpacked files", t)
	}
	p := plaintext
	if r.cfg.Version >= 2 {
		p = r.encoder().EncodeAll(plaintext, []byte{2})
	}
	buf := r.key.Seal(make([]byte, 0, len(p)+32), p)
	id := model.Hash(buf)
	h := backend.Handle{Type: t, Name: id.String()}
	if err := r.be.Save(ctx, h, backend.NewByteReader(buf)); err != nil {
		return model.ID{}, fmt.Errorf("save %s %s: %w", t, id.Str(), err)
	}
	return id, nil
}

// SaveLock stores an encrypted lock file (lock.Store).
func (r *Repository) SaveLock(ctx context.Context, plaintext []byte) (string, error) {
	id, err := r.SaveUnpacked(ctx, backend.LockFile, plaintext)
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
