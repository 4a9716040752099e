package main

import (
	"fmt"
	"os"
	"time"

	"github.com/arca-backup/arca/repo"
	"github.com/spf13/pflag"
)

// snapshotFilterOptions are the --host, --tag and --path flags.
type snapshotFilterOptions struct {
	Hosts []string
	Tags  []string
	Paths []string
}

// addMulti adds the flags for commands working on many snapshots.
func (f *snapshotFilterOptions) addMulti(flags *pflag.FlagSet, hostShorthand bool) {
	sh := ""
	if hostShorthand {
		sh = "H"
	}
	flags.StringArrayVarP(&f.Hosts, "host", sh, nil, "only consider snapshots for this `host` (can be specified multiple times, use empty string to unset default value) (default: $RESTIC_HOST)")
	flags.Var(tagListsValue{&f.Tags}, "tag", "only consider snapshots including `tag[,tag,...]` (can be specified multiple times)")
	flags.StringArrayVar(&f.Paths, "path", nil, "only consider snapshots including this (absolute) `path` (can be specified multiple times, snapshots must include all specified paths)")
}

// addSingle adds the flags for commands working on one snapshot ("latest").
func (f *snapshotFilterOptions) addSingle(flags *pflag.FlagSet) {
	flags.StringArrayVarP(&f.Hosts, "host", "H", nil, "only consider snapshots for this `host`, when snapshot ID \"latest\" is given (can be specified multiple times, use empty string to unset default value) (default: $RESTIC_HOST)")
	flags.Var(tagListsValue{&f.Tags}, "tag", "only consider snapshots including `tag[,tag,...]`, when snapshot ID \"latest\" is given (can be specified multiple times)")
	flags.StringArrayVar(&f.Paths, "path", nil, "only consider snapshots including this (absolute) `path`, when snapshot ID \"latest\" is given (can be specified multiple times, snapshots must include all specified paths)")
}

// tagListsValue is the filters' --tag: repeatable, each value a
// comma-separated list, kept as given until filter parses it. A flag type
// of its own, not pflag's string array, makes the help show restic's
// "(default [])".
type tagListsValue struct{ lists *[]string }

func (v tagListsValue) String() string { return fmt.Sprint(repo.ParseTagLists(*v.lists)) }

func (v tagListsValue) Set(s string) error {
	*v.lists = append(*v.lists, s)
	return nil
}

func (tagListsValue) Type() string { return "TagLists" }

// filter returns the engine filter, applying RESTIC_HOST when --host was
// not given and dropping an explicit empty --host.
func (f *snapshotFilterOptions) filter() repo.SnapshotFilter {
	hosts := f.Hosts
	if hosts == nil {
		if h := os.Getenv("RESTIC_HOST"); h != "" {
			hosts = []string{h}
		}
	}
	if len(hosts) == 1 && hosts[0] == "" {
		hosts = nil
	}
	return repo.SnapshotFilter{Hosts: hosts, Tags: repo.ParseTagLists(f.Tags), Paths: f.Paths}
}

// envIndexInterval overrides how long stored packs may wait for an index
// file (a Go duration), for tests and for users who want interrupted
// backups to leave more reusable data behind.
const envIndexInterval = "ARCA_INDEX_INTERVAL"

// writeOptions returns the pack writer settings from the global flags.
func (a *app) writeOptions() (repo.WriteOptions, error) {
	comp, err := repo.ParseCompression(a.opts.Compression)
	if err != nil {
		return repo.WriteOptions{}, fatalf("%v", err)
	}
	o := repo.WriteOptions{Compression: comp, PackSize: int(a.opts.PackSize) << 20, NoExtraVerify: a.opts.NoExtraVerify}
	if s := os.Getenv(envIndexInterval); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			return o, fatalf("invalid %s %q: want a positive duration such as 30s", envIndexInterval, s)
		}
		o.IndexInterval = d
	}
	return o, nil
}
