package archiver

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/arca-backup/arca/chunker"
	"github.com/arca-backup/arca/crypto/sha256x"
	"github.com/arca-backup/arca/repo/fsnode"
	"github.com/arca-backup/arca/repo/internal/offheap"
	"github.com/arca-backup/arca/repo/model"
)

// blockSize is how much of a file is read at once: half of the longest
// chunk.
const blockSize = chunker.MaxSize / 2

// slabBlocks is how many blocks a slab has; a wide one has wideBlocks.
const (
	slabBlocks = 2
	wideBlocks = 4
)

// slab is a reader's buffer: one allocation of slabBlocks (or, while it is
// wide, wideBlocks) blocks, read a block at a time. While the chunks cut
// from one block are being saved, the next block is read, so reading
// overlaps saving. Because the blocks are adjacent, a chunk that began in
// one block simply continues into the next: only the incomplete chunk at
// the end of the slab moves to the front, and as a chunk is at most
// MaxSize (two blocks) long, it always fits. The slab is never regrown or
// dropped, so a reader's memory is fixed whatever the chunk lengths and
// file sizes, and reading makes no garbage; pages a small file never
// reaches are never touched.
//
// A slab of a reader of large files may widen while it is the only one
// such slab in use (see slabShare).
type slab struct {
	mem *offheap.Buffer // outside the Go heap (see package offheap)
	buf []byte
	// blocks is how many blocks of buf are in use: slabBlocks, or
	// wideBlocks while the slab is wide.
	blocks int
	// share decides when the slab may widen; nil: never.
	share  *slabShare
	joined bool // counted in share
	// pending counts the saves of chunks lying (partly) in each block; a
	// block is overwritten only when its count is zero.
	pending [wideBlocks]sync.WaitGroup
	// first is the block the next stream starts in: streams move on, so
	// one file's chunks are saved while the next file is read.
	first int
}

// blockRange returns the blocks [b0, b1) that the bytes [from, to) lie in.
func blockRange(from, to int) (b0, b1 int) {
	if from >= to {
		return 0, 0
	}
	return from / blockSize, (to-1)/blockSize + 1
}

// wait blocks until no save reads the bytes [from, to) of the slab.
func (s *slab) wait(from, to int) {
	b0, b1 := blockRange(from, to)
	for b := b0; b < b1; b++ {
		s.pending[b].Wait()
	}
}

// hold marks the bytes [from, to) as read by one more save; release undoes
// it.
func (s *slab) hold(from, to int) {
	b0, b1 := blockRange(from, to)
	for b := b0; b < b1; b++ {
		s.pending[b].Add(1)
	}
}

func (s *slab) release(from, to int) {
	b0, b1 := blockRange(from, to)
	for b := b0; b < b1; b++ {
		s.pending[b].Done()
	}
}

// free waits until every save from the slab is done and releases its
// memory.
func (s *slab) free() {
	s.wait(0, wideBlocks*blockSize)
	if s.joined {
		s.share.leave(s)
		s.joined = false
	}
	if s.mem != nil {
		s.mem.Free()
		s.mem, s.buf = nil, nil
	}
}

// join counts the slab in its share before its reader starts on its first
// file (see slabShare.join).
func (s *slab) join() {
	if s.share != nil && !s.joined {
		s.share.join()
		s.joined = true
	}
}

// ensure allocates the slab's memory on first use. Only its first
// slabBlocks blocks are touched until it widens.
func (s *slab) ensure() {
	if s.buf == nil {
		s.join()
		size := slabBlocks * blockSize
		if s.share != nil {
			size = wideBlocks * blockSize
		}
		s.mem = offheap.Alloc(size)
		s.buf = s.mem.Bytes
		s.blocks = slabBlocks
	}
}

// window returns where a stream's next bytes go: hi is at the end of a
// block; the incomplete chunk buf[lo:hi] (empty at the start of a stream)
// continues into the next block, or moves to the front when the slab is
// full, and the bytes up to the returned end are free to read into. It
// waits for the saves still reading that region. The slab widens or
// narrows when a full slab's chunk moves to the front.
func (s *slab) window(lo, hi int) (newLo, newHi, end int) {
	s.ensure()
	if hi > 0 && hi < s.blocks*blockSize {
		s.wait(hi, hi+blockSize)
		return lo, hi, hi + blockSize
	}
	// the slab is full (or a stream starts at the front): the incomplete
	// chunk moves to the front, followed by the rest of its last block
	n := hi - lo
	end = (n/blockSize + 1) * blockSize
	s.wait(0, end)
	copy(s.buf, s.buf[lo:hi])
	if hi > 0 {
		s.share.resize(s)
	}
	return 0, n, end
}

// endStream is called when a stream has ended at hi: a wide slab narrows
// if another reader waits, and the next stream starts in the block after
// the one this one ended in.
func (s *slab) endStream(hi int) {
	s.first = (max(hi-1, 0)/blockSize + 1) % max(s.blocks, slabBlocks)
	s.share.yield(s)
}

// nextFile is called when the slab's reader takes a file: it joins the
// share with its first, and a wide slab narrows if another reader waits
// (its reader may go on with small files for a while).
func (s *slab) nextFile() {
	if !s.joined {
		s.join()
		return
	}
	s.share.yield(s)
}

// idle is called when the slab's reader waits for files: a wide slab
// narrows, so that no reader waits for it meanwhile.
func (s *slab) idle() {
	s.share.narrow(s)
}

// slabShare lets a reader of large files widen its slab from two blocks to
// four while no other reader of large files has taken a file (and there
// are others, so that their memory is free to take): a single
// large file (a disk image, a database dump) then has two more blocks of
// chunks waiting for the savers, which otherwise ran dry each time the
// reader waited for a block to be released. With several large files read
// at once the readers together keep the savers busy, and the slabs stay
// narrow, so a backup's memory for slabs never exceeds two blocks per
// reader.
//
// A slab widens when a full slab's chunk moves to the front (window). It
// narrows when its reader waits for files, or when another reader waits
// to start on its first file, at the wide one's next move to the front,
// the end of its stream or its next file, whichever comes first; the
// waiting reader waits until then. A narrowed slab's outer blocks are
// given back to the system.
//
// Backup of one 1 GiB file (alternating 4 MiB runs of text and random
// bytes) on the 2-core VM, three alternating runs each: 2.49-2.72 s
// against 2.90-3.03 s with slabs of two blocks at the default
// compression, 1.98-2.20 s against 2.06-2.31 s with compression off, at
// 54 MiB of peak memory against 44 MiB. Slabs of six or eight blocks
// gained nothing more than four. The mixed corpus, whose two readers keep
// the cores busy already, ran no faster with four blocks per reader.
type slabShare struct {
	readers int // how many readers there are: a slab widens only with two or more
	mu      sync.Mutex
	changed sync.Cond
	holders int   // slabs in use (joined)
	wide    *slab // the wide slab, if any
	waiting int   // readers waiting in join for the wide slab to narrow
}

// newSlabShare returns the share of the slabs of readers readers. With
// one reader (compression max, or --read-concurrency 1) no slab widens:
// the memory of slabs stays at two blocks per reader.
func newSlabShare(readers int) *slabShare {
	sh := &slabShare{readers: readers}
	sh.changed.L = &sh.mu
	return sh
}

// join counts one more slab in use, first waiting for a wide one to
// narrow. A reader joins when it takes its first file, before it opens
// it: a slab then does not widen because the others' readers were still
// opening theirs.
func (sh *slabShare) join() {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	sh.waiting++
	for sh.wide != nil {
		sh.changed.Wait()
	}
	sh.waiting--
	sh.holders++
}

// leave counts one slab in use less.
func (sh *slabShare) leave(s *slab) {
	sh.narrow(s)
	sh.mu.Lock()
	sh.holders--
	sh.mu.Unlock()
}

// resize narrows s when another reader waits, or widens it when it is
// the only slab in use. Its chunk must be at the front.
func (sh *slabShare) resize(s *slab) {
	if sh == nil {
		return
	}
	sh.mu.Lock()
	waiting := sh.waiting > 0
	widen := sh.readers > 1 && s.blocks == slabBlocks && !waiting && sh.holders == 1 && sh.wide == nil
	if widen {
		sh.wide, s.blocks = s, wideBlocks
	}
	sh.mu.Unlock()
	if waiting {
		sh.narrow(s)
	}
}

// yield narrows s when another reader waits. Its stream must have ended.
func (sh *slabShare) yield(s *slab) {
	if sh == nil {
		return
	}
	sh.mu.Lock()
	waiting := sh.waiting > 0
	sh.mu.Unlock()
	if waiting {
		sh.narrow(s)
	}
}

// narrow makes s narrow again if it is wide: once the saves reading its
// outer blocks are done, their memory goes back to the system and a
// waiting reader may allocate its slab.
func (sh *slabShare) narrow(s *slab) {
	if sh == nil || s.blocks != wideBlocks {
		return
	}
	s.wait(slabBlocks*blockSize, wideBlocks*blockSize)
	s.mem.Discard(slabBlocks * blockSize)
	s.blocks = slabBlocks
	s.first %= slabBlocks
	sh.mu.Lock()
	sh.wide = nil
	sh.changed.Broadcast()
	sh.mu.Unlock()
}

type fileJob struct {
	snPath, path string
	previous     *model.Node
	start        time.Time
	done         chan<- result
	// unstated marks a new file the walk knows to be a regular file from
	// its directory entry only: it did not lstat it, so its size is not
	// known before it is opened, and a file that is gone by then vanished
	// after the directory was read, which is no error (as for lstat).
	unstated bool
	// opened is the file, already open, when a reader of small files
	// hands it over (see saveFile), and info its fstat.
	opened File
	info   os.FileInfo
}

// smallReaders is how many readers a backup adds for files shorter than
// chunker.MinSize when the read concurrency is not set. A small file costs
// a reader more in system calls (open, fstat, read, close, the extended
// attributes) than in reading, so two readers left both cores partly idle
// on a tree of small files. Files of that size touch only the first pages
// of each half of a slab, so these readers add little memory, while more
// readers of any file would add up to a slab each (8 MiB) on large files.
// First backup of 131,124 files of 0-16 KiB (1 GiB), compression off,
// three batches of alternating runs on the 2-core VM, with and without
// them: medians 4.98 s against 5.17 s (3 runs each), 5.51 s against 5.63 s
// (5 each), 4.95-5.10 s against 5.09-5.32 s (3 each), at the same peak
// memory (48-54 MiB). Compressed backups of these files are bound by
// compression and did not change.
const smallReaders = 2

// fileWorker reads the files of q into its slab until all of q's
// channels are closed. A reader of small files only passes handOver: it
// sends there, open, the files it finds too long for it.
func (a *Archiver) fileWorker(ctx context.Context, q queues, handOver chan<- fileJob) {
	s := &slab{}
	if handOver == nil {
		s.share = a.slabs // a reader of any file
	}
	defer s.free()
	var small smallBatch
	defer a.saveSmall(ctx, s, &small)
	for {
		job, ok := q.next(false)
		if !ok && len(small.files) > 0 {
			// nothing is waiting: save the files read so far first
			a.saveSmall(ctx, s, &small)
		}
		if !ok {
			s.idle()
			job, ok = q.next(true)
		}
		if !ok {
			return
		}
		s.nextFile()
		a.cpus.readers.Add(1)
		a.saveFile(ctx, job, s, &small, handOver)
		a.cpus.readers.Add(-1)
	}
}

// cpuUse counts the readers at work on a file and the savers at work on
// a chunk, to tell whether a CPU is to spare.
//
// Where to hash a chunk: a reader hashes the chunks it cuts from a block
// together (blockHashes), several in the lanes of one core, which costs
// less CPU than hashing them one by one in the savers. But a reader is
// one goroutine: when its chunks are known already (a large file read
// again after a small change), its savers have nothing to do, and the
// reader's hashing is all the work, on one core. So a reader leaves a
// block's chunks to the savers to hash whenever the readers and savers at
// work are fewer than the CPUs; with a saver then busy hashing, it hashes
// the next block itself, and the two alternate. In a first backup the
// savers compress, and the readers keep hashing.
//
// Backup of a 1 GiB file after 2% of it changed (the huge-file corpus's
// incremental backup) on the 2-core VM: the reader had taken 85-90% of
// one core and the savers 15-45% of the other for 0.85 s of the 1.25 s;
// now the two take 65-80% each. Three alternating runs: 1.22-1.31 s
// against 1.46-1.54 s. First backups of the mixed and huge-file corpora
// and of 131,124 small files did not change (alternating runs).
type cpuUse struct {
	readers, savers atomic.Int32
	cpus            int32
}

// spare reports whether fewer readers and savers are at work than there
// are CPUs.
func (u *cpuUse) spare() bool {
	return u.readers.Load()+u.savers.Load() < u.cpus
}

// queues are the channels a reader takes files from (nil ones never give
// any); next sets each to nil once it is closed.
type queues [3]<-chan fileJob

// next takes the next file from any of q. Without wait it returns false
// at once when none is ready; with wait it returns false only once all are
// closed.
func (q *queues) next(wait bool) (fileJob, bool) {
	for q[0] != nil || q[1] != nil || q[2] != nil {
		var job fileJob
		var ok bool
		var from int
		if wait {
			select {
			case job, ok = <-q[0]:
			case job, ok = <-q[1]:
				from = 1
			case job, ok = <-q[2]:
				from = 2
			}
		} else {
			select {
			case job, ok = <-q[0]:
			case job, ok = <-q[1]:
				from = 1
			case job, ok = <-q[2]:
				from = 2
			default:
				return fileJob{}, false
			}
		}
		if !ok {
			q[from] = nil // closed: the others go on
			continue
		}
		return job, true
	}
	return fileJob{}, false
}

// fileState collects the results of one file's chunk saves.
type fileState struct {
	mu      sync.Mutex
	content model.IDs
	stats   ItemStats
	err     error
	pending int    // chunk saves not finished yet
	then    func() // run by whoever sees the last save finish (whenSaved)
}

// whenSaved runs fn once every chunk handed to the savers so far has been
// saved: at once when none is pending, otherwise in the saver that
// finishes the last one. Call it once, after the last chunk was handed
// over.
func (s *fileState) whenSaved(fn func()) {
	s.mu.Lock()
	if s.pending > 0 {
		s.then = fn
		fn = nil
	}
	s.mu.Unlock()
	if fn != nil {
		fn()
	}
}

func (s *fileState) fail(err error) {
	s.mu.Lock()
	if s.err == nil {
		s.err = err
	}
	s.mu.Unlock()
}

// saveFile reads and saves the file of job. A reader of small files only
// (handOver not nil) hands a file it finds at least chunker.MinSize long
// over to the readers of any file, open, to keep its slab small.
func (a *Archiver) saveFile(ctx context.Context, job fileJob, s *slab, small *smallBatch, handOver chan<- fileJob) {
	// fail reports the file as not saved: with err, or gone (nil)
	fail := func(err error) {
		job.done <- result{target: job.path, err: err}
		if a.cb.CompleteItem != nil {
			a.track(job.snPath, nil, nil, ItemStats{}, 0)
		}
	}
	// failOpen is fail for the file's opening and checks, which restic
	// reports under the file's absolute path (and the rest under the path
	// as given)
	failOpen := func(err error) {
		if err != nil {
			if abs, aerr := a.paths.abs(job.path); aerr == nil {
				job.path = abs
			}
		}
		fail(err)
	}
	f, fi := job.opened, job.info
	if f == nil {
		var err error
		if f, err = a.opts.Open(job.path); err != nil {
			if job.unstated && isNotExist(err) {
				err = nil // vanished since the directory was read
			} else if job.unstated {
				// restic's lstat comes first: where it fails too (a
				// directory that may be listed but not searched), its
				// error is the one restic reports
				if _, lerr := os.Lstat(job.path); lerr != nil {
					err = lerr
				}
			}
			failOpen(err)
			return
		}
		if fi, err = f.Stat(); err != nil {
			f.Close()
			failOpen(err)
			return
		}
		if handOver != nil && fi.Mode().IsRegular() && fi.Size() >= chunker.MinSize {
			a.saveSmall(ctx, s, small) // no file waits for this one
			job.opened, job.info = f, fi
			select {
			case handOver <- job:
			case <-ctx.Done():
				f.Close()
				fail(ctx.Err())
			}
			return
		}
	}
	defer f.Close()
	if a.cb.StartFile != nil {
		a.cb.StartFile(job.snPath) // by the reader that reads it
	}
	if !fi.Mode().IsRegular() {
		failOpen(fmt.Errorf("file %q changed type, refusing to archive", job.path))
		return
	}
	st := fsnode.StatOf(fi)
	fd := -1
	if d, ok := f.(interface{ Fd() uintptr }); ok {
		fd = int(d.Fd())
	}
	node, err := a.node(job.snPath, job.path, st, fd, fsnode.Options{})
	if err != nil {
		fail(err)
		return
	}
	if node.Type != model.NodeTypeFile {
		fail(fmt.Errorf("node type %q is wrong", node.Type))
		return
	}

	// finish reports the file once all of its chunks are saved (its done
	// channel has room for it: sending never blocks the saver).
	finish := func(state *fileState, size uint64) {
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
	}
	if a.readSmall(ctx, f, fi.Size(), s, small, finish) {
		return
	}
	a.saveSmall(ctx, s, small) // chunkStream needs all of the slab
	state, size := a.chunkStream(ctx, f, s, fi.Size())
	state.whenSaved(func() { finish(state, size) })
}

// chunkStream reads r to the end through the slab s, cutting it into
// chunks that are saved in the background. Wait on state.wg for the saves
// to finish. length is how long r is expected to be (a regular file's
// size when it was opened), or -1: a read that returns less than asked
// and brings the bytes read to exactly length is taken as the end, which
// saves a small file the second read that would only report it. A file
// that grew since gives a full read or more than length bytes, one that
// returns short reads before its end (some network or FUSE file
// systems) stays short of length, and both are read on to the end.
func (a *Archiver) chunkStream(ctx context.Context, r io.Reader, s *slab, length int64) (*fileState, uint64) {
	state := &fileState{content: model.IDs{}}
	var size uint64
	// buf[lo:hi] is the incomplete chunk read so far
	lo := s.first * blockSize
	hi := lo
	defer func() { s.endStream(hi) }()
	var cuts []int
	var hashes blockHashes
	eof := false
	var got int64 // bytes read from r
	for !eof {
		if err := ctx.Err(); err != nil {
			state.fail(err)
			break
		}
		var end int
		lo, hi, end = s.window(lo, hi)
		for hi < end {
			want := end - hi
			m, err := r.Read(s.buf[hi:end])
			hi += m
			got += int64(m)
			if errors.Is(err, io.EOF) {
				eof = true
				break
			}
			if err != nil {
				state.fail(err)
				eof = true
				break
			}
			if m < want && got == length {
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
		cuts = a.table.Cuts(s.buf[lo:hi], eof, cuts[:0])
		var ids []model.ID
		var sums []uint32
		if a.cpus.spare() {
			ids, sums = hashes.none(len(cuts))
		} else {
			ids, sums = hashes.of(s.buf[lo:hi], cuts)
		}
		from := lo
		for i, c := range cuts {
			a.saveChunk(ctx, state, s, from, lo+c, ids[i], sums[i])
			size += uint64(lo + c - from)
			from = lo + c
		}
		lo = from
		if eof && lo < hi {
			state.fail(fmt.Errorf("chunker left %d bytes at end of file", hi-lo))
		}
	}
	return state, size
}

// blockHashes computes the IDs of the chunks cut from one block together
// (sha256x: hashes side by side took 55-65% of the time of one after the
// other), reusing its slices from block to block.
//
// A chunk hashed here is saved later, by a saver, from the reader's slab.
// So that a chunk whose bytes changed in between (a memory fault, or a
// bug in the slab's bookkeeping) is not stored under the ID of other
// bytes, each also gets a CRC-32C, taken before its hash, which the saver
// checks before it stores the chunk (storeChunk). The repository writer's
// extra verification then compares what it stored with the bytes it was
// given; together the two cover what restic's covers by hashing every
// blob again, for a pass of CRC-32C (about 25 GB/s here) instead of one
// of SHA-256 (about 1.7 GB/s).
type blockHashes struct {
	msgs  [][]byte
	which []int // the chunk each of msgs is
	sums  [][sha256.Size]byte
	ids   []model.ID
	crcs  []uint32
}

// castagnoli is the CRC-32C table; crc32 computes it with the CPU's
// instruction where there is one.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// chunkCRC is the CRC-32C that a chunk's bytes get when they are hashed
// and must still have when they are saved.
func chunkCRC(chunk []byte) uint32 { return crc32.Checksum(chunk, castagnoli) }

// none returns n null IDs and CRCs: the savers hash those chunks.
func (h *blockHashes) none(n int) ([]model.ID, []uint32) {
	h.ids = slices.Grow(h.ids[:0], n)[:n]
	clear(h.ids)
	h.crcs = slices.Grow(h.crcs[:0], n)[:n]
	clear(h.crcs)
	return h.ids, h.crcs
}

// of returns the IDs of the chunks of block that end at cuts, and the
// CRC-32C of each chunk with an ID. A block with a single chunk, and the
// all-zero chunks of sparse regions (which the repository writer knows
// the ID of), get null IDs: the savers hash those, in parallel with the
// reading of the next block (a chunk shorter than the minimum size is
// hashed when its reader saves it, saveChunk).
func (h *blockHashes) of(block []byte, cuts []int) ([]model.ID, []uint32) {
	h.none(len(cuts))
	if len(cuts) < 2 {
		return h.ids, h.crcs
	}
	h.msgs, h.which = h.msgs[:0], h.which[:0]
	from := 0
	for i, c := range cuts {
		if !chunker.ZeroChunk(block[from:c]) {
			h.msgs = append(h.msgs, block[from:c])
			h.which = append(h.which, i)
			h.crcs[i] = chunkCRC(block[from:c])
		}
		from = c
	}
	h.sums = slices.Grow(h.sums[:0], len(h.msgs))[:len(h.msgs)]
	sha256x.Sum(h.sums, h.msgs)
	for k, i := range h.which {
		h.ids[i] = h.sums[k]
	}
	return h.ids, h.crcs
}

// saveChunk hands one chunk to the savers, keeping its place in the
// file's content list; id is its ID, or null for the saver to compute,
// and crc the CRC-32C of its bytes taken with a non-null id.
// It waits while every saver is busy. A chunk shorter than the minimum
// size, which can only be a file's last (a small file's only) chunk, is
// saved right here instead: handing it over cost more than saving it.
// Each small file then woke a saver and later its reader again, and
// while those wake-ups were under way a core stood idle. Saving them in
// their readers took a first backup of 131,124 files of 0-16 KiB from
// 5.28-5.49 s to 4.95-5.11 s with compression off and from 7.52-7.54 s to
// 7.13-7.28 s at the default (three alternating runs each); the mixed
// corpus, mostly larger files, did not change.
func (a *Archiver) saveChunk(ctx context.Context, state *fileState, s *slab, from, to int, id model.ID, crc uint32) {
	state.mu.Lock()
	pos := len(state.content)
	state.content = append(state.content, model.ID{})
	state.pending++
	state.mu.Unlock()
	if a.cb.CompleteBlob != nil {
		a.cb.CompleteBlob(uint64(to - from))
	}
	c := chunkSave{state: state, slab: s, from: from, to: to, pos: pos, id: id, crc: crc}
	s.hold(from, to)
	if to-from < chunker.MinSize {
		a.storeChunk(ctx, c)
		return
	}
	select {
	case a.saves <- c:
	case <-ctx.Done():
		state.fail(ctx.Err())
		a.finishChunk(c)
	}
}

// chunkSave is a chunk for the savers: slab.buf[from:to], the pos-th
// chunk of its file, with its ID if it is known (else null) and then the
// CRC-32C its bytes had when they were hashed (see blockHashes).
type chunkSave struct {
	state    *fileState
	slab     *slab
	from, to int
	pos      int
	id       model.ID
	crc      uint32
}

// startSavers starts the goroutines that save chunks (as many as chunks
// may be in flight) and returns the function that stops them once no
// more chunks come. Long-lived savers keep the stacks they grew. A
// goroutine per chunk, and one per file to wait for its chunks, grew new
// stacks every time (in the sealing, and in the caller's event handler):
// stack growth took 10% of the CPU time of a backup of 131,000 small
// files, now 0.7%.
func (a *Archiver) startSavers(ctx context.Context) (stop func()) {
	a.saves = make(chan chunkSave)
	var wg sync.WaitGroup
	for range 2*runtime.GOMAXPROCS(0) + 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range a.saves {
				a.cpus.savers.Add(1)
				a.storeChunk(ctx, c)
				a.cpus.savers.Add(-1)
			}
		}()
	}
	return func() {
		close(a.saves)
		wg.Wait()
	}
}

// ErrChunkChanged is the error (wrapped) of a backup that found a chunk
// changed in memory between its hashing and its save. Nothing was stored
// under its ID.
var ErrChunkChanged = errors.New("the chunk changed in memory after it was hashed (a hardware fault or a software bug)")

// storeChunk stores one chunk and records its ID in its file's content list.
func (a *Archiver) storeChunk(ctx context.Context, c chunkSave) {
	chunk := c.slab.buf[c.from:c.to]
	id, known, size, err := c.saveBlob(ctx, a.saver, chunk)
	state := c.state
	state.mu.Lock()
	if err != nil {
		if state.err == nil {
			state.err = &fatal{fmt.Errorf("save blob: %w", err)}
		}
	} else {
		if !known {
			state.stats.DataBlobs++
			state.stats.DataSize += uint64(len(chunk))
			state.stats.DataSizeInRepo += uint64(size)
		}
		state.content[c.pos] = id
	}
	state.mu.Unlock()
	a.finishChunk(c)
}

// saveBlob saves the chunk's bytes, which its reader may have hashed:
// then only if they still have the CRC-32C taken with the hash.
func (c chunkSave) saveBlob(ctx context.Context, saver BlobSaver, chunk []byte) (model.ID, bool, int, error) {
	if !c.id.IsNull() && chunkCRC(chunk) != c.crc {
		return c.id, false, 0, fmt.Errorf("detected data corruption while saving blob %v: %w", c.id, ErrChunkChanged)
	}
	return saver.SaveBlob(ctx, model.DataBlob, chunk, c.id)
}

// finishChunk releases a chunk's bytes in the slab and, when it was its
// file's last pending chunk, runs what waits for the file (whenSaved).
func (a *Archiver) finishChunk(c chunkSave) {
	c.slab.release(c.from, c.to)
	state := c.state
	state.mu.Lock()
	state.pending--
	var then func()
	if state.pending == 0 {
		then, state.then = state.then, nil
	}
	state.mu.Unlock()
	if then != nil {
		then()
	}
}
