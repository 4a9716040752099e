package archiver

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"

	"github.com/arca-backup/arca/chunker"
	"github.com/arca-backup/arca/crypto/sha256x"
	"github.com/arca-backup/arca/repo/model"
)

// smallBatchLen is how many small files a reader reads at most before it
// hashes their contents together. sha256x runs four hashes side by side
// and starts the next message in a lane as soon as one ends, so a batch
// of files of different lengths needs many more than four to keep its
// lanes full to near the end.
const smallBatchLen = 16

// smallBatchBytes bounds the slab bytes a batch takes (a file of up to
// chunker.MinSize-1 bytes always fits in an empty batch): a reader of
// small files still touches only the first pages of its slab.
const smallBatchBytes = 1 << 20

// smallBatch holds small files a reader has read but not yet saved. A
// file shorter than the minimum chunk size is a single chunk, so its ID
// is the hash of the whole file; hashing one file at a time leaves
// sha256x nothing to run beside it. The reader therefore reads up to
// smallBatchLen of them one after the other into the start of its slab
// (at most smallBatchBytes), hashes them in one sha256x.Sum, and then
// saves each. Until
// then the batch owns that part of the slab: the reader saves the batch
// before anything else uses the slab, and before it waits for more files
// (so no file waits for others that are not coming).
type smallBatch struct {
	files []smallFile
	end   int // the first free byte in the slab
	msgs  [][]byte
	sums  [][sha256.Size]byte
	crcs  []uint32 // of msgs, taken before their hashes (see blockHashes)
}

// smallFile is a file read into the slab's bytes [from, to).
type smallFile struct {
	from, to int
	finish   func(*fileState, uint64) // reports the file once its chunk is saved
}

// readSmall reads the file f, of length bytes when opened (less than
// chunker.MinSize-1), into the reader's batch. It returns false, with
// nothing read, when f is not short enough for it. A file that grew
// since it was opened is read by chunkStream from where readSmall got to.
func (a *Archiver) readSmall(ctx context.Context, f io.Reader, length int64, s *slab, b *smallBatch, finish func(*fileState, uint64)) bool {
	if length >= chunker.MinSize-1 {
		return false
	}
	room := int(length) + 1 // one byte more tells that the file grew
	if b.end+room > smallBatchBytes {
		a.saveSmall(ctx, s, b)
	}
	if len(b.files) == 0 {
		s.ensure()
		s.wait(0, blockSize) // chunks of earlier large files may still be read there
		b.end = 0
	}
	buf := s.buf[b.end : b.end+room]
	n, eof, err := readFile(f, buf, length)
	if err != nil {
		state := &fileState{content: model.IDs{}}
		state.fail(err)
		finish(state, 0)
		return true
	}
	if !eof {
		// the file grew: read on through the slab like any other file
		head := bytes.Clone(buf[:n])
		a.saveSmall(ctx, s, b)
		state, size := a.chunkStream(ctx, io.MultiReader(bytes.NewReader(head), f), s, -1)
		state.whenSaved(func() { finish(state, size) })
		return true
	}
	if n == 0 {
		finish(&fileState{content: model.IDs{}}, 0)
		return true
	}
	b.files = append(b.files, smallFile{from: b.end, to: b.end + n, finish: finish})
	b.end += n
	if len(b.files) == smallBatchLen {
		a.saveSmall(ctx, s, b)
	}
	return true
}

// readFile reads f into buf until the end of the file or of buf. eof
// reports that the file ended: a read returned io.EOF, or a short read
// brought the bytes read to length, the file's size when it was opened
// (as in chunkStream).
func readFile(f io.Reader, buf []byte, length int64) (n int, eof bool, err error) {
	for n < len(buf) {
		want := len(buf) - n
		m, err := f.Read(buf[n:])
		n += m
		if errors.Is(err, io.EOF) {
			return n, true, nil
		}
		if err != nil {
			return n, false, err
		}
		if m < want && int64(n) == length {
			return n, true, nil
		}
	}
	return n, false, nil
}

// saveSmall hashes the batch's files together, saves them and reports
// each, leaving the batch empty.
func (a *Archiver) saveSmall(ctx context.Context, s *slab, b *smallBatch) {
	if len(b.files) == 0 {
		return
	}
	b.msgs, b.crcs = b.msgs[:0], b.crcs[:0]
	for _, sf := range b.files {
		b.msgs = append(b.msgs, s.buf[sf.from:sf.to])
		b.crcs = append(b.crcs, chunkCRC(s.buf[sf.from:sf.to]))
	}
	if cap(b.sums) < len(b.msgs) {
		b.sums = make([][sha256.Size]byte, len(b.msgs))
	}
	b.sums = b.sums[:len(b.msgs)]
	sha256x.Sum(b.sums, b.msgs)
	for i, sf := range b.files {
		state := &fileState{content: model.IDs{}}
		a.saveChunk(ctx, state, s, sf.from, sf.to, b.sums[i], b.crcs[i])
		finish := sf.finish
		size := uint64(sf.to - sf.from)
		state.whenSaved(func() { finish(state, size) })
		b.files[i] = smallFile{}
	}
	b.files = b.files[:0]
	b.end = 0
	clear(b.msgs)
}
