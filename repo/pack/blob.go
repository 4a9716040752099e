package pack

import (
	"errors"
	"fmt"

	"github.com/arca-backup/arca/crypto"
	"github.com/arca-backup/arca/repo/model"
	"github.com/klauspost/compress/zstd"
)

const ivSize = 16

// ErrBlobHash is matched (errors.Is) by the error of a blob whose
// plaintext does not hash to its ID.
var ErrBlobHash = errors.New("blob content does not match its ID")

// DecodeBlob decrypts (and decompresses) one blob stored in pack b.PackID
// and checks that its plaintext hashes to its ID. dst is reused when
// large enough. Its errors name the blob and its pack in restic's words
// ("decrypting blob <data/1234abcd> from pack … failed: …"), as check,
// restore and prune print them.
func DecodeBlob(c *crypto.Cipher, dec *zstd.Decoder, b model.PackedBlob, stored, dst []byte) ([]byte, error) {
	plain, err := OpenBlob(c, b, stored)
	if err != nil {
		return nil, err
	}
	if b.IsCompressed() {
		out, err := dec.DecodeAll(plain, dst[:0])
		if err != nil {
			return nil, DecompressError(b, err)
		}
		if uint(len(out)) != b.UncompressedLength {
			return nil, DecompressError(b, fmt.Errorf("got %d bytes, want %d", len(out), b.UncompressedLength))
		}
		plain = out
	} else if cap(dst) >= len(plain) {
		plain = append(dst[:0], plain...)
	}
	if got := model.Hash(plain); got != b.ID {
		return nil, &HashError{Blob: b, Got: got}
	}
	return plain, nil
}

// OpenBlob decrypts one blob stored in pack b.PackID in place and returns
// its plaintext as stored: compressed if the blob is. Its hash is not
// checked.
func OpenBlob(c *crypto.Cipher, b model.PackedBlob, stored []byte) ([]byte, error) {
	if uint(len(stored)) != b.Length {
		return nil, fmt.Errorf("blob %v: got %d bytes, want %d", b.BlobHandle, len(stored), b.Length)
	}
	// the plaintext lands exactly where the ciphertext was
	plain, err := c.Open(stored[ivSize:ivSize], stored)
	if err != nil {
		return nil, fmt.Errorf("decrypting blob %v from pack %v failed: %w", b.BlobHandle, b.PackID, err)
	}
	return plain, nil
}

// DecompressError is the error of a blob of pack b.PackID that decrypted
// but did not decompress to its length.
func DecompressError(b model.PackedBlob, err error) error {
	return fmt.Errorf("decompressing blob %v from pack %v failed: %w", b.BlobHandle, b.PackID, err)
}

// HashError is the error of a blob whose plaintext does not hash to its
// ID; it matches ErrBlobHash.
type HashError struct {
	Blob model.PackedBlob
	Got  model.ID // the plaintext's hash
}

func (e *HashError) Error() string {
	return fmt.Sprintf("read blob %v from pack %v: wrong data returned, hash is %v", e.Blob.BlobHandle, e.Blob.PackID, e.Got)
}

// Is reports whether target is ErrBlobHash.
func (e *HashError) Is(target error) bool { return target == ErrBlobHash }
