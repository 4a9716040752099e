package index

import (
	"errors"
	"slices"

	"github.com/arca-backup/arca/repo/internal/fastjson"
	"github.com/arca-backup/arca/repo/model"
)

// Index files are most of what a command reads before it starts, and
// encoding/json spends most of its time on them in reflection and in the
// two allocations per ID of model.ID's UnmarshalJSON. decodeFast parses
// the shape restic and arca write directly. It accepts only input that it
// decodes exactly as encoding/json would and gives up (errNotFast) on
// anything else: other keys or spellings, escapes, null, numbers that are
// not plain unsigned integers, IDs not in lowercase hex. DecodeFile then
// uses encoding/json, which also produces the error messages.

var errNotFast = errors.New("index: not in the fast path's shape")

type fastDecoder struct {
	*fastjson.Decoder
	// onPack receives every pack as soon as its blobs are read; the Blobs
	// slice is reused for the next pack.
	onPack  func(*PackJSON)
	scratch []BlobJSON
}

// decodeFast parses data, handing every pack to onPack in order (its
// Blobs are only valid during the call), and returns the superseded IDs
// and whether the packs key was there. When it gives up, onPack may
// already have seen the packs before the spot it could not read.
func decodeFast(data []byte, onPack func(*PackJSON)) (supersedes model.IDs, hasPacks bool, err error) {
	d := &fastDecoder{Decoder: fastjson.New(data), onPack: onPack, scratch: make([]BlobJSON, 0, 64)}
	seenPacks, seenSupersedes := false, false
	ok := d.Object(func(key []byte) bool {
		switch {
		case string(key) == "packs" && !seenPacks:
			seenPacks = true
			return d.packs()
		case string(key) == "supersedes" && !seenSupersedes:
			seenSupersedes = true
			return d.ids(&supersedes)
		}
		return false
	})
	if !ok || !d.End() {
		return nil, false, errNotFast
	}
	return supersedes, seenPacks, nil
}

// decodeFastFile is decodeFast into a File.
func decodeFastFile(data []byte) (*File, error) {
	var packs []PackJSON
	sup, hasPacks, err := decodeFast(data, func(p *PackJSON) {
		packs = append(packs, PackJSON{ID: p.ID, Blobs: slices.Clone(p.Blobs)})
	})
	if err != nil {
		return nil, err
	}
	if hasPacks && packs == nil {
		packs = []PackJSON{}
	}
	return &File{Supersedes: sup, Packs: packs}, nil
}

func (d *fastDecoder) id(id *model.ID) bool { return d.Hex(id[:]) }

func (d *fastDecoder) uint(v *uint) bool {
	n, ok := d.Uint(uint64(^uint(0)))
	*v = uint(n)
	return ok
}

func (d *fastDecoder) ids(out *model.IDs) bool {
	ids := model.IDs{}
	ok := d.Array(func() bool {
		var id model.ID
		ok := d.id(&id)
		ids = append(ids, id)
		return ok
	})
	*out = ids
	return ok
}

func (d *fastDecoder) packs() bool {
	return d.Array(func() bool {
		var p PackJSON
		if !d.pack(&p) {
			return false
		}
		d.onPack(&p)
		return true
	})
}

func (d *fastDecoder) pack(p *PackJSON) bool {
	seenID, seenBlobs := false, false
	ok := d.Object(func(key []byte) bool {
		switch {
		case string(key) == "id" && !seenID:
			seenID = true
			return d.id(&p.ID)
		case string(key) == "blobs" && !seenBlobs:
			seenBlobs = true
			return d.blobs(p)
		}
		return false
	})
	return ok && seenID && seenBlobs
}

func (d *fastDecoder) blobs(p *PackJSON) bool {
	blobs := d.scratch[:0]
	ok := d.Array(func() bool {
		var b BlobJSON
		ok := d.blob(&b)
		blobs = append(blobs, b)
		return ok
	})
	d.scratch = blobs
	p.Blobs = blobs
	return ok
}

func (d *fastDecoder) blob(b *BlobJSON) bool {
	const (
		haveID = 1 << iota
		haveType
		haveOffset
		haveLength
		haveUncompressed
	)
	seen := 0
	ok := d.Object(func(key []byte) bool {
		var bit int
		ok := false
		switch string(key) {
		case "id":
			bit, ok = haveID, d.id(&b.ID)
		case "type":
			bit = haveType
			var s []byte
			if s, ok = d.ASCIIString(); ok {
				switch string(s) {
				case "data":
					b.Type = model.DataBlob
				case "tree":
					b.Type = model.TreeBlob
				default:
					ok = false
				}
			}
		case "offset":
			bit, ok = haveOffset, d.uint(&b.Offset)
		case "length":
			bit, ok = haveLength, d.uint(&b.Length)
		case "uncompressed_length":
			bit, ok = haveUncompressed, d.uint(&b.UncompressedLength)
		}
		if !ok || seen&bit != 0 {
			return false
		}
		seen |= bit
		return true
	})
	// every field but uncompressed_length must be there: encoding/json
	// would leave a missing type invalid, which DecodeFile rejects
	return ok && seen|haveUncompressed == haveID|haveType|haveOffset|haveLength|haveUncompressed
}
