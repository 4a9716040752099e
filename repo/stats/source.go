package stats

import (
	"context"
	"crypto/sha256"
	"sync"

	"github.com/arca-backup/arca/repo"
	"github.com/arca-backup/arca/repo/model"
	"github.com/arca-backup/arca/repo/walker"
)

// contentKey hashes a content list; every item without content (also
// directories) has the same key.
func contentKey(ids model.IDs) fileKey {
	h := sha256.New()
	for _, id := range ids {
		h.Write(id[:])
	}
	var k fileKey
	h.Sum(k[:0])
	return k
}

// RepoSource reads trees through a caching, prefetching tree loader and
// blob locations from the repository's loaded index.
type RepoSource struct {
	r     *repo.Repository
	trees *walker.TreeLoader
}

var _ Prefetcher = (*RepoSource)(nil)

// NewRepoSource returns a Source for r; r's index must be loaded.
func NewRepoSource(r *repo.Repository) *RepoSource {
	return &RepoSource{r: r, trees: walker.NewTreeLoader(r, walker.LoaderOptions{})}
}

// LoadTree loads a tree (from the cache when it is there).
func (s *RepoSource) LoadTree(ctx context.Context, id model.ID) (*model.Tree, error) {
	return s.trees.Load(ctx, id)
}

// LookupBlob returns the stored copies of a blob.
func (s *RepoSource) LookupBlob(h model.BlobHandle) []model.PackedBlob {
	return s.r.Index().Lookup(h)
}

// Prefetch loads trees in the background.
func (s *RepoSource) Prefetch(ctx context.Context, wg *sync.WaitGroup, ids ...model.ID) {
	s.trees.Prefetch(ctx, wg, ids...)
}
