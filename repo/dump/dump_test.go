package dump

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/arca-backup/arca/repo/model"
)

// memRepo is an in-memory blob store counting loads.
type memRepo struct {
	mu    sync.Mutex
	blobs map[model.ID][]byte
	loads map[model.ID]int
	fail  map[model.ID]bool
}

func newMemRepo() *memRepo {
	return &memRepo{blobs: map[model.ID][]byte{}, loads: map[model.ID]int{}, fail: map[model.ID]bool{}}
}

func (m *memRepo) LoadBlob(ctx context.Context, _ model.BlobType, id model.ID, _ []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.loads[id]++
	if m.fail[id] {
		return nil, fmt.Errorf("blob %s is damaged", id.Str())
	}
	b, ok := m.blobs[id]
	if !ok {
		return nil, fmt.Errorf("blob %s not found", id.Str())
	}
	return slices.Clone(b), nil
}

func (m *memRepo) add(b []byte) model.ID {
	id := model.Hash(b)
	m.blobs[id] = b
	return id
}

// file makes a file node whose content is the given chunks.
func (m *memRepo) file(name string, mode os.FileMode, chunks ...[]byte) *model.Node {
	n := &model.Node{Name: name, Type: model.NodeTypeFile, Mode: mode, UID: 1000, GID: 100, User: "alice", Group: "users",
		ModTime: time.Date(2023, 5, 6, 7, 8, 9, 0, time.UTC), AccessTime: time.Date(2023, 5, 7, 0, 0, 0, 0, time.UTC)}
	n.Content = model.IDs{}
	for _, c := range chunks {
		n.Content = append(n.Content, m.add(c))
		n.Size += uint64(len(c))
	}
	return n
}

func (m *memRepo) dir(t *testing.T, name string, nodes ...*model.Node) *model.Node {
	t.Helper()
	id := m.tree(t, nodes...)
	return &model.Node{Name: name, Type: model.NodeTypeDir, Mode: os.ModeDir | 0o750, Subtree: &id,
		ModTime: time.Date(2022, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (m *memRepo) tree(t *testing.T, nodes ...*model.Node) model.ID {
	t.Helper()
	slices.SortFunc(nodes, func(a, b *model.Node) int { return strings.Compare(a.Name, b.Name) })
	buf, err := model.EncodeTree(nodes)
	if err != nil {
		t.Fatal(err)
	}
	return m.add(buf)
}

// testRepo builds:
//
//	/top.txt
//	/fifo              (a fifo at the top: archived)
//	/d/                (0750)
//	/d/a.txt           (3 chunks, one repeated)
//	/d/link -> a.txt
//	/d/pipe            (a fifo below the top: left out)
//	/d/e/              empty
//	/d/x               setuid, with xattrs and an ACL
func testRepo(t *testing.T) (*memRepo, model.ID) {
	m := newMemRepo()
	acl := binary.LittleEndian.AppendUint32(nil, 2)
	for _, e := range [][3]uint32{{0x01, 6, 0}, {0x02, 4, 1001}, {0x04, 4, 0}, {0x10, 7, 0}, {0x20, 0, 0}} {
		acl = binary.LittleEndian.AppendUint16(acl, uint16(e[0]))
		acl = binary.LittleEndian.AppendUint16(acl, uint16(e[1]))
		acl = binary.LittleEndian.AppendUint32(acl, e[2])
	}
	x := m.file("x", 0o755|os.ModeSetuid, []byte("#!/bin/sh\n"))
	x.ExtendedAttributes = []model.ExtendedAttribute{
		{Name: "user.note", Value: []byte("hi\x00there")},
		{Name: "system.posix_acl_access", Value: acl},
	}
	zeros := make([]byte, 1000)
	root := m.tree(t,
		m.file("top.txt", 0o644, []byte("top\n")),
		&model.Node{Name: "fifo", Type: model.NodeTypeFifo, Mode: os.ModeNamedPipe | 0o600},
		m.dir(t, "d",
			m.file("a.txt", 0o600, zeros, []byte("middle"), zeros),
			&model.Node{Name: "link", Type: model.NodeTypeSymlink, Mode: os.ModeSymlink | 0o777, LinkTarget: "a.txt"},
			&model.Node{Name: "pipe", Type: model.NodeTypeFifo, Mode: os.ModeNamedPipe | 0o600},
			m.dir(t, "e"),
			x,
		),
	)
	return m, root
}

func TestDumpFile(t *testing.T) {
	m, root := testRepo(t)
	var out bytes.Buffer
	d := New(Tar, m, &out, Options{Workers: 2})
	if err := d.DumpPath(context.Background(), root, "/d/a.txt", nil); err != nil {
		t.Fatal(err)
	}
	want := append(append(make([]byte, 1000), "middle"...), make([]byte, 1000)...)
	if !bytes.Equal(out.Bytes(), want) {
		t.Errorf("dumped %d bytes, want %d", out.Len(), len(want))
	}
	// the repeated zero chunk was loaded once
	if n := m.loads[model.Hash(make([]byte, 1000))]; n != 1 {
		t.Errorf("repeated blob loaded %d times", n)
	}
}

func TestDumpLargeFileStreams(t *testing.T) {
	m := newMemRepo()
	var chunks [][]byte
	var want []byte
	for i := range 50 {
		c := bytes.Repeat([]byte{byte(i)}, 1000+i)
		chunks = append(chunks, c)
		want = append(want, c...)
	}
	root := m.tree(t, m.file("big", 0o644, chunks...))
	// a writer that checks the order of writes
	var out bytes.Buffer
	d := New(Tar, m, &out, Options{Workers: 4})
	if err := d.DumpPath(context.Background(), root, "big", nil); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Bytes(), want) {
		t.Errorf("content differs")
	}
}

func TestDumpErrors(t *testing.T) {
	m, root := testRepo(t)
	ctx := context.Background()
	for p, want := range map[string]string{
		"/nope":         `path "/nope" not found in snapshot`,
		"/top.txt/x":    `"/top.txt" should be a dir, but is a "file"`,
		"/fifo":         `"/fifo" should be a file, but is a "fifo"`,
		"d/nope/x":      `path "/d/nope" not found in snapshot`,
		"/d/link":       `"/d/link" should be a file, but is a "symlink"`,
		"/d/e/anything": `path "/d/e/anything" not found in snapshot`,
	} {
		err := New(Tar, m, io.Discard, Options{}).DumpPath(ctx, root, p, nil)
		if err == nil || err.Error() != want {
			t.Errorf("dump %s: error %v, want %s", p, err, want)
		}
	}
	// archives can be refused (stdout is a terminal)
	refuse := errors.New("refused")
	err := New(Tar, m, io.Discard, Options{}).DumpPath(ctx, root, "/d", func() error { return refuse })
	if !errors.Is(err, refuse) {
		t.Errorf("refused archive: %v", err)
	}
	// a damaged blob fails the dump
	var a model.ID
	for id, b := range m.blobs {
		if string(b) == "middle" {
			a = id
		}
	}
	m.fail[a] = true
	if err := New(Tar, m, io.Discard, Options{}).DumpPath(ctx, root, "/d/a.txt", nil); err == nil || !strings.Contains(err.Error(), "damaged") {
		t.Errorf("damaged blob: %v", err)
	}
	if err := New(Zip, m, io.Discard, Options{}).DumpPath(ctx, root, "/", nil); err == nil {
		t.Errorf("damaged blob in archive: no error")
	}
	if _, err := ParseFormat("rar"); err == nil || err.Error() != `unknown archive format "rar"` {
		t.Errorf("ParseFormat(rar): %v", err)
	}
}

func TestDumpTar(t *testing.T) {
	m, root := testRepo(t)
	var out bytes.Buffer
	if err := New(Tar, m, &out, Options{}).DumpPath(context.Background(), root, "/", nil); err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(&out)
	var names []string
	headers := map[string]*tar.Header{}
	contents := map[string]string{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		names = append(names, h.Name)
		headers[h.Name] = h
		contents[h.Name] = string(b)
	}
	want := []string{"d/", "d/a.txt", "d/e/", "d/link", "d/x", "fifo", "top.txt"}
	if !slices.Equal(names, want) {
		t.Fatalf("entries %q, want %q", names, want)
	}
	d := headers["d/"]
	if d.Typeflag != tar.TypeDir || d.Mode != 0o750 || !d.ModTime.Equal(time.Date(2022, 1, 2, 3, 4, 5, 0, time.UTC)) {
		t.Errorf("directory header %+v", d)
	}
	a := headers["d/a.txt"]
	if a.Typeflag != tar.TypeReg || a.Mode != 0o600 || a.Uid != 1000 || a.Gid != 100 || a.Uname != "alice" || a.Gname != "users" || a.Size != 2006 || len(contents["d/a.txt"]) != 2006 {
		t.Errorf("file header %+v", a)
	}
	if l := headers["d/link"]; l.Typeflag != tar.TypeSymlink || l.Linkname != "a.txt" {
		t.Errorf("symlink header %+v", l)
	}
	x := headers["d/x"]
	if x.Mode != 0o4755 {
		t.Errorf("setuid file mode %o", x.Mode)
	}
	if got := x.PAXRecords["SCHILY.xattr.user.note"]; got != "hi\x00there" {
		t.Errorf("xattr record %q", got)
	}
	if got, want := x.PAXRecords["SCHILY.acl.access"], "user::rw-\nuser:1001:r--\ngroup::r--\nmask::rwx\nother::---\n"; got != want {
		t.Errorf("ACL record %q, want %q", got, want)
	}
	if f := headers["fifo"]; f.Typeflag != tar.TypeReg || f.Size != 0 {
		t.Errorf("top-level fifo header %+v", f)
	}
}

func TestDumpZip(t *testing.T) {
	m, root := testRepo(t)
	var out bytes.Buffer
	if err := New(Zip, m, &out, Options{}).DumpPath(context.Background(), root, "/d", nil); err != nil {
		t.Fatal(err)
	}
	zr, err := zip.NewReader(bytes.NewReader(out.Bytes()), int64(out.Len()))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range zr.File {
		names = append(names, f.Name)
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		switch f.Name {
		case "d/a.txt":
			if f.Method != zip.Deflate || len(b) != 2006 || f.Mode() != 0o600 {
				t.Errorf("file entry: method %d, %d bytes, mode %v", f.Method, len(b), f.Mode())
			}
		case "d/link":
			if string(b) != "a.txt" || f.Mode()&os.ModeSymlink == 0 {
				t.Errorf("symlink entry: %q, mode %v", b, f.Mode())
			}
		case "d/e/":
			if !f.Mode().IsDir() {
				t.Errorf("directory entry mode %v", f.Mode())
			}
		}
	}
	// the nodes directly in the dumped directory are all archived (the fifo
	// too), as in restic; deeper ones only when file, dir or symlink
	if want := []string{"d/a.txt", "d/e/", "d/link", "d/pipe", "d/x"}; !slices.Equal(names, want) {
		t.Errorf("entries %q, want %q", names, want)
	}
}

func TestLinuxACLText(t *testing.T) {
	for _, b := range [][]byte{nil, {1, 0, 0, 0}, {2, 0, 0, 0, 1}, {2, 0, 0, 0, 0x40, 0, 0, 0, 0, 0, 0, 0}} {
		if _, err := linuxACLText(b); err == nil {
			t.Errorf("ACL %x: no error", b)
		}
	}
	if s, err := linuxACLText([]byte{2, 0, 0, 0}); err != nil || s != "" {
		t.Errorf("empty ACL: %q, %v", s, err)
	}
}
