package main

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestDamagedSubtreeAsRestic: in a repository where the tree of one
// directory does not decrypt, ls, find and restore print what restic
// prints: the directory itself is not listed (it is not visited once its
// tree fails), and the error is restic's, naming the blob and its pack.
func TestDamagedSubtreeAsRestic(t *testing.T) {
	resticBin(t)
	dir := t.TempDir()
	src, repoDir := filepath.Join(dir, "src"), filepath.Join(dir, "repo")
	for _, d := range []string{"src/kept/inner", "src/other"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for name, text := range map[string]string{"src/kept/a": "a", "src/kept/inner/b": "b", "src/other/c": "c", "src/top": "top"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	env := resticTestEnv(repoDir, "pw")
	mustRestic(t, env, "init", "--repository-version", "2")
	mustRestic(t, env, "backup", "--host", "h", src)
	first := packFiles(t, repoDir)
	// a second snapshot whose root and src trees are new: the trees of
	// kept and other are the first snapshot's, in its packs
	if err := os.WriteFile(filepath.Join(src, "top"), []byte("changed"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "new"), []byte("new"), 0o644); err != nil {
		t.Fatal(err)
	}
	mustRestic(t, env, "backup", "--host", "h", src)
	missing := copyDir(t, repoDir) // where the first packs are gone
	for _, p := range first {
		damageBlobs(t, p)
		if err := os.Remove(filepath.Join(missing, strings.TrimPrefix(p, repoDir))); err != nil {
			t.Fatal(err)
		}
	}

	r := newInteropRepo(t, repoDir, "pw")
	// the first snapshot's packs fail: restic's message names the blob and pack
	// (with --json, < and > are escaped)
	decrypt := regexp.MustCompile(`decrypting blob (<|\\u003c)tree/[0-9a-f]{8}(>|\\u003e) from pack [0-9a-f]{64} failed: ciphertext verification failed`)
	for _, args := range [][]string{
		{"ls", "latest"},
		{"ls", "--json", "latest"},
		{"find", "*"},
		{"find", "kept"},
	} {
		want, got := r.restic(t, args...), r.arca(t, args...)
		name := strings.Join(args, " ")
		if got.exit != want.exit || string(got.stdout) != string(want.stdout) || string(got.stderr) != string(want.stderr) {
			t.Errorf("%s:\nrestic: exit %d\n%s%s\narca: exit %d\n%s%s", name, want.exit, want.stdout, want.stderr, got.exit, got.stdout, got.stderr)
		}
		if args[0] == "ls" && !decrypt.Match(got.stderr) {
			t.Errorf("%s: stderr lacks restic's decryption error:\n%s", name, got.stderr)
		}
		if strings.Contains(string(got.stdout), "/kept\n") {
			t.Errorf("%s lists the directory whose tree failed:\n%s", name, got.stdout)
		}
	}

	// restore reports the same errors (in an order of its own)
	errLines := func(res cmdResult, target string) []string {
		var lines []string
		for _, l := range strings.Split(strings.ReplaceAll(string(res.stderr), target, "<target>"), "\n") {
			if strings.HasPrefix(l, "ignoring error for ") || strings.HasPrefix(l, "Fatal: ") {
				lines = append(lines, l)
			}
		}
		slices.Sort(lines)
		return lines
	}
	wantTarget, gotTarget := filepath.Join(dir, "restic-out"), filepath.Join(dir, "arca-out")
	want := r.restic(t, "restore", "latest", "--target", wantTarget)
	got := r.arca(t, "restore", "latest", "--target", gotTarget)
	if got.exit != want.exit || !slices.Equal(errLines(got, gotTarget), errLines(want, wantTarget)) || !decrypt.Match(got.stderr) {
		t.Errorf("restore:\nrestic: exit %d\n%s\narca: exit %d\n%s", want.exit, want.stderr, got.exit, got.stderr)
	}

	// with the packs gone, the errors are the backend's, as restic words
	// them ("ReadFull(<data/…>): open …: no such file or directory")
	r = newInteropRepo(t, missing, "pw")
	wantTarget, gotTarget = filepath.Join(dir, "restic-out2"), filepath.Join(dir, "arca-out2")
	want = r.restic(t, "restore", "latest", "--target", wantTarget)
	got = r.arca(t, "restore", "latest", "--target", gotTarget)
	norm := strings.NewReplacer(missing, "<repo>")
	if got.exit != want.exit || norm.Replace(strings.Join(errLines(got, gotTarget), "\n")) != norm.Replace(strings.Join(errLines(want, wantTarget), "\n")) ||
		!strings.Contains(string(got.stderr), "ReadFull(<data/") {
		t.Errorf("restore with missing packs:\nrestic: exit %d\n%s\narca: exit %d\n%s", want.exit, want.stderr, got.exit, got.stderr)
	}
}

// packFiles lists the pack files of a local repository.
func packFiles(t *testing.T, repo string) []string {
	t.Helper()
	packs, err := filepath.Glob(filepath.Join(repo, "data", "*", "*"))
	if err != nil || len(packs) == 0 {
		t.Fatalf("no pack files in %s: %v", repo, err)
	}
	return packs
}

// damageBlobs inverts every byte of the blobs of pack file p, leaving its
// header (whose length the last four bytes give) intact.
func damageBlobs(t *testing.T, p string) {
	t.Helper()
	buf, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	blobsEnd := len(buf) - 4 - int(binary.LittleEndian.Uint32(buf[len(buf)-4:]))
	for i := range blobsEnd {
		buf[i] ^= 0xff
	}
	if err := os.Chmod(p, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, buf, 0o600); err != nil {
		t.Fatal(err)
	}
}
