// Package archiver backs up files and directories into a repository the way
// restic does: it walks the targets, builds restic-identical nodes and trees
// (so unchanged data gives the same tree IDs as restic), cuts file content
// into chunks with the repository's chunker polynomial and saves chunks and
// trees through a BlobSaver. Files unchanged since the parent snapshot (same
// type, size, mtime, ctime and inode) reuse the parent's content list
// without being read.
//
// The pipeline: one goroutine walks the tree depth-first, keeping each
// directory open while it looks up its entries in it (fstatat on Linux),
// and hands regular files to ReadConcurrency readers (plus readers of
// small files only, when it is not set: smallReaders). A file that is new,
// by its directory entry a regular file, goes to them without an lstat:
// its reader's fstat tells its size, and a reader of small files hands a
// long one on to the others, open. A reader fills large buffers, finds the
// chunk boundaries and saves each chunk in its own goroutine (bounded), so
// both hashing/encryption of one large file and several small files
// proceed in parallel. Each directory takes its children's results in
// order in its own goroutine, while the walk is still queueing them, and
// then saves its tree; a new directory's nodes are encoded as they come.
// The parent snapshot's subtrees are loaded ahead of the walk
// (treePrefetch). Nothing here prints: progress and errors go to the
// callbacks in Callbacks.
package archiver

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/arca-backup/arca/chunker"
	"github.com/arca-backup/arca/repo/fsnode"
	"github.com/arca-backup/arca/repo/internal/bufpool"
	"github.com/arca-backup/arca/repo/model"
)

// BlobSaver stores blobs (repo.Writer implements it). buf is valid only
// during the call: file content comes from a reader's slab, which lies
// outside the Go heap and is reused and finally released afterwards.
type BlobSaver interface {
	SaveBlob(ctx context.Context, t model.BlobType, buf []byte, id model.ID) (rid model.ID, known bool, sizeInRepo int, err error)
}

// PieceSaver is a BlobSaver that also stores a blob given in pieces,
// never joined in memory (repo.Writer implements it). The archiver uses
// it for the tree of a large new directory, which it encodes in pieces.
type PieceSaver interface {
	BlobSaver
	SaveBlobPieces(ctx context.Context, t model.BlobType, pieces [][]byte, id model.ID) (rid model.ID, known bool, sizeInRepo int, err error)
}

// Repo is what the archiver reads from the repository: the parent
// snapshot's trees and whether blobs exist.
type Repo interface {
	LoadTree(ctx context.Context, id model.ID) (*model.Tree, error)
	HasBlob(t model.BlobType, id model.ID) bool
}

// ItemStats counts what one item added to the repository.
type ItemStats struct {
	DataBlobs      int
	TreeBlobs      int
	DataSize       uint64
	DataSizeInRepo uint64
	TreeSize       uint64
	TreeSizeInRepo uint64
}

func (s *ItemStats) add(o ItemStats) {
	s.DataBlobs += o.DataBlobs
	s.TreeBlobs += o.TreeBlobs
	s.DataSize += o.DataSize
	s.DataSizeInRepo += o.DataSizeInRepo
	s.TreeSize += o.TreeSize
	s.TreeSizeInRepo += o.TreeSizeInRepo
}

// ChangeStats counts new, changed and unchanged items.
type ChangeStats struct{ New, Changed, Unchanged uint }

// Summary is the result of a backup run.
type Summary struct {
	BackupStart, BackupEnd time.Time
	Files, Dirs            ChangeStats
	ItemStats
	ProcessedBytes uint64
}

// Callbacks receive progress. Any may be nil. They are called from several
// goroutines.
type Callbacks struct {
	// Error is told about an item that could not be (completely) saved.
	// Returning nil skips the item and continues; an error aborts.
	Error func(item string, err error) error
	// StartFile is called when a file starts being read.
	StartFile func(item string)
	// CompleteBlob is called with the size of each chunk read.
	CompleteBlob func(bytes uint64)
	// CompleteItem is called when an item is done. previous is the node
	// in the parent snapshot (nil if none), current the new node; item
	// ends in "/" for directories.
	CompleteItem func(item string, previous, current *model.Node, s ItemStats, d time.Duration)
}

// SelectByNameFunc reports whether a path is included, judged by its name.
type SelectByNameFunc func(path string) bool

// SelectFunc reports whether a path is included, judged by its metadata.
type SelectFunc func(path string, st fsnode.Stat) bool

// Options configure a backup.
type Options struct {
	// ReadConcurrency is the number of files read at once. When it is not
	// set, LargeFileReaders readers take files of any size and
	// smallReaders more take only files shorter than chunker.MinSize (each
	// one chunk).
	ReadConcurrency int
	// LargeFileReaders is how many readers take files of any size when
	// ReadConcurrency is not set (0: two). One is enough when saving is
	// much slower than reading (compression max), and saves a reader's
	// slab (8 MiB).
	LargeFileReaders int
	// WithAtime stores access times.
	WithAtime bool
	// IgnoreCtime and IgnoreInode drop those fields from change detection.
	IgnoreCtime, IgnoreInode bool
	// SelectByName and Select exclude items (nil includes all). Paths
	// passed to them are absolute.
	SelectByName SelectByNameFunc
	Select       SelectFunc
	// Open opens a file for reading (default: as restic does, without
	// following a symlink and, on Linux, without updating the access
	// time); tests inject faults.
	Open func(path string) (File, error)
	// DeviceIDOnlyForHardlinks stores the device ID only for hard-linked
	// files, so that trees do not change when a file system's device
	// number does (restic's alpha feature device-id-for-hardlinks).
	DeviceIDOnlyForHardlinks bool
}

// File is an open regular file.
type File interface {
	io.Reader
	io.Closer
	Stat() (os.FileInfo, error)
}

// smallJobsQueued is how many small files the walk may find ahead of
// their readers. Handing each file straight from the walk to a waiting
// reader parked and woke one of them per file, and a reader found no
// second file ready to batch with (smallBatch): 95,000 batches of one or
// two files for 131,124 files. With a queue most batches are full. First
// backup of that corpus, compression off: 3.87-4.07 s against 4.60 s by
// hand (see the commit for alternating runs).
const smallJobsQueued = 32

// Archiver saves file system trees. Use one Archiver for one backup.
type Archiver struct {
	repo  Repo
	saver BlobSaver
	table *chunker.Table
	names *fsnode.Names
	opts  Options
	cb    Callbacks
	paths absPaths
	trees *treePrefetch // the parent's subtrees, loaded ahead of the walk
	// openDirs counts the directories the walk holds open (saveDir); only
	// the walk's goroutine uses it.
	openDirs int
	// unchanged is where unchangedNode builds nodes; only the walk's
	// goroutine uses it.
	unchanged model.Node
	// treeBufs are buffers to encode trees in (saveTreeBlob)
	treeBufs bufpool.Pool

	mu      sync.Mutex
	summary Summary

	jobs chan fileJob
	// smallJobs are files shorter than chunker.MinSize, and new files of
	// a size not known yet (fileJob.unstated), for the readers of any
	// file and smallReaders more that read only those; nil when there are
	// none of the latter. Up to smallJobsQueued wait in it.
	smallJobs    chan fileJob
	smallReaders int
	// slabs lets the slab of a lone reader of large files widen.
	slabs *slabShare
	// cpus tells the readers when to leave hashing to the savers.
	cpus cpuUse
	// handedOver are files a reader of small files opened and found too
	// long for it, for the readers of any file. It is closed once the
	// readers of small files are done, so none sends on it after.
	handedOver   chan fileJob
	saves        chan chunkSave // to the savers (startSavers)
	workers      sync.WaitGroup // the readers of any file
	smallWorkers sync.WaitGroup // the readers of small files only
}

// New returns an archiver saving into saver with the repository's chunker
// polynomial pol.
func New(r Repo, saver BlobSaver, pol chunker.Pol, opts Options, cb Callbacks) (*Archiver, error) {
	t, err := chunker.NewTable(pol)
	if err != nil {
		return nil, fmt.Errorf("chunker: %w", err)
	}
	small := 0
	if opts.ReadConcurrency <= 0 {
		opts.ReadConcurrency = 2
		if opts.LargeFileReaders > 0 {
			opts.ReadConcurrency = opts.LargeFileReaders
		}
		small = smallReaders
	}
	if opts.Open == nil {
		opts.Open = openFile
	}
	a := &Archiver{repo: r, saver: saver, table: t, names: fsnode.NewNames(), opts: opts, cb: cb, smallReaders: small,
		treeBufs: bufpool.Pool{Max: maxPooledTreeBuffer}}
	a.cpus.cpus = int32(runtime.GOMAXPROCS(0))
	return a, nil
}

// result is a finished node (or an error) for a place in a tree.
type result struct {
	target string
	node   *model.Node
	stats  ItemStats
	err    error
}

// future is a result that may not be ready yet. One made ready holds
// just its node: a directory's futures live until its tree is saved, and
// for a large directory of unchanged files a result apiece cost memory
// for nothing.
type future struct {
	ch   chan result
	node *model.Node
}

// ready is the future of a node that is done.
func ready(n *model.Node) future { return future{node: n} }

func (f future) wait(ctx context.Context) result {
	if f.node != nil {
		return result{node: f.node}
	}
	select {
	case r := <-f.ch:
		return r
	case <-ctx.Done():
		return result{err: ctx.Err()}
	}
}

// fatal marks errors that abort the backup instead of skipping an item.
type fatal struct{ err error }

func (f *fatal) Error() string { return f.err.Error() }
func (f *fatal) Unwrap() error { return f.err }

// itemError reports a problem with one item; nil means skip and go on.
func (a *Archiver) itemError(item string, err error) error {
	var fe *fatal
	if errors.As(err, &fe) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	if !strings.Contains(err.Error(), item) {
		err = fmt.Errorf("%v: %w", item, err)
	}
	if a.cb.Error == nil {
		return nil
	}
	return a.cb.Error(item, err)
}

func (a *Archiver) track(item string, previous, current *model.Node, s ItemStats, d time.Duration) {
	if a.cb.CompleteItem != nil {
		a.cb.CompleteItem(item, previous, current, s, d)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.summary.ItemStats.add(s)
	if current == nil {
		return
	}
	a.summary.ProcessedBytes += current.Size
	var c *ChangeStats
	switch current.Type {
	case model.NodeTypeDir:
		c = &a.summary.Dirs
	case model.NodeTypeFile:
		c = &a.summary.Files
	default:
		return
	}
	switch {
	case previous == nil:
		c.New++
	case sameNode(previous, current):
		c.Unchanged++
	default:
		c.Changed++
	}
}

// Snapshot backs up the targets (paths as given on the command line) and
// returns the root tree's ID and the summary. parent is the parent
// snapshot's tree, or nil. The caller flushes the saver and writes the
// snapshot.
func (a *Archiver) Snapshot(ctx context.Context, targets []string, parent *model.ID) (model.ID, *Summary, error) {
	a.summary = Summary{BackupStart: time.Now()}
	tt, err := buildTargets(targets)
	if err != nil {
		return model.ID{}, nil, err
	}

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	a.jobs = make(chan fileJob)
	if a.smallReaders > 0 {
		a.smallJobs = make(chan fileJob, smallJobsQueued)
		a.handedOver = make(chan fileJob)
	}
	stopSavers := a.startSavers(ctx)
	a.slabs = newSlabShare(a.opts.ReadConcurrency)
	for i := 0; i < a.opts.ReadConcurrency; i++ {
		a.workers.Add(1)
		go func() {
			defer a.workers.Done()
			a.fileWorker(ctx, queues{a.jobs, a.smallJobs, a.handedOver}, nil)
		}()
	}
	for i := 0; i < a.smallReaders; i++ {
		a.smallWorkers.Add(1)
		go func() {
			defer a.smallWorkers.Done()
			a.fileWorker(ctx, queues{a.smallJobs}, a.handedOver)
		}()
	}
	stopWorkers := sync.OnceFunc(func() {
		close(a.jobs)
		if a.smallJobs != nil {
			close(a.smallJobs)
			a.smallWorkers.Wait()
			close(a.handedOver)
		}
		a.workers.Wait()
		stopSavers()
	})
	defer stopWorkers()

	a.trees = newTreePrefetch(a.repo.LoadTree)
	var prev *model.Tree
	if parent != nil {
		prev, err = a.repo.LoadTree(ctx, *parent)
		if err != nil {
			if e := a.itemError("/", fmt.Errorf("load parent tree %s: %w", parent.Str(), err)); e != nil {
				return model.ID{}, nil, e
			}
			prev = nil
		}
	}
	start := time.Now()
	fut, count, err := a.saveTargets(ctx, "/", tt, prev, func(n *model.Node, s ItemStats) {
		a.track("/", nil, nil, s, time.Since(start))
	})
	if err != nil {
		return model.ID{}, nil, err
	}
	res := fut.wait(ctx)
	if res.err != nil {
		return model.ID{}, nil, res.err
	}
	if err := ctx.Err(); err != nil {
		return model.ID{}, nil, err
	}
	if count == 0 {
		return model.ID{}, nil, errors.New("snapshot is empty")
	}
	// a reader reports a file it could not save after handing over its
	// result (saveFile's fail), so the tree can be done before the
	// reader: the summary is read once the readers have stopped
	stopWorkers()
	a.summary.BackupEnd = time.Now()
	s := a.summary
	return *res.node.Subtree, &s, nil
}

func findNode(t *model.Tree, name string) *model.Node {
	if t == nil {
		return nil
	}
	i := sort.Search(len(t.Nodes), func(i int) bool { return t.Nodes[i].Name >= name })
	if i < len(t.Nodes) && t.Nodes[i].Name == name {
		return t.Nodes[i]
	}
	return nil
}

// loadSubtree loads previous's subtree when it is a directory.
func (a *Archiver) loadSubtree(ctx context.Context, item string, previous *model.Node) (*model.Tree, error) {
	if previous == nil || previous.Type != model.NodeTypeDir || previous.Subtree == nil {
		return nil, nil
	}
	t, err := a.trees.get(ctx, *previous.Subtree)
	if err != nil {
		var e error
		if a.repo.HasBlob(model.TreeBlob, *previous.Subtree) {
			e = fmt.Errorf("tree %v could not be loaded; the repository could be damaged: %v", previous.Subtree, err)
		} else {
			e = fmt.Errorf("tree %v is not known; the repository could be damaged, run `repair index` to try to repair it", previous.Subtree)
		}
		return nil, a.itemError(item, e)
	}
	return t, nil
}

// saveTargets saves an inner node of the target tree.
func (a *Archiver) saveTargets(ctx context.Context, snPath string, t *target, prev *model.Tree, complete func(*model.Node, ItemStats)) (future, int, error) {
	var node *model.Node
	if snPath == "/" {
		node = &model.Node{}
	} else {
		var err error
		node, err = a.metaNode(snPath, t.infoPath, true)
		if err != nil {
			return future{}, 0, err
		}
		if node.Type != model.NodeTypeDir {
			return future{}, 0, fmt.Errorf("path is not a directory: %v", t.infoPath)
		}
	}
	drop := a.trees.start(ctx, prev)
	defer drop()
	var children []future
	for _, name := range t.names() {
		if err := ctx.Err(); err != nil {
			return future{}, 0, err
		}
		sub := t.children[name]
		item := path.Join(snPath, name)
		old := findNode(prev, name)
		if sub.leaf() {
			f, excluded, err := a.save(ctx, item, sub.path, -1, old, sub.explicit, false)
			if err != nil {
				if err = a.itemError(sub.path, err); err != nil {
					return future{}, 0, err
				}
				continue
			}
			if !excluded {
				children = append(children, f)
			}
			continue
		}
		start := time.Now()
		oldTree, err := a.loadSubtree(ctx, item, old)
		if err != nil {
			return future{}, 0, err
		}
		f, _, err := a.saveTargets(ctx, item, sub, oldTree, func(n *model.Node, s ItemStats) {
			a.track(item+"/", old, n, s, time.Since(start))
		})
		if err != nil {
			if err = a.itemError(item, err); err != nil {
				return future{}, 0, err
			}
			continue
		}
		children = append(children, f)
	}
	return a.saveTree(ctx, node, children, prev == nil, complete), len(children), nil
}

// metaNode builds the node of a directory above a target, named after
// snPath. As restic, it follows a symbolic link: a target reached through
// a linked directory (/home/me/link/file) is stored below a directory of
// the link's name with the metadata of the directory it points to (and
// the extended attributes of the link, which restic reads).
func (a *Archiver) metaNode(snPath, p string, ignoreXattrList bool) (*model.Node, error) {
	fi, err := os.Stat(p)
	if err != nil {
		return nil, err
	}
	return a.nodeFromStat(snPath, p, fsnode.StatOf(fi), ignoreXattrList)
}

func (a *Archiver) nodeFromStat(snPath, p string, st fsnode.Stat, ignoreXattrList bool) (*model.Node, error) {
	return a.node(snPath, p, st, -1, fsnode.Options{IgnoreXattrListError: ignoreXattrList})
}

// unchangedNode builds the node of a regular file that has not changed
// since its node prev in the parent snapshot. Where the change check
// compared the change time, the extended attributes are taken from prev
// instead of being read again: setting or removing one changes the
// file's ctime, so with ctime unchanged they are prev's. Listing them
// cost a system call per file, an eighth of the CPU time of an unchanged
// re-run of many small files.
//
// When that node encodes the same as prev, it is prev: the tree keeps
// prev instead of a second node of the file until the directory is
// saved, and the node is built in a.unchanged, not on the heap (those
// nodes were an eighth of the allocations of an unchanged re-run of
// /usr). Only the walk's goroutine may call it.
func (a *Archiver) unchangedNode(snPath, p string, st fsnode.Stat, prev *model.Node) (*model.Node, error) {
	opts := fsnode.Options{Into: &a.unchanged}
	if a.comparesCtime() {
		opts.Xattrs = &prev.ExtendedAttributes
	}
	n, err := a.node(snPath, p, st, -1, opts)
	if err != nil {
		return nil, err
	}
	n.Content = prev.Content
	if sameNode(n, prev) {
		return prev, nil
	}
	c := *n
	return &c, nil
}

// node builds the node of the entry at p from its metadata st, reading its
// extended attributes through the descriptor fd where fd is not negative.
// opts.WithAtime is the archiver's.
func (a *Archiver) node(snPath, p string, st fsnode.Stat, fd int, opts fsnode.Options) (*model.Node, error) {
	opts.WithAtime = a.opts.WithAtime
	var n *model.Node
	var err error
	if fd >= 0 {
		n, err = fsnode.FromOpenFile(fd, p, path.Base(snPath), st, a.names, opts)
	} else {
		n, err = fsnode.FromStat(p, path.Base(snPath), st, a.names, opts)
	}
	if n != nil && a.opts.DeviceIDOnlyForHardlinks && (n.Links == 1 || n.Type == model.NodeTypeDir) {
		n.DeviceID = 0
	}
	if err != nil && n != nil && n.Type != model.NodeTypeIrregular && n.Type != "" {
		// keep the node with the metadata that could be read
		if e := a.itemError(p, fmt.Errorf("incomplete metadata for %v: %w", p, err)); e != nil {
			return nil, e
		}
		return n, nil
	}
	return n, err
}

// A dirTree takes a directory's children from the walk as it visits the
// directory's entries, and in a goroutine of its own adds their nodes to
// the directory's tree, in order, each as soon as it is done, then saves
// the tree. Its queue has room for every entry, so the walk never waits
// for it. (A tree that waited for the walk to finish the directory first
// found nearly all of a large directory's files read, and held all their
// results.)
type dirTree struct {
	children  chan future
	abandoned bool // set before children is closed: save nothing
	out       chan result
}

// startTree starts the tree of the directory whose node is node, with
// room for entries children. fresh tells that the directory has no tree
// in the parent snapshot, so that its children's nodes are new and not
// worth keeping (see finishTree). complete, unless nil, is called with
// the node and the tree's stats once the tree is saved.
func (a *Archiver) startTree(ctx context.Context, node *model.Node, entries int, fresh bool, complete func(*model.Node, ItemStats)) *dirTree {
	t := &dirTree{children: make(chan future, entries), out: make(chan result, 1)}
	go func() {
		t.out <- a.finishTree(ctx, node, t, fresh, complete)
	}()
	return t
}

// add queues the next child, whose name sorts after the previous one's.
func (t *dirTree) add(f future) { t.children <- f }

// done tells that all children are queued and returns the directory's
// future.
func (t *dirTree) done() future {
	close(t.children)
	return future{ch: t.out}
}

// abandon stops the tree without saving it.
func (t *dirTree) abandon() {
	t.abandoned = true
	close(t.children)
}

// saveTree saves the tree of children, all known, in the background (see
// startTree).
func (a *Archiver) saveTree(ctx context.Context, node *model.Node, children []future, fresh bool, complete func(*model.Node, ItemStats)) future {
	t := a.startTree(ctx, node, len(children), fresh, complete)
	for _, c := range children {
		t.add(c)
	}
	return t.done()
}

// errTreeAbandoned is the result of a tree that was abandoned.
var errTreeAbandoned = errors.New("tree abandoned")

// finishTree takes the children from t in order and saves their tree.
// The nodes of a fresh directory are encoded as they come and then
// dropped: a directory of many new files otherwise held all their nodes
// (and paths) until its last file was read. The nodes of a directory the
// parent snapshot has are mostly that snapshot's, in memory anyway, and
// are kept, so that a large tree is hashed, and found unchanged, without
// being held encoded (see saveTreeBlob).
func (a *Archiver) finishTree(ctx context.Context, node *model.Node, t *dirTree, fresh bool, complete func(*model.Node, ItemStats)) result {
	tree := treeNodes{buf: a.treeBufs.Get()}
	if fresh {
		tree.enc = model.NewTreeEncoder(*tree.buf)
	} else {
		tree.nodes = make([]*model.Node, 0, cap(t.children))
	}
	var last *model.Node
	for c := range t.children {
		r := c.wait(ctx)
		if r.err != nil {
			if err := a.itemError(r.target, r.err); err != nil {
				return result{err: err}
			}
			continue
		}
		if r.node == nil {
			continue
		}
		if last != nil && last.Name >= r.node.Name {
			if last.Name == r.node.Name && sameNode(last, r.node) {
				item := r.node.Path
				if item == "" { // a node of the parent snapshot, shared
					item = filepath.Join(node.Path, r.node.Name)
				}
				_ = a.itemError(item, fmt.Errorf("node %q: %w", r.node.Name, model.ErrTreeNotOrdered))
				continue
			}
			return result{err: fmt.Errorf("node %q after %q: %w", r.node.Name, last.Name, model.ErrTreeNotOrdered)}
		}
		if err := tree.add(r.node); err != nil {
			return result{err: err}
		}
		last = r.node
	}
	if t.abandoned {
		return result{err: errTreeAbandoned}
	}
	id, stats, err := a.saveTreeBlob(ctx, &tree)
	if err != nil {
		return result{err: err}
	}
	node.Subtree = &id
	if complete != nil {
		complete(node, stats)
	}
	return result{node: node, stats: stats}
}

// treeNodes are a directory's nodes on their way into its tree blob:
// either encoded as they are added (enc) or kept (nodes). buf is the
// pooled buffer for the blob.
type treeNodes struct {
	enc   *model.TreeEncoder
	nodes []*model.Node
	buf   *[]byte
}

func (t *treeNodes) add(n *model.Node) error {
	if t.enc != nil {
		return t.enc.Add(n)
	}
	t.nodes = append(t.nodes, n)
	return nil
}

// hashFirstNodes is the number of kept nodes from which a tree's ID is
// computed before its blob is made: the blob of a directory of 17,844
// files (/usr/share/man/man1 here) is 6.3 MB, for which EncodeTree
// reserves 9.4 MB, the largest allocation of an unchanged re-run, and a
// directory that has not changed has a tree the repository already holds.
const hashFirstNodes = 1024

// maxPooledTreeBuffer is the largest buffer saveTreeBlob keeps for the
// next tree. Most trees of an unchanged directory are encoded only to be
// found in the repository: in a fresh buffer each, their encodings were
// an eighth of the allocations of an unchanged re-run of /usr.
const maxPooledTreeBuffer = 1 << 20

// saveTreeBlob stores the tree unless the repository has it and returns
// its ID and what it added. A new directory's tree of several pieces goes
// to a PieceSaver as it is: a directory of 200,000 new files has a tree
// of 60 MB, which joined for SaveBlob was held twice.
func (a *Archiver) saveTreeBlob(ctx context.Context, tree *treeNodes) (model.ID, ItemStats, error) {
	defer a.treeBufs.Put(tree.buf)
	var id model.ID
	var blob []byte
	if tree.enc != nil {
		id = tree.enc.ID()
		if ps, ok := a.saver.(PieceSaver); ok {
			if pieces := tree.enc.Pieces(); len(pieces) > 1 {
				id, known, size, err := ps.SaveBlobPieces(ctx, model.TreeBlob, pieces, id)
				*tree.buf = pieces[0] // the pooled buffer the encoder started in
				return treeSaved(id, known, tree.enc.Len(), size, err)
			}
		}
		blob = tree.enc.Blob()
	} else {
		if len(tree.nodes) >= hashFirstNodes {
			var err error
			if id, err = model.TreeID(tree.nodes); err != nil {
				return model.ID{}, ItemStats{}, err
			}
			if a.repo.HasBlob(model.TreeBlob, id) {
				return id, ItemStats{}, nil
			}
		}
		var err error
		if blob, err = model.AppendTree(*tree.buf, tree.nodes); err != nil {
			return model.ID{}, ItemStats{}, err
		}
	}
	id, known, size, err := a.saver.SaveBlob(ctx, model.TreeBlob, blob, id)
	*tree.buf = blob
	return treeSaved(id, known, len(blob), size, err)
}

// treeSaved makes saveTreeBlob's result from what saving a tree blob of
// length n returned.
func treeSaved(id model.ID, known bool, n, sizeInRepo int, err error) (model.ID, ItemStats, error) {
	var stats ItemStats
	if err != nil {
		return model.ID{}, stats, &fatal{fmt.Errorf("save tree: %w", err)}
	}
	if !known {
		stats.TreeBlobs++
		stats.TreeSize += uint64(n)
		stats.TreeSizeInRepo += uint64(sizeInRepo)
	}
	return id, stats, nil
}

func isNotExist(err error) bool { return errors.Is(err, os.ErrNotExist) }

// save stores one item found at p (snapshot path snPath). excluded is true
// when a filter rejected it or it vanished. listedRegular tells that p's
// directory entry gives its type as a regular file. dirfd, unless
// negative, is p's directory, open, in which the item is looked up by
// its name (p's last element).
func (a *Archiver) save(ctx context.Context, snPath, p string, dirfd int, previous *model.Node, explicit, listedRegular bool) (f future, excluded bool, err error) {
	start := time.Now()
	abs, err := a.paths.abs(p)
	if err != nil {
		return future{}, false, err
	}
	skip := func(err error) (future, bool, error) {
		if isNotExist(err) {
			return future{}, true, nil
		}
		if err = a.itemError(abs, err); err != nil {
			return future{}, false, err
		}
		return future{}, true, nil
	}
	if !explicit && a.opts.SelectByName != nil && !a.opts.SelectByName(abs) {
		return future{}, true, nil
	}
	if listedRegular && previous == nil && a.opts.Select == nil {
		// A new regular file: nothing here needs its metadata, and its
		// reader's fstat gives all that lstat would. The lstat was the
		// walk's largest cost on a tree of small files.
		f, err := a.queueFile(ctx, fileJob{snPath: snPath, path: p, start: start, unstated: true}, -1)
		return f, false, err
	}
	st, err := lstatAt(dirfd, p)
	if err != nil {
		return skip(err)
	}
	if !explicit && a.opts.Select != nil && !a.opts.Select(abs, st) {
		return future{}, true, nil
	}
	switch {
	case st.Mode.IsRegular():
		if previous != nil && !a.changed(st, previous) {
			if a.allBlobsPresent(previous) {
				n, err := a.unchangedNode(snPath, p, st, previous)
				if err != nil {
					return future{}, false, err
				}
				// reported as unchanged, as restic reports it (previous
				// as both), also when metadata the change check was
				// told to ignore (ctime, inode) or does not look at
				// (mode) changed: n, which is stored, has them new
				a.track(snPath, previous, previous, ItemStats{}, time.Since(start))
				if a.cb.CompleteBlob != nil {
					a.cb.CompleteBlob(previous.Size)
				}
				return ready(n), false, nil
			}
			if err := a.itemError(abs, fmt.Errorf("parts of %v not found in the repository index; storing the file again", p)); err != nil {
				return future{}, false, err
			}
		}
		f, err := a.queueFile(ctx, fileJob{snPath: snPath, path: p, previous: previous, start: start}, st.Size)
		return f, false, err
	case st.Mode.IsDir():
		oldTree, err := a.loadSubtree(ctx, snPath, previous)
		if err != nil {
			return future{}, false, err
		}
		f, err := a.saveDir(ctx, snPath, p, st, oldTree, func(n *model.Node, s ItemStats) {
			a.track(snPath+"/", previous, n, s, time.Since(start))
		})
		if err != nil {
			return future{}, false, err
		}
		return f, false, nil
	case st.Mode&os.ModeSocket != 0:
		return future{}, true, nil
	default:
		n, err := a.nodeFromStat(snPath, p, st, false)
		if err != nil {
			return future{}, false, err
		}
		return ready(n), false, nil
	}
}

// queueFile hands a regular file of size bytes (-1: not known) to the
// readers: one shorter than chunker.MinSize, or of unknown size, to any
// reader, a longer one to the readers of any file only.
func (a *Archiver) queueFile(ctx context.Context, job fileJob, size int64) (future, error) {
	ch := make(chan result, 1)
	job.done = ch
	small := a.smallJobs
	if size >= chunker.MinSize {
		small = nil // a nil channel never takes the job
	}
	select {
	case a.jobs <- job:
	case small <- job:
	case <-ctx.Done():
		return future{}, ctx.Err()
	}
	return future{ch: ch}, nil
}

// changed reports whether a regular file differs from its parent node.
func (a *Archiver) changed(st fsnode.Stat, prev *model.Node) bool {
	switch {
	case prev.Type != model.NodeTypeFile,
		uint64(st.Size) != prev.Size,
		!st.Mtime.Equal(prev.ModTime):
		return true
	case a.comparesCtime() && !st.Ctime.Equal(prev.ChangeTime):
		return true
	case !a.opts.IgnoreInode && st.Ino != prev.Inode:
		return true
	}
	return false
}

// comparesCtime reports whether changed compares change times: not with
// --ignore-ctime, nor with --ignore-inode, which in restic ignores both.
func (a *Archiver) comparesCtime() bool {
	return !a.opts.IgnoreCtime && !a.opts.IgnoreInode
}

func (a *Archiver) allBlobsPresent(n *model.Node) bool {
	for _, id := range n.Content {
		if !a.repo.HasBlob(model.DataBlob, id) {
			return false
		}
	}
	return true
}

// dirsKeptOpen is how many directories, one inside the other, the walk
// keeps open while it visits their entries.
const dirsKeptOpen = 64

// saveDir stores a directory's entries and then its tree.
func (a *Archiver) saveDir(ctx context.Context, snPath, dir string, st fsnode.Stat, prev *model.Tree, complete func(*model.Node, ItemStats)) (future, error) {
	node, err := a.nodeFromStat(snPath, dir, st, false)
	if err != nil {
		return future{}, err
	}
	drop := a.trees.start(ctx, prev)
	defer drop()
	d, err := os.Open(dir)
	if err != nil {
		return future{}, fmt.Errorf("openfile for readdirnames failed: %w", err)
	}
	entries, err := readDir(d) // the types, where the file system gives them, without an lstat
	if err != nil {
		d.Close()
		return future{}, fmt.Errorf("readdirnames %v failed: %w", dir, err)
	}
	// The directory stays open while its entries are visited, so that
	// each is looked up by name in it rather than by its whole path; in a
	// deep tree only the upper dirsKeptOpen levels are.
	dirfd := -1
	if a.openDirs < dirsKeptOpen {
		a.openDirs++
		dirfd = int(d.Fd())
		defer func() {
			a.openDirs--
			d.Close()
		}()
	} else {
		d.Close()
	}
	tree := a.startTree(ctx, node, entries.len(), prev == nil, complete)
	lastExcluded := ""
	for i := range entries.len() {
		if err := ctx.Err(); err != nil {
			tree.abandon()
			return future{}, err
		}
		name := entries.name(i)
		if name == lastExcluded {
			continue
		}
		p := filepath.Join(dir, name)
		f, excluded, err := a.save(ctx, path.Join(snPath, name), p, dirfd, findNode(prev, name), false, entries.regular(i))
		if err != nil {
			if err = a.itemError(p, err); err != nil {
				tree.abandon()
				return future{}, err
			}
			continue
		}
		if excluded {
			lastExcluded = name
			continue
		}
		tree.add(f)
	}
	return tree.done(), nil
}

// SnapshotReader backs up the data read from r as the file filename
// (e.g. "/stdin"), as restic's --stdin does: the file and the directories
// above it get mode 0644 and 0755, mtime (and ctime and atime) mtime, the
// current user's IDs and no names. parent is the parent snapshot's tree
// (nil: none): the file and its directories count as new, changed or
// unmodified against the nodes it has at their paths.
func (a *Archiver) SnapshotReader(ctx context.Context, filename string, r io.Reader, mtime time.Time, parent *model.ID) (model.ID, *Summary, error) {
	a.summary = Summary{BackupStart: time.Now()}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stopSavers := a.startSavers(ctx)
	defer stopSavers()
	filename = path.Clean("/" + filename)
	if filename == "/" {
		return model.ID{}, nil, fmt.Errorf("invalid filename specified")
	}
	fake := func(name string, mode os.FileMode, typ model.NodeType) *model.Node {
		n := &model.Node{Name: name, Type: typ, Mode: mode, ModTime: mtime, ChangeTime: mtime,
			UID: uint32(os.Getuid()), GID: uint32(os.Getgid())}
		if !a.opts.WithAtime {
			n.AccessTime = mtime
		}
		return n
	}
	previous, err := a.previousAlong(ctx, filename, parent)
	if err != nil {
		return model.ID{}, nil, err
	}
	start := time.Now()
	if a.cb.StartFile != nil {
		a.cb.StartFile(filename)
	}
	// the only reader: it may take the memory of the others there would be
	sl := &slab{share: newSlabShare(a.opts.ReadConcurrency)}
	defer sl.free()
	a.cpus.readers.Add(1)
	state, size := a.chunkStream(ctx, r, sl, -1)
	a.cpus.readers.Add(-1)
	saved := make(chan struct{})
	state.whenSaved(func() { close(saved) })
	<-saved
	var node *model.Node
	if state.err != nil {
		// an item error like any file's: when the caller goes on, the
		// snapshot holds the directories without the file, as restic's
		err := a.itemError(filename, fmt.Errorf("failed to save %v: %w", filename, state.err))
		if err = cmp.Or(err, ctx.Err()); err != nil {
			return model.ID{}, nil, err
		}
	} else {
		node = fake(path.Base(filename), 0644, model.NodeTypeFile)
		node.Content = state.content
		node.Size = size
		a.track(filename, previous[filename], node, state.stats, time.Since(start))
	}

	for dir := path.Dir(filename); ; dir = path.Dir(dir) {
		var dn *model.Node
		if dir == "/" {
			dn = &model.Node{}
		} else {
			dn = fake(path.Base(dir), os.ModeDir|0755, model.NodeTypeDir)
		}
		var children []future
		if node != nil {
			children = []future{ready(node)}
		}
		res := a.saveTree(ctx, dn, children, true, nil).wait(ctx)
		if res.err != nil {
			return model.ID{}, nil, res.err
		}
		if dir == "/" {
			a.track("/", nil, nil, res.stats, time.Since(start))
			node = res.node
			break
		}
		a.track(dir+"/", previous[dir], res.node, res.stats, time.Since(start))
		node = res.node
	}
	a.summary.BackupEnd = time.Now()
	s := a.summary
	return *node.Subtree, &s, nil
}

// previousAlong returns the nodes of the parent snapshot's tree (parent,
// nil for none) along the absolute path filename, by path: the file and
// each directory above it that the parent has. A tree that cannot be
// loaded is reported as an item error, as in Snapshot, and what lies
// below it then counts as new.
func (a *Archiver) previousAlong(ctx context.Context, filename string, parent *model.ID) (map[string]*model.Node, error) {
	previous := map[string]*model.Node{}
	if parent == nil {
		return previous, nil
	}
	id, item := *parent, "/"
	for _, name := range strings.Split(strings.TrimPrefix(filename, "/"), "/") {
		t, err := a.repo.LoadTree(ctx, id)
		if err != nil {
			return previous, a.itemError(item, fmt.Errorf("load parent tree %s: %w", id.Str(), err))
		}
		item = path.Join(item, name)
		n := findNode(t, name)
		if n == nil {
			break
		}
		previous[item] = n
		if n.Type != model.NodeTypeDir || n.Subtree == nil {
			break
		}
		id = *n.Subtree
	}
	return previous, nil
}
