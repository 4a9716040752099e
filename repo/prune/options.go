package prune

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/arca-backup/arca/repo"
	"github.com/arca-backup/arca/repo/model"
)

// NoLimit as MaxRepackBytes means the amount of data to repack is not
// limited.
const NoLimit = math.MaxUint64

// Options tune a prune run. The zero value is not ready to use: start from
// DefaultOptions.
type Options struct {
	// DryRun plans and reports but changes nothing.
	DryRun bool
	// UnsafeRecovery (restic's --unsafe-recover-no-free-space) repacks
	// nothing and deletes all index files before deleting packs, writing
	// the new index last, so that a repository with no free space can be
	// pruned.
	UnsafeRecovery bool

	// MaxUnused returns how many unused bytes may remain after pruning,
	// given the bytes in use (--max-unused).
	MaxUnused func(used uint64) uint64
	// MaxRepackBytes stops repacking once this much data was selected
	// (--max-repack-size; NoLimit for none).
	MaxRepackBytes uint64
	// SmallPackBytes: packs below this size are repacked
	// (--repack-smaller-than; 0: 80% of the small packs' percentile, as
	// restic computes it).
	SmallPackBytes uint64
	// RepackCacheableOnly repacks tree packs only.
	RepackCacheableOnly bool
	// RepackUncompressed repacks packs holding uncompressed blobs
	// (repository version 2 only).
	RepackUncompressed bool

	// IgnoreSnapshots are left out when finding the data in use (forget
	// --prune --dry-run passes the snapshots it would have removed).
	IgnoreSnapshots model.IDSet

	// Write tunes the writer of repacked packs (compression, pack size).
	// Its PackSize is also the repository's pack size for the check of
	// SmallPackBytes.
	Write repo.WriteOptions
}

// DefaultOptions returns restic's defaults: at most 5% unused data, no
// repack limit.
func DefaultOptions() Options {
	return Options{MaxUnused: UnusedPercent(5), MaxRepackBytes: NoLimit}
}

// UnusedPercent tolerates unused data up to p percent of the repository
// after pruning (0 <= p < 100).
func UnusedPercent(p float64) func(uint64) uint64 {
	return func(used uint64) uint64 { return uint64(p / (100 - p) * float64(used)) }
}

// UnusedBytes tolerates n unused bytes.
func UnusedBytes(n uint64) func(uint64) uint64 {
	return func(uint64) uint64 { return n }
}

// UnusedUnlimited tolerates any amount of unused data.
func UnusedUnlimited() func(uint64) uint64 {
	return func(uint64) uint64 { return math.MaxUint64 }
}

// ParseMaxUnused parses a --max-unused value: "unlimited", a percentage
// ("5%") or a size with an optional k/m/g/t suffix. Errors carry restic's
// wording.
func ParseMaxUnused(s string) (func(uint64) uint64, error) {
	v := strings.TrimSpace(s)
	switch {
	case v == "":
		return nil, fmt.Errorf("invalid value for --max-unused: %q", s)
	case v == "unlimited":
		return UnusedUnlimited(), nil
	case strings.HasSuffix(v, "%"):
		p, err := strconv.ParseFloat(strings.TrimSuffix(v, "%"), 64)
		if err != nil {
			return nil, fmt.Errorf("invalid percentage %q passed for --max-unused: %v", s, err)
		}
		if p < 0 {
			return nil, errors.New("percentage for --max-unused must be positive")
		}
		if p >= 100 {
			return nil, errors.New("percentage for --max-unused must be below 100%")
		}
		return UnusedPercent(p), nil
	}
	n, err := ParseSize(v)
	if err != nil {
		return nil, fmt.Errorf("invalid number of bytes %q for --max-unused: %v", s, err)
	}
	return UnusedBytes(uint64(n)), nil
}

// ParseSize parses restic's size strings: a whole number with an optional
// b/k/m/g/t suffix (powers of 1024).
func ParseSize(s string) (int64, error) {
	if s == "" {
		return 0, errors.New("expected size, got empty string")
	}
	num, unit := s[:len(s)-1], uint64(1)
	switch s[len(s)-1] {
	case 'b', 'B':
	case 'k', 'K':
		unit = 1 << 10
	case 'm', 'M':
		unit = 1 << 20
	case 'g', 'G':
		unit = 1 << 30
	case 't', 'T':
		unit = 1 << 40
	default:
		num = s
	}
	v, err := strconv.ParseInt(num, 10, 64)
	if err != nil {
		return 0, err
	}
	if v < 0 || (v > 0 && uint64(v) > math.MaxInt64/unit) {
		return 0, fmt.Errorf("ParseSize: %q: %w", num, strconv.ErrRange)
	}
	return v * int64(unit), nil
}
