package engine_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/arca-backup/arca/crypto"
	"github.com/arca-backup/arca/repo"
	"github.com/arca-backup/arca/repo/engine"
	"github.com/arca-backup/arca/repo/forget"
	"github.com/arca-backup/arca/repo/prune"
)

// This example creates a repository, backs up a directory, lists the
// snapshot and restores it.
func Example() {
	ctx := context.Background()
	tmp, err := os.MkdirTemp("", "arca-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	src := filepath.Join(tmp, "documents")
	os.MkdirAll(filepath.Join(src, "letters"), 0o755)
	os.WriteFile(filepath.Join(src, "letters", "hello.txt"), []byte("Hello, world!\n"), 0o644)
	os.WriteFile(filepath.Join(src, "notes.txt"), []byte("remember the milk\n"), 0o644)

	// a new repository; Open would open an existing one
	r, err := engine.Init(ctx, filepath.Join(tmp, "repo"), engine.InitOptions{
		Options: engine.Options{Password: "secret"},
		// cheap key derivation for the example; leave Create zero in real use
		Create: repo.CreateOptions{KDFParams: &crypto.Params{N: 1024, R: 8, P: 1}},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()

	res, err := r.Backup(ctx, []string{src}, engine.BackupOptions{Tags: []string{"example"}})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("backup: %d new files, snapshot saved: %v\n", res.Summary.Files.New, !res.SnapshotID.IsNull())

	err = r.List(ctx, "latest", func(e engine.Entry) error {
		if rel, ok := strings.CutPrefix(e.Path, filepath.ToSlash(src)); ok && rel != "" {
			fmt.Printf("%-4s %s\n", e.Node.Type, rel)
		}
		return nil
	})
	if err != nil {
		log.Fatal(err)
	}

	dst := filepath.Join(tmp, "restored")
	if _, err := r.Restore(ctx, "latest", dst, engine.RestoreOptions{}); err != nil {
		log.Fatal(err)
	}
	data, _ := os.ReadFile(filepath.Join(dst, src, "letters", "hello.txt"))
	fmt.Printf("restored: %s", data)
	// Output:
	// backup: 2 new files, snapshot saved: true
	// dir  /letters
	// file /letters/hello.txt
	// file /notes.txt
	// restored: Hello, world!
}

// Opening a repository that is not there, or with the wrong password,
// gives errors a program can tell apart.
func ExampleOpen_errors() {
	ctx := context.Background()
	_, err := engine.Open(ctx, "/nonexistent/repository", engine.Options{Password: "secret"})
	switch {
	case errors.Is(err, engine.ErrNoRepository):
		fmt.Println("no repository there")
	case errors.Is(err, engine.ErrWrongPassword):
		fmt.Println("wrong password")
	case engine.IsLocked(err):
		fmt.Println("locked")
	}
	// Output:
	// no repository there
}

// Backup reports progress as typed events.
func ExampleRepository_Backup_progress() {
	ctx := context.Background()
	tmp, _ := os.MkdirTemp("", "arca-example-")
	defer os.RemoveAll(tmp)
	src := filepath.Join(tmp, "src")
	os.MkdirAll(src, 0o755)
	os.WriteFile(filepath.Join(src, "a.txt"), []byte("some content\n"), 0o644)
	r, err := engine.Init(ctx, filepath.Join(tmp, "repo"), engine.InitOptions{
		Options: engine.Options{Password: "secret"},
		Create:  repo.CreateOptions{KDFParams: &crypto.Params{N: 1024, R: 8, P: 1}},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()

	_, err = r.Backup(ctx, []string{src}, engine.BackupOptions{
		NoScan: true,
		Events: func(ev engine.BackupEvent) {
			switch ev := ev.(type) {
			case engine.BackupParent:
				fmt.Println("parent:", ev.Snapshot != nil)
			case engine.BackupItemDone:
				if ev.Current != nil && ev.Current.Type == "file" {
					fmt.Printf("saved %s (%d bytes)\n", filepath.Base(ev.Item), ev.Current.Size)
				}
			case engine.BackupItemError:
				fmt.Println("cannot read", ev.Item, ev.Err)
			}
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	// Output:
	// parent: false
	// saved a.txt (13 bytes)
}

// Forget applies a retention policy; Prune then removes the data that only
// the forgotten snapshots used.
func ExampleRepository_Forget() {
	ctx := context.Background()
	tmp, _ := os.MkdirTemp("", "arca-example-")
	defer os.RemoveAll(tmp)
	src := filepath.Join(tmp, "src")
	os.MkdirAll(src, 0o755)
	r, err := engine.Init(ctx, filepath.Join(tmp, "repo"), engine.InitOptions{
		Options: engine.Options{Password: "secret"},
		Create:  repo.CreateOptions{KDFParams: &crypto.Params{N: 1024, R: 8, P: 1}},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()

	// one backup a day for five days
	day := time.Date(2026, 3, 1, 22, 0, 0, 0, time.UTC)
	for i := range 5 {
		os.WriteFile(filepath.Join(src, "log.txt"), []byte(strings.Repeat("day ", i+1)), 0o644)
		if _, err := r.Backup(ctx, []string{src}, engine.BackupOptions{Time: day.AddDate(0, 0, i)}); err != nil {
			log.Fatal(err)
		}
	}

	res, err := r.Forget(ctx, engine.ForgetOptions{Policy: forget.Policy{Last: 2}})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("removed", len(res.Removed), "snapshots")
	for _, k := range res.Groups[0].Keep {
		fmt.Println("kept", k.Time.Format(time.DateOnly))
	}
	stats, err := r.Prune(ctx, prune.DefaultOptions(), nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("blobs removed:", stats.PruneBlobs() > 0)
	// Output:
	// removed 3 snapshots
	// kept 2026-03-05
	// kept 2026-03-04
	// blobs removed: true
}
