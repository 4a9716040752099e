package index

import (
	"errors"

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
	b []byte
	i int
}

func decodeFast(data []byte) (*File, error) {
	d := &fastDecoder{b: data}
	f := &File{}
	if !d.consume('{') {
		return nil, errNotFast
	}
	seenPacks, seenSupersedes := false, false
	if !d.consume('}') {
		for {
			key, ok := d.key()
			if !ok {
				return nil, errNotFast
			}
			switch key {
			case "packs":
				if seenPacks || !d.packs(f) {
					return nil, errNotFast
				}
				seenPacks = true
			case "supersedes":
				if seenSupersedes || !d.ids(&f.Supersedes) {
					return nil, errNotFast
				}
				seenSupersedes = true
			default:
				return nil, errNotFast
			}
			if d.consume(',') {
				continue
			}
			if d.consume('}') {
				break
			}
			return nil, errNotFast
		}
	}
	d.space()
	if d.i != len(d.b) {
		return nil, errNotFast
	}
	return f, nil
}

func (d *fastDecoder) space() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\r', '\n':
			d.i++
		default:
			return
		}
	}
}

// consume skips white space and then c, if it is next.
func (d *fastDecoder) consume(c byte) bool {
	d.space()
	if d.i < len(d.b) && d.b[d.i] == c {
		d.i++
		return true
	}
	return false
}

// plainString reads a string without escapes and returns its bytes.
func (d *fastDecoder) plainString() ([]byte, bool) {
	if !d.consume('"') {
		return nil, false
	}
	start := d.i
	for d.i < len(d.b) {
		c := d.b[d.i]
		switch {
		case c == '"':
			s := d.b[start:d.i]
			d.i++
			return s, true
		case c == '\\' || c < 0x20 || c >= 0x80:
			return nil, false
		}
		d.i++
	}
	return nil, false
}

// key reads an object key and its colon.
func (d *fastDecoder) key() (string, bool) {
	s, ok := d.plainString()
	if !ok || !d.consume(':') {
		return "", false
	}
	return string(s), true
}

func (d *fastDecoder) id(id *model.ID) bool {
	s, ok := d.plainString()
	if !ok || len(s) != 2*model.IDSize {
		return false
	}
	for i := range model.IDSize {
		hi, ok1 := hexVal(s[2*i])
		lo, ok2 := hexVal(s[2*i+1])
		if !ok1 || !ok2 {
			return false
		}
		id[i] = hi<<4 | lo
	}
	return true
}

func hexVal(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

// uint reads a plain unsigned integer that fits a uint.
func (d *fastDecoder) uint(v *uint) bool {
	d.space()
	start := d.i
	var n uint
	for d.i < len(d.b) && d.b[d.i] >= '0' && d.b[d.i] <= '9' {
		digit := uint(d.b[d.i] - '0')
		if n > (^uint(0)-digit)/10 {
			return false
		}
		n = n*10 + digit
		d.i++
	}
	l := d.i - start
	if l == 0 || (l > 1 && d.b[start] == '0') {
		return false
	}
	if d.i < len(d.b) {
		switch d.b[d.i] {
		case '.', 'e', 'E':
			return false
		}
	}
	*v = n
	return true
}

// array reads a JSON array, calling elem to read each element.
func (d *fastDecoder) array(elem func() bool) bool {
	if !d.consume('[') {
		return false
	}
	if d.consume(']') {
		return true
	}
	for {
		if !elem() {
			return false
		}
		if !d.consume(',') {
			return d.consume(']')
		}
	}
}

func (d *fastDecoder) ids(out *model.IDs) bool {
	ids := model.IDs{}
	ok := d.array(func() bool {
		var id model.ID
		ok := d.id(&id)
		ids = append(ids, id)
		return ok
	})
	*out = ids
	return ok
}

func (d *fastDecoder) packs(f *File) bool {
	packs := []PackJSON{}
	ok := d.array(func() bool {
		var p PackJSON
		ok := d.pack(&p)
		packs = append(packs, p)
		return ok
	})
	f.Packs = packs
	return ok
}

func (d *fastDecoder) pack(p *PackJSON) bool {
	if !d.consume('{') {
		return false
	}
	seenID, seenBlobs := false, false
	for {
		key, ok := d.key()
		if !ok {
			return false
		}
		switch {
		case key == "id" && !seenID:
			if !d.id(&p.ID) {
				return false
			}
			seenID = true
		case key == "blobs" && !seenBlobs:
			if !d.blobs(p) {
				return false
			}
			seenBlobs = true
		default:
			return false
		}
		if d.consume(',') {
			continue
		}
		return d.consume('}') && seenID && seenBlobs
	}
}

func (d *fastDecoder) blobs(p *PackJSON) bool {
	blobs := []BlobJSON{}
	ok := d.array(func() bool {
		var b BlobJSON
		ok := d.blob(&b)
		blobs = append(blobs, b)
		return ok
	})
	p.Blobs = blobs
	return ok
}

func (d *fastDecoder) blob(b *BlobJSON) bool {
	if !d.consume('{') {
		return false
	}
	const (
		haveID = 1 << iota
		haveType
		haveOffset
		haveLength
		haveUncompressed
	)
	seen := 0
	for {
		key, ok := d.plainString()
		if !ok || !d.consume(':') {
			return false
		}
		var bit int
		switch string(key) {
		case "id":
			bit, ok = haveID, d.id(&b.ID)
		case "type":
			bit = haveType
			var s []byte
			if s, ok = d.plainString(); ok {
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
		default:
			return false
		}
		if !ok || seen&bit != 0 {
			return false
		}
		seen |= bit
		if d.consume(',') {
			continue
		}
		// every field but uncompressed_length must be there: encoding/json
		// would leave a missing type invalid, which DecodeFile rejects
		return d.consume('}') && seen|haveUncompressed == haveID|haveType|haveOffset|haveLength|haveUncompressed
	}
}
