package model

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
)

// IDSize is the length of an ID in bytes.
const IDSize = sha256.Size

// ID names a blob or file: the SHA-256 of its content.
type ID [IDSize]byte

// Hash returns the ID of data.
func Hash(data []byte) ID { return sha256.Sum256(data) }

// NewRandomID returns a random ID (for repository IDs).
func NewRandomID() ID {
	var id ID
	if _, err := rand.Read(id[:]); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return id
}

// ParseID parses the 64-character hex form of an ID.
func ParseID(s string) (ID, error) {
	var id ID
	if len(s) != 2*IDSize {
		return id, fmt.Errorf("invalid ID %q: length %d, want %d", s, len(s), 2*IDSize)
	}
	if _, err := hex.Decode(id[:], []byte(s)); err != nil {
		return id, fmt.Errorf("invalid ID %q: %w", s, err)
	}
	return id, nil
}

// String returns the full hex form.
func (id ID) String() string { return hex.EncodeToString(id[:]) }

// Str returns the short form restic shows (the first 8 hex characters).
func (id ID) Str() string { return hex.EncodeToString(id[:4]) }

// IsNull reports whether id is all zeros.
func (id ID) IsNull() bool { return id == ID{} }

// MarshalJSON encodes the ID as a hex string.
func (id ID) MarshalJSON() ([]byte, error) {
	buf := make([]byte, 2+2*IDSize)
	buf[0] = '"'
	hex.Encode(buf[1:], id[:])
	buf[len(buf)-1] = '"'
	return buf, nil
}

// UnmarshalJSON decodes a hex string.
func (id *ID) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("invalid ID: %w", err)
	}
	v, err := ParseID(s)
	if err != nil {
		return err
	}
	*id = v
	return nil
}

// IDs is a list of IDs.
type IDs []ID

// IDSet is a set of IDs.
type IDSet map[ID]struct{}

// Has reports whether id is in the set.
func (s IDSet) Has(id ID) bool { _, ok := s[id]; return ok }

// Insert adds id to the set.
func (s IDSet) Insert(id ID) { s[id] = struct{}{} }
