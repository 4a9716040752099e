package dump

import (
	"archive/zip"
	"context"
	"fmt"

	"github.com/arca-backup/arca/repo/model"
)

// zipArchive writes nodes as zip entries as restic does: the node's mode
// and mtime in the header, files deflated, directories stored with a
// trailing slash, symlinks stored with their target as content.
type zipArchive struct {
	d  *Dumper
	zw *zip.Writer
}

func newZipArchive(d *Dumper) *zipArchive {
	return &zipArchive{d: d, zw: zip.NewWriter(d.w)}
}

func (a *zipArchive) add(ctx context.Context, name string, node *model.Node) error {
	h := &zip.FileHeader{
		Name:               name,
		UncompressedSize64: node.Size,
		Modified:           node.ModTime,
	}
	h.SetMode(node.Mode)
	if node.Type == model.NodeTypeFile {
		h.Method = zip.Deflate
	}
	if node.Type == model.NodeTypeDir {
		h.Name += "/"
	}
	w, err := a.zw.CreateHeader(h)
	if err != nil {
		return fmt.Errorf("zip header for %q: %w", "/"+name, err)
	}
	if node.Type == model.NodeTypeSymlink {
		if _, err := w.Write([]byte(node.LinkTarget)); err != nil {
			return fmt.Errorf("write %q: %w", "/"+name, err)
		}
		return nil
	}
	return a.d.writeContent(ctx, w, node.Content)
}

func (a *zipArchive) close() error {
	if err := a.zw.Close(); err != nil {
		return fmt.Errorf("close zip archive: %w", err)
	}
	return nil
}
