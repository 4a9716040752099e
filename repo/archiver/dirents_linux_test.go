package archiver

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// TestReadDirMatchesOS: readDir lists what os.File.ReadDir lists, sorted
// by name, with regular files marked as such, over more entries than one
// getdents call returns.
func TestReadDirMatchesOS(t *testing.T) {
	dir := t.TempDir()
	for i := range 1500 {
		name := fmt.Sprintf("%s-%04d", strings.Repeat("long-name", 1+i%5), 1499-i)
		if err := os.WriteFile(filepath.Join(dir, name), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"sub", "ümlaut dir"} {
		if err := os.Mkdir(filepath.Join(dir, name), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("sub", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, "long-name-1499")); err != nil { // a gap in the directory
		t.Fatal(err)
	}

	want, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	d, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	got, err := readDir(d)
	if err != nil {
		t.Fatal(err)
	}
	if got.len() != len(want) {
		t.Fatalf("%d entries, want %d", got.len(), len(want))
	}
	for i, e := range want { // os.ReadDir sorts by name
		if got.name(i) != e.Name() || got.regular(i) != e.Type().IsRegular() {
			t.Errorf("entry %d: %q (regular %v), want %q (regular %v)", i, got.name(i), got.regular(i), e.Name(), e.Type().IsRegular())
		}
	}
	if !slices.IsSortedFunc(got.entries, func(x, y dirEntry) int {
		return strings.Compare(got.names[x.start:x.end], got.names[y.start:y.end])
	}) {
		t.Error("entries not sorted")
	}
}

// TestParseDirents: records of deleted entries, "." and ".." are skipped,
// a name ends at its NUL byte, and a broken record length is an error.
func TestParseDirents(t *testing.T) {
	record := func(ino uint64, typ byte, name string, reclen int) []byte {
		b := make([]byte, reclen)
		binary.NativeEndian.PutUint64(b[0:], ino)
		binary.NativeEndian.PutUint16(b[16:], uint16(reclen))
		b[18] = typ
		copy(b[19:], name) // the rest stays NUL
		return b
	}
	var buf []byte
	for _, r := range [][]byte{
		record(1, unix.DT_DIR, ".", 24), record(1, unix.DT_DIR, "..", 24),
		record(5, unix.DT_REG, "file", 32), record(0, unix.DT_REG, "deleted", 32),
		record(6, unix.DT_UNKNOWN, "unknown", 32), record(7, unix.DT_DIR, "dir", 24),
	} {
		buf = append(buf, r...)
	}
	var l dirListing
	if err := parseDirents(buf, &l); err != nil {
		t.Fatal(err)
	}
	d := l.sorted()
	var got []string
	for i := range d.len() {
		got = append(got, fmt.Sprintf("%s %v", d.name(i), d.regular(i)))
	}
	if want := []string{"dir false", "file true", "unknown false"}; !slices.Equal(got, want) {
		t.Errorf("entries %q, want %q", got, want)
	}
	bad := record(5, unix.DT_REG, "file", 32)
	binary.NativeEndian.PutUint16(bad[16:], 40)
	if err := parseDirents(bad, &l); err == nil {
		t.Error("record longer than the buffer accepted")
	}
	if err := parseDirents(bad[:10], &l); err == nil {
		t.Error("short record accepted")
	}
}
