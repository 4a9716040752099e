package crypto

import (
	"crypto/pbkdf2"
	"crypto/sha256"
	"encoding/binary"
	"math"
	"math/bits"
	"runtime"
	"sync"
	"time"
)

// scryptKey is scrypt (RFC 7914) as golang.org/x/crypto/scrypt computes
// it, arranged for the one derivation a command does at start-up: the
// large table V comes from scryptTable (on Linux one mapping asked to use
// huge pages, so filling it does not fault on every 4 KiB page), the
// first loop of ROMix mixes each block straight into its slot of V
// instead of mixing into a scratch block and copying it there, BlockMix
// is the fastest of the implementations the CPU has (bestMixer; on amd64
// the SSE2 one and, where the CPU has AVX-512VL, a second one run in
// vector registers on blocks whose words were put into the order that
// suits them before ROMix and back after), with several CPUs
// lanes run side by side in the same memory (roMixLanes), and the table
// is half of V (tableShrink). Parameters must have been validated.
func scryptKey(password string, salt []byte, p Params, keyLen int) ([]byte, error) {
	return scryptKeyWith(password, salt, p, keyLen, bestMixer(), runtime.GOMAXPROCS(0), tableShrink)
}

// tableShrink is how many times smaller than V (128·r·N bytes) the table
// is that key derivation fills. Every command derives a key first, so the
// table sets the peak memory of short ones: with restic's usual N=2^15,
// r=8 the whole of V is 32 MiB, twice what the rest of such a command
// needs. Keeping half of V instead costs recomputing the blocks left out
// when the second loop of ROMix asks for them (about 30% more time in the
// derivation with two CPUs, see roMixLanes).
const tableShrink = 2

// scryptKeyWith is scryptKey with the BlockMix of m, at most workers lanes
// running at once and a table of 1/shrink of V (which the tests vary).
func scryptKeyWith(password string, salt []byte, p Params, keyLen int, m *mixer, workers, shrink int) ([]byte, error) {
	blockWords := 32 * p.R // one block of 128·r bytes as uint32s
	b, err := pbkdf2.Key(sha256.New, password, salt, 1, p.P*4*blockWords)
	if err != nil {
		return nil, err
	}
	lanes := make([][]uint32, p.P)
	for lane := range lanes {
		chunk := b[lane*4*blockWords : (lane+1)*4*blockWords]
		x := make([]uint32, blockWords)
		for i := range x {
			x[i] = binary.LittleEndian.Uint32(chunk[4*i:])
		}
		m.toOrder(x)
		lanes[lane] = x
	}
	roMixLanes(lanes, p.N, p.R, workers, shrink, m)
	for lane, x := range lanes {
		chunk := b[lane*4*blockWords : (lane+1)*4*blockWords]
		m.fromOrder(x)
		for i, w := range x {
			binary.LittleEndian.PutUint32(chunk[4*i:], w)
		}
		clear(x)
	}
	out, err := pbkdf2.Key(sha256.New, password, b, 1, keyLen)
	clear(b)
	return out, err
}

// roMixLanes runs ROMix on every lane in a table of n/shrink blocks
// (shrink a power of two; it is capped at n), so that one lane alone keeps
// every shrink-th block of V and recomputes the others when the second
// loop asks for them. The lanes are independent, so with several CPUs
// they run side by side, but in that same table: on two CPUs two lanes at
// a time each get half of it and keep every 2·shrink-th block of V (on
// four, four lanes every 4·shrink-th, and so on). A lane keeping every
// k-th block costs about 1 + (k-1)/4 times the CPU time of one with all of
// V: with the whole of V, two lanes side by side took 1.25 times as long
// and six lanes with N=2^15, r=8 0.38 s instead of 0.60 s on an idle
// two-CPU machine; when other work holds the second CPU, the extra time is
// lost instead. (Mixing two lanes at once in vector registers with a
// second full table was measured too: a third less CPU time, but a higher
// peak memory than restic's for short commands.)
//
// At most workers lanes run at once, in phases: s lanes run at once, s
// the largest power of two not above workers, n and the lanes left, each
// of the s goroutines taking an equal share of the lanes left and 1/s of
// the table; the lanes that did not divide evenly go on in the next phase
// with a smaller s. A single last lane so runs alone with the whole
// table: nothing could run beside it, so a thinner table would only cost
// time. m is the BlockMix.
func roMixLanes(lanes [][]uint32, n, r, workers, shrink int, m *mixer) {
	shrink = max(1, min(shrink, n))
	v, free := scryptTable(32 * r * n / shrink)
	defer free()
	for len(lanes) > 0 {
		s := tableStride(len(lanes), n/shrink, workers)
		perWorker := len(lanes) / s
		roMixPhase(lanes[:s*perWorker], v, n, r, s, shrink, m)
		lanes = lanes[s*perWorker:]
	}
}

// tableStride is the largest power of two not above lanes, n and workers
// (at least 1).
func tableStride(lanes, n, workers int) int {
	s := 1
	for 2*s <= min(lanes, n, workers) {
		s *= 2
	}
	return s
}

// roMixPhase runs ROMix on a multiple of s lanes, on s goroutines that
// each take an equal run of them and 1/s of the table v (which holds
// every shrink-th block of V), keeping every s·shrink-th block of V in it.
// With s 1 it runs them here with all of v.
func roMixPhase(lanes [][]uint32, v []uint32, n, r, s, shrink int, m *mixer) {
	if s == 1 {
		runLanes(lanes, v, n, r, shrink, m)
		return
	}
	perWorker, part := len(lanes)/s, len(v)/s
	var wg sync.WaitGroup
	for i := range s {
		wg.Go(func() {
			runLanes(lanes[i*perWorker:(i+1)*perWorker], v[i*part:(i+1)*part], n, r, s*shrink, m)
		})
	}
	wg.Wait()
}

// runLanes runs ROMix on lanes one after the other with the table v,
// which keeps every stride-th block of V.
func runLanes(lanes [][]uint32, v []uint32, n, r, stride int, m *mixer) {
	w := 32 * r
	scratch := make([]uint32, 3*w)
	t := &romixTable{v: v, a: scratch[w : 2*w], b: scratch[2*w:], r: r, stride: stride, m: m}
	for _, x := range lanes {
		roMix(x, scratch[:w], t, n)
	}
}

// romixTable is ROMix's table V of blocks of 32·r words, of which it keeps
// every stride-th (stride a power of two; 1 keeps them all): V[k·stride]
// is block k of v. A block that is not kept is computed into a or b.
// Blocks are in the word order of m, whose BlockMix computes them.
type romixTable struct {
	v, a, b   []uint32
	r, stride int
	m         *mixer
}

// slot returns where V[i] is: its block of v if it is kept, else a for
// an odd i and b for an even one, so that V[i] and V[i+1] are never in
// the same place.
func (t *romixTable) slot(i int) []uint32 {
	w := 32 * t.r
	switch {
	case i&(t.stride-1) == 0:
		k := i / t.stride
		return t.v[k*w : (k+1)*w]
	case i%2 == 1:
		return t.a
	default:
		return t.b
	}
}

// at returns V[j], recomputed from the kept block below it (at most
// stride-1 BlockMixes) if it is not kept itself.
func (t *romixTable) at(j int) []uint32 {
	i := j &^ (t.stride - 1)
	cur := t.slot(i)
	for i < j {
		i++
		next := t.slot(i)
		t.m.mix(next, cur, t.r)
		cur = next
	}
	return cur
}

// roMix is scrypt's ROMix on x (32·r words) with the table t for V; y is
// scratch of the same size as x. The first loop mixes each block straight
// into its slot of t. The result is left in x.
func roMix(x, y []uint32, t *romixTable, n int) {
	r, m := t.r, t.m
	copy(t.slot(0), x)
	for i := 1; i < n; i++ {
		m.mix(t.slot(i), t.slot(i-1), r)
	}
	m.mix(x, t.slot(n-1), r)
	mask := uint64(n - 1)
	for range n / 2 {
		m.mixXor(y, x, t.at(int(m.integerify(x, r)&mask)), r)
		m.mixXor(x, y, t.at(int(m.integerify(y, r)&mask)), r)
	}
	if n%2 == 1 { // n is a power of two above 1, so this does not happen
		panic("scrypt: odd N")
	}
}

// integerify returns the first two words of the last 64-byte block of b
// (in m's word order, where word 0 comes first and word 1 at m.word1).
func (m *mixer) integerify(b []uint32, r int) uint64 {
	j := (2*r - 1) * 16
	return uint64(b[j]) | uint64(b[j+m.word1])<<32
}

// mixer is one implementation of scrypt's BlockMix with the order of the
// words of each 64-byte block it works in.
type mixer struct {
	name string
	// mix sets out = BlockMix(in); out and in must not overlap.
	mix func(out, in []uint32, r int)
	// mixXor sets out = BlockMix(in XOR v); it may leave in changed.
	mixXor func(out, in, v []uint32, r int)
	// toOrder and fromOrder put blocks of natural word order into the
	// mixer's order and back; word1 is where word 1 goes.
	toOrder, fromOrder func([]uint32)
	word1              int
}

// genericMixer is BlockMix in Go, on blocks in natural word order.
var genericMixer = mixer{
	name: "go",
	mix:  blockMixGeneric,
	mixXor: func(out, in, v []uint32, r int) {
		xorInto(in, v)
		blockMixGeneric(out, in, r)
	},
	toOrder:   func([]uint32) {},
	fromOrder: func([]uint32) {},
	word1:     1,
}

func xorInto(dst, src []uint32) {
	src = src[:len(dst)]
	for i := range dst {
		dst[i] ^= src[i]
	}
}

// fastestMixer returns the mixer that ran a few BlockMixes (r=8) in the
// least time, the best of three tries each. Which one is faster depends
// on the CPU more than one would guess: on one AMD EPYC generation the
// SSE2 BlockMix took a third less time than the Go one, on the next the
// Go one took 40% less. Timing them costs a fraction of a millisecond,
// against hundreds for a key derivation.
func fastestMixer(ms ...*mixer) *mixer {
	const r, rounds = 8, 16
	in := make([]uint32, 32*r)
	out := make([]uint32, 32*r)
	for i := range in {
		in[i] = uint32(i) * 0x9e3779b9
	}
	best, bestTime := ms[0], time.Duration(math.MaxInt64)
	for range 3 {
		for _, m := range ms {
			start := time.Now()
			for range rounds {
				m.mix(out, in, r)
				in, out = out, in
			}
			if d := time.Since(start); d < bestTime {
				best, bestTime = m, d
			}
		}
	}
	return best
}

// blockMixGeneric is scrypt's BlockMix with Salsa20/8 in Go, on blocks in
// their natural word order: out = BlockMix(in). Even sub-blocks of the
// result go to the first half of out, odd ones to the second. out and in
// must not overlap.
func blockMixGeneric(out, in []uint32, r int) {
	// 64-byte array assignments instead of copy: the compiler moves them
	// inline, where copy called runtime.memmove for every Salsa20/8 output
	// (BlockMix 4% faster on the EPYC VM)
	t := [16]uint32(in[(2*r-1)*16:])
	for i := 0; i < 2*r; i += 2 {
		salsaXOR(&t, in[i*16:i*16+16])
		*(*[16]uint32)(out[i*8:]) = t
		salsaXOR(&t, in[i*16+16:i*16+32])
		*(*[16]uint32)(out[r*16+i*8:]) = t
	}
}

// salsaXOR sets t = Salsa20/8(t XOR in).
func salsaXOR(t *[16]uint32, in []uint32) {
	in = in[:16]
	w0, w1, w2, w3 := t[0]^in[0], t[1]^in[1], t[2]^in[2], t[3]^in[3]
	w4, w5, w6, w7 := t[4]^in[4], t[5]^in[5], t[6]^in[6], t[7]^in[7]
	w8, w9, w10, w11 := t[8]^in[8], t[9]^in[9], t[10]^in[10], t[11]^in[11]
	w12, w13, w14, w15 := t[12]^in[12], t[13]^in[13], t[14]^in[14], t[15]^in[15]
	x0, x1, x2, x3, x4, x5, x6, x7 := w0, w1, w2, w3, w4, w5, w6, w7
	x8, x9, x10, x11, x12, x13, x14, x15 := w8, w9, w10, w11, w12, w13, w14, w15
	for range 4 { // 8 rounds, two per pass: columns, then rows
		x4 ^= bits.RotateLeft32(x0+x12, 7)
		x8 ^= bits.RotateLeft32(x4+x0, 9)
		x12 ^= bits.RotateLeft32(x8+x4, 13)
		x0 ^= bits.RotateLeft32(x12+x8, 18)
		x9 ^= bits.RotateLeft32(x5+x1, 7)
		x13 ^= bits.RotateLeft32(x9+x5, 9)
		x1 ^= bits.RotateLeft32(x13+x9, 13)
		x5 ^= bits.RotateLeft32(x1+x13, 18)
		x14 ^= bits.RotateLeft32(x10+x6, 7)
		x2 ^= bits.RotateLeft32(x14+x10, 9)
		x6 ^= bits.RotateLeft32(x2+x14, 13)
		x10 ^= bits.RotateLeft32(x6+x2, 18)
		x3 ^= bits.RotateLeft32(x15+x11, 7)
		x7 ^= bits.RotateLeft32(x3+x15, 9)
		x11 ^= bits.RotateLeft32(x7+x3, 13)
		x15 ^= bits.RotateLeft32(x11+x7, 18)

		x1 ^= bits.RotateLeft32(x0+x3, 7)
		x2 ^= bits.RotateLeft32(x1+x0, 9)
		x3 ^= bits.RotateLeft32(x2+x1, 13)
		x0 ^= bits.RotateLeft32(x3+x2, 18)
		x6 ^= bits.RotateLeft32(x5+x4, 7)
		x7 ^= bits.RotateLeft32(x6+x5, 9)
		x4 ^= bits.RotateLeft32(x7+x6, 13)
		x5 ^= bits.RotateLeft32(x4+x7, 18)
		x11 ^= bits.RotateLeft32(x10+x9, 7)
		x8 ^= bits.RotateLeft32(x11+x10, 9)
		x9 ^= bits.RotateLeft32(x8+x11, 13)
		x10 ^= bits.RotateLeft32(x9+x8, 18)
		x12 ^= bits.RotateLeft32(x15+x14, 7)
		x13 ^= bits.RotateLeft32(x12+x15, 9)
		x14 ^= bits.RotateLeft32(x13+x12, 13)
		x15 ^= bits.RotateLeft32(x14+x13, 18)
	}
	t[0], t[1], t[2], t[3] = x0+w0, x1+w1, x2+w2, x3+w3
	t[4], t[5], t[6], t[7] = x4+w4, x5+w5, x6+w6, x7+w7
	t[8], t[9], t[10], t[11] = x8+w8, x9+w9, x10+w10, x11+w11
	t[12], t[13], t[14], t[15] = x12+w12, x13+w13, x14+w14, x15+w15
}
