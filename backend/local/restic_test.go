package local_test

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/arca-backup/arca/backend"
	"github.com/arca-backup/arca/backend/local"
)

// resticBin returns the restic binary named by RESTIC_BIN. Without it the
// test is skipped, except under CI=true where it fails.
func resticBin(t *testing.T) string {
	t.Helper()
	bin := os.Getenv("RESTIC_BIN")
	if bin == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("RESTIC_BIN is not set (required when CI=true)")
		}
		t.Skip("RESTIC_BIN not set")
	}
	return bin
}

func restic(t *testing.T, bin, repo string, args ...string) string {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"--repo", repo, "--no-cache"}, args...)...)
	cmd.Env = append(os.Environ(), "RESTIC_PASSWORD=secret", "RESTIC_CACHE_DIR="+t.TempDir())
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("restic %v: %v\nstdout:\n%s\nstderr:\n%s", args, err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

var allTypes = []backend.FileType{
	backend.ConfigFile, backend.KeyFile, backend.LockFile, backend.SnapshotFile, backend.IndexFile, backend.PackFile,
}

func listNames(t *testing.T, be backend.Backend, tpe backend.FileType) []string {
	t.Helper()
	var names []string
	err := be.List(context.Background(), tpe, func(fi backend.FileInfo) error {
		if fi.ModTime.IsZero() {
			t.Errorf("List(%v): %s has no ModTime", tpe, fi.Name)
		}
		names = append(names, fi.Name)
		return nil
	})
	if err != nil {
		t.Fatalf("List(%v): %v", tpe, err)
	}
	slices.Sort(names)
	return names
}

// TestResticRepository opens a repository made by restic, compares its
// directory tree and permissions with one made by Create, copies every
// file into it through the backend and lets restic check the copy.
func TestResticRepository(t *testing.T) {
	bin := resticBin(t)
	ctx := context.Background()
	base := t.TempDir()
	orig := filepath.Join(base, "restic")
	restic(t, bin, orig, "init")

	src, err := local.Open(ctx, orig)
	if err != nil {
		t.Fatalf("Open restic repository: %v", err)
	}
	keys := listNames(t, src, backend.KeyFile)
	if len(keys) != 1 {
		t.Fatalf("restic repository has keys %v, want one", keys)
	}
	cfg, err := src.Stat(ctx, backend.Handle{Type: backend.ConfigFile})
	if err != nil || cfg.Size == 0 || cfg.ModTime.IsZero() {
		t.Fatalf("Stat(config) = %+v, %v", cfg, err)
	}
	key, err := backend.LoadAll(ctx, src, backend.Handle{Type: backend.KeyFile, Name: keys[0]})
	if err != nil || !bytes.HasPrefix(key, []byte("{")) {
		t.Fatalf("key file: %q, %v", key, err)
	}

	// A repository made by Create has the same directories with the same modes.
	copyDir := filepath.Join(base, "arca")
	dst, err := local.Create(ctx, copyDir)
	if err != nil {
		t.Fatal(err)
	}
	wantDirs, gotDirs := tree(t, orig, false), tree(t, copyDir, false)
	delete(wantDirs, ".") // the top directory's mode depends on who made it
	delete(gotDirs, ".")
	if !mapsEqual(wantDirs, gotDirs) {
		t.Errorf("directory tree differs from restic's:\nrestic: %v\narca:   %v", wantDirs, gotDirs)
	}

	// Copy every file through the backend: same names, bytes and modes.
	for _, tpe := range allTypes {
		err := src.List(ctx, tpe, func(fi backend.FileInfo) error {
			h := backend.Handle{Type: tpe, Name: fi.Name}
			buf, err := backend.LoadAll(ctx, src, h)
			if err != nil {
				return err
			}
			return dst.Save(ctx, h, backend.NewByteReader(buf))
		})
		if err != nil {
			t.Fatalf("copy %v: %v", tpe, err)
		}
	}
	if want, got := tree(t, orig, true), tree(t, copyDir, true); !mapsEqual(withoutTop(want), withoutTop(got)) {
		t.Errorf("copied tree differs:\nrestic: %v\narca:   %v", want, got)
	}
	for _, tpe := range allTypes {
		if a, b := listNames(t, src, tpe), listNames(t, dst, tpe); !slices.Equal(a, b) {
			t.Errorf("List(%v): restic repo %v, copy %v", tpe, a, b)
		}
	}

	// restic reads the copy, then writes to it (a repository laid out by
	// Create); what it writes must be listed by the backend.
	restic(t, bin, copyDir, "cat", "config")
	data := filepath.Join(base, "data")
	if err := os.MkdirAll(data, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(data, "file"), bytes.Repeat([]byte("arca restic interop "), 100000), 0o644); err != nil {
		t.Fatal(err)
	}
	restic(t, bin, copyDir, "backup", "--host", "test", data)
	restic(t, bin, copyDir, "check", "--read-data")
	for _, kind := range []struct {
		tpe  backend.FileType
		name string
	}{{backend.PackFile, "packs"}, {backend.SnapshotFile, "snapshots"}, {backend.IndexFile, "index"}, {backend.KeyFile, "keys"}} {
		want := strings.Fields(restic(t, bin, copyDir, "list", kind.name))
		slices.Sort(want)
		if got := listNames(t, dst, kind.tpe); !slices.Equal(got, want) {
			t.Errorf("List(%v) = %v, restic list %s = %v", kind.tpe, got, kind.name, want)
		}
	}
	// Files restic wrote have the modes the backend uses.
	for p, mode := range tree(t, copyDir, true) {
		if mode.IsDir() {
			continue
		}
		if mode != 0o400 {
			t.Errorf("%s has mode %v after restic backup, want -r--------", p, mode)
		}
	}
}

func withoutTop(m map[string]fs.FileMode) map[string]fs.FileMode {
	delete(m, ".")
	return m
}

func mapsEqual(a, b map[string]fs.FileMode) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}
