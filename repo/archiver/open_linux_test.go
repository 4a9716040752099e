package archiver

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func accessTime(t *testing.T, path string) time.Time {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	return time.Unix(st.Atim.Unix())
}

// readWith opens path with open, reads it to the end and closes it.
func readWith(t *testing.T, path string, open func(string) (File, error)) []byte {
	t.Helper()
	f, err := open(path)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return b
}

// TestOpenFileKeepsAccessTime: reading a file for a backup leaves its
// access time alone, as restic's O_NOATIME does, where a plain read on
// the same file system updates it.
func TestOpenFileKeepsAccessTime(t *testing.T) {
	dir := t.TempDir()
	old := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	content := []byte("content to back up\n")
	mk := func(name string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, content, 0o600); err != nil {
			t.Fatal(err)
		}
		// an access time before the modification time: even relatime
		// updates it on the next read
		if err := os.Chtimes(p, old, time.Now()); err != nil {
			t.Fatal(err)
		}
		return p
	}
	plain, backedUp := mk("plain"), mk("backed-up")

	readWith(t, plain, func(p string) (File, error) { return os.Open(p) })
	if accessTime(t, plain).Equal(old) {
		t.Skip("this file system does not update access times on read (noatime)")
	}
	if got := readWith(t, backedUp, openFile); !bytes.Equal(got, content) {
		t.Fatalf("read %q, want %q", got, content)
	}
	if got := accessTime(t, backedUp); !got.Equal(old) {
		t.Fatalf("access time after the backup's read: %v, want %v (unchanged)", got, old)
	}
}

// TestOpenFileRefusesSymlink: a symlink in a file's place is not followed.
func TestOpenFileRefusesSymlink(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "target")
	if err := os.WriteFile(target, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	f, err := openFile(link)
	if err == nil {
		f.Close()
		t.Fatal("opened a symlink")
	}
	var pe *os.PathError
	if !errors.As(err, &pe) || pe.Op != "open" || pe.Path != link || !errors.Is(err, syscall.ELOOP) {
		t.Fatalf("error %#v, want an open PathError for %s with ELOOP", err, link)
	}
}

// TestOpenFileFallsBack: without the right to O_NOATIME (a file of another
// user) the file is opened without it; EINTR is retried; other errors are
// reported as os.Open reports them.
func TestOpenFileFallsBack(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	if err := os.WriteFile(p, []byte("data"), 0o600); err != nil {
		t.Fatal(err)
	}
	var calls []int
	interrupted := false
	open := func(path string, flags int, mode uint32) (int, error) {
		calls = append(calls, flags)
		if !interrupted {
			interrupted = true
			return -1, unix.EINTR
		}
		if flags&unix.O_NOATIME != 0 {
			return -1, unix.EPERM
		}
		return unix.Open(path, flags, mode)
	}
	got := readWith(t, p, func(path string) (File, error) { return openFileWith(path, open) })
	if string(got) != "data" {
		t.Fatalf("read %q", got)
	}
	want := []int{openFlags, openFlags, openFlags &^ unix.O_NOATIME}
	if len(calls) != len(want) {
		t.Fatalf("open flags %x, want %x", calls, want)
	}
	for i := range want {
		if calls[i] != want[i] {
			t.Fatalf("open flags %x, want %x", calls, want)
		}
	}
	if calls[2]&unix.O_NOFOLLOW == 0 {
		t.Fatal("the retry follows symlinks")
	}

	_, err := openFile(filepath.Join(dir, "missing"))
	_, osErr := os.Open(filepath.Join(dir, "missing"))
	if err == nil || err.Error() != osErr.Error() || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file: %v, want %v", err, osErr)
	}
}
