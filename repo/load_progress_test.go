package repo

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/arca-backup/arca/backend/mem"
	"github.com/arca-backup/arca/repo/index"
	"github.com/arca-backup/arca/repo/model"
)

// progressRecorder is an IndexProgress that records its calls and notes
// calls that overlap.
type progressRecorder struct {
	inside  atomic.Int32
	overlap atomic.Bool
	calls   []string
}

func (p *progressRecorder) progress(done, total int) {
	if p.inside.Add(1) > 1 {
		p.overlap.Store(true)
	}
	p.calls = append(p.calls, fmt.Sprintf("%d/%d", done, total))
	p.inside.Add(-1)
}

func (p *progressRecorder) check(t *testing.T, what string, files int) {
	t.Helper()
	want := []string{fmt.Sprintf("0/%d", files)}
	for i := 1; i <= files; i++ {
		want = append(want, fmt.Sprintf("%d/%d", i, files))
	}
	if fmt.Sprint(p.calls) != fmt.Sprint(want) || p.overlap.Load() {
		t.Errorf("%s: progress calls %v (overlapping: %v), want %v", what, p.calls, p.overlap.Load(), want)
	}
}

func TestIndexProgress(t *testing.T) {
	ctx := context.Background()
	be := mem.New()
	r := wtMemRepo(t, 2, be)
	const files = 6
	for i := range files {
		w, err := r.NewWriter(ctx, WriteOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, _, err := w.SaveBlob(ctx, model.DataBlob, []byte(fmt.Sprintf("blob %d", i)), model.ID{}); err != nil {
			t.Fatal(err)
		}
		if err := w.Flush(ctx); err != nil { // one index file each
			t.Fatal(err)
		}
	}

	var load progressRecorder
	r2, err := Open(ctx, be, wtPassword, OpenOptions{IndexProgress: load.progress})
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	for range 2 { // the second call loads nothing
		if err := r2.LoadIndex(ctx); err != nil {
			t.Fatal(err)
		}
	}
	load.check(t, "LoadIndex", files)

	var walk progressRecorder
	seen := 0
	err = r2.ForEachIndexFile(ctx, walk.progress, func(model.ID, *index.File, error) error {
		seen++
		return nil
	})
	if err != nil || seen != files {
		t.Fatalf("ForEachIndexFile: %d files, %v", seen, err)
	}
	walk.check(t, "ForEachIndexFile", files)
}
