package checker

import (
	"fmt"
	"slices"
	"strings"

	"github.com/arca-backup/arca/repo/model"
)

// The problems a check reports. Each names the file or object it concerns;
// their messages follow restic's check so the CLI can print them as they are.

// IndexError: an index file cannot be loaded or decoded.
type IndexError struct {
	IndexID model.ID
	Err     error
}

func (e *IndexError) Error() string {
	return fmt.Sprintf("error loading index %v: %v", e.IndexID, e.Err)
}

func (e *IndexError) Unwrap() error { return e.Err }

// IncompletePackError: index files list different blobs for the same pack
// (restic before 0.10 split packs over indexes; today this is damage).
type IncompletePackError struct {
	PackID  model.ID
	Indexes model.IDs
}

func (e *IncompletePackError) Error() string {
	return fmt.Sprintf("pack %v has different data in indexes: %v", e.PackID, idSetString(e.Indexes))
}

// DuplicatePackHint: a pack is listed, identically, in several index files.
// Not an error; `repair index` tidies it up.
type DuplicatePackHint struct {
	PackID  model.ID
	Indexes model.IDs
}

func (e *DuplicatePackHint) Error() string {
	return fmt.Sprintf("pack %v contained in several indexes: %v", e.PackID, idSetString(e.Indexes))
}

// MixedPackHint: a pack holds both tree and data blobs. Not an error;
// prune repacks it.
type MixedPackHint struct {
	PackID model.ID
}

func (e *MixedPackHint) Error() string {
	return fmt.Sprintf("pack %v contains a mix of tree and data blobs", e.PackID.Str())
}

// IsHint reports whether a problem is only a hint (the repository is not
// damaged).
func IsHint(err error) bool {
	switch err.(type) {
	case *DuplicatePackHint, *MixedPackHint:
		return true
	}
	return false
}

// PackError: a pack file disagrees with the index: it is missing, has the
// wrong size (Truncated), or is not in any index (Orphaned, not an error).
type PackError struct {
	PackID    model.ID
	Orphaned  bool
	Truncated bool
	Err       error
}

func (e *PackError) Error() string { return "pack " + e.PackID.String() + ": " + e.Err.Error() }

func (e *PackError) Unwrap() error { return e.Err }

// SnapshotError: a snapshot file cannot be loaded.
type SnapshotError struct {
	SnapshotID model.ID
	Err        error
}

func (e *SnapshotError) Error() string {
	return fmt.Sprintf("failed to load snapshot %v: %v", e.SnapshotID.Str(), e.Err)
}

func (e *SnapshotError) Unwrap() error { return e.Err }

// TreeError collects what is wrong with one tree: it cannot be loaded or
// decoded, or its nodes reference missing or invalid blobs.
type TreeError struct {
	TreeID model.ID
	Errors []error
}

func (e *TreeError) Error() string { return fmt.Sprintf("tree %v: %v", e.TreeID, e.Errors) }

// NodeError is one problem inside a tree (an element of TreeError.Errors).
type NodeError struct {
	TreeID model.ID
	Err    error
}

func (e *NodeError) Error() string { return "tree " + e.TreeID.String() + ": " + e.Err.Error() }

func (e *NodeError) Unwrap() error { return e.Err }

// MissingTreeError: a tree blob is referenced but not in the index.
type MissingTreeError struct {
	TreeID model.ID
}

func (e *MissingTreeError) Error() string {
	return fmt.Sprintf("id %v not found in repository", e.TreeID)
}

// PackDataError: reading a whole pack found problems (damaged blobs, a
// content hash that does not match the name, a header that disagrees with
// the index). The pack should be salvaged with `repair packs`.
type PackDataError struct {
	PackID model.ID
	Errors []error
}

func (e *PackDataError) Error() string {
	return fmt.Sprintf("pack %v contains %v errors: %v", e.PackID, len(e.Errors), e.Errors)
}

// PackDownloadError: a pack could not be read at all.
type PackDownloadError struct {
	PackID model.ID
	Err    error
}

func (e *PackDownloadError) Error() string { return "download error: " + e.Err.Error() }

func (e *PackDownloadError) Unwrap() error { return e.Err }

// RetrySucceeded: a pack failed verification once and passed the second
// time (a transient read error). It is still reported, as restic does.
type RetrySucceeded struct {
	PackID model.ID
	Err    error
}

func (e *RetrySucceeded) Error() string {
	return "check successful on second attempt, original error " + e.Err.Error()
}

func (e *RetrySucceeded) Unwrap() error { return e.Err }

// idSetString formats IDs as restic prints an ID set: sorted short IDs in
// braces.
func idSetString(ids model.IDs) string {
	sorted := slices.Clone(ids)
	sortIDs(sorted)
	parts := make([]string, len(sorted))
	for i, id := range sorted {
		parts[i] = id.Str()
	}
	return "{" + strings.Join(parts, " ") + "}"
}
