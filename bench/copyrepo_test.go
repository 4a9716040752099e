package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/arca-backup/arca/backend"
	"github.com/arca-backup/arca/backend/connect"
)

// TestCopyRepoOnRemoteStores copies a repository restic wrote on each test
// server the harness can use: the copy has the same files, byte for byte
// (so the same key and scrypt parameters as the template), and restic
// reads all of it back (check --read-data, the same snapshots).
func TestCopyRepoOnRemoteStores(t *testing.T) {
	restic := resticForTest(t)
	ran := 0
	for _, kind := range []string{"s3", "sftp", "rest"} {
		st, err := newStore(kind, t.TempDir(), fmt.Sprint(time.Now().UnixNano()))
		if err != nil {
			continue // the server's variables are not set
		}
		ran++
		t.Run(kind, func(t *testing.T) {
			ctx := context.Background()
			src, dst := st.location("template"), st.location("copy")
			t.Cleanup(func() { st.remove("template"); st.remove("copy") })
			run := func(repo string, args ...string) string {
				t.Helper()
				cmd := exec.Command(restic, append(append([]string{"-r", repo, "--no-cache"}, st.resticArgs()...), args...)...)
				cmd.Env = append(os.Environ(), "RESTIC_PASSWORD=copy-test")
				out, err := cmd.CombinedOutput()
				if err != nil {
					t.Fatalf("restic %v: %v\n%s", args, err, out)
				}
				return string(out)
			}
			data := t.TempDir()
			for i := range 3 {
				if err := os.WriteFile(filepath.Join(data, fmt.Sprint(i)), bytes.Repeat([]byte{byte(i)}, 100<<10+i), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			run(src, "init")
			run(src, "backup", "-q", data)
			if err := copyRepo(ctx, src, dst, st.opts); err != nil {
				t.Fatal(err)
			}
			for _, ft := range []backend.FileType{backend.ConfigFile, backend.KeyFile, backend.SnapshotFile, backend.IndexFile, backend.PackFile} {
				a, b := repoFiles(t, src, ft, st.opts), repoFiles(t, dst, ft, st.opts)
				if len(a) == 0 || !slices.Equal(a, b) {
					t.Errorf("%v files: template %d, copy %d (or they differ)", ft, len(a), len(b))
				}
			}
			run(dst, "check", "--read-data")
			if a, b := run(src, "snapshots", "--json"), run(dst, "snapshots", "--json"); a != b {
				t.Errorf("snapshots differ:\n%s\n%s", a, b)
			}
		})
	}
	if ran == 0 {
		t.Skip("no test server variables set (S3_REPOSITORY, SFTP_REPOSITORY, REST_REPOSITORY)")
	}
}

// repoFiles returns "name:content" (content in hex) of every file of type
// ft in the repository at loc, sorted.
func repoFiles(t *testing.T, loc string, ft backend.FileType, opts connect.Options) []string {
	t.Helper()
	ctx := context.Background()
	be, err := connect.Open(ctx, loc, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer be.Close()
	var names []string
	if ft == backend.ConfigFile {
		names = []string{""}
	} else if err := be.List(ctx, ft, func(fi backend.FileInfo) error {
		names = append(names, fi.Name)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, n := range names {
		buf, err := backend.LoadAll(ctx, be, backend.Handle{Type: ft, Name: n})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%s:%x", n, buf))
	}
	slices.Sort(out)
	return out
}
