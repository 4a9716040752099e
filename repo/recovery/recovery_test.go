package recovery_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/arca-backup/arca/backend"
	"github.com/arca-backup/arca/backend/mem"
	"github.com/arca-backup/arca/crypto"
	"github.com/arca-backup/arca/repo"
	"github.com/arca-backup/arca/repo/model"
	"github.com/arca-backup/arca/repo/recovery"
)

const password = "recover test"

func saveTree(t *testing.T, w *repo.Writer, nodes ...*model.Node) model.ID {
	t.Helper()
	buf, err := model.EncodeTree(nodes)
	if err != nil {
		t.Fatal(err)
	}
	id, _, _, err := w.SaveBlob(context.Background(), model.TreeBlob, buf, model.ID{})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func dir(name string, subtree model.ID) *model.Node {
	return &model.Node{Name: name, Type: model.NodeTypeDir, Mode: 0o755, Subtree: &subtree}
}

func open(t *testing.T, be backend.Backend) *repo.Repository {
	t.Helper()
	r, err := repo.Open(context.Background(), be, password, repo.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	return r
}

// TestFindRootsAndSave builds two snapshots' trees, keeps the snapshot of
// one and loses the other's, also from the index: recover must find the
// lost root (in a pack no index lists) and only that one.
func TestFindRootsAndSave(t *testing.T) {
	ctx := context.Background()
	be := mem.New()
	r, err := repo.Create(ctx, be, password, repo.CreateOptions{Version: 2, KDFParams: &crypto.Params{N: 1024, R: 8, P: 1}})
	if err != nil {
		t.Fatal(err)
	}
	w, err := r.NewWriter(ctx, repo.WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	empty := saveTree(t, w)
	kept := saveTree(t, w, dir("a", empty))
	lost := saveTree(t, w, dir("b", saveTree(t, w, dir("c", empty))), &model.Node{Name: "f", Type: model.NodeTypeFile, Content: model.IDs{}})
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := r.SaveSnapshot(ctx, &model.Snapshot{Time: time.Now(), Tree: &kept, Paths: []string{"/kept"}}); err != nil {
		t.Fatal(err)
	}
	r.Close()
	// lose the index too: recover completes it from the packs
	for _, id := range w.IndexFiles() {
		if err := be.Remove(ctx, backend.Handle{Type: backend.IndexFile, Name: id.String()}); err != nil {
			t.Fatal(err)
		}
	}

	r = open(t, be)
	var stages []recovery.Stage
	roots, err := recovery.FindRoots(ctx, r, recovery.Events{
		Stage: func(s recovery.Stage, n int) {
			stages = append(stages, s)
			if s == recovery.StageLoadTrees && n != 4 {
				t.Errorf("load %d trees, want 4", n)
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(roots, model.IDs{lost}) {
		t.Fatalf("roots %v, want only %v", roots, lost.Str())
	}
	wantStages := []recovery.Stage{recovery.StageRepairIndex, recovery.StageLoadIndex, recovery.StageLoadTrees, recovery.StageLoadSnapshots, recovery.StageDone}
	if !slices.Equal(stages, wantStages) {
		t.Errorf("stages %v, want %v", stages, wantStages)
	}

	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	sn, err := recovery.Save(ctx, r, roots, recovery.Snapshot{Hostname: "host", Username: "user", UID: 7, GID: 8, Time: now}, repo.WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r = open(t, be)
	stored, err := r.LoadSnapshot(ctx, sn.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(stored.Paths, []string{"/recover"}) || !slices.Equal(stored.Tags, []string{"recovered"}) ||
		stored.Hostname != "host" || stored.Username != "user" || stored.UID != 7 || stored.GID != 8 ||
		!stored.Time.Equal(now) || stored.ProgramVersion != "" || stored.Summary != nil {
		t.Errorf("recovered snapshot %+v", stored)
	}
	if err := r.LoadIndex(ctx); err != nil {
		t.Fatal(err)
	}
	tree, err := r.LoadTree(ctx, *stored.Tree)
	if err != nil {
		t.Fatal(err)
	}
	if len(tree.Nodes) != 1 || tree.Nodes[0].Name != lost.Str() || *tree.Nodes[0].Subtree != lost ||
		tree.Nodes[0].Type != model.NodeTypeDir || tree.Nodes[0].Mode != 0o755 {
		t.Errorf("recovered tree %+v", tree.Nodes)
	}

	// the recovered snapshot references the lost tree: nothing is left
	roots, err = recovery.FindRoots(ctx, open(t, be), recovery.Events{})
	if err != nil {
		t.Fatal(err)
	}
	if len(roots) != 0 {
		t.Errorf("roots after recovering: %v", roots)
	}
}
