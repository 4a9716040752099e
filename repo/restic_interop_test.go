package repo_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/arca-backup/arca/backend"
	"github.com/arca-backup/arca/backend/local"
	"github.com/arca-backup/arca/repo"
	"github.com/arca-backup/arca/repo/model"
)

const testPassword = "interop-password"

func resticBinary(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("RESTIC_BIN"); p != "" {
		return p
	}
	if p, err := exec.LookPath("restic"); err == nil {
		return p
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("restic binary not found (set RESTIC_BIN)")
	}
	t.Skip("restic binary not found (set RESTIC_BIN)")
	return ""
}

// resticRepo makes a repository with restic: version, compression, and
// two snapshots of a generated tree. It returns the repo directory and the
// source files by relative path.
func resticRepo(t *testing.T, version, compression string) (string, map[string][]byte) {
	t.Helper()
	bin := resticBinary(t)
	dir := t.TempDir()
	repoDir := filepath.Join(dir, "repo")
	src := filepath.Join(dir, "src")
	files := map[string][]byte{}
	rng := rand.New(rand.NewPCG(11, 12))
	add := func(name string, data []byte) {
		p := filepath.Join(src, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		files[name] = data
	}
	big := make([]byte, 9<<20)
	for i := range big {
		big[i] = byte(rng.Uint32())
	}
	add("big.bin", big)
	add("text.txt", bytes.Repeat([]byte("compressible text line\n"), 20000))
	add("empty", nil)
	for i := 0; i < 30; i++ {
		add(filepath.Join("sub", "deeper", "f"+string(rune('a'+i%26))+strings.Repeat("x", i/26)), []byte(strings.Repeat("y", i*10)))
	}
	runResticCmd(t, bin, repoDir, "init", "--repository-version", version)
	repo.CheapenKey(t, repoDir, testPassword)
	runResticCmd(t, bin, repoDir, "backup", "--compression", compression, "--host", "h1", src)
	add("later.txt", []byte("second snapshot"))
	runResticCmd(t, bin, repoDir, "backup", "--compression", compression, "--host", "h2", "--tag", "t1", src)
	return repoDir, files
}

func runResticCmd(t *testing.T, bin, repoDir string, args ...string) {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"-r", repoDir, "--no-cache", "-q"}, args...)...)
	cmd.Env = append(os.Environ(), "RESTIC_PASSWORD="+testPassword)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("restic %v: %v\n%s", args, err, out)
	}
}

func openRepo(t *testing.T, dir, password string) (*repo.Repository, error) {
	t.Helper()
	be, err := local.Open(context.Background(), dir)
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { be.Close() })
	r, err := repo.Open(context.Background(), be, password, repo.OpenOptions{})
	if err == nil {
		t.Cleanup(r.Close)
	}
	return r, err
}

// readFile reassembles a file from its content blobs.
func readFile(ctx context.Context, t *testing.T, r *repo.Repository, n *model.Node) []byte {
	var out []byte
	for _, id := range n.Content {
		buf, err := r.LoadBlob(ctx, model.DataBlob, id, nil)
		if err != nil {
			t.Fatalf("load %s: %v", n.Name, err)
		}
		out = append(out, buf...)
	}
	return out
}

func walk(ctx context.Context, t *testing.T, r *repo.Repository, id model.ID, prefix string, fn func(path string, n *model.Node)) {
	tree, err := r.LoadTree(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range tree.Nodes {
		p := prefix + "/" + n.Name
		fn(p, n)
		if n.Type == model.NodeTypeDir {
			walk(ctx, t, r, *n.Subtree, p, fn)
		}
	}
}

func TestReadResticRepositories(t *testing.T) {
	for _, c := range []struct{ version, compression string }{{"1", "off"}, {"2", "off"}, {"2", "auto"}, {"2", "max"}} {
		t.Run("v"+c.version+"-"+c.compression, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			dir, files := resticRepo(t, c.version, c.compression)
			r, err := openRepo(t, dir, testPassword)
			if err != nil {
				t.Fatal(err)
			}
			if got := r.Config().Version; got != uint(c.version[0]-'0') {
				t.Fatalf("config version %d, want %s", got, c.version)
			}
			if err := r.LoadIndex(ctx); err != nil {
				t.Fatal(err)
			}
			sns, err := r.Snapshots(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(sns) != 2 || sns[0].Hostname != "h1" || sns[1].Hostname != "h2" || !sns[1].HasTags([]string{"t1"}) {
				t.Fatalf("unexpected snapshots: %+v", sns)
			}
			latest, err := repo.FindSnapshot(ctx, r, sns, "latest", repo.SnapshotFilter{Hosts: []string{"h1"}})
			if err != nil || latest.Snapshot.ID != sns[0].ID {
				t.Fatalf("latest for h1: %v %v", latest.Snapshot, err)
			}
			byPrefix, err := repo.FindSnapshot(ctx, r, sns, sns[1].ID.Str()+":/sub", repo.SnapshotFilter{})
			if err != nil || byPrefix.Snapshot.ID != sns[1].ID || byPrefix.Subfolder != "/sub" {
				t.Fatalf("prefix lookup: %+v %v", byPrefix, err)
			}

			seen := map[string]bool{}
			walk(ctx, t, r, *sns[1].Tree, "", func(p string, n *model.Node) {
				if n.Type != model.NodeTypeFile {
					return
				}
				i := strings.Index(p, "/src/")
				if i < 0 {
					t.Fatalf("unexpected path %s", p)
				}
				rel := p[i+5:]
				want, ok := files[rel]
				if !ok {
					t.Fatalf("unexpected file %s", rel)
				}
				if got := readFile(ctx, t, r, n); sha256.Sum256(got) != sha256.Sum256(want) {
					t.Fatalf("%s: content differs (%d vs %d bytes)", rel, len(got), len(want))
				}
				seen[rel] = true
			})
			if len(seen) != len(files) {
				t.Fatalf("saw %d files, want %d", len(seen), len(files))
			}
			// pack headers agree with the index
			packs := 0
			err = r.List(ctx, backend.PackFile, func(id model.ID, size int64) error {
				blobs, _, err := r.ListPack(ctx, id, size)
				if err != nil {
					return err
				}
				for _, b := range blobs {
					found := false
					for _, pb := range r.Index().Lookup(b.BlobHandle) {
						if pb.PackID == id && pb.Blob == b {
							found = true
						}
					}
					if !found {
						t.Errorf("pack %s: blob %v not in index as %+v", id.Str(), b.BlobHandle, b)
					}
				}
				packs++
				return nil
			})
			if err != nil || packs == 0 {
				t.Fatalf("packs: %d, %v", packs, err)
			}
		})
	}
}

func TestOpenErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir, _ := resticRepo(t, "2", "auto")

	if _, err := openRepo(t, dir, "wrong"); !errors.Is(err, repo.ErrWrongPassword) {
		t.Fatalf("wrong password: got %v", err)
	}
	if _, err := openRepo(t, filepath.Join(dir, "nothing-here"), testPassword); !errors.Is(err, repo.ErrNoRepository) {
		t.Fatalf("missing repository: got %v", err)
	}

	firstFile := func(sub string) string {
		var found string
		_ = filepath.WalkDir(filepath.Join(dir, sub), func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() && found == "" {
				found = p
			}
			return nil
		})
		return found
	}
	damage := func(p string, how string) func() {
		orig, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		_ = os.Chmod(p, 0o600)
		bad := append([]byte(nil), orig...)
		switch how {
		case "flip":
			bad[len(bad)/2] ^= 0x10
		case "truncate":
			bad = bad[:len(bad)/2]
		}
		if err := os.WriteFile(p, bad, 0o600); err != nil {
			t.Fatal(err)
		}
		return func() { _ = os.WriteFile(p, orig, 0o600) }
	}

	for _, how := range []string{"flip", "truncate"} {
		snap := firstFile("snapshots")
		undo := damage(snap, how)
		r, err := openRepo(t, dir, testPassword)
		if err != nil {
			t.Fatal(err)
		}
		_, err = r.Snapshots(ctx, nil)
		if err == nil || !strings.Contains(err.Error(), filepath.Base(snap)) {
			t.Fatalf("%s snapshot: error %v does not name %s", how, err, filepath.Base(snap))
		}
		undo()

		idx := firstFile("index")
		undo = damage(idx, how)
		r, _ = openRepo(t, dir, testPassword)
		err = r.LoadIndex(ctx)
		if err == nil || !strings.Contains(err.Error(), filepath.Base(idx)) {
			t.Fatalf("%s index: error %v does not name %s", how, err, filepath.Base(idx))
		}
		undo()
	}

	// a damaged pack: every blob in it fails with an error naming the pack
	r, _ := openRepo(t, dir, testPassword)
	if err := r.LoadIndex(ctx); err != nil {
		t.Fatal(err)
	}
	var victim model.PackedBlob
	r.Index().Each(func(pb model.PackedBlob) bool {
		if pb.Type == model.DataBlob && pb.Length > 1000 {
			victim = pb
			return false
		}
		return true
	})
	packPath := filepath.Join(dir, "data", victim.PackID.String()[:2], victim.PackID.String())
	orig, _ := os.ReadFile(packPath)
	_ = os.Chmod(packPath, 0o600)
	bad := append([]byte(nil), orig...)
	bad[victim.Offset+victim.Length/2] ^= 1
	if err := os.WriteFile(packPath, bad, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := r.LoadBlob(ctx, model.DataBlob, victim.ID, nil)
	if err == nil || !strings.Contains(err.Error(), victim.PackID.String()) {
		t.Fatalf("damaged pack: error %v does not name pack %s", err, victim.PackID)
	}
}

// TestSaveUnpackedReadByRestic writes a snapshot file with arca and checks
// that restic lists and prints it (proving encryption, compression and
// naming match).
func TestSaveUnpackedReadByRestic(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir, _ := resticRepo(t, "2", "auto")
	r, err := openRepo(t, dir, testPassword)
	if err != nil {
		t.Fatal(err)
	}
	sns, err := r.Snapshots(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	sn := *sns[0]
	sn.Tags = []string{"written-by-arca"}
	buf, _ := json.Marshal(&sn)
	id, err := r.SaveUnpacked(ctx, backend.SnapshotFile, buf)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(resticBinary(t), "-r", dir, "--no-cache", "cat", "snapshot", id.String())
	cmd.Env = append(os.Environ(), "RESTIC_PASSWORD="+testPassword)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "written-by-arca") {
		t.Fatalf("restic cat snapshot %s: %v\n%s", id.Str(), err, out)
	}
	got, err := r.LoadSnapshot(ctx, id)
	if err != nil || !got.HasTags([]string{"written-by-arca"}) {
		t.Fatalf("reload: %v %+v", err, got)
	}
}
