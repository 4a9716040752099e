package engine

import (
	"context"
	"fmt"
	"io"

	"github.com/arca-backup/arca/repo/dump"
	"github.com/arca-backup/arca/repo/model"
)

// TreeLoadError is the error of an operation that could not load the tree
// it starts from.
type TreeLoadError struct {
	Tree model.ID
	Err  error
}

func (e *TreeLoadError) Error() string { return fmt.Sprintf("load tree %s: %v", e.Tree.Str(), e.Err) }

func (e *TreeLoadError) Unwrap() error { return e.Err }

// DumpOptions tune Reader.Dump.
type DumpOptions struct {
	// CheckArchive, when set, is called before an archive (not a single
	// file) is written and may refuse with an error, e.g. when w is a
	// terminal.
	CheckArchive func() error
}

// Dump writes what is at path below the tree root ("/home/me/notes.txt"
// or "/" for all) to w: a file's content as it is, a directory as an
// archive in format (dump.Tar or dump.Zip). A root tree that cannot be
// loaded gives a *TreeLoadError; other errors name the path.
func (rd *Reader) Dump(ctx context.Context, root model.ID, path string, format dump.Format, w io.Writer, opts DumpOptions) error {
	r := rd.e.r
	if err := rd.e.LoadIndex(ctx); err != nil {
		return err
	}
	d := dump.New(format, r, w, dump.Options{
		Workers: int(r.Backend().Properties().Connections) + 2,
	})
	if _, err := d.LoadTree(ctx, root); err != nil {
		return &TreeLoadError{Tree: root, Err: err}
	}
	return d.DumpPath(ctx, root, path, opts.CheckArchive)
}
