package engine

import (
	"context"
	"errors"
	"fmt"

	"github.com/arca-backup/arca/backend"
	"github.com/arca-backup/arca/crypto"
	"github.com/arca-backup/arca/lock"
	"github.com/arca-backup/arca/repo/model"
)

// The Reader methods in this file return the repository's internal
// objects as they are stored (decrypted), as restic's cat command prints
// them: index files, key files, locks, packs, blobs and trees.

// ErrBlobNotFound: the index lists no blob with the ID asked for.
var ErrBlobNotFound = errors.New("blob not found")

// MasterKey returns the repository's master key (the encryption and MAC
// keys every file is sealed with). Handle it as the password itself.
func (e *Repository) MasterKey() *crypto.Key { return e.r.Key() }

// IndexFile returns the plaintext JSON of the index file id.
func (rd *Reader) IndexFile(ctx context.Context, id model.ID) ([]byte, error) {
	return rd.e.r.LoadUnpacked(ctx, backend.IndexFile, id)
}

// KeyFile returns the key file id: its owner, creation time, scrypt
// parameters and sealed master key.
func (rd *Reader) KeyFile(ctx context.Context, id model.ID) (*crypto.KeyFile, error) {
	return rd.e.r.LoadKeyFile(ctx, id.String())
}

// LockFile returns the lock file id as its holder wrote it.
func (rd *Reader) LockFile(ctx context.Context, id model.ID) (lock.Lock, error) {
	buf, err := rd.e.r.LoadUnpacked(ctx, backend.LockFile, id)
	if err != nil {
		return lock.Lock{}, err
	}
	lk, err := lock.Unmarshal(buf)
	if err != nil {
		return lock.Lock{}, fmt.Errorf("lock %s: %w", id.Str(), err)
	}
	return lk, nil
}

// Pack returns the pack file id as stored (encrypted blobs and header).
// When its content does not hash to id the data is returned all the same,
// with an error matching ErrDamaged, so a program can inspect it.
func (rd *Reader) Pack(ctx context.Context, id model.ID) ([]byte, error) {
	return rd.e.r.LoadRaw(ctx, backend.PackFile, id)
}

// Blob returns the plaintext of the blob id (a data blob, or a tree blob
// when there is no data blob with that ID) and its type. The plaintext's
// SHA-256 is id. A blob the index does not list gives ErrBlobNotFound.
func (rd *Reader) Blob(ctx context.Context, id model.ID) ([]byte, model.BlobType, error) {
	if err := rd.e.LoadIndex(ctx); err != nil {
		return nil, 0, err
	}
	for _, t := range []model.BlobType{model.DataBlob, model.TreeBlob} {
		if !rd.e.r.Index().Has(model.BlobHandle{ID: id, Type: t}) {
			continue
		}
		buf, err := rd.e.r.LoadBlob(ctx, t, id, nil)
		return buf, t, err
	}
	return nil, 0, fmt.Errorf("blob %s: %w", id.Str(), ErrBlobNotFound)
}

// Tree returns the stored JSON of the tree blob id.
func (rd *Reader) Tree(ctx context.Context, id model.ID) ([]byte, error) {
	if err := rd.e.LoadIndex(ctx); err != nil {
		return nil, err
	}
	return rd.e.r.LoadBlob(ctx, model.TreeBlob, id, nil)
}
