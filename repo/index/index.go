// Package index keeps the repository's blob index in memory and reads and
// writes restic's index files.
//
// The in-memory index is built for size: every blob is one fixed-size
// record (ID, pack number, offset, lengths, type) in a list of segments that
// grows without copying, packs are numbered in a side table, and lookups go
// through an open-addressing hash table of 32-bit record numbers keyed by
// the first bytes of the blob ID (IDs are SHA-256 sums, so they are already
// uniformly distributed). That is about 60 bytes per blob, against well over
// 100 for a Go map of structs.
package index

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"sync"

	"github.com/arca-backup/arca/repo/model"
)

// record is one blob in the index. Field order keeps it at 52 bytes.
type record struct {
	id     model.ID
	pack   uint32
	offset uint32
	length uint32
	ulen   uint32 // uncompressed length, 0 when stored uncompressed
	typ    model.BlobType
}

// Index maps blobs to the packs that hold them. A blob may be stored in more
// than one pack; Lookup returns every copy. It is safe for concurrent use.
type Index struct {
	mu      sync.RWMutex
	packs   []model.ID
	packNum map[model.ID]uint32
	// ends has, for each pack number, the end of the pack's last blob
	ends    []uint32
	records recordList
	slots   []uint32 // record number + 1; 0 means empty
}

// segmentBits sets the size of a recordList segment: 4096 records, 208 KiB.
const segmentBits = 12

// recordList is an append-only list of records kept in fixed-size
// segments, so that growing it never copies the records or leaves their
// old array to the collector: as one slice, an index of millions of blobs
// would briefly need twice its size while it loads. Only the first
// segment grows by copying, up to its full size.
type recordList struct {
	segs [][]record // all full but the last
	n    int
}

func (l *recordList) len() int { return l.n }

func (l *recordList) at(i int) *record {
	return &l.segs[i>>segmentBits][i&(1<<segmentBits-1)]
}

func (l *recordList) append(r record) {
	if l.n&(1<<segmentBits-1) == 0 { // no segment yet, or the last is full
		size := 1 << segmentBits
		if l.n == 0 {
			size = 16
		}
		l.segs = append(l.segs, make([]record, 0, size))
	}
	last := len(l.segs) - 1
	l.segs[last] = append(l.segs[last], r)
	l.n++
}

// bytes is the memory the records take.
func (l *recordList) bytes() int {
	const recordSize = 52
	n := 0
	for _, s := range l.segs {
		n += cap(s) * recordSize
	}
	return n
}

// New returns an empty index.
func New() *Index {
	return &Index{packNum: make(map[model.ID]uint32)}
}

// Len returns the number of blob records (copies count separately).
func (idx *Index) Len() int {
	idx.mu.RLock()
	defer idx.mu.RUnlock()
	return idx.records.len()
}

// PackCount returns the number of packs the index knows.
func (idx *Index) PackCount() int {
	idx.mu.RLock()
	defer idx.mu.RUnlock()
	return len(idx.packs)
}

func hashSlot(id *model.ID) uint64 { return binary.LittleEndian.Uint64(id[:8]) }

// Add records that pack holds blob. Adding the same blob at the same place
// twice is a no-op.
func (idx *Index) Add(pack model.ID, b model.Blob) {
	idx.mu.Lock()
	defer idx.mu.Unlock()
	idx.add(pack, b)
}

// AddPack records all blobs of one pack.
func (idx *Index) AddPack(pack model.ID, blobs []model.Blob) {
	idx.mu.Lock()
	defer idx.mu.Unlock()
	idx.growFor(len(blobs))
	for _, b := range blobs {
		idx.add(pack, b)
	}
}

func (idx *Index) packNumber(pack model.ID) uint32 {
	n, ok := idx.packNum[pack]
	if !ok {
		n = uint32(len(idx.packs))
		idx.packs = append(idx.packs, pack)
		idx.ends = append(idx.ends, 0)
		idx.packNum[pack] = n
	}
	return n
}

func (idx *Index) add(pack model.ID, b model.Blob) {
	pn := idx.packNumber(pack)
	idx.ends[pn] = max(idx.ends[pn], uint32(b.Offset+b.Length))
	r := record{id: b.ID, pack: pn, offset: uint32(b.Offset), length: uint32(b.Length), ulen: uint32(b.UncompressedLength), typ: b.Type}
	// skip exact duplicates (the same index entry loaded twice)
	for i := idx.probe(&b.ID); ; i = (i + 1) & uint64(len(idx.slots)-1) {
		s := idx.slots[i]
		if s == 0 {
			break
		}
		if *idx.records.at(int(s - 1)) == r {
			return
		}
	}
	idx.growFor(1)
	idx.records.append(r)
	idx.insertSlot(uint32(idx.records.len()))
}

func (idx *Index) probe(id *model.ID) uint64 {
	if len(idx.slots) == 0 {
		idx.slots = make([]uint32, 16)
	}
	return hashSlot(id) & uint64(len(idx.slots)-1)
}

func (idx *Index) insertSlot(num uint32) {
	id := &idx.records.at(int(num - 1)).id
	mask := uint64(len(idx.slots) - 1)
	for i := hashSlot(id) & mask; ; i = (i + 1) & mask {
		if idx.slots[i] == 0 {
			idx.slots[i] = num
			return
		}
	}
}

// growFor makes room for n more records, keeping the load factor under 3/4.
func (idx *Index) growFor(n int) {
	need := idx.records.len() + n
	if need*4 < len(idx.slots)*3 {
		return
	}
	size := 1 << bits.Len(uint(need*4/3+1))
	if size < 16 {
		size = 16
	}
	idx.slots = make([]uint32, size)
	for i := range idx.records.len() {
		idx.insertSlot(uint32(i + 1))
	}
}

func (idx *Index) packed(r *record) model.PackedBlob {
	return model.PackedBlob{
		Blob: model.Blob{
			BlobHandle:         model.BlobHandle{ID: r.id, Type: r.typ},
			Offset:             uint(r.offset),
			Length:             uint(r.length),
			UncompressedLength: uint(r.ulen),
		},
		PackID: idx.packs[r.pack],
	}
}

// PackDataEnd returns where the last blob the index lists in pack ends,
// and false when it lists none there.
func (idx *Index) PackDataEnd(pack model.ID) (uint, bool) {
	idx.mu.RLock()
	defer idx.mu.RUnlock()
	n, ok := idx.packNum[pack]
	if !ok {
		return 0, false
	}
	return uint(idx.ends[n]), true
}

// Lookup returns every stored copy of the blob.
func (idx *Index) Lookup(h model.BlobHandle) []model.PackedBlob {
	idx.mu.RLock()
	defer idx.mu.RUnlock()
	if len(idx.slots) == 0 {
		return nil
	}
	var out []model.PackedBlob
	mask := uint64(len(idx.slots) - 1)
	for i := hashSlot(&h.ID) & mask; ; i = (i + 1) & mask {
		s := idx.slots[i]
		if s == 0 {
			return out
		}
		r := idx.records.at(int(s - 1))
		if r.id == h.ID && r.typ == h.Type {
			out = append(out, idx.packed(r))
		}
	}
}

// Has reports whether the blob is in the index.
func (idx *Index) Has(h model.BlobHandle) bool {
	idx.mu.RLock()
	defer idx.mu.RUnlock()
	if len(idx.slots) == 0 {
		return false
	}
	mask := uint64(len(idx.slots) - 1)
	for i := hashSlot(&h.ID) & mask; ; i = (i + 1) & mask {
		s := idx.slots[i]
		if s == 0 {
			return false
		}
		r := idx.records.at(int(s - 1))
		if r.id == h.ID && r.typ == h.Type {
			return true
		}
	}
}

// Size returns the plaintext size of a blob, and false when it is unknown.
func (idx *Index) Size(h model.BlobHandle) (uint, bool) {
	pbs := idx.Lookup(h)
	if len(pbs) == 0 {
		return 0, false
	}
	return pbs[0].DataLength(), true
}

// Each calls fn for every blob record until fn returns false.
func (idx *Index) Each(fn func(model.PackedBlob) bool) {
	idx.mu.RLock()
	defer idx.mu.RUnlock()
	for i := range idx.records.len() {
		if !fn(idx.packed(idx.records.at(i))) {
			return
		}
	}
}

// Packs returns the set of packs referenced by the index.
func (idx *Index) Packs() model.IDSet {
	idx.mu.RLock()
	defer idx.mu.RUnlock()
	s := make(model.IDSet, len(idx.packs))
	for _, p := range idx.packs {
		s.Insert(p)
	}
	return s
}

// MemoryPerBlob estimates the bytes of memory the index uses per record.
func (idx *Index) MemoryPerBlob() float64 {
	idx.mu.RLock()
	defer idx.mu.RUnlock()
	if idx.records.len() == 0 {
		return 0
	}
	bytes := idx.records.bytes() + cap(idx.slots)*4 + cap(idx.packs)*(model.IDSize) + cap(idx.ends)*4 + len(idx.packNum)*(model.IDSize+4+8)
	return float64(bytes) / float64(idx.records.len())
}

// String describes the index size.
func (idx *Index) String() string {
	return fmt.Sprintf("index: %d blobs in %d packs", idx.Len(), idx.PackCount())
}
