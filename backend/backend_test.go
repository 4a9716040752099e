package backend

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

func TestNotExist(t *testing.T) {
	if NotExist(nil) != nil {
		t.Fatal("NotExist(nil) != nil")
	}
	orig := &fs.PathError{Op: "open", Path: "/repo/keys/ab", Err: fs.ErrNotExist}
	err := NotExist(orig)
	if !errors.Is(err, ErrNotExist) || !errors.Is(err, fs.ErrNotExist) || !IsNotExist(err) || !IsPermanent(err) {
		t.Errorf("NotExist(%v) does not match ErrNotExist and its cause", orig)
	}
	if err.Error() != orig.Error() {
		t.Errorf("message %q, want %q", err, orig)
	}
}

func TestHandlePath(t *testing.T) {
	id := "4e54d2c721cbdb730f01b10b62dec622962b36966ec685880effa63d71c808f2"
	for h, want := range map[Handle]string{
		{Type: ConfigFile, Name: "x"}:  "config",
		{Type: PackFile, Name: id}:     "data/4e/" + id,
		{Type: KeyFile, Name: id}:      "keys/" + id,
		{Type: LockFile, Name: id}:     "locks/" + id,
		{Type: SnapshotFile, Name: id}: "snapshots/" + id,
		{Type: IndexFile, Name: id}:    "index/" + id,
	} {
		if got := h.Path(); got != want {
			t.Errorf("%v.Path() = %q, want %q", h, got, want)
		}
	}
}

// readAll reads files whole (also one rewritten after it was opened) and
// other readers as io.ReadAll does.
func TestReadAll(t *testing.T) {
	dir := t.TempDir()
	for _, size := range []int{0, 1, 511, 512, 4096, 100_000} {
		want := bytes.Repeat([]byte{'x', 'y', 'z'}, size)[:size]
		name := filepath.Join(dir, "f")
		if err := os.WriteFile(name, want, 0o600); err != nil {
			t.Fatal(err)
		}
		f, err := os.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		grown := append(want, "more"...)
		if err := os.WriteFile(name, grown, 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := readAll(f)
		f.Close()
		if err != nil || !bytes.Equal(got, grown) {
			t.Fatalf("size %d: read %d bytes (%v), want %d", size, len(got), err, len(grown))
		}
		got, err = readAll(bytes.NewReader(want))
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("size %d from a bytes.Reader: %d bytes, %v", size, len(got), err)
		}
	}
}
