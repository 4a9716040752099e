package restorer

import (
	"bufio"
	"bytes"
	"container/list"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sync"
	"syscall"

	"github.com/arca-backup/arca/backend"
	"github.com/arca-backup/arca/repo/internal/blobroom"
	"github.com/arca-backup/arca/repo/model"
)

// The content restore works pack by pack. Planning maps every blob of every
// file to the pack holding it (packs in order of first use); a worker then
// reads the needed part of one pack in one ranged request (split at large
// gaps), decrypts and checks each blob as it streams by, and writes it to
// every file and offset that needs it. So each blob is downloaded once per
// restore, no file is held in memory, and each file is created once (by its
// first write, at its final size) and then written in place.

const (
	// maxGap is the largest unused stretch of a pack read through rather
	// than split into two requests.
	maxGap = 1 << 20
	// maxPart bounds one ranged request.
	maxPart = 32 << 20
	// idleHandles is how many open files are kept for reuse.
	idleHandles = 64
)

// zeroChunk is the ID of an all-zero chunk of the chunker's minimum size
// (512 KiB): a file containing it is worth restoring sparsely. It is
// written out rather than hashed at start-up, which every command paid
// (TestZeroChunk checks it).
var zeroChunk = func() model.ID {
	id, err := model.ParseID("07854d2fef297a06ba81685e660c332de36d5d18d546927d30daad6d7fda1541")
	if err != nil {
		panic(err)
	}
	return id
}()

// fileJob is a regular file whose content is restored.
type fileJob struct {
	location string
	path     string
	size     int64
	content  model.IDs
	state    *fileState
	sparse   bool

	openMu  sync.Mutex // serialises creating/opening the file
	created bool

	mu      sync.Mutex
	pending int // blob writes still to do
}

// blobUse is one place a blob goes: file, index in its content, offset.
type blobUse struct {
	file   *fileJob
	idx    uint32
	offset int64
}

type packJob struct {
	id   model.ID
	uses []blobUse
}

type fileRestorer struct {
	res      *Restorer
	files    []*fileJob
	handles  *handleCache
	workers  int
	readSize int
}

func (fr *fileRestorer) addFile(location, path string, content model.IDs, size int64, state *fileState) {
	fr.files = append(fr.files, &fileJob{location: location, path: path, content: content, size: size, state: state})
}

func (fr *fileRestorer) reportBlob(f *fileJob, n uint64) {
	a := ActionFileUpdated
	if f.state == nil {
		a = ActionFileRestored
	}
	fr.res.progress.addProgress(f.location, a, n, uint64(f.size))
}

func (fr *fileRestorer) fileError(f *fileJob, err error) error {
	return fr.res.report(f.location, err)
}

// plan assigns blobs to packs; files needing no blob are sized right away.
func (fr *fileRestorer) plan(ctx context.Context) ([]*packJob, error) {
	idx := fr.res.repo.Index()
	packs := map[model.ID]*packJob{}
	var order []*packJob
	for _, f := range fr.files {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		var off int64
		for i, id := range f.content {
			pbs := idx.Lookup(model.BlobHandle{ID: id, Type: model.DataBlob})
			if len(pbs) == 0 {
				return nil, fmt.Errorf("restore %s: data blob %s not found in the index", f.location, id)
			}
			pb := pbs[0]
			n := int64(pb.DataLength())
			if f.state.hasMatchingBlob(i) {
				fr.reportBlob(f, uint64(n))
				off += n
				continue
			}
			pj := packs[pb.PackID]
			if pj == nil {
				pj = &packJob{id: pb.PackID}
				packs[pb.PackID] = pj
				order = append(order, pj)
			}
			pj.uses = append(pj.uses, blobUse{file: f, idx: uint32(i), offset: off})
			f.pending++
			if id == zeroChunk {
				f.sparse = fr.res.opts.Sparse
			}
			off += n
		}
		if len(f.content) == 1 {
			// a single chunk needs no preallocation
			f.sparse = fr.res.opts.Sparse
		}
		if f.state != nil {
			// holes cannot be punched into existing data
			f.sparse = false
		}
		if f.pending == 0 {
			err := truncateFile(f.path, f.size, fr.res.opts.Delete)
			if err := fr.fileError(f, err); err != nil {
				return nil, err
			}
			if f.size == 0 {
				fr.reportBlob(f, 0)
			}
		}
	}
	fr.files = nil
	return order, nil
}

func (fr *fileRestorer) restoreFiles(ctx context.Context) error {
	packs, err := fr.plan(ctx)
	if err != nil {
		return err
	}
	defer fr.handles.closeAll()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	ch := make(chan *packJob)
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	gate := blobroom.NewGate()
	for range fr.workers {
		wg.Go(func() {
			buf := &partBuffers{rd: bufio.NewReaderSize(nil, fr.readSize), rooms: blobroom.New(gate)}
			defer buf.rooms.Free()
			for pj := range ch {
				if err := fr.restorePack(ctx, pj, buf); err != nil {
					once.Do(func() { first = err; cancel(err) })
				}
			}
		})
	}
feed:
	for i, pj := range packs {
		packs[i] = nil // let finished jobs be collected
		select {
		case ch <- pj:
		case <-ctx.Done():
			break feed
		}
	}
	close(ch)
	wg.Wait()
	if first != nil {
		return first
	}
	return context.Cause(ctx)
}

// blobTask is one distinct blob of a pack and every place it goes.
type blobTask struct {
	blob model.Blob
	uses []blobUse
	done bool
}

func (fr *fileRestorer) restorePack(ctx context.Context, pj *packJob, buf *partBuffers) error {
	idx := fr.res.repo.Index()
	byOffset := map[uint]*blobTask{}
	var tasks []*blobTask
	for _, u := range pj.uses {
		id := u.file.content[u.idx]
		var blob model.Blob
		found := false
		for _, pb := range idx.Lookup(model.BlobHandle{ID: id, Type: model.DataBlob}) {
			if pb.PackID == pj.id {
				blob, found = pb.Blob, true
				break
			}
		}
		if !found {
			return fmt.Errorf("blob %s vanished from pack %s in the index", id.Str(), pj.id.Str())
		}
		t := byOffset[blob.Offset]
		if t == nil {
			t = &blobTask{blob: blob}
			byOffset[blob.Offset] = t
			tasks = append(tasks, t)
		}
		t.uses = append(t.uses, u)
	}
	slices.SortFunc(tasks, func(a, b *blobTask) int { return int(a.blob.Offset) - int(b.blob.Offset) })

	start := 0
	for i := 1; i <= len(tasks); i++ {
		if i < len(tasks) {
			prevEnd := tasks[i-1].blob.Offset + tasks[i-1].blob.Length
			if tasks[i].blob.Offset < prevEnd {
				return fmt.Errorf("pack %s: overlapping blobs in the index", pj.id)
			}
			gap := tasks[i].blob.Offset - prevEnd
			size := tasks[i].blob.Offset + tasks[i].blob.Length - tasks[start].blob.Offset
			if gap <= maxGap && size <= maxPart {
				continue
			}
		}
		if err := fr.restorePart(ctx, pj.id, tasks[start:i], buf); err != nil {
			return err
		}
		start = i
	}
	return nil
}

// abortError carries an error that must stop the restore out of the
// backend's Load callback.
type abortError struct{ err error }

func (e *abortError) Error() string { return e.err.Error() }
func (e *abortError) Unwrap() error { return e.err }

// restorePart streams one range of a pack. Load may call fn again (a
// retrying backend); blobs handled before are then skipped.
func (fr *fileRestorer) restorePart(ctx context.Context, packID model.ID, tasks []*blobTask, buf *partBuffers) error {
	begin := tasks[0].blob.Offset
	last := tasks[len(tasks)-1].blob
	length := last.Offset + last.Length - begin
	h := backend.Handle{Type: backend.PackFile, Name: packID.String()}
	err := fr.res.repo.Backend().Load(ctx, h, int(length), int64(begin), func(rd io.Reader) error {
		br := buf.rd
		br.Reset(rd)
		defer br.Reset(nil)
		pos := begin
		for _, t := range tasks {
			if err := ctx.Err(); err != nil {
				return &abortError{err}
			}
			if _, err := br.Discard(int(t.blob.Offset - pos)); err != nil {
				return fmt.Errorf("read pack %s: %w", packID, err)
			}
			pos = t.blob.Offset
			leave, err := buf.rooms.Enter(ctx, t.blob)
			if err != nil {
				return &abortError{err}
			}
			err = fr.restoreBlob(ctx, packID, t, br, buf.rooms)
			leave()
			if err != nil {
				return err
			}
			pos += t.blob.Length
		}
		return nil
	})
	var ae *abortError
	if errors.As(err, &ae) {
		return ae.err
	}
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	// the read failed: try the blobs not yet handled one by one
	for _, t := range tasks {
		if t.done {
			continue
		}
		out, lerr := fr.res.repo.LoadBlob(ctx, model.DataBlob, t.blob.ID, nil)
		t.done = true
		if derr := fr.deliver(ctx, t, out, lerr); derr != nil {
			return derr
		}
	}
	return nil
}

// restoreBlob reads blob t from br, decodes it and writes it where it
// goes; it only reads past it when it was done before (a retried Load).
func (fr *fileRestorer) restoreBlob(ctx context.Context, packID model.ID, t *blobTask, br *bufio.Reader, rooms *blobroom.Rooms) error {
	stored := rooms.Stored(t.blob)
	if _, err := io.ReadFull(br, stored); err != nil {
		return fmt.Errorf("read pack %s: %w", packID, err)
	}
	if t.done {
		return nil
	}
	var dst []byte
	if t.blob.IsCompressed() {
		dst = rooms.Plain()
	}
	out, err := fr.res.repo.DecodeBlob(model.PackedBlob{Blob: t.blob, PackID: packID}, stored, dst)
	if err != nil {
		out = nil
		// another copy of the blob may be intact
		if alt, aerr := fr.res.repo.LoadBlob(ctx, model.DataBlob, t.blob.ID, nil); aerr == nil {
			out, err = alt, nil
		}
	} else if t.blob.IsCompressed() {
		rooms.KeepPlain(out)
	}
	t.done = true
	if err := fr.deliver(ctx, t, out, err); err != nil {
		return &abortError{err}
	}
	return nil
}

// partBuffers are one restore worker's buffers, reused from pack to pack:
// the pack stream's read buffer and the blob rooms (package blobroom).
// Allocated per pack part on the heap, they were garbage the collector
// let pile up to twice the live heap, and the peak memory of one restore
// varied from 61 to 89 MiB between runs.
type partBuffers struct {
	rd    *bufio.Reader
	rooms *blobroom.Rooms
}

// deliver writes a decoded blob to every place it goes, or reports err for
// every file that needed it.
func (fr *fileRestorer) deliver(ctx context.Context, t *blobTask, data []byte, err error) error {
	if err != nil {
		seen := map[*fileJob]bool{}
		for _, u := range t.uses {
			if !seen[u.file] {
				seen[u.file] = true
				if rerr := fr.fileError(u.file, err); rerr != nil {
					return rerr
				}
			}
			fr.finishWrite(u.file)
		}
		return nil
	}
	for _, u := range t.uses {
		if err := ctx.Err(); err != nil {
			return err
		}
		werr := fr.write(u.file, data, u.offset)
		fr.reportBlob(u.file, uint64(len(data)))
		if rerr := fr.fileError(u.file, werr); rerr != nil {
			return rerr
		}
	}
	return nil
}

// write puts data at offset into the file, creating it on first use.
func (fr *fileRestorer) write(f *fileJob, data []byte, offset int64) error {
	h, err := fr.handles.acquire(f, fr.res.opts.Delete)
	if err != nil {
		fr.finishWrite(f)
		return err
	}
	if f.sparse {
		skip := zeroPrefix(data)
		data = data[skip:]
		offset += int64(skip)
	}
	if len(data) > 0 {
		_, err = h.f.WriteAt(data, offset)
	}
	fr.handles.release(h, fr.lastWrite(f))
	return err
}

// lastWrite counts one write done and reports whether it was the last.
func (fr *fileRestorer) lastWrite(f *fileJob) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pending--
	return f.pending <= 0
}

// finishWrite counts a write that did not happen (an error) and closes the
// file when nothing is left to write.
func (fr *fileRestorer) finishWrite(f *fileJob) {
	if fr.lastWrite(f) {
		fr.handles.forget(f)
	}
}

func zeroPrefix(p []byte) int {
	var zeros [1024]byte
	n := 0
	for len(p) >= len(zeros) && bytes.Equal(p[:len(zeros)], zeros[:]) {
		p = p[len(zeros):]
		n += len(zeros)
	}
	for len(p) > 0 && p[0] == 0 {
		p = p[1:]
		n++
	}
	return n
}

// handleCache shares open files among writers and keeps a few idle ones.
type handleCache struct {
	mu   sync.Mutex
	open map[*fileJob]*handle
	idle list.List // of *handle, most recently used first
}

type handle struct {
	job   *fileJob
	f     *os.File
	users int
	elem  *list.Element
	done  bool // no more writes: close when idle
}

func newHandleCache() *handleCache { return &handleCache{open: map[*fileJob]*handle{}} }

func (c *handleCache) get(f *fileJob) *handle {
	h := c.open[f]
	if h != nil {
		h.users++
		if h.elem != nil {
			c.idle.Remove(h.elem)
			h.elem = nil
		}
	}
	return h
}

func (c *handleCache) acquire(f *fileJob, allowRecursiveDelete bool) (*handle, error) {
	c.mu.Lock()
	h := c.get(f)
	c.mu.Unlock()
	if h != nil {
		return h, nil
	}
	f.openMu.Lock()
	defer f.openMu.Unlock()
	c.mu.Lock()
	h = c.get(f)
	c.mu.Unlock()
	if h != nil {
		return h, nil
	}
	var file *os.File
	var err error
	if !f.created {
		file, err = createFile(f.path, f.size, f.sparse, allowRecursiveDelete)
		f.created = err == nil
	} else {
		file, err = openFile(f.path)
	}
	if err != nil {
		return nil, err
	}
	h = &handle{job: f, f: file, users: 1}
	c.mu.Lock()
	c.open[f] = h
	c.mu.Unlock()
	return h, nil
}

func (c *handleCache) release(h *handle, done bool) {
	c.mu.Lock()
	h.users--
	h.done = h.done || done
	var toClose []*os.File
	if h.users == 0 {
		if h.done {
			delete(c.open, h.job)
			toClose = append(toClose, h.f)
		} else {
			h.elem = c.idle.PushFront(h)
			for c.idle.Len() > idleHandles {
				old := c.idle.Remove(c.idle.Back()).(*handle)
				old.elem = nil
				delete(c.open, old.job)
				toClose = append(toClose, old.f)
			}
		}
	}
	c.mu.Unlock()
	for _, f := range toClose {
		_ = f.Close()
	}
}

// forget closes the file's handle when it is idle.
func (c *handleCache) forget(f *fileJob) {
	c.mu.Lock()
	h := c.open[f]
	if h != nil {
		h.done = true
		if h.users == 0 {
			if h.elem != nil {
				c.idle.Remove(h.elem)
			}
			delete(c.open, f)
		} else {
			h = nil
		}
	}
	c.mu.Unlock()
	if h != nil {
		_ = h.f.Close()
	}
}

func (c *handleCache) closeAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for f, h := range c.open {
		_ = h.f.Close()
		delete(c.open, f)
	}
	c.idle.Init()
}

func openFile(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = fmt.Errorf("unexpected file type %v at %q", fi.Mode().Type(), path)
	}
	if err != nil {
		_ = f.Close()
		return nil, err
	}
	return f, nil
}

// createFile opens path for writing at size bytes, replacing whatever is
// there when it is not a plain file with a single link. Existing content is
// kept (blobs that already match are not written again).
func createFile(path string, size int64, sparse, allowRecursiveDelete bool) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|syscall.O_NOFOLLOW, 0o600)
	switch {
	case err != nil && errors.Is(err, os.ErrPermission):
		// a read-only file: its mode is restored afterwards anyway
		if err = os.Chmod(path, 0o600); err != nil {
			return nil, err
		}
		if f, err = os.OpenFile(path, os.O_WRONLY|syscall.O_NOFOLLOW, 0o600); err != nil {
			return nil, err
		}
	case err != nil && (errors.Is(err, syscall.ELOOP) || errors.Is(err, syscall.EISDIR)):
		f = nil // a symlink or directory: replaced below
	case err != nil:
		return nil, err
	}
	replace := f == nil
	var fi os.FileInfo
	if f != nil {
		if fi, err = f.Stat(); err != nil {
			_ = f.Close()
			return nil, err
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		replace = !fi.Mode().IsRegular() || (ok && st.Nlink > 1)
	}
	if replace {
		if f != nil {
			if err := f.Close(); err != nil {
				return nil, err
			}
		}
		if allowRecursiveDelete {
			err = os.RemoveAll(path)
		} else {
			err = os.Remove(path)
		}
		if err != nil {
			return nil, err
		}
		if f, err = os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY|syscall.O_NOFOLLOW, 0o600); err != nil {
			return nil, err
		}
		if fi, err = f.Stat(); err != nil {
			_ = f.Close()
			return nil, err
		}
	}
	switch {
	case sparse:
		err = f.Truncate(size)
	case fi.Size() > size:
		err = f.Truncate(size)
	case size > 0:
		// preallocation is an optimisation; file systems without it are fine
		preallocate(f, size)
	}
	if err != nil {
		_ = f.Close()
		return nil, err
	}
	return f, nil
}

// truncateFile gives a file without blobs to write its final size.
func truncateFile(path string, size int64, allowRecursiveDelete bool) error {
	f, err := createFile(path, size, false, allowRecursiveDelete)
	if err != nil {
		return err
	}
	return f.Close()
}
