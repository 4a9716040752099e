package engine

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/arca-backup/arca/backend"
	"github.com/arca-backup/arca/repo"
	"github.com/arca-backup/arca/repo/filter"
	"github.com/arca-backup/arca/repo/model"
	"github.com/arca-backup/arca/repo/walker"
)

// FindOptions say what Find looks for: items whose path matches one of
// Patterns, or, when IDs are given, the files holding data blobs
// (BlobIDs), the directories whose tree is one of TreeIDs, or both for
// the blobs stored in PackIDs. IDs are full or 8-character short IDs, as
// restic's find takes them.
type FindOptions struct {
	// Patterns are restic's find patterns ("*.go", "/home/*/notes",
	// "**/cache"), matched against the item's path in the snapshot.
	// IgnoreCase compares them without regard to case.
	Patterns   []string
	IgnoreCase bool
	// Oldest and Newest, when not zero, bound the modification time of
	// the items matching a pattern.
	Oldest, Newest time.Time

	BlobIDs []string
	TreeIDs []string
	PackIDs []string

	// Match receives each item matching a pattern, snapshot by snapshot
	// in the order given, depth first within a snapshot.
	Match func(FindMatch) error
	// Object receives each place where a blob or tree looked for is used.
	Object func(FindObject) error
	// TreeError is told about a tree that cannot be loaded; the search
	// skips it and goes on. Nil skips such trees silently.
	TreeError func(sn *model.Snapshot, tree model.ID, err error)
	// MissingPacks is told about packs looked for that are missing from
	// the repository but listed in the index, whose blobs are then taken
	// from the index.
	MissingPacks func(packs []model.ID)
}

// FindMatch is an item whose path matched a pattern.
type FindMatch struct {
	Snapshot *model.Snapshot
	Path     string
	Node     *model.Node
}

// FindObject is a blob or tree found in a snapshot: a data blob in the
// content of the file at Path (whose directory's tree is ParentTree), or
// the tree of the directory at Path.
type FindObject struct {
	Snapshot   *model.Snapshot
	Type       model.BlobType
	ID         model.ID
	Path       string
	ParentTree model.ID
}

// FindResult tells what Find looked for after the search: the blob and
// tree IDs (short IDs of blobs that were found are replaced by full
// ones, and the blobs of PackIDs are included).
type FindResult struct {
	BlobIDs, TreeIDs []string
}

// PacksNotFoundError is Find's error when packs named in PackIDs are
// neither in the repository nor in its index.
type PacksNotFoundError struct {
	Packs []string // sorted
}

func (e *PacksNotFoundError) Error() string {
	return fmt.Sprintf("unable to find pack(s): %v", e.Packs)
}

// Find searches the snapshots (in the order given) for what opts names,
// under a shared lock, and reports it through opts.Match and opts.Object.
func (e *Repository) Find(ctx context.Context, snapshots []*model.Snapshot, opts FindOptions) (*FindResult, error) {
	var res *FindResult
	err := e.Read(ctx, func(ctx context.Context, rd *Reader) error {
		var err error
		res, err = rd.Find(ctx, snapshots, opts)
		return err
	})
	return res, err
}

// Find is Repository.Find within a Reader.
func (rd *Reader) Find(ctx context.Context, snapshots []*model.Snapshot, opts FindOptions) (*FindResult, error) {
	r := rd.e.r
	if err := rd.e.LoadIndex(ctx); err != nil {
		return nil, err
	}
	f := &finder{r: r, opts: opts, w: walker.New(r, walker.Options{})}
	if opts.IgnoreCase {
		f.patterns = make([]string, len(opts.Patterns))
		for i, p := range opts.Patterns {
			f.patterns[i] = strings.ToLower(p)
		}
	} else {
		f.patterns = opts.Patterns
	}
	if opts.BlobIDs != nil {
		f.blobIDs = idSet(opts.BlobIDs)
	}
	if opts.TreeIDs != nil {
		f.treeIDs = idSet(opts.TreeIDs)
	}
	if opts.PackIDs != nil {
		if err := f.packsToBlobs(ctx, opts.PackIDs); err != nil {
			return nil, err
		}
	}
	return f.find(ctx, snapshots)
}

// PackContents returns the IDs of the data and tree blobs stored in the
// packs named (full or 8-character IDs), read from the pack headers, or
// from the index for packs missing from the repository (reported to
// onMissing when not nil). Packs found in neither give a
// *PacksNotFoundError. Find with the results as BlobIDs and TreeIDs
// is Find with PackIDs.
func (rd *Reader) PackContents(ctx context.Context, packs []string, onMissing func([]model.ID)) (blobs, trees []string, err error) {
	if err := rd.e.LoadIndex(ctx); err != nil {
		return nil, nil, err
	}
	f := &finder{r: rd.e.r, opts: FindOptions{MissingPacks: onMissing}}
	if err := f.packsToBlobs(ctx, packs); err != nil {
		return nil, nil, err
	}
	return sortedIDs(f.blobIDs), sortedIDs(f.treeIDs), nil
}

func (f *finder) find(ctx context.Context, snapshots []*model.Snapshot) (*FindResult, error) {
	for _, sn := range snapshots {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if f.blobIDs != nil || f.treeIDs != nil {
			if err := f.findIDs(ctx, sn); err != nil && !errors.Is(err, errFindDone) {
				return nil, err
			}
			continue
		}
		if err := f.findPatterns(ctx, sn); err != nil {
			return nil, err
		}
	}
	res := &FindResult{}
	if f.blobIDs != nil {
		res.BlobIDs = sortedIDs(f.blobIDs)
	}
	if f.treeIDs != nil {
		res.TreeIDs = sortedIDs(f.treeIDs)
	}
	return res, nil
}

// sortedIDs returns the set's members in order (never nil).
func sortedIDs(set map[string]struct{}) []string {
	out := make([]string, 0, len(set))
	for id := range set {
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}

// BlobPacks returns where the blob h is stored: the packs the index lists
// it in, with offset and length (none when the index does not list it).
func (rd *Reader) BlobPacks(ctx context.Context, h model.BlobHandle) ([]model.PackedBlob, error) {
	if err := rd.e.LoadIndex(ctx); err != nil {
		return nil, err
	}
	return rd.e.r.Index().Lookup(h), nil
}

func idSet(ids []string) map[string]struct{} {
	m := make(map[string]struct{}, len(ids))
	for _, id := range ids {
		m[id] = struct{}{}
	}
	return m
}

// errFindDone ends the walk of a snapshot once every tree ID was found.
var errFindDone = errors.New("find: all tree IDs found")

// finder is the state of one Find.
type finder struct {
	r        *repo.Repository
	w        *walker.Walker
	opts     FindOptions
	patterns []string
	// IDs looked for, full or short; nil: not looking for that type
	blobIDs, treeIDs map[string]struct{}
	treesFound       int
}

func (f *finder) treeError(sn *model.Snapshot) func(model.ID, string, *model.Node, error) error {
	return func(parent model.ID, _ string, _ *model.Node, err error) error {
		if f.opts.TreeError != nil {
			f.opts.TreeError(sn, parent, err)
		}
		return walker.ErrSkipNode
	}
}

func (f *finder) matchAny(p string, match func(pattern, str string) (bool, error)) (bool, error) {
	for _, pat := range f.patterns {
		ok, err := match(pat, p)
		if err != nil {
			return false, err
		}
		if ok {
			return true, nil
		}
	}
	return false, nil
}

func (f *finder) findPatterns(ctx context.Context, sn *model.Snapshot) error {
	normalize := func(p string) string {
		if f.opts.IgnoreCase {
			return strings.ToLower(p)
		}
		return p
	}
	return f.w.Walk(ctx, *sn.Tree, walker.Visitor{
		TreeError: f.treeError(sn),
		// a directory that neither matches nor may hold a match is passed
		// by without loading its tree (on a bad pattern, Node reports it)
		Enter: func(p string, _ *model.Node) bool {
			norm := normalize(p)
			found, err := f.matchAny(norm, filter.Match)
			if err != nil || found {
				return true
			}
			childMay, err := f.matchAny(norm, filter.ChildMatch)
			return err != nil || childMay
		},
		Node: func(_ model.ID, p string, n *model.Node) error {
			if n == nil {
				return nil
			}
			norm := normalize(p)
			found, err := f.matchAny(norm, filter.Match)
			if err != nil {
				return err
			}
			var orSkip error
			if n.Type == model.NodeTypeDir {
				childMay, err := f.matchAny(norm, filter.ChildMatch)
				if err != nil {
					return err
				}
				if !childMay {
					orSkip = walker.ErrSkipNode
				}
			}
			switch {
			case !found,
				!f.opts.Oldest.IsZero() && n.ModTime.Before(f.opts.Oldest),
				!f.opts.Newest.IsZero() && n.ModTime.After(f.opts.Newest):
				return orSkip
			}
			if f.opts.Match == nil {
				return nil
			}
			return f.opts.Match(FindMatch{Snapshot: sn, Path: p, Node: n})
		},
	})
}

func (f *finder) object(o FindObject) error {
	if f.opts.Object == nil {
		return nil
	}
	return f.opts.Object(o)
}

func (f *finder) findTree(sn *model.Snapshot, id model.ID, p string) error {
	_, full := f.treeIDs[id.String()]
	_, short := f.treeIDs[id.Str()]
	if !full && !short {
		return nil
	}
	if err := f.object(FindObject{Snapshot: sn, Type: model.TreeBlob, ID: id, Path: p}); err != nil {
		return err
	}
	f.treesFound++
	if f.treesFound >= len(f.treeIDs) && f.blobIDs == nil {
		return errFindDone
	}
	return nil
}

func (f *finder) findIDs(ctx context.Context, sn *model.Snapshot) error {
	return f.w.Walk(ctx, *sn.Tree, walker.Visitor{
		TreeError: f.treeError(sn),
		Node: func(parent model.ID, p string, n *model.Node) error {
			if n == nil {
				if f.treeIDs != nil {
					return f.findTree(sn, parent, "/")
				}
				return nil
			}
			if n.Type == model.NodeTypeDir && f.treeIDs != nil {
				if err := f.findTree(sn, *n.Subtree, p); err != nil {
					return err
				}
			}
			if n.Type == model.NodeTypeFile && f.blobIDs != nil {
				for _, id := range n.Content {
					if err := ctx.Err(); err != nil {
						return err
					}
					full := id.String()
					if _, ok := f.blobIDs[full]; !ok {
						if _, ok := f.blobIDs[id.Str()]; !ok {
							continue
						}
						// from now on the blob is known by its full ID
						f.blobIDs[full] = struct{}{}
						delete(f.blobIDs, id.Str())
					}
					o := FindObject{Snapshot: sn, Type: model.DataBlob, ID: id, Path: p, ParentTree: parent}
					if err := f.object(o); err != nil {
						return err
					}
				}
			}
			return nil
		},
	})
}

var errAllPacksFound = errors.New("all packs found")

// packsToBlobs adds the blobs of the given packs (full or 8-character IDs)
// to the IDs looked for: from the pack headers, or from the index for packs
// that are missing.
func (f *finder) packsToBlobs(ctx context.Context, packs []string) error {
	want := idSet(packs)
	if f.blobIDs == nil {
		f.blobIDs = make(map[string]struct{})
	}
	if f.treeIDs == nil {
		f.treeIDs = make(map[string]struct{})
	}
	err := f.r.List(ctx, backend.PackFile, func(id model.ID, size int64) error {
		if _, ok := want[id.String()]; ok {
			delete(want, id.String())
		} else if _, ok := want[id.Str()]; ok {
			delete(want, id.Str())
		} else {
			return nil
		}
		blobs, _, err := f.r.ListPack(ctx, id, size)
		if err != nil {
			return err
		}
		for _, b := range blobs {
			switch b.Type {
			case model.DataBlob:
				f.blobIDs[b.ID.String()] = struct{}{}
			case model.TreeBlob:
				f.treeIDs[b.ID.String()] = struct{}{}
			}
		}
		if len(want) == 0 {
			return errAllPacksFound
		}
		return nil
	})
	if err != nil && !errors.Is(err, errAllPacksFound) {
		return err
	}
	if !errors.Is(err, errAllPacksFound) {
		// packs missing from the repository: their blobs from the index
		fromIndex := make(map[model.ID]struct{})
		f.r.Index().Each(func(pb model.PackedBlob) bool {
			full := pb.PackID.String()
			_, ok := want[full]
			if !ok {
				if _, short := want[pb.PackID.Str()]; short {
					delete(want, pb.PackID.Str())
					want[full] = struct{}{}
					ok = true
				}
			}
			if ok {
				f.blobIDs[pb.ID.String()] = struct{}{}
				fromIndex[pb.PackID] = struct{}{}
			}
			return true
		})
		var list []model.ID
		for id := range fromIndex {
			delete(want, id.String())
			list = append(list, id)
		}
		if len(list) > 0 && f.opts.MissingPacks != nil {
			f.opts.MissingPacks(list)
		}
	}
	if len(want) > 0 {
		list := make([]string, 0, len(want))
		for id := range want {
			list = append(list, id)
		}
		sort.Strings(list)
		return &PacksNotFoundError{Packs: list}
	}
	return nil
}
