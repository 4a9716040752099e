package chunker

import (
	"bytes"
	"errors"
	"fmt"
)

const (
	// MinSize is the minimum size of a chunk (except the last one).
	MinSize = 512 * 1024
	// MaxSize is the maximum size of a chunk.
	MaxSize = 8 * 1024 * 1024

	windowSize = 64
	splitBits  = 20
)

// limits holds the chunk size rules. Production code always uses
// restic's values (defaultLimits); tests substitute smaller ones.
type limits struct {
	min, max int
	mask     uint64
}

var defaultLimits = limits{min: MinSize, max: MaxSize, mask: 1<<splitBits - 1}

// Table holds the precomputed lookup tables for one polynomial. It is
// read-only after NewTable and may be shared by any number of goroutines.
type Table struct {
	// mod and out must stay the first fields: the assembly kernel
	// addresses them at offsets 0 and 2048.
	//
	// mod[i] reduces the byte i that a shift by 8 pushes above the
	// polynomial's degree k: (i·x^k mod P) | i<<k.
	mod [256]uint64
	// out[b] = b·x^(8·64) mod P, the contribution that byte b, having
	// entered the window 64 steps ago, has after the current step; xoring
	// it removes the byte that leaves the window.
	out   [256]uint64
	shift uint // deg(P) - 8
	pol   Pol
	lim   limits
	// vec holds the tables as bit matrices for the 64-lane kernel,
	// usable when vecOK (see lanes64.go).
	vec   vecTable
	vecOK bool
}

// NewTable computes the tables for pol. Like restic's chunker it accepts any
// polynomial of degree 8 to 53; it need not be irreducible.
func NewTable(pol Pol) (*Table, error) {
	t := new(Table)
	if err := t.init(pol); err != nil {
		return nil, err
	}
	return t, nil
}

func (t *Table) init(pol Pol) error {
	if pol == 0 {
		return errors.New("chunker: polynomial is zero")
	}
	k := pol.Deg()
	if k < 8 || k > 53 {
		return fmt.Errorf("chunker: polynomial %v has degree %d, want 8..53", pol, k)
	}
	t.pol, t.shift, t.lim = pol, uint(k-8), defaultLimits
	// Both tables are linear in their index, so compute them for the
	// eight basis bytes and combine.
	var xw Pol = 1 // x^(8·64) mod P
	for i := 0; i < 8*windowSize; i++ {
		xw = mulMod(xw, 2, pol)
	}
	var modb, outb [8]uint64
	for j := 0; j < 8; j++ {
		hi := Pol(1) << uint(k+j)
		modb[j] = uint64(polMod(hi, pol) | hi)
		outb[j] = uint64(mulMod(Pol(1)<<uint(j), xw, pol))
	}
	for i := 0; i < 256; i++ {
		var m, o uint64
		for j := 0; j < 8; j++ {
			if i&(1<<j) != 0 {
				m ^= modb[j]
				o ^= outb[j]
			}
		}
		t.mod[i], t.out[i] = m, o
	}
	t.vecOK = t.initVec()
	return nil
}

// Pol returns the polynomial the table was built for.
func (t *Table) Pol() Pol { return t.pol }

// push appends byte b to digest d without removing anything from the window.
func (t *Table) push(d uint64, b byte) uint64 {
	return (d<<8 | uint64(b)) ^ t.mod[uint8(d>>t.shift)]
}

// windowHash returns the fingerprint of w (at most 64 bytes), the value
// restic's rolling digest has when w fills the window.
func (t *Table) windowHash(w []byte) uint64 {
	var d uint64
	for _, b := range w {
		d = t.push(d, b)
	}
	return d
}

// scanSerial returns the first position p in [lo, hi] whose window
// data[p-64:p] is a candidate, or -1.
func (t *Table) scanSerial(data []byte, lo, hi int) int {
	if lo > hi {
		return -1
	}
	mask := t.lim.mask
	d := t.windowHash(data[lo-windowSize : lo])
	if d&mask == 0 {
		return lo
	}
	in := data[lo:hi]
	outb := data[lo-windowSize : hi-windowSize]
	outb = outb[:len(in)]
	shift := t.shift
	for i, b := range in {
		d = (d<<8 | uint64(b)) ^ t.mod[uint8(d>>shift)] ^ t.out[outb[i]]
		if d&mask == 0 {
			return lo + i + 1
		}
	}
	return -1
}

const (
	lanes = 4
	// maxSeg is the number of positions each lane covers per block.
	maxSeg = 16 << 10
	// minSeg: below this many positions per lane, scan serially.
	minSeg = 256
)

// scan returns the first position p in [lo, hi] (lo >= 64, hi <= len(data))
// whose window data[p-64:p] has a fingerprint with the split bits clear, or
// -1 if there is none.
func (t *Table) scan(data []byte, lo, hi int) int {
	if haveLanes64 && t.vecOK && t.lim.mask < 1<<24 {
		for hi-lo >= 64*lane64Seg {
			if p := t.block64(data, lo); p >= 0 {
				return p
			}
			lo += 64 * lane64Seg
		}
	}
	if haveLanes8 {
		for hi-lo+1 >= 8*laneStride {
			if p := t.block8(data, lo); p >= 0 {
				return p
			}
			lo += 8 * laneStride
		}
	}
	return t.scanGo(data, lo, hi)
}

// scanGo is scan without the assembly kernel: four lanes in Go for long
// ranges, then serially.
func (t *Table) scanGo(data []byte, lo, hi int) int {
	mask := t.lim.mask
	for hi-lo+1 >= lanes*minSeg {
		seg := (hi - lo + 1) / lanes
		if seg > maxSeg {
			seg = maxSeg
		}
		// Lane k starts with the digest of the window ending at
		// a_k = lo + k·seg and then covers a_k+1 .. a_k+seg-1.
		var d [lanes]uint64
		hit := -1
		for k := lanes - 1; k >= 0; k-- {
			a := lo + k*seg
			d[k] = t.windowHash(data[a-windowSize : a])
			if d[k]&mask == 0 {
				hit = k
			}
		}
		if hit == 0 {
			return lo
		}
		base := data[lo-windowSize : lo-windowSize+lanes*seg+windowSize-1]
		var first [lanes]int
		for k := range first {
			first[k] = -1
		}
		if hit > 0 {
			first[hit] = lo + hit*seg
		}
		steps := seg - 1
		for j := 0; j < steps; {
			j = scanLanesGeneric(t, base, seg, j, steps, &d)
			for k := 0; k < lanes; k++ {
				if d[k]&mask == 0 && first[k] < 0 {
					first[k] = lo + k*seg + j
				}
			}
			if first[0] >= 0 {
				return first[0]
			}
		}
		for k := 0; k < lanes; k++ {
			if first[k] >= 0 {
				return first[k]
			}
		}
		lo += lanes * seg
	}
	return t.scanSerial(data, lo, hi)
}

// scanLanesGeneric advances four lanes of the rolling hash over base. Lane
// k's step j removes base[k·stride+j] from the window and adds
// base[k·stride+j+64]. Starting at step j it stops after step n-1, or
// earlier right after a step that left some lane's digest with the split
// bits clear, and returns the number of steps completed.
func scanLanesGeneric(t *Table, base []byte, stride, j, n int, d *[lanes]uint64) int {
	mask, shift := t.lim.mask, t.shift
	d0, d1, d2, d3 := d[0], d[1], d[2], d[3]
	s0 := base[0 : stride+windowSize]
	s1 := base[stride : 2*stride+windowSize]
	s2 := base[2*stride : 3*stride+windowSize]
	s3 := base[3*stride : 3*stride+n+windowSize]
	for ; j < n; j++ {
		d0 = (d0<<8 | uint64(s0[j+windowSize])) ^ t.mod[uint8(d0>>shift)] ^ t.out[s0[j]]
		d1 = (d1<<8 | uint64(s1[j+windowSize])) ^ t.mod[uint8(d1>>shift)] ^ t.out[s1[j]]
		d2 = (d2<<8 | uint64(s2[j+windowSize])) ^ t.mod[uint8(d2>>shift)] ^ t.out[s2[j]]
		d3 = (d3<<8 | uint64(s3[j+windowSize])) ^ t.mod[uint8(d3>>shift)] ^ t.out[s3[j]]
		if d0&mask == 0 || d1&mask == 0 || d2&mask == 0 || d3&mask == 0 {
			j++
			break
		}
	}
	d[0], d[1], d[2], d[3] = d0, d1, d2, d3
	return j
}

// block8 returns the first candidate among the 8·laneStride positions
// starting at lo, or -1, using the eight-lane assembly kernel.
func (t *Table) block8(data []byte, lo int) int {
	const seg = laneStride
	mask := t.lim.mask
	base := data[lo-windowSize : lo-windowSize+8*seg+windowSize-1]
	var d [8]uint64
	warm8(t, &base[0], &d)
	var first [8]int
	for k := range first {
		first[k] = -1
		if d[k]&mask == 0 {
			first[k] = lo + k*seg
		}
	}
	const steps = seg - 1
	for j := 0; j < steps && first[0] < 0; {
		j = scanLanes8(t, &base[0], j, steps, &d, mask)
		for k := range d {
			if d[k]&mask == 0 && first[k] < 0 {
				first[k] = lo + k*seg + j
			}
		}
	}
	for _, p := range first {
		if p >= 0 {
			return p
		}
	}
	return -1
}

// ZeroChunk reports whether buf is a chunk of MinSize zero bytes: the
// chunks that sparse files and zero-filled regions cut into, one after
// the other, so that callers can give them their known hash instead of
// hashing each again.
func ZeroChunk(buf []byte) bool {
	return len(buf) == MinSize && buf[0] == 0 && bytes.Equal(buf[1:], buf[:len(buf)-1])
}
