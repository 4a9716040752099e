// Package pack reads restic pack files: encrypted blobs one after the
// other, then the encrypted header listing them, then the header's length
// as a little-endian uint32.
//
// A header entry is a type byte, the blob's stored length (uint32 LE), for
// compressed blobs its uncompressed length (uint32 LE), and the blob ID:
// 37 bytes for types 0 (data) and 1 (tree), 41 for 2 and 3 (compressed).
package pack

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/arca-backup/arca/crypto"
	"github.com/arca-backup/arca/repo/model"
)

// Sizes of the header's parts.
const (
	HeaderLengthSize    = 4
	PlainEntrySize      = 1 + 4 + model.IDSize
	CompressedEntrySize = PlainEntrySize + 4
	// HeaderOverhead is the constant part of the header: crypto and length field.
	HeaderOverhead = HeaderLengthSize + crypto.Extension
	// MaxHeaderSize bounds the header (and so the number of blobs per pack).
	MaxHeaderSize = 16*1024*1024 + HeaderLengthSize
	// EagerHeaderSize is how much of a pack's tail to read first: enough
	// for the header of a pack with 15 blobs, so most packs need one read.
	EagerHeaderSize = 15*CompressedEntrySize + HeaderOverhead
	minFileSize     = PlainEntrySize + crypto.Extension + HeaderLengthSize
)

// ErrInvalid marks a file that is not a valid pack.
var ErrInvalid = errors.New("invalid pack file")

// HeaderLength returns the length of the encrypted header recorded in the
// last four bytes of a pack of the given size, checked against the size.
func HeaderLength(tail []byte, size int64) (int, error) {
	if size < minFileSize {
		return 0, fmt.Errorf("%w: file is too short (%d bytes)", ErrInvalid, size)
	}
	if len(tail) < HeaderLengthSize {
		return 0, fmt.Errorf("%w: tail too short", ErrInvalid)
	}
	hlen := int64(binary.LittleEndian.Uint32(tail[len(tail)-HeaderLengthSize:]))
	switch {
	case hlen == 0:
		return 0, fmt.Errorf("%w: header length is zero", ErrInvalid)
	case hlen < crypto.Extension:
		return 0, fmt.Errorf("%w: header length %d is too short", ErrInvalid, hlen)
	case hlen > size-HeaderLengthSize:
		return 0, fmt.Errorf("%w: header length %d is larger than the file", ErrInvalid, hlen)
	case hlen > MaxHeaderSize-HeaderLengthSize:
		return 0, fmt.Errorf("%w: header length %d is larger than the maximum", ErrInvalid, hlen)
	}
	return int(hlen), nil
}

// ParseHeader decrypts a pack header (without the length field) and returns
// the blobs it lists, with offsets computed from their order.
func ParseHeader(c *crypto.Cipher, encHeader []byte) ([]model.Blob, error) {
	plain, err := c.Open(nil, encHeader)
	if err != nil {
		return nil, fmt.Errorf("decrypt pack header: %w", err)
	}
	return DecodeHeader(plain)
}

// DecodeHeader parses a decrypted pack header.
func DecodeHeader(p []byte) ([]model.Blob, error) {
	blobs := make([]model.Blob, 0, len(p)/PlainEntrySize)
	var pos uint
	for len(p) > 0 {
		if len(p) < PlainEntrySize {
			return nil, fmt.Errorf("%w: header entry of %d bytes is too short", ErrInvalid, len(p))
		}
		var b model.Blob
		size := PlainEntrySize
		switch p[0] {
		case 0, 2:
			b.Type = model.DataBlob
		case 1, 3:
			b.Type = model.TreeBlob
		default:
			return nil, fmt.Errorf("%w: header entry has invalid type %d", ErrInvalid, p[0])
		}
		b.Length = uint(binary.LittleEndian.Uint32(p[1:5]))
		rest := p[5:]
		if p[0] >= 2 {
			size = CompressedEntrySize
			if len(p) < CompressedEntrySize {
				return nil, fmt.Errorf("%w: compressed header entry of %d bytes is too short", ErrInvalid, len(p))
			}
			b.UncompressedLength = uint(binary.LittleEndian.Uint32(rest[:4]))
			rest = rest[4:]
		}
		if b.Length < crypto.Extension {
			return nil, fmt.Errorf("%w: blob length %d is too short", ErrInvalid, b.Length)
		}
		copy(b.ID[:], rest[:model.IDSize])
		b.Offset = pos
		pos += b.Length
		blobs = append(blobs, b)
		p = p[size:]
	}
	return blobs, nil
}

// EncodeHeader returns the plaintext header for blobs, in their order.
func EncodeHeader(blobs []model.Blob) []byte {
	out := make([]byte, 0, len(blobs)*CompressedEntrySize)
	for _, b := range blobs {
		t := byte(0)
		if b.Type == model.TreeBlob {
			t = 1
		}
		if b.UncompressedLength != 0 {
			t += 2
		}
		out = append(out, t)
		out = binary.LittleEndian.AppendUint32(out, uint32(b.Length))
		if b.UncompressedLength != 0 {
			out = binary.LittleEndian.AppendUint32(out, uint32(b.UncompressedLength))
		}
		out = append(out, b.ID[:]...)
	}
	return out
}

// HeaderSize returns the number of bytes the header of blobs takes at the
// end of a pack, including encryption and the length field.
func HeaderSize(blobs []model.Blob) int {
	n := HeaderOverhead
	for _, b := range blobs {
		if b.UncompressedLength != 0 {
			n += CompressedEntrySize
		} else {
			n += PlainEntrySize
		}
	}
	return n
}
