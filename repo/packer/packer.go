// Package packer assembles restic pack files in memory.
//
// A Packer collects already sealed blobs of one type in a byte buffer and,
// once finished, appends the sealed header and its length and names the
// pack by the SHA-256 of the whole. A Manager keeps a few open packers per
// blob type and puts each new blob into one chosen at random, so the chunks
// of one file end up spread over several packs in an order an observer
// cannot predict (restic does the same since 0.18 against chunk-size
// fingerprinting). Nothing is written to temporary files: a pack lives in
// one buffer from its first blob until it is uploaded, and buffers are
// recycled through a Pool.
package packer

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/arca-backup/arca/crypto"
	"github.com/arca-backup/arca/repo/model"
	"github.com/arca-backup/arca/repo/pack"
)

// MaxHeaderEntries is the most blobs a pack header can list (restic's limit:
// the plaintext header stays within pack.MaxHeaderSize).
const MaxHeaderEntries = (pack.MaxHeaderSize - pack.HeaderOverhead) / pack.CompressedEntrySize

// ErrCorrupted is wrapped when a finished pack does not verify.
var ErrCorrupted = errors.New("data corruption detected while writing a pack")

// Packer collects sealed blobs of one type into a pack.
type Packer struct {
	typ   model.BlobType
	buf   []byte
	blobs []model.Blob
	done  bool
}

// New starts an empty pack for blobs of type t in buf (its contents are
// discarded, its capacity reused).
func New(t model.BlobType, buf []byte) *Packer {
	return &Packer{typ: t, buf: buf[:0]}
}

// Type returns the blob type of the pack.
func (p *Packer) Type() model.BlobType { return p.typ }

// Size returns the number of blob bytes in the pack (without the header).
func (p *Packer) Size() int { return len(p.buf) }

// Count returns the number of blobs in the pack.
func (p *Packer) Count() int { return len(p.blobs) }

// Blobs returns the blobs added so far, with their offsets in the pack.
func (p *Packer) Blobs() []model.Blob { return p.blobs }

// EntrySize is the size of a blob's header entry: larger for compressed blobs.
func EntrySize(compressed bool) int {
	if compressed {
		return pack.CompressedEntrySize
	}
	return pack.PlainEntrySize
}

// Add appends a sealed blob (IV, ciphertext, MAC) with the plaintext ID id.
// uncompressedLength is 0 for a blob stored uncompressed. It returns the
// bytes the blob adds to the pack, counting its header entry.
func (p *Packer) Add(id model.ID, sealed []byte, uncompressedLength int) int {
	if p.done {
		panic("packer: Add after Finalize")
	}
	p.blobs = append(p.blobs, model.Blob{
		BlobHandle:         model.BlobHandle{ID: id, Type: p.typ},
		Offset:             uint(len(p.buf)),
		Length:             uint(len(sealed)),
		UncompressedLength: uint(uncompressedLength),
	})
	p.buf = append(p.buf, sealed...)
	return len(sealed) + EntrySize(uncompressedLength != 0)
}

// Full reports whether the pack has reached size bytes of blobs or its
// header cannot take maxBlobs (at most MaxHeaderEntries) more entries.
func (p *Packer) Full(size, maxBlobs int) bool {
	if maxBlobs <= 0 || maxBlobs > MaxHeaderEntries {
		maxBlobs = MaxHeaderEntries
	}
	return len(p.buf) >= size || len(p.blobs) >= maxBlobs
}

// Merge moves all blobs of o to the end of p. o must not be used again
// except for Release.
func (p *Packer) Merge(o *Packer) {
	if o.typ != p.typ {
		panic("packer: merging packs of different blob types")
	}
	base := uint(len(p.buf))
	p.buf = append(p.buf, o.buf...)
	for _, b := range o.blobs {
		b.Offset += base
		p.blobs = append(p.blobs, b)
	}
	o.blobs = nil
	o.buf = o.buf[:0]
}

// Release returns the pack's buffer for reuse; the packer must not be used
// afterwards.
func (p *Packer) Release() []byte {
	b := p.buf
	p.buf, p.blobs = nil, nil
	return b[:0]
}

// Pack is a finished pack file.
type Pack struct {
	// ID is the SHA-256 of Data, the pack's file name.
	ID model.ID
	// Data is the whole file: blobs, sealed header, header length.
	Data []byte
	// Blobs lists the blobs in file order.
	Blobs []model.Blob
	// HeaderSize is the number of bytes after the last blob.
	HeaderSize int
}

// Finalize seals the header with c, appends it and its length and hashes
// the result. When verify is set it decrypts the sealed header again and
// checks that it lists exactly the pack's blobs. The packer cannot take
// blobs afterwards; the returned Data shares its buffer (give it back with
// Release when the pack is stored).
func (p *Packer) Finalize(c *crypto.Cipher, verify bool) (Pack, error) {
	if p.done {
		return Pack{}, errors.New("packer: Finalize called twice")
	}
	if len(p.blobs) == 0 {
		return Pack{}, errors.New("packer: empty pack")
	}
	p.done = true
	plain := pack.EncodeHeader(p.blobs)
	start := len(p.buf)
	p.buf = c.Seal(p.buf, plain)
	sealedLen := len(p.buf) - start
	p.buf = binary.LittleEndian.AppendUint32(p.buf, uint32(sealedLen))
	if verify {
		if err := verifyHeader(c, p.buf[start:start+sealedLen], plain, p.blobs); err != nil {
			return Pack{}, fmt.Errorf("%w: %v", ErrCorrupted, err)
		}
	}
	return Pack{
		ID:         sha256.Sum256(p.buf),
		Data:       p.buf,
		Blobs:      p.blobs,
		HeaderSize: len(p.buf) - start,
	}, nil
}

// verifyHeader opens the sealed header and checks it against what was
// meant to be written.
func verifyHeader(c *crypto.Cipher, sealed, plain []byte, blobs []model.Blob) error {
	got, err := c.Open(nil, sealed)
	if err != nil {
		return fmt.Errorf("header does not decrypt: %w", err)
	}
	if !bytes.Equal(got, plain) {
		return errors.New("decrypted header differs from the encoded one")
	}
	parsed, err := pack.DecodeHeader(got)
	if err != nil {
		return fmt.Errorf("header does not parse: %w", err)
	}
	if len(parsed) != len(blobs) {
		return fmt.Errorf("header lists %d blobs, want %d", len(parsed), len(blobs))
	}
	for i := range parsed {
		if parsed[i] != blobs[i] {
			return fmt.Errorf("header entry %d is %v, want %v", i, parsed[i], blobs[i])
		}
	}
	return nil
}
