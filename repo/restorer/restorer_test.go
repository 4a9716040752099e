package restorer

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/arca-backup/arca/repo/model"
)

func TestParseOverwrite(t *testing.T) {
	for _, s := range []string{"always", "if-changed", "if-newer", "never"} {
		m, err := ParseOverwrite(s)
		if err != nil || m.String() != s {
			t.Errorf("ParseOverwrite(%q) = %v, %v", s, m, err)
		}
	}
	if _, err := ParseOverwrite("sometimes"); err == nil || err.Error() != `invalid overwrite behavior "sometimes", must be one of (always|if-changed|if-newer|never)` {
		t.Errorf("bad mode: %v", err)
	}
}

func TestZeroPrefix(t *testing.T) {
	for _, tc := range []struct {
		data []byte
		want int
	}{
		{nil, 0},
		{[]byte{1}, 0},
		{make([]byte, 5000), 5000},
		{append(make([]byte, 3000), 1, 0), 3000},
		{append(make([]byte, 1024), 7), 1024},
	} {
		if got := zeroPrefix(tc.data); got != tc.want {
			t.Errorf("zeroPrefix(len %d) = %d, want %d", len(tc.data), got, tc.want)
		}
	}
}

// TestProgress: an item is finished when all its bytes are reported, and
// every report reaches the callback once.
func TestProgress(t *testing.T) {
	var items []string
	p := newProgress(func(a Action, loc string, size uint64) { items = append(items, fmt.Sprintf("%s %s %d", a, loc, size)) })
	p.addFile(10)
	p.addFile(0)
	p.addProgress("/f", ActionFileRestored, 4, 10)
	p.addProgress("/f", ActionFileRestored, 6, 10)
	p.addProgress("/d", ActionDirRestored, 0, 0)
	p.addSkipped("/s", 3)
	p.addDeleted("/tmp/x")
	want := State{FilesFinished: 2, FilesTotal: 2, FilesSkipped: 1, FilesDeleted: 1, BytesWritten: 10, BytesTotal: 10, BytesSkipped: 3}
	if got := p.state(); got != want {
		t.Errorf("state %+v, want %+v", got, want)
	}
	wantItems := []string{"file restored /f 10", "dir restored /d 0", "file unchanged /s 3", "deleted /tmp/x 0"}
	if fmt.Sprint(items) != fmt.Sprint(wantItems) {
		t.Errorf("items %q, want %q", items, wantItems)
	}
}

// TestCreateFile: whatever is in the way becomes a plain file of the right
// size; a plain file keeps its content.
func TestCreateFile(t *testing.T) {
	dir := t.TempDir()
	p := func(n string) string { return filepath.Join(dir, n) }
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.WriteFile(p("plain"), []byte("0123456789"), 0o644))
	must(os.WriteFile(p("readonly"), []byte("abc"), 0o444))
	must(os.WriteFile(p("target"), []byte("linked"), 0o644))
	must(os.Symlink("target", p("symlink")))
	must(os.Link(p("target"), p("hardlink")))
	must(os.MkdirAll(p("dir/sub"), 0o755))

	for _, tc := range []struct {
		name      string
		size      int64
		recursive bool
		keep      string
	}{
		{"plain", 4, false, "0123"},
		{"readonly", 3, false, "abc"},
		{"symlink", 5, false, "\x00\x00\x00\x00\x00"},
		{"hardlink", 2, false, "\x00\x00"},
		{"dir", 1, true, "\x00"},
		{"new", 0, false, ""},
	} {
		f, err := createFile(p(tc.name), tc.size, false, tc.recursive)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		f.Close()
		b, err := os.ReadFile(p(tc.name))
		if err != nil || string(b) != tc.keep {
			t.Errorf("%s: content %q, %v; want %q", tc.name, b, err, tc.keep)
		}
		fi, _ := os.Lstat(p(tc.name))
		if !fi.Mode().IsRegular() {
			t.Errorf("%s: not a regular file: %v", tc.name, fi.Mode())
		}
	}
	if b, _ := os.ReadFile(p("target")); string(b) != "linked" {
		t.Errorf("the symlink's and hard link's target changed: %q", b)
	}
}

// TestConcurrentWrites: many writers share handles; every file ends up
// complete and every handle is closed.
func TestConcurrentWrites(t *testing.T) {
	dir := t.TempDir()
	fr := &fileRestorer{res: &Restorer{opts: Options{}}, handles: newHandleCache()}
	const files, blocks, blockSize = 100, 8, 1000
	jobs := make([]*fileJob, files)
	for i := range jobs {
		jobs[i] = &fileJob{path: filepath.Join(dir, fmt.Sprint(i)), size: blocks * blockSize, pending: blocks}
	}
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range files {
				for b := range blocks {
					if (i+b)%8 != w {
						continue
					}
					data := bytes.Repeat([]byte{byte('a' + b)}, blockSize)
					if err := fr.write(jobs[i], data, int64(b*blockSize)); err != nil {
						t.Error(err)
					}
				}
			}
		})
	}
	wg.Wait()
	if n := len(fr.handles.open); n != 0 {
		t.Errorf("%d handles still open", n)
	}
	for i := range files {
		b, err := os.ReadFile(jobs[i].path)
		if err != nil {
			t.Fatal(err)
		}
		for k := range blocks {
			if !bytes.Equal(b[k*blockSize:(k+1)*blockSize], bytes.Repeat([]byte{byte('a' + k)}, blockSize)) {
				t.Fatalf("file %d block %d wrong", i, k)
			}
		}
	}
}

func TestZeroChunk(t *testing.T) {
	if want := model.Hash(make([]byte, 512<<10)); zeroChunk != want {
		t.Fatalf("zeroChunk %v, want %v", zeroChunk, want)
	}
}
