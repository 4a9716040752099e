package repo

// Snapshot grouping: restic's --group-by (snapshots, forget) puts snapshots
// with the same host, path set and/or tag set together, and --latest keeps
// the newest few of each group. The rules here reproduce restic's, including
// the way it normalises paths and tags (sorted) before showing them.

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/arca-backup/arca/repo/model"
)

// GroupBy selects the snapshot fields that form a group.
type GroupBy struct {
	Host  bool
	Paths bool
	Tags  bool
}

// ParseGroupBy parses a --group-by value: a comma-separated list of host(s),
// path(s) and tag(s); empty elements are ignored.
func ParseGroupBy(s string) (GroupBy, error) {
	var g GroupBy
	for _, part := range strings.Split(s, ",") {
		switch part {
		case "host", "hosts":
			g.Host = true
		case "path", "paths":
			g.Paths = true
		case "tag", "tags":
			g.Tags = true
		case "":
		default:
			return GroupBy{}, fmt.Errorf("unknown grouping option: %q", part)
		}
	}
	return g, nil
}

// String returns the canonical form ("host,paths,tags" or a subset).
func (g GroupBy) String() string {
	var parts []string
	if g.Host {
		parts = append(parts, "host")
	}
	if g.Paths {
		parts = append(parts, "paths")
	}
	if g.Tags {
		parts = append(parts, "tags")
	}
	return strings.Join(parts, ",")
}

// Any reports whether any grouping field is selected.
func (g GroupBy) Any() bool { return g.Host || g.Paths || g.Tags }

// GroupKey identifies a group. Fields that are not grouped on are empty
// (nil slices), and its JSON form is restic's "group_key".
type GroupKey struct {
	Hostname string   `json:"hostname"`
	Paths    []string `json:"paths"`
	Tags     []string `json:"tags"`
}

// Empty reports whether the key names nothing (no grouping, or only empty
// values were grouped on).
func (k GroupKey) Empty() bool {
	return k.Hostname == "" && k.Paths == nil && k.Tags == nil
}

// String describes the key as restic's forget does ("host h, path [p], tags [t]").
func (k GroupKey) String() string {
	var parts []string
	if k.Hostname != "" {
		parts = append(parts, fmt.Sprintf("host %v", k.Hostname))
	}
	if len(k.Paths) != 0 {
		parts = append(parts, fmt.Sprintf("path %v", k.Paths))
	}
	if len(k.Tags) != 0 {
		parts = append(parts, fmt.Sprintf("tags %v", k.Tags))
	}
	return strings.Join(parts, ", ")
}

// SnapshotGroup is one group of snapshots.
type SnapshotGroup struct {
	Key       GroupKey
	Snapshots []*model.Snapshot
}

// GroupSnapshots groups list by the fields in by. Without any field there
// is one group (with an empty key) holding everything; an empty list gives
// no group at all. Groups are ordered by the JSON encoding of their keys;
// inside a group the input order is kept.
//
// As restic does, the snapshots in the result show their paths sorted, and
// their tags sorted when grouping by tags. The returned snapshots are
// shallow copies carrying those sorted slices; the input is not modified.
func GroupSnapshots(list []*model.Snapshot, by GroupBy) []SnapshotGroup {
	index := map[string]int{}
	var groups []SnapshotGroup
	var keys []string
	for _, orig := range list {
		sn := *orig
		sn.Paths = slices.Clone(orig.Paths)
		sort.Strings(sn.Paths)
		var key GroupKey
		if by.Tags {
			sn.Tags = slices.Clone(orig.Tags)
			sort.Strings(sn.Tags)
			key.Tags = sn.Tags
		}
		if by.Host {
			key.Hostname = sn.Hostname
		}
		if by.Paths {
			key.Paths = sn.Paths
		}
		buf, err := json.Marshal(key)
		if err != nil {
			panic(err) // strings and string slices always encode
		}
		k := string(buf)
		i, ok := index[k]
		if !ok {
			i = len(groups)
			index[k] = i
			groups = append(groups, SnapshotGroup{Key: key})
			keys = append(keys, k)
		}
		groups[i].Snapshots = append(groups[i].Snapshots, &sn)
	}
	order := make([]int, len(groups))
	for i := range order {
		order[i] = i
	}
	sort.Slice(order, func(a, b int) bool { return keys[order[a]] < keys[order[b]] })
	out := make([]SnapshotGroup, len(groups))
	for i, j := range order {
		out[i] = groups[j]
	}
	return out
}

// sortNewestFirst sorts by time, newest first, ties broken by ID.
func sortNewestFirst(list []*model.Snapshot) {
	sort.SliceStable(list, func(i, j int) bool {
		if !list[i].Time.Equal(list[j].Time) {
			return list[i].Time.After(list[j].Time)
		}
		return list[i].ID.String() < list[j].ID.String()
	})
}

// LatestPerHostAndPaths returns at most n of the newest snapshots for each
// combination of host name and path set (restic's snapshots --latest
// without --group-by), newest first. list is not modified.
func LatestPerHostAndPaths(list []*model.Snapshot, n int) []*model.Snapshot {
	sorted := slices.Clone(list)
	sortNewestFirst(sorted)
	type hostPaths struct{ host, paths string }
	seen := map[hostPaths]int{}
	var out []*model.Snapshot
	for _, sn := range sorted {
		paths := slices.Clone(sn.Paths)
		sort.Strings(paths)
		k := hostPaths{sn.Hostname, strings.Join(paths, "|")}
		if seen[k] < n {
			seen[k]++
			out = append(out, sn)
		}
	}
	return out
}

// Newest returns the n newest snapshots of list, newest first (restic's
// snapshots --latest inside a group). list is not modified.
func Newest(list []*model.Snapshot, n int) []*model.Snapshot {
	sorted := slices.Clone(list)
	sortNewestFirst(sorted)
	return sorted[:min(max(n, 0), len(sorted))]
}
