package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// fixtureOptionSets are the repositories TestResticFixtures checks; interop
// tests that use the same sets share the cached repositories.
var fixtureOptionSets = []resticRepoOptions{
	{Version: 1, Compression: "off", Snapshots: 3},
	{Version: 2, Compression: "auto", Snapshots: 4},
	{Version: 2, Compression: "max", Snapshots: 2},
	{Version: 2, Compression: "off", Snapshots: 1},
}

// TestResticFixtures proves the fixtures: each repository passes
// `restic check --read-data`, lists the expected snapshots (also filtered by
// host and tag), and restic restores the first and the latest snapshot to
// exactly the trees that were backed up.
func TestResticFixtures(t *testing.T) {
	resticBin(t)
	for _, opts := range fixtureOptionSets {
		t.Run(opts.String(), func(t *testing.T) {
			t.Parallel()
			f := resticRepoFixture(t, opts)
			env := f.Env()
			if len(f.Snapshots) != opts.Snapshots {
				t.Fatalf("fixture has %d snapshots, want %d", len(f.Snapshots), opts.Snapshots)
			}

			mustRestic(t, env, "check", "--read-data")

			var config struct {
				Version int `json:"version"`
			}
			if err := json.Unmarshal(mustRestic(t, env, "cat", "config"), &config); err != nil {
				t.Fatal(err)
			}
			if config.Version != opts.Version {
				t.Errorf("repository version %d, want %d", config.Version, opts.Version)
			}

			snaps := resticSnapshots(t, env)
			if len(snaps) != opts.Snapshots {
				t.Fatalf("restic snapshots lists %d snapshots, want %d", len(snaps), opts.Snapshots)
			}
			for i, s := range snaps {
				want := f.Snapshots[i]
				if s.ID != want.ID || s.Hostname != want.Host || !slices.Equal(s.Tags, want.Tags) || !s.Time.Equal(want.Time) {
					t.Errorf("snapshot %d: got %s %s %v %s, want %s %s %v %s", i,
						s.ID, s.Hostname, s.Tags, s.Time, want.ID, want.Host, want.Tags, want.Time)
				}
				if len(s.Paths) != 1 || filepath.Base(s.Paths[0]) != "src" {
					t.Errorf("snapshot %d: paths %q, want one ending in /src", i, s.Paths)
				}
			}
			for _, filter := range [][]string{{"--host", "arca-host-b"}, {"--tag", "daily"}, {"--tag", "manual"}} {
				want := 0
				for _, s := range f.Snapshots {
					if (filter[0] == "--host" && s.Host == filter[1]) || (filter[0] == "--tag" && slices.Contains(s.Tags, filter[1])) {
						want++
					}
				}
				if got := len(resticSnapshots(t, env, filter...)); got != want {
					t.Errorf("snapshots %s: %d, want %d", strings.Join(filter, " "), got, want)
				}
			}

			if opts.Version == 2 {
				checkCompression(t, env, opts.Compression)
			}

			target := t.TempDir()
			mustRestic(t, env, "restore", "latest", "--target", target)
			compareTrees(t, f.Source, filepath.Join(target, "src"), compareOptions{})

			if len(f.Snapshots) > 1 {
				first := f.Snapshots[0]
				target := t.TempDir()
				mustRestic(t, env, "restore", first.ID, "--target", target)
				want := filepath.Join(t.TempDir(), "src")
				makeSourceTreeGeneration(t, want, first.Generation)
				compareTrees(t, want, filepath.Join(target, "src"), compareOptions{})
			}
		})
	}
}

type resticSnapshotJSON struct {
	ID       string    `json:"id"`
	Time     time.Time `json:"time"`
	Hostname string    `json:"hostname"`
	Tags     []string  `json:"tags"`
	Paths    []string  `json:"paths"`
}

// resticSnapshots runs `restic snapshots --json [args]`.
func resticSnapshots(t *testing.T, env []string, args ...string) []resticSnapshotJSON {
	t.Helper()
	var snaps []resticSnapshotJSON
	out := mustRestic(t, env, append([]string{"snapshots", "--json"}, args...)...)
	if err := json.Unmarshal(out, &snaps); err != nil {
		t.Fatalf("restic snapshots --json: %v\n%s", err, out)
	}
	return snaps
}

// checkCompression checks that a v2 repository's blobs are compressed as asked.
func checkCompression(t *testing.T, env []string, compression string) {
	t.Helper()
	var stats struct {
		TotalSize             uint64  `json:"total_size"`
		TotalUncompressedSize uint64  `json:"total_uncompressed_size"`
		CompressionRatio      float64 `json:"compression_ratio"`
	}
	out := mustRestic(t, env, "stats", "--mode", "raw-data", "--json")
	if err := json.Unmarshal(out, &stats); err != nil {
		t.Fatalf("restic stats --json: %v\n%s", err, out)
	}
	// tree blobs are compressed even with --compression off; the data
	// (4 MiB of log lines among ~22 MiB) is what makes the difference
	ratio := float64(stats.TotalUncompressedSize) / float64(stats.TotalSize)
	t.Logf("compression %s: %d bytes stored for %d bytes of blobs (ratio %.3f)", compression, stats.TotalSize, stats.TotalUncompressedSize, ratio)
	if compressed := ratio > 1.05; compressed != (compression != "off") {
		t.Errorf("compression %s: %d bytes stored for %d bytes of blobs (ratio %.3f)", compression, stats.TotalSize, stats.TotalUncompressedSize, ratio)
	}
}

// TestCompareTrees checks that makeSourceTree is deterministic and that
// compareTrees reports every kind of difference.
func TestCompareTrees(t *testing.T) {
	a := filepath.Join(t.TempDir(), "a")
	b := filepath.Join(t.TempDir(), "b")
	makeSourceTree(t, a)
	makeSourceTree(t, b)
	diffs, err := treeDiff(a, b, compareOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(diffs) > 0 {
		t.Fatalf("two trees made by makeSourceTree differ:\n%s", strings.Join(diffs, "\n"))
	}

	// generation 2 made at once equals generation 0 changed in place twice
	g2 := filepath.Join(t.TempDir(), "g2")
	makeSourceTreeGeneration(t, g2, 2)
	inPlace := filepath.Join(t.TempDir(), "inplace")
	bld := newSourceTreeBuilder(inPlace)
	buildSourceTree(bld)
	bld.finish()
	for g := 1; g <= 2; g++ {
		applyGeneration(bld, g)
		bld.finish()
	}
	if bld.err != nil {
		t.Fatal(bld.err)
	}
	compareTrees(t, g2, inPlace, compareOptions{})
	if d, _ := treeDiff(a, g2, compareOptions{}); len(d) == 0 {
		t.Errorf("generation 2 does not differ from generation 0")
	}

	p := func(rel string) string { return filepath.Join(b, filepath.FromSlash(rel)) }
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	keepMtime := func(rel string, change func()) {
		t.Helper()
		st, err := os.Lstat(p(rel))
		must(err)
		change()
		must(os.Chtimes(p(rel), st.ModTime(), st.ModTime()))
	}
	keepMtime("text/lorem.txt", func() {
		f, err := os.OpenFile(p("text/lorem.txt"), os.O_WRONLY, 0)
		must(err)
		_, err = f.WriteAt([]byte("X"), 100)
		must(err)
		must(f.Close())
	})
	must(os.Chmod(p("modes/0600.txt"), 0o644))
	st, err := os.Stat(p("mtimes/nanoseconds"))
	must(err)
	must(os.Chtimes(p("mtimes/nanoseconds"), st.ModTime(), st.ModTime().Add(time.Nanosecond)))
	keepMtime("symlinks", func() {
		must(os.Remove(p("symlinks/relative")))
		must(os.Symlink("../text/lorem.txt", p("symlinks/relative")))
	})
	must(unix.Lutimes(p("symlinks/relative"), []unix.Timeval{{Sec: 1}, {Sec: 1}}))
	keepMtime("hardlinks", func() {
		data, err := os.ReadFile(p("hardlinks/b"))
		must(err)
		must(os.Remove(p("hardlinks/b")))
		must(os.WriteFile(p("hardlinks/b"), data, 0o644))
		st, err := os.Stat(p("hardlinks/a"))
		must(err)
		must(os.Chtimes(p("hardlinks/b"), st.ModTime(), st.ModTime()))
	})
	keepMtime("many", func() { must(os.Remove(p("many/f-001.txt"))) })
	keepMtime("names", func() { must(os.WriteFile(p("names/extra\xff"), nil, 0o644)) })
	keepMtime("special", func() {
		must(os.Remove(p("special/fifo")))
		must(os.WriteFile(p("special/fifo"), nil, 0o644))
	})
	wantXattr := unix.Lsetxattr(p("xattr/file"), "user.arca.text", []byte("changed"), 0) == nil
	want := []string{
		`"text/lorem.txt": content differs (same size 10`,
		`"modes/0600.txt": mode -rw------- != -rw-r--r--`,
		`"mtimes/nanoseconds": mtime 2023-05-06T07:08:09.123456789Z != 2023-05-06T07:08:09.12345679Z`,
		`"symlinks/relative": symlink target "../text/hello.txt" != "../text/lorem.txt"`,
		`"symlinks/relative": mtime `,
		`"hardlinks/a": hard links ["hardlinks/b"] != []`,
		`"hardlinks/b": hard links ["hardlinks/a"] != []`,
		`"many/f-001.txt": only in a (file)`,
		`"names/extra\xff": only in b (file)`,
		`"special/fifo": type fifo != file`,
	}
	if wantXattr {
		want = append(want, `"xattr/file": xattr user.arca.text "hello" != "changed"`)
	}
	diffs, err = treeDiff(a, b, compareOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range want {
		if !slices.ContainsFunc(diffs, func(d string) bool { return strings.HasPrefix(d, w) }) {
			t.Errorf("difference %s not reported", w)
		}
	}
	if len(diffs) != len(want) {
		t.Errorf("%d differences reported, want %d:\n%s", len(diffs), len(want), strings.Join(diffs, "\n"))
	}

	// the options leave out what they say
	diffs, err = treeDiff(a, b, compareOptions{
		IgnoreMtime: true, IgnoreHardlinks: true, IgnoreXattrs: true,
		Skip: func(rel string) bool { return rel == "many" || rel == "names" || strings.HasPrefix(rel, "special/") },
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(diffs) != 3 {
		t.Errorf("with options: %d differences, want 3 (content, mode, symlink target):\n%s", len(diffs), strings.Join(diffs, "\n"))
	}
}
