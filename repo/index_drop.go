package repo

import "github.com/arca-backup/arca/repo/index"

// DropIndex forgets the in-memory index, so that the next LoadIndex reads
// the index files again: after an operation that deleted packs or index
// files (prune), or to see what other programs added since. Nothing may
// use the repository while it runs.
func (r *Repository) DropIndex() {
	r.idxMu.Lock()
	defer r.idxMu.Unlock()
	r.idx = index.New()
	r.idxLoaded = false
}
