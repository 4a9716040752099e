package diff

import (
	"context"
	"sync"

	"github.com/arca-backup/arca/repo"
	"github.com/arca-backup/arca/repo/model"
	"github.com/arca-backup/arca/repo/walker"
)

// RepoSource reads trees through a caching, prefetching tree loader and
// blob sizes from the repository's loaded index.
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

// BlobSize returns a blob's plaintext size from the index.
func (s *RepoSource) BlobSize(h model.BlobHandle) (uint, bool) {
	return s.r.Index().Size(h)
}

// Prefetch loads trees in the background.
func (s *RepoSource) Prefetch(ctx context.Context, wg *sync.WaitGroup, ids ...model.ID) {
	s.trees.Prefetch(ctx, wg, ids...)
}
