package chunker

import (
	"runtime"
	"sync"
)

// Cut returns the length of the chunk that starts at data[0].
//
// If the chunk ends inside data, Cut returns its length and true. If it does
// not (data is shorter than MaxSize and holds no boundary), Cut returns the
// whole length and true when final is set (data is the end of the stream),
// and 0 and false otherwise: the caller must supply more data. Cut never
// returns true with length 0, so empty data yields (0, false).
func (t *Table) Cut(data []byte, final bool) (int, bool) {
	return t.cutFrom(data, t.lim.min, final)
}

// cutFrom is Cut for a chunk whose positions below from are known not to
// be boundaries.
func (t *Table) cutFrom(data []byte, from int, final bool) (int, bool) {
	lim := &t.lim
	if from < lim.min {
		from = lim.min
	}
	hi := len(data)
	if hi > lim.max {
		hi = lim.max
	}
	if from <= hi {
		if p := t.scan(data, from, hi); p >= 0 {
			return p, true
		}
	}
	if len(data) >= lim.max {
		return lim.max, true
	}
	if final && len(data) > 0 {
		return len(data), true
	}
	return 0, false
}

// Cuts appends to cuts the end offsets of the chunks of data, which must
// begin at a chunk boundary, and returns the extended slice. Offsets are
// relative to data[0] and increasing; consecutive offsets delimit one chunk.
//
// If final is false, data is a window of a longer stream: the bytes after
// the last returned offset form an incomplete chunk that the caller keeps,
// moves to the front of its buffer, and passes again together with the next
// bytes of the stream (they are re-scanned, at most MaxSize bytes per call).
// If final is true, the last offset is len(data).
//
// Cuts neither copies nor modifies data and allocates only to grow cuts.
func (t *Table) Cuts(data []byte, final bool, cuts []int) []int {
	pos := 0
	for pos < len(data) {
		n, ok := t.Cut(data[pos:], final)
		if !ok {
			break
		}
		pos += n
		cuts = append(cuts, pos)
	}
	return cuts
}

// CutsParallel is Cuts using up to workers goroutines (GOMAXPROCS when
// workers <= 0). It returns the same offsets as Cuts.
//
// data is split into equal parts aligned to MinSize. Each part after the
// first is chunked speculatively as if a chunk began at its start. Because
// boundaries are content-defined, the true chunk sequence, continued from
// the previous part, soon lands on one of the speculative boundaries; from
// there on both sequences are identical and the speculative one is adopted.
// The catch-up between parts (typically one or two chunks) runs serially,
// and if a part never resynchronises (e.g. periodic data) the true sequence
// is simply computed serially through it, so the result is always exact.
func (t *Table) CutsParallel(data []byte, final bool, cuts []int, workers int) []int {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	align := t.lim.min
	partLen := (len(data)/workers + align - 1) / align * align
	if workers < 2 || partLen < 4*t.lim.max {
		return t.Cuts(data, final, cuts)
	}
	var starts []int
	for s := 0; s < len(data); s += partLen {
		starts = append(starts, s)
	}
	// spec[i] holds the chunk ends of the chain starting at starts[i];
	// chains of inner parts stop at the last boundary inside their part.
	spec := make([][]int, len(starts))
	var wg sync.WaitGroup
	for i := 1; i < len(starts); i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			s, e, fin := starts[i], len(data), final
			if i+1 < len(starts) {
				e, fin = starts[i+1], false
			}
			spec[i], _ = t.chain(data[:e], s, fin, nil)
		}(i)
	}
	// The first part is exact: chain it here while the others run.
	var pos int
	cuts, pos = t.chain(data[:starts[1]], 0, false, cuts)
	wg.Wait()

	synced := false
	for i := 1; i < len(starts); i++ {
		s := spec[i]
		synced = false
		// Continue the true chain until it meets the chain of part i
		// (its start or one of its boundaries) or runs past it.
		for {
			if pos == starts[i] {
				cuts = append(cuts, s...)
				synced = true
				break
			}
			if k, ok := find(s, pos); ok {
				cuts = append(cuts, s[k+1:]...)
				synced = true
				break
			}
			if len(s) > 0 && pos > s[len(s)-1] {
				break
			}
			n, ok := t.Cut(data[pos:], final)
			if !ok {
				return cuts
			}
			pos += n
			cuts = append(cuts, pos)
			if pos >= len(data) {
				return cuts
			}
		}
		if synced && len(s) > 0 {
			pos = s[len(s)-1]
		}
	}
	if synced {
		return cuts
	}
	// Chunk whatever the last part's chain left (only after a failed
	// resynchronisation).
	for pos < len(data) {
		n, ok := t.Cut(data[pos:], final)
		if !ok {
			break
		}
		pos += n
		cuts = append(cuts, pos)
	}
	return cuts
}

// chain appends the absolute chunk ends of data starting at offset start
// and returns them with the end of the last chunk (start if there is none).
func (t *Table) chain(data []byte, start int, final bool, cuts []int) ([]int, int) {
	pos := start
	for pos < len(data) {
		n, ok := t.Cut(data[pos:], final)
		if !ok {
			break
		}
		pos += n
		cuts = append(cuts, pos)
	}
	return cuts, pos
}

// find returns the index of v in the increasing slice s.
func find(s []int, v int) (int, bool) {
	lo, hi := 0, len(s)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if s[m] < v {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo, lo < len(s) && s[lo] == v
}
