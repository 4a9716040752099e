package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
)

// backupRepo creates an empty restic repository and points arca at it.
func backupRepo(t *testing.T, version int) (repo string, env []string) {
	t.Helper()
	repo = filepath.Join(t.TempDir(), "repo")
	env = resticTestEnv(repo, "backup-test-pw")
	mustRestic(t, env, "init", "--repository-version", fmt.Sprint(version))
	if err := cheapenKey(repo, "backup-test-pw"); err != nil {
		t.Fatal(err)
	}
	t.Setenv("RESTIC_REPOSITORY", repo)
	t.Setenv("RESTIC_PASSWORD", "backup-test-pw")
	t.Setenv("RESTIC_CACHE_DIR", t.TempDir())
	return repo, env
}

// summaryOf returns the summary message of a --json backup output.
func summaryOf(t *testing.T, out string) map[string]any {
	t.Helper()
	for _, line := range strings.Split(out, "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["message_type"] == "summary" {
			return m
		}
	}
	t.Fatalf("no summary message in output:\n%s", out)
	return nil
}

func num(m map[string]any, k string) int64 {
	f, _ := m[k].(float64)
	return int64(f)
}

// arcaBackup runs arca backup --json and returns the summary.
func arcaBackup(t *testing.T, wantExit int, args ...string) map[string]any {
	t.Helper()
	out, errOut, exit := arcaCmd(t, append([]string{"backup", "--json"}, args...)...)
	if exit != wantExit {
		t.Fatalf("arca backup %v: exit %d, want %d\nstderr:\n%s\nstdout:\n%s", args, exit, wantExit, errOut, out)
	}
	return summaryOf(t, out)
}

func resticBackup(t *testing.T, env []string, args ...string) map[string]any {
	t.Helper()
	out := mustRestic(t, env, append([]string{"backup", "--json"}, args...)...)
	return summaryOf(t, string(out))
}

// subtreeAt follows the absolute path p from snapshot sn's root tree and
// returns the subtree ID of the directory found there.
func subtreeAt(t *testing.T, env []string, sn, p string) string {
	t.Helper()
	var snap struct {
		Tree string `json:"tree"`
	}
	if err := json.Unmarshal(mustRestic(t, env, "cat", "snapshot", sn), &snap); err != nil {
		t.Fatal(err)
	}
	id := snap.Tree
	for _, name := range strings.Split(strings.Trim(p, "/"), "/") {
		var tree struct {
			Nodes []struct {
				Name    string `json:"name"`
				Subtree string `json:"subtree"`
			} `json:"nodes"`
		}
		if err := json.Unmarshal(mustRestic(t, env, "cat", "blob", id), &tree); err != nil {
			t.Fatal(err)
		}
		found := ""
		for _, n := range tree.Nodes {
			if n.Name == name {
				found = n.Subtree
			}
		}
		if found == "" {
			t.Fatalf("snapshot %s: no directory %q on the way to %s", sn, name, p)
		}
		id = found
	}
	return id
}

func blobCount(t *testing.T, env []string) int {
	t.Helper()
	return len(strings.Split(strings.TrimSpace(string(mustRestic(t, env, "list", "blobs"))), "\n"))
}

// TestBackupInterop backs up the fixture tree with arca into restic
// repositories of every format and compression mode, checks them with
// restic check --read-data,
// restores with restic and compares, and checks that restic and arca
// produce the same trees for the same data (no new blobs either way).
func TestBackupInterop(t *testing.T) {
	resticBin(t)
	for _, tc := range []struct {
		version     int
		compression string
		resticFirst bool
	}{
		{1, "off", false},
		{2, "auto", true},
		{2, "auto", false},
		{2, "off", false},
		{2, "fastest", false},
		{2, "better", false},
		{2, "max", false},
	} {
		name := fmt.Sprintf("v%d-%s", tc.version, tc.compression)
		if tc.resticFirst {
			name += "-restic-first"
		}
		t.Run(name, func(t *testing.T) {
			_, env := backupRepo(t, tc.version)
			src := filepath.Join(t.TempDir(), "src")
			makeSourceTree(t, src)
			comp := "--compression=" + tc.compression

			var first, second map[string]any
			var firstID, secondID string
			if tc.resticFirst {
				first = resticBackup(t, env, comp, src)
				firstID = first["snapshot_id"].(string)
				before := blobCount(t, env)
				second = arcaBackup(t, 0, comp, src)
				secondID = second["snapshot_id"].(string)
				if got := blobCount(t, env); got-before != int(num(second, "tree_blobs")) {
					t.Errorf("arca after restic: %d blobs added, summary says %d tree blobs", got-before, num(second, "tree_blobs"))
				}
			} else {
				first = arcaBackup(t, 0, comp, src)
				firstID = first["snapshot_id"].(string)
				mustRestic(t, env, "check", "--read-data")
				dst := t.TempDir()
				mustRestic(t, env, "restore", "latest", "--target", dst)
				compareTrees(t, src, filepath.Join(dst, src), compareOptions{})
				second = resticBackup(t, env, comp, src)
				secondID = second["snapshot_id"].(string)
			}
			if n := num(second, "data_blobs"); n != 0 {
				t.Errorf("second backup of unchanged data added %d data blobs", n)
			}
			if num(second, "files_unmodified") != num(first, "files_new") || num(second, "files_new") != 0 || num(second, "files_changed") != 0 {
				t.Errorf("second backup should see all %d files unmodified: %v", num(first, "files_new"), second)
			}
			a, b := subtreeAt(t, env, firstID, src), subtreeAt(t, env, secondID, src)
			if a != b {
				t.Errorf("tree of %s differs: %s (first) vs %s (second)", src, a, b)
			}
			for _, k := range []string{"files_new", "dirs_new", "data_blobs", "data_added", "total_files_processed", "total_bytes_processed"} {
				if first[k] == nil {
					t.Errorf("summary lacks %s", k)
				}
			}
			if tc.resticFirst {
				// the second backup had restic's snapshot as parent; read
				// everything again, so that every node is arca's own
				forced := arcaBackup(t, 0, comp, "--force", src)
				if n := num(forced, "data_blobs"); n != 0 {
					t.Errorf("arca --force after restic added %d data blobs", n)
				}
				if got := subtreeAt(t, env, forced["snapshot_id"].(string), src); got != a {
					t.Errorf("tree of %s: arca --force %s, restic %s", src, got, a)
				}
				mustRestic(t, env, "check", "--read-data")
			}
		})
	}
}

// TestBackupSummaryMatchesRestic compares the --json summary of arca and
// restic for the same first backup: same keys, same counts.
func TestBackupSummaryMatchesRestic(t *testing.T) {
	resticBin(t)
	src := filepath.Join(t.TempDir(), "src")
	makeSourceTree(t, src)
	rrepo, renv := backupRepo(t, 2)
	r := resticBackup(t, renv, src)
	// arca gets its own, fresh repository with the same chunker polynomial
	arepo := filepath.Join(t.TempDir(), "repo")
	mustRestic(t, append(resticTestEnv(arepo, "backup-test-pw"), "RESTIC_FROM_REPOSITORY="+rrepo, "RESTIC_FROM_PASSWORD=backup-test-pw"),
		"init", "--copy-chunker-params")
	if err := cheapenKey(arepo, "backup-test-pw"); err != nil {
		t.Fatal(err)
	}
	t.Setenv("RESTIC_REPOSITORY", arepo)
	a := arcaBackup(t, 0, src)
	keys := func(m map[string]any) []string {
		var k []string
		for key := range m {
			k = append(k, key)
		}
		sort.Strings(k)
		return k
	}
	if !slices.Equal(keys(a), keys(r)) {
		t.Errorf("summary keys differ:\narca   %v\nrestic %v", keys(a), keys(r))
	}
	for _, k := range []string{"files_new", "files_changed", "files_unmodified", "dirs_new", "dirs_changed", "dirs_unmodified",
		"data_blobs", "tree_blobs", "total_files_processed", "total_bytes_processed"} {
		if a[k] != r[k] {
			t.Errorf("%s: arca %v, restic %v", k, a[k], r[k])
		}
	}
	// data_added includes the trees of the directories above src, whose
	// metadata (inode numbers, times) differs between the two runs by a few
	// bytes of JSON
	if d := num(a, "data_added") - num(r, "data_added"); d < -512 || d > 512 {
		t.Errorf("data_added: arca %d, restic %d", num(a, "data_added"), num(r, "data_added"))
	}
}

// TestBackupIncremental changes a few files and checks that arca's second
// backup with the first as parent reads only those, and that --force reads
// everything again.
func TestBackupIncremental(t *testing.T) {
	resticBin(t)
	_, env := backupRepo(t, 2)
	src := filepath.Join(t.TempDir(), "src")
	makeSourceTree(t, src)
	first := arcaBackup(t, 0, src)
	total := num(first, "files_new")

	if err := os.WriteFile(filepath.Join(src, "text", "hello.txt"), []byte("changed content\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "added.txt"), []byte("a new file\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	second := arcaBackup(t, 0, src)
	if num(second, "files_new") != 1 || num(second, "files_changed") != 1 || num(second, "files_unmodified") != total-1 {
		t.Errorf("incremental backup: want 1 new, 1 changed, %d unmodified; got %v", total-1, second)
	}
	if n := num(second, "data_blobs"); n != 2 {
		t.Errorf("incremental backup added %d data blobs, want 2", n)
	}
	if n := num(second, "data_added"); n > 64<<10 {
		t.Errorf("incremental backup added %d bytes", n)
	}
	var snaps []struct {
		ID     string  `json:"id"`
		Parent *string `json:"parent"`
	}
	if err := json.Unmarshal(mustRestic(t, env, "snapshots", "--json"), &snaps); err != nil {
		t.Fatal(err)
	}
	if len(snaps) != 2 || snaps[1].Parent == nil || *snaps[1].Parent != snaps[0].ID {
		t.Errorf("second snapshot's parent is not the first: %+v", snaps)
	}

	forced := arcaBackup(t, 0, "--force", src)
	if num(forced, "files_unmodified") != 0 || num(forced, "files_new") != total+1 || num(forced, "data_blobs") != 0 {
		t.Errorf("--force: want all %d files read again and no new data; got %v", total+1, forced)
	}
	mustRestic(t, env, "check", "--read-data")
	dst := t.TempDir()
	mustRestic(t, env, "restore", "latest", "--target", dst)
	compareTrees(t, src, filepath.Join(dst, src), compareOptions{})
}

// TestBackupUnreadable: a missing target and a file that fails while being
// read are reported, the rest is saved, and the exit code is 3.
func TestBackupUnreadable(t *testing.T) {
	resticBin(t)
	_, env := backupRepo(t, 2)
	src := filepath.Join(t.TempDir(), "src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "ok.txt"), []byte("fine\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// reading a process's own memory at offset 0 fails with EIO
	mem := fmt.Sprintf("/proc/%d/mem", os.Getpid())
	out, errOut, exit := arcaCmd(t, "backup", "--json", src, filepath.Join(src, "missing"), mem)
	if exit != 3 {
		t.Fatalf("exit %d, want 3\nstderr:\n%s\nstdout:\n%s", exit, errOut, out)
	}
	if !strings.Contains(errOut, "does not exist, skipping") {
		t.Errorf("stderr does not mention the missing target:\n%s", errOut)
	}
	if !strings.Contains(errOut, `"message_type":"error"`) || !strings.Contains(errOut, mem) {
		t.Errorf("stderr has no error message for %s:\n%s", mem, errOut)
	}
	s := summaryOf(t, out)
	if s["snapshot_id"] == nil {
		t.Fatalf("no snapshot written: %v", s)
	}
	ls := string(mustRestic(t, env, "ls", "latest"))
	if !strings.Contains(ls, "\n"+filepath.Join(src, "ok.txt")+"\n") || strings.Contains(ls, "\n"+mem+"\n") {
		t.Errorf("snapshot listing:\n%s", ls)
	}
}

// TestBackupExcludes backs up the same tree with the same exclude options
// with restic and arca and compares the listings.
func TestBackupExcludes(t *testing.T) {
	resticBin(t)
	_, env := backupRepo(t, 2)
	src := filepath.Join(t.TempDir(), "src")
	makeSourceTree(t, src)
	for _, d := range []string{"cache", "marked", "keep"} {
		if err := os.MkdirAll(filepath.Join(src, d), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(src, d, "data.txt"), []byte("data "+d), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(src, "cache", "CACHEDIR.TAG"), []byte("Signature: 8a477f597d28d172789f06886806bc55\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "marked", ".nobackup"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	exFile := filepath.Join(t.TempDir(), "excludes")
	if err := os.WriteFile(exFile, []byte("# comment\n*.bin\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	opts := []string{"--exclude", "*.log", "--iexclude", "TEXT/HELLO.*", "--exclude-file", exFile,
		"--exclude-caches", "--exclude-if-present", ".nobackup", "--exclude-larger-than", "1M"}

	listing := func(sn string) []string {
		var out []string
		for _, line := range strings.Split(string(mustRestic(t, env, "ls", "--json", sn)), "\n") {
			var m map[string]any
			if json.Unmarshal([]byte(line), &m) != nil || m["path"] == nil {
				continue
			}
			out = append(out, fmt.Sprintf("%v %v %v", m["path"], m["type"], m["size"]))
		}
		sort.Strings(out)
		return out
	}
	r := resticBackup(t, env, append(opts, src)...)
	a := arcaBackup(t, 0, append(opts, "--force", src)...)
	lr, la := listing(r["snapshot_id"].(string)), listing(a["snapshot_id"].(string))
	if !slices.Equal(lr, la) {
		t.Errorf("listings differ:\nrestic:\n  %s\narca:\n  %s", strings.Join(lr, "\n  "), strings.Join(la, "\n  "))
	}
	if len(la) < 5 {
		t.Errorf("suspiciously short listing: %v", la)
	}
	if num(a, "data_blobs") != 0 {
		t.Errorf("arca stored %d new data blobs for data restic had stored", num(a, "data_blobs"))
	}
}

// TestBackupStdin stores standard input as restic does: same tree as
// restic's for the same data and time.
func TestBackupStdin(t *testing.T) {
	resticBin(t)
	_, env := backupRepo(t, 2)
	data := fixtureText("stdin", 200<<10)
	in := filepath.Join(t.TempDir(), "in")
	if err := os.WriteFile(in, data, 0o644); err != nil {
		t.Fatal(err)
	}
	ts := "2024-05-06 07:08:09"
	r := resticBackup(t, env, "--stdin-from-command", "--stdin-filename", "dir/data.txt", "--time", ts, "--host", "h", "--", "cat", in)
	a := arcaBackup(t, 0, "--stdin-from-command", "--stdin-filename", "dir/data.txt", "--time", ts, "--host", "h", "--", "cat", in)
	tree := func(sn string) string {
		var s struct {
			Tree string `json:"tree"`
		}
		_ = json.Unmarshal(mustRestic(t, env, "cat", "snapshot", sn), &s)
		return s.Tree
	}
	if tr, ta := tree(r["snapshot_id"].(string)), tree(a["snapshot_id"].(string)); tr != ta || tr == "" {
		t.Errorf("stdin trees differ: restic %s, arca %s", tr, ta)
	}
	if got := mustRestic(t, env, "dump", "latest", "/dir/data.txt"); string(got) != string(data) {
		t.Errorf("dumped data differs (%d bytes, want %d)", len(got), len(data))
	}
}

// TestBackupOneLargeFile: a backup of a single large file, whose reader
// widens its slab (no other reader takes a file), and of the same file
// changed in the middle, whose reader leaves hashing to the savers, are
// cut as restic cuts them (restic's backup of the file then adds no data)
// and pass restic check --read-data; restic restores the file, and dumps
// it from a --stdin backup, byte for byte.
func TestBackupOneLargeFile(t *testing.T) {
	resticBin(t)
	_, env := backupRepo(t, 2)
	src := filepath.Join(t.TempDir(), "src")
	if err := os.Mkdir(src, 0o755); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(src, "large.bin")
	var data []byte
	for i := range 20 { // 40 MiB: runs of text and of random bytes
		if i%2 == 0 {
			data = append(data, fixtureText(fmt.Sprint("large", i), 2<<20)...)
		} else {
			data = append(data, fixtureRandomBytes(fmt.Sprint("large", i), 2<<20)...)
		}
	}
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Fatal(err)
	}
	restored := func() {
		t.Helper()
		mustRestic(t, env, "check", "--read-data")
		dst := t.TempDir()
		mustRestic(t, env, "restore", "latest", "--path", src, "--target", dst)
		compareTrees(t, src, filepath.Join(dst, src), compareOptions{})
	}

	first := arcaBackup(t, 0, src)
	restored()
	if n := num(resticBackup(t, env, "--force", src), "data_blobs"); n != 0 {
		t.Errorf("restic's backup of the file arca saved added %d data blobs", n)
	}

	copy(data[len(data)/2:], "a change in the middle of the file")
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Fatal(err)
	}
	second := arcaBackup(t, 0, src)
	if num(second, "files_changed") != 1 || num(second, "data_blobs") < 1 || num(second, "data_blobs") > 2 {
		t.Errorf("backup of the changed file: want 1 changed file and 1-2 new data blobs, got %v (first: %v data blobs)", second, num(first, "data_blobs"))
	}
	restored()
	if n := num(resticBackup(t, env, "--force", src), "data_blobs"); n != 0 {
		t.Errorf("restic's backup of the changed file added %d data blobs", n)
	}

	arcaBackup(t, 0, "--stdin-from-command", "--stdin-filename", "large.bin", "--", "cat", file)
	if got := mustRestic(t, env, "dump", "latest", "/large.bin"); !bytes.Equal(got, data) {
		t.Errorf("dump of the stdin backup: %d bytes, want the file's %d, or they differ", len(got), len(data))
	}
}

// TestBackupDryRunAsRestic: a dry run reports what a real run would
// store, as restic's does (both compress, seal and pack, then drop the
// packs), and leaves the repository as it was.
func TestBackupDryRunAsRestic(t *testing.T) {
	resticBin(t)
	repo, env := backupRepo(t, 2)
	base := t.TempDir()
	makeSourceTree(t, filepath.Join(base, "src"))
	// Both back up the relative path "src" from its parent. With an
	// absolute path the trees would carry the metadata of every parent
	// directory, and those change between the two runs: each restic run
	// gets a new temporary directory in the test's own, and other test
	// binaries create theirs in /tmp.
	t.Chdir(base)
	const src = "src"
	files := func() []string {
		var names []string
		_ = filepath.WalkDir(repo, func(p string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() && !strings.Contains(p, string(filepath.Separator)+"locks"+string(filepath.Separator)) {
				names = append(names, p)
			}
			return nil
		})
		return names
	}
	before := files()
	r := summaryOf(t, string(mustRestic(t, env, "backup", "--dry-run", "--json", src)))
	a := arcaBackup(t, 0, "--dry-run", src)
	for _, k := range []string{"files_new", "dirs_new", "data_blobs", "tree_blobs", "data_added", "total_files_processed", "total_bytes_processed"} {
		if num(a, k) != num(r, k) {
			t.Errorf("%s: arca %d, restic %d", k, num(a, k), num(r, k))
		}
	}
	// the same data, compressed and sealed alike; zstd versions may
	// differ by a few bytes
	if ap, rp := num(a, "data_added_packed"), num(r, "data_added_packed"); ap < rp*99/100 || ap > rp*101/100 {
		t.Errorf("data_added_packed: arca %d, restic %d", ap, rp)
	}
	// both report the ID the snapshot would have had (its encryption is
	// random, so only its form can be compared)
	for name, m := range map[string]map[string]any{"arca": a, "restic": r} {
		if id, _ := m["snapshot_id"].(string); len(id) != 64 {
			t.Errorf("%s's dry run reported snapshot_id %v, want an ID", name, m["snapshot_id"])
		}
	}
	if after := files(); !slices.Equal(before, after) {
		t.Errorf("the dry run changed the repository: %d files before, %d after", len(before), len(after))
	}
}

// TestBackupLateFilterErrors: restic builds its filters by metadata after
// choosing the parent and loading the index, so an invalid
// --exclude-larger-than fails after its "using parent snapshot" line;
// arca fails at the same point, with the same output and exit code.
func TestBackupLateFilterErrors(t *testing.T) {
	resticBin(t)
	t.Parallel()
	const pw = "late-filter-pw"
	_, env := resticRepoEnv(t, pw)
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "f"), []byte("data"), 0o644); err != nil {
		t.Fatal(err)
	}
	mustRestic(t, env, "backup", "-q", src)
	for _, args := range [][]string{
		{"backup", "--exclude-larger-than", "1x", src},
		{"--json", "backup", "--exclude-larger-than", "1x", src},
		// out of range: restic refuses them, where a negative limit
		// would leave out every file
		{"backup", "--exclude-larger-than", "-1", src},
		{"backup", "--exclude-larger-than", "9999999999999999k", src},
	} {
		r := runPiped(t, false, env, "", args...)
		a := runPiped(t, true, env, "", args...)
		if r.exit != 1 || (args[0] == "backup" && !strings.HasPrefix(r.stdout, "using parent snapshot ")) {
			t.Fatalf("%v: restic (test assumption): exit %d\n%s%s", args, r.exit, r.stdout, r.stderr)
		}
		if a != r {
			t.Errorf("%v: arca exit %d\n%s%s\nrestic exit %d\n%s%s", args, a.exit, a.stdout, a.stderr, r.exit, r.stdout, r.stderr)
		}
	}
}

// TestBackupEmptyTags: empty items of --tag values are dropped as restic
// drops them, so an empty --tag value adds no tag and "a,,b" adds two;
// and an empty --host is not replaced by RESTIC_HOST.
func TestBackupEmptyTags(t *testing.T) {
	resticBin(t)
	t.Parallel()
	const pw = "empty-tags-pw"
	_, env := resticRepoEnv(t, pw)
	tagsOfLatest := func() []string {
		var sns []struct {
			Tags []string `json:"tags"`
		}
		if err := json.Unmarshal(mustRestic(t, env, "snapshots", "--json", "latest"), &sns); err != nil || len(sns) != 1 {
			t.Fatalf("snapshots: %v", err)
		}
		return sns[0].Tags
	}
	for _, tags := range [][]string{{""}, {"a,,b"}, {","}, {"a,", ",b", " c "}} {
		args := []string{"backup", "-q", "--stdin", "--stdin-filename", "f"}
		for _, v := range tags {
			args = append(args, "--tag", v)
		}
		if r := runPiped(t, false, env, "data", args...); r.exit != 0 {
			t.Fatalf("restic %v: exit %d: %s", args, r.exit, r.stderr)
		}
		want := tagsOfLatest()
		if a := runPiped(t, true, env, "data", args...); a.exit != 0 {
			t.Fatalf("arca %v: exit %d: %s", args, a.exit, a.stderr)
		}
		if got := tagsOfLatest(); !slices.Equal(got, want) {
			t.Errorf("--tag %q: arca stored %q, restic %q", tags, got, want)
		}
	}

	// RESTIC_HOST is --host's default: an explicit empty --host gives the
	// machine's hostname
	hostOfLatest := func(prog string, arca bool) string {
		henv := append(slices.Clone(env), "RESTIC_HOST=env-host")
		if r := runPiped(t, arca, henv, "data", "backup", "-q", "--stdin", "--host", ""); r.exit != 0 {
			t.Fatalf("%s: exit %d: %s", prog, r.exit, r.stderr)
		}
		var sns []struct {
			Hostname string `json:"hostname"`
		}
		if err := json.Unmarshal(mustRestic(t, env, "snapshots", "--json", "latest"), &sns); err != nil || len(sns) != 1 {
			t.Fatalf("snapshots: %v", err)
		}
		return sns[0].Hostname
	}
	if r, a := hostOfLatest("restic", false), hostOfLatest("arca", true); a != r || r == "env-host" {
		t.Errorf("--host '' with RESTIC_HOST set: arca stored host %q, restic %q", a, r)
	}
}

// TestBackupIgnoredChangesCountUnchanged: with --ignore-ctime (or
// --ignore-inode), a file whose content is unchanged but whose mode (and
// so ctime) or inode changed is not read again and counts as unmodified,
// as in restic, which reports the parent's node for it.
func TestBackupIgnoredChangesCountUnchanged(t *testing.T) {
	resticBin(t)
	t.Parallel()
	const pw = "ignored-changes-pw"
	_, env := resticRepoEnv(t, pw)
	src := filepath.Join(t.TempDir(), "src")
	at := func(name string) string { return filepath.Join(src, name) }
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"moded", "moved"} {
		if err := os.WriteFile(at(name), []byte(name), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	mustRestic(t, env, "backup", "-q", src)
	if err := os.Chmod(at("moded"), 0o600); err != nil {
		t.Fatal(err)
	}
	// a copy with the same times, renamed over the original: a new inode
	fi, err := os.Stat(at("moved"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(at("moved.tmp"), []byte("moved"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(at("moved.tmp"), fi.ModTime(), fi.ModTime()); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(at("moved.tmp"), at("moved")); err != nil {
		t.Fatal(err)
	}
	files := func(out string) []string {
		var keep []string
		for _, l := range strings.Split(out, "\n") {
			if strings.HasPrefix(l, "unchanged ") || strings.HasPrefix(l, "modified ") || strings.HasPrefix(l, "new ") || strings.HasPrefix(l, "Files: ") {
				keep = append(keep, strings.SplitN(l, ", saved in", 2)[0])
			}
		}
		sort.Strings(keep)
		return keep
	}
	for _, flag := range []string{"--ignore-ctime", "--ignore-inode"} {
		args := []string{"backup", "--dry-run", "-vv", flag, src}
		r := runPiped(t, false, env, "", args...)
		a := runPiped(t, true, env, "", args...)
		if !slices.Equal(files(a.stdout), files(r.stdout)) || a.exit != r.exit {
			t.Errorf("%s: arca exit %d:\n%s\nrestic exit %d:\n%s", flag, a.exit, strings.Join(files(a.stdout), "\n"), r.exit, strings.Join(files(r.stdout), "\n"))
		}
		if !strings.Contains(r.stdout, "unchanged "+at("moded")) {
			t.Errorf("%s: restic (test assumption) did not count the file with the new mode as unchanged:\n%s", flag, r.stdout)
		}
	}
}

// TestLargeTreeInterop: a directory whose tree is over 1 MiB, which arca
// decodes as it decompresses it, written by restic. arca lists it as
// restic does, backs it up onto restic's snapshot with the same tree and
// nothing added, and restic accepts the result. A second directory of the
// same size has a name that needs an escape in JSON, which the streaming
// decoder leaves to the whole-blob one.
func TestLargeTreeInterop(t *testing.T) {
	resticBin(t)
	t.Parallel()
	const pw = "large-tree-pw"
	_, env := resticRepoEnv(t, pw)
	src := filepath.Join(t.TempDir(), "src")
	for _, dir := range []string{"plain", "escaped"} {
		if err := os.MkdirAll(filepath.Join(src, dir), 0o755); err != nil {
			t.Fatal(err)
		}
		for i := range 4000 {
			name := fmt.Sprintf("a-file-with-a-long-name-%05d.txt", i)
			if dir == "escaped" && i == 2500 {
				name = `a "quoted" name`
			}
			var data []byte
			if i%500 == 0 {
				data = []byte(name)
			}
			if err := os.WriteFile(filepath.Join(src, dir, name), data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	first := resticBackup(t, env, src)
	firstID := first["snapshot_id"].(string)
	size := len(mustRestic(t, env, "cat", "blob", subtreeAt(t, env, firstID, filepath.Join(src, "plain"))))
	if size < 1<<20 {
		t.Fatalf("the tree of 4000 files has %d bytes, not over 1 MiB", size)
	}

	ls := []string{"ls", "--long", firstID}
	if a, r := runPiped(t, true, env, "", ls...), runPiped(t, false, env, "", ls...); a.stdout != r.stdout || a.exit != 0 {
		t.Errorf("ls of restic's snapshot: arca exit %d, %d lines, restic %d lines\n%s", a.exit, strings.Count(a.stdout, "\n"), strings.Count(r.stdout, "\n"), a.stderr)
	}
	before := blobCount(t, env)
	a := runPiped(t, true, env, "", "backup", "--json", src)
	if a.exit != 0 {
		t.Fatalf("arca backup: exit %d\n%s", a.exit, a.stderr)
	}
	second := summaryOf(t, a.stdout)
	secondID := second["snapshot_id"].(string)
	if num(second, "files_unmodified") != 8000 || num(second, "data_blobs") != 0 {
		t.Errorf("arca backup onto restic's snapshot: %v", second)
	}
	for _, dir := range []string{"plain", "escaped"} {
		p := filepath.Join(src, dir)
		if x, y := subtreeAt(t, env, firstID, p), subtreeAt(t, env, secondID, p); x != y {
			t.Errorf("%s: arca's tree %s, restic's %s", dir, y, x)
		}
	}
	if got := blobCount(t, env); got-before != int(num(second, "tree_blobs")) {
		t.Errorf("%d blobs added, summary says %d tree blobs", got-before, num(second, "tree_blobs"))
	}
	if c := runPiped(t, true, env, "", "check"); c.exit != 0 {
		t.Errorf("arca check: exit %d\n%s%s", c.exit, c.stdout, c.stderr)
	}
	mustRestic(t, env, "check", "--read-data")
}

// TestFreshLargeDirectoryInterop: arca backs up, with no parent, a
// directory of 4000 new files whose tree (over 1 MiB) it encodes as the
// files come in, and an index over one zstd frame (512 KiB of JSON).
// restic reads the index (every blob listed), accepts the repository, and
// its own backup of the same files, read again with --force, has the same
// trees and adds no data.
func TestFreshLargeDirectoryInterop(t *testing.T) {
	resticBin(t)
	t.Parallel()
	const pw = "fresh-large-dir-pw"
	_, env := resticRepoEnv(t, pw)
	src := filepath.Join(t.TempDir(), "src")
	dir := filepath.Join(src, "big")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for i := range 4000 {
		name := fmt.Sprintf("a-file-with-a-long-name-%05d.txt", i)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(name), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	a := runPiped(t, true, env, "", "backup", "--json", src)
	if a.exit != 0 {
		t.Fatalf("arca backup: exit %d\n%s", a.exit, a.stderr)
	}
	first := summaryOf(t, a.stdout)
	firstID := first["snapshot_id"].(string)
	if num(first, "data_blobs") != 4000 {
		t.Fatalf("arca backup: %v", first)
	}
	tree := subtreeAt(t, env, firstID, dir)
	if size := len(mustRestic(t, env, "cat", "blob", tree)); size < 1<<20 {
		t.Fatalf("the tree of 4000 files has %d bytes, not over 1 MiB", size)
	}
	if got, want := blobCount(t, env), int(num(first, "data_blobs")+num(first, "tree_blobs")); got != want {
		t.Errorf("restic lists %d blobs in the index, arca stored %d", got, want)
	}
	largest := 0
	for _, id := range strings.Fields(string(mustRestic(t, env, "list", "index"))) {
		largest = max(largest, len(mustRestic(t, env, "cat", "index", id)))
	}
	if largest <= 512<<10 {
		t.Errorf("the largest index file has %d bytes of JSON, not more than one frame", largest)
	}
	mustRestic(t, env, "check", "--read-data")

	// the directories above src (/tmp) may change meanwhile; src does not
	second := resticBackup(t, env, "--force", src)
	for _, p := range []string{dir, src} {
		if x, y := subtreeAt(t, env, second["snapshot_id"].(string), p), subtreeAt(t, env, firstID, p); x != y {
			t.Errorf("%s: restic's tree %s, arca's %s", p, x, y)
		}
	}
	if num(second, "data_blobs") != 0 {
		t.Errorf("restic's backup after arca's added data: %v", second)
	}
}
