package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReadThroughReadsEveryRegularFile(t *testing.T) {
	root := t.TempDir()
	files := map[string]int{"a": 0, "b/c": 3 << 20, "b/d/e": 12345}
	var want int64
	for name, size := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, make([]byte, size), 0o644); err != nil {
			t.Fatal(err)
		}
		want += int64(size)
	}
	// a symlink to a file is not followed (its target is read once)
	if err := os.Symlink(filepath.Join(root, "b", "c"), filepath.Join(root, "link")); err != nil {
		t.Fatal(err)
	}
	got, err := readThrough(root)
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Fatalf("read %d bytes, want %d", got, want)
	}
	if n, err := readThrough(filepath.Join(root, "missing")); err != nil || n != 0 {
		t.Fatalf("missing directory: %d bytes, %v; want 0, nil", n, err)
	}
}

func TestReadThroughReportsUnreadableFile(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root reads files without read permission")
	}
	root := t.TempDir()
	p := filepath.Join(root, "secret")
	if err := os.WriteFile(p, []byte("x"), 0o000); err != nil {
		t.Fatal(err)
	}
	_, err := readThrough(root)
	if err == nil || !strings.Contains(err.Error(), "page cache") {
		t.Fatalf("err = %v, want an error naming the page cache", err)
	}
}
