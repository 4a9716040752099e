package fsnode

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestXattrsThroughDescriptor: an open file's extended attributes read
// through its descriptor are the ones read by its path, in the same
// order, including a list and a value longer than the first buffers (the
// ERANGE retries); a file without any has none either way.
func TestXattrsThroughDescriptor(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	if err := os.WriteFile(p, []byte("content"), 0o600); err != nil {
		t.Fatal(err)
	}
	bare := filepath.Join(dir, "bare")
	if err := os.WriteFile(bare, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	long := bytes.Repeat([]byte("value "), 100) // 600 bytes
	if err := unix.Lsetxattr(p, "user.long", long, 0); err != nil {
		if errors.Is(err, unix.ENOTSUP) {
			t.Skip("no user extended attributes on this file system")
		}
		t.Fatal(err)
	}
	for i := range 12 { // names over 256 bytes in all
		name := fmt.Sprintf("user.attribute-with-a-long-name-%02d", i)
		if err := unix.Lsetxattr(p, name, []byte{byte(i)}, 0); err != nil {
			t.Fatal(err)
		}
	}

	for _, path := range []string{p, bare} {
		byPath, err := xattrSource{path: path, fd: -1}.read(false)
		if err != nil {
			t.Fatal(err)
		}
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		byFD, err := xattrSource{path: path, fd: int(f.Fd())}.read(false)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		want := 0
		if path == p {
			want = 13
		}
		if len(byPath) != want || len(byFD) != want {
			t.Fatalf("%s: %d attributes by path, %d through the descriptor, want %d", path, len(byPath), len(byFD), want)
		}
		for i := range byPath {
			if byPath[i].Name != byFD[i].Name || !bytes.Equal(byPath[i].Value, byFD[i].Value) {
				t.Fatalf("attribute %d: %q=%.20q by path, %q=%.20q through the descriptor", i, byPath[i].Name, byPath[i].Value, byFD[i].Name, byFD[i].Value)
			}
			if byPath[i].Name == "user.long" && !bytes.Equal(byPath[i].Value, long) {
				t.Fatalf("user.long has %d bytes, want %d", len(byPath[i].Value), len(long))
			}
		}
	}
}

// TestFromOpenFileReadsTheOpenFile: FromOpenFile takes the attributes of
// the file it has open, not of whatever its path names now.
func TestFromOpenFileReadsTheOpenFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	if err := os.WriteFile(p, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := unix.Lsetxattr(p, "user.which", []byte("opened"), 0); err != nil {
		if errors.Is(err, unix.ENOTSUP) {
			t.Skip("no user extended attributes on this file system")
		}
		t.Fatal(err)
	}
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	// replace the path by another file
	repl := filepath.Join(dir, "new")
	if err := os.WriteFile(repl, []byte("new"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := unix.Lsetxattr(repl, "user.which", []byte("replacement"), 0); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(repl, p); err != nil {
		t.Fatal(err)
	}

	n, err := FromOpenFile(int(f.Fd()), p, "f", StatOf(fi), NewNames(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(n.ExtendedAttributes) != 1 || string(n.ExtendedAttributes[0].Value) != "opened" {
		t.Fatalf("attributes %v, want user.which=opened", n.ExtendedAttributes)
	}
	if n.Size != 3 || n.Name != "f" || n.Path != p {
		t.Fatalf("node %+v", n)
	}
	byPath, err := FromStat(p, "f", StatOf(fi), NewNames(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(byPath.ExtendedAttributes) != 1 || !strings.Contains(string(byPath.ExtendedAttributes[0].Value), "replacement") {
		t.Fatalf("by path: attributes %v, want the replacement's", byPath.ExtendedAttributes)
	}
}
