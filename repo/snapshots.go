package repo

import (
	"context"
	"fmt"
	"path"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/arca-backup/arca/backend"
	"github.com/arca-backup/arca/repo/model"
)

// LoadSnapshot loads one snapshot file.
func (r *Repository) LoadSnapshot(ctx context.Context, id model.ID) (*model.Snapshot, error) {
	var sn model.Snapshot
	if err := r.LoadJSONUnpacked(ctx, backend.SnapshotFile, id, &sn); err != nil {
		return nil, err
	}
	if sn.Tree == nil {
		return nil, fmt.Errorf("snapshot %s has no tree", id.Str())
	}
	sn.ID = id
	return &sn, nil
}

// Snapshots loads every snapshot in parallel, sorted by time (oldest
// first). A snapshot that cannot be loaded is passed to onError; when
// onError is nil or returns an error, loading stops with that error.
func (r *Repository) Snapshots(ctx context.Context, onError func(id model.ID, err error) error) ([]*model.Snapshot, error) {
	var ids []model.ID
	if err := r.List(ctx, backend.SnapshotFile, func(id model.ID, _ int64) error {
		ids = append(ids, id)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("list snapshots: %w", err)
	}
	var mu sync.Mutex
	out := make([]*model.Snapshot, 0, len(ids))
	workers := runtime.GOMAXPROCS(0) + int(r.be.Properties().Connections)
	err := forEachParallel(ctx, workers, ids, func(ctx context.Context, id model.ID) error {
		sn, err := r.LoadSnapshot(ctx, id)
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			if onError == nil {
				return err
			}
			return onError(id, err)
		}
		out = append(out, sn)
		return nil
	})
	if err != nil {
		return nil, err
	}
	SortSnapshots(out)
	return out, nil
}

// SortSnapshots sorts by time, then ID, oldest first.
func SortSnapshots(l []*model.Snapshot) {
	sort.SliceStable(l, func(i, j int) bool {
		if !l[i].Time.Equal(l[j].Time) {
			return l[i].Time.Before(l[j].Time)
		}
		return l[i].ID.String() < l[j].ID.String()
	})
}

// SnapshotFilter selects snapshots as restic's --host, --tag and --path do.
type SnapshotFilter struct {
	Hosts []string
	// Tags is a list of tag lists: a snapshot matches when it has all tags
	// of at least one list. An empty list matches snapshots without tags.
	Tags  [][]string
	Paths []string
	// TimestampLimit excludes snapshots newer than it (zero: no limit).
	TimestampLimit time.Time
}

// Empty reports whether the filter selects everything.
func (f SnapshotFilter) Empty() bool {
	return len(f.Hosts) == 0 && len(f.Tags) == 0 && len(f.Paths) == 0
}

// Matches reports whether sn passes the filter.
func (f SnapshotFilter) Matches(sn *model.Snapshot) bool {
	if !f.TimestampLimit.IsZero() && sn.Time.After(f.TimestampLimit) {
		return false
	}
	if len(f.Hosts) > 0 {
		ok := false
		for _, h := range f.Hosts {
			if h == sn.Hostname {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	if len(f.Tags) > 0 {
		ok := false
		for _, list := range f.Tags {
			if sn.HasTags(list) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return sn.HasPaths(f.Paths)
}

// ParseTagLists turns --tag values ("a,b" means a and b) into tag lists,
// trimming spaces and keeping empty tags as restic does.
func ParseTagLists(values []string) [][]string {
	var out [][]string
	for _, v := range values {
		var list []string
		for _, t := range strings.Split(v, ",") {
			list = append(list, strings.TrimSpace(t))
		}
		out = append(out, list)
	}
	return out
}

// Selection is a snapshot named on the command line, with the subfolder
// of "ID:subfolder" when one was given.
type Selection struct {
	Snapshot  *model.Snapshot
	Subfolder string
}

// FindSnapshot resolves one snapshot argument: "latest", an ID or ID
// prefix, each optionally followed by ":subfolder". The filter applies to
// "latest".
func FindSnapshot(ctx context.Context, r *Repository, all []*model.Snapshot, arg string, f SnapshotFilter) (Selection, error) {
	name, sub, _ := strings.Cut(arg, ":")
	if name == "" {
		return Selection{}, fmt.Errorf("invalid snapshot ID %q", arg)
	}
	if name == "latest" {
		var latest *model.Snapshot
		for _, sn := range all {
			if f.Matches(sn) && (latest == nil || !sn.Time.Before(latest.Time)) {
				latest = sn
			}
		}
		if latest == nil {
			return Selection{}, &NoLatestError{Filter: f}
		}
		return Selection{Snapshot: latest, Subfolder: sub}, nil
	}
	var found *model.Snapshot
	for _, sn := range all {
		if strings.HasPrefix(sn.ID.String(), name) {
			if found != nil && found.ID != sn.ID {
				return Selection{}, &SnapshotPrefixError{Prefix: name, Ambiguous: true}
			}
			found = sn
		}
	}
	if found == nil {
		return Selection{}, &SnapshotPrefixError{Prefix: name}
	}
	return Selection{Snapshot: found, Subfolder: sub}, nil
}

// NoLatestError is FindSnapshot's error when no snapshot passes the
// filter for "latest". Its text is restic's; it wraps ErrNoSnapshot.
type NoLatestError struct{ Filter SnapshotFilter }

func (e *NoLatestError) Error() string {
	return fmt.Sprintf("snapshot filter (Paths:%v Tags:%v Hosts:%v): no snapshot found",
		e.Filter.Paths, FormatTagLists(e.Filter.Tags), e.Filter.Hosts)
}

func (e *NoLatestError) Unwrap() error { return ErrNoSnapshot }

// FormatTagLists writes tag lists as restic does: [[a, b] [c]].
func FormatTagLists(lists [][]string) string {
	parts := make([]string, len(lists))
	for i, l := range lists {
		parts[i] = "[" + strings.Join(l, ", ") + "]"
	}
	return "[" + strings.Join(parts, " ") + "]"
}

// SnapshotPrefixError is FindSnapshot's error for an ID or prefix that
// matches no snapshot or several. Its text is restic's; it wraps
// ErrNoSnapshot or ErrAmbiguousID.
type SnapshotPrefixError struct {
	Prefix    string
	Ambiguous bool
}

func (e *SnapshotPrefixError) Error() string { return prefixErrorText(e.Prefix, e.Ambiguous) }

func (e *SnapshotPrefixError) Unwrap() error {
	if e.Ambiguous {
		return ErrAmbiguousID
	}
	return ErrNoSnapshot
}

// FilterSnapshots returns the snapshots named by args (all when args is
// empty) that pass the filter, oldest first. Named snapshots are returned
// even when the filter would not select them, as restic does.
func FilterSnapshots(ctx context.Context, r *Repository, all []*model.Snapshot, args []string, f SnapshotFilter) ([]*model.Snapshot, error) {
	if len(args) == 0 {
		var out []*model.Snapshot
		for _, sn := range all {
			if f.Matches(sn) {
				out = append(out, sn)
			}
		}
		return out, nil
	}
	seen := make(model.IDSet)
	var out []*model.Snapshot
	for _, a := range args {
		sel, err := FindSnapshot(ctx, r, all, a, f)
		if err != nil {
			return nil, err
		}
		if !seen.Has(sel.Snapshot.ID) {
			seen.Insert(sel.Snapshot.ID)
			out = append(out, sel.Snapshot)
		}
	}
	return out, nil
}

// SubtreeID returns the ID of the tree at subfolder (a slash-separated
// path inside the snapshot) starting from root.
func (r *Repository) SubtreeID(ctx context.Context, root model.ID, subfolder string) (model.ID, error) {
	id := root
	for _, name := range strings.Split(strings.Trim(path.Clean("/"+subfolder), "/"), "/") {
		if name == "" {
			continue
		}
		t, err := r.LoadTree(ctx, id)
		if err != nil {
			return model.ID{}, err
		}
		n := t.Find(name)
		if n == nil {
			return model.ID{}, fmt.Errorf("path %q not found in snapshot", subfolder)
		}
		if n.Type != model.NodeTypeDir || n.Subtree == nil {
			return model.ID{}, fmt.Errorf("path %q is not a directory", subfolder)
		}
		id = *n.Subtree
	}
	return id, nil
}
