package main

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// restoreRepoSets are the fixture repositories the restore interop test
// uses (the same sets as TestResticFixtures, so they are made once).
var restoreRepoSets = []resticRepoOptions{
	{Version: 1, Compression: "off", Snapshots: 3},
	{Version: 2, Compression: "auto", Snapshots: 4},
	{Version: 2, Compression: "max", Snapshots: 2},
	{Version: 2, Compression: "off", Snapshots: 1},
}

// arcaRestoreRun runs arca in-process on a fixture repository (location and
// password file passed as flags, so tests can run in parallel).
func arcaRestoreRun(t *testing.T, f *resticFixture, args ...string) (stdout, stderr string, exit int) {
	t.Helper()
	pw := filepath.Join(t.TempDir(), "password")
	if err := os.WriteFile(pw, []byte(f.Password), 0o600); err != nil {
		t.Fatal(err)
	}
	var o, e bytes.Buffer
	exit = run(append([]string{"-r", f.Repo, "-p", pw}, args...), strings.NewReader(""), &o, &e)
	return o.String(), e.String(), exit
}

// restoreResult is one program's restore run.
type restoreResult struct {
	stdout, stderr string
	exit           int
	target         string
}

// restoreBoth restores with arca into targetA and with restic into targetB
// (args plus --target) and fails when the exit codes differ.
func restoreBoth(t *testing.T, f *resticFixture, targetA, targetB string, args ...string) (a, r restoreResult) {
	t.Helper()
	ao, ae, aexit := arcaRestoreRun(t, f, append(append([]string{"restore"}, args...), "--target", targetA)...)
	ro, re, rexit := runRestic(t, append(f.Env(), "TZ=UTC"), append(append([]string{"restore"}, args...), "--target", targetB)...)
	a = restoreResult{ao, ae, aexit, targetA}
	r = restoreResult{string(ro), string(re), rexit, targetB}
	if aexit != rexit {
		t.Errorf("restore %v: exit code arca %d, restic %d\narca stderr:\n%s\nrestic stderr:\n%s", args, aexit, rexit, ae, re)
	}
	return a, r
}

// restoreJSON splits --json output into the summary (without timing) and
// the sorted verbose_status lines (target paths replaced by TARGET).
func restoreJSON(t *testing.T, res restoreResult) (summary map[string]any, items []string) {
	t.Helper()
	for _, line := range strings.Split(strings.TrimSpace(res.stdout), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("not JSON: %q: %v", line, err)
		}
		switch m["message_type"] {
		case "summary":
			delete(m, "seconds_elapsed")
			summary = m
		case "verbose_status":
			item := strings.ReplaceAll(m["item"].(string), res.target, "TARGET")
			items = append(items, m["action"].(string)+" "+item+" "+jsonNumber(m["size"]))
		case "status":
			for _, k := range []string{"percent_done"} {
				if _, ok := m[k]; !ok {
					t.Errorf("status message without %s: %s", k, line)
				}
			}
		default:
			t.Errorf("unexpected message %s", line)
		}
	}
	slices.Sort(items)
	return summary, items
}

func jsonNumber(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// sameRestoreJSON compares summaries and verbose items of two --json runs.
func sameRestoreJSON(t *testing.T, what string, a, r restoreResult) map[string]any {
	t.Helper()
	as, ai := restoreJSON(t, a)
	rs, ri := restoreJSON(t, r)
	if !reflect.DeepEqual(as, rs) {
		t.Errorf("%s: summary differs:\narca   %v\nrestic %v", what, as, rs)
	}
	if !slices.Equal(ai, ri) {
		t.Errorf("%s: verbose items differ:\n%s", what, lineDiff(strings.Join(ri, "\n"), strings.Join(ai, "\n")))
	}
	return as
}

// TestRestoreInterop restores restic-made repositories with arca and with
// restic and requires identical trees (content, modes, owners, times,
// symlinks, hard links, xattrs, fifos, devices) and identical --json
// summaries and per-item reports; also for a subfolder and --sparse.
func TestRestoreInterop(t *testing.T) {
	resticBin(t)
	for _, opts := range restoreRepoSets {
		t.Run(opts.String(), func(t *testing.T) {
			t.Parallel()
			f := resticRepoFixture(t, opts)
			dir := t.TempDir()
			A, B := filepath.Join(dir, "arca"), filepath.Join(dir, "restic")
			a, r := restoreBoth(t, f, A, B, "latest", "--json", "-vv")
			if a.exit != 0 {
				t.Fatalf("arca restore: exit %d: %s", a.exit, a.stderr)
			}
			compareTrees(t, A, B, compareOptions{IgnoreRootMeta: true})
			compareTrees(t, f.Source, filepath.Join(A, "src"), compareOptions{})
			sum := sameRestoreJSON(t, "latest", a, r)
			if sum["files_restored"] == nil || sum["total_bytes"] == nil || sum["bytes_restored"] != sum["total_bytes"] {
				t.Errorf("implausible summary %v", sum)
			}

			// the first snapshot's subfolder, by ID prefix
			first := f.Snapshots[0].ID
			A, B = filepath.Join(dir, "sub-arca"), filepath.Join(dir, "sub-restic")
			a, r = restoreBoth(t, f, A, B, first[:8]+":src/hardlinks", "--json")
			compareTrees(t, A, B, compareOptions{IgnoreRootMeta: true})
			if _, err := os.Stat(filepath.Join(A, "sub", "big-b")); err != nil {
				t.Errorf("subfolder restore: %v", err)
			}
			sameRestoreJSON(t, "subfolder", a, r)

			if opts.Version == 2 && opts.Compression == "auto" {
				A, B = filepath.Join(dir, "sparse-arca"), filepath.Join(dir, "sparse-restic")
				a, r = restoreBoth(t, f, A, B, "latest", "--sparse", "--json")
				compareTrees(t, A, B, compareOptions{IgnoreRootMeta: true})
				sameRestoreJSON(t, "sparse", a, r)
				var st unix.Stat_t
				if err := unix.Stat(filepath.Join(A, "src", "sparse.img"), &st); err != nil {
					t.Fatal(err)
				}
				if used := st.Blocks * 512; used >= st.Size/2 {
					t.Errorf("--sparse: sparse.img uses %d bytes for %d", used, st.Size)
				}
			}
		})
	}
}

// TestRestoreTextOutput compares the text output (quiet, normal, -vv) with
// restic's, the time and target normalised.
func TestRestoreTextOutput(t *testing.T) {
	resticBin(t)
	f := resticRepoFixture(t, restoreRepoSets[0])
	norm := func(res restoreResult) []string {
		s := strings.ReplaceAll(res.stdout, res.target, "TARGET")
		var lines []string
		for _, l := range strings.Split(strings.TrimSpace(s), "\n") {
			if i := strings.Index(l, ") in "); strings.HasPrefix(l, "Summary: ") && i > 0 {
				l = l[:i] + ") in T"
			}
			lines = append(lines, l)
		}
		// -vv items finish in any order: compare them as a set
		if len(lines) > 2 {
			slices.Sort(lines[1 : len(lines)-1])
		}
		return lines
	}
	for _, args := range [][]string{{"latest"}, {"latest", "-q"}, {"latest", "-vv"}, {f.Snapshots[1].ID + ":src/text", "-vv", "--include", "*.txt", "--exclude-xattr", "user.*"}} {
		dir := t.TempDir()
		a, r := restoreBoth(t, f, filepath.Join(dir, "a"), filepath.Join(dir, "b"), args...)
		if got, want := norm(a), norm(r); !slices.Equal(got, want) {
			t.Errorf("%v: stdout differs\n%s", args, lineDiff(strings.Join(want, "\n"), strings.Join(got, "\n")))
		}
		if a.stderr != r.stderr {
			t.Errorf("%v: stderr: arca %q, restic %q", args, a.stderr, r.stderr)
		}
	}
}

// restoredPaths lists the paths below root (slash-separated, sorted).
func restoredPaths(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		out = append(out, filepath.ToSlash(rel))
		return nil
	})
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

// TestRestoreFilters checks that include and exclude patterns select the
// same items as restic's.
func TestRestoreFilters(t *testing.T) {
	resticBin(t)
	f := resticRepoFixture(t, restoreRepoSets[1])
	patternFile := filepath.Join(t.TempDir(), "patterns")
	if err := os.WriteFile(patternFile, []byte("# comment\n\n  /src/many/f-01*  \nsrc/deep/**/leaf.txt\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := [][]string{
		{"--include", "/src/text"},
		{"--include", "*.txt"},
		{"--include", "hardlinks/b", "--include", "/src/symlinks/relative"},
		{"--include", "/src/deep/**/d05"},
		{"--iinclude", "*HELLO*", "--iinclude", "/SRC/MODES"},
		{"--include-file", patternFile},
		{"--exclude", "*.txt"},
		{"--exclude", "/src/many", "--exclude", "deep", "--exclude", "!deep"},
		{"--exclude", "/src/*", "--exclude", "!/src/names"},
		{"--iexclude", "*.TXT", "--iexclude", "RANDOM.bin"},
		{"--exclude-file", patternFile},
		{"--iexclude-file", patternFile, "--exclude", "sparse.img"},
	}
	for _, c := range cases {
		dir := t.TempDir()
		A, B := filepath.Join(dir, "a"), filepath.Join(dir, "b")
		a, r := restoreBoth(t, f, A, B, append([]string{"latest", "--json", "-vv"}, c...)...)
		if a.exit != 0 {
			t.Errorf("%v: exit %d: %s", c, a.exit, a.stderr)
			continue
		}
		pa, pb := restoredPaths(t, A), restoredPaths(t, B)
		if !slices.Equal(pa, pb) {
			t.Errorf("%v: restored paths differ:\n%s", c, lineDiff(strings.Join(pb, "\n"), strings.Join(pa, "\n")))
		}
		if len(pa) < 2 {
			t.Errorf("%v: nothing restored", c)
		}
		compareTrees(t, A, B, compareOptions{IgnoreRootMeta: true})
		sameRestoreJSON(t, strings.Join(c, " "), a, r)
	}

	// errors: invalid pattern, include with exclude
	for _, c := range [][]string{
		{"--include", "[x"},
		{"--include", "a", "--exclude", "b"},
		{"--iexclude", "a[", "--exclude", "b"},
		{"--dry-run", "--verify"},
	} {
		dir := t.TempDir()
		a, r := restoreBoth(t, f, filepath.Join(dir, "a"), filepath.Join(dir, "b"), append([]string{"latest"}, c...)...)
		if a.exit == 0 || a.stderr != r.stderr {
			t.Errorf("%v: arca exit %d stderr %q, restic stderr %q", c, a.exit, a.stderr, r.stderr)
		}
	}
}

// TestRestoreDryRun: nothing is written, and the report equals restic's.
func TestRestoreDryRun(t *testing.T) {
	resticBin(t)
	f := resticRepoFixture(t, restoreRepoSets[1])
	dir := t.TempDir()
	A, B := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	a, r := restoreBoth(t, f, A, B, "latest", "--dry-run", "--json", "-vv")
	if a.exit != 0 {
		t.Fatalf("exit %d: %s", a.exit, a.stderr)
	}
	if _, err := os.Lstat(A); !os.IsNotExist(err) {
		t.Errorf("--dry-run created the target: %v", err)
	}
	sameRestoreJSON(t, "dry-run", a, r)

	// on an existing target: reports what would change, changes nothing
	base := filepath.Join(dir, "base")
	mustRestic(t, f.Env(), "restore", f.Snapshots[0].ID, "--target", base)
	A, B = copyTree(t, base, filepath.Join(dir, "a2")), copyTree(t, base, filepath.Join(dir, "b2"))
	a, r = restoreBoth(t, f, A, B, "latest", "--dry-run", "--json", "-vv", "--delete", "--overwrite", "if-changed")
	sameRestoreJSON(t, "dry-run on existing", a, r)
	compareTrees(t, base, A, compareOptions{IgnoreRootMeta: true})
}

// copyTree copies a restored tree with all its metadata (cp -a) to dst.
func copyTree(t *testing.T, src, dst string) string {
	t.Helper()
	out, _, exit := runCommand(t, "cp", "-a", src, dst)
	if exit != 0 {
		t.Fatalf("cp -a %s %s: %s", src, dst, out)
	}
	return dst
}

func runCommand(t *testing.T, name string, args ...string) (string, string, int) {
	t.Helper()
	var o, e bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	if err != nil {
		return o.String() + e.String(), e.String(), 1
	}
	return o.String(), e.String(), 0
}

// prepareTarget restores the first snapshot with restic into dir and
// changes it: new, modified, truncated, retyped and extra items.
func prepareTarget(t *testing.T, f *resticFixture, dir string) {
	t.Helper()
	mustRestic(t, f.Env(), "restore", f.Snapshots[0].ID, "--target", dir)
	src := filepath.Join(dir, "src")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.WriteFile(filepath.Join(src, "extra-file"), []byte("not in the snapshot\n"), 0o644))
	must(os.MkdirAll(filepath.Join(src, "extra-dir", "sub"), 0o755))
	must(os.WriteFile(filepath.Join(src, "extra-dir", "sub", "x"), []byte("x"), 0o644))
	must(os.WriteFile(filepath.Join(src, "text", "lorem.txt"), []byte("changed"), 0o644))
	must(os.Truncate(filepath.Join(src, "random.bin"), 1<<20))
	must(os.Remove(filepath.Join(src, "empty")))
	must(os.Mkdir(filepath.Join(src, "empty"), 0o755)) // a directory where a file belongs
	must(os.Remove(filepath.Join(src, "symlinks", "relative")))
	must(os.WriteFile(filepath.Join(src, "symlinks", "relative"), []byte("file, not link"), 0o644))
	must(os.Chmod(filepath.Join(src, "modes", "0444.txt"), 0o444))
}

// TestRestoreOverwrite runs every --overwrite mode (and --delete) on a
// pre-populated target with arca and restic and compares the trees and
// reports.
func TestRestoreOverwrite(t *testing.T) {
	resticBin(t)
	f := resticRepoFixture(t, restoreRepoSets[1])
	base := filepath.Join(t.TempDir(), "base")
	prepareTarget(t, f, base)
	for _, c := range [][]string{
		{"--overwrite", "always"},
		{"--overwrite", "if-changed"},
		{"--overwrite", "if-newer"},
		{"--overwrite", "never"},
		{"--delete"},
		{"--delete", "--exclude", "extra-dir"},
	} {
		dir := t.TempDir()
		A, B := copyTree(t, base, filepath.Join(dir, "a")), copyTree(t, base, filepath.Join(dir, "b"))
		a, r := restoreBoth(t, f, A, B, append([]string{"latest", "--json", "-vv"}, c...)...)
		if a.exit != 0 {
			t.Errorf("%v: exit %d: %s", c, a.exit, a.stderr)
			continue
		}
		compareTrees(t, A, B, compareOptions{IgnoreRootMeta: true})
		sum := sameRestoreJSON(t, strings.Join(c, " "), a, r)
		if c[0] == "--delete" {
			if _, err := os.Lstat(filepath.Join(A, "src", "extra-file")); !os.IsNotExist(err) {
				t.Errorf("--delete kept extra-file: %v", err)
			}
			if sum["files_deleted"] == nil {
				t.Errorf("--delete: no files_deleted in %v", sum)
			}
		}
		if slices.Contains(c, "never") {
			if b, _ := os.ReadFile(filepath.Join(A, "src", "text", "lorem.txt")); string(b) != "changed" {
				t.Errorf("--overwrite never replaced a file")
			}
		}
	}
}

// TestRestoreVerify: --verify reads the files back and reports success.
func TestRestoreVerify(t *testing.T) {
	resticBin(t)
	f := resticRepoFixture(t, restoreRepoSets[2])
	target := t.TempDir()
	out, errOut, exit := arcaRestoreRun(t, f, "restore", "latest", "--verify", "--target", target)
	if exit != 0 {
		t.Fatalf("exit %d: %s", exit, errOut)
	}
	if !strings.Contains(out, "verifying files in "+target) || !strings.Contains(out, "finished verifying ") {
		t.Errorf("no verification report in %q", out)
	}
	compareTrees(t, f.Source, filepath.Join(target, "src"), compareOptions{})
}

// TestRestoreDamagedPack flips a byte inside a data pack: arca reports the
// pack, restores the rest and exits 1, as restic does.
func TestRestoreDamagedPack(t *testing.T) {
	resticBin(t)
	orig := resticRepoFixture(t, resticRepoOptions{Version: 2, Compression: "off", Snapshots: 1})
	f := *orig
	f.Repo = copyDir(t, orig.Repo)
	// the largest pack holds data blobs
	var pack string
	var size int64
	err := filepath.WalkDir(filepath.Join(f.Repo, "data"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil && fi.Size() > size {
				pack, size = p, fi.Size()
			}
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	fh, err := os.OpenFile(pack, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 1)
	if _, err := fh.ReadAt(b, 1000); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0x55
	if _, err := fh.WriteAt(b, 1000); err != nil {
		t.Fatal(err)
	}
	fh.Close()

	dir := t.TempDir()
	a, r := restoreBoth(t, &f, filepath.Join(dir, "a"), filepath.Join(dir, "b"), "latest")
	if a.exit != 1 {
		t.Errorf("exit %d, want 1", a.exit)
	}
	id := filepath.Base(pack)
	if !strings.Contains(a.stderr, id) || !strings.Contains(a.stderr, "ignoring error for /src/") {
		t.Errorf("error does not name the file and pack %s:\n%s", id, a.stderr)
	}
	// which file the damaged blob belongs to depends on how restic laid
	// out the pack (at random): a hardlinked file adds errors for its
	// links, so the count is compared with restic's, not fixed
	errCount := regexp.MustCompile(`Fatal: There were (\d+) errors`)
	am, rm := errCount.FindStringSubmatch(a.stderr), errCount.FindStringSubmatch(r.stderr)
	if am == nil || rm == nil || am[1] != rm[1] {
		t.Errorf("final error:\narca:   %s\nrestic: %s", a.stderr, r.stderr)
	}
	// everything else is there
	compareTrees(t, filepath.Join(dir, "a"), filepath.Join(dir, "b"), compareOptions{IgnoreRootMeta: true})

	_, e, exit := arcaRestoreRun(t, &f, "restore", "latest", "--json", "--target", filepath.Join(dir, "c"))
	if exit != 1 || !strings.Contains(e, `"message_type":"error"`) || !strings.Contains(e, id) {
		t.Errorf("--json: exit %d, stderr %s", exit, e)
	}
}

// TestRestoreSnapshotNotFound: a snapshot argument that names nothing
// gives restic's message and exit code.
func TestRestoreSnapshotNotFound(t *testing.T) {
	resticBin(t)
	t.Parallel()
	const pw = "restore-missing-pw"
	_, env := resticRepoEnv(t, pw)
	target := t.TempDir()
	for _, args := range [][]string{
		{"restore", "abcdef", "--target", target},
		{"restore", "latest", "--host", "nohost", "--target", target},
		{"restore", "latest:sub", "--target", target},
	} {
		r := runPiped(t, false, env, "", args...)
		a := runPiped(t, true, env, "", args...)
		if a != r || r.exit == 0 {
			t.Errorf("%q:\narca   exit %d, stdout %q, stderr %q\nrestic exit %d, stdout %q, stderr %q", args, a.exit, a.stdout, a.stderr, r.exit, r.stdout, r.stderr)
		}
	}
}
