package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/arca-backup/arca/backend/local"
	"github.com/arca-backup/arca/lock"
	"github.com/arca-backup/arca/repo"
)

// resticList returns restic's `list <kind>` output lines, sorted.
func resticList(t testing.TB, r interopRepo, kind string) []string {
	t.Helper()
	out := r.restic(t, "list", kind)
	if out.exit != 0 {
		t.Fatalf("restic list %s: %s", kind, out.stderr)
	}
	return strings.Fields(string(sortLines(out.stdout)))
}

// firstBlobs returns the first data and tree blob IDs of restic's
// `list blobs` (sorted).
func firstBlobs(t testing.TB, r interopRepo) (data, tree string) {
	t.Helper()
	out := r.restic(t, "list", "blobs")
	for _, line := range strings.Split(string(sortLines(out.stdout)), "\n") {
		if id, ok := strings.CutPrefix(line, "data "); ok && data == "" {
			data = id
		}
		if id, ok := strings.CutPrefix(line, "tree "); ok && tree == "" {
			tree = id
		}
	}
	if data == "" || tree == "" {
		t.Fatalf("restic list blobs: no data or no tree blob:\n%s", out.stdout)
	}
	return data, tree
}

func TestCatInterop(t *testing.T) {
	resticBin(t)
	for _, opts := range fixtureOptionSets[:2] {
		t.Run(opts.String(), func(t *testing.T) {
			t.Parallel()
			f := resticRepoFixture(t, opts)
			r := newInteropRepo(t, f.Repo, f.Password)
			keys := resticList(t, r, "keys")
			indexes := resticList(t, r, "index")
			packs := resticList(t, r, "packs")
			dataBlob, treeBlob := firstBlobs(t, r)
			snap := f.Snapshots[len(f.Snapshots)-1].ID
			first := f.Snapshots[0].ID
			full := opts.Version == 1 // the second format gets the main cases only

			ok := [][]string{
				{"cat", "config"},
				{"cat", "masterkey"},
				{"cat", "key", keys[0]},
				{"cat", "snapshot", snap},
				{"cat", "tree", snap + ":src"},
				{"cat", "blob", dataBlob},
				{"cat", "blob", treeBlob},
				{"cat", "pack", packs[0]},
			}
			if full {
				ok = append(ok,
					[]string{"cat", "snapshot", first[:7]},
					[]string{"cat", "tree", snap},
					[]string{"cat", "tree", first[:8] + ":/src/text/"},
					[]string{"-q", "cat", "config"},
					[]string{"--json", "cat", "snapshot", snap},
				)
			}
			for _, id := range indexes {
				ok = append(ok, []string{"cat", "index", id})
			}
			for _, args := range ok {
				want, got := r.both(t, args...)
				if want.exit != 0 {
					t.Fatalf("restic %v: %s", args, want.stderr)
				}
				compareExact(t, args, want, got)
			}

			failing := [][]string{
				{"cat"},
				{"cat", "foo"},
				{"cat", "index"},
				{"cat", "index", "abcd"},
				{"cat", "key", strings.Repeat("zz", 32)},
				{"cat", "blob", strings.Repeat("00", 32)},
				{"cat", "tree", "latest"},
				{"cat", "snapshot", "deadbeef"},
				{"cat", "tree", snap + ":src/does-not-exist"},
				{"cat", "tree", snap + ":src/text/lorem.txt"},
				{"--json", "cat", "snapshot", "deadbeef"},
			}
			if !full {
				failing = failing[:0]
			}
			for _, args := range failing {
				want, got := r.both(t, args...)
				if want.exit == 0 {
					t.Fatalf("restic %v succeeded", args)
				}
				compareExact(t, args, want, got)
			}
		})
	}
}

// TestCatLock writes a lock file with arca's engine into a copy of a
// repository and prints it with both programs.
func TestCatLock(t *testing.T) {
	t.Parallel()
	src := makeMultiPathRepo(t)
	r := newInteropRepo(t, copyDir(t, src.repo), src.password)

	ctx := context.Background()
	be, err := local.Open(ctx, r.repo)
	if err != nil {
		t.Fatal(err)
	}
	defer be.Close()
	rp, err := repo.Open(ctx, be, r.password, repo.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer rp.Close()
	lk := lock.Lock{
		Time:      time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.UTC),
		Exclusive: true,
		Hostname:  "lock-host",
		Username:  "locker",
		PID:       4242,
		UID:       1000,
	}
	buf, err := lk.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	id, err := rp.SaveLock(ctx, buf)
	if err != nil {
		t.Fatal(err)
	}

	for _, args := range [][]string{
		{"--no-lock", "cat", "lock", id},
		{"list", "locks"},
	} {
		want, got := r.both(t, args...)
		if want.exit != 0 {
			t.Fatalf("restic %v: %s", args, want.stderr)
		}
		compareExact(t, args, want, got)
	}
	out := r.arca(t, "--no-lock", "cat", "lock", id)
	var back lock.Lock
	if err := json.Unmarshal(out.stdout, &back); err != nil || back != lk {
		t.Errorf("cat lock printed %s (%v), want the lock %+v", out.stdout, err, lk)
	}
	if !bytes.Contains(out.stdout, []byte("\n  \"exclusive\": true,\n")) {
		t.Errorf("cat lock is not indented JSON:\n%s", out.stdout)
	}
}

// TestCatPackDamaged: a pack whose content does not match its name is
// printed anyway, with restic's warning.
func TestCatPackDamaged(t *testing.T) {
	t.Parallel()
	src := makeMultiPathRepo(t)
	r := newInteropRepo(t, copyDir(t, src.repo), src.password)
	packs := resticList(t, r, "packs")
	p := filepath.Join(r.repo, "data", packs[0][:2], packs[0])
	corruptFile(t, p)
	args := []string{"cat", "pack", packs[0]}
	want, got := r.both(t, args...)
	compareExact(t, args, want, got)
}
