package index

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"strconv"

	"github.com/arca-backup/arca/repo/model"
)

// File is the decoded JSON of one index file.
type File struct {
	Supersedes model.IDs  `json:"supersedes,omitempty"`
	Packs      []PackJSON `json:"packs"`
}

// PackJSON lists the blobs of one pack in an index file.
type PackJSON struct {
	ID    model.ID   `json:"id"`
	Blobs []BlobJSON `json:"blobs"`
}

// BlobJSON is one blob entry of an index file.
type BlobJSON struct {
	ID                 model.ID       `json:"id"`
	Type               model.BlobType `json:"type"`
	Offset             uint           `json:"offset"`
	Length             uint           `json:"length"`
	UncompressedLength uint           `json:"uncompressed_length,omitempty"`
}

// oldFile is the version-0 index format: a bare list of packs.
type oldFile []PackJSON

// DecodeFile parses an index file's plaintext JSON. It accepts the current
// format and the old list-only format restic once wrote.
func DecodeFile(data []byte) (*File, error) {
	data = bytes.TrimLeft(data, " \t\r\n")
	if !isOldFormat(data) {
		if f, err := decodeFastFile(data); err == nil {
			return f, nil
		}
	}
	return decodeJSON(data)
}

// AddFile adds the blobs of an index file's plaintext JSON to idx as it
// reads them, without building the File in between (a File takes more
// memory than the index records it becomes). It accepts what DecodeFile
// accepts; on an error idx may hold some of the file's blobs.
func (idx *Index) AddFile(data []byte) error {
	data = bytes.TrimLeft(data, " \t\r\n")
	if !isOldFormat(data) {
		var blobs []model.Blob
		_, _, err := decodeFast(data, func(p *PackJSON) {
			blobs = blobs[:0]
			for _, b := range p.Blobs {
				blobs = append(blobs, b.blob())
			}
			idx.AddPack(p.ID, blobs)
		})
		if err == nil {
			return nil
		}
		// The packs read before the fast path gave up are added again
		// below, which changes nothing: the index skips exact duplicates.
	}
	f, err := decodeJSON(data)
	if err != nil {
		return err
	}
	f.AddTo(idx)
	return nil
}

func isOldFormat(data []byte) bool { return len(data) > 0 && data[0] == '[' }

// decodeJSON decodes with encoding/json, whose error messages these are.
func decodeJSON(data []byte) (*File, error) {
	if isOldFormat(data) {
		var old oldFile
		if err := json.Unmarshal(data, &old); err != nil {
			return nil, fmt.Errorf("decode old-format index: %w", err)
		}
		return &File{Packs: old}, nil
	}
	var f File
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("decode index: %w", err)
	}
	for _, p := range f.Packs {
		for _, b := range p.Blobs {
			if b.Type != model.DataBlob && b.Type != model.TreeBlob {
				return nil, fmt.Errorf("decode index: pack %v: blob %v has invalid type", p.ID.Str(), b.ID.Str())
			}
		}
	}
	return &f, nil
}

// Encode returns the JSON of an index file as restic writes it, with a
// trailing newline: byte for byte what encoding/json makes of the packs.
// It appends the JSON directly. A backup of many small files writes index
// files often, and encoding/json (growing its buffer, the IDs'
// MarshalJSON) took 4% of the CPU time of a first backup of 131,124 small
// files.
func (f *File) Encode() ([]byte, error) {
	size := len(`{"packs":[]}` + "\n")
	for _, p := range f.Packs {
		size += len(`{"id":"","blobs":[]},`) + 2*model.IDSize + len(p.Blobs)*blobJSONRoom
	}
	var enc []byte
	err := f.encode(make([]byte, 0, size), func(b []byte) error { enc = b; return nil }, 0)
	return enc, err
}

// EncodeTo writes what Encode returns to w in pieces of about piece
// bytes, so that a large index file is never in memory whole as JSON.
func (f *File) EncodeTo(w io.Writer, piece int) error {
	return f.encode(make([]byte, 0, piece+piece/4), func(p []byte) error {
		_, err := w.Write(p)
		return err
	}, piece)
}

// encode appends the JSON to b, handing b to out whenever it holds piece
// bytes or more (piece 0: at the end only) and starting over.
func (f *File) encode(b []byte, out func([]byte) error, piece int) error {
	b = append(b, `{"packs":`...)
	if f.Packs == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, p := range f.Packs {
			if i > 0 {
				b = append(b, ',')
			}
			var err error
			if b, err = p.appendJSON(b); err != nil {
				return fmt.Errorf("encode index: %w", err)
			}
			if piece > 0 && len(b) >= piece {
				if err := out(b); err != nil {
					return err
				}
				b = b[:0]
			}
		}
		b = append(b, ']')
	}
	return out(append(b, "}\n"...))
}

// blobJSONRoom is the most a blob entry takes in an index file.
const blobJSONRoom = len(`{"id":"","type":"data","offset":,"length":,"uncompressed_length":},`) + 2*model.IDSize + 3*20

// appendJSON appends the pack's entry as encoding/json writes a PackJSON.
func (p *PackJSON) appendJSON(b []byte) ([]byte, error) {
	b = append(b, `{"id":"`...)
	b = hex.AppendEncode(b, p.ID[:])
	b = append(b, `","blobs":`...)
	if p.Blobs == nil {
		return append(b, "null}"...), nil
	}
	b = append(b, '[')
	for i := range p.Blobs {
		bl := &p.Blobs[i]
		if bl.Type != model.DataBlob && bl.Type != model.TreeBlob {
			return nil, fmt.Errorf("pack %v: blob %v has invalid type %d", p.ID.Str(), bl.ID.Str(), uint8(bl.Type))
		}
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"id":"`...)
		b = hex.AppendEncode(b, bl.ID[:])
		b = append(b, `","type":"`...)
		b = append(b, bl.Type.String()...)
		b = append(b, `","offset":`...)
		b = strconv.AppendUint(b, uint64(bl.Offset), 10)
		b = append(b, `,"length":`...)
		b = strconv.AppendUint(b, uint64(bl.Length), 10)
		if bl.UncompressedLength != 0 {
			b = append(b, `,"uncompressed_length":`...)
			b = strconv.AppendUint(b, uint64(bl.UncompressedLength), 10)
		}
		b = append(b, '}')
	}
	return append(b, "]}"...), nil
}

// AddTo adds every blob of the file to idx.
func (f *File) AddTo(idx *Index) {
	for _, p := range f.Packs {
		blobs := make([]model.Blob, len(p.Blobs))
		for i, b := range p.Blobs {
			blobs[i] = b.blob()
		}
		idx.AddPack(p.ID, blobs)
	}
}

func (b *BlobJSON) blob() model.Blob {
	return model.Blob{
		BlobHandle:         model.BlobHandle{ID: b.ID, Type: b.Type},
		Offset:             b.Offset,
		Length:             b.Length,
		UncompressedLength: b.UncompressedLength,
	}
}
