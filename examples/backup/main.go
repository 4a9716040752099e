// Command backup shows arca's engine API from a program's point of view:
// it backs up a directory into a repository (created when missing), lists
// the new snapshot and restores it, using only package engine.
//
//	go run ./examples/backup -repo /tmp/repo -restore-to /tmp/out ~/Documents
//
// The password comes from $RESTIC_PASSWORD. Any location restic takes
// works: a directory, sftp:, s3:, rest:.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"sync/atomic"

	"github.com/arca-backup/arca/repo/engine"
)

func main() {
	repoLoc := flag.String("repo", "", "repository `location`")
	restoreTo := flag.String("restore-to", "", "restore the snapshot into this `directory` (empty: no restore)")
	flag.Parse()
	if *repoLoc == "" || flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: backup -repo LOCATION [-restore-to DIR] PATH...")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, *repoLoc, *restoreTo, flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, loc, restoreTo string, paths []string) error {
	opts := engine.Options{Password: os.Getenv("RESTIC_PASSWORD")}
	r, err := engine.Open(ctx, loc, opts)
	if errors.Is(err, engine.ErrNoRepository) {
		fmt.Println("creating a new repository at", loc)
		r, err = engine.Init(ctx, loc, engine.InitOptions{Options: opts})
	}
	if err != nil {
		return err
	}
	defer r.Close()

	// back up, counting what is done as it happens
	var files, bytes atomic.Uint64
	res, err := r.Backup(ctx, paths, engine.BackupOptions{
		Events: func(ev engine.BackupEvent) {
			switch ev := ev.(type) {
			case engine.BackupParent:
				if ev.Snapshot != nil {
					fmt.Println("parent snapshot", ev.Snapshot.ID.Str())
				}
			case engine.BackupBytes:
				bytes.Add(ev.Bytes)
			case engine.BackupItemDone:
				if ev.Current != nil && ev.Current.Type == "file" {
					files.Add(1)
				}
			case engine.BackupItemError:
				fmt.Fprintln(os.Stderr, "skipped:", ev.Item, ev.Err)
			}
		},
	})
	if err != nil {
		return err
	}
	s := res.Summary
	fmt.Printf("snapshot %s: %d files (%d new, %d changed, %d unchanged), %d bytes read, %d bytes added\n",
		res.SnapshotID.Str(), files.Load(), s.Files.New, s.Files.Changed, s.Files.Unchanged, bytes.Load(), s.DataSizeInRepo+s.TreeSizeInRepo)

	// list it
	err = r.List(ctx, res.SnapshotID.String(), func(e engine.Entry) error {
		fmt.Printf("%-8s %10d  %s\n", e.Node.Type, e.Node.Size, e.Path)
		return nil
	})
	if err != nil {
		return err
	}
	if restoreTo == "" {
		return nil
	}
	out, err := r.Restore(ctx, res.SnapshotID.String(), restoreTo, engine.RestoreOptions{Verify: true})
	if err != nil {
		return err
	}
	fmt.Printf("restored %d items (%d bytes) to %s, %d files verified\n", out.State.FilesFinished, out.State.BytesWritten, restoreTo, out.FilesVerified)
	return nil
}
