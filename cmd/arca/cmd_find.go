package main

import (
	"bufio"
	"context"
	"encoding/json"
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
	"github.com/spf13/cobra"
)

func init() { registerCommand(newFindCommand) }

type findOptions struct {
	oldest, newest   string
	snapshots        []string
	blobID, treeID   bool
	packID, showPack bool
	ignoreCase       bool
	long, human      bool
	reverse          bool
	filter           snapshotFilterOptions
}

func newFindCommand(a *app) *cobra.Command {
	var opts findOptions
	c := &cobra.Command{
		Use:   "find [flags] PATTERN...",
		Short: "Find a file, a directory or restic IDs",
		Long: `
The "find" command searches for files or directories in snapshots stored in the
repository. It can also be used to search for restic blobs, trees or pack
files for troubleshooting.

The default sort option for the snapshots is youngest to oldest. To sort the
output from oldest to youngest specify --reverse.

EXIT STATUS
===========

Exit status is 0 if the command was successful.
Exit status is 1 if there was any error.
Exit status is 10 if the repository does not exist.
Exit status is 11 if the repository is already locked.
Exit status is 12 if the password is incorrect.
`,
		Example: `restic find config.json
restic find --json "*.yml" "*.json"
restic find --json --blob 420f620f b46ebe8a ddd38656
restic find --show-pack-id --blob 420f620f
restic find --tree 577c2bc9 f81f2e22 a62827a9
restic find --pack 025c1d06`,
		DisableAutoGenTag: true,
		RunE: func(c *cobra.Command, args []string) error {
			return a.runFind(c.Context(), opts, args)
		},
	}
	f := c.Flags()
	f.StringVarP(&opts.oldest, "oldest", "O", "", "oldest modification date/time")
	f.StringVarP(&opts.newest, "newest", "N", "", "newest modification date/time")
	f.StringArrayVarP(&opts.snapshots, "snapshot", "s", nil, "snapshot `id` to search in (can be given multiple times)")
	f.BoolVar(&opts.blobID, "blob", false, "pattern is a blob-ID")
	f.BoolVar(&opts.treeID, "tree", false, "pattern is a tree-ID")
	f.BoolVar(&opts.packID, "pack", false, "pattern is a pack-ID")
	f.BoolVar(&opts.showPack, "show-pack-id", false, "display the pack-ID the blobs belong to (with --blob or --tree)")
	f.BoolVarP(&opts.ignoreCase, "ignore-case", "i", false, "ignore case for pattern")
	f.BoolVarP(&opts.reverse, "reverse", "R", false, "reverse sort order oldest to newest")
	f.BoolVarP(&opts.long, "long", "l", false, "use a long listing format showing size and mode")
	f.BoolVar(&opts.human, "human-readable", false, "print sizes in human readable format")
	opts.filter.addMulti(f, true)
	return c
}

// findTimeFormats are the layouts restic accepts for --oldest/--newest.
var findTimeFormats = []string{
	"2006-01-02",
	"2006-01-02 15:04",
	"2006-01-02 15:04:05",
	"2006-01-02 15:04:05 -0700",
	"2006-01-02 15:04:05 MST",
	"02.01.2006",
	"02.01.2006 15:04",
	"02.01.2006 15:04:05",
	"02.01.2006 15:04:05 -0700",
	"02.01.2006 15:04:05 MST",
	"Mon Jan 2 15:04:05 -0700 MST 2006",
}

func parseFindTime(s string) (time.Time, error) {
	for _, layout := range findTimeFormats {
		if t, err := time.ParseInLocation(layout, s, time.Local); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fatalf("unable to parse time: %q", s)
}

// errFindDone ends the walk of a snapshot once every tree ID was found.
var errFindDone = errors.New("find: all tree IDs found")

// finder holds the state of one find run: the patterns or IDs looked for
// and the output, which groups pattern matches by snapshot.
type finder struct {
	a              *app
	r              *repo.Repository
	w              *walker.Walker
	out            *bufio.Writer
	patterns       []string
	ignoreCase     bool
	oldest, newest time.Time
	long, human    bool
	blobIDs        map[string]struct{} // full or 8-character IDs; nil: not looking for blobs
	treeIDs        map[string]struct{}
	treesFound     int

	// output state
	json    bool
	started bool // JSON: "[" written
	cur     *model.Snapshot
	printed *model.Snapshot // snapshot whose matches are being printed
	hits    int
}

// say prints a line that restic prints even with --quiet.
func (f *finder) say(format string, args ...any) {
	fmt.Fprintf(f.out, format+"\n", args...)
}

// info prints a line that --quiet suppresses.
func (f *finder) info(format string, args ...any) {
	if f.a.opts.verbosity() >= 1 && !f.json {
		fmt.Fprintf(f.out, format+"\n", args...)
	}
}

func (f *finder) printMatch(path string, n *model.Node) error {
	if !f.json {
		if f.cur != f.printed {
			if f.printed != nil {
				f.info("")
			}
			f.printed = f.cur
			f.info("Found matching entries in snapshot %s from %s", f.cur.ID.Str(), f.cur.Time.Local().Format(timeFormat))
		}
		f.say("%s", formatNode(path, n, f.long, f.human))
		return nil
	}
	// the node's own fields without name, xattrs, content etc., plus path
	// and permissions
	type findNode model.Node
	b, err := json.Marshal(struct {
		Path        string `json:"path,omitempty"`
		Permissions string `json:"permissions,omitempty"`
		*findNode
		Name               byte `json:"name,omitempty"`
		ExtendedAttributes byte `json:"extended_attributes,omitempty"`
		GenericAttributes  byte `json:"generic_attributes,omitempty"`
		Device             byte `json:"device,omitempty"`
		Content            byte `json:"content,omitempty"`
		Subtree            byte `json:"subtree,omitempty"`
	}{Path: path, Permissions: n.Mode.String(), findNode: (*findNode)(n)})
	if err != nil {
		f.a.warnf("Marshal failed: %v\n", err)
		return nil
	}
	if !f.started {
		f.out.WriteString("[")
		f.started = true
	}
	if f.cur != f.printed {
		if f.printed != nil {
			fmt.Fprintf(f.out, "],\"hits\":%d,\"snapshot\":%q},", f.hits, f.printed.ID.String())
		}
		f.out.WriteString(`{"matches":[`)
		f.printed = f.cur
		f.hits = 0
	}
	if f.hits > 0 {
		f.out.WriteString(",")
	}
	f.out.Write(b)
	f.hits++
	return nil
}

func (f *finder) printObject(kind, id, path, treeID string, sn *model.Snapshot) {
	if !f.json {
		f.say("Found %s %s", kind, id)
		if kind == "blob" {
			f.say(" ... in file %s", path)
			f.say("     (tree %s)", treeID)
		} else {
			f.say(" ... path %s", path)
		}
		f.say(" ... in snapshot %s (%s)", sn.ID.Str(), sn.Time.Local().Format(timeFormat))
		return
	}
	b, err := json.Marshal(struct {
		ObjectType string    `json:"object_type"`
		ID         string    `json:"id"`
		Path       string    `json:"path"`
		ParentTree string    `json:"parent_tree,omitempty"`
		SnapshotID string    `json:"snapshot"`
		Time       time.Time `json:"time,omitempty"`
	}{kind, id, path, treeID, sn.ID.String(), sn.Time})
	if err != nil {
		f.a.warnf("Marshal failed: %v\n", err)
		return
	}
	if !f.started {
		f.out.WriteString("[")
		f.started = true
	}
	if f.hits > 0 {
		f.out.WriteString(",")
	}
	f.out.Write(b)
	f.hits++
}

func (f *finder) finish() {
	if !f.json {
		return
	}
	if f.printed != nil {
		fmt.Fprintf(f.out, "],\"hits\":%d,\"snapshot\":%q}", f.hits, f.printed.ID.String())
	}
	if f.started {
		f.out.WriteString("]\n")
	} else {
		f.out.WriteString("[]\n")
	}
}

// treeError reports a tree that cannot be loaded and skips it, as restic
// does (on standard output).
func (f *finder) treeError(sn *model.Snapshot) func(model.ID, string, *model.Node, error) error {
	return func(parent model.ID, _ string, _ *model.Node, _ error) error {
		f.say("Unable to load tree %s", parent)
		f.say(" ... which belongs to snapshot %s", sn.ID)
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

func (f *finder) findInSnapshot(ctx context.Context, sn *model.Snapshot) error {
	f.cur = sn
	return f.w.Walk(ctx, *sn.Tree, walker.Visitor{
		TreeError: f.treeError(sn),
		Node: func(_ model.ID, p string, n *model.Node) error {
			if n == nil {
				return nil
			}
			norm := p
			if f.ignoreCase {
				norm = strings.ToLower(p)
			}
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
			if !found {
				return orSkip
			}
			if !f.oldest.IsZero() && n.ModTime.Before(f.oldest) {
				return orSkip
			}
			if !f.newest.IsZero() && n.ModTime.After(f.newest) {
				return orSkip
			}
			return f.printMatch(p, n)
		},
	})
}

func (f *finder) findTree(id model.ID, p string) error {
	_, full := f.treeIDs[id.String()]
	_, short := f.treeIDs[id.Str()]
	if !full && !short {
		return nil
	}
	f.printObject("tree", id.String(), p, "", f.cur)
	f.treesFound++
	if f.treesFound >= len(f.treeIDs) && f.blobIDs == nil {
		return errFindDone
	}
	return nil
}

func (f *finder) findIDs(ctx context.Context, sn *model.Snapshot) error {
	f.cur = sn
	return f.w.Walk(ctx, *sn.Tree, walker.Visitor{
		TreeError: f.treeError(sn),
		Node: func(parent model.ID, p string, n *model.Node) error {
			if n == nil {
				if f.treeIDs != nil {
					return f.findTree(parent, "/")
				}
				return nil
			}
			if n.Type == model.NodeTypeDir && f.treeIDs != nil {
				if err := f.findTree(*n.Subtree, p); err != nil {
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
					f.printObject("blob", full, p, parent.String(), sn)
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
	want := make(map[string]struct{}, len(packs))
	for _, p := range packs {
		want[p] = struct{}{}
	}
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
		fromIndex := make(map[string]struct{})
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
				fromIndex[full] = struct{}{}
			}
			return true
		})
		var list []string
		for id := range fromIndex {
			delete(want, id)
			list = append(list, id)
		}
		if len(list) > 0 {
			f.a.warnf("some pack files are missing from the repository, getting their blobs from the repository index: %v\n\n", list)
		}
	}
	if len(want) > 0 {
		list := make([]string, 0, len(want))
		for id := range want {
			list = append(list, id)
		}
		sort.Strings(list)
		return fatalf("unable to find pack(s): %v", list)
	}
	return nil
}

// showPacks prints the packs holding the blobs and trees looked for.
func (f *finder) showPacks() {
	show := func(s string, t model.BlobType) {
		id, err := parseResticID(s)
		if err != nil {
			f.say("Note: cannot find pack for object '%s', unable to parse ID: %v", s, err)
			return
		}
		pbs := f.r.Index().Lookup(model.BlobHandle{ID: id, Type: t})
		if len(pbs) == 0 {
			// restic's message has type and ID the other way round
			f.say("Object %s with type %s not found in the index", t, id.Str())
			return
		}
		b := pbs[0]
		f.say("Object belongs to pack %s", b.PackID)
		f.say(" ... Pack %s: <Blob (%v) %v, offset %v, length %v, uncompressed length %v>",
			b.PackID.Str(), b.Type, b.ID.Str(), b.Offset, b.Length, b.UncompressedLength)
	}
	for s := range f.blobIDs {
		show(s, model.DataBlob)
	}
	for s := range f.treeIDs {
		show(s, model.TreeBlob)
	}
}

func (a *app) runFind(ctx context.Context, opts findOptions, args []string) error {
	if len(args) == 0 {
		return fatalf("wrong number of arguments")
	}
	f := &finder{a: a, patterns: args, ignoreCase: opts.ignoreCase, long: opts.long, human: opts.human, json: a.opts.JSON}
	if opts.ignoreCase {
		for i := range f.patterns {
			f.patterns[i] = strings.ToLower(f.patterns[i])
		}
	}
	var err error
	if opts.oldest != "" {
		if f.oldest, err = parseFindTime(opts.oldest); err != nil {
			return err
		}
	}
	if opts.newest != "" {
		if f.newest, err = parseFindTime(opts.newest); err != nil {
			return err
		}
	}
	if !f.oldest.IsZero() && !f.newest.IsZero() && f.oldest.After(f.newest) {
		return fatalf("--oldest must specify a time before --newest")
	}
	if (opts.blobID && opts.treeID) || (opts.blobID && opts.packID) || (opts.treeID && opts.packID) {
		return fatalf("cannot have several ID types")
	}

	s, err := a.openSession(ctx, a.readLockMode())
	if err != nil {
		return err
	}
	defer s.done()
	ctx, f.r = s.ctx, s.repo
	if err := f.r.LoadIndex(ctx, nil); err != nil {
		return err
	}
	f.w = walker.New(f.r, walker.Options{})
	f.out = bufio.NewWriterSize(a.stdout, 64<<10)
	defer f.out.Flush()

	if opts.blobID {
		f.blobIDs = make(map[string]struct{})
		for _, p := range f.patterns {
			f.blobIDs[p] = struct{}{}
		}
	}
	if opts.treeID {
		f.treeIDs = make(map[string]struct{})
		for _, p := range f.patterns {
			f.treeIDs[p] = struct{}{}
		}
	}
	if opts.packID {
		if err := f.packsToBlobs(ctx, f.patterns); err != nil {
			return err
		}
	}

	snaps, err := a.findFilteredSnapshots(ctx, f.r, opts.filter, opts.snapshots)
	if err != nil {
		return err
	}
	sort.SliceStable(snaps, func(i, j int) bool {
		if opts.reverse {
			return snaps[i].Time.Before(snaps[j].Time)
		}
		return snaps[i].Time.After(snaps[j].Time)
	})
	for _, sn := range snaps {
		if f.blobIDs != nil || f.treeIDs != nil {
			if err := f.findIDs(ctx, sn); err != nil && !errors.Is(err, errFindDone) {
				return err
			}
			continue
		}
		if err := f.findInSnapshot(ctx, sn); err != nil {
			return err
		}
	}
	f.finish()
	if opts.showPack && (f.blobIDs != nil || f.treeIDs != nil) {
		f.showPacks()
	}
	return f.out.Flush()
}
