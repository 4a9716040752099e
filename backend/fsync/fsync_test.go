package fsync_test

import (
	"errors"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"

	"github.com/arca-backup/arca/backend/fsync"
)

func TestFileSyncsFilesAndDirectories(t *testing.T) {
	dir := t.TempDir()
	f, err := os.Create(filepath.Join(dir, "file"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write([]byte("some bytes to commit")); err != nil {
		t.Fatal(err)
	}
	if err := fsync.File(f); err != nil {
		t.Fatalf("sync of a regular file: %v", err)
	}
	d, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := fsync.File(d); err != nil {
		t.Fatalf("sync of a directory: %v", err)
	}
}

// A pipe cannot be synced: the error must come back as fsync's own
// (EINVAL), whichever way the sync was made.
func TestFileReportsTheSyncError(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	want := w.Sync()
	if want == nil {
		t.Skip("this system syncs pipes")
	}
	err = fsync.File(w)
	if err == nil {
		t.Fatal("sync of a pipe succeeded")
	}
	var errno syscall.Errno
	if !errors.As(want, &errno) || !errors.Is(err, errno) {
		t.Fatalf("sync of a pipe: %v, want the error of (*os.File).Sync: %v", err, want)
	}
}

func TestFileConcurrently(t *testing.T) {
	dir := t.TempDir()
	var wg sync.WaitGroup
	errs := make([]error, 16)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f, err := os.Create(filepath.Join(dir, string(rune('a'+i))))
			if err != nil {
				errs[i] = err
				return
			}
			defer f.Close()
			for range 5 {
				if _, err := f.Write(make([]byte, 64<<10)); err != nil {
					errs[i] = err
					return
				}
				if err := fsync.File(f); err != nil {
					errs[i] = err
					return
				}
			}
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("goroutine %d: %v", i, err)
		}
	}
}
