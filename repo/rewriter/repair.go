package rewriter

import (
	"github.com/arca-backup/arca/repo/model"
)

// BlobSizer looks up the plaintext size of a blob in the index;
// *index.Index is one.
type BlobSizer interface {
	Size(h model.BlobHandle) (uint, bool)
}

// RepairEvents report what a repair changes; any may be nil.
type RepairEvents struct {
	// InvalidNode: a node of an invalid or irregular type was removed.
	InvalidNode func(path string, t model.NodeType)
	// MissingContent: a file lost the content blobs the index lacks.
	MissingContent func(path string)
	// FixedSize: a file's size did not match its content and was fixed.
	FixedSize func(path string)
	// UnreadableRoot: the snapshot's root tree cannot be loaded; the
	// snapshot is dropped.
	UnreadableRoot func(path string)
	// EmptiedDir: a directory's tree cannot be loaded and was replaced by
	// an empty directory.
	EmptiedDir func(path string)
}

// NewRepairer returns a Rewriter for `repair snapshots`, as restic's:
// nodes of invalid type are removed, a file keeps only the content blobs
// the index knows and gets the size of those, a directory whose tree
// cannot be loaded becomes empty, and an unreadable root tree drops the
// snapshot. Results are cached across snapshots, so each damaged tree is
// reported once.
func NewRepairer(idx BlobSizer, ev RepairEvents) *Rewriter {
	return New(Options{
		RewriteNode: func(n *model.Node, p string) *model.Node {
			if n.Type == model.NodeTypeIrregular || n.Type == "" {
				if ev.InvalidNode != nil {
					ev.InvalidNode(p, n.Type)
				}
				return nil
			}
			if n.Type != model.NodeTypeFile {
				return n
			}
			complete := true
			content := model.IDs{}
			var size uint64
			for _, id := range n.Content {
				s, ok := idx.Size(model.BlobHandle{ID: id, Type: model.DataBlob})
				if !ok {
					complete = false
					continue
				}
				content = append(content, id)
				size += uint64(s)
			}
			switch {
			case !complete:
				if ev.MissingContent != nil {
					ev.MissingContent(p)
				}
			case size != n.Size:
				if ev.FixedSize != nil {
					ev.FixedSize(p)
				}
			}
			n.Content = content
			n.Size = size
			return n
		},
		RewriteFailedTree: func(_ model.ID, p string, _ error) ([]*model.Node, bool, error) {
			if p == "/" {
				if ev.UnreadableRoot != nil {
					ev.UnreadableRoot(p)
				}
				return nil, false, nil
			}
			if ev.EmptiedDir != nil {
				ev.EmptiedDir(p)
			}
			return nil, true, nil
		},
		AllowUnstableSerialization: true,
	})
}
