package main

import (
	"io"
	"strings"

	"github.com/arca-backup/arca/repo"
)

// groupByFlag is the --group-by flag value (snapshots, forget).
type groupByFlag struct{ repo.GroupBy }

func (g *groupByFlag) String() string { return g.GroupBy.String() }

func (g *groupByFlag) Set(s string) error {
	v, err := repo.ParseGroupBy(s)
	if err != nil {
		return err
	}
	g.GroupBy = v
	return nil
}

func (g *groupByFlag) Type() string { return "group" }

// groupHeader is the line restic prints above a group of snapshots, e.g.
// "snapshots for (host [h], tags [a, b], paths [/p]):". It is empty when the
// key names nothing.
func groupHeader(k repo.GroupKey) string {
	if k.Empty() {
		return ""
	}
	var info []string
	if k.Hostname != "" {
		info = append(info, "host ["+k.Hostname+"]")
	}
	if k.Tags != nil {
		info = append(info, "tags ["+strings.Join(k.Tags, ", ")+"]")
	}
	if k.Paths != nil {
		info = append(info, "paths ["+strings.Join(k.Paths, ", ")+"]")
	}
	return "snapshots for (" + strings.Join(info, ", ") + "):\n"
}

// writeGroupHeader prints groupHeader(k).
func writeGroupHeader(w io.Writer, k repo.GroupKey) error {
	_, err := io.WriteString(w, groupHeader(k))
	return err
}
