// Package restorer writes a snapshot's tree to a directory, as restic's
// restore does.
//
// A restore makes two passes over the tree. The first creates directories
// (mode 0700 for now), decides per file whether it must be written (the
// overwrite mode; content that already matches is left alone) and collects
// the files; their content is then restored pack by pack (see files.go).
// The second pass creates the other items (symlinks, devices, fifos, hard
// links) and applies metadata: owner, xattrs, timestamps, mode, and for a
// directory only after all its children, so its mtime and a read-only mode
// stick. With Delete, items in the target that the snapshot lacks are
// removed. The package never prints: it reports through Events.
package restorer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/arca-backup/arca/repo"
	"github.com/arca-backup/arca/repo/model"
)

// Overwrite says what to do with items that exist in the target.
type Overwrite int

// Overwrite modes (restic's --overwrite).
const (
	// OverwriteAlways restores every item; file content that already
	// matches is not written again.
	OverwriteAlways Overwrite = iota
	// OverwriteIfChanged is OverwriteAlways, trusting size and mtime to
	// tell whether a file's content matches.
	OverwriteIfChanged
	// OverwriteIfNewer replaces items older than the snapshot's.
	OverwriteIfNewer
	// OverwriteNever keeps existing items.
	OverwriteNever
)

// ParseOverwrite parses restic's names for the modes.
func ParseOverwrite(s string) (Overwrite, error) {
	switch s {
	case "always":
		return OverwriteAlways, nil
	case "if-changed":
		return OverwriteIfChanged, nil
	case "if-newer":
		return OverwriteIfNewer, nil
	case "never":
		return OverwriteNever, nil
	}
	return 0, fmt.Errorf("invalid overwrite behavior %q, must be one of (always|if-changed|if-newer|never)", s)
}

func (o Overwrite) String() string {
	switch o {
	case OverwriteAlways:
		return "always"
	case OverwriteIfChanged:
		return "if-changed"
	case OverwriteIfNewer:
		return "if-newer"
	case OverwriteNever:
		return "never"
	}
	return "invalid"
}

// Options tune a restore.
type Options struct {
	DryRun    bool // decide and report, change nothing
	Sparse    bool // leave holes where the content is zeros
	Delete    bool // remove what the snapshot does not have
	Overwrite Overwrite
	// OwnershipByName restores owners by user/group name instead of ID.
	OwnershipByName bool
	// Select decides whether an item (its location in the snapshot, e.g.
	// "/src/a") is restored and whether items below it may be. Nil: all.
	Select func(location string, isDir bool) (selected, childMayBeSelected bool)
	// XattrSelect decides which extended attributes are restored. Nil: all.
	XattrSelect func(name string) bool
	// Workers is the number of packs restored in parallel (0: the
	// backend's connections, at least GOMAXPROCS).
	Workers int
}

// Events receive what happens. All fields may be nil.
type Events struct {
	// Item is called when an item is finished, skipped or deleted, one
	// call at a time. size is the file size (0 for other items).
	Item func(action Action, location string, size uint64)
	// Error is called for an item that could not be restored. Returning
	// nil continues with the next item; an error aborts the restore.
	// Nil aborts on the first error.
	Error func(location string, err error) error
	// Warn receives warnings that do not fail the restore.
	Warn func(msg string)
}

// Restorer restores one tree.
type Restorer struct {
	repo     *repo.Repository
	tree     model.ID
	opts     Options
	ev       Events
	progress *progress
	meta     *metadata

	// files that were written (false) or whose content already matched
	// (true), by location
	filesMu sync.Mutex
	files   map[string]bool
}

// New prepares the restore of tree (a snapshot's root or a subtree). The
// repository's index must be loaded.
func New(r *repo.Repository, tree model.ID, opts Options, ev Events) *Restorer {
	if opts.Select == nil {
		opts.Select = func(string, bool) (bool, bool) { return true, true }
	}
	if opts.XattrSelect == nil {
		opts.XattrSelect = func(string) bool { return true }
	}
	return &Restorer{
		repo:     r,
		tree:     tree,
		opts:     opts,
		ev:       ev,
		progress: newProgress(ev.Item),
		meta:     &metadata{xattrSelect: opts.XattrSelect, ownershipByName: opts.OwnershipByName, warn: ev.Warn, names: &nameCache{}},
		files:    map[string]bool{},
	}
}

// State returns the progress so far; it may be called at any time.
func (res *Restorer) State() State { return res.progress.state() }

// report passes an item's error to Events.Error; context errors are final.
func (res *Restorer) report(location string, err error) error {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	if res.ev.Error == nil {
		return fmt.Errorf("%s: %w", location, err)
	}
	return res.ev.Error(location, err)
}

// visitor is called by traverse. target is the path in the file system,
// location the path in the snapshot ("/" for the root).
type visitor struct {
	enterDir  func(n *model.Node, target, location string) error
	visitNode func(n *model.Node, target, location string) error
	// leaveDir gets the names of all entries of the directory in the
	// snapshot (selected or not) when Delete is set.
	leaveDir func(n *model.Node, target, location string, names []string) error
}

func (res *Restorer) traverse(ctx context.Context, target string, v visitor) error {
	loc := string(filepath.Separator)
	if v.enterDir != nil {
		if err := res.report(loc, v.enterDir(nil, target, loc)); err != nil {
			return err
		}
	}
	names, restored, err := res.traverseTree(ctx, target, loc, res.tree, v)
	if err != nil {
		return err
	}
	if restored && v.leaveDir != nil {
		return res.report(loc, v.leaveDir(nil, target, loc, names))
	}
	return nil
}

func (res *Restorer) traverseTree(ctx context.Context, target, location string, id model.ID, v visitor) (names []string, restored bool, err error) {
	tree, err := res.repo.LoadTree(ctx, id)
	if err != nil {
		return nil, false, res.report(location, err)
	}
	if res.opts.Delete {
		names = make([]string, 0, len(tree.Nodes))
	}
	for _, n := range tree.Nodes {
		if err := ctx.Err(); err != nil {
			return nil, restored, err
		}
		if res.opts.Delete {
			names = append(names, n.Name)
		}
		// a name must not lead out of its directory
		if filepath.Base(filepath.Join(string(filepath.Separator), n.Name)) != n.Name {
			if err := res.report(location, fmt.Errorf("invalid child node name %s", n.Name)); err != nil {
				return nil, restored, err
			}
			res.opts.Delete = false
			continue
		}
		nodeTarget := filepath.Join(target, n.Name)
		nodeLocation := filepath.Join(location, n.Name)
		if nodeTarget == target || !hasPathPrefix(target, nodeTarget) {
			if err := res.report(nodeLocation, errors.New("node has invalid path")); err != nil {
				return nil, restored, err
			}
			res.opts.Delete = false
			continue
		}
		if n.Type == model.NodeTypeSocket {
			continue
		}
		selected, childMay := res.opts.Select(nodeLocation, n.Type == model.NodeTypeDir)
		if selected {
			restored = true
		}
		if n.Type == model.NodeTypeDir {
			if n.Subtree == nil {
				return nil, restored, fmt.Errorf("dir %s without subtree in tree %s", nodeLocation, id.Str())
			}
			if selected && v.enterDir != nil {
				if err := res.report(nodeLocation, v.enterDir(n, nodeTarget, nodeLocation)); err != nil {
					return nil, restored, err
				}
			}
			var childNames []string
			childRestored := false
			if childMay {
				childNames, childRestored, err = res.traverseTree(ctx, nodeTarget, nodeLocation, *n.Subtree, v)
				if err := res.report(nodeLocation, err); err != nil {
					return nil, restored, err
				}
				restored = restored || childRestored
			}
			if (selected || childRestored) && v.leaveDir != nil {
				if err := res.report(nodeLocation, v.leaveDir(n, nodeTarget, nodeLocation, childNames)); err != nil {
					return nil, restored, err
				}
			}
			continue
		}
		if selected && v.visitNode != nil {
			if err := res.report(nodeLocation, v.visitNode(n, nodeTarget, nodeLocation)); err != nil {
				return nil, restored, err
			}
		}
	}
	return names, restored, nil
}

// hasPathPrefix reports whether p lies in base (or is base).
func hasPathPrefix(base, p string) bool {
	rel, err := filepath.Rel(base, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

func (res *Restorer) ensureDir(target string) error {
	if res.opts.DryRun {
		return nil
	}
	fi, err := os.Lstat(target)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("failed to check for directory: %w", err)
	}
	if err == nil && !fi.IsDir() {
		if err := os.Remove(target); err != nil {
			return fmt.Errorf("failed to remove stale item: %w", err)
		}
	}
	return os.MkdirAll(target, 0o700)
}

type hardlinkKey struct{ inode, device uint64 }

// RestoreTo restores the tree below dst and returns the number of files
// whose content was written.
func (res *Restorer) RestoreTo(ctx context.Context, dst string) (uint64, error) {
	dst, err := filepath.Abs(dst)
	if err != nil {
		return 0, err
	}
	if !res.opts.DryRun {
		if err := os.MkdirAll(dst, 0o700); err != nil {
			return 0, fmt.Errorf("cannot create target directory: %w", err)
		}
	}
	workers := res.opts.Workers
	if workers <= 0 {
		workers = max(int(res.repo.Backend().Properties().Connections), runtime.GOMAXPROCS(0))
	}
	fr := &fileRestorer{res: res, handles: newHandleCache(), workers: workers, readSize: 256 << 10}
	links := map[hardlinkKey]string{}
	var restoredFiles uint64
	var buf []byte

	// pass 1: directories, and the files whose content is restored
	err = res.traverse(ctx, dst, visitor{
		enterDir: func(_ *model.Node, target, location string) error {
			if location != string(filepath.Separator) {
				res.progress.addFile(0)
			}
			return res.ensureDir(target)
		},
		visitNode: func(n *model.Node, target, location string) error {
			if err := res.ensureDir(filepath.Dir(target)); err != nil {
				return err
			}
			if n.Type != model.NodeTypeFile {
				res.progress.addFile(0)
				return nil
			}
			if n.Links > 1 {
				k := hardlinkKey{n.Inode, n.DeviceID}
				if _, ok := links[k]; ok {
					res.progress.addFile(0) // another name for content restored elsewhere
					return nil
				}
				links[k] = location
			}
			var err error
			buf, err = res.withOverwriteCheck(ctx, n, target, location, false, buf, func(metadataOnly bool, state *fileState) error {
				if metadataOnly {
					res.progress.addSkipped(location, n.Size)
				} else {
					res.progress.addFile(n.Size)
					if !res.opts.DryRun {
						fr.addFile(location, target, n.Content, int64(n.Size), state)
					} else {
						a := ActionFileUpdated
						if state == nil {
							a = ActionFileRestored
						}
						res.progress.addProgress(location, a, n.Size, n.Size)
					}
					restoredFiles++
				}
				res.filesMu.Lock()
				res.files[location] = metadataOnly
				res.filesMu.Unlock()
				return nil
			})
			return err
		},
	})
	if err != nil {
		return 0, err
	}
	if !res.opts.DryRun {
		if err := fr.restoreFiles(ctx); err != nil {
			return 0, err
		}
	}

	// pass 2: other items, hard links, metadata (directories last)
	err = res.traverse(ctx, dst, visitor{
		visitNode: func(n *model.Node, target, location string) error {
			if n.Type != model.NodeTypeFile {
				_, err := res.withOverwriteCheck(ctx, n, target, location, false, nil, func(bool, *fileState) error {
					return res.restoreNode(n, target, location)
				})
				return err
			}
			if n.Links > 1 {
				if first, ok := links[hardlinkKey{n.Inode, n.DeviceID}]; ok && first != location {
					_, err := res.withOverwriteCheck(ctx, n, target, location, true, nil, func(bool, *fileState) error {
						return res.restoreHardlink(n, filepath.Join(dst, first), target, location)
					})
					return err
				}
			}
			res.filesMu.Lock()
			_, ok := res.files[location]
			res.filesMu.Unlock()
			if ok {
				return res.restoreMetadata(n, target)
			}
			return nil // skipped: leave it alone
		},
		leaveDir: func(n *model.Node, target, location string, names []string) error {
			if res.opts.Delete {
				if err := res.removeUnexpected(ctx, target, location, names); err != nil {
					return err
				}
			}
			if n == nil {
				return nil
			}
			if err := res.restoreMetadata(n, target); err != nil {
				return err
			}
			res.progress.addProgress(location, ActionDirRestored, 0, 0)
			return nil
		},
	})
	return restoredFiles, err
}

func (res *Restorer) restoreMetadata(n *model.Node, target string) error {
	if res.opts.DryRun {
		return nil
	}
	return res.meta.restore(n, target)
}

func (res *Restorer) restoreNode(n *model.Node, target, location string) error {
	if !res.opts.DryRun {
		if err := os.Remove(target); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("remove %s: %w", target, err)
		}
		if err := createNode(n, target); err != nil {
			return err
		}
	}
	res.progress.addProgress(location, ActionOtherRestored, 0, 0)
	return res.restoreMetadata(n, target)
}

func (res *Restorer) restoreHardlink(n *model.Node, existing, target, location string) error {
	if !res.opts.DryRun {
		if err := os.Remove(target); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("remove %s: %w", target, err)
		}
		if err := os.Link(existing, target); err != nil {
			return err
		}
	}
	res.progress.addProgress(location, ActionOtherRestored, 0, 0)
	return res.restoreMetadata(n, target)
}

// removeUnexpected deletes the entries of the directory target that the
// snapshot does not have (and the filter selects).
func (res *Restorer) removeUnexpected(ctx context.Context, target, location string, names []string) error {
	f, err := os.Open(target)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	entries, err := f.Readdirnames(-1)
	_ = f.Close()
	if err != nil {
		return err
	}
	keep := make(map[string]bool, len(names))
	for _, n := range names {
		keep[n] = true
	}
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return err
		}
		if keep[e] {
			continue
		}
		nodeTarget := filepath.Join(target, e)
		if nodeTarget == target || !hasPathPrefix(target, nodeTarget) {
			return fmt.Errorf("skipping deletion due to invalid filename: %v", e)
		}
		if selected, _ := res.opts.Select(filepath.Join(location, e), false); !selected {
			continue
		}
		var paths []string
		if err := filepath.Walk(nodeTarget, func(p string, _ os.FileInfo, err error) error {
			if err != nil {
				return err
			}
			paths = append(paths, p)
			return nil
		}); err != nil {
			return err
		}
		if !res.opts.DryRun {
			if err := os.RemoveAll(nodeTarget); err != nil {
				return err
			}
		}
		for i := len(paths) - 1; i >= 0; i-- {
			res.progress.addDeleted(paths[i])
		}
	}
	return nil
}

// withOverwriteCheck applies the overwrite mode to one item and calls fn
// when it is to be restored. For a file, fn learns whether only metadata
// is needed and which blobs already match.
func (res *Restorer) withOverwriteCheck(ctx context.Context, n *model.Node, target, location string, isHardlink bool, buf []byte,
	fn func(metadataOnly bool, state *fileState) error) ([]byte, error) {
	ok, err := shouldOverwrite(res.opts.Overwrite, n, target)
	if err != nil {
		return buf, err
	}
	if !ok {
		size := n.Size
		if isHardlink {
			size = 0
		}
		res.progress.addSkipped(location, size)
		return buf, nil
	}
	var state *fileState
	metadataOnly := false
	if n.Type == model.NodeTypeFile && !isHardlink {
		// a file that cannot be read is restored from scratch
		state, buf, _ = res.verifyFile(ctx, target, n, false, res.opts.Overwrite == OverwriteIfChanged, buf)
		metadataOnly = !state.needsRestore()
	}
	return buf, fn(metadataOnly, state)
}

func shouldOverwrite(mode Overwrite, n *model.Node, target string) (bool, error) {
	if mode == OverwriteAlways || mode == OverwriteIfChanged {
		return true, nil
	}
	fi, err := os.Lstat(target)
	if errors.Is(err, os.ErrNotExist) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	if mode == OverwriteIfNewer {
		return n.ModTime.After(fi.ModTime()), nil
	}
	return false, nil
}

// fileState is what an existing file has in common with the snapshot's.
type fileState struct {
	blobMatches []bool
	sizeMatches bool
}

func (s *fileState) needsRestore() bool {
	if s == nil || !s.sizeMatches {
		return true
	}
	for _, m := range s.blobMatches {
		if !m {
			return true
		}
	}
	return false
}

func (s *fileState) hasMatchingBlob(i int) bool {
	return s != nil && i < len(s.blobMatches) && s.blobMatches[i]
}

// verifyFile compares the file at target with the node's content. With
// failFast the first difference is an error; with trustMtime, equal size
// and mtime count as a match without reading.
func (res *Restorer) verifyFile(ctx context.Context, target string, n *model.Node, failFast, trustMtime bool, buf []byte) (*fileState, []byte, error) {
	f, err := os.OpenFile(target, os.O_RDONLY|syscallNoFollow, 0)
	if err != nil {
		return nil, buf, err
	}
	defer f.Close()
	fi, err := f.Stat()
	sizeMatches := true
	switch {
	case err != nil:
		return nil, buf, err
	case !fi.Mode().IsRegular():
		return nil, buf, fmt.Errorf("Expected %s to be a regular file", target)
	case int64(n.Size) != fi.Size():
		if failFast {
			return nil, buf, fmt.Errorf("Invalid file size for %s: expected %d, got %d", target, n.Size, fi.Size())
		}
		sizeMatches = false
	}
	if trustMtime && sizeMatches && fi.ModTime().Equal(n.ModTime) {
		return &fileState{sizeMatches: true}, buf, nil
	}
	matches := make([]bool, len(n.Content))
	idx := res.repo.Index()
	var off int64
	for i, id := range n.Content {
		if err := ctx.Err(); err != nil {
			return nil, buf, err
		}
		size, ok := idx.Size(model.BlobHandle{ID: id, Type: model.DataBlob})
		if !ok {
			return nil, buf, fmt.Errorf("Unable to fetch blob %s", id)
		}
		if int(size) > cap(buf) {
			buf = make([]byte, 2*size)
		}
		buf = buf[:size]
		_, err := f.ReadAt(buf, off)
		if err == io.EOF && !failFast {
			sizeMatches = false
			break
		}
		if err != nil {
			return nil, buf, err
		}
		matches[i] = model.Hash(buf) == id
		if failFast && !matches[i] {
			return nil, buf, fmt.Errorf("Unexpected content in %s, starting at offset %d", target, off)
		}
		off += int64(size)
	}
	return &fileState{blobMatches: matches, sizeMatches: sizeMatches}, buf, nil
}

// VerifyFiles reads back every file whose content RestoreTo wrote below
// dst and checks it against the snapshot. progress, when set, is called
// with 0 and the number of files to verify, then after each good file
// (one call at a time). Errors go through Events.Error; it returns how
// many files verified.
func (res *Restorer) VerifyFiles(ctx context.Context, dst string, progress func(done, total int)) (int, error) {
	dst, err := filepath.Abs(dst)
	if err != nil {
		return 0, err
	}
	total := 0
	res.filesMu.Lock()
	for _, metadataOnly := range res.files {
		if !metadataOnly {
			total++
		}
	}
	res.filesMu.Unlock()
	var progressMu sync.Mutex
	onFile := func(done int) {
		if progress != nil {
			progressMu.Lock()
			defer progressMu.Unlock()
			progress(done, total)
		}
	}
	onFile(0)
	type job struct {
		n    *model.Node
		path string
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	work := make(chan job, 16)
	var checked atomic.Int64
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	fail := func(err error) {
		once.Do(func() { first = err; cancel(err) })
	}
	const workers = 8
	for range workers {
		wg.Go(func() {
			var buf []byte
			for j := range work {
				var err error
				_, buf, err = res.verifyFile(ctx, j.path, j.n, true, false, buf)
				if err := res.report(j.path, err); err != nil {
					fail(err)
					return
				}
				if ctx.Err() != nil {
					return
				}
				if err == nil {
					onFile(int(checked.Add(1)))
				}
			}
		})
	}
	terr := res.traverse(ctx, dst, visitor{
		visitNode: func(n *model.Node, target, location string) error {
			if n.Type != model.NodeTypeFile {
				return nil
			}
			res.filesMu.Lock()
			metadataOnly, ok := res.files[location]
			res.filesMu.Unlock()
			if !ok || metadataOnly {
				return nil
			}
			select {
			case work <- job{n, target}:
				return nil
			case <-ctx.Done():
				return context.Cause(ctx)
			}
		},
	})
	close(work)
	wg.Wait()
	if first != nil {
		return int(checked.Load()), first
	}
	if terr != nil {
		return int(checked.Load()), terr
	}
	return int(checked.Load()), nil
}

// FindTree returns the tree of the directory dir (slash-separated, relative
// to root) with restic's error messages.
func FindTree(ctx context.Context, r *repo.Repository, root model.ID, dir string) (model.ID, error) {
	id := root
	sub := ""
	for _, name := range strings.Split(path.Clean(dir), "/") {
		if name == "" || name == "." {
			continue
		}
		sub = path.Join(sub, name)
		t, err := r.LoadTree(ctx, id)
		if err != nil {
			return model.ID{}, fmt.Errorf("path %s: %w", sub, err)
		}
		n := t.Find(name)
		if n == nil {
			return model.ID{}, fmt.Errorf("path %s: not found", sub)
		}
		if n.Type != model.NodeTypeDir || n.Subtree == nil {
			return model.ID{}, fmt.Errorf("path %s: not a directory", sub)
		}
		id = *n.Subtree
	}
	return id, nil
}
