package engine_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"

	"github.com/arca-backup/arca/crypto"
	"github.com/arca-backup/arca/repo"
	"github.com/arca-backup/arca/repo/engine"
	"github.com/arca-backup/arca/repo/model"
)

// Read does several reads under one lock: here it picks the snapshot with
// a tag from the loaded list, finds a directory in it, lists that
// directory's tree and prints a file's content by its blob ID.
func ExampleRepository_Read() {
	ctx := context.Background()
	tmp, err := os.MkdirTemp("", "arca-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	src := filepath.Join(tmp, "src")
	os.MkdirAll(filepath.Join(src, "docs"), 0o755)
	os.WriteFile(filepath.Join(src, "docs", "a.txt"), []byte("first\n"), 0o644)

	r, err := engine.Init(ctx, filepath.Join(tmp, "repo"), engine.InitOptions{
		Options: engine.Options{Password: "secret"},
		Create:  repo.CreateOptions{KDFParams: &crypto.Params{N: 1024, R: 8, P: 1}},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()
	if _, err := r.Backup(ctx, []string{src}, engine.BackupOptions{Tags: []string{"keep"}}); err != nil {
		log.Fatal(err)
	}

	err = r.Read(ctx, func(ctx context.Context, rd *engine.Reader) error {
		all, err := rd.Snapshots(ctx, nil)
		if err != nil {
			return err
		}
		var chosen *model.Snapshot
		for _, sn := range all {
			if len(sn.Tags) > 0 && sn.Tags[0] == "keep" {
				chosen = sn
			}
		}
		dir, err := rd.Subtree(ctx, *chosen.Tree, strings.TrimPrefix(filepath.ToSlash(src), "/")+"/docs")
		if err != nil {
			return err
		}
		buf, err := rd.Tree(ctx, dir)
		if err != nil {
			return err
		}
		fmt.Println("tree of docs names a.txt:", strings.Contains(string(buf), `"name":"a.txt"`))
		data, typ, err := rd.Blob(ctx, model.Hash([]byte("first\n")))
		if err != nil {
			return err
		}
		fmt.Printf("%v blob: %s", typ, data)
		return nil
	})
	if err != nil {
		log.Fatal(err)
	}
	// Output:
	// tree of docs names a.txt: true
	// data blob: first
}
