package checker

import (
	"bufio"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"sync"

	"github.com/arca-backup/arca/backend"
	"github.com/arca-backup/arca/repo/internal/blobroom"
	"github.com/arca-backup/arca/repo/model"
	"github.com/arca-backup/arca/repo/pack"
)

// PackFilter chooses the packs ReadPacks reads from the candidates (pack
// ID → size as the index implies it). It may return its argument.
type PackFilter func(packs map[model.ID]int64) map[model.ID]int64

// streamBufferSize is each reader's buffer: packs are streamed, never held
// whole in memory (only one blob and the header are).
const streamBufferSize = 512 << 10

// ReadPacks reads whole packs and verifies them: the content hashes to the
// pack's name, every blob the index lists decrypts, decompresses and
// hashes to its ID, and the pack's header matches the index. After a
// filtered Structure run only packs holding blobs of the selected
// snapshots are candidates. Problems are reported as *PackDataError (the
// pack is damaged), *PackDownloadError (it could not be read) or
// *RetrySucceeded. progress, when set, gets the packs done and the total.
func (c *Checker) ReadPacks(ctx context.Context, filter PackFilter, progress func(done, total int), report Report) error {
	packs := c.candidatePacks()
	if filter != nil {
		packs = filter(packs)
	}
	ids := sortedIDs(packs)
	if progress != nil {
		progress(0, len(ids))
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type outcome struct{ err error }
	type task struct {
		id    model.ID
		blobs []model.Blob
	}
	tasks := make(chan task)
	outcomes := make(chan outcome)
	workers := max(1, int(c.r.Backend().Properties().Connections))
	var wg sync.WaitGroup
	gate := blobroom.NewGate()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v := newPackVerifier(c, gate)
			defer v.free()
			for t := range tasks {
				err := v.check(ctx, t.id, packs[t.id], t.blobs)
				select {
				case outcomes <- outcome{err}:
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	go func() {
		defer close(tasks)
		// the blob lists of a batch of packs at a time, so memory does not
		// grow with the repository (one index pass per batch)
		for _, batch := range c.packBatches(ids) {
			blobs := c.blobsOf(batch)
			for _, id := range batch {
				select {
				case tasks <- task{id, blobs[id]}:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	go func() {
		wg.Wait()
		close(outcomes)
	}()
	done := 0
	for o := range outcomes {
		done++
		if o.err != nil && ctx.Err() == nil {
			report(o.err)
		}
		if progress != nil {
			progress(done, len(ids))
		}
	}
	return ctx.Err()
}

// A batch of ReadPacks has at most packBatch packs and, unless one pack
// has more, blobBatch blobs or a sixteenth of the index's blobs,
// whichever is more: the lists of all 131,000 blobs of the /usr
// repository took 8.4 MB, the largest part of a check --read-data's peak
// memory, and each batch costs a pass over the index.
const (
	packBatch = 4096
	blobBatch = 16384
)

// packBatches splits packs into batches for ReadPacks, in order.
func (c *Checker) packBatches(packs []model.ID) [][]model.ID {
	counts := make(map[model.ID]int, len(packs))
	for _, id := range packs {
		counts[id] = 0
	}
	total := 0
	c.idx.Each(func(pb model.PackedBlob) bool {
		if n, ok := counts[pb.PackID]; ok {
			counts[pb.PackID] = n + 1
			total++
		}
		return true
	})
	limit := max(blobBatch, total/16)
	var batches [][]model.ID
	start, blobs := 0, 0
	for i, id := range packs {
		if i > start && (i-start == packBatch || blobs+counts[id] > limit) {
			batches = append(batches, packs[start:i])
			start, blobs = i, 0
		}
		blobs += counts[id]
	}
	if start < len(packs) {
		batches = append(batches, packs[start:])
	}
	return batches
}

// blobsOf returns the blobs the index lists for each of packs.
func (c *Checker) blobsOf(packs []model.ID) map[model.ID][]model.Blob {
	out := make(map[model.ID][]model.Blob, len(packs))
	for _, id := range packs {
		out[id] = nil
	}
	c.idx.Each(func(pb model.PackedBlob) bool {
		if l, ok := out[pb.PackID]; ok {
			out[pb.PackID] = append(l, pb.Blob)
		}
		return true
	})
	return out
}

// candidatePacks returns the packs ReadPacks may read: all indexed packs,
// or after a filtered Structure run those holding a referenced blob.
func (c *Checker) candidatePacks() map[model.ID]int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.filtered {
		return maps.Clone(c.packSizes)
	}
	out := map[model.ID]int64{}
	add := func(t model.BlobType, id model.ID) {
		for _, pb := range c.idx.Lookup(model.BlobHandle{ID: id, Type: t}) {
			out[pb.PackID] = c.packSizes[pb.PackID]
		}
	}
	for id := range c.seenTrees {
		add(model.TreeBlob, id)
	}
	for id := range c.usedBlobs {
		add(model.DataBlob, id)
	}
	return out
}

// packVerifier checks packs one at a time, reusing its stream buffer and
// blob rooms (package blobroom; long blobs one reader of the check at a
// time: each room used to stay as full as the longest blob its reader had
// met, a peak of 42 MiB in one run of check --read-data on the 1 GiB
// corpus, 49 in another).
type packVerifier struct {
	c     *Checker
	rd    *bufio.Reader
	rooms *blobroom.Rooms
}

func newPackVerifier(c *Checker, gate blobroom.Gate) *packVerifier {
	return &packVerifier{c: c, rd: bufio.NewReaderSize(nil, streamBufferSize), rooms: blobroom.New(gate)}
}

// blob reads the next blob b of the pack from v.rd and verifies it:
// damage is what is wrong with the blob, err what ends the pack.
func (v *packVerifier) blob(b model.PackedBlob) (damage, err error) {
	stored := v.rooms.Stored(b.Blob)
	if _, err := io.ReadFull(v.rd, stored); err != nil {
		return nil, &streamError{fmt.Errorf("readFull: %w", err)}
	}
	if b.Length <= 16 {
		return nil, &streamError{fmt.Errorf("invalid blob length %v", b.Blob)}
	}
	var dst []byte // an uncompressed blob is decrypted where it was read
	if b.IsCompressed() {
		dst = v.rooms.Plain()
	}
	plain, err := v.c.r.DecodeBlob(b, stored, dst)
	if err != nil {
		return fmt.Errorf("blob %v: %w", b.ID, err), nil
	}
	if b.IsCompressed() {
		v.rooms.KeepPlain(plain)
	}
	return nil, nil
}

// free releases the verifier's buffers; it must not be used afterwards.
func (v *packVerifier) free() { v.rooms.Free() }

// check verifies one pack, and once more when that fails, so that a
// transient read error is told apart from damage.
func (v *packVerifier) check(ctx context.Context, id model.ID, size int64, blobs []model.Blob) error {
	err := v.checkOnce(ctx, id, size, blobs)
	if err == nil || ctx.Err() != nil {
		return err
	}
	if err2 := v.checkOnce(ctx, id, size, blobs); err2 != nil {
		return err2
	}
	return &RetrySucceeded{PackID: id, Err: err}
}

// streamError marks a failure while reading the pack's bytes after the
// download started.
type streamError struct{ err error }

func (e *streamError) Error() string { return e.err.Error() }
func (e *streamError) Unwrap() error { return e.err }

func (v *packVerifier) checkOnce(ctx context.Context, id model.ID, size int64, blobs []model.Blob) error {
	if len(blobs) == 0 {
		return &PackDataError{PackID: id, Errors: []error{errors.New("pack is empty or not indexed")}}
	}
	blobs = slices.Clone(blobs)
	slices.SortFunc(blobs, func(a, b model.Blob) int { return int(a.Offset) - int(b.Offset) })

	var errs []error
	end := uint(0)
	contiguous := true
	for _, b := range blobs {
		if b.Offset != end {
			contiguous = false
		}
		end = b.Offset + b.Length
	}
	if !contiguous {
		errs = append(errs, errors.New("index for pack contains gaps / overlapping blobs"))
	}

	var blobErrs []error
	var hash model.ID
	var header []byte
	h := backend.Handle{Type: backend.PackFile, Name: id.String()}
	err := v.c.r.Backend().Load(ctx, h, int(size), 0, func(rd io.Reader) error {
		hasher := sha256.New()
		v.rd.Reset(io.TeeReader(rd, hasher))
		blobErrs = nil
		pos := uint(0)
		for _, b := range blobs {
			if err := ctx.Err(); err != nil {
				return err
			}
			if b.Offset < pos {
				return &streamError{fmt.Errorf("overlapping blobs in pack %v", id)}
			}
			if _, err := v.rd.Discard(int(b.Offset - pos)); err != nil {
				return &streamError{err}
			}
			leave, err := v.rooms.Enter(ctx, b)
			if err != nil {
				return err
			}
			damage, err := v.blob(model.PackedBlob{Blob: b, PackID: id})
			leave()
			if err != nil {
				return err
			}
			if damage != nil {
				blobErrs = append(blobErrs, damage)
			}
			pos = b.Offset + b.Length
		}
		// the header is in the rest of the file, at most MaxHeaderSize long
		if start := size - pack.MaxHeaderSize; start > int64(pos) {
			if _, err := v.rd.Discard(int(start - int64(pos))); err != nil {
				return &streamError{err}
			}
			pos = uint(start)
		}
		header = make([]byte, size-int64(pos))
		if _, err := io.ReadFull(v.rd, header); err != nil {
			return &streamError{err}
		}
		hasher.Sum(hash[:0])
		return nil
	})
	v.rd.Reset(nil)
	errs = append(errs, blobErrs...)
	if err != nil {
		var se *streamError
		if errors.As(err, &se) {
			return &PackDataError{PackID: id, Errors: append(errs, fmt.Errorf("partial download error: %w", err))}
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return &PackDownloadError{PackID: id, Err: err}
	}
	if hash != id {
		return &PackDataError{PackID: id, Errors: append(errs, fmt.Errorf("unexpected pack id %v", hash))}
	}

	hdrBlobs, hdrSize, err := v.parseHeader(header)
	if err != nil {
		return &PackDataError{PackID: id, Errors: append(errs, err)}
	}
	if want := pack.HeaderSize(blobs); want != hdrSize {
		errs = append(errs, fmt.Errorf("pack header size does not match, want %v, got %v", want, hdrSize))
	}
	for _, hb := range hdrBlobs {
		indexed := false
		for _, pb := range v.c.idx.Lookup(hb.BlobHandle) {
			if pb.PackID == id && pb.Blob == hb {
				indexed = true
				break
			}
		}
		if !indexed {
			errs = append(errs, fmt.Errorf("blob %v is not contained in index or position is incorrect", hb.ID))
		}
	}
	if len(errs) > 0 {
		return &PackDataError{PackID: id, Errors: errs}
	}
	return nil
}

// parseHeader decodes the header at the end of buf (the tail of a pack)
// and returns its blobs and its size including the length field.
func (v *packVerifier) parseHeader(buf []byte) ([]model.Blob, int, error) {
	hlen, err := pack.HeaderLength(buf, int64(len(buf)))
	if err != nil {
		return nil, 0, err
	}
	total := hlen + pack.HeaderLengthSize
	blobs, err := pack.ParseHeader(v.c.r.Cipher(), buf[len(buf)-total:len(buf)-pack.HeaderLengthSize])
	if err != nil {
		return nil, 0, err
	}
	return blobs, total, nil
}
