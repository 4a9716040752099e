package chunker

import (
	"bytes"
	"io"
	"math/rand"
	"testing"

	rc "github.com/restic/chunker"
)

// refChunk is one chunk as the reference implementations report it.
type refChunk struct {
	Length uint
	Cut    uint64
}

// refChunks chunks data byte by byte following restic's documented
// algorithm literally: every chunk starts with a zeroed 64-byte window into
// which the byte 1 has been slid, skips min-64 bytes without hashing, then
// slides each byte through the window (remove the oldest byte's
// contribution, multiply by x^8, add the byte, reduce mod pol) and cuts when
// the chunk is at least min bytes long and either the low bits selected by
// mask are zero or it has reached max bytes. The remainder at EOF is the
// last chunk. Reduction uses plain polynomial division, no tables.
func refChunks(data []byte, pol Pol, min, max int, mask uint64) []refChunk {
	// outRef[b] = b·x^(8·63) mod pol: the value of byte b at the oldest
	// window slot.
	var outRef [256]Pol
	for b := range outRef {
		h := Pol(b)
		for i := 0; i < windowSize-1; i++ {
			h = polMod(h<<8, pol)
		}
		outRef[b] = h
	}
	var res []refChunk
	pos := 0
	for pos < len(data) {
		var win [windowSize]byte
		win[0] = 1
		wpos := 1
		digest := Pol(1)
		count := 0
		skip := min - windowSize
		if skip > len(data)-pos {
			skip = len(data) - pos
		}
		count += skip
		cut := false
		for pos+count < len(data) {
			b := data[pos+count]
			digest ^= outRef[win[wpos]]
			win[wpos] = b
			wpos = (wpos + 1) % windowSize
			digest = polMod(digest<<8|Pol(b), pol)
			count++
			if count >= min && (uint64(digest)&mask == 0 || count >= max) {
				cut = true
				break
			}
		}
		_ = cut
		res = append(res, refChunk{uint(count), uint64(digest)})
		pos += count
	}
	return res
}

// resticChunks runs github.com/restic/chunker over data.
func resticChunks(t testing.TB, data []byte, pol Pol, lim limits) []refChunk {
	var c *rc.Chunker
	if lim == defaultLimits {
		c = rc.New(bytes.NewReader(data), rc.Pol(pol))
	} else {
		c = rc.NewWithBoundaries(bytes.NewReader(data), rc.Pol(pol), uint(lim.min), uint(lim.max))
		bits := 0
		for lim.mask>>bits != 0 {
			bits++
		}
		c.SetAverageBits(bits)
	}
	buf := make([]byte, 0, lim.max)
	var res []refChunk
	for {
		ch, err := c.Next(buf)
		if err == io.EOF {
			return res
		}
		if err != nil {
			t.Fatal(err)
		}
		res = append(res, refChunk{ch.Length, ch.Cut})
	}
}

// ourChunks runs our streaming Chunker over data read through rd.
func ourChunks(t testing.TB, rd io.Reader, data []byte, pol Pol, lim limits, bufCap int) []refChunk {
	c := new(Chunker)
	c.resetLimits(rd, pol, lim)
	buf := make([]byte, 0, bufCap)
	var res []refChunk
	var start uint
	for {
		ch, err := c.Next(buf)
		if err == io.EOF {
			if start != uint(len(data)) {
				t.Fatalf("chunks cover %d of %d bytes", start, len(data))
			}
			return res
		}
		if err != nil {
			t.Fatal(err)
		}
		if ch.Start != start || uint(len(ch.Data)) != ch.Length {
			t.Fatalf("chunk start %d len(Data) %d, want start %d length %d", ch.Start, len(ch.Data), start, ch.Length)
		}
		if !bytes.Equal(ch.Data, data[start:start+ch.Length]) {
			t.Fatalf("chunk at %d: wrong data", start)
		}
		start += ch.Length
		res = append(res, refChunk{ch.Length, ch.Cut})
	}
}

// cutsOf returns the chunk ends of a chunk list.
func cutsOf(cs []refChunk) []int {
	var r []int
	pos := 0
	for _, c := range cs {
		pos += int(c.Length)
		r = append(r, pos)
	}
	return r
}

func equalChunks(t testing.TB, what string, got, want []refChunk) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d chunks, want %d\n got %v\nwant %v", what, len(got), len(want), head(got), head(want))
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("%s: chunk %d is %+v, want %+v", what, i, got[i], want[i])
		}
	}
}

func equalInts(t testing.TB, what string, got, want []int) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d cuts, want %d", what, len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("%s: cut %d is %d, want %d", what, i, got[i], want[i])
		}
	}
}

func head(c []refChunk) []refChunk {
	if len(c) > 8 {
		return c[:8]
	}
	return c
}

func randBytes(seed int64, n int) []byte {
	b := make([]byte, n)
	rand.New(rand.NewSource(seed)).Read(b)
	return b
}

// shortReader returns at most a random small number of bytes per Read.
type shortReader struct {
	r   io.Reader
	rnd *rand.Rand
	max int
}

func (s *shortReader) Read(p []byte) (int, error) {
	n := 1 + s.rnd.Intn(s.max)
	if n < len(p) {
		p = p[:n]
	}
	return s.r.Read(p)
}
