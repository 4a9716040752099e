package engine

import (
	"testing"

	"github.com/arca-backup/arca/repo"
)

// TestLargeFileReaders: only --compression max, where data is compressed
// (repository version 2), reads large files with one reader.
func TestLargeFileReaders(t *testing.T) {
	for _, tc := range []struct {
		mode       repo.CompressionMode
		compresses bool
		want       int
	}{
		{repo.CompressionMax, true, 1},
		{repo.CompressionMax, false, 0}, // version 1: nothing is compressed
		{repo.CompressionAuto, true, 0},
		{repo.CompressionBetter, true, 0},
		{repo.CompressionOff, false, 0},
	} {
		if got := largeFileReaders(tc.mode, tc.compresses); got != tc.want {
			t.Errorf("largeFileReaders(%v, %v) = %d, want %d", tc.mode, tc.compresses, got, tc.want)
		}
	}
}
