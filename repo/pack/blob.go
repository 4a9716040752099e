package pack

import (
	"fmt"

	"github.com/arca-backup/arca/crypto"
	"github.com/arca-backup/arca/repo/model"
	"github.com/klauspost/compress/zstd"
)

const ivSize = 16

// ErrBlobHash is wrapped by DecodeBlob when the plaintext does not hash to the blob's ID.
var ErrBlobHash = fmt.Errorf("blob content does not match its ID")

// DecodeBlob decrypts (and decompresses) one stored blob and checks that
// its plaintext hashes to its ID. dst is reused when large enough.
func DecodeBlob(c *crypto.Cipher, dec *zstd.Decoder, b model.Blob, stored, dst []byte) ([]byte, error) {
	plain, err := OpenBlob(c, b, stored)
	if err != nil {
		return nil, err
	}
	if b.IsCompressed() {
		out, err := dec.DecodeAll(plain, dst[:0])
		if err != nil {
			return nil, fmt.Errorf("decompress blob %v: %w", b.BlobHandle, err)
		}
		if uint(len(out)) != b.UncompressedLength {
			return nil, fmt.Errorf("decompress blob %v: got %d bytes, want %d", b.BlobHandle, len(out), b.UncompressedLength)
		}
		plain = out
	} else if cap(dst) >= len(plain) {
		plain = append(dst[:0], plain...)
	}
	if model.Hash(plain) != b.ID {
		return nil, fmt.Errorf("blob %v: %w", b.BlobHandle, ErrBlobHash)
	}
	return plain, nil
}

// OpenBlob decrypts one stored blob in place and returns its plaintext as
// stored: compressed if the blob is. Its hash is not checked.
func OpenBlob(c *crypto.Cipher, b model.Blob, stored []byte) ([]byte, error) {
	if uint(len(stored)) != b.Length {
		return nil, fmt.Errorf("blob %v: got %d bytes, want %d", b.BlobHandle, len(stored), b.Length)
	}
	// the plaintext lands exactly where the ciphertext was
	plain, err := c.Open(stored[ivSize:ivSize], stored)
	if err != nil {
		return nil, fmt.Errorf("decrypt blob %v: %w", b.BlobHandle, err)
	}
	return plain, nil
}
