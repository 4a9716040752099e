package archiver

import (
	"bytes"
	"errors"
	"io"
	"net"
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

// TestFileModeAsOS: fileMode gives what os.Lstat gives for every kind of
// entry and for the setuid, setgid and sticky bits.
func TestFileModeAsOS(t *testing.T) {
	dir := t.TempDir()
	reg := filepath.Join(dir, "regular")
	if err := os.WriteFile(reg, nil, 0o640); err != nil {
		t.Fatal(err)
	}
	special := filepath.Join(dir, "special")
	if err := os.WriteFile(special, nil, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(special, 0o755|os.ModeSetuid|os.ModeSetgid); err != nil {
		t.Fatal(err)
	}
	sticky := filepath.Join(dir, "sticky")
	if err := os.Mkdir(sticky, 0o1777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(sticky, 0o777|os.ModeSticky); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(reg, link); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	paths := []string{reg, special, sticky, link, fifo, sock, dir, "/dev/null"}
	for _, p := range paths {
		fi, err := os.Lstat(p)
		if err != nil {
			t.Fatal(err)
		}
		var st syscall.Stat_t
		if err := syscall.Lstat(p, &st); err != nil {
			t.Fatal(err)
		}
		if got, want := fileMode(st.Mode), fi.Mode(); got != want {
			t.Errorf("%s: mode %v, os gives %v", p, got, want)
		}
	}
}

// TestFdFile: the bare descriptor reads the file to io.EOF, stats it as
// os.Stat does, and closes once.
func TestFdFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	content := bytes.Repeat([]byte("0123456789"), 1000)
	if err := os.WriteFile(p, content, 0o604); err != nil {
		t.Fatal(err)
	}
	f, err := openFile(p)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Name() != "f" || fi.Size() != want.Size() || fi.Mode() != want.Mode() || !fi.ModTime().Equal(want.ModTime()) || fi.IsDir() {
		t.Fatalf("stat %s %d %v %v, want %s %d %v %v", fi.Name(), fi.Size(), fi.Mode(), fi.ModTime(), want.Name(), want.Size(), want.Mode(), want.ModTime())
	}
	if got, want := fi.Sys().(*syscall.Stat_t).Ino, want.Sys().(*syscall.Stat_t).Ino; got != want {
		t.Fatalf("inode %d, want %d", got, want)
	}
	buf := make([]byte, 4096)
	var got []byte
	for {
		n, err := f.Read(buf)
		got = append(got, buf[:n]...)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			t.Fatal("a read of nothing before the end")
		}
	}
	if !bytes.Equal(got, content) {
		t.Fatalf("read %d bytes, want %d", len(got), len(content))
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); !errors.Is(err, os.ErrClosed) {
		t.Fatalf("second close: %v, want os.ErrClosed", err)
	}
}

// TestOpenFileDoesNotWaitForFIFO: a FIFO found where the walk saw a file
// opens at once (O_NONBLOCK) and reports its type, instead of blocking
// the backup until some process writes to it.
func TestOpenFileDoesNotWaitForFIFO(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "fifo")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	type opened struct {
		f   File
		err error
	}
	ch := make(chan opened, 1)
	go func() {
		f, err := openFile(fifo)
		ch <- opened{f, err}
	}()
	select {
	case o := <-ch:
		if o.err != nil {
			t.Fatal(o.err)
		}
		defer o.f.Close()
		fi, err := o.f.Stat()
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode()&os.ModeNamedPipe == 0 {
			t.Fatalf("mode %v, want a named pipe", fi.Mode())
		}
	case <-time.After(5 * time.Second):
		// let the blocked open return
		if w, err := os.OpenFile(fifo, os.O_WRONLY, 0); err == nil {
			w.Close()
		}
		t.Fatal("opening a FIFO waits for a writer")
	}
}
