package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/arca-backup/arca/repo/engine"
	"github.com/arca-backup/arca/repo/model"
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

// finder holds the state of one find run: the patterns or IDs looked for
// and the output, which groups pattern matches by snapshot.
type finder struct {
	a           *app
	out         *bufio.Writer
	long, human bool

	// output state
	json    bool
	started bool            // JSON: "[" written
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

func (f *finder) printMatch(m engine.FindMatch) error {
	path, n, cur := m.Path, m.Node, m.Snapshot
	if !f.json {
		if cur != f.printed {
			if f.printed != nil {
				f.info("")
			}
			f.printed = cur
			f.info("Found matching entries in snapshot %s from %s", cur.ID.Str(), cur.Time.Local().Format(timeFormat))
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
	if cur != f.printed {
		if f.printed != nil {
			fmt.Fprintf(f.out, "],\"hits\":%d,\"snapshot\":%q},", f.hits, f.printed.ID.String())
		}
		f.out.WriteString(`{"matches":[`)
		f.printed = cur
		f.hits = 0
	}
	if f.hits > 0 {
		f.out.WriteString(",")
	}
	f.out.Write(b)
	f.hits++
	return nil
}

func (f *finder) printObject(o engine.FindObject) error {
	kind, id, path, sn := "blob", o.ID.String(), o.Path, o.Snapshot
	treeID := ""
	if o.Type == model.TreeBlob {
		kind = "tree"
	} else {
		treeID = o.ParentTree.String()
	}
	if !f.json {
		f.say("Found %s %s", kind, id)
		if kind == "blob" {
			f.say(" ... in file %s", path)
			f.say("     (tree %s)", treeID)
		} else {
			f.say(" ... path %s", path)
		}
		f.say(" ... in snapshot %s (%s)", sn.ID.Str(), sn.Time.Local().Format(timeFormat))
		return nil
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
		return nil
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
	return nil
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

// showPacks prints the packs holding the blobs and trees looked for.
func (f *finder) showPacks(ctx context.Context, rd *engine.Reader, res *engine.FindResult) error {
	show := func(s string, t model.BlobType) error {
		id, err := parseResticID(s)
		if err != nil {
			f.say("Note: cannot find pack for object '%s', unable to parse ID: %v", s, err)
			return nil
		}
		pbs, err := rd.BlobPacks(ctx, model.BlobHandle{ID: id, Type: t})
		if err != nil {
			return err
		}
		if len(pbs) == 0 {
			// restic's message has type and ID the other way round
			f.say("Object %s with type %s not found in the index", t, id.Str())
			return nil
		}
		b := pbs[0]
		f.say("Object belongs to pack %s", b.PackID)
		f.say(" ... Pack %s: <Blob (%v) %v, offset %v, length %v, uncompressed length %v>",
			b.PackID.Str(), b.Type, b.ID.Str(), b.Offset, b.Length, b.UncompressedLength)
		return nil
	}
	for _, s := range res.BlobIDs {
		if err := show(s, model.DataBlob); err != nil {
			return err
		}
	}
	for _, s := range res.TreeIDs {
		if err := show(s, model.TreeBlob); err != nil {
			return err
		}
	}
	return nil
}

func (a *app) runFind(ctx context.Context, opts findOptions, args []string) error {
	if len(args) == 0 {
		return fatalf("wrong number of arguments")
	}
	f := &finder{a: a, long: opts.long, human: opts.human, json: a.opts.JSON}
	fo := engine.FindOptions{IgnoreCase: opts.ignoreCase}
	var err error
	if opts.oldest != "" {
		if fo.Oldest, err = parseFindTime(opts.oldest); err != nil {
			return err
		}
	}
	if opts.newest != "" {
		if fo.Newest, err = parseFindTime(opts.newest); err != nil {
			return err
		}
	}
	if !fo.Oldest.IsZero() && !fo.Newest.IsZero() && fo.Oldest.After(fo.Newest) {
		return fatalf("--oldest must specify a time before --newest")
	}
	if (opts.blobID && opts.treeID) || (opts.blobID && opts.packID) || (opts.treeID && opts.packID) {
		return fatalf("cannot have several ID types")
	}
	switch {
	case opts.blobID:
		fo.BlobIDs = args
	case opts.treeID:
		fo.TreeIDs = args
	case opts.packID:
		fo.PackIDs = args
	default:
		fo.Patterns = args
	}
	fo.Match = f.printMatch
	fo.Object = f.printObject
	fo.TreeError = func(sn *model.Snapshot, tree model.ID, _ error) {
		// as restic does, on standard output
		f.say("Unable to load tree %s", tree)
		f.say(" ... which belongs to snapshot %s", sn.ID)
	}
	fo.MissingPacks = func(packs []model.ID) {
		list := make([]string, len(packs))
		for i, id := range packs {
			list[i] = id.String()
		}
		a.warnf("some pack files are missing from the repository, getting their blobs from the repository index: %v\n\n", list)
	}

	e, err := a.openEngineRepo(ctx)
	if err != nil {
		return err
	}
	defer e.Close()
	f.out = bufio.NewWriterSize(a.stdout, 64<<10)
	defer f.out.Flush()

	err = e.Read(ctx, func(ctx context.Context, rd *engine.Reader) error {
		if fo.PackIDs != nil {
			// restic looks the packs up before it loads the snapshots
			var err error
			fo.BlobIDs, fo.TreeIDs, err = rd.PackContents(ctx, fo.PackIDs, fo.MissingPacks)
			var pnf *engine.PacksNotFoundError
			if errors.As(err, &pnf) {
				return fatalf("%v", pnf)
			}
			if err != nil {
				return err
			}
			fo.PackIDs = nil
		}
		all, loadErrs, ok, err := a.readSnapshots(ctx, rd)
		if err != nil {
			return err
		}
		var snaps []*model.Snapshot
		if ok {
			snaps = a.chooseSnapshots(all, loadErrs, opts.filter, opts.snapshots)
		}
		sort.SliceStable(snaps, func(i, j int) bool {
			if opts.reverse {
				return snaps[i].Time.Before(snaps[j].Time)
			}
			return snaps[i].Time.After(snaps[j].Time)
		})
		res, err := rd.Find(ctx, snaps, fo)
		if err != nil {
			return err
		}
		f.finish()
		if opts.showPack && (opts.blobID || opts.treeID || opts.packID) {
			return f.showPacks(ctx, rd, res)
		}
		return nil
	})
	if err != nil {
		return engineError(err)
	}
	return f.out.Flush()
}
