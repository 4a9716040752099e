// Package dump writes what a snapshot holds to a stream as restic's dump
// command does: one file's content as it is, or a directory as a tar or zip
// archive with the nodes' names, modes, owners, times, symlink targets and
// (tar) extended attributes.
//
// File content is streamed blob by blob: a few blobs are loaded in parallel
// ahead of the writer and recently written blobs are kept in a small cache,
// but a file is never held in memory as a whole.
package dump

import (
	"context"
	"fmt"
	"io"
	"path"
	"runtime"
	"strings"

	"github.com/arca-backup/arca/repo/model"
	"github.com/arca-backup/arca/repo/walker"
)

// Format is an archive format.
type Format string

// The archive formats restic writes.
const (
	Tar Format = "tar"
	Zip Format = "zip"
)

// ParseFormat checks an --archive value.
func ParseFormat(s string) (Format, error) {
	switch f := Format(s); f {
	case Tar, Zip:
		return f, nil
	}
	return "", fmt.Errorf("unknown archive format %q", s)
}

// DefaultCacheBytes is the budget of the cache of written blobs.
const DefaultCacheBytes = 32 << 20

// Options tune a Dumper.
type Options struct {
	// Workers is how many blobs are loaded ahead of the writer
	// (0: GOMAXPROCS+2).
	Workers int
	// Walker walks directories (nil: a new one on blobs).
	Walker *walker.Walker
}

// Dumper writes files and trees from a repository to w.
type Dumper struct {
	format  Format
	blobs   walker.BlobLoader
	walker  *walker.Walker
	w       io.Writer
	workers int
	cache   *blobCache
}

// New returns a dumper writing archives in format to w.
func New(format Format, blobs walker.BlobLoader, w io.Writer, opts Options) *Dumper {
	if opts.Workers <= 0 {
		opts.Workers = runtime.GOMAXPROCS(0) + 2
	}
	if opts.Walker == nil {
		opts.Walker = walker.New(blobs, walker.Options{})
	}
	return &Dumper{
		format:  format,
		blobs:   blobs,
		walker:  opts.Walker,
		w:       w,
		workers: opts.Workers,
		cache:   newBlobCache(DefaultCacheBytes),
	}
}

// LoadTree loads a tree through the dumper's (cached) tree loader.
func (d *Dumper) LoadTree(ctx context.Context, id model.ID) (*model.Tree, error) {
	return d.walker.Trees().Load(ctx, id)
}

// WriteFile writes the content of a file node to the output.
func (d *Dumper) WriteFile(ctx context.Context, node *model.Node) error {
	return d.writeContent(ctx, d.w, node.Content)
}

// splitDumpPath splits a path given to DumpPath into its names; the root
// ("/", "" or ".") is one empty name.
func splitDumpPath(p string) []string {
	c := path.Clean(p)
	if c == "/" {
		return []string{""}
	}
	return strings.Split(strings.TrimPrefix(c, "/"), "/")
}

// DumpPath writes what is at p below the tree root: a file's content as it
// is, a directory (or "/", the whole tree) as an archive. Before writing an
// archive it calls checkArchive (if set), which may refuse, e.g. when the
// output is a terminal. Errors name the path as restic does.
func (d *Dumper) DumpPath(ctx context.Context, root model.ID, p string, checkArchive func() error) error {
	if checkArchive == nil {
		checkArchive = func() error { return nil }
	}
	names := splitDumpPath(p)
	if names[0] == "" {
		if err := checkArchive(); err != nil {
			return err
		}
		return d.DumpTree(ctx, root, "/")
	}
	prefix := "/"
	tree, err := d.LoadTree(ctx, root)
	if err != nil {
		return err
	}
	for {
		item := path.Join(prefix, names[0])
		node := tree.Find(names[0])
		if node == nil {
			return fmt.Errorf("path %q not found in snapshot", item)
		}
		last := len(names) == 1
		switch {
		case last && node.Type == model.NodeTypeFile:
			return d.WriteFile(ctx, node)
		case node.Type == model.NodeTypeDir && node.Subtree == nil:
			return fmt.Errorf("subtree for node %v in tree %v is nil", node.Name, item)
		case !last && node.Type == model.NodeTypeDir:
			if tree, err = d.LoadTree(ctx, *node.Subtree); err != nil {
				return fmt.Errorf("cannot load subtree for %q: %w", item, err)
			}
			prefix, names = item, names[1:]
			continue
		case node.Type == model.NodeTypeDir:
			if err := checkArchive(); err != nil {
				return err
			}
			return d.DumpTree(ctx, *node.Subtree, item)
		case !last:
			return fmt.Errorf("%q should be a dir, but is a %q", item, node.Type)
		default:
			return fmt.Errorf("%q should be a file, but is a %q", item, node.Type)
		}
	}
}

// archive receives the nodes of a tree in walk order.
type archive interface {
	add(ctx context.Context, name string, node *model.Node) error
	close() error
}

// DumpTree writes the nodes below the tree id as an archive; each entry is
// named by rootPath joined with its path in the tree, without the leading
// slash. Below the first level, only files, directories and symlinks are
// included, as in restic.
func (d *Dumper) DumpTree(ctx context.Context, id model.ID, rootPath string) error {
	var a archive
	switch d.format {
	case Tar:
		a = newTarArchive(d)
	case Zip:
		a = newZipArchive(d)
	default:
		return fmt.Errorf("unknown archive format %q", d.format)
	}
	err := d.walker.Walk(ctx, id, walker.Visitor{
		Node: func(_ model.ID, p string, node *model.Node) error {
			if node == nil {
				return nil
			}
			if path.Dir(p) != "/" {
				switch node.Type {
				case model.NodeTypeFile, model.NodeTypeDir, model.NodeTypeSymlink:
				default:
					return nil
				}
			}
			full := path.Join(rootPath, p)
			return a.add(ctx, strings.TrimPrefix(full, "/"), node)
		},
	})
	if err != nil {
		return err
	}
	return a.close()
}
