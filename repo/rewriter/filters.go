package rewriter

import (
	"github.com/arca-backup/arca/repo/filter"
	"github.com/arca-backup/arca/repo/model"
)

// ExcludeNodes drops every node whose path one of rejects matches.
// excluded (may be nil) is told about each dropped path.
func ExcludeNodes(rejects []filter.RejectFunc, excluded func(path string)) NodeFunc {
	return func(n *model.Node, p string) *model.Node {
		for _, reject := range rejects {
			if reject(p) {
				if excluded != nil {
					excluded(p)
				}
				return nil
			}
		}
		return n
	}
}

// IncludeNodes keeps the nodes one of includes matches, and directories
// that match or may hold a match. The second function keeps a directory
// that ends up empty only when it matches itself. included and
// includedDir (may be nil) are told about kept files and kept empty
// directories.
func IncludeNodes(includes []filter.IncludeFunc, included, includedDir func(path string)) (NodeFunc, KeepEmptyFunc) {
	selected := func(p string, dir bool) bool {
		for _, include := range includes {
			matched, childMayMatch := include(p)
			if matched || (dir && childMayMatch) {
				return true
			}
		}
		return false
	}
	node := func(n *model.Node, p string) *model.Node {
		dir := n.Type == model.NodeTypeDir
		if !selected(p, dir) {
			return nil
		}
		if !dir && included != nil {
			included(p)
		}
		return n
	}
	keepEmpty := func(p string) bool {
		if !selected(p, false) {
			return false
		}
		if includedDir != nil {
			includedDir(p)
		}
		return true
	}
	return node, keepEmpty
}
