package model

import (
	"encoding/json"
	"fmt"
)

// BlobType is the kind of a blob: file data or a directory tree.
type BlobType uint8

// Blob types. The zero value is invalid.
const (
	InvalidBlob BlobType = iota
	DataBlob
	TreeBlob
)

// String returns "data" or "tree".
func (t BlobType) String() string {
	switch t {
	case DataBlob:
		return "data"
	case TreeBlob:
		return "tree"
	}
	return fmt.Sprintf("<BlobType %d>", uint8(t))
}

// MarshalJSON encodes the type as restic does ("data", "tree").
func (t BlobType) MarshalJSON() ([]byte, error) {
	switch t {
	case DataBlob, TreeBlob:
		return []byte(`"` + t.String() + `"`), nil
	}
	return nil, fmt.Errorf("invalid blob type %d", uint8(t))
}

// UnmarshalJSON decodes "data" or "tree".
func (t *BlobType) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("invalid blob type: %w", err)
	}
	switch s {
	case "data":
		*t = DataBlob
	case "tree":
		*t = TreeBlob
	default:
		return fmt.Errorf("invalid blob type %q", s)
	}
	return nil
}

// BlobHandle identifies a blob: its type and ID.
type BlobHandle struct {
	ID   ID
	Type BlobType
}

func (h BlobHandle) String() string { return fmt.Sprintf("<%s/%s>", h.Type, h.ID.Str()) }

// Blob is one blob's place inside a pack.
type Blob struct {
	BlobHandle
	// Offset and Length locate the encrypted blob in the pack.
	Offset uint
	Length uint
	// UncompressedLength is 0 for uncompressed blobs.
	UncompressedLength uint
}

// IsCompressed reports whether the blob is stored compressed.
func (b Blob) IsCompressed() bool { return b.UncompressedLength != 0 }

// DataLength returns the plaintext length of the blob.
func (b Blob) DataLength() uint {
	if b.UncompressedLength != 0 {
		return b.UncompressedLength
	}
	return b.Length - 32 // crypto overhead: IV + MAC
}

// PackedBlob is a blob and the pack that holds it.
type PackedBlob struct {
	Blob
	PackID ID
}
