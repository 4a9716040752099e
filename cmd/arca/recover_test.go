package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// Interop tests for recover: restic 0.19.1 and arca recover a deleted
// snapshot from identical copies of a repository; their output, the
// snapshot they write and its tree must agree, and restic must restore
// arca's.

var recoverSavedID = regexp.MustCompile(`(?m)^saved new snapshot [0-9a-f]{8}$`)

func normalizeRecoverOut(b []byte) string {
	return recoverSavedID.ReplaceAllString(normalizeCheckOut(string(b)), "saved new snapshot <id>")
}

// recoveredSnapshot returns the snapshot tagged "recovered" (restic's
// `snapshots --json` view of it).
func recoveredSnapshot(t *testing.T, r interopRepo) map[string]any {
	t.Helper()
	res := r.restic(t, "snapshots", "--json", "--tag", "recovered")
	if res.exit != 0 {
		t.Fatalf("restic snapshots: exit %d\n%s", res.exit, res.stderr)
	}
	var list []map[string]any
	if err := json.Unmarshal(res.stdout, &list); err != nil {
		t.Fatalf("restic snapshots --json: %v\n%s", err, res.stdout)
	}
	if len(list) != 1 {
		t.Fatalf("want one recovered snapshot, got %d:\n%s", len(list), res.stdout)
	}
	return list[0]
}

// recoveredNodes returns the nodes of a recovered snapshot's tree, without
// their times (restic stamps them with the time of the run).
func recoveredNodes(t *testing.T, r interopRepo, tree string) []map[string]any {
	t.Helper()
	res := r.restic(t, "cat", "blob", tree)
	if res.exit != 0 {
		t.Fatalf("restic cat blob %s: exit %d\n%s", tree, res.exit, res.stderr)
	}
	var decoded struct {
		Nodes []map[string]any `json:"nodes"`
	}
	if err := json.Unmarshal(res.stdout, &decoded); err != nil {
		t.Fatalf("tree %s: %v", tree, err)
	}
	for _, n := range decoded.Nodes {
		for _, k := range []string{"mtime", "atime", "ctime"} {
			if _, ok := n[k]; !ok {
				t.Errorf("tree %s: node %v has no %s", tree, n["name"], k)
			}
			delete(n, k)
		}
	}
	return decoded.Nodes
}

func TestRecoverInterop(t *testing.T) {
	resticBin(t)
	t.Parallel()
	f := resticRepoFixture(t, resticRepoOptions{Version: 2, Compression: "auto", Snapshots: 3})
	latest := f.Snapshots[len(f.Snapshots)-1].ID

	t.Run("nothing to recover", func(t *testing.T) {
		t.Parallel()
		rr := newInteropRepo(t, checkCopy(t, f.Repo), f.Password)
		ar := newInteropRepo(t, checkCopy(t, f.Repo), f.Password)
		want, got := rr.restic(t, "recover"), ar.arca(t, "recover")
		if want.exit != 0 || got.exit != 0 {
			t.Fatalf("recover: exit restic %d, arca %d\n%s", want.exit, got.exit, got.stderr)
		}
		if w, g := normalizeRecoverOut(want.stdout), normalizeRecoverOut(got.stdout); w != g {
			t.Errorf("recover: stdout differs\n%s", lineDiff(w, g))
		}
		if !strings.Contains(string(got.stdout), "found 0 unreferenced roots\nno snapshot to write.\n") {
			t.Errorf("arca recovered something from a repository that lacks nothing:\n%s", got.stdout)
		}
		if string(got.stderr) != string(want.stderr) {
			t.Errorf("stderr: restic %q, arca %q", want.stderr, got.stderr)
		}
	})

	t.Run("deleted snapshot", func(t *testing.T) {
		t.Parallel()
		resticDir := checkCopy(t, f.Repo)
		if err := os.Remove(filepath.Join(resticDir, "snapshots", latest)); err != nil {
			t.Fatal(err)
		}
		arcaDir := checkCopy(t, resticDir)
		rr, ar := newInteropRepo(t, resticDir, f.Password), newInteropRepo(t, arcaDir, f.Password)
		var orig struct {
			Tree string `json:"tree"`
		}
		if err := json.Unmarshal(mustRestic(t, f.Env(), "cat", "snapshot", latest), &orig); err != nil {
			t.Fatal(err)
		}

		args := []string{"recover", "-v"}
		want, got := rr.restic(t, args...), ar.arca(t, args...)
		if want.exit != 0 || got.exit != 0 {
			t.Fatalf("recover: exit restic %d, arca %d\nrestic:\n%s\narca:\n%s", want.exit, got.exit, want.stderr, got.stderr)
		}
		if !strings.Contains(string(want.stdout), "found 1 unreferenced roots") {
			// restic 0.19.1 fails to write a tree of several roots unless
			// they come out of its map in order; the test needs one root
			t.Fatalf("restic found more than the deleted snapshot's tree:\n%s", want.stdout)
		}
		if w, g := normalizeRecoverOut(want.stdout), normalizeRecoverOut(got.stdout); w != g {
			t.Errorf("recover: stdout differs\n%s", lineDiff(w, g))
		}
		if !strings.Contains(string(got.stdout), "found root tree "+orig.Tree[:8]+"\n") {
			t.Errorf("arca did not find the deleted snapshot's tree %s:\n%s", orig.Tree[:8], got.stdout)
		}
		if string(got.stderr) != string(want.stderr) {
			t.Errorf("stderr: restic %q, arca %q", want.stderr, got.stderr)
		}

		// the same snapshot, apart from its time and tree (whose nodes
		// carry the time of the run)
		ws, gs := recoveredSnapshot(t, rr), recoveredSnapshot(t, ar)
		recoveredID := gs["id"].(string)
		wantNodes, gotNodes := recoveredNodes(t, rr, ws["tree"].(string)), recoveredNodes(t, ar, gs["tree"].(string))
		for _, sn := range []map[string]any{ws, gs} {
			for _, k := range []string{"time", "tree", "id", "short_id"} {
				delete(sn, k)
			}
		}
		wj, _ := json.Marshal(ws)
		gj, _ := json.Marshal(gs)
		if string(wj) != string(gj) {
			t.Errorf("recovered snapshot differs\nrestic: %s\narca:   %s", wj, gj)
		}
		wn, _ := json.Marshal(wantNodes)
		gn, _ := json.Marshal(gotNodes)
		if string(wn) != string(gn) {
			t.Errorf("recovered tree differs\nrestic: %s\narca:   %s", wn, gn)
		}
		if len(gotNodes) != 1 || gotNodes[0]["subtree"] != orig.Tree || gotNodes[0]["name"] != orig.Tree[:8] {
			t.Errorf("recovered tree: want one directory %s with subtree %s, got %s", orig.Tree[:8], orig.Tree, gn)
		}

		// restic accepts arca's repository and restores the lost tree
		if res := ar.restic(t, "check", "--read-data"); res.exit != 0 {
			t.Errorf("restic check after arca's recover: exit %d\n%s", res.exit, res.stderr)
		}
		target := t.TempDir()
		if res := ar.restic(t, "restore", recoveredID, "--target", target); res.exit != 0 {
			t.Fatalf("restic restore: exit %d\n%s", res.exit, res.stderr)
		}
		// the fixture backs up the relative path "src"
		compareTrees(t, f.Source, filepath.Join(target, orig.Tree[:8], "src"), compareOptions{IgnoreRootMeta: true})
	})

	t.Run("wrong password", func(t *testing.T) {
		t.Parallel()
		r := newInteropRepo(t, checkCopy(t, f.Repo), "wrong")
		want, got := r.restic(t, "recover"), r.arca(t, "recover")
		compareExact(t, []string{"recover"}, want, got)
		if got.exit != 12 {
			t.Errorf("exit %d, want 12", got.exit)
		}
	})
}
