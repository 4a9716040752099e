package index

import (
	"crypto/sha256"
	"encoding/binary"
	"slices"

	"github.com/arca-backup/arca/repo/model"
)

// ContentHash identifies a pack's entry in an index file by the pack's ID
// and its blobs (in offset order), so that entries for the same pack in
// different index files can be compared: equal hashes mean the same
// content.
func (p PackJSON) ContentHash() model.ID {
	blobs := slices.Clone(p.Blobs)
	slices.SortFunc(blobs, func(a, b BlobJSON) int {
		if a.Offset != b.Offset {
			return int(a.Offset) - int(b.Offset)
		}
		return slices.Compare(a.ID[:], b.ID[:])
	})
	h := sha256.New()
	h.Write(p.ID[:])
	var buf [13]byte
	for _, b := range blobs {
		h.Write(b.ID[:])
		buf[0] = byte(b.Type)
		binary.LittleEndian.PutUint32(buf[1:], uint32(b.Offset))
		binary.LittleEndian.PutUint32(buf[5:], uint32(b.Length))
		binary.LittleEndian.PutUint32(buf[9:], uint32(b.UncompressedLength))
		h.Write(buf[:])
	}
	var id model.ID
	h.Sum(id[:0])
	return id
}
