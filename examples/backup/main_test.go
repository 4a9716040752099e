package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

func TestRunBacksUpListsAndRestores(t *testing.T) {
	tmp := t.TempDir()
	src := filepath.Join(tmp, "src")
	if err := os.MkdirAll(filepath.Join(src, "d"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "d", "x"), []byte("content\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("RESTIC_PASSWORD", "pw")
	loc, out := filepath.Join(tmp, "repo"), filepath.Join(tmp, "out")
	// twice: the first run creates the repository, the second opens it
	for range 2 {
		if err := run(context.Background(), loc, out, []string{src}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(filepath.Join(out, src, "d", "x"))
	if err != nil || string(got) != "content\n" {
		t.Fatalf("restored file: %q, %v", got, err)
	}
	snaps, err := os.ReadDir(filepath.Join(loc, "snapshots"))
	if err != nil || len(snaps) != 2 {
		t.Fatalf("snapshots: %d, %v", len(snaps), err)
	}
}
