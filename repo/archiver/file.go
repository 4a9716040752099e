package archiver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/arca-backup/arca/chunker"
	"github.com/arca-backup/arca/repo/fsnode"
	"github.com/arca-backup/arca/repo/model"
)

// blockSize is how much of a file is read at once. Most chunks are much
// shorter (about 1.5 MiB on average); the incomplete chunk left at the end
// of a block moves to the front of the next one. When it fills most of a
// block (a chunk longer than a block), the next buffer doubles, up to
// MaxSize, where the chunker always cuts, and shrinks back afterwards.
const blockSize = chunker.MaxSize / 2

// blockFor returns the buffer size for the next block of a file whose
// incomplete chunk is carry bytes long: room for it and at least as many
// new bytes (carry < MaxSize: the chunker cuts at MaxSize at the latest).
func blockFor(carry int) int {
	return max(blockSize, min(2*carry, chunker.MaxSize))
}

// growBuffer returns a buffer of at least min bytes for a reader's block
// that held cur: it grows geometrically up to blockSize, so a run of files
// of increasing size does not allocate a new buffer for each one. A buffer
// enlarged for a long chunk (up to chunker.MaxSize) is kept for as long as
// whole blocks are read (min is at least blockSize: the rest of a large
// file, or the next large file) and dropped only for a small file: large
// files meet long chunks again and again, and dropping the buffer after
// each one cost a fresh, zeroed, page-faulted buffer twice per long
// chunk, about a quarter of the corpus's size in allocations.
func growBuffer(cur []byte, min int) []byte {
	if cap(cur) >= min && (cap(cur) <= blockSize || min >= blockSize) {
		return cur[:cap(cur)]
	}
	n := max(min, 2*cap(cur))
	if n > blockSize {
		n = max(min, blockSize)
	}
	return make([]byte, n)
}

type fileJob struct {
	snPath, path string
	previous     *model.Node
	start        time.Time
	done         chan<- result
}

// readBuf is a read buffer whose chunks may still be being saved.
type readBuf struct {
	data    []byte
	pending sync.WaitGroup
}

// fileWorker reads files. It owns two buffers: while the chunks of one are
// being saved, the next part (or the next file) is read into the other.
func (a *Archiver) fileWorker(ctx context.Context) {
	defer a.workers.Done()
	var bufs [2]*readBuf
	for i := range bufs {
		bufs[i] = &readBuf{}
	}
	cur := 0
	next := func(min int) *readBuf {
		b := bufs[cur]
		cur ^= 1
		b.pending.Wait()
		b.data = growBuffer(b.data, min)
		return b
	}
	for job := range a.jobs {
		a.saveFile(ctx, job, next)
	}
	for _, b := range bufs {
		b.pending.Wait()
	}
}

// fileState collects the results of one file's chunk saves.
type fileState struct {
	mu      sync.Mutex
	content model.IDs
	stats   ItemStats
	err     error
	wg      sync.WaitGroup
}

func (s *fileState) fail(err error) {
	s.mu.Lock()
	if s.err == nil {
		s.err = err
	}
	s.mu.Unlock()
}

func (a *Archiver) saveFile(ctx context.Context, job fileJob, next func(int) *readBuf) {
	fail := func(err error) {
		job.done <- result{target: job.path, err: err}
		if a.cb.CompleteItem != nil {
			a.track(job.snPath, nil, nil, ItemStats{}, 0)
		}
	}
	if a.cb.StartFile != nil {
		a.cb.StartFile(job.snPath)
	}
	f, err := a.opts.Open(job.path)
	if err != nil {
		fail(err)
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		fail(err)
		return
	}
	if !fi.Mode().IsRegular() {
		fail(fmt.Errorf("file %q changed type, refusing to archive", job.path))
		return
	}
	st := fsnode.StatOf(fi)
	node, err := a.nodeFromStat(job.snPath, job.path, st, false)
	if err != nil {
		fail(err)
		return
	}
	if node.Type != model.NodeTypeFile {
		fail(fmt.Errorf("node type %q is wrong", node.Type))
		return
	}

	state, size := a.chunkStream(ctx, f, st.Size, next)
	// The file's result is ready once all of its chunks are saved.
	go func() {
		state.wg.Wait()
		state.mu.Lock()
		err := state.err
		state.mu.Unlock()
		if err != nil {
			fail(fmt.Errorf("failed to save %v: %w", job.path, err))
			return
		}
		node.Content = state.content
		node.Size = size
		a.track(job.snPath, job.previous, node, state.stats, time.Since(job.start))
		job.done <- result{target: job.path, node: node, stats: state.stats}
	}()
}

// chunkStream reads r to the end, cutting it into chunks that are saved in
// the background. sizeHint (the expected size, or -1) sizes the first
// buffer. Wait on state.wg for the saves to finish.
func (a *Archiver) chunkStream(ctx context.Context, r io.Reader, sizeHint int64, next func(int) *readBuf) (*fileState, uint64) {
	state := &fileState{content: model.IDs{}}
	var size uint64
	first := int(sizeHint) + 1
	if first > blockSize || sizeHint < 0 {
		first = blockSize
	}
	if first < 4096 {
		first = 4096
	}
	var carry []byte // incomplete chunk from the previous buffer
	var cuts []int
	eof := false
	for !eof {
		if err := ctx.Err(); err != nil {
			state.fail(err)
			break
		}
		min := first
		if len(carry) > 0 {
			min = blockFor(len(carry))
		}
		b := next(min)
		n := copy(b.data, carry)
		for n < len(b.data) {
			m, err := r.Read(b.data[n:])
			n += m
			if errors.Is(err, io.EOF) {
				eof = true
				break
			}
			if err != nil {
				state.fail(err)
				eof = true
				break
			}
		}
		state.mu.Lock()
		failed := state.err != nil
		state.mu.Unlock()
		if failed {
			break
		}
		data := b.data[:n]
		cuts = a.table.Cuts(data, eof, cuts[:0])
		from := 0
		for _, c := range cuts {
			a.saveChunk(ctx, state, b, data[from:c])
			size += uint64(c - from)
			from = c
		}
		// The rest is an incomplete chunk: it goes to the front of the
		// other buffer. It must be copied before this buffer is reused,
		// which next guarantees by alternating buffers.
		carry = data[from:]
		if eof && len(carry) > 0 {
			state.fail(fmt.Errorf("chunker left %d bytes at end of file", len(carry)))
		}
	}
	return state, size
}

// saveChunk saves one chunk in the background, keeping its place in the
// file's content list.
func (a *Archiver) saveChunk(ctx context.Context, state *fileState, b *readBuf, chunk []byte) {
	state.mu.Lock()
	pos := len(state.content)
	state.content = append(state.content, model.ID{})
	state.mu.Unlock()
	if a.cb.CompleteBlob != nil {
		a.cb.CompleteBlob(uint64(len(chunk)))
	}
	select {
	case a.chunks <- struct{}{}:
	case <-ctx.Done():
		state.fail(ctx.Err())
		return
	}
	b.pending.Add(1)
	state.wg.Add(1)
	go func() {
		defer func() {
			<-a.chunks
			b.pending.Done()
			state.wg.Done()
		}()
		id, known, size, err := a.saver.SaveBlob(ctx, model.DataBlob, chunk, model.ID{})
		state.mu.Lock()
		defer state.mu.Unlock()
		if err != nil {
			if state.err == nil {
				state.err = &fatal{fmt.Errorf("save blob: %w", err)}
			}
			return
		}
		if !known {
			state.stats.DataBlobs++
			state.stats.DataSize += uint64(len(chunk))
			state.stats.DataSizeInRepo += uint64(size)
		}
		state.content[pos] = id
	}()
}
