package main

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// dumpBoth runs dump with args in restic and arca and returns both
// outputs after checking that the exit codes agree.
func dumpBoth(t *testing.T, f *resticFixture, args ...string) (restic, arca []byte) {
	t.Helper()
	ro, re, rexit := runRestic(t, append(f.Env(), "TZ=UTC"), args...)
	ao, ae, aexit := arcaOnRepo(t, f, args...)
	if rexit != aexit {
		t.Errorf("%s: exit code: arca %d, restic %d\narca stderr: %s\nrestic stderr: %s", strings.Join(args, " "), aexit, rexit, ae, re)
	}
	if rexit != 0 && ae != string(re) {
		t.Errorf("%s: stderr differs\n--- restic:\n%s--- arca:\n%s", strings.Join(args, " "), re, ae)
	}
	return ro, []byte(ao)
}

// archiveEntry is what the test compares of one tar or zip entry.
type archiveEntry struct {
	Header  string // all header fields, formatted
	Content [32]byte
	Size    int
}

func readTar(t *testing.T, b []byte) ([]string, map[string]archiveEntry) {
	t.Helper()
	tr := tar.NewReader(bytes.NewReader(b))
	var names []string
	entries := map[string]archiveEntry{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("reading tar: %v", err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatalf("reading tar entry %q: %v", h.Name, err)
		}
		names = append(names, h.Name)
		pax := slices.Sorted(maps.Keys(h.PAXRecords))
		var paxs []string
		for _, k := range pax {
			paxs = append(paxs, fmt.Sprintf("%s=%q", k, h.PAXRecords[k]))
		}
		entries[h.Name] = archiveEntry{
			Header: fmt.Sprintf("type=%c mode=%o uid=%d gid=%d uname=%q gname=%q mtime=%s atime=%s ctime=%s link=%q size=%d format=%v pax=[%s]",
				h.Typeflag, h.Mode, h.Uid, h.Gid, h.Uname, h.Gname, h.ModTime.UTC(), h.AccessTime.UTC(), h.ChangeTime.UTC(),
				h.Linkname, h.Size, h.Format, strings.Join(paxs, " ")),
			Content: sha256.Sum256(data),
			Size:    len(data),
		}
	}
	return names, entries
}

func readZip(t *testing.T, b []byte) ([]string, map[string]archiveEntry) {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatalf("reading zip: %v", err)
	}
	var names []string
	entries := map[string]archiveEntry{}
	for _, zf := range zr.File {
		rc, err := zf.Open()
		if err != nil {
			t.Fatalf("zip entry %q: %v", zf.Name, err)
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatalf("zip entry %q: %v", zf.Name, err)
		}
		names = append(names, zf.Name)
		entries[zf.Name] = archiveEntry{
			Header: fmt.Sprintf("mode=%v method=%d modified=%s dos=%d/%d size=%d nonutf8=%v flags=%x creator=%x extattr=%x",
				zf.Mode(), zf.Method, zf.Modified.UTC(), zf.ModifiedDate, zf.ModifiedTime, zf.UncompressedSize64,
				zf.NonUTF8, zf.Flags, zf.CreatorVersion, zf.ExternalAttrs),
			Content: sha256.Sum256(data),
			Size:    len(data),
		}
	}
	return names, entries
}

// compareArchives checks that two archives list the same entries in the
// same order with the same headers and contents.
func compareArchives(t *testing.T, what string, read func(*testing.T, []byte) ([]string, map[string]archiveEntry), want, got []byte) {
	t.Helper()
	wn, we := read(t, want)
	gn, ge := read(t, got)
	if !slices.Equal(wn, gn) {
		t.Errorf("%s: entries differ:\nrestic %q\narca   %q", what, wn, gn)
	}
	bad := 0
	for _, name := range wn {
		g, ok := ge[name]
		if !ok {
			continue
		}
		if w := we[name]; w != g && bad < 10 {
			bad++
			t.Errorf("%s: entry %q differs:\nrestic %s size %d sha %x\narca   %s size %d sha %x", what, name, w.Header, w.Size, w.Content[:8], g.Header, g.Size, g.Content[:8])
		}
	}
	if len(wn) == 0 {
		t.Errorf("%s: empty archive", what)
	}
}

// TestDumpInterop compares arca's dump with restic's: single files
// byte for byte (a multi-chunk file and a sparse one among them), and tar
// and zip archives of directories entry by entry.
func TestDumpInterop(t *testing.T) {
	resticBin(t)
	for i, opts := range lsFindDumpRepoSets {
		t.Run(opts.String(), func(t *testing.T) {
			t.Parallel()
			f := resticRepoFixture(t, opts)
			first := f.Snapshots[0].ID

			files := []string{"/src/random.bin", "/src/sparse.img", "/src/text/utf8.txt"}
			if i == 1 {
				files = append(files, "/src/empty", "/src/compressible.log", "src/hardlinks/sub/big-b")
			}
			for _, p := range files {
				r, a := dumpBoth(t, f, "dump", "latest", p)
				if !bytes.Equal(r, a) {
					t.Errorf("dump %s: %d bytes from arca, %d from restic, content differs", p, len(a), len(r))
				}
				if len(r) == 0 && p != "/src/empty" {
					t.Errorf("dump %s: restic wrote nothing", p)
				}
				// the latest snapshot holds the source tree as it is now
				if src, err := os.ReadFile(filepath.Join(f.Source, strings.TrimPrefix(strings.TrimPrefix(p, "/"), "src/"))); err != nil {
					t.Error(err)
				} else if !bytes.Equal(a, src) {
					t.Errorf("dump %s: content differs from the source file", p)
				}
			}
			tarCases := [][]string{
				{"dump", "latest", "/src/symlinks"},
				{"dump", "latest", "/src/xattr"},
			}
			zipCases := [][]string{
				{"dump", "--archive", "zip", "latest", "/src/symlinks"},
			}
			if i == 1 {
				tarCases = append(tarCases, [][]string{
					{"dump", "latest", "/"},
					{"dump", "--archive", "tar", first + ":src/names", "/"},
					{"dump", "latest", "/src/modes/"},
					{"dump", "latest:src", "special"},
				}...)
				zipCases = append(zipCases, [][]string{
					{"dump", "-a", "zip", "latest", "/"},
					{"dump", "-a", "zip", "latest", "/src/names"},
				}...)
			}
			for _, args := range tarCases {
				r, a := dumpBoth(t, f, args...)
				compareArchives(t, strings.Join(args, " "), readTar, r, a)
			}
			for _, args := range zipCases {
				r, a := dumpBoth(t, f, args...)
				compareArchives(t, strings.Join(args, " "), readZip, r, a)
			}

			if i != 1 {
				return
			}
			// --target writes the same as standard output
			target := filepath.Join(t.TempDir(), "out.tar")
			if _, errOut, code := arcaOnRepo(t, f, "dump", "--target", target, "latest", "/src/text"); code != 0 {
				t.Fatalf("dump --target: exit %d: %s", code, errOut)
			}
			got, err := os.ReadFile(target)
			if err != nil {
				t.Fatal(err)
			}
			r, _ := dumpBoth(t, f, "dump", "latest", "/src/text")
			compareArchives(t, "dump --target", readTar, r, got)

			// errors: same exit code and message
			for _, args := range [][]string{
				{"dump", "latest", "/src/nonexistent"},
				{"dump", "latest", "/src/text/hello.txt/x"},
				{"dump", "latest", "/src/special/fifo"},
				{"dump", "-a", "rar", "latest", "/src"},
				{"dump", "latest"},
				{"dump", "ffffffff", "/src"},
				{"dump", "latest:src/nope", "/"},
			} {
				dumpBoth(t, f, args...)
			}
		})
	}
}
