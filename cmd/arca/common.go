package main

import (
	"context"
	"os"
	"time"

	"github.com/arca-backup/arca/repo"
	"github.com/arca-backup/arca/repo/model"
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
	flags.StringArrayVar(&f.Tags, "tag", nil, "only consider snapshots including `tag[,tag,...]` (can be specified multiple times)")
	flags.StringArrayVar(&f.Paths, "path", nil, "only consider snapshots including this (absolute) `path` (can be specified multiple times, snapshots must include all specified paths)")
}

// addSingle adds the flags for commands working on one snapshot ("latest").
func (f *snapshotFilterOptions) addSingle(flags *pflag.FlagSet) {
	flags.StringArrayVarP(&f.Hosts, "host", "H", nil, "only consider snapshots for this `host`, when snapshot ID \"latest\" is given (can be specified multiple times, use empty string to unset default value) (default: $RESTIC_HOST)")
	flags.StringArrayVar(&f.Tags, "tag", nil, "only consider snapshots including `tag[,tag,...]`, when snapshot ID \"latest\" is given (can be specified multiple times)")
	flags.StringArrayVar(&f.Paths, "path", nil, "only consider snapshots including this (absolute) `path`, when snapshot ID \"latest\" is given (can be specified multiple times, snapshots must include all specified paths)")
}

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

// session is an open repository for one command, with its lock.
type session struct {
	repo *repo.Repository
	ctx  context.Context // cancelled when the lock is lost
	done func()
	// confirm waits for the lock of a session opened early
	// (openSessionEarly) and returns its error; nil for openSession.
	confirm func() error
}

// lockMode is the kind of lock a command takes.
type lockMode int

const (
	lockNone lockMode = iota
	lockShared
	lockExclusive
	// lockAppend is a shared lock that --no-lock does not skip: restic
	// takes it for commands that add to a repository (backup, key add,
	// copy's destination). Exclusive locks are not skipped either.
	lockAppend
)

// openSession opens the repository and takes the lock the command needs
// (none with --no-lock where restic allows it). The returned session's
// context is cancelled when the lock is lost; call done when finished.
func (a *app) openSession(ctx context.Context, mode lockMode) (*session, error) {
	r, err := a.openRepository(ctx)
	if err != nil {
		return nil, err
	}
	s := &session{repo: r, ctx: ctx, confirm: func() error { return nil }}
	release, lctx, err := a.lockRepository(ctx, r, mode)
	if err != nil {
		r.Close()
		r.Backend().Close()
		return nil, err
	}
	s.ctx = lctx
	s.done = func() {
		release()
		r.Close()
		r.Backend().Close()
	}
	return s, nil
}

// loadSnapshots loads all snapshots, warning about ones that cannot be read.
func (a *app) loadSnapshots(ctx context.Context, r *repo.Repository) ([]*model.Snapshot, error) {
	return r.Snapshots(ctx, func(id model.ID, err error) error {
		a.warnf("could not load snapshot %v: %v\n", id.Str(), err)
		return nil
	})
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
