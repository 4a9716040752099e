package checker

import (
	"math/rand/v2"

	"github.com/arca-backup/arca/repo/model"
)

// MaxBuckets is the largest t for SelectBucket: packs are put into buckets
// by their ID's first byte.
const MaxBuckets = 256

// SelectBucket returns the packs of group n of t (1 ≤ n ≤ t ≤ MaxBuckets),
// restic's --read-data-subset n/t: a pack belongs to group n when its ID's
// first byte modulo t is n-1. Running 1/t … t/t reads every pack once.
func SelectBucket(packs map[model.ID]int64, n, t uint) map[model.ID]int64 {
	out := map[model.ID]int64{}
	for id, size := range packs {
		if uint(id[0])%t == n-1 {
			out[id] = size
		}
	}
	return out
}

// SelectPercentage returns a random percentage of the packs (at least one
// when there are any), restic's --read-data-subset x%.
func SelectPercentage(packs map[model.ID]int64, percentage float64, rng *rand.Rand) map[model.ID]int64 {
	n := int(float64(len(packs)) * percentage / 100)
	if len(packs) > 0 && n < 1 {
		n = 1
	}
	ids := make([]model.ID, 0, len(packs))
	for id := range packs {
		ids = append(ids, id)
	}
	sortIDs(ids)
	out := map[model.ID]int64{}
	for _, i := range rng.Perm(len(ids))[:min(n, len(ids))] {
		out[ids[i]] = packs[ids[i]]
	}
	return out
}

// SelectSize returns random packs making up about size bytes of the
// packs' total, restic's --read-data-subset with a size: the share of
// size in the total, as a percentage of the number of packs.
func SelectSize(packs map[model.ID]int64, size int64, rng *rand.Rand) map[model.ID]int64 {
	var total int64
	for _, s := range packs {
		total += s
	}
	if total == 0 {
		return packs
	}
	return SelectPercentage(packs, float64(min(size, total))/float64(total)*100, rng)
}
