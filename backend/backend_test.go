package backend

import (
	"errors"
	"io/fs"
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
